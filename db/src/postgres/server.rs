//! PostgreSQL as a [`ServerDialect`]: the lease is a session named after the run, a clone is
//! `CREATE DATABASE ... TEMPLATE` (a file-level copy, far cheaper than re-running migrations),
//! and a drop ends the sessions on the database first.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Row as _};

use crate::registry::lease_name;
use crate::server_core::{server_handle, RowDialect as _, ServerCore, ServerDb, ServerDialect};
use crate::server_url::ServerUrl;
use crate::{quote_ident, DbError, Dialect, TempDb};

/// The PostgreSQL dialect, with what the server said about itself.
#[derive(Clone, Debug)]
pub(crate) struct Pg {
    /// `DROP DATABASE ... WITH (FORCE)` exists from PostgreSQL 13 on.
    force_drop: bool,
    /// `server_version_num`, part of a snapshot's key.
    version: i32,
}

/// One PostgreSQL database mrt created.
pub(crate) type PgDb = ServerDb<Pg>;

server_handle!(
    /// A PostgreSQL server mrt makes its databases on. Cheap to share behind an `Arc`; every
    /// method takes `&self`, so a Ctrl-C handler can call [`PgServer::cleanup`] while trials
    /// run. New databases are copies of `template1`, like any `CREATE DATABASE`; clones are made
    /// with `CREATE DATABASE ... TEMPLATE`, which ends the sessions on the source.
    ///
    /// Dropping it without `cleanup` drops the remaining databases best-effort, waiting at most
    /// 10 seconds; call `cleanup` to get errors reported.
    PgServer,
    Pg
);

fn q(name: &str) -> String {
    quote_ident(Dialect::Postgres, name)
}

/// End every other session connected to `name`.
pub(crate) async fn terminate(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The SQLSTATE of a server error.
pub(crate) fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.to_string()),
        _ => None,
    }
}

/// SQLSTATE 55006 object_in_use: "database is being accessed by other users".
pub(crate) fn in_use(e: &sqlx::Error) -> bool {
    sqlstate(e).as_deref() == Some("55006")
}

/// `CREATE DATABASE name TEMPLATE source`, retried while a session that reconnected between
/// ending the source's sessions and the `CREATE` holds it.
async fn create_from_template(
    conn: &mut PgConnection,
    source: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    let sql = format!("CREATE DATABASE {} TEMPLATE {}", q(name), q(source));
    let mut attempt = 0u64;
    loop {
        terminate(conn, source).await?;
        match sqlx::query(&sql).execute(&mut *conn).await {
            Ok(_) => return Ok(()),
            Err(e) if in_use(&e) && attempt < 10 => attempt += 1,
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
    }
}

impl ServerDialect for Pg {
    const DB_HANDLE: &'static str = "PgDb";
    /// One connection: a trial's reads and writes come one after another, and a second
    /// connection would warm its own statement cache and fall behind on the catalog
    /// invalidations the worker's DDL sends, to be reset when it is used again.
    const POOL_SIZE: u32 = 1;
    const LEASE: &'static str = "naming the run's session";
    type State = std::sync::Mutex<super::Tracking>;

    fn admin_database(url: &ServerUrl) -> String {
        if url.admin_db.is_empty() {
            "postgres".to_string()
        } else {
            url.admin_db.clone()
        }
    }

    fn login(url: &ServerUrl, admin_db: &str) -> String {
        format!("user {} to database {admin_db}", url.user())
    }

    fn options(url: &ServerUrl, database: &str) -> Result<PgConnectOptions, sqlx::Error> {
        Ok(PgConnectOptions::from_url(&url.connect_url(database))?.application_name("mrt"))
    }

    /// mrt's own throwaway database: no WAL flush to wait for on each commit. Generic plans from
    /// the first use: the schema read is planned once per connection, not for each of its first
    /// five runs (as costly as running it).
    fn db_options(url: &ServerUrl, database: &str) -> Result<PgConnectOptions, sqlx::Error> {
        Ok(Self::options(url, database)?.options([
            ("synchronous_commit", "off"),
            ("plan_cache_mode", "force_generic_plan"),
        ]))
    }

    async fn probe(conn: &mut PgConnection) -> Result<Self, sqlx::Error> {
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(conn)
            .await?;
        Ok(Pg {
            force_drop: version >= 130_000,
            version,
        })
    }

    async fn take_lease(conn: &mut PgConnection, lease: &str) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT set_config('application_name', $1, false)")
            .bind(lease)
            .execute(conn)
            .await
            .map(|_| ())
    }

    async fn live_runs(
        conn: &mut PgConnection,
        url: &ServerUrl,
        runs: &[&str],
    ) -> Result<Vec<String>, DbError> {
        let leases: Vec<String> = sqlx::query_scalar(
            "SELECT application_name::text FROM pg_stat_activity WHERE application_name LIKE 'mrt run %'",
        )
        .fetch_all(conn)
        .await
        .map_err(|e| url.error(Self::name(), format!("listing running mrt sessions: {e}")))?;
        Ok(runs
            .iter()
            .filter(|run| leases.contains(&lease_name(run)))
            .map(|run| run.to_string())
            .collect())
    }

    async fn list_databases(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT datname::text FROM pg_database WHERE datname LIKE 'mrt\\_%'")
                .fetch_all(conn)
                .await?;
        rows.iter().map(|row| row.try_get(0)).collect()
    }

    async fn drop_database(&self, conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
        if self.force_drop {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", q(name));
            sqlx::query(&sql).execute(&mut *conn).await?;
            return Ok(());
        }
        let sql = format!("DROP DATABASE IF EXISTS {}", q(name));
        let mut attempt = 0;
        loop {
            terminate(conn, name).await?;
            match sqlx::query(&sql).execute(&mut *conn).await {
                Ok(_) => return Ok(()),
                Err(e) if in_use(&e) && attempt < 5 => attempt += 1,
                Err(e) => return Err(e),
            }
            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
        }
    }

    /// PostgreSQL refuses a template that has open sessions: this closes the source handle's
    /// own pool and ends every other session on it (only mrt's own database, which mrt
    /// controls). The source handle reopens on next use.
    async fn clone_into(
        server: &ServerCore<Self>,
        source: &PgDb,
        name: &str,
    ) -> Result<(), DbError> {
        source.close().await;
        let mut conn = server.admin_conn(name).await?;
        source
            .sessions_ended
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        create_from_template(&mut conn, &source.name, name)
            .await
            .map_err(|e| {
                let context = format!("CREATE DATABASE ... TEMPLATE {}", source.name);
                server.admin_error(name, &context, e)
            })
    }

    async fn run(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(conn).await.map(|_| ())
    }

    fn wrap(db: PgDb) -> TempDb {
        TempDb::postgres(db)
    }

    fn unwrap(db: &TempDb) -> Result<&PgDb, DbError> {
        db.as_postgres()
    }

    fn into_db(db: TempDb) -> Result<PgDb, DbError> {
        db.into_postgres()
    }
}

/// Snapshots as template databases `mrt_snap_<key>` (see [`crate::snapshot`]). They outlive the
/// run, so they are never recorded in the run's registry; `mrt clean --snapshots` drops them.
impl PgServer {
    /// "postgres 150020 127.0.0.1:5432": a snapshot lives on one server and is made by one
    /// version.
    pub(crate) async fn identity(&self) -> Result<String, DbError> {
        let version = self.0.dialect().version;
        Ok(format!("postgres {version} {}", self.0.url.host_port()))
    }

    /// `CREATE DATABASE mrt_snap_<key> TEMPLATE <source>`: PostgreSQL commits a new database
    /// whole or not at all, so no other process can find it half-copied. One that exists
    /// already (another process saved the same state) is kept.
    pub(crate) async fn save_snapshot(&self, source: &TempDb, key: &str) -> Result<u64, DbError> {
        let src = source.as_postgres()?;
        let name = format!("{}{key}", crate::snapshot::SNAPSHOT_PREFIX);
        let mut conn = self.0.admin_conn(&name).await?;
        // Kept already (another process saved the same state): the source keeps its sessions.
        if size_of(&mut conn, &name).await.ok().flatten().is_none() {
            super::introspect::keep_read(src).await;
            src.close().await;
            src.sessions_ended
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match create_from_template(&mut conn, &src.name, &name).await {
                Ok(()) => {}
                // SQLSTATE 42P04 duplicate_database: saved by another process meanwhile.
                Err(e) if sqlstate(&e).as_deref() == Some("42P04") => {}
                Err(e) => {
                    let context = format!("CREATE DATABASE ... TEMPLATE {}", src.name);
                    return Err(self.0.admin_error(&name, &context, e));
                }
            }
        }
        let size = size_of(&mut conn, &name)
            .await
            .map_err(|e| self.0.admin_error(&name, "reading its size", e))?;
        Ok(size.unwrap_or(0))
    }

    /// A new `mrt_<run>_<n>` copied from snapshot `key`. Nobody connects to a snapshot, so
    /// concurrent restores of one snapshot do not wait on each other.
    pub(crate) async fn restore_snapshot(&self, key: &str) -> Result<TempDb, DbError> {
        let snapshot = format!("{}{key}", crate::snapshot::SNAPSHOT_PREFIX);
        let name = self.0.reserve()?;
        let sql = format!("CREATE DATABASE {} TEMPLATE {}", q(&name), q(&snapshot));
        let made = async {
            let mut conn = self.0.admin_conn(&name).await?;
            sqlx::query(&sql).execute(&mut *conn).await.map_err(|e| {
                self.0
                    .admin_error(&name, &format!("restoring {snapshot}"), e)
            })
        }
        .await;
        if let Err(e) = made {
            self.0.unreserve(&name);
            return Err(e);
        }
        self.0.handle(name)
    }

    /// The keys of the snapshot databases on the server.
    pub(crate) async fn snapshot_keys(&self) -> Result<Vec<String>, DbError> {
        let mut conn = self.0.admin_conn("(snapshots)").await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'mrt\\_snap\\_%'",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| self.0.admin_error("(snapshots)", "listing snapshots", e))?;
        let prefix = crate::snapshot::SNAPSHOT_PREFIX;
        Ok(names
            .iter()
            .filter_map(|n| Some(n.strip_prefix(prefix)?.to_string()))
            .collect())
    }

    /// Every snapshot database on the server with its size.
    pub(crate) async fn snapshots(&self) -> Result<Vec<crate::snapshot::SnapshotInfo>, DbError> {
        let mut conn = self.0.admin_conn("(snapshots)").await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT datname, pg_database_size(datname) FROM pg_database \
             WHERE datname LIKE 'mrt\\_snap\\_%' ORDER BY datname",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| self.0.admin_error("(snapshots)", "listing snapshots", e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, size)| {
                let key = name.strip_prefix(crate::snapshot::SNAPSHOT_PREFIX)?;
                Some(crate::snapshot::SnapshotInfo {
                    key: key.to_string(),
                    bytes: u64::try_from(size).unwrap_or(0),
                })
            })
            .collect())
    }

    /// `DROP DATABASE` without ending sessions: a restore copying it holds it, and then it is
    /// kept (`Ok(false)`).
    pub(crate) async fn drop_snapshot(&self, key: &str) -> Result<bool, DbError> {
        let name = format!("{}{key}", crate::snapshot::SNAPSHOT_PREFIX);
        let mut conn = self.0.admin_conn(&name).await?;
        let sql = format!("DROP DATABASE IF EXISTS {}", q(&name));
        match sqlx::query(&sql).execute(&mut *conn).await {
            Ok(_) => Ok(true),
            Err(e) if in_use(&e) => Ok(false),
            Err(e) => Err(self.0.admin_error(&name, "dropping snapshot", e)),
        }
    }
}

/// The size of database `name`, `None` when there is none.
async fn size_of(conn: &mut PgConnection, name: &str) -> Result<Option<u64>, sqlx::Error> {
    let size: Option<i64> =
        sqlx::query_scalar("SELECT pg_database_size(datname) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?;
    Ok(size.map(|s| u64::try_from(s).unwrap_or(0)))
}
