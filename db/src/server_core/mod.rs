//! What the PostgreSQL and MySQL backends share: a handle on a server that makes `mrt_<run>_<n>`
//! databases, records each one before creating it, holds a lease while the run goes on, and drops
//! every database it made and nothing else (also from `Drop` and signal handlers); and the
//! handle on one such database. What differs per dialect (SQL texts, the lease, how a database
//! is cloned or dropped, how values are bound and decoded) is asked of a [`ServerDialect`].

mod dialect;
mod rows;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::{Connection, Pool};

use crate::lazy_pool::LazyPool;
use crate::registry::{
    is_leftover_name, lease_name, run_blocking, run_of, validate_run_id, Registry,
};
use crate::server_url::ServerUrl;
use crate::{quote_ident, DbError, Leftovers, TempDb};

pub(crate) use dialect::{Conn, Options, ServerDialect};
pub(crate) use rows::{
    bulk_insert_rows, delete_all_rows, insert_rows, read_rows, step, Kind, Query, RowDialect,
    StepError,
};

/// How long to wait for a server to accept a connection before reporting it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `Drop` waits for the databases left behind to be dropped.
const DROP_TIMEOUT: Duration = Duration::from_secs(10);

/// One database mrt created on a server, with a lazily (re)opened pool.
pub(crate) struct ServerDb<D: ServerDialect> {
    pub(crate) name: String,
    /// What the server said about itself when mrt connected (e.g. MariaDB or MySQL).
    pub(crate) dialect: D,
    sqlalchemy_url: String,
    display_url: String,
    /// Closed to clone or drop the database; reopened on next use.
    pool: LazyPool<D::Db>,
    /// How many times mrt ended every session on it (to copy it): a runner in another process
    /// that kept a connection must open a new one.
    pub(crate) sessions_ended: std::sync::atomic::AtomicU64,
    /// Shared with its server: set once the server stopped answering.
    pub(crate) server_gone: Arc<std::sync::atomic::AtomicBool>,
    /// The dialect's own per-database state.
    pub(crate) dialect_state: D::State,
}

/// Connect options hold the password: show only the name and the masked URL.
impl<D: ServerDialect> std::fmt::Debug for ServerDb<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(D::DB_HANDLE)
            .field("name", &self.name)
            .field("url", &self.display_url)
            .finish()
    }
}

impl<D: ServerDialect> ServerDb<D> {
    pub(crate) fn pool(&self) -> Pool<D::Db> {
        self.pool.get()
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// A connection outside the pool (see [`LazyPool::connect_one`]).
    pub(crate) async fn connect_one(&self) -> Result<Conn<D>, DbError> {
        (self.pool.connect_one().await)
            .map_err(|e| self.query_error("opening a probe connection".to_string(), e))
    }

    pub(crate) fn sqlalchemy_url(&self) -> &str {
        &self.sqlalchemy_url
    }

    pub(crate) fn display_url(&self) -> &str {
        &self.display_url
    }

    pub(crate) fn query_error(&self, context: impl Into<String>, source: sqlx::Error) -> DbError {
        DbError::Query {
            dialect: D::name(),
            db: self.name.clone(),
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(&self, message: String) -> DbError {
        DbError::Invalid {
            dialect: D::name(),
            db: self.name.clone(),
            message,
        }
    }
}

/// A server mrt makes its databases on. Every method takes `&self`, so a Ctrl-C handler can call
/// [`ServerCore::cleanup`] while trials run.
pub(crate) struct ServerCore<D: ServerDialect> {
    pub(crate) url: ServerUrl,
    run_id: String,
    admin: Pool<D::Db>,
    registry: Arc<Registry>,
    dialect: D,
    /// The connection that holds the run's lease (see [`lease_name`]) while the run goes on:
    /// `mrt clean` leaves the databases of runs it sees holding one alone.
    lease: Mutex<Option<Conn<D>>>,
    /// Set by [`ServerCore::mark_gone`]; every database handle shares it.
    gone: Arc<std::sync::atomic::AtomicBool>,
}

/// Connect one connection to the admin database, with a bounded wait and one readable error.
pub(crate) async fn connect_admin<D: ServerDialect>(
    url: &ServerUrl,
) -> Result<(Options<D>, Conn<D>), DbError> {
    let admin_db = D::admin_database(url);
    let options = D::options(url, &admin_db)
        .map_err(|e| url.error(D::name(), format!("invalid connection options: {e}")))?;
    let who = D::login(url, &admin_db);
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::<D>::connect_with(&options)).await {
        Ok(Ok(conn)) => Ok((options, conn)),
        Ok(Err(e)) => Err(url.error(D::name(), format!("cannot connect as {who}: {e}"))),
        Err(_) => Err(url.error(
            D::name(),
            format!(
                "cannot connect as {who}: no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Drop one database mrt made, ending the sessions that still use it.
async fn drop_named<D: ServerDialect>(
    dialect: &D,
    conn: &mut Conn<D>,
    name: &str,
) -> Result<(), DbError> {
    dialect
        .drop_database(conn, name)
        .await
        .map_err(|source| DbError::Query {
            dialect: D::name(),
            db: name.to_string(),
            context: "dropping database".into(),
            source,
        })
}

impl<D: ServerDialect> ServerCore<D> {
    /// Connect to the server's admin database, learn what the server is and take the run's
    /// lease.
    pub(crate) async fn connect(url: ServerUrl, run_id: &str) -> Result<Self, DbError> {
        let run_id = validate_run_id(D::name(), run_id)?;
        let (options, mut conn) = connect_admin::<D>(&url).await?;
        let dialect = D::probe(&mut conn)
            .await
            .map_err(|e| url.error(D::name(), format!("reading server version: {e}")))?;
        D::take_lease(&mut conn, &lease_name(&run_id))
            .await
            .map_err(|e| url.error(D::name(), format!("{}: {e}", D::LEASE)))?;
        let admin = PoolOptions::<D::Db>::new()
            .max_connections(2)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options);
        Ok(ServerCore {
            url,
            run_id,
            admin,
            registry: Arc::new(Registry::default()),
            dialect,
            lease: Mutex::new(Some(conn)),
            gone: Arc::default(),
        })
    }

    /// Marks the server as gone (it stopped answering): a runner in another process waiting on
    /// one of its databases gives up at once instead of at its step timeout.
    pub(crate) fn mark_gone(&self) {
        self.gone.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// "postgres 127.0.0.1:5432".
    pub(crate) fn label(&self) -> String {
        self.url.label()
    }

    /// The databases this handle created and has not dropped yet.
    pub(crate) fn created_databases(&self) -> Vec<String> {
        self.registry.names()
    }

    /// `Debug` for the public handle named `name`: never the URL, which may hold a password.
    pub(crate) fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("server", &self.url.label())
            .field("run_id", &self.run_id)
            .finish()
    }

    pub(crate) fn admin_error(&self, db: &str, context: &str, source: sqlx::Error) -> DbError {
        DbError::Query {
            dialect: D::name(),
            db: db.to_string(),
            context: format!("{context} on {}", self.url.host_port()),
            source,
        }
    }

    pub(crate) async fn admin_conn(&self, db: &str) -> Result<PoolConnection<D::Db>, DbError> {
        self.admin
            .acquire()
            .await
            .map_err(|e| self.admin_error(db, "connecting to admin database", e))
    }

    /// The server's URL at its admin database, credentials included (see
    /// [`crate::Server::connect_url`]).
    pub(crate) fn admin_url(&self) -> String {
        self.url
            .connect_url(&D::admin_database(&self.url))
            .to_string()
    }

    /// What the server said about itself on connecting.
    pub(crate) fn dialect(&self) -> &D {
        &self.dialect
    }

    /// Reserves and records the next `mrt_<run>_<n>` name (see [`Registry`]).
    pub(crate) fn reserve(&self) -> Result<String, DbError> {
        self.registry.next_name(D::name(), &self.run_id)
    }

    /// Forgets a reserved name whose database was never made.
    pub(crate) fn unreserve(&self, name: &str) {
        self.registry.remove(name);
    }

    pub(crate) fn handle(&self, name: String) -> Result<TempDb, DbError> {
        let options = D::db_options(&self.url, &name).map_err(|e| DbError::Invalid {
            dialect: D::name(),
            db: name.clone(),
            message: self.url.scrub(&format!("invalid connection options: {e}")),
        })?;
        Ok(D::wrap(ServerDb {
            sqlalchemy_url: self.url.sqlalchemy_url(&name, false),
            display_url: self.url.sqlalchemy_url(&name, true),
            name,
            dialect: self.dialect.clone(),
            pool: LazyPool::new(options, D::POOL_SIZE),
            sessions_ended: std::sync::atomic::AtomicU64::new(0),
            server_gone: Arc::clone(&self.gone),
            dialect_state: D::State::default(),
        }))
    }

    /// An error unless this handle created `name` (and has not dropped it).
    fn ours(&self, name: &str) -> Result<(), DbError> {
        if self.registry.contains(name) {
            return Ok(());
        }
        Err(DbError::Invalid {
            dialect: D::name(),
            db: name.to_string(),
            message: format!("not created by this server handle ({})", self.label()),
        })
    }

    /// A new, empty database.
    pub(crate) async fn create(&self) -> Result<TempDb, DbError> {
        let name = self.registry.next_name(D::name(), &self.run_id)?;
        let sql = format!("CREATE DATABASE {}", quote_ident(D::DIALECT, &name));
        let created = async {
            let mut conn = self.admin.acquire().await?;
            D::run(&mut *conn, &sql).await
        }
        .await;
        if let Err(e) = created {
            self.registry.remove(&name);
            return Err(self.admin_error(&name, "CREATE DATABASE", e));
        }
        self.handle(name)
    }

    /// A new database holding a copy of `source`'s schema and rows.
    pub(crate) async fn clone_db(&self, source: &TempDb) -> Result<TempDb, DbError> {
        let src = D::unwrap(source)?;
        self.ours(&src.name)?;
        let name = self.registry.next_name(D::name(), &self.run_id)?;
        if let Err(e) = D::clone_into(self, src, &name).await {
            self.registry.remove(&name);
            return Err(e);
        }
        self.handle(name)
    }

    /// Drop one database this handle created (ending sessions still connected to it).
    pub(crate) async fn drop_database(&self, db: TempDb) -> Result<(), DbError> {
        let db = D::into_db(db)?;
        self.ours(&db.name)?;
        db.close().await;
        let mut conn = self.admin_conn(&db.name).await?;
        drop_named(&self.dialect, &mut *conn, &db.name).await?;
        self.registry.remove(&db.name);
        Ok(())
    }

    /// Drop one database this handle made, on a connection of the caller's (a clone that
    /// failed half-way).
    pub(crate) async fn drop_on(&self, conn: &mut Conn<D>, name: &str) -> Result<(), DbError> {
        drop_named(&self.dialect, conn, name).await
    }

    /// Drop every database this handle created and still has, then refuse new ones. Tries all of
    /// them even when one fails, and returns the first error. Idempotent.
    pub(crate) async fn cleanup(&self) -> Result<(), DbError> {
        self.registry.close();
        let names = self.registry.names();
        let result = if names.is_empty() {
            Ok(())
        } else {
            self.drop_all(names).await
        };
        self.admin.close().await;
        let lease = self.lease.lock().ok().and_then(|mut lease| lease.take());
        if let Some(lease) = lease {
            let _ = lease.close().await;
        }
        result
    }

    async fn drop_all(&self, names: Vec<String>) -> Result<(), DbError> {
        let mut conn = self
            .admin
            .acquire()
            .await
            .map_err(|e| self.admin_error("(all)", "connecting for cleanup", e))?;
        let mut first_error = None;
        for name in names {
            match drop_named(&self.dialect, &mut *conn, &name).await {
                Ok(()) => self.registry.remove(&name),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// [`ServerCore::cleanup`] for places without an async context (signal handlers, `Drop`):
    /// runs on its own thread and runtime with a fresh connection, waiting at most `timeout`.
    /// Returns the names it dropped.
    pub(crate) fn cleanup_blocking(&self, timeout: Duration) -> Vec<String> {
        self.registry.close();
        let names = self.registry.names();
        if names.is_empty() {
            return names;
        }
        let url = self.url.clone();
        let dialect = self.dialect.clone();
        let dropped = run_blocking(timeout, move || async move {
            let mut dropped = Vec::new();
            let Ok((_, mut conn)) = connect_admin::<D>(&url).await else {
                return dropped;
            };
            for name in names {
                if drop_named(&dialect, &mut conn, &name).await.is_ok() {
                    dropped.push(name);
                }
            }
            let _ = conn.close().await;
            dropped
        })
        .unwrap_or_default();
        for name in &dropped {
            self.registry.remove(name);
        }
        dropped
    }
}

impl<D: ServerDialect> Drop for ServerCore<D> {
    fn drop(&mut self) {
        // A server marked gone would only make this wait out its timeout: the run has said
        // which databases are left and how to drop them.
        let gone = self.gone.load(std::sync::atomic::Ordering::SeqCst);
        if !gone && !self.registry.names().is_empty() {
            self.cleanup_blocking(DROP_TIMEOUT);
        }
    }
}

/// Drop the databases of crashed runs: every `mrt_<run>_<n>` whose run starts with `run_prefix`,
/// except those of runs that still hold their lease.
pub(crate) async fn drop_leftovers<D: ServerDialect>(
    url: ServerUrl,
    run_prefix: &str,
) -> Result<Leftovers, DbError> {
    let (_, mut conn) = connect_admin::<D>(&url).await?;
    let dialect = D::probe(&mut conn)
        .await
        .map_err(|e| url.error(D::name(), format!("reading server version: {e}")))?;
    let names: Vec<String> = D::list_databases(&mut conn)
        .await
        .map_err(|e| url.error(D::name(), format!("listing databases: {e}")))?
        .into_iter()
        .filter(|name| is_leftover_name(name, run_prefix))
        .collect();
    let mut runs: Vec<&str> = names.iter().filter_map(|n| run_of(n)).collect();
    runs.sort_unstable();
    runs.dedup();
    let live = D::live_runs(&mut conn, &url, &runs).await?;
    let mut found = Leftovers::default();
    for name in &names {
        if run_of(name).is_some_and(|run| live.iter().any(|l| l == run)) {
            found.live.push(name.clone());
            continue;
        }
        drop_named(&dialect, &mut conn, name).await?;
        found.dropped.push(name.clone());
    }
    let _ = conn.close().await;
    found.dropped.sort();
    found.live.sort();
    Ok(found)
}

/// The public handle of one dialect's server (`PgServer`, `MysqlServer`): a named type over
/// [`ServerCore`], so the public API names a type per dialect while the work is done once.
macro_rules! server_handle {
    ($(#[$attr:meta])* $name:ident, $dialect:ty) => {
        $(#[$attr])*
        pub struct $name(pub(crate) crate::server_core::ServerCore<$dialect>);

        impl $name {
            /// Connect to the server's admin database (the one in the URL).
            pub(crate) async fn connect(
                url: crate::server_url::ServerUrl,
                run_id: &str,
            ) -> Result<Self, crate::DbError> {
                crate::server_core::ServerCore::connect(url, run_id)
                    .await
                    .map(Self)
            }

            /// Names the server without credentials: "postgres 127.0.0.1:5432".
            pub fn label(&self) -> String {
                self.0.label()
            }

            /// The databases this handle created and has not dropped yet.
            pub fn created_databases(&self) -> Vec<String> {
                self.0.created_databases()
            }

            /// A new, empty database `mrt_<run>_<n>`.
            pub async fn create(&self) -> Result<crate::TempDb, crate::DbError> {
                self.0.create().await
            }

            /// A new database holding a copy of `source`'s schema and rows. If the copy fails,
            /// nothing of it is left.
            pub async fn clone_db(
                &self,
                source: &crate::TempDb,
            ) -> Result<crate::TempDb, crate::DbError> {
                self.0.clone_db(source).await
            }

            /// Drop one database this handle created (ending sessions still connected to it).
            pub async fn drop_database(&self, db: crate::TempDb) -> Result<(), crate::DbError> {
                self.0.drop_database(db).await
            }

            /// Drop every database this handle created and still has, then refuse new ones.
            /// Tries all of them even when one fails, and returns the first error. Idempotent.
            pub async fn cleanup(&self) -> Result<(), crate::DbError> {
                self.0.cleanup().await
            }

            /// [`Self::cleanup`] for places without an async context (signal handlers,
            /// `Drop`): runs on its own thread and runtime with a fresh connection, waiting at
            /// most `timeout`. Returns the names it dropped.
            pub fn cleanup_blocking(&self, timeout: std::time::Duration) -> Vec<String> {
                self.0.cleanup_blocking(timeout)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.debug(stringify!($name), f)
            }
        }
    };
}

pub(crate) use server_handle;
