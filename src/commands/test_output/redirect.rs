//! Points the process's stdout (descriptor 1) elsewhere while libtest-mimic writes to it, and
//! back afterwards. libtest-mimic offers no writer of its own; the descriptor is the one seam.

use anyhow::{Context, Result};
use indicatif::ProgressBar;

pub const AVAILABLE: bool = cfg!(unix);

pub enum Target {
    /// Nothing libtest prints is wanted (mrt writes the JSON itself).
    Discard,
    /// libtest's lines go to stderr (stdout carries JUnit at the end).
    Stderr,
    /// libtest's lines still reach stdout, whole lines at a time, with the progress line on
    /// stderr lifted out of their way.
    Around(ProgressBar),
}

#[cfg(unix)]
pub struct Redirect {
    saved: std::os::fd::OwnedFd,
    copier: Option<std::thread::JoinHandle<()>>,
}

#[cfg(unix)]
impl Redirect {
    pub fn start(target: Target) -> Result<Redirect> {
        use nix::unistd::{dup, dup2_stdout};
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let saved = dup(std::io::stdout()).context("cannot duplicate stdout")?;
        let mut copier = None;
        match target {
            Target::Discard => {
                let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
                dup2_stdout(&null).context("cannot point stdout at /dev/null")?;
            }
            Target::Stderr => {
                dup2_stdout(std::io::stderr()).context("cannot point stdout at stderr")?
            }
            Target::Around(bar) => {
                let (reader, writer) = std::io::pipe().context("cannot make a pipe")?;
                dup2_stdout(&writer).context("cannot point stdout at a pipe")?;
                let out = std::fs::File::from(saved.try_clone()?);
                copier = Some(std::thread::spawn(move || copy_lines(reader, out, &bar)));
            }
        }
        Ok(Redirect { saved, copier })
    }

    /// Restores stdout; what is still in the pipe is written first.
    pub fn stop(mut self) -> Result<()> {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        nix::unistd::dup2_stdout(&self.saved).context("cannot restore stdout")?;
        if let Some(copier) = self.copier.take() {
            let _ = copier.join();
        }
        Ok(())
    }
}

/// Copies what libtest writes to the real stdout, whole lines at a time, each write with the
/// progress line cleared and redrawn after it, so neither cuts into the other.
#[cfg(unix)]
fn copy_lines(mut from: std::io::PipeReader, mut to: std::fs::File, bar: &ProgressBar) {
    use std::io::{Read, Write};
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        if let Some(end) = pending.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = pending.drain(..=end).collect();
            bar.suspend(|| {
                let _ = to.write_all(&lines);
                let _ = to.flush();
            });
        }
    }
    let _ = to.write_all(&pending);
    let _ = to.flush();
}

#[cfg(not(unix))]
pub struct Redirect;

#[cfg(not(unix))]
impl Redirect {
    pub fn start(_: Target) -> Result<Redirect> {
        anyhow::bail!("redirecting stdout needs a Unix system")
    }
    pub fn stop(self) -> Result<()> {
        Ok(())
    }
}
