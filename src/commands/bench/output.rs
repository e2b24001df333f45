//! `mrt bench`'s outputs: the table for people, JSON and CSV for machines, the progress bar.

use super::baseline::Change;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mrt_harness::bench::{BenchDirection, BenchResult, BenchRun};
use std::fmt::Write as _;

/// A bar on stderr; indicatif draws nothing when stderr is not a terminal.
pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}") {
        bar.set_style(style);
    }
    bar
}

/// `{"results": [...], "errors": [...], "comparison": [...], "seed": ..., ...}`.
pub fn json(run: &BenchRun, comparison: Option<&[Change]>) -> Result<String> {
    let mut value = serde_json::to_value(run)?;
    if let (Some(changes), Some(object)) = (comparison, value.as_object_mut()) {
        object.insert("comparison".into(), serde_json::to_value(changes)?);
    }
    let mut fills = serde_json::Map::new();
    for (db, rate) in run.fill_rates() {
        fills.insert(db, serde_json::json!(rate.round()));
    }
    if let Some(object) = value.as_object_mut() {
        object.insert("fill_rows_per_second".into(), fills.into());
    }
    Ok(format!("{}\n", serde_json::to_string_pretty(&value)?))
}

pub fn csv(run: &BenchRun) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "revision",
        "database",
        "rows",
        "direction",
        "median_ms",
        "min_ms",
        "max_ms",
        "samples",
        "blocked_reads_ms",
        "blocked_writes_ms",
        "lock",
        "rewrote",
        "growth",
    ])?;
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    for r in &run.results {
        w.write_record([
            r.revision.clone(),
            r.database.clone(),
            r.rows.to_string(),
            r.direction.as_str().to_string(),
            format!("{:.3}", r.median_ms),
            format!("{:.3}", r.min_ms),
            format!("{:.3}", r.max_ms),
            r.samples.to_string(),
            opt(r.blocked_reads_ms),
            opt(r.blocked_writes_ms),
            r.lock.clone().unwrap_or_default(),
            r.rewrote.map(|b| b.to_string()).unwrap_or_default(),
            r.growth.clone(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// Per database and revision, one line per table size: the median time each way (and its
/// change against the baseline), what the upgrade blocked, its lock, whether it rewrote.
pub fn table(run: &BenchRun, comparison: Option<&[Change]>) -> String {
    let mut out = String::new();
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for r in &run.results {
        if !groups.contains(&(r.database.as_str(), r.revision.as_str())) {
            groups.push((r.database.as_str(), r.revision.as_str()));
        }
    }
    for (db, rev) in groups {
        let of = |d: BenchDirection| -> Vec<&BenchResult> {
            (run.results.iter())
                .filter(|r| r.database == db && r.revision == rev && r.direction == d)
                .collect()
        };
        let (ups, downs) = (of(BenchDirection::Upgrade), of(BenchDirection::Downgrade));
        let message = ups.first().and_then(|r| r.message.as_deref()).unwrap_or("");
        let _ = writeln!(out, "{db}  {rev}  {message}");
        let _ = writeln!(
            out,
            "  {:>9}  {:>16}  {:>16}  {:>22}  {:<22}  rewrote",
            "rows", "upgrade ms", "downgrade ms", "blocked r/w ms (up)", "lock (up)"
        );
        for up in &ups {
            let down = downs.iter().find(|d| d.rows == up.rows);
            let timing = |r: &BenchResult| with_change(r, comparison);
            let blocked = match (up.blocked_reads_ms, up.blocked_writes_ms) {
                (Some(r), Some(w)) => format!("{r:.0} / {w:.0}"),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "  {:>9}  {:>16}  {:>16}  {:>22}  {:<22}  {}",
                thousands(up.rows),
                timing(up),
                down.map_or("-".into(), |d| timing(d)),
                blocked,
                up.lock.as_deref().unwrap_or("-"),
                match up.rewrote {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                },
            );
        }
        let growth = |rs: &[&BenchResult]| rs.first().map_or("-".to_string(), |r| r.growth.clone());
        let _ = writeln!(
            out,
            "  growth: upgrade {}, downgrade {}\n",
            growth(&ups),
            growth(&downs)
        );
    }
    for e in &run.errors {
        let _ = writeln!(
            out,
            "error: {} {} at {} rows: {}",
            e.database, e.revision, e.rows, e.error
        );
    }
    for note in &run.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for (db, rate) in run.fill_rates() {
        let _ = writeln!(out, "fill: {db} {} rows/s", thousands(rate as usize));
    }
    let _ = writeln!(
        out,
        "{} measurements, {} repetitions each after a warm-up, seed {}; mrt's own time per step {:.1} ms",
        run.results.len(),
        run.repeat,
        run.seed,
        run.overhead_ms
    );
    out
}

fn with_change(r: &BenchResult, comparison: Option<&[Change]>) -> String {
    let time = format!("{:.1}", r.median_ms);
    let change = comparison.and_then(|cs| {
        cs.iter().find(|c| {
            c.revision == r.revision
                && c.database == r.database
                && c.rows == r.rows
                && c.direction == r.direction
        })
    });
    match change {
        Some(c) if c.verdict != "unchanged" => format!(
            "{time} {:+.0}%{}",
            c.change * 100.0,
            if c.verdict == "regressed" { "!" } else { "" }
        ),
        _ => time,
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
