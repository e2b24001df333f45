//! The state-aware database pool: a trial asks for a database at `before(r)` and gets the idle
//! one whose applied set is the largest subset of it, so the next revision of a chain is usually
//! one upgrade away instead of a replay from base.

use crate::snapshots::PoolSnapshots;
use mrt_db::{DbError, Dialect, Server, TempDb};
use mrt_migrations::RevisionGraph;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The longest one database call on a server may go unanswered before the server counts as
/// gone (a restart, a lost network): mrt's calls are small (seeded rows, a schema read, CREATE
/// and DROP DATABASE), so a healthy server answers in well under a second.
pub const SERVER_CALL: Duration = Duration::from_secs(20);

/// A database and the revisions applied to it (closed under ancestry).
pub struct Pooled {
    pub db: TempDb,
    pub state: BTreeSet<String>,
    /// Its schema as last read, while no migration step has run since: only steps change a
    /// schema (mrt itself only reads and writes rows), so the next trial need not read it again.
    pub schema: Option<mrt_db::Schema>,
}

impl Pooled {
    /// A database just created: nothing applied, schema not read.
    pub fn fresh(db: TempDb) -> Self {
        Pooled {
            db,
            state: BTreeSet::new(),
            schema: None,
        }
    }
}

pub struct Pool {
    /// The name in test ids: `sqlite`, `postgres`, `mysql` or a configured name.
    pub name: String,
    pub server: Arc<Server>,
    idle: Mutex<Vec<Pooled>>,
    /// The database each thread gave back last (see [`Pool::release_mine`]).
    last_given: Mutex<HashMap<std::thread::ThreadId, String>>,
    /// Set when the server stopped answering: every later call fails at once, naming it,
    /// instead of each trial waiting out its own timeouts.
    gone: OnceLock<String>,
    /// Wakes the calls in flight when `gone` is set, so they give up at once.
    gone_now: tokio::sync::Notify,
    /// The server's snapshots, once the run knows what runs the steps (unset: none used).
    pub snapshots: OnceLock<PoolSnapshots>,
}

impl Pool {
    pub fn new(name: &str, server: Arc<Server>) -> Self {
        Pool {
            name: name.to_string(),
            server,
            idle: Mutex::new(Vec::new()),
            last_given: Mutex::new(HashMap::new()),
            gone: OnceLock::new(),
            gone_now: tokio::sync::Notify::new(),
            snapshots: OnceLock::new(),
        }
    }

    /// Why the server is considered gone, if it is.
    pub fn gone(&self) -> Option<&str> {
        self.gone.get().map(String::as_str)
    }

    /// Runs one database call with the [`SERVER_CALL`] deadline (servers only: a SQLite file
    /// cannot go away). A call left unanswered marks the server as gone.
    pub async fn call<U>(&self, f: impl Future<Output = Result<U, DbError>>) -> Result<U, DbError> {
        if self.server.dialect() == Dialect::Sqlite {
            return f.await;
        }
        if let Some(reason) = self.gone() {
            return Err(self.unreachable(reason));
        }
        let call = std::pin::pin!(tokio::time::timeout(SERVER_CALL, f));
        let gone = std::pin::pin!(self.gone_elsewhere());
        match futures_util::future::select(call, gone).await {
            futures_util::future::Either::Left((Ok(result), _)) => result,
            futures_util::future::Either::Left((Err(_), _)) => {
                let reason = format!(
                    "stopped answering (no reply within {} s)",
                    SERVER_CALL.as_secs()
                );
                let _ = self.gone.set(reason.clone());
                self.server.mark_gone();
                self.gone_now.notify_waiters();
                Err(self.unreachable(&reason))
            }
            futures_util::future::Either::Right((reason, _)) => Err(self.unreachable(&reason)),
        }
    }

    /// Resolves once another call found the server gone: a call in flight then need not wait
    /// out its own deadline.
    async fn gone_elsewhere(&self) -> String {
        loop {
            // Registered before looking, so a wake-up between the two is not lost.
            let mut woken = std::pin::pin!(self.gone_now.notified());
            woken.as_mut().enable();
            if let Some(reason) = self.gone() {
                return reason.to_string();
            }
            woken.await;
        }
    }

    /// A server that is gone, as an error naming it.
    pub fn unreachable(&self, reason: &str) -> DbError {
        let label = self.server.label();
        let server = label.split_once(' ').map_or(label.as_str(), |(_, at)| at);
        DbError::Server {
            dialect: self.server.dialect().as_str(),
            server: server.to_string(),
            message: reason.to_string(),
        }
    }

    /// The idle database closest behind `target`, a snapshot closer to it when restoring costs
    /// less than replaying the difference, or a new empty one.
    pub async fn take(
        &self,
        graph: &RevisionGraph,
        target: &BTreeSet<&str>,
    ) -> Result<Pooled, DbError> {
        let found = self.idle.lock().ok().and_then(|mut idle| {
            let best = idle
                .iter()
                .enumerate()
                .filter(|(_, p)| p.state.iter().all(|r| target.contains(r.as_str())))
                .max_by_key(|(_, p)| p.state.len())
                .map(|(i, _)| i)?;
            Some(idle.swap_remove(best))
        });
        if let Some(claimed) = self.claim(graph, target, &found).await {
            if let (Some(p), Ok(mut idle)) = (found, self.idle.lock()) {
                idle.push(p);
            }
            return Ok(claimed);
        }
        if let Some(restored) = self.restore(graph, target, &found).await {
            if let (Some(p), Ok(mut idle)) = (found, self.idle.lock()) {
                idle.push(p);
            }
            return Ok(restored);
        }
        match found {
            Some(p) => Ok(p),
            None if crate::cleanup::interrupted() => Err(DbError::Invalid {
                dialect: self.server.dialect().as_str(),
                db: self.name.clone(),
                message: "interrupted: no new databases".into(),
            }),
            None => Ok(Pooled::fresh(self.server.create().await?)),
        }
    }

    /// A database an earlier process handed off (under nextest) at a state inside `target`
    /// that beats `idle` and a snapshot restore (see [`PoolSnapshots::claimable`]).
    async fn claim(
        &self,
        graph: &RevisionGraph,
        target: &BTreeSet<&str>,
        idle: &Option<Pooled>,
    ) -> Option<Pooled> {
        let snapshots = self.snapshots.get().filter(|s| s.hands_off())?;
        if crate::cleanup::interrupted() {
            return None;
        }
        let have = idle.as_ref().map_or(0, |p| p.state.len());
        let mut states = snapshots.claimable(graph, target, have);
        if states.is_empty() {
            return None;
        }
        let keys: Vec<String> = states.iter().map(|f| f.key.clone()).collect();
        let (db, key) = self.call(self.server.claim(&keys)).await.ok()??;
        let index = states.iter().position(|f| f.key == key)?;
        snapshots
            .claimed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(Pooled {
            db,
            state: states.swap_remove(index).state,
            schema: None,
        })
    }

    /// A database restored from the best snapshot for `target`, when there is one worth more
    /// than `idle` (see [`PoolSnapshots::best`]).
    async fn restore(
        &self,
        graph: &RevisionGraph,
        target: &BTreeSet<&str>,
        idle: &Option<Pooled>,
    ) -> Option<Pooled> {
        let snapshots = self.snapshots.get()?;
        if crate::cleanup::interrupted() {
            return None;
        }
        let have = idle.as_ref().map(|p| p.state.len());
        loop {
            let found = snapshots.best(graph, target, have)?;
            if let Some(db) = snapshots.restore(&self.server, &found.key).await {
                return Some(Pooled {
                    db,
                    state: found.state,
                    schema: None,
                });
            }
        }
    }

    /// Keeps the state of `pooled` (no rows added by mrt yet) as a snapshot when the run's
    /// policy wants it (see [`PoolSnapshots::wants`]).
    pub async fn save(&self, pooled: &Pooled) {
        let Some(snapshots) = self.snapshots.get() else {
            return;
        };
        let state: BTreeSet<&str> = pooled.state.iter().map(String::as_str).collect();
        if let Some(key) = snapshots.wants(&state) {
            let saved = async {
                snapshots.save(&self.server, &pooled.db, &key).await;
                Ok(())
            };
            let _ = self.call(saved).await;
        }
    }

    /// Whether a snapshot, or a database another process hands off, may start a trial at
    /// `target` (then no empty database is made for it up front).
    pub fn may_start_at(&self, graph: &RevisionGraph, target: &BTreeSet<&str>) -> bool {
        self.snapshots
            .get()
            .is_some_and(|s| s.hands_off() || s.best(graph, target, None).is_some())
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
        if let Ok(mut last) = self.last_given.lock() {
            last.insert(std::thread::current().id(), pooled.db.name().to_string());
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(pooled);
        }
    }

    /// Drops the database this thread gave back last, if it is still idle. A scheduler thread
    /// with no trials left calls this, so that dropping its database (a checkpoint on
    /// PostgreSQL) overlaps the other threads' last trials instead of following them; a trial
    /// that would still have wanted it replays from another database instead.
    pub async fn release_mine(&self) {
        if self.snapshots.get().is_some_and(|s| s.hands_off()) {
            return; // kept for the next process (see `Pool::finish`)
        }
        let thread = std::thread::current().id();
        let Some(name) = self
            .last_given
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&thread))
        else {
            return;
        };
        let found = self.idle.lock().ok().and_then(|mut idle| {
            let index = idle.iter().position(|p| p.db.name() == name)?;
            Some(idle.swap_remove(index))
        });
        if let Some(pooled) = found {
            self.discard(pooled).await;
        }
    }

    /// Drops a database whose state is unknown (its trial failed).
    pub async fn discard(&self, pooled: Pooled) {
        let _ = self.call(drop_db(&self.server, pooled)).await;
    }

    /// Drops every idle database, all at once (under nextest, hands them to the next process
    /// instead), and removes the server's temporary files.
    pub async fn finish(&self) {
        let idle: Vec<Pooled> = self
            .idle
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        let idle = self.hand_off(idle).await;
        futures_util::future::join_all(
            idle.into_iter()
                .map(|p| self.call(drop_db(&self.server, p))),
        )
        .await;
        if let Some(snapshots) = self.snapshots.get() {
            if self.gone().is_none() {
                let _ = self
                    .call(async {
                        snapshots.evict(&self.server).await;
                        Ok(())
                    })
                    .await;
            }
        }
        // Cleanup tries every database again; what still fails must not pass unnoticed.
        if let Err(e) = self.call(self.server.cleanup()).await {
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

impl Pool {
    /// Hands the idle databases at a known, non-empty state to later processes (see
    /// [`PoolSnapshots::hands_off`]); returns the ones that stay this run's.
    async fn hand_off(&self, idle: Vec<Pooled>) -> Vec<Pooled> {
        let Some(snapshots) = self.snapshots.get().filter(|s| s.hands_off()) else {
            return idle;
        };
        if crate::cleanup::interrupted() || self.gone().is_some() {
            return idle;
        }
        let mut kept = Vec::new();
        let mut handed = Vec::new();
        for pooled in idle {
            let key = snapshots.key(pooled.state.iter().map(String::as_str));
            let name = if pooled.state.is_empty() {
                None
            } else {
                (self.call(self.server.hand_off(&pooled.db, &key)).await).unwrap_or(None)
            };
            match name {
                Some(name) => handed.push(name),
                None => kept.push(pooled),
            }
        }
        snapshots
            .handed
            .fetch_add(handed.len(), std::sync::atomic::Ordering::Relaxed);
        if let Some(url) = self.server.connect_url() {
            crate::reaper::spawn(&url, &handed);
        }
        kept
    }
}

/// Closes a database's connections and drops it; a failure is left to [`Pool::finish`]'s
/// cleanup, which tries again and reports what remains.
async fn drop_db(server: &Server, pooled: Pooled) -> Result<(), DbError> {
    pooled.db.close().await;
    let _ = server.drop_database(pooled.db).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pool: &Pool) -> Vec<String> {
        let idle = pool
            .idle
            .lock()
            .map(|v| v.iter().map(|p| p.db.name().to_string()).collect());
        idle.unwrap_or_default()
    }

    #[test]
    fn a_finished_thread_drops_only_the_database_it_gave_back_last() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let server = Arc::new(Server::sqlite("pooltest").expect("sqlite server"));
        let pool = Pool::new("sqlite", server);
        runtime.block_on(async {
            let empty = BTreeSet::new();
            let graph = RevisionGraph::build(Vec::new(), &[]);
            let mine = pool.take(&graph, &empty).await.expect("create");
            let theirs = pool.take(&graph, &empty).await.expect("create");
            let (mine_name, theirs_name) =
                (mine.db.name().to_string(), theirs.db.name().to_string());
            assert_ne!(mine_name, theirs_name);
            pool.give_back(mine);
            std::thread::scope(|s| {
                let _ = s.spawn(|| pool.give_back(theirs)).join();
            });
            pool.release_mine().await;
            assert_eq!(names(&pool), std::slice::from_ref(&theirs_name));
            // Nothing given back since: a second call leaves the other thread's alone.
            pool.release_mine().await;
            assert_eq!(names(&pool), [theirs_name]);
            pool.finish().await;
            assert!(names(&pool).is_empty());
        });
    }
}
