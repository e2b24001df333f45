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
/// `mrt test` on `dir` with no snapshots (each run measures the whole work, as the floor does).
pub fn run_mrt_on(dir: &Path, db: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project"])
        .arg(dir)
        .args(["--db", db, "--seed", "1", "-q", "--no-cache"])
        .output()
        .expect("run mrt");
    assert!(
        out.status.success(),
        "mrt test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const ENV_PY: &str = include_str!("../../fixtures/alembic/linear_classic/migrations/env.py");

/// `n` Alembic revisions, each creating one table that its downgrade drops.
pub fn alembic_chain(dir: &Path, n: usize) {
    let versions = dir.join("migrations/versions");
    std::fs::create_dir_all(&versions).expect("mkdir");
    std::fs::write(dir.join("migrations/env.py"), ENV_PY).expect("env.py");
    std::fs::write(
        dir.join("alembic.ini"),
        "[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite:///%(here)s/app.db\n",
    )
    .expect("ini");
    for i in 0..n {
        let down = if i == 0 {
            "None".to_string()
        } else {
            format!("\"r{:04}\"", i - 1)
        };
        let body = format!(
            "\"\"\"create t{i}\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = \"r{i:04}\"\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    op.create_table(\"t{i}\", sa.Column(\"id\", sa.Integer, primary_key=True), sa.Column(\"name\", sa.String(50), nullable=False), sa.Column(\"note\", sa.Text, nullable=True))\n\n\ndef downgrade():\n    op.drop_table(\"t{i}\")\n"
        );
        std::fs::write(versions.join(format!("r{i:04}_create_t{i}.py")), body).expect("revision");
    }
}

/// `n` sqlx migrations: each creates a table (every fifth also adds a column to the one before
/// and indexes it), its down undoes exactly that.
pub fn sqlx_chain(dir: &Path, n: usize) {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).expect("mkdir");
    std::fs::write(
        dir.join("mrt.toml"),
        "kind = \"sql\"\n[sql]\ntool = \"sqlx\"\n",
    )
    .expect("mrt.toml");
    for i in 0..n {
        let name = format!("{:014}_create_t{i}", 20240101000000u64 + i as u64);
        let mut up = format!(
            "CREATE TABLE t{i} (\n    id INTEGER PRIMARY KEY,\n    name VARCHAR(50) NOT NULL,\n    note TEXT\n);\n"
        );
        let mut down = format!("DROP TABLE t{i};\n");
        if i > 0 && i % 5 == 0 {
            let p = i - 1;
            up.push_str(&format!(
                "ALTER TABLE t{p} ADD COLUMN extra INTEGER;\nCREATE INDEX ix_t{p}_name ON t{p} (name);\n"
            ));
            down = format!("DROP INDEX ix_t{p}_name;\nALTER TABLE t{p} DROP COLUMN extra;\n{down}");
        }
        std::fs::write(migrations.join(format!("{name}.up.sql")), up).expect("up");
        std::fs::write(migrations.join(format!("{name}.down.sql")), down).expect("down");
    }
}
