//! A connection pool opened on first use and reopened after `close()`. Every backend needs this:
//! a database's connections are closed to copy or clone it (SQLite file copy, PostgreSQL
//! `TEMPLATE`), yet its handle must stay usable afterwards.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::{Connection, Database, Pool};

type Options<DB> = <<DB as Database>::Connection as Connection>::Options;

pub(crate) struct LazyPool<DB: Database> {
    options: Options<DB>,
    max_connections: u32,
    /// `None` until first use and after `close()`.
    pool: Mutex<Option<Pool<DB>>>,
}

impl<DB: Database> LazyPool<DB> {
    pub(crate) fn new(options: Options<DB>, max_connections: u32) -> Self {
        LazyPool {
            options,
            max_connections,
            pool: Mutex::new(None),
        }
    }

    /// The open pool, opening a new one (lazily connecting) when there is none.
    pub(crate) fn get(&self) -> Pool<DB> {
        let mut guard = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(pool) if !pool.is_closed() => pool.clone(),
            _ => {
                // No ping before each use (a round trip per query on a trial's hot path): the
                // server is mrt's to use for the run, and a connection that went away fails
                // its query with the reason, which the trial reports.
                let pool = PoolOptions::<DB>::new()
                    .test_before_acquire(false)
                    .max_connections(self.max_connections)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(30))
                    .idle_timeout(Duration::from_secs(60))
                    .connect_lazy_with(self.options.clone());
                *guard = Some(pool.clone());
                pool
            }
        }
    }

    /// One connection of its own, outside the pool (a probe that must not wait for, or take,
    /// the connection a migration step runs on).
    pub(crate) async fn connect_one(&self) -> Result<DB::Connection, sqlx::Error> {
        DB::Connection::connect_with(&self.options).await
    }

    pub(crate) async fn close(&self) {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(pool) = pool {
            pool.close().await;
        }
    }
}

/// The options hold the password: say only whether the pool is open.
impl<DB: Database> std::fmt::Debug for LazyPool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.pool.lock().map(|p| p.is_some()).unwrap_or(false);
        f.debug_struct("LazyPool").field("open", &open).finish()
    }
}
