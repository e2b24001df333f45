//! Errors of the database layer. Every variant says which database (by its mrt-made name, never a
//! URL that could hold a password) and which table or statement, so a trial failure is actionable.

use std::path::PathBuf;

/// An error from creating, introspecting, reading or writing an mrt database.
#[derive(thiserror::Error, Debug)]
pub enum DbError {
    /// The directory or file behind a database could not be created, copied or removed.
    #[error("{dialect} {what} {}: {source}", path.display())]
    Io {
        dialect: &'static str,
        /// What was being done, e.g. "creating temp directory".
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Opening a connection failed.
    #[error("{dialect} database {db}: connecting: {source}")]
    Connect {
        dialect: &'static str,
        db: String,
        #[source]
        source: sqlx::Error,
    },
    /// A statement failed; `context` names the table or statement.
    #[error("{dialect} database {db}: {context}: {source}")]
    Query {
        dialect: &'static str,
        db: String,
        context: String,
        #[source]
        source: sqlx::Error,
    },
    /// Inserting a row failed (constraint violation, type mismatch, ...).
    #[error("{dialect} database {db}: inserting row {row_index} into table {table}: {source}")]
    Insert {
        dialect: &'static str,
        db: String,
        table: String,
        /// Zero-based position of the row in the slice given to `insert_rows`.
        row_index: usize,
        #[source]
        source: sqlx::Error,
    },
    /// The database holds something mrt cannot model (e.g. SQL it cannot parse).
    #[error("{dialect} database {db}: introspecting {object}: {message}")]
    Introspect {
        dialect: &'static str,
        db: String,
        object: String,
        message: String,
    },
    /// The caller passed something unusable (row of the wrong width, bad run id, ...).
    #[error("{dialect} database {db}: {message}")]
    Invalid {
        dialect: &'static str,
        db: String,
        message: String,
    },
    /// A database server could not be reached or refused the login or a server-level statement
    /// (CREATE/DROP DATABASE). `server` is `host:port`; the message never holds a password.
    #[error("{dialect} server {server}: {message}")]
    Server {
        dialect: &'static str,
        server: String,
        message: String,
    },
    /// The server was already cleaned up; no more databases can be made on it.
    #[error("{dialect} server for run {run_id} was already cleaned up")]
    ServerClosed {
        dialect: &'static str,
        run_id: String,
    },
}
