//! What each test did, as it happens, for whoever shows it besides libtest: the progress line on
//! a terminal, and the formats libtest-mimic lacks or wraps (JUnit; JSON carrying a failure's text
//! as it is, where libtest-mimic writes `Error: "..."` around it).

use libtest_mimic::{Completion, Failed};
use std::time::{Duration, Instant};

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// The failure's text, as libtest prints it under `---- name stdout ----`.
    Failed(String),
    /// Ignored, with the reason when there is one (`skipped: ...`, `no down migration`).
    Ignored(Option<String>),
}

/// Told about every test the run reports, from several threads at once.
pub trait Observer: Send + Sync {
    /// Before any test runs: the names that will be reported, in libtest's order.
    fn begin(&self, tests: &[String]);
    fn started(&self, name: &str);
    fn finished(&self, name: &str, outcome: &Outcome, elapsed: Duration);
    /// After the last test; `filtered_out` counts the tests the filters left out.
    fn end(&self, filtered_out: usize, elapsed: Duration);
}

pub type Observers = Vec<std::sync::Arc<dyn Observer>>;

/// Runs `runner` between `started` and `finished` for every observer; what libtest sees is
/// unchanged.
pub(crate) fn watched(
    observers: &Observers,
    name: &str,
    runner: impl FnOnce() -> Result<Completion, Failed>,
) -> Result<Completion, Failed> {
    if observers.is_empty() {
        return runner();
    }
    observers.iter().for_each(|o| o.started(name));
    let start = Instant::now();
    let result = runner();
    let outcome = match &result {
        Ok(Completion::Completed) => Outcome::Passed,
        Ok(Completion::Ignored { reason }) => Outcome::Ignored(reason.clone()),
        Err(failed) => Outcome::Failed(failed.message().unwrap_or_default().to_string()),
    };
    let elapsed = start.elapsed();
    observers
        .iter()
        .for_each(|o| o.finished(name, &outcome, elapsed));
    result
}
