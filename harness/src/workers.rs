//! Persistent Alembic workers, one per parallel slot, replaced when one dies or times out.

use mrt_migrations::exec::{Step, StepError, StepOk, Worker, WorkerSpec};
use std::sync::Mutex;
use std::time::Duration;

pub struct Workers {
    spec: WorkerSpec,
    idle: Mutex<Vec<Worker>>,
    timeout: Duration,
}

impl Workers {
    /// No process starts until a trial needs one (listing tests must stay instant).
    pub fn new(spec: WorkerSpec, timeout: Duration) -> Self {
        Workers {
            spec,
            idle: Mutex::new(Vec::new()),
            timeout,
        }
    }

    /// Starts `n` workers (at least one) up front and at once, so a missing Alembic is one clear
    /// error before any trial and no scheduler thread waits for Python's imports (~0.4 s of one
    /// core each); returns which Alembic and Python they run.
    pub fn preflight(&self, n: usize) -> Result<String, StepError> {
        let started: Vec<Result<Worker, StepError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n.max(1))
                .map(|_| scope.spawn(|| Worker::start(&self.spec)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(StepError::Crashed("starting the worker panicked".into()))
                    })
                })
                .collect()
        });
        let workers = started
            .into_iter()
            .collect::<Result<Vec<Worker>, StepError>>()?;
        let banner = workers
            .first()
            .map(|w| w.banner.clone())
            .unwrap_or_default();
        if let Ok(mut idle) = self.idle.lock() {
            idle.extend(workers);
        }
        Ok(banner)
    }

    /// A worker for one trial on the database at `url`; it goes back to the idle list when
    /// dropped, if still alive. The worker that last ran a step there is preferred: its
    /// connection is still open, and a SQLite connection whose schema another one changed must
    /// re-parse the whole schema (O(tables)) before its next statement.
    pub fn checkout(&self, url: &str) -> Result<Slot<'_>, StepError> {
        let idle = self.idle.lock().ok().and_then(|mut v| {
            let same = v.iter().rposition(|w| w.last_url() == Some(url));
            same.map(|i| v.remove(i)).or_else(|| v.pop())
        });
        let worker = match idle {
            Some(w) => w,
            None => Worker::start(&self.spec)?,
        };
        Ok(Slot {
            workers: self,
            worker: Some(worker),
        })
    }

    pub fn shutdown(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

pub struct Slot<'a> {
    workers: &'a Workers,
    worker: Option<Worker>,
}

impl Slot<'_> {
    /// Runs a step; a worker that timed out or crashed is replaced before the next step.
    pub fn step(&mut self, step: &Step, url: &str) -> Result<StepOk, StepError> {
        let mut worker = match self.worker.take() {
            Some(mut w) => {
                if w.is_alive() {
                    w
                } else {
                    Worker::start(&self.workers.spec)?
                }
            }
            None => Worker::start(&self.workers.spec)?,
        };
        let result = worker.step(step, url, self.workers.timeout);
        self.worker = Some(worker);
        result
    }

    /// The drift comparison (see [`Worker::drift`]) on this slot's worker.
    pub fn drift(&mut self, url: &str, heads: &[String]) -> Result<Option<Vec<String>>, StepError> {
        let mut worker = match self.worker.take() {
            Some(mut w) => {
                if w.is_alive() {
                    w
                } else {
                    Worker::start(&self.workers.spec)?
                }
            }
            None => Worker::start(&self.workers.spec)?,
        };
        let result = worker.drift(url, heads, self.workers.timeout);
        self.worker = Some(worker);
        result
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(mut w) = self.worker.take() {
            if w.is_alive() {
                if let Ok(mut idle) = self.workers.idle.lock() {
                    idle.push(w);
                }
            }
        }
    }
}
