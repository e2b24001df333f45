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
