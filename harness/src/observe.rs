//! What each test did, as it happens, for whoever shows it besides libtest: the progress line on
//! a terminal, and the formats libtest-mimic lacks or wraps (JUnit; JSON carrying a failure's text
//! as it is, where libtest-mimic writes `Error: "..."` around it; the HTML report, which needs the
//! typed failures, not their text).

use crate::Failure;
use libtest_mimic::{Completion, Failed};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How one test ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    /// The failure's text, as libtest prints it under `---- name stdout ----`, and what it is
    /// made of when a trial found it (empty for lint and graph tests, whose text is all there is).
    Failed {
        text: String,
        failures: Vec<Failure>,
    },
    /// Ignored, with the reason when there is one (`skipped: ...`, `no down migration`).
    Ignored(Option<String>),
}

/// A revision as the run knows it, in graph order.
#[derive(Debug, Clone)]
pub struct RevisionInfo {
    pub id: String,
    pub message: Option<String>,
    pub path: PathBuf,
}

/// What a run is, before any test runs.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The names that will be reported, in libtest's order.
    pub tests: Vec<String>,
    pub seed: u64,
    /// `mrt_<run>_<n>` databases of this run are named after it.
    pub run_id: String,
    /// The databases' test-name prefixes (`sqlite`, `postgres`).
    pub databases: Vec<String>,
    pub project_root: PathBuf,
    pub revisions: Vec<RevisionInfo>,
}

/// Told about every test the run reports, from several threads at once.
pub trait Observer: Send + Sync {
    fn begin(&self, run: &RunInfo);
    fn started(&self, name: &str);
    fn finished(&self, name: &str, outcome: &Outcome, elapsed: Duration);
    /// After the last test; `filtered_out` counts the tests the filters left out.
    fn end(&self, filtered_out: usize, elapsed: Duration);
}

pub type Observers = Vec<std::sync::Arc<dyn Observer>>;

/// A test that failed: its text and, from a trial, the failures it is made of.
pub struct Failing {
    pub text: String,
    pub failures: Vec<Failure>,
}

impl From<String> for Failing {
    fn from(text: String) -> Self {
        Failing {
            text,
            failures: Vec::new(),
        }
    }
}

impl From<crate::Verdict> for Failing {
    fn from(verdict: crate::Verdict) -> Self {
        Failing {
            text: verdict.to_string(),
            failures: verdict.failures,
        }
    }
}

/// Runs `runner` between `started` and `finished` for every observer; libtest sees the text.
/// The time observers get is the one `runner` reports (a scheduled trial's own, which ran ahead
/// of libtest asking for it), else how long `runner` took.
pub(crate) fn watched(
    observers: &Observers,
    name: &str,
    runner: impl FnOnce() -> (Result<Completion, Failing>, Option<Duration>),
) -> Result<Completion, Failed> {
    observers.iter().for_each(|o| o.started(name));
    let start = Instant::now();
    let (result, took) = runner();
    let elapsed = took.unwrap_or_else(|| start.elapsed());
    let outcome = match &result {
        Ok(Completion::Completed) => Outcome::Passed,
        Ok(Completion::Ignored { reason }) => Outcome::Ignored(reason.clone()),
        Err(failing) => Outcome::Failed {
            text: failing.text.clone(),
            failures: failing.failures.clone(),
        },
    };
    observers
        .iter()
        .for_each(|o| o.finished(name, &outcome, elapsed));
    result.map_err(|f| Failed::from(f.text))
}
