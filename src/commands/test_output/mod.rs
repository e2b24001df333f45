//! What `mrt test` shows besides libtest's own lines, and where libtest's lines go meanwhile:
//! a live progress line on a terminal, `--format json` with each failure's text as it is, and
//! `--format junit`. libtest-mimic writes to the process's stdout, so for those the descriptor
//! is pointed elsewhere while the tests run (see [`redirect`]).

mod events;
mod junit;
mod progress;
mod redirect;

use libtest_mimic::{Arguments, FormatSetting};
use mrt_harness::Observers;
use std::io::IsTerminal;
use std::sync::Arc;

/// What stdout carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// libtest's own output (pretty or terse).
    Libtest,
    /// libtest's JSON events, written by mrt so a failure's text is not wrapped.
    Json,
    /// JUnit XML at the end; libtest's lines go to stderr.
    Junit,
}

pub struct Output {
    mode: Mode,
    /// `--report`: the JSON events kept for the page.
    report: Option<(Arc<events::Events>, events::Buffer)>,
    progress: Option<Arc<progress::Progress>>,
    events: Option<Arc<events::Events>>,
    junit: Option<Arc<junit::Junit>>,
}

impl Output {
    pub fn new(libtest: &Arguments, junit: bool, report: bool) -> anyhow::Result<Output> {
        let mode = match (junit, libtest.format) {
            (true, _) => Mode::Junit,
            (false, Some(FormatSetting::Json)) => Mode::Json,
            _ => Mode::Libtest,
        };
        if mode != Mode::Libtest && !redirect::AVAILABLE {
            anyhow::bail!("--format json/junit needs a Unix system here; use pretty or terse");
        }
        let listing = libtest.list;
        let live = mode != Mode::Json && !listing && std::io::stderr().is_terminal();
        let buffer = events::Buffer::default();
        Ok(Output {
            mode,
            report: (report && !listing).then(|| {
                (
                    Arc::new(events::Events::to(Box::new(buffer.clone()))),
                    buffer,
                )
            }),
            progress: live.then(|| Arc::new(progress::Progress::new())),
            events: (mode == Mode::Json && !listing)
                .then(events::Events::new)
                .transpose()?
                .map(Arc::new),
            junit: (mode == Mode::Junit && !listing).then(|| Arc::new(junit::Junit::default())),
        })
    }

    pub fn observers(&self) -> Observers {
        let mut out: Observers = Vec::new();
        if let Some(p) = &self.progress {
            out.push(p.clone());
        }
        if let Some(e) = &self.events {
            out.push(e.clone());
        }
        if let Some(j) = &self.junit {
            out.push(j.clone());
        }
        if let Some((r, _)) = &self.report {
            out.push(r.clone());
        }
        out
    }

    /// The events `--report` kept (JSON lines), after the run.
    pub fn kept_events(&self) -> Option<String> {
        self.report.as_ref().map(|(_, buffer)| buffer.text())
    }

    /// Runs the tests with libtest's arguments as this output needs them, its stdout pointed
    /// where this output wants it, and writes what comes at the end (JUnit).
    pub fn run<R>(
        &self,
        libtest: &Arguments,
        tests: impl FnOnce(&Arguments) -> R,
    ) -> anyhow::Result<R> {
        let mut args = libtest.clone();
        if args.list {
            return Ok(tests(&args));
        }
        let target = match self.mode {
            // What libtest would print is what mrt writes itself.
            Mode::Json => {
                args.format = Some(FormatSetting::Terse);
                Some(redirect::Target::Discard)
            }
            Mode::Junit => {
                args.format = Some(FormatSetting::Pretty);
                Some(redirect::Target::Stderr)
            }
            Mode::Libtest => match &self.progress {
                Some(p) if std::io::stdout().is_terminal() => {
                    Some(redirect::Target::Around(p.bar()))
                }
                _ => None,
            },
        };
        let guard = target.map(redirect::Redirect::start).transpose()?;
        let result = tests(&args);
        if let Some(p) = &self.progress {
            p.done();
        }
        if let Some(guard) = guard {
            guard.stop()?;
        }
        if let Some(junit) = &self.junit {
            junit.write(&mut std::io::stdout().lock())?;
        }
        Ok(result)
    }
}
