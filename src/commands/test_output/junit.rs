//! `mrt test --format junit`: JUnit XML on stdout at the end of the run, one test suite per
//! prefix (`sqlite`, `postgres`, `lint`, `graph`, `drift`) and one test case per test, as CI
//! dashboards show `cargo nextest`'s JUnit output.

use crate::report::junit::escape;
use mrt_harness::{Observer, Outcome, RunInfo};
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

/// A test's name and, once it ended, how and in how long.
type Case = (String, Option<(Outcome, Duration)>);

#[derive(Default)]
pub struct Junit {
    /// In the order libtest reports them; `None` until the test ends.
    cases: Mutex<Vec<Case>>,
    elapsed: Mutex<Duration>,
}

impl Observer for Junit {
    fn begin(&self, run: &RunInfo) {
        if let Ok(mut cases) = self.cases.lock() {
            *cases = run.tests.iter().map(|t| (t.clone(), None)).collect();
        }
    }

    fn started(&self, _: &str) {}

    fn finished(&self, name: &str, outcome: &Outcome, elapsed: Duration) {
        if let Ok(mut cases) = self.cases.lock() {
            if let Some(case) = cases.iter_mut().find(|(n, _)| n == name) {
                case.1 = Some((outcome.clone(), elapsed));
            }
        }
    }

    fn end(&self, _: usize, elapsed: Duration) {
        if let Ok(mut e) = self.elapsed.lock() {
            *e = elapsed;
        }
    }
}

/// The part of a test name before `::`.
fn suite_of(name: &str) -> &str {
    name.split("::").next().unwrap_or(name)
}

impl Junit {
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let cases = self.cases.lock().map(|c| c.clone()).unwrap_or_default();
        let elapsed = self.elapsed.lock().map(|e| *e).unwrap_or_default();
        let mut suites: Vec<(&str, Vec<&Case>)> = Vec::new();
        for case in &cases {
            let suite = suite_of(&case.0);
            match suites.iter_mut().find(|(s, _)| *s == suite) {
                Some((_, list)) => list.push(case),
                None => suites.push((suite, vec![case])),
            }
        }
        let count = |list: &[&Case]| {
            let failed = (list.iter())
                .filter(|c| matches!(c.1, Some((Outcome::Failed { .. }, _))))
                .count();
            let skipped = (list.iter())
                .filter(|c| !matches!(c.1, Some((Outcome::Passed | Outcome::Failed { .. }, _))))
                .count();
            (list.len(), failed, skipped)
        };
        let all: Vec<_> = cases.iter().collect();
        let (tests, failures, skipped) = count(&all);
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<testsuites name="mrt test" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{:.3}">"#,
            elapsed.as_secs_f64()
        )?;
        for (suite, list) in &suites {
            let (tests, failures, skipped) = count(list);
            let time: f64 = (list.iter())
                .filter_map(|c| c.1.as_ref().map(|(_, d)| d.as_secs_f64()))
                .sum();
            writeln!(
                out,
                r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{time:.3}">"#,
                escape(suite)
            )?;
            for (name, result) in list.iter().map(|c| (&c.0, &c.1)) {
                write_case(out, suite, name, result.as_ref())?;
            }
            writeln!(out, "  </testsuite>")?;
        }
        writeln!(out, "</testsuites>")?;
        out.flush()
    }
}

fn write_case(
    out: &mut dyn Write,
    suite: &str,
    name: &str,
    result: Option<&(Outcome, Duration)>,
) -> io::Result<()> {
    let time = result.map_or(0.0, |(_, d)| d.as_secs_f64());
    write!(
        out,
        r#"    <testcase name="{}" classname="{}" time="{time:.3}""#,
        escape(name),
        escape(suite)
    )?;
    match result {
        Some((Outcome::Passed, _)) => writeln!(out, "/>"),
        Some((Outcome::Failed { text, .. }, _)) => {
            let first = text.lines().next().unwrap_or("failed");
            writeln!(out, ">")?;
            writeln!(
                out,
                r#"      <failure message="{}">{}</failure>"#,
                escape(first),
                escape(text)
            )?;
            writeln!(out, "    </testcase>")
        }
        Some((Outcome::Ignored(reason), _)) => {
            writeln!(out, ">")?;
            let reason = reason.as_deref().unwrap_or("ignored");
            writeln!(out, r#"      <skipped message="{}"/>"#, escape(reason))?;
            writeln!(out, "    </testcase>")
        }
        // Not run: the run was stopped before it.
        None => {
            writeln!(out, ">")?;
            writeln!(out, r#"      <skipped message="not run"/>"#)?;
            writeln!(out, "    </testcase>")
        }
    }
}
