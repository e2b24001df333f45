//! `--format json`: libtest's JSON event stream, one object per line, as `cargo test -- --format
//! json` gives it, except that a failure's `stdout` is its text as it is (libtest-mimic wraps it
//! in `Error: "..."`), and an ignored test carries its reason in `message`.

use mrt_harness::{Observer, Outcome};
use serde_json::json;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

pub struct Events {
    /// The real stdout, taken before libtest's is pointed away.
    out: Mutex<std::fs::File>,
    counts: Mutex<[usize; 3]>,
}

impl Events {
    pub fn new() -> anyhow::Result<Events> {
        Ok(Events {
            out: Mutex::new(real_stdout()?),
            counts: Mutex::new([0; 3]),
        })
    }

    fn line(&self, value: serde_json::Value) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{value}");
            let _ = out.flush();
        }
    }
}

#[cfg(unix)]
fn real_stdout() -> anyhow::Result<std::fs::File> {
    let fd = nix::unistd::dup(std::io::stdout())?;
    Ok(std::fs::File::from(fd))
}

#[cfg(not(unix))]
fn real_stdout() -> anyhow::Result<std::fs::File> {
    anyhow::bail!("--format json needs a Unix system here")
}

impl Observer for Events {
    fn begin(&self, tests: &[String]) {
        self.line(json!({"type": "suite", "event": "started", "test_count": tests.len()}));
    }

    fn started(&self, name: &str) {
        self.line(json!({"type": "test", "event": "started", "name": name}));
    }

    fn finished(&self, name: &str, outcome: &Outcome, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let (index, value) = match outcome {
            Outcome::Passed => (
                0,
                json!({"type": "test", "name": name, "event": "ok", "exec_time": secs}),
            ),
            Outcome::Failed(text) => (
                1,
                json!({"type": "test", "name": name, "event": "failed", "exec_time": secs, "stdout": text}),
            ),
            Outcome::Ignored(reason) => {
                let mut v = json!({"type": "test", "name": name, "event": "ignored"});
                if let Some(r) = reason {
                    v["message"] = json!(r);
                }
                (2, v)
            }
        };
        if let Ok(mut c) = self.counts.lock() {
            c[index] += 1;
        }
        self.line(value);
    }

    fn end(&self, filtered_out: usize, elapsed: Duration) {
        let [passed, failed, ignored] = self.counts.lock().map(|c| *c).unwrap_or_default();
        let event = if failed > 0 { "failed" } else { "ok" };
        self.line(json!({
            "type": "suite", "event": event, "passed": passed, "failed": failed,
            "ignored": ignored, "measured": 0, "filtered_out": filtered_out,
            "exec_time": elapsed.as_secs_f64(),
        }));
    }
}
