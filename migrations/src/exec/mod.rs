//! Executing migration steps: the [`StepExecutor`] seam every framework runs behind.
//!
//! A step is neutral (a direction and the exact revisions, on a database whose heads are known);
//! each framework answers it its own way: Alembic in persistent Python workers driven over JSON
//! lines ([`worker`]), SQL files in-process through sqlx. The trial, the pool and the scheduler
//! see only this module's types, never a framework or a dialect.

mod frames;
mod python;
mod sql;
mod worker;

pub use frames::{user_dirs, user_frames};
pub use python::{
    can_import, find_python, provision, user_cache_dir, ProvisionError, PythonChoice,
    PythonFramework,
};
pub use sql::SqlRunner;
pub use worker::{kill_all_workers, PythonRunner, Worker, WorkerKind, WorkerSpec};

use mrt_db::{SchemaHint, TempDb};
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// One migration step: exactly these revisions, in this order (parents first up, children first
/// down), on a database whose heads are `from`, ending at the heads `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub direction: Direction,
    pub revisions: Vec<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// Report the schema afterwards as a [`SchemaHint`] if the runner can (see
    /// [`TempDb::takes_schema_hints`]).
    pub schema_hint: bool,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.direction {
            Direction::Up => "upgrade",
            Direction::Down => "downgrade",
        };
        let to = match self.direction {
            // An upgrade is named by what it applies; a downgrade by where it ends.
            Direction::Up => self.revisions.last().cloned().unwrap_or_default(),
            Direction::Down if self.to.is_empty() => "base".to_string(),
            Direction::Down => self.to.join(", "),
        };
        write!(f, "{op} to {to}")
    }
}

/// A step that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOk {
    /// The migration itself, as the runner measured it (not the round trip to it).
    pub elapsed: Duration,
    /// The SQL it executed (distinct consecutive statements, capped; a last line starting with
    /// `-- mrt: more statements` says when it was cut): which tables a step touched.
    pub statements: Vec<String>,
    /// After a downgrade, the heads the framework's bookkeeping names (`None`: not read).
    pub heads: Option<Vec<String>>,
    pub schema_hint: Option<SchemaHint>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The runner cannot start (no interpreter, no framework installed).
    #[error("{runner}: {message}")]
    Unavailable { runner: String, message: String },
    /// The step ran past its hard timeout; `action` says what was done about it.
    #[error("timed out after {after:?} ({action})")]
    Timeout {
        after: Duration,
        action: &'static str,
    },
    /// The migration failed; `frames` are the places in the user's files it went through.
    #[error("{error}")]
    Failed { error: String, frames: Vec<String> },
    #[error("the Python worker died: {0}")]
    Crashed(String),
    /// The step tried to work on a database mrt did not create for it (it was stopped before
    /// it could): the whole run must stop.
    #[error("{0}")]
    Refused(String),
    /// The runner cannot do this (a drift comparison for a framework without models).
    #[error("{0}")]
    Unsupported(String),
}

/// Runs steps for one parallel slot. Runners keep state between steps (a Python process, an open
/// connection), so the harness keeps one per slot and replaces one that died.
pub trait StepExecutor: Send {
    fn step(&mut self, step: &Step, db: &TempDb) -> Result<StepOk, StepError>;

    /// Applies what `revisions` need from outside the project (Django's contrib and third-party
    /// apps) and is not applied yet, so that the trial's own step applies only its revisions:
    /// the environment is part of the state before them. Whether anything was applied (the
    /// schema then changed). Most frameworks have none.
    fn reach_environment(&mut self, db: &TempDb, revisions: &[String]) -> Result<bool, StepError> {
        let _ = (db, revisions);
        Ok(false)
    }

    /// Compares the database (whose heads are `heads`) with the project's own models; `None`
    /// when the project gives none.
    fn drift(&mut self, db: &TempDb, heads: &[String]) -> Result<Option<Vec<String>>, StepError> {
        let _ = (db, heads);
        Err(StepError::Unsupported(
            "this framework has no models to compare with".into(),
        ))
    }

    /// False once it died or was killed: the harness starts another.
    fn is_alive(&mut self) -> bool {
        true
    }

    /// The database of its last step, so a trial gets back the runner whose connection is
    /// still open there.
    fn last_database(&self) -> Option<&str> {
        None
    }
}

/// Starts runners of one kind for a project.
pub trait ExecutorFactory: Send + Sync {
    fn start(&self) -> Result<Box<dyn StepExecutor>, StepError>;

    /// What one runner is, for "cannot start ..." ("a Python worker").
    fn what(&self) -> &'static str;

    /// What runs the migrations, for the run's first line ("alembic 1.16 on /usr/bin/python3").
    fn banner(&self) -> String;
}
