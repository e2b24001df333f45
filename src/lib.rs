//! mrt: a migration rollback tester. This crate is the CLI and the public facade; the work is
//! done by the workspace crates (`mrt-migrations`, `mrt-lint`, `mrt-db`, `mrt-generators`,
//! `mrt-harness`).

pub mod cli;
mod commands;
pub mod config;
pub mod exit;
pub mod harness;
mod html;
mod project;
mod report;
