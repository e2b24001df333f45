//! PostgreSQL server handle: creates `mrt_<run>_<n>` databases on a server the user named, clones
//! them with `CREATE DATABASE ... TEMPLATE` (a file-level copy, far cheaper than re-running
//! migrations) and drops every one it made, and nothing else.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Row as _};

use crate::lazy_pool::LazyPool;
use crate::registry::{
    is_leftover_name, lease_name, run_blocking, run_of, validate_run_id, Registry,
};
use crate::server_url::ServerUrl;
use crate::{quote_ident, DbError, Dialect, Leftovers, TempDb};

pub(crate) const DIALECT: &str = "postgres";

/// How long to wait for a server to accept a connection before reporting it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn q(name: &str) -> String {
    quote_ident(Dialect::Postgres, name)
}

/// One PostgreSQL database mrt created, with a lazily (re)opened pool.
pub(crate) struct PgDb {
    pub(crate) name: String,
    sqlalchemy_url: String,
    display_url: String,
    /// `None` after `close()`; reopened on next use (a template source must have no
    /// connections while it is cloned, but the handle stays usable afterwards).
    pool: LazyPool<sqlx::Postgres>,
}

/// Connect options hold the password: show only the name and the masked URL.
impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb")
            .field("name", &self.name)
            .field("url", &self.display_url)
            .finish()
    }
}

impl PgDb {
    pub(crate) fn pool(&self) -> PgPool {
        self.pool.get()
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn sqlalchemy_url(&self) -> &str {
        &self.sqlalchemy_url
    }

    pub(crate) fn display_url(&self) -> &str {
        &self.display_url
    }

    pub(crate) fn query_error(&self, context: impl Into<String>, source: sqlx::Error) -> DbError {
        DbError::Query {
            dialect: DIALECT,
            db: self.name.clone(),
            context: context.into(),
            source,
        }
    }
}

/// A PostgreSQL server mrt makes its databases on. Cheap to share behind an `Arc`; every method
/// takes `&self`, so a Ctrl-C handler can call [`PgServer::cleanup`] while trials run.
///
/// Dropping it without `cleanup` drops the remaining databases best-effort, waiting at most
/// 10 seconds; call `cleanup` to get errors reported.
pub struct PgServer {
    url: ServerUrl,
    run_id: String,
    admin: PgPool,
    registry: Arc<Registry>,
    /// `DROP DATABASE ... WITH (FORCE)` exists from PostgreSQL 13 on.
    force_drop: bool,
    /// A session named after the run (see [`lease_name`]) while the run goes on: `mrt clean`
    /// leaves the databases of runs it sees here alone.
    lease: std::sync::Mutex<Option<PgConnection>>,
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer")
            .field("server", &self.url.label())
            .field("run_id", &self.run_id)
            .finish()
    }
}

/// Connect one connection to the admin database, with a bounded wait and one readable error.
async fn connect_admin(url: &ServerUrl) -> Result<(PgConnectOptions, PgConnection), DbError> {
    let admin_db = if url.admin_db.is_empty() {
        "postgres".to_string()
    } else {
        url.admin_db.clone()
    };
    let server_error = |message: String| url.error(DIALECT, message);
    let options = PgConnectOptions::from_url(&url.connect_url(&admin_db))
        .map_err(|e| server_error(format!("invalid connection options: {e}")))?
        .application_name("mrt");
    let conn =
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                return Err(server_error(format!(
                    "cannot connect as user {} to database {admin_db}: {e}",
                    url.user()
                )))
            }
            Err(_) => {
                return Err(server_error(format!(
                    "cannot connect as user {} to database {admin_db}: no answer within {} s",
                    url.user(),
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
        };
    Ok((options, conn))
}

/// Drop one database, first ending the sessions that use it (the Python worker may still be
/// connected). Only ever called for names mrt made.
async fn drop_named(conn: &mut PgConnection, force: bool, name: &str) -> Result<(), DbError> {
    let err = |source| DbError::Query {
        dialect: DIALECT,
        db: name.to_string(),
        context: "dropping database".into(),
        source,
    };
    if force {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", q(name)))
            .execute(&mut *conn)
            .await
            .map_err(err)?;
        return Ok(());
    }
    let mut attempt = 0;
    loop {
        terminate(conn, name).await.map_err(err)?;
        match sqlx::query(&format!("DROP DATABASE IF EXISTS {}", q(name)))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if in_use(&e) && attempt < 5 => attempt += 1,
            Err(e) => return Err(err(e)),
        }
        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
    }
}

/// End every other session connected to `name`.
async fn terminate(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .execute(conn)
    .await
    .map(|_| ())
}

/// SQLSTATE 55006 object_in_use: "database is being accessed by other users".
fn in_use(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55006"))
}

impl PgServer {
    /// Connect to the server's admin database (the one in the URL, default `postgres`).
    pub(crate) async fn connect(url: ServerUrl, run_id: &str) -> Result<PgServer, DbError> {
        let run_id = validate_run_id(DIALECT, run_id)?;
        let (options, mut conn) = connect_admin(&url).await?;
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| url.error(DIALECT, format!("reading server version: {e}")))?;
        sqlx::query("SELECT set_config('application_name', $1, false)")
            .bind(lease_name(&run_id))
            .execute(&mut conn)
            .await
            .map_err(|e| url.error(DIALECT, format!("naming the run's session: {e}")))?;
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options);
        Ok(PgServer {
            url,
            run_id,
            admin,
            registry: Arc::new(Registry::default()),
            force_drop: version >= 130_000,
            lease: std::sync::Mutex::new(Some(conn)),
        })
    }

    /// "postgres 127.0.0.1:5432".
    pub fn label(&self) -> String {
        self.url.label()
    }

    /// The databases this handle created and has not dropped yet.
    pub fn created_databases(&self) -> Vec<String> {
        self.registry.names()
    }

    fn handle(&self, name: String) -> Result<TempDb, DbError> {
        let options = PgConnectOptions::from_url(&self.url.connect_url(&name))
            .map_err(|e| DbError::Invalid {
                dialect: DIALECT,
                db: name.clone(),
                message: self.url.scrub(&format!("invalid connection options: {e}")),
            })?
            .application_name("mrt")
            // mrt's own throwaway database: no WAL flush to wait for on each commit. Generic
            // plans from the first use: the schema read is planned once per connection, not
            // for each of its first five runs (~5 ms each, as much as running it).
            .options([
                ("synchronous_commit", "off"),
                ("plan_cache_mode", "force_generic_plan"),
            ]);
        Ok(TempDb::postgres(PgDb {
            sqlalchemy_url: self.url.sqlalchemy_url(&name, false),
            display_url: self.url.sqlalchemy_url(&name, true),
            name,
            // One connection: a trial's reads and writes come one after another, and a second
            // connection would warm its own statement cache and fall behind on the catalog
            // invalidations the worker's DDL sends, to be reset when it is used again.
            pool: LazyPool::new(options, 1),
        }))
    }

    fn admin_error(&self, db: &str, context: &str, source: sqlx::Error) -> DbError {
        DbError::Query {
            dialect: DIALECT,
            db: db.to_string(),
            context: format!("{context} on {}", self.url.host_port()),
            source,
        }
    }

    /// A new, empty database (a copy of `template1`, like any `CREATE DATABASE`).
    pub async fn create(&self) -> Result<TempDb, DbError> {
        let name = self.registry.next_name(DIALECT, &self.run_id)?;
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE {}", q(&name)))
            .execute(&self.admin)
            .await
        {
            self.registry.remove(&name);
            return Err(self.admin_error(&name, "CREATE DATABASE", e));
        }
        self.handle(name)
    }

    /// A copy of `source` (schema and rows) by `CREATE DATABASE new TEMPLATE source`. PostgreSQL
    /// refuses a template that has open sessions, so this closes the handle's own pool and ends
    /// every other session on `source` (only mrt's own database, which mrt controls).
    pub async fn clone_db(&self, source: &TempDb) -> Result<TempDb, DbError> {
        let src = source.as_postgres()?;
        if !self.registry.contains(&src.name) {
            return Err(DbError::Invalid {
                dialect: DIALECT,
                db: src.name.clone(),
                message: format!("not created by this server handle ({})", self.label()),
            });
        }
        src.close().await;
        let name = self.registry.next_name(DIALECT, &self.run_id)?;
        let sql = format!("CREATE DATABASE {} TEMPLATE {}", q(&name), q(&src.name));
        let mut conn = match self.admin.acquire().await {
            Ok(c) => c,
            Err(e) => {
                self.registry.remove(&name);
                return Err(self.admin_error(&name, "connecting to admin database", e));
            }
        };
        let mut attempt = 0u64;
        loop {
            let result = async {
                terminate(&mut conn, &src.name).await?;
                sqlx::query(&sql).execute(&mut *conn).await
            }
            .await;
            match result {
                Ok(_) => break,
                // A session may reconnect between terminate and CREATE: try again briefly.
                Err(e) if in_use(&e) && attempt < 10 => attempt += 1,
                Err(e) => {
                    self.registry.remove(&name);
                    return Err(self.admin_error(
                        &name,
                        &format!("CREATE DATABASE ... TEMPLATE {}", src.name),
                        e,
                    ));
                }
            }
            tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
        }
        self.handle(name)
    }

    /// Drop one database this handle created (ending sessions still connected to it).
    pub async fn drop_database(&self, db: TempDb) -> Result<(), DbError> {
        let db = db.into_postgres()?;
        if !self.registry.contains(&db.name) {
            return Err(DbError::Invalid {
                dialect: DIALECT,
                db: db.name.clone(),
                message: format!("not created by this server handle ({})", self.label()),
            });
        }
        db.close().await;
        let mut conn = self
            .admin
            .acquire()
            .await
            .map_err(|e| self.admin_error(&db.name, "connecting to admin database", e))?;
        drop_named(&mut conn, self.force_drop, &db.name).await?;
        self.registry.remove(&db.name);
        Ok(())
    }

    /// Drop every database this handle created and still has, then refuse new ones. Tries all of
    /// them even when one fails, and returns the first error. Idempotent.
    pub async fn cleanup(&self) -> Result<(), DbError> {
        self.registry.close();
        let mut first_error = None;
        let names = self.registry.names();
        if !names.is_empty() {
            match self.admin.acquire().await {
                Ok(mut conn) => {
                    for name in names {
                        match drop_named(&mut conn, self.force_drop, &name).await {
                            Ok(()) => self.registry.remove(&name),
                            Err(e) => {
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                }
                Err(e) => {
                    first_error = Some(self.admin_error("(all)", "connecting for cleanup", e));
                }
            }
        }
        self.admin.close().await;
        let lease = self.lease.lock().ok().and_then(|mut lease| lease.take());
        if let Some(lease) = lease {
            let _ = lease.close().await;
        }
        first_error.map_or(Ok(()), Err)
    }

    /// [`PgServer::cleanup`] for places without an async context (signal handlers, `Drop`):
    /// runs on its own thread and runtime with a fresh connection, waiting at most `timeout`.
    /// Returns the names it dropped.
    pub fn cleanup_blocking(&self, timeout: Duration) -> Vec<String> {
        self.registry.close();
        let names = self.registry.names();
        if names.is_empty() {
            return names;
        }
        let url = self.url.clone();
        let force = self.force_drop;
        let dropped = run_blocking(timeout, move || async move {
            let mut dropped = Vec::new();
            let Ok((_, mut conn)) = connect_admin(&url).await else {
                return dropped;
            };
            for name in names {
                if drop_named(&mut conn, force, &name).await.is_ok() {
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

impl Drop for PgServer {
    fn drop(&mut self) {
        if !self.registry.names().is_empty() {
            self.cleanup_blocking(Duration::from_secs(10));
        }
    }
}

/// Drop the databases of crashed runs: every `mrt_<run>_<n>` whose run starts with `run_prefix`,
/// except those of runs whose lease session is still connected.
pub(crate) async fn drop_leftovers(url: ServerUrl, run_prefix: &str) -> Result<Leftovers, DbError> {
    let (_, mut conn) = connect_admin(&url).await?;
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| url.error(DIALECT, format!("reading server version: {e}")))?;
    let rows = sqlx::query("SELECT datname::text FROM pg_database WHERE datname LIKE 'mrt\\_%'")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| url.error(DIALECT, format!("listing databases: {e}")))?;
    let leases: Vec<String> = sqlx::query_scalar(
        "SELECT application_name::text FROM pg_stat_activity WHERE application_name LIKE 'mrt run %'",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| url.error(DIALECT, format!("listing running mrt sessions: {e}")))?;
    let mut found = Leftovers::default();
    for row in rows {
        let name: String = row
            .try_get(0)
            .map_err(|e| url.error(DIALECT, format!("listing databases: {e}")))?;
        if !is_leftover_name(&name, run_prefix) {
            continue;
        }
        if run_of(&name).is_some_and(|run| leases.contains(&lease_name(run))) {
            found.live.push(name);
            continue;
        }
        drop_named(&mut conn, version >= 130_000, &name).await?;
        found.dropped.push(name);
    }
    let _ = conn.close().await;
    found.dropped.sort();
    found.live.sort();
    Ok(found)
}
