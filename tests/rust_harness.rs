//! A Rust project runs mrt's trials from `cargo test` and `cargo nextest run` through a
//! `harness = false` test calling `mrt::harness::main()`: an Alembic project
//! (fixtures/rust_harness), and sqlx and diesel migrations with no Python at all
//! (fixtures/rust_harness_sqlx, fixtures/rust_harness_diesel).
//!
//! Each demo package is copied to a temporary directory with the path to this repository filled
//! in, and built in this workspace's target folder with its Cargo.lock and dev profile, so the
//! dependencies `cargo test --workspace` compiled are reused, not compiled again. Ignored, with the reason, when Alembic (for the Alembic demo) or
//! cargo-nextest is missing.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A demo package and the tests it must list and pass.
struct Demo {
    fixture: &'static str,
    expected: &'static [&'static str],
    /// Its steps run in Python (Alembic); the others get no Python at all.
    python: bool,
}

const DEMOS: [Demo; 3] = [
    Demo {
        fixture: "rust_harness",
        expected: &[
            "graph::well_formed",
            "graph::single_head",
            "lint::p01",
            "lint::p02",
            "sqlite::p01",
            "sqlite::p02",
        ],
        python: true,
    },
    Demo {
        fixture: "rust_harness_sqlx",
        expected: &[
            "graph::well_formed",
            "graph::single_head",
            "lint::20240101000001_create_users",
            "lint::20240101000003_index_phone",
            "sqlite::20240101000001_create_users",
            "sqlite::20240101000002_add_phone",
            "sqlite::20240101000003_index_phone",
        ],
        python: false,
    },
    Demo {
        fixture: "rust_harness_diesel",
        expected: &[
            "graph::well_formed",
            "graph::single_head",
            "lint::2024-01-01-000001_create_posts",
            "sqlite::2024-01-01-000001_create_posts",
            "sqlite::2024-01-02-000002_add_published",
        ],
        python: false,
    },
];

fn main() {
    let args = Arguments::from_args();
    let have_alembic = common::python_has("alembic") && common::python_has("sqlalchemy");
    let have_nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut trials = Vec::new();
    for demo in &DEMOS {
        let name = demo
            .fixture
            .trim_start_matches("rust_harness")
            .trim_start_matches('_');
        let suffix = if name.is_empty() {
            String::new()
        } else {
            format!("::{name}")
        };
        let python_missing = demo.python && !have_alembic;
        trials.push(
            Trial::test(format!("rust_harness::cargo_test{suffix}"), move || {
                cargo_test(demo)
            })
            .with_ignored_flag(python_missing),
        );
        trials.push(
            Trial::test(format!("rust_harness::cargo_nextest{suffix}"), move || {
                cargo_nextest(demo)
            })
            .with_ignored_flag(python_missing || !have_nextest),
        );
    }
    if !have_alembic {
        eprintln!(
            "note: rust_harness tests of the Alembic demo ignored: {} cannot import alembic and sqlalchemy",
            common::python()
        );
    }
    if !have_nextest {
        eprintln!("note: rust_harness::cargo_nextest ignored: `cargo nextest` is not installed");
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Copies the demo package into a fresh directory and returns it (kept alive by the guard).
fn copy_demo(demo: &Demo) -> Result<(tempfile::TempDir, PathBuf), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = tmp.path().join("demo");
    common::copy_dir(&common::fixtures(demo.fixture), &dest).map_err(|e| e.to_string())?;
    let template =
        std::fs::read_to_string(dest.join("Cargo.toml.in")).map_err(|e| e.to_string())?;
    let manifest = template.replace("@MRT_PATH@", &common::repo().display().to_string());
    std::fs::write(dest.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::copy(common::repo().join("Cargo.lock"), dest.join("Cargo.lock"))
        .map_err(|e| e.to_string())?;
    Ok((tmp, dest))
}

/// The workspace's own target folder (the parent of `CARGO_TARGET_TMPDIR`): the demos, built
/// with the same profile and lock file, reuse the dependencies this build has just compiled.
/// cargo does not hold its build lock while it runs the tests, so this nested build can take it.
fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| common::repo().join("target"), Path::to_path_buf)
}

fn cargo(demo: &Demo, dir: &Path, args: &[&str]) -> Result<String, Failed> {
    cargo_with(demo, dir, args, &[])
}

fn cargo_with(
    demo: &Demo,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Result<String, Failed> {
    let mut command = Command::new("cargo");
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .env("MRT_SEED", "7")
        .env_remove("RUSTFLAGS");
    if demo.python {
        command.env("MRT_PYTHON", common::python());
    } else {
        // SQL-file migrations need no Python: make sure none is used.
        command
            .env("MRT_PYTHON", dir.join("no-python-here"))
            .env_remove("VIRTUAL_ENV");
    }
    let out = command
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("cargo {args:?} failed:\n{text}").into())
    }
}

fn cargo_test(demo: &Demo) -> Result<(), Failed> {
    let (_guard, dir) = copy_demo(demo)?;
    let out = cargo(
        demo,
        &dir,
        &[
            "test",
            "--test",
            "migrations",
            "--",
            "--test-threads",
            "2",
            "--seed",
            "11",
        ],
    )?;
    // mrt's own flags work after `--`, beside libtest's (and beat MRT_SEED=7).
    if !out.contains("seed 11 (MRT_SEED=11") {
        return Err(format!("--seed 11 after -- was not used:\n{out}").into());
    }
    for name in demo.expected {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("test {name} ")));
        if !line.is_some_and(|l| l.trim_end().ends_with("ok")) {
            return Err(format!("`cargo test` did not pass {name}:\n{out}").into());
        }
    }
    let summary = out.lines().find(|l| l.starts_with("test result:"));
    if !summary.is_some_and(|l| l.starts_with("test result: ok.") && l.contains(" 0 failed;")) {
        return Err(format!("unexpected summary:\n{out}").into());
    }
    Ok(())
}

/// `cargo nextest run` twice with a snapshot cache of its own: the first run saves states
/// (each test is a process of its own), the second starts from them; both pass every test.
fn cargo_nextest(demo: &Demo) -> Result<(), Failed> {
    let (_guard, dir) = copy_demo(demo)?;
    let list = cargo(demo, &dir, &["nextest", "list", "--test", "migrations"])?;
    for name in demo.expected {
        if !list.contains(name) {
            return Err(format!("`cargo nextest list` lacks {name}:\n{list}").into());
        }
    }
    let cache = dir.join("mrt-cache");
    let env = [("MRT_CACHE_DIR", cache.as_path())];
    let run = ["nextest", "run", "--test", "migrations", "--no-fail-fast"];
    for round in ["cold cache", "warm cache"] {
        let out = cargo_with(demo, &dir, &run, &env)?;
        for name in demo.expected {
            if !out.lines().any(|l| l.contains("PASS") && l.contains(name)) {
                return Err(
                    format!("`cargo nextest run` ({round}) did not pass {name}:\n{out}").into(),
                );
            }
        }
        let saved = snapshots_in(&cache);
        if saved == 0 {
            return Err(format!("no snapshot saved in {} ({round})", cache.display()).into());
        }
    }
    Ok(())
}

/// How many snapshots (files, or stamps of server ones) the cache folder holds.
fn snapshots_in(cache: &Path) -> usize {
    let servers = std::fs::read_dir(cache.join("snapshots"))
        .into_iter()
        .flatten();
    servers
        .flatten()
        .flat_map(|server| std::fs::read_dir(server.path()).into_iter().flatten())
        .flatten()
        .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
        .count()
}
