//! The harness for Rust projects. In `Cargo.toml`:
//!
//! ```toml
//! [[test]]
//! name = "migrations"
//! harness = false
//! ```
//!
//! and in `tests/migrations.rs`:
//!
//! ```text
//! fn main() {
//!     mrt::harness::main()
//! }
//! ```
//!
//! `cargo test` and `cargo nextest run` then list and run `sqlite::<rev>` tests for the Alembic
//! project in the package directory (configured by its `mrt.toml`, as for `mrt test`).

use crate::commands::test::{self, TestArgs};
use std::path::PathBuf;

/// Runs the trials of the project in the current directory with libtest's arguments, and exits
/// with libtest's code (101 on failure, 3 on a configuration error). mrt's own flags may follow
/// `--` beside libtest's: `cargo test --test migrations -- --db postgres://... --seed 7`.
pub fn main() -> ! {
    mrt_harness::reaper::run_if_asked();
    let (own, rest) = split_args(std::env::args().collect());
    let code = match run(own, rest) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "error: {}",
                mrt_migrations::escape_lines(&mrt_db::scrub_secrets(&format!("{e:#}")))
            );
            crate::exit::USAGE
        }
    };
    std::process::exit(i32::from(code))
}

/// The `mrt test` flags a Rust harness takes after `--`.
#[derive(Debug, clap::Parser)]
#[command(name = "mrt harness", no_binary_name = true)]
struct OwnFlags {
    #[arg(long = "db", value_name = "DB")]
    databases: Vec<String>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    rows: Option<usize>,
    #[arg(long)]
    cases: Option<u64>,
    #[arg(long, value_name = "SECONDS")]
    step_timeout: Option<f64>,
    #[arg(long)]
    python: Option<PathBuf>,
    #[arg(long)]
    provision: bool,
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    #[arg(long)]
    no_cache: bool,
}

/// Flags of [`OwnFlags`] that take a value, and those that do not.
const WITH_VALUE: [&str; 7] = [
    "--db",
    "--seed",
    "--rows",
    "--cases",
    "--step-timeout",
    "--python",
    "--cache-dir",
];
const SWITCHES: [&str; 2] = ["--provision", "--no-cache"];

/// Separates mrt's flags (`--db URL`, `--db=URL`, `--provision`) from libtest's; the program
/// name stays first in libtest's.
fn split_args(args: Vec<String>) -> (Vec<String>, Vec<String>) {
    let (mut own, mut rest) = (Vec::new(), Vec::new());
    let mut args = args.into_iter();
    rest.extend(args.next());
    while let Some(arg) = args.next() {
        let name = arg.split('=').next().unwrap_or("");
        if WITH_VALUE.contains(&name) {
            let has_value = arg.contains('=');
            own.push(arg);
            if !has_value {
                own.extend(args.next());
            }
        } else if SWITCHES.contains(&arg.as_str()) {
            own.push(arg);
        } else {
            rest.push(arg);
        }
    }
    (own, rest)
}

fn run(own: Vec<String>, rest: Vec<String>) -> anyhow::Result<u8> {
    use clap::Parser;
    let words: Vec<String> = own.iter().map(|w| test::shell_word(w)).collect();
    let flags = OwnFlags::try_parse_from(own)?;
    let libtest = libtest_mimic::Arguments::from_iter(rest);
    let args = TestArgs {
        project: PathBuf::from("."),
        config: None,
        name: None,
        settings: None,
        databases: flags.databases,
        seed: flags.seed,
        rows: flags.rows,
        cases: flags.cases,
        step_timeout: flags.step_timeout,
        python: flags.python,
        url_env: None,
        provision: flags.provision,
        cache_dir: flags.cache_dir,
        no_cache: flags.no_cache,
        libtest,
        reproduce_with: Some(
            [format!("cargo test --test {} --", test_target())]
                .into_iter()
                .chain(words)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        junit: false,
        report: None,
    };
    test::run(&args)
}

/// The test target's name, from the binary's (`target/debug/deps/migrations-1a2b3c` -> `migrations`).
fn test_target() -> String {
    target_of(&std::env::args().next().unwrap_or_default())
}

fn target_of(exe: &str) -> String {
    let stem = std::path::Path::new(exe)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((name, hash)) if !name.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            name.to_string()
        }
        _ => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn own_flags_are_taken_out_of_libtests() {
        let args = strings(&[
            "migrations",
            "sqlite::a",
            "--db",
            "postgres://x/y",
            "--exact",
            "--seed=7",
            "--provision",
            "--test-threads",
            "1",
        ]);
        let (own, rest) = split_args(args);
        assert_eq!(
            own,
            strings(&["--db", "postgres://x/y", "--seed=7", "--provision"])
        );
        assert_eq!(
            rest,
            strings(&["migrations", "sqlite::a", "--exact", "--test-threads", "1"])
        );
    }

    #[test]
    fn the_test_target_is_the_binary_name_without_its_hash() {
        let name = |exe: &str| super::target_of(exe);
        assert_eq!(
            name("/p/target/debug/deps/migrations-1a2b3c4d5e6f7a8b"),
            "migrations"
        );
        assert_eq!(
            name("/p/target/debug/deps/db-migrations-0123abcd"),
            "db-migrations"
        );
        assert_eq!(name("migrations"), "migrations");
    }
}
