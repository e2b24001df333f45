//! Finding migration projects, reading their revisions and building the revision graph.
//!
//! Everything here reads files and never imports user code, so it is safe and fast enough to run
//! in a pre-commit hook; executing steps lives beside it because both need the same project model.

pub mod alembic;
pub mod django;
pub mod exec;
pub mod foreign;
mod framework;
mod graph;
mod problem;
mod project;
pub mod sql;
mod text;

pub use alembic::sql_words;
pub use framework::{Drift, Framework, RunnerOptions};
pub use graph::{RevisionGraph, RevisionId};
pub use problem::{shown, Problem, ProblemKind};
pub use project::{Project, ProjectError, ProjectKind, ProjectOptions};
pub use text::{escape, escape_lines};

use std::path::PathBuf;

/// One revision as declared in its file, before any graph resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub id: String,
    /// Parents; more than one makes this a merge.
    pub down_revisions: Vec<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    /// First line of the module docstring, as `alembic history` shows it.
    pub message: Option<String>,
    pub path: PathBuf,
    /// Line of the `revision = ...` assignment, so messages point at the declaration.
    pub line: usize,
}
