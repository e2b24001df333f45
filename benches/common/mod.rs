//! Timing helpers shared by the benchmarks (each uses some of them).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median wall time of `runs` calls of `f` (robust to one noisy run on a shared machine).
pub fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

pub fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Runs `floor` and `mrt` in turns (`MRT_BENCH_RUNS` pairs, default 3), prints every pair and the
/// ratio of the medians, and returns the medians: this machine's speed drifts by more than the
/// differences measured, and a drift hits both sides of a pair alike.
pub fn in_turns(
    label: &str,
    mut floor: impl FnMut(),
    mut mrt: impl FnMut(),
) -> (Duration, Duration) {
    let runs: usize = std::env::var("MRT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut pairs: Vec<(Duration, Duration)> = (0..runs)
        .map(|_| (time(&mut floor), time(&mut mrt)))
        .collect();
    let shown: Vec<String> = pairs
        .iter()
        .map(|(f, m)| format!("{:.2}/{:.2}", secs(*m), secs(*f)))
        .collect();
    pairs.sort_by_key(|p| p.0);
    let floor = pairs[runs / 2].0;
    pairs.sort_by_key(|p| p.1);
    let mrt = pairs[runs / 2].1;
    println!(
        "{label}: floor {:.2} s, mrt test {:.2} s (medians of {runs}), ratio mrt/floor = {:.2} (runs, mrt/floor s: {})",
        secs(floor),
        secs(mrt),
        ratio(mrt, floor),
        shown.join(", ")
    );
    (floor, mrt)
}

/// `mrt test` on the project in `dir` against database `db`; panics with its output if it fails.
pub fn run_mrt_on(dir: &Path, db: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project"])
        .arg(dir)
        .args(["--db", db, "--seed", "1", "-q"])
        .output()
        .expect("run mrt");
    assert!(
        out.status.success(),
        "mrt test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
