//! What `mrt bench` measured, as data: the JSON it prints and saves as a baseline, and what the
//! table, CSV, plot and gates are made from.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchDirection {
    Upgrade,
    Downgrade,
}

impl BenchDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            BenchDirection::Upgrade => "upgrade",
            BenchDirection::Downgrade => "downgrade",
        }
    }
}

/// One revision × database × rows × direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub database: String,
    pub rows: usize,
    pub direction: BenchDirection,
    /// Over the measured repetitions (the warm-up round is not among them), as the step's
    /// runner timed the migration itself.
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub samples: usize,
    /// The longest stretch a read (a write) of a touched table had to wait, over all
    /// repetitions; `None` where nothing could probe (SQLite, MySQL).
    pub blocked_reads_ms: Option<f64>,
    pub blocked_writes_ms: Option<f64>,
    /// The strongest table lock seen held by the step (PostgreSQL); `None`: none seen.
    pub lock: Option<String>,
    /// Whether a touched table's storage changed (a rewrite); `None` where the server does not
    /// say (MySQL).
    pub rewrote: Option<bool>,
    /// How time grows with rows for this revision and direction: `constant`, `linear`, `worse`
    /// (see [`growth`]).
    pub growth: String,
    /// The tables filled and probed.
    pub tables: Vec<String>,
}

/// Why a revision could not be measured on a database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchError {
    pub revision: String,
    pub database: String,
    pub rows: usize,
    pub error: String,
}

/// One fill of the tables a revision touches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    pub revision: String,
    pub database: String,
    pub rows: usize,
    pub inserted: usize,
    /// The whole fill: reading the rows already there, generating, inserting.
    pub seconds: f64,
    /// Of which generating the rows.
    #[serde(default)]
    pub generate_seconds: f64,
}

/// A whole `mrt bench` run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchRun {
    pub results: Vec<BenchResult>,
    #[serde(default)]
    pub errors: Vec<BenchError>,
    #[serde(default)]
    pub fills: Vec<Fill>,
    /// Things to know once per run (SQLite's whole-database lock, a MySQL without probes).
    #[serde(default)]
    pub notes: Vec<String>,
    pub seed: u64,
    pub repeat: usize,
    /// `mrt`, the runner, and each database's server.
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// What mrt itself spent per measured step outside the migration (the round trip to the
    /// runner, the probes' start and stop), median in ms.
    #[serde(default)]
    pub overhead_ms: f64,
}

impl BenchRun {
    /// Rows inserted per second of filling, per database.
    pub fn fill_rates(&self) -> BTreeMap<String, f64> {
        let mut sums: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        for fill in &self.fills {
            let entry = sums.entry(fill.database.clone()).or_default();
            entry.0 += fill.inserted;
            entry.1 += fill.seconds;
        }
        (sums.into_iter())
            .filter(|(_, (rows, secs))| *rows > 0 && *secs > 0.0)
            .map(|(db, (rows, secs))| (db, rows as f64 / secs))
            .collect()
    }
}

/// Below this a difference in time is noise, not growth.
const FLOOR_MS: f64 = 5.0;

/// How a step's time grows with rows, from `(rows, median_ms)` points: `constant` when the
/// largest size costs less than twice the smallest (plus [`FLOOR_MS`]); otherwise the exponent
/// of the last two sizes with rows, `linear` up to 1.4, `worse` beyond (an exponent needs two
/// sizes above zero; with one, growth counts as linear).
pub fn growth(points: &[(usize, f64)]) -> &'static str {
    let mut points = points.to_vec();
    points.sort_by_key(|p| p.0);
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return "constant";
    };
    if points.len() < 2 || last.1 < 2.0 * first.1 + FLOOR_MS {
        return "constant";
    }
    let sized: Vec<&(usize, f64)> = points.iter().filter(|p| p.0 > 0 && p.1 > 0.0).collect();
    let [.., a, b] = sized.as_slice() else {
        return "linear";
    };
    let exponent = (b.1 / a.1).ln() / (b.0 as f64 / a.0 as f64).ln();
    if exponent <= 1.4 {
        "linear"
    } else {
        "worse"
    }
}

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_classes() {
        assert_eq!(
            growth(&[(0, 2.0), (10_000, 3.0), (100_000, 4.0)]),
            "constant"
        );
        assert_eq!(
            growth(&[(0, 1.0), (10_000, 20.0), (100_000, 190.0)]),
            "linear"
        );
        assert_eq!(
            growth(&[(0, 1.0), (10_000, 20.0), (100_000, 2000.0)]),
            "worse"
        );
        assert_eq!(growth(&[(0, 1.0), (100_000, 90.0)]), "linear");
        assert_eq!(growth(&[(100, 1.0)]), "constant");
        assert_eq!(growth(&[]), "constant");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn fill_rate_is_rows_over_seconds_per_database() {
        let fill = |db: &str, inserted, seconds| Fill {
            revision: "r".into(),
            database: db.into(),
            rows: inserted,
            inserted,
            seconds,
            generate_seconds: 0.0,
        };
        let run = BenchRun {
            fills: vec![
                fill("sqlite", 1000, 0.5),
                fill("sqlite", 3000, 1.5),
                fill("postgres", 0, 0.1),
            ],
            ..BenchRun::default()
        };
        let rates = run.fill_rates();
        assert_eq!(rates.get("sqlite"), Some(&2000.0));
        assert_eq!(rates.get("postgres"), None);
    }
}
