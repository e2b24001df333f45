//! What a running migration step blocks, seen from a connection of its own: `mrt bench` tries a
//! read and a write on each table the step touches while it runs (with a short lock timeout),
//! and asks the server which locks are held. SQLite has nothing to probe: a writing step locks
//! the whole file.

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::Connection;

use crate::{quote_ident, DbError, Dialect, TempDb};

/// How long a probe waits for a lock before it counts as blocked: short enough that a blocked
/// interval is measured to about this, long enough not to count an ordinary lock hand-over.
pub const PROBE_LOCK_TIMEOUT: Duration = Duration::from_millis(10);

/// A connection that tries reads and writes without waiting long.
pub struct LockProbe {
    conn: ProbeConn,
}

enum ProbeConn {
    Postgres(PgConnection),
    Mysql(MySqlConnection),
}

/// The table-level lock modes of PostgreSQL, weakest first (the documentation's order).
const PG_LOCKS: [(&str, &str); 8] = [
    ("AccessShareLock", "ACCESS SHARE"),
    ("RowShareLock", "ROW SHARE"),
    ("RowExclusiveLock", "ROW EXCLUSIVE"),
    ("ShareUpdateExclusiveLock", "SHARE UPDATE EXCLUSIVE"),
    ("ShareLock", "SHARE"),
    ("ShareRowExclusiveLock", "SHARE ROW EXCLUSIVE"),
    ("ExclusiveLock", "EXCLUSIVE"),
    ("AccessExclusiveLock", "ACCESS EXCLUSIVE"),
];

/// How strong a lock mode named as [`LockProbe::held_lock`] names it is (0: unknown).
pub fn lock_strength(mode: &str) -> usize {
    (PG_LOCKS.iter().position(|(_, name)| *name == mode)).map_or(0, |i| i + 1)
}

impl TempDb {
    /// A probe on its own connection; `Ok(None)` where there is nothing to probe (SQLite) or the
    /// server cannot time a statement out in milliseconds (MySQL; MariaDB can).
    pub async fn lock_probe(&self) -> Result<Option<LockProbe>, DbError> {
        let millis = PROBE_LOCK_TIMEOUT.as_millis();
        let conn = match self.dialect() {
            Dialect::Sqlite => return Ok(None),
            Dialect::Postgres => {
                let db = self.as_postgres()?;
                let mut conn = db.connect_one().await?;
                let set = format!("SET lock_timeout = '{millis}ms'");
                let set = sqlx::query(&set).execute(&mut conn).await;
                set.map_err(|e| db.query_error("setting the probe's lock_timeout", e))?;
                ProbeConn::Postgres(conn)
            }
            Dialect::Mysql => {
                let db = self.as_mysql()?;
                let mut conn = db.connect_one().await?;
                let set = format!(
                    "SET SESSION max_statement_time = {}",
                    millis as f64 / 1000.0
                );
                if sqlx::query(&set).execute(&mut conn).await.is_err() {
                    return Ok(None);
                }
                ProbeConn::Mysql(conn)
            }
        };
        Ok(Some(LockProbe { conn }))
    }

    /// Where each of `tables` keeps its rows (PostgreSQL's `relfilenode`, SQLite's root page):
    /// a step that changed it rewrote the table. Empty on MySQL, which does not say.
    pub async fn table_storage(
        &self,
        tables: &[String],
    ) -> Result<BTreeMap<String, String>, DbError> {
        let rows = match self.dialect() {
            Dialect::Sqlite => {
                let db = self.as_sqlite()?;
                let sql =
                    "SELECT name, CAST(rootpage AS TEXT) FROM sqlite_master WHERE type = 'table'";
                match db.conn().await {
                    Ok(mut conn) => sqlx::query(sql).fetch_all(&mut *conn).await,
                    Err(e) => Err(e),
                }
                .map(|rows| pairs(&rows))
            }
            Dialect::Postgres => {
                let db = self.as_postgres()?;
                let sql = "SELECT c.relname::text, c.relfilenode::text FROM pg_class c \
                           WHERE c.relkind IN ('r', 'p', 'm') \
                           AND c.relnamespace = current_schema()::regnamespace";
                sqlx::query(sql)
                    .fetch_all(&db.pool())
                    .await
                    .map(|rows| pairs(&rows))
            }
            Dialect::Mysql => return Ok(BTreeMap::new()),
        };
        let rows = rows.map_err(|source| DbError::Query {
            dialect: self.dialect().as_str(),
            db: self.name().to_string(),
            context: "reading where tables keep their rows".into(),
            source,
        })?;
        Ok(rows
            .into_iter()
            .filter(|(name, _)| tables.iter().any(|t| t.eq_ignore_ascii_case(name)))
            .collect())
    }
}

fn pairs<R: sqlx::Row>(rows: &[R]) -> Vec<(String, String)>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?)))
        .collect()
}

impl LockProbe {
    /// Whether a read of `table` went through (false: it waited out the lock timeout).
    pub async fn try_read(&mut self, table: &str) -> bool {
        let sql = format!("SELECT 1 FROM {} LIMIT 0", self.quote(table));
        self.went_through(&sql).await
    }

    /// Whether a write to `table` could start (false: blocked). It changes no row.
    pub async fn try_write(&mut self, table: &str) -> bool {
        let sql = format!("DELETE FROM {} WHERE 1 = 0", self.quote(table));
        self.went_through(&sql).await
    }

    /// The strongest lock another session holds on any of `tables` right now (PostgreSQL's
    /// `pg_locks`, in its SQL name: `ACCESS EXCLUSIVE`); `None` elsewhere or when none is held.
    pub async fn held_lock(&mut self, tables: &[String]) -> Option<String> {
        let ProbeConn::Postgres(conn) = &mut self.conn else {
            return None;
        };
        let sql = "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                   WHERE l.granted AND l.pid <> pg_backend_pid() \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND c.relname = ANY($1)";
        let modes: Vec<String> = sqlx::query_scalar(sql)
            .bind(tables)
            .fetch_all(conn)
            .await
            .ok()?;
        modes
            .iter()
            .filter_map(|m| PG_LOCKS.iter().find(|(pg, _)| pg == m))
            .map(|(_, name)| name.to_string())
            .max_by_key(|name| lock_strength(name))
    }

    fn quote(&self, table: &str) -> String {
        match self.conn {
            ProbeConn::Postgres(_) => quote_ident(Dialect::Postgres, table),
            ProbeConn::Mysql(_) => quote_ident(Dialect::Mysql, table),
        }
    }

    /// Runs `sql`; false only when it failed for want of a lock (a table the step has not
    /// created yet, or just dropped, is not blocked).
    async fn went_through(&mut self, sql: &str) -> bool {
        let result = match &mut self.conn {
            ProbeConn::Postgres(conn) => sqlx::query(sql).execute(conn).await.map(drop),
            ProbeConn::Mysql(conn) => sqlx::query(sql).execute(conn).await.map(drop),
        };
        match result {
            Ok(()) => true,
            Err(sqlx::Error::Database(e)) => !is_lock_wait(e.as_ref()),
            Err(_) => true,
        }
    }

    pub async fn close(self) {
        let _ = match self.conn {
            ProbeConn::Postgres(conn) => conn.close().await,
            ProbeConn::Mysql(conn) => conn.close().await,
        };
    }
}

/// PostgreSQL's `lock_not_available`; MariaDB's statement timeout (1969) and lock wait timeout
/// (1205).
fn is_lock_wait(e: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(my) = e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(my.number(), 1969 | 1205);
    }
    e.code().as_deref() == Some("55P03")
}
