//! MySQL/MariaDB server handle: creates `mrt_<run>_<n>` databases, clones them by copying
//! definitions and rows (MySQL has no template databases), and drops every one it made, and
//! nothing else.

use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection, Row as _};

use crate::lazy_pool::LazyPool;
use crate::registry::{
    is_leftover_name, lease_name, run_blocking, run_of, validate_run_id, Registry,
};
use crate::server_url::ServerUrl;
use crate::{quote_ident, DbError, Dialect, Leftovers, TempDb};

pub(crate) const DIALECT: &str = "mysql";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn q(name: &str) -> String {
    quote_ident(Dialect::Mysql, name)
}

/// One MySQL database mrt created, with a lazily (re)opened pool.
pub(crate) struct MysqlDb {
    pub(crate) name: String,
    /// MariaDB reports defaults differently from MySQL (see `introspect`).
    pub(crate) mariadb: bool,
    sqlalchemy_url: String,
    display_url: String,
    pool: LazyPool<sqlx::MySql>,
}

/// Connect options hold the password: show only the name and the masked URL.
impl std::fmt::Debug for MysqlDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlDb")
            .field("name", &self.name)
            .field("url", &self.display_url)
            .finish()
    }
}

impl MysqlDb {
    pub(crate) fn pool(&self) -> MySqlPool {
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

/// A MySQL or MariaDB server mrt makes its databases on. Every method takes `&self`, so a
/// Ctrl-C handler can call [`MysqlServer::cleanup`] while trials run.
///
/// Dropping it without `cleanup` drops the remaining databases best-effort, waiting at most
/// 10 seconds; call `cleanup` to get errors reported.
pub struct MysqlServer {
    url: ServerUrl,
    run_id: String,
    admin: MySqlPool,
    registry: Arc<Registry>,
    mariadb: bool,
    /// A session holding the named lock [`lease_name`] while the run goes on: `mrt clean`
    /// leaves the databases of runs whose lock is held alone.
    lease: std::sync::Mutex<Option<MySqlConnection>>,
}

impl std::fmt::Debug for MysqlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlServer")
            .field("server", &self.url.label())
            .field("run_id", &self.run_id)
            .finish()
    }
}

/// Options for `database` ("" = none). `||` keeps its MySQL meaning (OR), as for the Python
/// worker: sqlx would otherwise turn on PIPES_AS_CONCAT and views or triggers created by the
/// clone would change meaning.
fn options(url: &ServerUrl, database: &str) -> Result<MySqlConnectOptions, String> {
    MySqlConnectOptions::from_url(&url.connect_url(database))
        .map(|o| o.pipes_as_concat(false))
        .map_err(|e| url.scrub(&format!("invalid connection options: {e}")))
}

async fn connect_admin(url: &ServerUrl) -> Result<(MySqlConnectOptions, MySqlConnection), DbError> {
    let server_error = |message: String| url.error(DIALECT, message);
    let options = options(url, &url.admin_db).map_err(server_error)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, MySqlConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => Ok((options, conn)),
        Ok(Err(e)) => Err(server_error(format!(
            "cannot connect as user {}: {e}",
            url.user()
        ))),
        Err(_) => Err(server_error(format!(
            "cannot connect as user {}: no answer within {} s",
            url.user(),
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Drop one database, first ending other sessions that use it: an open transaction in one
/// (e.g. a hung Python worker) would hold a metadata lock and make `DROP DATABASE` wait forever.
async fn drop_named(conn: &mut MySqlConnection, name: &str) -> Result<(), DbError> {
    let err = |source| DbError::Query {
        dialect: DIALECT,
        db: name.to_string(),
        context: "dropping database".into(),
        source,
    };
    kill_sessions(conn, name).await.map_err(err)?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {}", q(name)))
        .execute(&mut *conn)
        .await
        .map_err(err)?;
    Ok(())
}

async fn kill_sessions(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    let ids: Vec<u64> = sqlx::query_scalar(
        "SELECT CAST(ID AS UNSIGNED) FROM information_schema.PROCESSLIST \
         WHERE DB = ? AND ID <> CONNECTION_ID()",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await?;
    for id in ids {
        // The session may have ended in between: "Unknown thread id" is fine.
        let _ = sqlx::raw_sql(&format!("KILL {id}"))
            .execute(&mut *conn)
            .await;
    }
    Ok(())
}

async fn is_mariadb(conn: &mut MySqlConnection) -> Result<bool, sqlx::Error> {
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await?;
    Ok(version.to_ascii_lowercase().contains("mariadb"))
}

/// `CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW ...` ->
/// without `DEFINER=...`, so the copy is created as the connected user (who may not be allowed
/// to name another definer).
fn strip_definer(sql: &str) -> String {
    let Some(start) = sql.find("DEFINER=") else {
        return sql.to_string();
    };
    let rest = &sql[start + "DEFINER=".len()..];
    // user@host, each part possibly quoted with backticks or quotes; ends at the next space
    // outside quotes.
    let mut quote: Option<char> = None;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '\'' || c == '"' => quote = Some(c),
            None if c.is_whitespace() => {
                end = i;
                break;
            }
            None => {}
        }
    }
    format!("{}{}", &sql[..start], rest[end..].trim_start())
}

impl MysqlServer {
    pub(crate) async fn connect(url: ServerUrl, run_id: &str) -> Result<MysqlServer, DbError> {
        let run_id = validate_run_id(DIALECT, run_id)?;
        let (options, mut conn) = connect_admin(&url).await?;
        let mariadb = is_mariadb(&mut conn)
            .await
            .map_err(|e| url.error(DIALECT, format!("reading server version: {e}")))?;
        sqlx::query("SELECT GET_LOCK(?, 0)")
            .bind(lease_name(&run_id))
            .execute(&mut conn)
            .await
            .map_err(|e| url.error(DIALECT, format!("taking the run's lock: {e}")))?;
        let admin = MySqlPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options);
        Ok(MysqlServer {
            url,
            run_id,
            admin,
            registry: Arc::new(Registry::default()),
            mariadb,
            lease: std::sync::Mutex::new(Some(conn)),
        })
    }

    /// "mysql 127.0.0.1:3306".
    pub fn label(&self) -> String {
        self.url.label()
    }

    /// The databases this handle created and has not dropped yet.
    pub fn created_databases(&self) -> Vec<String> {
        self.registry.names()
    }

    fn handle(&self, name: String) -> Result<TempDb, DbError> {
        let options = options(&self.url, &name).map_err(|message| DbError::Invalid {
            dialect: DIALECT,
            db: name.clone(),
            message,
        })?;
        Ok(TempDb::mysql(MysqlDb {
            sqlalchemy_url: self.url.sqlalchemy_url(&name, false),
            display_url: self.url.sqlalchemy_url(&name, true),
            name,
            mariadb: self.mariadb,
            pool: LazyPool::new(options, 2),
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

    /// A new, empty database with the server's default character set.
    pub async fn create(&self) -> Result<TempDb, DbError> {
        let name = self.registry.next_name(DIALECT, &self.run_id)?;
        if let Err(e) = sqlx::raw_sql(&format!("CREATE DATABASE {}", q(&name)))
            .execute(&self.admin)
            .await
        {
            self.registry.remove(&name);
            return Err(self.admin_error(&name, "CREATE DATABASE", e));
        }
        self.handle(name)
    }

    /// A copy of `source`: same default character set and collation, every table from its own
    /// `SHOW CREATE TABLE` (with foreign key checks off, so order does not matter), rows by
    /// `INSERT ... SELECT`, then views (retried until their dependencies exist) and triggers
    /// last, so they do not fire on the copied rows. If anything fails the half-made copy is
    /// dropped.
    pub async fn clone_db(&self, source: &TempDb) -> Result<TempDb, DbError> {
        let src = source.as_mysql()?;
        if !self.registry.contains(&src.name) {
            return Err(DbError::Invalid {
                dialect: DIALECT,
                db: src.name.clone(),
                message: format!("not created by this server handle ({})", self.label()),
            });
        }
        let name = self.registry.next_name(DIALECT, &self.run_id)?;
        // A dedicated connection: `USE` and session settings must not leak into the pool.
        let (_, mut conn) = match connect_admin(&self.url).await {
            Ok(c) => c,
            Err(e) => {
                self.registry.remove(&name);
                return Err(e);
            }
        };
        let result = copy_database(&mut conn, &src.name, &name).await;
        if let Err(e) = result {
            let _ = drop_named(&mut conn, &name).await;
            let _ = conn.close().await;
            self.registry.remove(&name);
            return Err(DbError::Query {
                dialect: DIALECT,
                db: src.name.clone(),
                context: format!("cloning into {name}: {}", e.0),
                source: e.1,
            });
        }
        let _ = conn.close().await;
        self.handle(name)
    }

    /// Drop one database this handle created (ending sessions still using it).
    pub async fn drop_database(&self, db: TempDb) -> Result<(), DbError> {
        let db = db.into_mysql()?;
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
        drop_named(&mut conn, &db.name).await?;
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
                        match drop_named(&mut conn, &name).await {
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

    /// [`MysqlServer::cleanup`] for places without an async context (signal handlers, `Drop`):
    /// runs on its own thread and runtime with a fresh connection, waiting at most `timeout`.
    /// Returns the names it dropped.
    pub fn cleanup_blocking(&self, timeout: Duration) -> Vec<String> {
        self.registry.close();
        let names = self.registry.names();
        if names.is_empty() {
            return names;
        }
        let url = self.url.clone();
        let dropped = run_blocking(timeout, move || async move {
            let mut dropped = Vec::new();
            let Ok((_, mut conn)) = connect_admin(&url).await else {
                return dropped;
            };
            for name in names {
                if drop_named(&mut conn, &name).await.is_ok() {
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

impl Drop for MysqlServer {
    fn drop(&mut self) {
        if !self.registry.names().is_empty() {
            self.cleanup_blocking(Duration::from_secs(10));
        }
    }
}

/// A failed step of a copy: what was being done, and why it failed.
struct CopyError(String, sqlx::Error);

async fn copy_database(conn: &mut MySqlConnection, src: &str, dst: &str) -> Result<(), CopyError> {
    let step = |what: String| move |e: sqlx::Error| CopyError(what, e);
    let charset: (String, String) = sqlx::query_as(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
         FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(src)
    .fetch_one(&mut *conn)
    .await
    .map_err(step("reading the character set".into()))?;
    sqlx::raw_sql(&format!(
        "CREATE DATABASE {} CHARACTER SET {} COLLATE {}",
        q(dst),
        charset.0,
        charset.1
    ))
    .execute(&mut *conn)
    .await
    .map_err(step("CREATE DATABASE".into()))?;
    sqlx::raw_sql(&format!(
        "SET SESSION FOREIGN_KEY_CHECKS = 0; USE {}",
        q(dst)
    ))
    .execute(&mut *conn)
    .await
    .map_err(step("switching to the copy".into()))?;

    let objects: Vec<(String, String)> = sqlx::query_as(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
    )
    .bind(src)
    .fetch_all(&mut *conn)
    .await
    .map_err(step("listing tables".into()))?;
    let tables: Vec<&str> = objects
        .iter()
        .filter(|(_, kind)| kind != "VIEW")
        .map(|(n, _)| n.as_str())
        .collect();
    let views: Vec<&str> = objects
        .iter()
        .filter(|(_, kind)| kind == "VIEW")
        .map(|(n, _)| n.as_str())
        .collect();

    for table in &tables {
        let row = sqlx::raw_sql(&format!("SHOW CREATE TABLE {}.{}", q(src), q(table)))
            .fetch_one(&mut *conn)
            .await
            .map_err(step(format!("SHOW CREATE TABLE {table}")))?;
        let create: String = row
            .try_get(1)
            .map_err(step(format!("SHOW CREATE TABLE {table}")))?;
        sqlx::raw_sql(&create)
            .execute(&mut *conn)
            .await
            .map_err(step(format!("creating table {table}")))?;
        // Generated columns cannot be inserted into: copy only the stored ones.
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND IS_GENERATED = 'NEVER' \
             ORDER BY ORDINAL_POSITION",
        )
        .bind(src)
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(step(format!("listing columns of {table}")))?;
        if columns.is_empty() {
            continue;
        }
        let list = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
        sqlx::raw_sql(&format!(
            "INSERT INTO {}.{} ({list}) SELECT {list} FROM {}.{}",
            q(dst),
            q(table),
            q(src),
            q(table)
        ))
        .execute(&mut *conn)
        .await
        .map_err(step(format!("copying rows of {table}")))?;
    }

    // Views name their tables qualified with the source database: point them at the copy.
    // A view over another view fails until that one exists: retry while progress is made.
    let mut pending: Vec<(String, String)> = Vec::new();
    for view in &views {
        let row = sqlx::raw_sql(&format!("SHOW CREATE VIEW {}.{}", q(src), q(view)))
            .fetch_one(&mut *conn)
            .await
            .map_err(step(format!("SHOW CREATE VIEW {view}")))?;
        let create: String = row
            .try_get(1)
            .map_err(step(format!("SHOW CREATE VIEW {view}")))?;
        let create =
            strip_definer(&create).replace(&format!("{}.", q(src)), &format!("{}.", q(dst)));
        pending.push((view.to_string(), create));
    }
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut last_error = None;
        let before = pending.len();
        for (view, create) in pending {
            if let Err(e) = sqlx::raw_sql(&create).execute(&mut *conn).await {
                last_error = Some(CopyError(format!("creating view {view}"), e));
                failed.push((view, create));
            }
        }
        if failed.len() == before {
            if let Some(e) = last_error {
                return Err(e);
            }
        }
        pending = failed;
    }

    // Triggers last, so they did not fire while rows were copied.
    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? \
         ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER",
    )
    .bind(src)
    .fetch_all(&mut *conn)
    .await
    .map_err(step("listing triggers".into()))?;
    for trigger in &triggers {
        let row = sqlx::raw_sql(&format!("SHOW CREATE TRIGGER {}.{}", q(src), q(trigger)))
            .fetch_one(&mut *conn)
            .await
            .map_err(step(format!("SHOW CREATE TRIGGER {trigger}")))?;
        let create: String = row
            .try_get(2)
            .map_err(step(format!("SHOW CREATE TRIGGER {trigger}")))?;
        sqlx::raw_sql(&strip_definer(&create))
            .execute(&mut *conn)
            .await
            .map_err(step(format!("creating trigger {trigger}")))?;
    }
    sqlx::raw_sql("SET SESSION FOREIGN_KEY_CHECKS = 1")
        .execute(&mut *conn)
        .await
        .map_err(step("restoring foreign key checks".into()))?;
    Ok(())
}

/// Drop the databases of crashed runs: every `mrt_<run>_<n>` whose run starts with `run_prefix`.
pub(crate) async fn drop_leftovers(url: ServerUrl, run_prefix: &str) -> Result<Leftovers, DbError> {
    let (_, mut conn) = connect_admin(&url).await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'mrt\\_%'",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| url.error(DIALECT, format!("listing databases: {e}")))?;
    let mut found = Leftovers::default();
    for name in names {
        if !is_leftover_name(&name, run_prefix) {
            continue;
        }
        if let Some(run) = run_of(&name) {
            let holder: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
                .bind(lease_name(run))
                .fetch_one(&mut conn)
                .await
                .map_err(|e| {
                    url.error(
                        DIALECT,
                        format!("checking whether run {run} is still going: {e}"),
                    )
                })?;
            if holder.is_some() {
                found.live.push(name);
                continue;
            }
        }
        drop_named(&mut conn, &name).await?;
        found.dropped.push(name);
    }
    let _ = conn.close().await;
    found.dropped.sort();
    found.live.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::strip_definer;

    #[test]
    fn definer_is_removed() {
        assert_eq!(
            strip_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1"
            ),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
        );
        assert_eq!(
            strip_definer("CREATE DEFINER=`a b`@`%` TRIGGER t"),
            "CREATE TRIGGER t"
        );
        assert_eq!(
            strip_definer("CREATE VIEW v AS select 1"),
            "CREATE VIEW v AS select 1"
        );
    }
}
