//! MySQL/MariaDB as a [`ServerDialect`]: the lease is a named lock (`GET_LOCK`), a clone copies
//! definitions and rows (MySQL has no template databases), and a drop kills the sessions on the
//! database first.

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{ConnectOptions, Connection, Executor};

use super::clone::copy_database;
use crate::registry::lease_name;
use crate::server_core::{
    connect_admin, server_handle, RowDialect as _, ServerCore, ServerDb, ServerDialect,
};
use crate::server_url::ServerUrl;
use crate::{quote_ident, DbError, Dialect, TempDb};

/// The MySQL dialect, with what the server said about itself.
#[derive(Clone, Debug)]
pub(crate) struct Mysql {
    /// MariaDB reports defaults and check constraints differently from MySQL (see
    /// `introspect`).
    pub(crate) mariadb: bool,
}

/// One MySQL database mrt created.
pub(crate) type MysqlDb = ServerDb<Mysql>;

server_handle!(
    /// A MySQL or MariaDB server mrt makes its databases on. Every method takes `&self`, so a
    /// Ctrl-C handler can call [`MysqlServer::cleanup`] while trials run. New databases have the
    /// server's default character set; clones copy the source's character set and collation,
    /// every table and its rows, views and triggers, and a failed clone is dropped.
    ///
    /// Dropping it without `cleanup` drops the remaining databases best-effort, waiting at most
    /// 10 seconds; call `cleanup` to get errors reported.
    MysqlServer,
    Mysql
);

fn q(name: &str) -> String {
    quote_ident(Dialect::Mysql, name)
}

/// End the other sessions using database `name`: an open transaction in one (e.g. a hung Python
/// worker) would hold a metadata lock and make `DROP DATABASE` wait forever.
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
        let _ = Mysql::run(conn, &format!("KILL {id}")).await;
    }
    Ok(())
}

impl ServerDialect for Mysql {
    const DB_HANDLE: &'static str = "MysqlDb";
    const POOL_SIZE: u32 = 2;
    const LEASE: &'static str = "taking the run's lock";
    type State = ();

    /// `||` keeps its MySQL meaning (OR), as for the Python worker: sqlx would otherwise turn on
    /// PIPES_AS_CONCAT and views or triggers created by the clone would change meaning.
    fn options(url: &ServerUrl, database: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
        Ok(MySqlConnectOptions::from_url(&url.connect_url(database))?.pipes_as_concat(false))
    }

    async fn probe(conn: &mut MySqlConnection) -> Result<Self, sqlx::Error> {
        let version: String = sqlx::query_scalar("SELECT VERSION()")
            .fetch_one(conn)
            .await?;
        Ok(Mysql {
            mariadb: version.to_ascii_lowercase().contains("mariadb"),
        })
    }

    async fn take_lease(conn: &mut MySqlConnection, lease: &str) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT GET_LOCK(?, 0)")
            .bind(lease)
            .execute(conn)
            .await
            .map(|_| ())
    }

    async fn live_runs(
        conn: &mut MySqlConnection,
        url: &ServerUrl,
        runs: &[&str],
    ) -> Result<Vec<String>, DbError> {
        let mut live = Vec::new();
        for run in runs {
            let holder: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
                .bind(lease_name(run))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| {
                    let message = format!("checking whether run {run} is still going: {e}");
                    url.error(Self::name(), message)
                })?;
            if holder.is_some() {
                live.push(run.to_string());
            }
        }
        Ok(live)
    }

    async fn list_databases(conn: &mut MySqlConnection) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'mrt\\_%'",
        )
        .fetch_all(conn)
        .await
    }

    async fn drop_database(
        &self,
        conn: &mut MySqlConnection,
        name: &str,
    ) -> Result<(), sqlx::Error> {
        kill_sessions(conn, name).await?;
        Self::run(conn, &format!("DROP DATABASE IF EXISTS {}", q(name))).await
    }

    /// On a connection of its own: `USE` and session settings must not leak into the pool.
    async fn clone_into(
        server: &ServerCore<Self>,
        source: &MysqlDb,
        name: &str,
    ) -> Result<(), DbError> {
        let (_, mut conn) = connect_admin::<Self>(&server.url).await?;
        let copied = copy_database(&mut conn, &source.name, name).await;
        if copied.is_err() {
            let _ = server.drop_on(&mut conn, name).await;
        }
        let _ = conn.close().await;
        copied.map_err(|e| DbError::Query {
            dialect: Self::name(),
            db: source.name.clone(),
            context: format!("cloning into {name}: {}", e.what),
            source: e.source,
        })
    }

    /// In the text protocol, as `raw_sql` would: some statements cannot be prepared.
    async fn run(conn: &mut MySqlConnection, sql: &str) -> Result<(), sqlx::Error> {
        conn.execute(sql).await.map(|_| ())
    }

    fn wrap(db: MysqlDb) -> TempDb {
        TempDb::mysql(db)
    }

    fn unwrap(db: &TempDb) -> Result<&MysqlDb, DbError> {
        db.as_mysql()
    }

    fn into_db(db: TempDb) -> Result<MysqlDb, DbError> {
        db.into_mysql()
    }
}
