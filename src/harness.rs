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
/// with libtest's code (101 on failure, 3 on a configuration error).
pub fn main() -> ! {
    let libtest = libtest_mimic::Arguments::from_args();
    let args = TestArgs {
        project: PathBuf::from("."),
        config: None,
        name: None,
        settings: None,
        databases: Vec::new(),
        seed: None,
        rows: None,
        cases: None,
        step_timeout: None,
        python: None,
        url_env: None,
        provision: false,
        cache_dir: None,
        no_cache: false,
        libtest,
        reproduce_with: Some(format!("cargo test --test {} --", test_target())),
    };
    let code = match test::run(&args) {
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
