//! The state-aware database pool: a trial asks for a database at `before(r)` and gets the idle
//! one whose applied set is the largest subset of it, so the next revision of a chain is usually
//! one upgrade away instead of a replay from base.

use mrt_db::{DbError, Server, TempDb};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;

/// A database and the revisions applied to it (closed under ancestry).
pub struct Pooled {
    pub db: TempDb,
    pub state: BTreeSet<String>,
    /// Its schema as last read, while no migration step has run since: only steps change a
    /// schema (mrt itself only reads and writes rows), so the next trial need not read it again.
    pub schema: Option<mrt_db::Schema>,
}

pub struct Pool {
    /// The name in test ids: `sqlite`, `postgres`, `mysql` or a configured name.
    pub name: String,
    pub server: Arc<Server>,
    idle: Mutex<Vec<Pooled>>,
}

impl Pool {
    pub fn new(name: &str, server: Arc<Server>) -> Self {
        Pool {
            name: name.to_string(),
            server,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The idle database closest behind `target`, or a new empty one.
    pub async fn take(&self, target: &BTreeSet<&str>) -> Result<Pooled, DbError> {
        let found = self.idle.lock().ok().and_then(|mut idle| {
            let best = idle
                .iter()
                .enumerate()
                .filter(|(_, p)| p.state.iter().all(|r| target.contains(r.as_str())))
                .max_by_key(|(_, p)| p.state.len())
                .map(|(i, _)| i)?;
            Some(idle.swap_remove(best))
        });
        match found {
            Some(p) => Ok(p),
            None if crate::cleanup::interrupted() => Err(DbError::Invalid {
                dialect: self.server.dialect().as_str(),
                db: self.name.clone(),
                message: "interrupted: no new databases".into(),
            }),
            None => Ok(Pooled {
                db: self.server.create().await?,
                state: BTreeSet::new(),
                schema: None,
            }),
        }
    }

    /// How many revisions the idle database [`Pool::take`] would pick for `target` has applied.
    pub fn nearest_behind(&self, target: &BTreeSet<&str>) -> usize {
        let Ok(idle) = self.idle.lock() else {
            return 0;
        };
        idle.iter()
            .filter(|p| p.state.iter().all(|r| target.contains(r.as_str())))
            .map(|p| p.state.len())
            .max()
            .unwrap_or(0)
    }

    pub fn give_back(&self, pooled: Pooled) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(pooled);
        }
    }

    /// Drops a database whose state is unknown (its trial failed).
    pub async fn discard(&self, pooled: Pooled) {
        pooled.db.close().await;
        let _ = self.server.drop_database(pooled.db).await;
    }

    /// Drops every idle database and removes the server's temporary files.
    pub async fn finish(&self) {
        let idle: Vec<Pooled> = self
            .idle
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        for p in idle {
            self.discard(p).await;
        }
        // Cleanup tries every database again; what still fails must not pass unnoticed.
        if let Err(e) = self.server.cleanup().await {
            let left = self.server.created_databases();
            eprintln!(
                "mrt: could not drop {} on {} ({e}); `mrt clean --db URL` removes them",
                if left.is_empty() {
                    "every database".into()
                } else {
                    left.join(", ")
                },
                self.server.label()
            );
        }
    }
}
