//! Database backends per dialect (SQLite, PostgreSQL, MySQL): isolated databases, schema
//! introspection, row I/O and schema diff. Kept apart so the trial logic never speaks SQL itself.
//!
//! The model ([`Schema`], [`Value`]) and the diffs ([`diff_schemas`], [`diff_rows`]) are
//! dialect-neutral; everything that speaks a dialect lives in its own module (`sqlite`).

mod diff;
mod error;
mod model;
pub mod normalize;
mod sqlite;
mod value;

use std::fmt;

use serde::Serialize;

pub use diff::rows::{diff_rows, RowDiffKind, RowDifference};
pub use diff::schema::{diff_schemas, SchemaDifference};
pub use error::DbError;
pub use model::{
    CheckConstraint, Column, ForeignKey, Index, Schema, Table, Trigger, UniqueConstraint, View,
};
pub use sqlite::SqliteServer;
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

/// An isolated database mrt created. Dropping the handle does NOT delete the database: call the
/// server's `drop_database` (the SQLite server also removes everything on `cleanup`/drop).
#[derive(Debug)]
pub struct TempDb {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::SqliteDb),
}

impl TempDb {
    pub(crate) fn sqlite(db: sqlite::SqliteDb) -> Self {
        TempDb {
            backend: Backend::Sqlite(db),
        }
    }

    /// The SQLite backend, or an error naming this database when it is another dialect.
    pub(crate) fn as_sqlite(&self) -> Result<&sqlite::SqliteDb, DbError> {
        match &self.backend {
            Backend::Sqlite(db) => Ok(db),
        }
    }

    pub(crate) fn into_sqlite(self) -> Result<sqlite::SqliteDb, DbError> {
        match self.backend {
            Backend::Sqlite(db) => Ok(db),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match &self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The database's name, `mrt_<run>_<n>`.
    pub fn name(&self) -> &str {
        match &self.backend {
            Backend::Sqlite(db) => &db.name,
        }
    }

    /// SQLAlchemy URL for the Python worker, e.g. `sqlite:////tmp/mrt-x/mrt_x_1.db`.
    pub fn sqlalchemy_url(&self) -> String {
        match &self.backend {
            Backend::Sqlite(db) => db.sqlalchemy_url(),
        }
    }

    /// The schema of every user table, view and trigger, except tables named in
    /// `ignore_tables` (e.g. `alembic_version`) and the triggers and indexes on them.
    pub async fn introspect(&self, ignore_tables: &[&str]) -> Result<Schema, DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::introspect(db, ignore_tables).await,
        }
    }

    /// Every row of `table`, values typed as stored, ordered by primary key (or by all columns).
    pub async fn read_rows(&self, table: &Table) -> Result<Vec<Row>, DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::read_rows(db, table).await,
        }
    }

    /// Insert `rows` (values in `table.columns` order) in one transaction, values bound as
    /// parameters. On error nothing is inserted and the error names the table and row.
    pub async fn insert_rows(&self, table: &Table, rows: &[Row]) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::insert_rows(db, table, rows).await,
        }
    }

    /// Delete every row of the given tables, in the given order (children first, so foreign
    /// keys hold), in one transaction.
    pub async fn delete_all_rows(&self, tables_child_first: &[&Table]) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::delete_all_rows(db, tables_child_first).await,
        }
    }

    /// Close the connections so the file can be copied or removed. The handle stays usable: the
    /// next call reopens.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(db) => db.close().await,
        }
    }
}
