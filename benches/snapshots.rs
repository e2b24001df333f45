//! Benchmark of snapshots on a generated 100-revision chain, all measured in one run:
//! (a) `mrt test` with an empty cache, (b) `mrt test` again with the cache it left, (c) every
//! trial as its own process with `--exact` (what `cargo nextest run` does, two at a time on this
//! 2-core machine) with an empty cache, then with the cache it left (each process hands its
//! database to the next on PostgreSQL), the same without that hand-off, and with no cache at all.
//! Ratios against (a) matter, not absolute times.
//!
//! Run: `cargo bench --bench snapshots` (chains: `MRT_BENCH_CHAINS=alembic,sqlx`, default both;
//! PostgreSQL too when `MRT_TEST_POSTGRES_URL` is set; `MRT_BENCH_N`, default 100).

mod common;

use common::{alembic_chain, median, ratio, secs, sqlx_chain, time};
use std::path::Path;
use std::process::Command;

fn main() {
    let n: usize = std::env::var("MRT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let chains = std::env::var("MRT_BENCH_CHAINS").unwrap_or_else(|_| "alembic,sqlx".into());
    let mut databases = vec!["sqlite".to_string()];
    match mrt_db::test_server_url("MRT_TEST_POSTGRES_URL") {
        Some(url) => databases.push(url),
        None => println!("snapshots/postgres: skipped (set MRT_TEST_POSTGRES_URL)"),
    }
    for chain in chains.split(',').map(str::trim) {
        for db in &databases {
            bench(chain, db, n);
        }
    }
}

fn bench(chain: &str, db: &str, n: usize) {
    let project = tempfile::tempdir().expect("temp dir");
    match chain {
        "alembic" => alembic_chain(project.path(), n),
        "sqlx" => sqlx_chain(project.path(), n),
        other => panic!("unknown chain {other}"),
    }
    let cache = tempfile::tempdir().expect("temp dir");
    let label = format!(
        "snapshots/{chain}/{}/{n}",
        if db == "sqlite" { "sqlite" } else { "postgres" }
    );
    let runs = 3;
    let run = |extra: &[&str]| mrt(project.path(), db, cache.path(), extra);
    let cold = median(runs, || {
        clean(db, cache.path());
        run(&[]);
    });
    let warm = median(runs, || run(&[]));
    let tests = list(project.path(), db);
    clean(db, cache.path());
    let each_cold = time(|| each(project.path(), db, cache.path(), &tests, &[], false));
    let each_warm = time(|| each(project.path(), db, cache.path(), &tests, &[], false));
    let each_kept = time(|| each(project.path(), db, cache.path(), &tests, &[], true));
    let each_none = time(|| {
        each(
            project.path(),
            db,
            cache.path(),
            &tests,
            &["--no-cache"],
            false,
        )
    });
    clean(db, cache.path());
    println!(
        "{label}: (a) cold {:.2} s, (b) warm {:.2} s = {:.2}x (a); one process per test ({} tests, 2 at a time): \
         (c) cold cache {:.2} s = {:.2}x, warm cache {:.2} s = {:.2}x, warm without hand-off {:.2} s = {:.2}x, \
         no cache {:.2} s = {:.2}x (a)",
        secs(cold),
        secs(warm),
        ratio(warm, cold),
        tests.len(),
        secs(each_cold),
        ratio(each_cold, cold),
        secs(each_warm),
        ratio(each_warm, cold),
        secs(each_kept),
        ratio(each_kept, cold),
        secs(each_none),
        ratio(each_none, cold),
    );
}

fn command(project: &Path, db: &str, cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mrt"));
    command
        .args(["test", "--project"])
        .arg(project)
        .args(["--db", db, "--seed", "1", "--cache-dir"])
        .arg(cache);
    command
}

fn mrt(project: &Path, db: &str, cache: &Path, extra: &[&str]) {
    let out = command(project, db, cache)
        .arg("-q")
        .args(extra)
        .output()
        .expect("run mrt");
    assert!(
        out.status.success(),
        "mrt test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The trial names, as `cargo nextest list` would get them.
fn list(project: &Path, db: &str) -> Vec<String> {
    let out = command(project, db, Path::new("/nonexistent"))
        .args(["--list", "--format", "terse"])
        .output()
        .expect("list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .filter(|name| name.starts_with("sqlite::") || name.starts_with("postgres::"))
        .map(str::to_string)
        .collect()
}

/// Every test as its own process with `--exact`, two at a time, as nextest runs them; with
/// `no_hand_off`, each process drops its database instead of handing it to the next.
fn each(
    project: &Path,
    db: &str,
    cache: &Path,
    tests: &[String],
    extra: &[&str],
    no_hand_off: bool,
) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(name) = tests.get(i) else { break };
                let out = command(project, db, cache)
                    .args(["--exact", name, "--test-threads", "1"])
                    .args(extra)
                    .env("NEXTEST_RUN_ID", "5eed0000-0000-0000-0000-000000000000")
                    .env("MRT_HAND_OFF", if no_hand_off { "off" } else { "on" })
                    .output()
                    .expect("run mrt");
                assert!(
                    out.status.success(),
                    "{name} failed:\n{}",
                    String::from_utf8_lossy(&out.stdout)
                );
            });
        }
    });
}

/// Removes every snapshot of the cache folder and, on a server, its snapshot databases.
fn clean(db: &str, cache: &Path) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mrt"));
    command
        .args(["clean", "--snapshots", "--cache-dir"])
        .arg(cache);
    if db != "sqlite" {
        command.args(["--db", db]);
    }
    let out = command.output().expect("mrt clean");
    assert!(
        out.status.success(),
        "mrt clean failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
