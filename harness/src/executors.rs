//! Step runners, one per parallel slot, replaced when one dies or times out. What a runner is
//! (a Python worker, an in-process sqlx runner) is the framework's business: here it is a
//! [`StepExecutor`] made by the project's [`ExecutorFactory`].

use mrt_db::TempDb;
use mrt_migrations::exec::{ExecutorFactory, Step, StepError, StepExecutor, StepOk};
use std::sync::{Arc, Mutex};

pub struct Executors {
    factory: Arc<dyn ExecutorFactory>,
    idle: Mutex<Vec<Box<dyn StepExecutor>>>,
}

impl Executors {
    /// No runner starts until a trial needs one (listing tests must stay instant).
    pub fn new(factory: Arc<dyn ExecutorFactory>) -> Self {
        Executors {
            factory,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// What one runner is, for "cannot start ..." messages.
    pub fn what(&self) -> &'static str {
        self.factory.what()
    }

    /// Starts `n` runners (at least one) up front and at once, so a missing interpreter is one
    /// clear error before any trial and no scheduler thread waits for Python's imports (~0.4 s
    /// of one core each); returns what runs the migrations.
    pub fn preflight(&self, n: usize) -> Result<String, StepError> {
        let started: Vec<Result<Box<dyn StepExecutor>, StepError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n.max(1))
                .map(|_| scope.spawn(|| self.factory.start()))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(StepError::Crashed("starting the runner panicked".into()))
                    })
                })
                .collect()
        });
        let runners = started.into_iter().collect::<Result<Vec<_>, StepError>>()?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.extend(runners);
        }
        Ok(self.factory.banner())
    }

    /// A runner for one trial on `db`; it goes back to the idle list when dropped, if still
    /// alive. The runner that last ran a step there is preferred: its connection is still open,
    /// and a SQLite connection whose schema another one changed must re-parse the whole schema
    /// (O(tables)) before its next statement.
    pub fn checkout(&self, db: &TempDb) -> Result<Slot<'_>, StepError> {
        let idle = self.idle.lock().ok().and_then(|mut v| {
            let same = v.iter().rposition(|w| w.last_database() == Some(db.name()));
            same.map(|i| v.remove(i)).or_else(|| v.pop())
        });
        let runner = match idle {
            Some(w) => w,
            None => self.factory.start()?,
        };
        Ok(Slot {
            executors: self,
            runner: Some(runner),
        })
    }

    pub fn shutdown(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

pub struct Slot<'a> {
    executors: &'a Executors,
    runner: Option<Box<dyn StepExecutor>>,
}

impl Slot<'_> {
    /// The slot's runner, a new one if the last one died (timed out, crashed).
    fn live(&mut self) -> Result<&mut Box<dyn StepExecutor>, StepError> {
        let alive = self.runner.as_mut().is_some_and(|r| r.is_alive());
        if !alive {
            self.runner = Some(self.executors.factory.start()?);
        }
        self.runner
            .as_mut()
            .ok_or_else(|| StepError::Crashed("no runner".into()))
    }

    pub fn step(&mut self, step: &Step, db: &TempDb) -> Result<StepOk, StepError> {
        self.live()?.step(step, db)
    }

    /// See [`StepExecutor::reach_environment`].
    pub fn reach_environment(
        &mut self,
        db: &TempDb,
        revisions: &[String],
    ) -> Result<bool, StepError> {
        self.live()?.reach_environment(db, revisions)
    }

    /// The drift comparison (see [`StepExecutor::drift`]) on this slot's runner.
    pub fn drift(
        &mut self,
        db: &TempDb,
        heads: &[String],
    ) -> Result<Option<Vec<String>>, StepError> {
        self.live()?.drift(db, heads)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(mut w) = self.runner.take() {
            if w.is_alive() {
                if let Ok(mut idle) = self.executors.idle.lock() {
                    idle.push(w);
                }
            }
        }
    }
}
