//! `mrt check --watch`: checks once, then again after each change to a migration file; a file
//! that does not parse (or a config that does not load) is reported and the watch goes on.
//! Every wait has a deadline, and the child is killed when a test ends, so nothing hangs.
#![cfg(unix)]

mod check_common;
mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest wait for one line: a debug build checks the fixture in well under a second.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The head of `fixtures/check/clean`, which a new revision continues.
const CLEAN_HEAD: &str = "f6a1b2c3d4e5";

/// A running `mrt check --watch`, its stdout read line by line in a thread.
struct Watch {
    child: Child,
    lines: Receiver<String>,
    stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    fn start(dir: &Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mrt"))
            .args(["check", "--watch"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("MRT_PYTHON", common::python())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mrt check --watch");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Watch {
            child,
            lines,
            stdout: Vec::new(),
            stderr,
        }
    }

    /// The stdout lines up to and including the first summary line that `wanted` accepts.
    fn until_summary(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut run = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    let done = is_summary(&line) && wanted(&line);
                    run.push(line);
                    if done {
                        return run;
                    }
                }
                Err(e) => self.fail(&format!("no summary with {what} ({e:?})")),
            }
        }
    }

    /// Waits until stderr (read in its own thread, so behind stdout at times) holds `text`.
    fn until_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.stderr().contains(text) {
            if Instant::now() >= deadline {
                self.fail(&format!("no `{text}` on stderr"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        panic!(
            "{why}\nstdout:\n{}\nstderr:\n{}",
            self.stdout.join("\n"),
            self.stderr()
        );
    }

    /// Ctrl-C ends the watch with exit 0.
    fn interrupt(&mut self) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        let pid = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("send SIGINT");
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) if status.code() == Some(0) => return,
                Ok(Some(status)) => self.fail(&format!("Ctrl-C ended the watch with {status}")),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => self.fail(&format!("cannot wait for mrt: {e}")),
            }
        }
        self.fail("Ctrl-C did not end the watch");
    }

    fn assert_running(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            self.fail("the watch ended");
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `N errors, N warnings, N info in N files; N skipped`.
fn is_summary(line: &str) -> bool {
    line.contains(" info in ") && line.contains(" file") && line.ends_with(" skipped")
}

fn versions(dir: &Path) -> std::path::PathBuf {
    dir.join("migrations").join("versions")
}

/// `fixtures/check/errors`' MRT201 revision (drops `users.email`), continuing the clean head.
fn drop_column_revision() -> String {
    let path = versions(&check_common::fixture("errors")).join("b2c3d4e5f6a1_drop_users_email.py");
    let text = std::fs::read_to_string(path).expect("read the MRT201 fixture");
    text.replace("b2c3d4e5f6a1", "0badc0ffee01")
        .replace("a1b2c3d4e5f6", CLEAN_HEAD)
}

/// A revision after the clean head that adds a nullable column: clean.
fn add_column_revision(id: &str) -> String {
    format!(
        "\"\"\"add users age\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\n\
         revision = '{id}'\ndown_revision = '{CLEAN_HEAD}'\nbranch_labels = None\n\
         depends_on = None\n\n\ndef upgrade():\n    \
         op.add_column(\"users\", sa.Column(\"age\", sa.Integer, nullable=True))\n\n\n\
         def downgrade():\n    op.drop_column(\"users\", \"age\")\n"
    )
}

#[test]
fn a_new_revision_is_checked_when_it_is_written() {
    let dir = check_common::copy_fixture("clean");
    let mut watch = Watch::start(dir.path());
    let first = watch.until_summary("the first run", |_| true);
    let summary = first.last().map(String::as_str).unwrap_or_default();
    assert!(
        summary.starts_with("0 errors") && summary.contains(" in 3 files;"),
        "{summary}"
    );
    watch.until_stderr("mrt: watching ");

    let file = versions(dir.path()).join("0badc0ffee01_drop_users_email.py");
    std::fs::write(&file, drop_column_revision()).expect("write revision");
    let second = watch.until_summary("1 error", |l| l.starts_with("1 error,"));
    let text = second.join("\n");
    assert!(
        text.contains("-- mrt check: re-checked after "),
        "no separator:\n{text}"
    );
    assert!(
        text.contains("0badc0ffee01_drop_users_email.py:19:5  MRT201  error"),
        "no MRT201:\n{text}"
    );
    assert!(text.ends_with(" in 4 files; 0 skipped"), "{text}");
    watch.interrupt();
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_the_watch_goes_on() {
    let dir = check_common::copy_fixture("clean");
    let mut watch = Watch::start(dir.path());
    watch.until_summary("the first run", |_| true);

    let file = versions(dir.path()).join("5eed5eed5eed_add_users_age.py");
    let broken = add_column_revision("5eed5eed5eed").replace("def downgrade():", "def downgrade(:");
    std::fs::write(&file, broken).expect("write broken revision");
    let run = watch.until_summary("the MRT902", |l| l.starts_with("1 error,"));
    let text = run.join("\n");
    assert!(
        text.contains("5eed5eed5eed_add_users_age.py") && text.contains("MRT902  error"),
        "no MRT902:\n{text}"
    );
    watch.assert_running();

    std::fs::write(&file, add_column_revision("5eed5eed5eed")).expect("fix revision");
    let fixed = watch.until_summary("the fix", |l| l.starts_with("0 errors,"));
    let summary = fixed.last().map(String::as_str).unwrap_or_default();
    assert!(summary.contains(" in 4 files;"), "{summary}");
    assert!(!fixed.join("\n").contains("MRT902"), "{fixed:?}");

    // An error that stops the check itself (a config that does not load) does not stop the watch.
    check_common::write(dir.path(), "mrt.toml", "no_such_key = 1\n");
    watch.until_stderr("unknown field `no_such_key`");
    watch.assert_running();
    std::fs::remove_file(dir.path().join("mrt.toml")).expect("remove mrt.toml");
    watch.until_summary("the run after the config fix", |l| {
        l.starts_with("0 errors,")
    });
    watch.interrupt();
}
