//! SQLite "server": a temp directory holding one file per database. The directory (and so every
//! database in it) is removed on `cleanup()` or when the server is dropped, also while unwinding
//! from a panic, so a run leaves nothing behind in the system temp dir.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqliteSynchronous};
use tempfile::TempDir;

use crate::lazy_pool::LazyPool;
use crate::{DbError, TempDb};

pub(crate) const DIALECT: &str = "sqlite";

/// One SQLite database file and a lazily (re)opened connection pool on it.
#[derive(Debug)]
pub(crate) struct SqliteDb {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    /// Closed to copy the file or hand it to the Python worker, reopened on next use.
    pool: LazyPool<sqlx::Sqlite>,
}

impl SqliteDb {
    pub(crate) fn new(name: String, path: PathBuf) -> Self {
        // One connection: each SQLite connection re-parses the whole schema after another one
        // changed it, so a second connection would double that (O(tables)) cost per step.
        let pool = LazyPool::new(Self::options(&path), 1);
        SqliteDb { name, path, pool }
    }

    fn options(path: &Path) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true)
            // The journal mode is the file's own (the default rollback journal, or WAL if the
            // app's engine chose it): forcing one on each new connection fails "database is
            // locked" once the app has switched to WAL and the worker holds a connection.
            // Throwaway files: a sync per commit buys nothing.
            .synchronous(SqliteSynchronous::Off)
            // The Python worker may hold the write lock briefly while we read.
            .busy_timeout(Duration::from_secs(30))
    }

    pub(crate) fn pool(&self) -> SqlitePool {
        self.pool.get()
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn sqlalchemy_url(&self) -> String {
        // Four slashes for an absolute path: "sqlite:///" + "/tmp/...".
        format!("sqlite:///{}", self.path.display())
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

/// Creates, clones and drops isolated SQLite databases in a temp directory it owns.
#[derive(Debug)]
pub struct SqliteServer {
    run_id: String,
    dir_path: PathBuf,
    /// `None` once cleaned up.
    dir: Mutex<Option<TempDir>>,
    next: AtomicU64,
}

impl SqliteServer {
    /// A server for one mrt run. `run_id` becomes part of every database name
    /// (`mrt_<run_id>_<n>`), so it must be 1-32 ASCII letters, digits or underscores.
    pub fn new(run_id: &str) -> Result<Self, DbError> {
        let valid = !run_id.is_empty()
            && run_id.len() <= 32
            && run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(DbError::Invalid {
                dialect: DIALECT,
                db: format!("mrt_{run_id}_*"),
                message: "run id must be 1-32 ASCII letters, digits or underscores".into(),
            });
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("mrt-{}-", run_id.to_ascii_lowercase()))
            .tempdir()
            .map_err(|source| DbError::Io {
                dialect: DIALECT,
                what: "creating temp directory in".into(),
                path: std::env::temp_dir(),
                source,
            })?;
        Ok(SqliteServer {
            run_id: run_id.to_ascii_lowercase(),
            dir_path: dir.path().to_path_buf(),
            dir: Mutex::new(Some(dir)),
            next: AtomicU64::new(1),
        })
    }

    /// The directory holding this server's database files.
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    fn is_open(&self) -> bool {
        self.dir.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    fn new_db(&self) -> Result<SqliteDb, DbError> {
        if !self.is_open() {
            return Err(DbError::ServerClosed {
                dialect: DIALECT,
                run_id: self.run_id.clone(),
            });
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("mrt_{}_{n}", self.run_id);
        let path = self.dir_path.join(format!("{name}.db"));
        Ok(SqliteDb::new(name, path))
    }

    /// A new, empty database file.
    pub async fn create(&self) -> Result<TempDb, DbError> {
        let db = self.new_db()?;
        // Open once so the file exists before anyone else (the Python worker) looks for it.
        sqlx::query("SELECT 1")
            .execute(&db.pool())
            .await
            .map_err(|source| DbError::Connect {
                dialect: DIALECT,
                db: db.name.clone(),
                source,
            })?;
        Ok(TempDb::sqlite(db))
    }

    /// A snapshot copy of `source` (schema and rows), made with `VACUUM INTO`, which reads a
    /// consistent snapshot even while `source` has open connections.
    pub async fn clone_db(&self, source: &TempDb) -> Result<TempDb, DbError> {
        let src = source.as_sqlite()?;
        let db = self.new_db()?;
        let target = db.path.to_string_lossy().into_owned();
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&src.pool())
            .await
            .map_err(|e| src.query_error(format!("VACUUM INTO {}", db.name), e))?;
        Ok(TempDb::sqlite(db))
    }

    /// Close and delete one database (its file and any journal side files).
    pub async fn drop_database(&self, db: TempDb) -> Result<(), DbError> {
        let db = db.into_sqlite()?;
        db.close().await;
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut os = db.path.clone().into_os_string();
            os.push(suffix);
            let path = PathBuf::from(os);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(DbError::Io {
                        dialect: DIALECT,
                        what: format!("removing database {}:", db.name),
                        path,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Remove the temp directory and every database in it. Idempotent; afterwards `create` and
    /// `clone_db` fail. Handles that are still open keep working on Unix until closed, but their
    /// files are gone.
    pub fn cleanup(&self) -> Result<(), DbError> {
        let dir = self.dir.lock().unwrap_or_else(|e| e.into_inner()).take();
        match dir {
            Some(dir) => dir.close().map_err(|source| DbError::Io {
                dialect: DIALECT,
                what: "removing temp directory".into(),
                path: self.dir_path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }
}
