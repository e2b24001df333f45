//! The live line on stderr while trials run: done / total, failures so far, what is running.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mrt_harness::{Observer, Outcome, RunInfo};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

pub struct Progress {
    bar: ProgressBar,
    failed: AtomicUsize,
    running: Mutex<Vec<String>>,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {elapsed:>4} {pos}/{len} tests {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress {
            bar,
            failed: AtomicUsize::new(0),
            running: Mutex::new(Vec::new()),
        }
    }

    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }

    fn show(&self) {
        let failed = self.failed.load(Relaxed);
        let running = self
            .running
            .lock()
            .map(|r| r.first().cloned())
            .ok()
            .flatten();
        let mut msg = match failed {
            0 => String::new(),
            n => format!("· {n} failed "),
        };
        if let Some(name) = running {
            msg.push_str(&format!("· {}", mrt_migrations::escape(&name)));
        }
        self.bar.set_message(msg);
    }
}

impl Observer for Progress {
    fn begin(&self, run: &RunInfo) {
        self.bar.set_length(run.tests.len() as u64);
        self.bar.enable_steady_tick(Duration::from_millis(120));
    }

    fn started(&self, name: &str) {
        if let Ok(mut r) = self.running.lock() {
            r.push(name.to_string());
        }
        self.show();
    }

    fn finished(&self, name: &str, outcome: &Outcome, _: Duration) {
        let failed = matches!(outcome, Outcome::Failed { .. });
        if failed {
            self.failed.fetch_add(1, Relaxed);
        }
        if let Ok(mut r) = self.running.lock() {
            r.retain(|n| n != name);
        }
        self.bar.inc(1);
        self.show();
        if failed {
            // Redraws are rate-limited; a failure is shown at once, even in a run that ends
            // before the next redraw would come.
            self.bar.force_draw();
        }
    }

    fn end(&self, _: usize, _: Duration) {
        self.done();
    }
}
