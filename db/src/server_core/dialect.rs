//! What a server dialect must say for [`ServerCore`] to make, clone and drop its databases.

use std::future::Future;

use sqlx::{Connection, Database};

use super::{RowDialect, ServerCore, ServerDb};
use crate::server_url::ServerUrl;
use crate::{DbError, TempDb};

pub(crate) type Conn<D> = <<D as RowDialect>::Db as Database>::Connection;
pub(crate) type Options<D> = <Conn<D> as Connection>::Options;

/// One server dialect. A value of it holds what the server said about itself on connecting
/// (its version, MariaDB or MySQL), and is copied into every database handle.
pub(crate) trait ServerDialect: RowDialect + Clone + Send + Sync + Sized + 'static {
    /// The type name `Debug` shows for a database handle (`PgDb`).
    const DB_HANDLE: &'static str;
    /// Connections in a database handle's pool.
    const POOL_SIZE: u32;
    /// What taking the lease is called in its error ("naming the run's session").
    const LEASE: &'static str;
    /// What a database handle keeps between calls (PostgreSQL: its last schema read).
    type State: Default + Send + Sync + 'static;

    /// The database mrt connects to for `CREATE/DROP DATABASE`.
    fn admin_database(url: &ServerUrl) -> String {
        url.admin_db.clone()
    }

    /// Who connects, as a connect error names it: "user root".
    fn login(url: &ServerUrl, _admin_db: &str) -> String {
        format!("user {}", url.user())
    }

    /// Connect options for `database` on the server in `url`.
    fn options(url: &ServerUrl, database: &str) -> Result<Options<Self>, sqlx::Error>;

    /// Connect options for the pool of one of mrt's own databases.
    fn db_options(url: &ServerUrl, database: &str) -> Result<Options<Self>, sqlx::Error> {
        Self::options(url, database)
    }

    /// What the server is, read on a fresh admin connection.
    fn probe(conn: &mut Conn<Self>) -> impl Future<Output = Result<Self, sqlx::Error>> + Send;

    /// Make `conn` hold the lease named `lease` for as long as it stays open.
    fn take_lease(
        conn: &mut Conn<Self>,
        lease: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Of `runs`, those whose lease some session holds (their run is still going).
    fn live_runs(
        conn: &mut Conn<Self>,
        url: &ServerUrl,
        runs: &[&str],
    ) -> impl Future<Output = Result<Vec<String>, DbError>> + Send;

    /// The names of every database starting with `mrt_`.
    fn list_databases(
        conn: &mut Conn<Self>,
    ) -> impl Future<Output = Result<Vec<String>, sqlx::Error>> + Send;

    /// Drop database `name` if it exists, first ending the sessions that use it (a Python
    /// worker may still be connected, or hang in a transaction). Only called for names mrt made.
    fn drop_database(
        &self,
        conn: &mut Conn<Self>,
        name: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Make database `name` (already reserved) as a copy of `source`. On error nothing of
    /// `name` is left on the server.
    fn clone_into(
        server: &ServerCore<Self>,
        source: &ServerDb<Self>,
        name: &str,
    ) -> impl Future<Output = Result<(), DbError>> + Send;

    /// Run one statement without parameters.
    fn run(
        conn: &mut Conn<Self>,
        sql: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    fn wrap(db: ServerDb<Self>) -> TempDb;

    /// This dialect's handle in `db`, or an error naming `db` when it is another dialect.
    fn unwrap(db: &TempDb) -> Result<&ServerDb<Self>, DbError>;

    fn into_db(db: TempDb) -> Result<ServerDb<Self>, DbError>;
}
