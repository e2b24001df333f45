//! Database backends per dialect (SQLite, PostgreSQL, MySQL): isolated databases, schema
//! introspection, row I/O and schema diff. Kept apart so the trial logic never speaks SQL itself.
//!
//! The model ([`Schema`], [`Value`]) and the diffs ([`diff_schemas`], [`diff_rows`]) are
//! dialect-neutral; everything that speaks a dialect lives in its own module (`sqlite`,
//! `postgres`, `mysql`). [`Server`] is the one handle the harness needs: it makes, clones and
//! drops isolated `mrt_<run>_<n>` databases on any of the three, and [`TempDb`] reads and writes
//! them.
//!
//! Passwords: a server URL may hold one. It is kept only inside sqlx connect options and in
//! [`TempDb::url`] (a runner in another process must log in); every label, error and
//! [`TempDb::display_url`] is built without it.

mod diff;
mod error;
mod lazy_pool;
mod model;
mod mysql;
pub mod normalize;
mod postgres;
mod probe;
mod registry;
mod schema_hint;
mod script;
mod server_core;
mod server_url;
mod snapshot;
mod sqlite;
mod test_servers;
mod value;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

pub use diff::rows::{diff_rows, RowDiffKind, RowDifference};
pub use diff::schema::{diff_schemas, SchemaDifference};
pub use error::DbError;
pub use model::{
    CheckConstraint, Column, ForeignKey, Index, Schema, Table, Trigger, UniqueConstraint, View,
};
pub use mysql::MysqlServer;
pub use postgres::{PgServer, HAND_OFF_PREFIX, HAND_OFF_TTL};
pub use probe::{lock_strength, LockProbe, PROBE_LOCK_TIMEOUT};
pub use schema_hint::SchemaHint;
pub use script::{has_statements, ScriptFailure, ScriptOptions};
pub use server_url::scrub_secrets;
pub use snapshot::{
    drop_unclaimed, handed_off, sqlite_snapshot_path, SnapshotInfo, SNAPSHOT_PREFIX,
};
pub use sqlite::SqliteServer;
pub use test_servers::test_server_url;
pub use value::{Row, Value};

/// The SQL dialects mrt can run trials on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl Dialect {
    /// Lower-case name used in test names (`sqlite::r0042`) and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quote an identifier for `dialect`, doubling the quote character inside it, so any table or
/// column name (even one containing quotes) can be used in generated SQL.
pub fn quote_ident(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

/// One row changed after it was inserted: the row whose `key` columns hold these values (NULL
/// matches NULL) gets the `set` values. Seeds use it to fill a nullable foreign key of a cycle
/// once the table it points at has rows: inserted NULL first, then set.
#[derive(Debug, Clone, PartialEq)]
pub struct RowUpdate {
    pub key: Vec<(String, Value)>,
    pub set: Vec<(String, Value)>,
}

/// The `UPDATE` for one [`RowUpdate`] and the values to bind, in placeholder order (`set`
/// first, then the key's non-NULL values; a NULL key value is matched with `IS NULL`, which
/// binds nothing). `placeholder(n, column)` renders the n-th parameter (1-based).
pub(crate) fn update_sql<'u>(
    dialect: Dialect,
    table: &Table,
    update: &'u RowUpdate,
    placeholder: impl Fn(usize, &str) -> String,
) -> (String, Vec<&'u Value>) {
    let mut binds: Vec<&Value> = Vec::new();
    let mut set = Vec::with_capacity(update.set.len());
    for (column, value) in &update.set {
        binds.push(value);
        set.push(format!(
            "{} = {}",
            quote_ident(dialect, column),
            placeholder(binds.len(), column)
        ));
    }
    let mut conditions = Vec::with_capacity(update.key.len());
    for (column, value) in &update.key {
        let name = quote_ident(dialect, column);
        if *value == Value::Null {
            conditions.push(format!("{name} IS NULL"));
        } else {
            binds.push(value);
            conditions.push(format!("{name} = {}", placeholder(binds.len(), column)));
        }
    }
    let condition = if conditions.is_empty() {
        "1 = 1".to_string()
    } else {
        conditions.join(" AND ")
    };
    let sql = format!(
        "UPDATE {} SET {} WHERE {condition}",
        quote_ident(dialect, &table.name),
        set.join(", ")
    );
    (sql, binds)
}

/// Whether a schema read made from the last one and what changed since (PostgreSQL's DDL log,
/// SQLite's authorizer) is checked against a full read: in debug builds (mrt's own tests), and
/// with `MRT_CHECK_SCHEMA_READS=1`.
pub(crate) fn verify_schema_reads() -> bool {
    cfg!(debug_assertions) || std::env::var_os("MRT_CHECK_SCHEMA_READS").is_some_and(|v| v == "1")
}

/// Statements that clear the nullable foreign keys which would stop deleting `tables` in this
/// order: those pointing at a table deleted earlier in the list or at their own table, as a
/// foreign-key cycle has (a nullable `teams.default_member_id` while `members.team_id` points
/// back); without them the first `DELETE` of a cycle fails whichever table comes first.
pub(crate) fn unlink_statements(dialect: Dialect, tables: &[&Table]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        for fk in &table.foreign_keys {
            let earlier = tables[..i].iter().any(|t| t.name == fk.ref_table);
            let nullable = fk
                .columns
                .iter()
                .all(|c| table.column(c).is_some_and(|col| col.nullable));
            if !(earlier || fk.ref_table == table.name) || !nullable || fk.columns.is_empty() {
                continue;
            }
            let names: Vec<String> = fk.columns.iter().map(|c| quote_ident(dialect, c)).collect();
            let set: Vec<String> = names.iter().map(|n| format!("{n} = NULL")).collect();
            let any: Vec<String> = names.iter().map(|n| format!("{n} IS NOT NULL")).collect();
            out.push(format!(
                "UPDATE {} SET {} WHERE {}",
                quote_ident(dialect, &table.name),
                set.join(", "),
                any.join(" OR ")
            ));
        }
    }
    out
}

/// A database server mrt makes its isolated databases on: SQLite (a temp directory), PostgreSQL or
/// MySQL/MariaDB. Every method takes `&self`, so the handle can be shared (`Arc<Server>`) with a
/// Ctrl-C handler that calls [`Server::cleanup`] or [`Server::cleanup_blocking`].
///
/// Every database it creates is recorded before it is created and dropped by `cleanup`; a
/// PostgreSQL/MySQL server dropped without `cleanup` drops what is left best-effort, waiting at
/// most 10 seconds (SQLite removes its directory). Call `cleanup` to see errors.
#[derive(Debug)]
pub enum Server {
    Sqlite(SqliteServer),
    Postgres(PgServer),
    Mysql(MysqlServer),
}

impl Server {
    /// Connect to the server in `url` (`postgres://`, `postgresql://`, `mysql://`, `mariadb://`,
    /// an SQLAlchemy driver suffix such as `postgresql+psycopg://` is accepted; `sqlite://` or
    /// `sqlite` for the embedded default). The URL's database is the admin database mrt connects
    /// to for `CREATE/DROP DATABASE`; it is never written to. A server that is down or refuses
    /// the login gives one [`DbError::Server`] naming `host:port` and the reason.
    pub async fn connect(url: &str, run_id: &str) -> Result<Server, DbError> {
        let trimmed = url.trim();
        if trimmed == "sqlite" || trimmed.starts_with("sqlite:") {
            return Server::sqlite(run_id);
        }
        let parsed = server_url::ServerUrl::parse(trimmed)?;
        match parsed.dialect {
            Dialect::Postgres => Ok(Server::Postgres(PgServer::connect(parsed, run_id).await?)),
            _ => Ok(Server::Mysql(MysqlServer::connect(parsed, run_id).await?)),
        }
    }

    /// The embedded SQLite "server": a temp directory of database files.
    pub fn sqlite(run_id: &str) -> Result<Server, DbError> {
        Ok(Server::Sqlite(SqliteServer::new(run_id)?))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Server::Sqlite(_) => Dialect::Sqlite,
            Server::Postgres(_) => Dialect::Postgres,
            Server::Mysql(_) => Dialect::Mysql,
        }
    }

    /// Names the server for messages, without credentials: "postgres 127.0.0.1:5432",
    /// "mysql 127.0.0.1:3306", "sqlite /tmp/mrt-run-xyz".
    pub fn label(&self) -> String {
        match self {
            Server::Sqlite(s) => format!("sqlite {}", s.dir().display()),
            Server::Postgres(s) => s.label(),
            Server::Mysql(s) => s.label(),
        }
    }

    /// Marks the server as gone: it stopped answering. Its databases say so
    /// ([`TempDb::server_gone`]), so a step waiting on one gives up.
    pub fn mark_gone(&self) {
        match self {
            Server::Sqlite(_) => {}
            Server::Postgres(s) => s.0.mark_gone(),
            Server::Mysql(s) => s.0.mark_gone(),
        }
    }

    /// A new, empty database `mrt_<run>_<n>`.
    pub async fn create(&self) -> Result<TempDb, DbError> {
        match self {
            Server::Sqlite(s) => s.create().await,
            Server::Postgres(s) => s.create().await,
            Server::Mysql(s) => s.create().await,
        }
    }

    /// A new database holding a copy of `source`'s schema and rows (SQLite `VACUUM INTO`,
    /// PostgreSQL `CREATE DATABASE ... TEMPLATE`, which ends the sessions on `source`, MySQL by
    /// copying definitions and rows).
    pub async fn clone_db(&self, source: &TempDb) -> Result<TempDb, DbError> {
        match self {
            Server::Sqlite(s) => s.clone_db(source).await,
            Server::Postgres(s) => s.clone_db(source).await,
            Server::Mysql(s) => s.clone_db(source).await,
        }
    }

    /// Drop one database this server created.
    pub async fn drop_database(&self, db: TempDb) -> Result<(), DbError> {
        match self {
            Server::Sqlite(s) => s.drop_database(db).await,
            Server::Postgres(s) => s.drop_database(db).await,
            Server::Mysql(s) => s.drop_database(db).await,
        }
    }

    /// Drop every database this server created and still has; afterwards `create` and
    /// `clone_db` fail. Idempotent.
    pub async fn cleanup(&self) -> Result<(), DbError> {
        match self {
            Server::Sqlite(s) => s.cleanup(),
            Server::Postgres(s) => s.cleanup().await,
            Server::Mysql(s) => s.cleanup().await,
        }
    }

    /// [`Server::cleanup`] for code without an async context, e.g. a signal handler thread:
    /// works on its own thread and connection and gives up after `timeout`. Returns the names
    /// of the databases it dropped (SQLite: none are listed, the directory is removed).
    pub fn cleanup_blocking(&self, timeout: Duration) -> Vec<String> {
        match self {
            Server::Sqlite(s) => {
                let _ = s.cleanup();
                Vec::new()
            }
            Server::Postgres(s) => s.cleanup_blocking(timeout),
            Server::Mysql(s) => s.cleanup_blocking(timeout),
        }
    }

    /// Names of the databases created and not yet dropped (PostgreSQL/MySQL; SQLite: empty,
    /// its files all live in [`SqliteServer::dir`]).
    pub fn created_databases(&self) -> Vec<String> {
        match self {
            Server::Sqlite(_) => Vec::new(),
            Server::Postgres(s) => s.created_databases(),
            Server::Mysql(s) => s.created_databases(),
        }
    }
}

/// What `mrt clean` found on one server.
#[derive(Debug, Default, PartialEq)]
pub struct Leftovers {
    /// Databases of runs that ended without dropping them (crashed, killed), now dropped.
    pub dropped: Vec<String>,
    /// Databases of runs still going (each holds a lease on the server while it runs), left
    /// alone.
    pub live: Vec<String>,
}

/// For `mrt clean`: on the server in `url`, drop every database named `mrt_<run>_<n>` whose run
/// id starts with `run_prefix` (empty: every run), left behind by runs that crashed or were
/// killed; databases of runs still going are listed in `live` and kept. Names that merely start
/// with `mrt_` but do not have that shape (`mrt_prod`) are never touched. SQLite needs nothing
/// (temp directories are removed by the OS's temp cleaning).
pub async fn drop_leftovers(url: &str, run_prefix: &str) -> Result<Leftovers, DbError> {
    let trimmed = url.trim();
    if !run_prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(DbError::Invalid {
            dialect: "server",
            db: format!("mrt_{run_prefix}*"),
            message: "run prefix must be ASCII letters, digits or underscores".into(),
        });
    }
    if trimmed == "sqlite" || trimmed.starts_with("sqlite:") {
        return sqlite::drop_sqlite_leftovers(run_prefix);
    }
    let parsed = server_url::ServerUrl::parse(trimmed)?;
    match parsed.dialect {
        Dialect::Postgres => postgres::drop_leftovers(parsed, run_prefix).await,
        _ => mysql::drop_leftovers(parsed, run_prefix).await,
    }
}

/// An isolated database mrt created. Dropping the handle does NOT delete the database: call the
/// server's `drop_database` (every server also removes everything on `cleanup`).
#[derive(Debug)]
pub struct TempDb {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
    Mysql(mysql::MysqlDb),
}

macro_rules! dispatch {
    ($self:expr, $db:ident => $sqlite:expr, $pg:expr, $my:expr) => {
        match &$self.backend {
            Backend::Sqlite($db) => $sqlite,
            Backend::Postgres($db) => $pg,
            Backend::Mysql($db) => $my,
        }
    };
}

impl TempDb {
    pub(crate) fn sqlite(db: sqlite::SqliteDb) -> Self {
        TempDb {
            backend: Backend::Sqlite(db),
        }
    }

    pub(crate) fn postgres(db: postgres::PgDb) -> Self {
        TempDb {
            backend: Backend::Postgres(db),
        }
    }

    pub(crate) fn mysql(db: mysql::MysqlDb) -> Self {
        TempDb {
            backend: Backend::Mysql(db),
        }
    }

    fn wrong_dialect(&self, wanted: Dialect) -> DbError {
        DbError::Invalid {
            dialect: wanted.as_str(),
            db: self.name().to_string(),
            message: format!("is a {} database, not {wanted}", self.dialect()),
        }
    }

    /// The SQLite backend, or an error naming this database when it is another dialect.
    pub(crate) fn as_sqlite(&self) -> Result<&sqlite::SqliteDb, DbError> {
        match &self.backend {
            Backend::Sqlite(db) => Ok(db),
            _ => Err(self.wrong_dialect(Dialect::Sqlite)),
        }
    }

    pub(crate) fn into_sqlite(self) -> Result<sqlite::SqliteDb, DbError> {
        match self.backend {
            Backend::Sqlite(db) => Ok(db),
            _ => Err(self.wrong_dialect(Dialect::Sqlite)),
        }
    }

    pub(crate) fn as_postgres(&self) -> Result<&postgres::PgDb, DbError> {
        match &self.backend {
            Backend::Postgres(db) => Ok(db),
            _ => Err(self.wrong_dialect(Dialect::Postgres)),
        }
    }

    pub(crate) fn into_postgres(self) -> Result<postgres::PgDb, DbError> {
        match self.backend {
            Backend::Postgres(db) => Ok(db),
            _ => Err(self.wrong_dialect(Dialect::Postgres)),
        }
    }

    pub(crate) fn as_mysql(&self) -> Result<&mysql::MysqlDb, DbError> {
        match &self.backend {
            Backend::Mysql(db) => Ok(db),
            _ => Err(self.wrong_dialect(Dialect::Mysql)),
        }
    }

    pub(crate) fn into_mysql(self) -> Result<mysql::MysqlDb, DbError> {
        match self.backend {
            Backend::Mysql(db) => Ok(db),
            _ => Err(self.wrong_dialect(Dialect::Mysql)),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match &self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
            Backend::Mysql(_) => Dialect::Mysql,
        }
    }

    /// The database's name, `mrt_<run>_<n>`.
    pub fn name(&self) -> &str {
        dispatch!(self, db => &db.name, &db.name, &db.name)
    }

    /// How many times mrt ended every session on this database (PostgreSQL copies it that
    /// way): a runner in another process compares it with what it saw last, and reconnects.
    pub fn sessions_ended(&self) -> u64 {
        use std::sync::atomic::Ordering::SeqCst;
        dispatch!(self, db => { let _ = db; 0 }, db.sessions_ended.load(SeqCst), db.sessions_ended.load(SeqCst))
    }

    /// Whether its server was marked gone ([`Server::mark_gone`]); never for SQLite.
    pub fn server_gone(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        dispatch!(self, db => { let _ = db; false }, db.server_gone.load(SeqCst), db.server_gone.load(SeqCst))
    }

    /// The database as a URL any client can connect with (a runner in another process, such as
    /// the Python worker): `sqlite:////tmp/mrt-x/mrt_x_1.db`,
    /// `postgresql://user:pass@host:5432/mrt_x_1`, `mysql://user:pass@host:3306/mrt_x_1`.
    /// This is the one place a password appears, because such a runner must log in: never print
    /// it; use [`TempDb::display_url`] in messages.
    pub fn url(&self) -> String {
        dispatch!(self, db => db.sqlalchemy_url(), db.sqlalchemy_url().to_string(), db.sqlalchemy_url().to_string())
    }

    /// Runs a migration script as a migration tool does (see [`ScriptOptions`]): several
    /// statements at once, PostgreSQL dollar quoting and `DO` blocks included, on one
    /// connection. Nothing of a failed script is kept when it ran in a transaction (except what
    /// the database commits implicitly, as MySQL does for DDL).
    pub async fn run_script(
        &self,
        script: &str,
        options: ScriptOptions<'_>,
    ) -> Result<(), ScriptFailure> {
        match &self.backend {
            Backend::Sqlite(db) => {
                let mut conn = db.conn().await.map_err(ScriptFailure::Script)?;
                script::run::<sqlx::Sqlite>(&mut conn, script, options).await
            }
            Backend::Postgres(db) => {
                let mut conn = db.pool().acquire().await.map_err(ScriptFailure::Script)?;
                script::run::<sqlx::Postgres>(&mut conn, script, options).await
            }
            Backend::Mysql(db) => {
                let mut conn = db.pool().acquire().await.map_err(ScriptFailure::Script)?;
                script::run::<sqlx::MySql>(&mut conn, script, options).await
            }
        }
    }

    /// The first column of every row `sql` returns, as text: what a tool's bookkeeping table
    /// says is applied.
    pub async fn first_column(&self, sql: &str) -> Result<Vec<String>, DbError> {
        let rows = match &self.backend {
            Backend::Sqlite(db) => match db.conn().await {
                Ok(mut conn) => script::first_column(&mut *conn, sql).await,
                Err(e) => Err(e),
            },
            Backend::Postgres(db) => script::first_column(&db.pool(), sql).await,
            Backend::Mysql(db) => script::first_column(&db.pool(), sql).await,
        };
        rows.map_err(|source| DbError::Query {
            dialect: self.dialect().as_str(),
            db: self.name().to_string(),
            context: "reading the migration bookkeeping".into(),
            source,
        })
    }

    /// Whether a step's runner can report this database's schema as a [`SchemaHint`] (SQLite),
    /// so the trial need not read it again over its own connection.
    pub fn takes_schema_hints(&self) -> bool {
        self.dialect() == Dialect::Sqlite
    }

    /// [`TempDb::url`] with the password replaced by `***`, for messages.
    pub fn display_url(&self) -> String {
        dispatch!(self, db => db.sqlalchemy_url(), db.display_url().to_string(), db.display_url().to_string())
    }

    /// The schema of every user table, view and trigger, except tables named in
    /// `ignore_tables` (e.g. `alembic_version`) and the triggers and indexes on them.
    pub async fn introspect(&self, ignore_tables: &[&str]) -> Result<Schema, DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::introspect(db, ignore_tables).await,
            Backend::Postgres(db) => postgres::introspect(db, ignore_tables).await,
            Backend::Mysql(db) => mysql::introspect(db, ignore_tables).await,
        }
    }

    /// Every row of `table`, ordered by primary key (or by all columns). SQLite: values typed by
    /// storage class. PostgreSQL/MySQL: integers as `Int`, floats as `Float`, booleans as `Bool`
    /// (PostgreSQL; MySQL has none), binary as `Bytes`, everything else (decimals, dates, times,
    /// UUIDs, JSON, enums, arrays, ...) as the server's canonical text, so values compare exactly.
    pub async fn read_rows(&self, table: &Table) -> Result<Vec<Row>, DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::read_rows(db, table).await,
            Backend::Postgres(db) => postgres::read_rows(db, table).await,
            Backend::Mysql(db) => mysql::read_rows(db, table).await,
        }
    }

    /// Insert `rows` (values in `table.columns` order) in one transaction, values bound as
    /// parameters. On error nothing is inserted and the error names the table and row.
    /// PostgreSQL casts each value to its column's type, so decimals, timestamps, UUIDs, JSON,
    /// enums and arrays can be given as `Value::Text`; MySQL converts them itself.
    pub async fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::insert_rows(db, table, rows).await,
            Backend::Postgres(db) => postgres::insert_rows(db, table, rows).await,
            Backend::Mysql(db) => mysql::insert_rows(db, table, rows).await,
        }
    }

    /// [`TempDb::insert_rows`] for many rows at once (a benchmark filling a table): on servers
    /// many rows per `INSERT`; SQLite, in process, already inserts one prepared row at a time
    /// at that speed.
    pub async fn fill_rows(&self, table: &Table, rows: &[Row]) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::insert_rows(db, table, rows).await,
            Backend::Postgres(db) => server_core::bulk_insert_rows(db, table, rows).await,
            Backend::Mysql(db) => server_core::bulk_insert_rows(db, table, rows).await,
        }
    }

    /// Apply `updates` to rows of `table` in one transaction (values as for [`insert_rows`]).
    /// An update that matches no row is an error naming the table and the update's position,
    /// and nothing is changed.
    ///
    /// [`insert_rows`]: TempDb::insert_rows
    pub async fn update_rows(&self, table: &Table, updates: &[RowUpdate]) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(db) => db.update_rows(table, updates).await,
            Backend::Postgres(db) => db.update_rows(table, updates).await,
            Backend::Mysql(db) => db.update_rows(table, updates).await,
        }
    }

    /// Delete every row of the given tables, in the given order (children first, so foreign
    /// keys hold), in one transaction. Nullable foreign keys that point at a table deleted
    /// earlier (a cycle) or at their own table are set to NULL first.
    pub async fn delete_all_rows(&self, tables_child_first: &[&Table]) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::delete_all_rows(db, tables_child_first).await,
            Backend::Postgres(db) => postgres::delete_all_rows(db, tables_child_first).await,
            Backend::Mysql(db) => mysql::delete_all_rows(db, tables_child_first).await,
        }
    }

    /// Close this handle's connections (so a SQLite file can be copied or removed, a PostgreSQL
    /// database used as a template). The handle stays usable: the next call reopens.
    pub async fn close(&self) {
        dispatch!(self, db => db.close().await, db.close().await, db.close().await)
    }
}
