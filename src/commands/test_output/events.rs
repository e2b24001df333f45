//! `--format json`: libtest's JSON event stream, one object per line, as `cargo test -- --format
//! json` gives it, except that a failure's `stdout` is its text as it is (libtest-mimic wraps it
//! in `Error: "..."`), an ignored test carries its reason in `message`, and mrt adds what a
//! reader of the stream (the HTML report, `mrt report --from`) needs: the run (`mrt` on the
//! suite's start: seed, databases, the revisions in graph order) and each failure's parts
//! (`failures` on a failed test: title, lines, schema and row differences).

use crate::report::paths::{join, Prefixes};
use mrt_db::{RowDiffKind, RowDifference, SchemaDifference};
use mrt_harness::{Failure, Observer, Outcome, RunInfo};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

pub struct Events {
    out: Mutex<Box<dyn Write + Send>>,
    counts: Mutex<[usize; 3]>,
}

impl Events {
    /// Events on the real stdout, taken before libtest's is pointed away.
    pub fn new() -> anyhow::Result<Events> {
        Ok(Events::to(Box::new(real_stdout()?)))
    }

    pub fn to(out: Box<dyn Write + Send>) -> Events {
        Events {
            out: Mutex::new(out),
            counts: Mutex::new([0; 3]),
        }
    }

    fn line(&self, value: Value) {
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

/// Events kept in memory, for `--report`.
#[derive(Clone, Default)]
pub struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);

impl Buffer {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Observer for Events {
    fn begin(&self, run: &RunInfo) {
        let prefix = Prefixes::new(&run.project_root, None).repo;
        let path =
            |p: &std::path::Path| join(&prefix, &crate::report::relative(&run.project_root, p));
        let revisions: Vec<Value> = (run.revisions.iter())
            .map(|r| json!({"id": r.id, "message": r.message, "path": path(&r.path)}))
            .collect();
        self.line(json!({
            "type": "suite", "event": "started", "test_count": run.tests.len(),
            "mrt": {
                "version": env!("CARGO_PKG_VERSION"), "seed": run.seed, "run": run.run_id,
                "databases": run.databases, "revisions": revisions,
            },
        }));
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
            Outcome::Failed { text, failures } => (
                1,
                json!({
                    "type": "test", "name": name, "event": "failed", "exec_time": secs,
                    "stdout": text, "failures": failures.iter().map(failure).collect::<Vec<_>>(),
                }),
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

/// One failure: its title and lines as the text shows them, and its differences as data.
fn failure(f: &Failure) -> Value {
    let mut v = json!({"title": f.title(), "lines": f.lines()});
    match f {
        Failure::NotRolledBack(d)
        | Failure::SchemaNotRestored(d)
        | Failure::SecondUpgradeDiffers(d) => {
            v["schema"] = d.iter().map(schema).collect();
        }
        Failure::DataNotRestored(d) | Failure::ForwardChangedRows(d) => {
            v["rows"] = d.iter().map(row).collect();
        }
        _ => {}
    }
    v
}

fn schema(d: &SchemaDifference) -> Value {
    json!({"object": d.object, "before": d.before, "after": d.after})
}

fn row(d: &RowDifference) -> Value {
    match &d.kind {
        RowDiffKind::Lost => json!({"table": d.table, "key": d.key, "change": "lost"}),
        RowDiffKind::Added => json!({"table": d.table, "key": d.key, "change": "added"}),
        RowDiffKind::Changed {
            column,
            before,
            after,
        } => json!({
            "table": d.table, "key": d.key, "change": "changed", "column": column,
            "before": before.to_string(), "after": after.to_string(),
        }),
    }
}
