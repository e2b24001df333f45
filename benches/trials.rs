//! Benchmark of `mrt test` on generated Alembic chains (one `create_table` per revision) against
//! the floor measured in the same run: `alembic upgrade head` then `alembic downgrade base` in one
//! Python process. Where pytest-mrt is importable, its `RollbackVerifier.check_all()` on the same
//! chain is timed too. Ratios matter, not absolute times: these machines are noisy.
//!
//! The floor and mrt run in turns, `MRT_BENCH_RUNS` times each (default 3), and the medians are
//! compared: this machine's speed drifts by more than the differences measured, and a drift hits
//! both sides of a pair alike.
//!
//! Run: `cargo bench --bench trials` (sizes: `MRT_BENCH_SIZES=100,1000`, default `100,1000`).

mod common;

use common::{alembic_chain, in_turns, ratio, run_mrt_on, secs, time};
use std::path::Path;
use std::process::Command;

fn main() {
    let sizes: Vec<usize> = std::env::var("MRT_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let python = std::env::var("MRT_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut mrt_times = Vec::new();
    for &n in &sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        alembic_chain(dir.path(), n);
        let (floor, mrt) = in_turns(
            &format!("trials/{n}"),
            || run_python(&python, FLOOR, dir.path()),
            || run_mrt(dir.path()),
        );
        if n > pytest_mrt_max() {
            println!("trials/{n}: pytest-mrt skipped above {} revisions (it replays from base per revision; MRT_BENCH_PYTEST_MAX raises the limit)", pytest_mrt_max());
        } else if python_has(&python, "pytest_mrt") {
            let baseline = time(|| run_python(&python, PYTEST_MRT, dir.path()));
            println!(
                "trials/{n}: pytest-mrt check_all {:.2} s, ratio pytest-mrt/floor = {:.2}, mrt is {:.2}x faster",
                secs(baseline),
                ratio(baseline, floor),
                ratio(baseline, mrt)
            );
        } else {
            println!("trials/{n}: pytest-mrt not importable; `pip install pytest-mrt` to compare");
        }
        mrt_times.push((n, mrt));
    }
    if let Some(url) = mrt_db::test_server_url("MRT_TEST_POSTGRES_URL") {
        postgres(&python, &url);
    } else {
        println!("trials/postgres: skipped (set MRT_TEST_POSTGRES_URL)");
    }
    for pair in mrt_times.windows(2) {
        let ((a, ta), (b, tb)) = (pair[0], pair[1]);
        println!(
            "trials: mrt {b} revisions / {a} revisions = {:.2}x (linear would be {:.1}x)",
            ratio(tb, ta),
            b as f64 / a as f64
        );
    }
}

/// The 100-revision chain on PostgreSQL against its own floor (a scratch database made and dropped
/// by the floor script with psycopg).
fn postgres(python: &str, url: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    alembic_chain(dir.path(), 100);
    let admin = url.replacen("postgres://", "postgresql://", 1);
    let scratch = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/mrt_bench_floor").replacen(
            "postgresql://",
            "postgresql+psycopg://",
            1,
        ),
        None => return,
    };
    let code = format!(
        "import psycopg\nfrom alembic.config import Config\nfrom alembic import command\nadmin = {admin:?}\nwith psycopg.connect(admin, autocommit=True) as c:\n    c.execute('DROP DATABASE IF EXISTS mrt_bench_floor'); c.execute('CREATE DATABASE mrt_bench_floor')\ncfg = Config('alembic.ini')\ncfg.set_main_option('sqlalchemy.url', {scratch:?})\ncommand.upgrade(cfg, 'head')\ncommand.downgrade(cfg, 'base')\nwith psycopg.connect(admin, autocommit=True) as c:\n    c.execute('DROP DATABASE mrt_bench_floor')\n"
    );
    if !python_has(python, "psycopg") {
        println!("trials/postgres: skipped (psycopg not importable)");
        return;
    }
    in_turns(
        "trials/postgres/100",
        || run_python(python, &code, dir.path()),
        || run_mrt_on(dir.path(), url),
    );
}

const FLOOR: &str = "from alembic.config import Config\nfrom alembic import command\ncfg = Config('alembic.ini')\ncfg.set_main_option('sqlalchemy.url', 'sqlite:///floor.db')\ncommand.upgrade(cfg, 'head')\ncommand.downgrade(cfg, 'base')\n";

const PYTEST_MRT: &str = "from pytest_mrt.core.runner import MigrationRunner\nfrom pytest_mrt.core.verifier import RollbackVerifier\nresults = RollbackVerifier(MigrationRunner('alembic.ini', 'sqlite:///pytest_mrt.db')).check_all()\nassert all(r.passed for r in results), [r for r in results if not r.passed][:3]\n";

/// Largest chain pytest-mrt is timed on (its run time grows with the square of the chain).
fn pytest_mrt_max() -> usize {
    std::env::var("MRT_BENCH_PYTEST_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

fn run_python(python: &str, code: &str, dir: &Path) {
    let out = Command::new(python)
        .args(["-c", code])
        .current_dir(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn python_has(python: &str, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_mrt(dir: &Path) {
    run_mrt_on(dir, "sqlite")
}
