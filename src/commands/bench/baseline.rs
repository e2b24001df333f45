//! Saved runs to compare with, as criterion keeps them: `--save-baseline NAME` writes the run's
//! JSON to `<cache>/bench/NAME.json`; `--baseline NAME` reads it back and marks each step whose
//! median moved beyond the noise threshold.

use anyhow::{bail, Context, Result};
use mrt_harness::bench::{BenchDirection, BenchRun};
use serde::Serialize;
use std::path::PathBuf;

/// Differences smaller than this are never a change, whatever the percentage.
const FLOOR_MS: f64 = 1.0;

pub struct Store {
    dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub revision: String,
    pub database: String,
    pub rows: usize,
    pub direction: BenchDirection,
    pub baseline_ms: f64,
    pub median_ms: f64,
    /// (median - baseline) / baseline.
    pub change: f64,
    /// `regressed`, `improved` or `unchanged`.
    pub verdict: &'static str,
}

impl Store {
    pub fn new(dir: PathBuf) -> Self {
        Store { dir }
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !name.starts_with('.');
        if !valid {
            bail!("baseline name {name:?}: use letters, digits, '-', '_' and '.'");
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    pub fn save(&self, name: &str, run: &BenchRun) -> Result<PathBuf> {
        let path = self.path(name)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let text = serde_json::to_string_pretty(run)?;
        // Written beside and renamed, so a reader never sees half a baseline.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    pub fn load(&self, name: &str) -> Result<BenchRun> {
        let path = self.path(name)?;
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "baseline '{name}' not found at {} (save one with --save-baseline {name})",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("reading baseline {}", path.display()))
    }
}

/// Each result of `run` that the baseline also measured, with how it moved.
pub fn compare(base: &BenchRun, run: &BenchRun, noise: f64) -> Vec<Change> {
    run.results
        .iter()
        .filter_map(|r| {
            let b = base.results.iter().find(|b| {
                b.revision == r.revision
                    && b.database == r.database
                    && b.rows == r.rows
                    && b.direction == r.direction
            })?;
            let change = if b.median_ms > 0.0 {
                (r.median_ms - b.median_ms) / b.median_ms
            } else {
                0.0
            };
            let moved = (r.median_ms - b.median_ms).abs() > FLOOR_MS && change.abs() > noise;
            let verdict = match (moved, change > 0.0) {
                (false, _) => "unchanged",
                (true, true) => "regressed",
                (true, false) => "improved",
            };
            Some(Change {
                revision: r.revision.clone(),
                database: r.database.clone(),
                rows: r.rows,
                direction: r.direction,
                baseline_ms: b.median_ms,
                median_ms: r.median_ms,
                change,
                verdict,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mrt_harness::bench::BenchResult;

    fn result(median_ms: f64) -> BenchResult {
        BenchResult {
            revision: "a1".into(),
            message: None,
            database: "postgres".into(),
            rows: 1000,
            direction: BenchDirection::Upgrade,
            median_ms,
            min_ms: median_ms,
            max_ms: median_ms,
            samples: 1,
            blocked_reads_ms: None,
            blocked_writes_ms: None,
            lock: None,
            rewrote: None,
            growth: "constant".into(),
            tables: vec![],
        }
    }

    fn run(median_ms: f64) -> BenchRun {
        BenchRun {
            results: vec![result(median_ms)],
            ..BenchRun::default()
        }
    }

    #[test]
    fn changes_beyond_noise_and_floor_are_marked() {
        assert_eq!(
            compare(&run(100.0), &run(150.0), 0.2)[0].verdict,
            "regressed"
        );
        assert_eq!(
            compare(&run(100.0), &run(110.0), 0.2)[0].verdict,
            "unchanged"
        );
        assert_eq!(compare(&run(100.0), &run(50.0), 0.2)[0].verdict, "improved");
        // 0.5 ms to 1 ms doubles, but is below the floor.
        assert_eq!(compare(&run(0.5), &run(1.0), 0.2)[0].verdict, "unchanged");
        let other = BenchRun::default();
        assert!(compare(&other, &run(1.0), 0.2).is_empty());
    }

    #[test]
    fn a_saved_baseline_reads_back_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path().join("bench"));
        let saved = run(12.5);
        store.save("main", &saved).expect("save");
        assert_eq!(store.load("main").expect("load"), saved);
        assert!(store.load("other").is_err());
        assert!(store.save("../x", &saved).is_err());
    }
}
