//! SQL-file migrations, run in-process through sqlx: no Python anywhere. Each script runs as
//! its tool runs it (the whole text at once, in a transaction unless the tool or the file says
//! otherwise) on mrt's own database, and the tool's bookkeeping row is written beside it, so the
//! database looks as the real tool would leave it.

use super::{Direction, ExecutorFactory, Step, StepError, StepExecutor, StepOk};
use crate::sql::{SqlDown, SqlMigration, SqlProject, SqlScript};
use mrt_db::{ScriptFailure, ScriptOptions, TempDb};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// Starts SQL runners for one project ([`ExecutorFactory`]).
pub struct SqlRunner {
    project: Arc<SqlProject>,
    root: std::path::PathBuf,
    runtime: Handle,
    timeout: Duration,
}

impl SqlRunner {
    /// `runtime` is the one mrt's databases were opened on (their connections belong to it).
    pub fn new(
        project: Arc<SqlProject>,
        root: &std::path::Path,
        runtime: Handle,
        timeout: Duration,
    ) -> Self {
        SqlRunner {
            project,
            root: root.to_path_buf(),
            runtime,
            timeout,
        }
    }
}

impl ExecutorFactory for SqlRunner {
    fn start(&self) -> Result<Box<dyn StepExecutor>, StepError> {
        Ok(Box::new(SqlExecutor {
            project: Arc::clone(&self.project),
            root: self.root.clone(),
            runtime: self.runtime.clone(),
            timeout: self.timeout,
            ready: HashSet::new(),
        }))
    }

    fn what(&self) -> &'static str {
        "the SQL runner"
    }

    fn banner(&self) -> String {
        format!(
            "{} migrations, run in-process (no Python)",
            self.project.tool
        )
    }
}

struct SqlExecutor {
    project: Arc<SqlProject>,
    root: std::path::PathBuf,
    runtime: Handle,
    timeout: Duration,
    /// Databases whose bookkeeping table this runner has created.
    ready: HashSet<String>,
}

impl StepExecutor for SqlExecutor {
    fn step(&mut self, step: &Step, db: &TempDb) -> Result<StepOk, StepError> {
        self.ensure_bookkeeping(db)?;
        let started = Instant::now();
        let mut statements = Vec::new();
        for id in &step.revisions {
            let migration = self.migration(id)?;
            let script = self.script(migration, step.direction)?;
            self.run(db, migration, script, step.direction)?;
            statements.push(script.text.clone());
        }
        let elapsed = started.elapsed();
        let heads = match step.direction {
            Direction::Down => Some(self.heads(db)?),
            Direction::Up => None,
        };
        Ok(StepOk {
            elapsed,
            statements,
            heads,
            schema_hint: None,
        })
    }
}

impl SqlExecutor {
    fn migration(&self, id: &str) -> Result<&SqlMigration, StepError> {
        self.project.get(id).ok_or_else(|| StepError::Failed {
            error: format!("no migration {id} in {}", self.project.dir.display()),
            frames: Vec::new(),
        })
    }

    /// The script a step in `direction` runs: the up, or the down the tool would run.
    fn script<'m>(
        &self,
        migration: &'m SqlMigration,
        direction: Direction,
    ) -> Result<&'m SqlScript, StepError> {
        let missing = |why: &str| StepError::Failed {
            error: format!("{} has no down migration ({why})", migration.id),
            frames: vec![self.at(&migration.up, None)],
        };
        match (direction, &migration.down) {
            (Direction::Up, _) => Ok(&migration.up),
            (Direction::Down, SqlDown::Script(down)) => Ok(down),
            (Direction::Down, SqlDown::Missing) => Err(missing("its down file is missing")),
            (Direction::Down, SqlDown::ForwardOnly) => Err(missing(&format!(
                "{} migrations of this kind run forward only",
                self.project.tool
            ))),
        }
    }

    /// Creates the tool's bookkeeping table once per database, as the tool does on first use.
    fn ensure_bookkeeping(&mut self, db: &TempDb) -> Result<(), StepError> {
        if self.ready.contains(db.name()) {
            return Ok(());
        }
        let ddl = self.project.tool.bookkeeping_ddl(db.dialect());
        let options = ScriptOptions {
            transaction: false,
            then: &ddl,
        };
        self.block(db.run_script("", options))
            .map_err(|failure| self.failed(failure, None))?;
        self.ready.insert(db.name().to_string());
        Ok(())
    }

    fn run(
        &self,
        db: &TempDb,
        migration: &SqlMigration,
        script: &SqlScript,
        direction: Direction,
    ) -> Result<(), StepError> {
        let tool = self.project.tool;
        let dialect = db.dialect();
        let bookkeeping = match direction {
            Direction::Up => tool.record_applied(dialect, migration, 0),
            Direction::Down => {
                tool.record_reverted(dialect, migration, self.project.previous(&migration.id))
            }
        };
        let options = ScriptOptions {
            transaction: tool.runs_in_transaction(dialect, script),
            then: &bookkeeping,
        };
        self.block(db.run_script(&script.text, options))
            .map_err(|failure| self.failed(failure, Some(script)))
    }

    /// What the bookkeeping says is applied, as the heads of a linear chain: the last applied
    /// migration in the tool's order (none at the base).
    fn heads(&self, db: &TempDb) -> Result<Vec<String>, StepError> {
        let query = self.project.tool.current_version_query(db.dialect());
        let versions: HashSet<String> = self
            .runtime
            .block_on(db.first_column(&query))
            .map_err(|e| StepError::Failed {
                error: e.to_string(),
                frames: Vec::new(),
            })?
            .into_iter()
            .collect();
        let last = (self.project.migrations.iter())
            .rev()
            .find(|m| versions.contains(&m.version));
        Ok(last.map(|m| m.id.clone()).into_iter().collect())
    }

    /// Runs a script call with the step's hard timeout.
    fn block(
        &self,
        call: impl std::future::Future<Output = Result<(), ScriptFailure>>,
    ) -> Result<(), Outcome> {
        match self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, call).await })
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failure)) => Err(Outcome::Failed(failure)),
            Err(_) => Err(Outcome::TimedOut),
        }
    }

    fn failed(&self, outcome: Outcome, script: Option<&SqlScript>) -> StepError {
        let failure = match outcome {
            Outcome::TimedOut => {
                return StepError::Timeout {
                    after: self.timeout,
                    action: "the statement was abandoned and its database is dropped",
                }
            }
            Outcome::Failed(failure) => failure,
        };
        let line = |s: &SqlScript| {
            let offset = failure.offset()?;
            let before = s.text.chars().take(offset).filter(|&c| c == '\n').count();
            Some(s.first_line + before)
        };
        let frames = script.map(|s| self.at(s, line(s))).into_iter().collect();
        match failure {
            ScriptFailure::Script(error) => StepError::Failed {
                error: error.to_string(),
                frames,
            },
            ScriptFailure::Then { statement, error } => StepError::Failed {
                error: format!(
                    "{} bookkeeping failed ({error}) on: {statement}",
                    self.project.tool
                ),
                frames,
            },
        }
    }

    /// `at migrations/0003_x.down.sql:1`: where the user's script is.
    fn at(&self, script: &SqlScript, line: Option<usize>) -> String {
        let shown = script
            .path
            .strip_prefix(&self.root)
            .unwrap_or(&script.path)
            .display();
        format!("at {shown}:{}", line.unwrap_or(script.first_line))
    }
}

/// How a script call ended when it did not succeed.
enum Outcome {
    Failed(ScriptFailure),
    TimedOut,
}
