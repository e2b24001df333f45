//! Exit codes shared by every command, as documented in README.md.

use std::process::ExitCode;

pub const OK: u8 = 0;
/// `mrt check`: warnings only.
pub const WARNINGS: u8 = 1;
/// Errors found (graph errors, lint errors).
pub const ERRORS: u8 = 2;
/// Bad flags, bad config, project not found.
pub const USAGE: u8 = 3;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
