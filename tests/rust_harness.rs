//! A Rust project runs mrt's trials from `cargo test` and `cargo nextest run` through a
//! `harness = false` test calling `mrt::harness::main()` (fixtures/rust_harness).
//!
//! The demo package is copied to a temporary directory with the path to this repository filled
//! in, and built in `target/rust-harness` with this repository's Cargo.lock, so dependencies are
//! compiled once per machine. Ignored, with the reason, when Alembic or cargo-nextest is missing.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

const EXPECTED: [&str; 6] = [
    "graph::well_formed",
    "graph::single_head",
    "lint::p01",
    "lint::p02",
    "sqlite::p01",
    "sqlite::p02",
];

fn main() {
    let args = Arguments::from_args();
    let have_alembic = common::python_has("alembic") && common::python_has("sqlalchemy");
    let have_nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let trials = vec![
        Trial::test("rust_harness::cargo_test", cargo_test).with_ignored_flag(!have_alembic),
        Trial::test("rust_harness::cargo_nextest", cargo_nextest)
            .with_ignored_flag(!(have_alembic && have_nextest)),
    ];
    if !have_alembic {
        eprintln!(
            "note: rust_harness tests ignored: {} cannot import alembic and sqlalchemy",
            common::python()
        );
    } else if !have_nextest {
        eprintln!("note: rust_harness::cargo_nextest ignored: `cargo nextest` is not installed");
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Copies the demo package into a fresh directory and returns it (kept alive by the guard).
fn demo() -> Result<(tempfile::TempDir, PathBuf), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dest = tmp.path().join("demo");
    common::copy_dir(&common::repo().join("fixtures/rust_harness"), &dest)
        .map_err(|e| e.to_string())?;
    let template =
        std::fs::read_to_string(dest.join("Cargo.toml.in")).map_err(|e| e.to_string())?;
    let manifest = template.replace("@MRT_PATH@", &common::repo().display().to_string());
    std::fs::write(dest.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::copy(common::repo().join("Cargo.lock"), dest.join("Cargo.lock"))
        .map_err(|e| e.to_string())?;
    Ok((tmp, dest))
}

fn cargo(dir: &Path, args: &[&str]) -> Result<String, Failed> {
    let out = Command::new("cargo")
        .args(args)
        .current_dir(dir)
        .env(
            "CARGO_TARGET_DIR",
            common::repo().join("target/rust-harness"),
        )
        .env("MRT_PYTHON", common::python())
        .env("MRT_SEED", "7")
        .env_remove("RUSTFLAGS")
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

fn cargo_test() -> Result<(), Failed> {
    let (_guard, dir) = demo()?;
    let out = cargo(
        &dir,
        &["test", "--test", "migrations", "--", "--test-threads", "2"],
    )?;
    for name in EXPECTED {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("test {name} ")));
        if !line.is_some_and(|l| l.trim_end().ends_with("ok")) {
            return Err(format!("`cargo test` did not pass {name}:\n{out}").into());
        }
    }
    if !out.contains("test result: ok. 6 passed") {
        return Err(format!("unexpected summary:\n{out}").into());
    }
    Ok(())
}

fn cargo_nextest() -> Result<(), Failed> {
    let (_guard, dir) = demo()?;
    let list = cargo(&dir, &["nextest", "list", "--test", "migrations"])?;
    for name in EXPECTED {
        if !list.contains(name) {
            return Err(format!("`cargo nextest list` lacks {name}:\n{list}").into());
        }
    }
    let out = cargo(
        &dir,
        &["nextest", "run", "--test", "migrations", "--no-fail-fast"],
    )?;
    for name in EXPECTED {
        if !out.lines().any(|l| l.contains("PASS") && l.contains(name)) {
            return Err(format!("`cargo nextest run` did not pass {name}:\n{out}").into());
        }
    }
    Ok(())
}
