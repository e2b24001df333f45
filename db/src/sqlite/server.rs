//! SQLite "server": a temp directory holding one file per database. The directory (and so every
//! database in it) is removed on `cleanup()` or when the server is dropped, also while unwinding
//! from a panic, so a run leaves nothing behind in the system temp dir.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteSynchronous};
use sqlx::Connection as _;
use tempfile::TempDir;
use tokio::sync::{MappedMutexGuard, MutexGuard};

use super::reads::LastRead;
use super::{ddl_watch, library};
use crate::{DbError, TempDb};

pub(crate) const DIALECT: &str = "sqlite";

/// One SQLite database file and its one connection, opened on first use.
#[derive(Debug)]
pub(crate) struct SqliteDb {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    /// One connection, not a pool: each SQLite connection re-parses the whole schema after
    /// another one changed it (O(tables) per step), and a pool of one pings its connection on
    /// every release, which the next call waits for (~0.1 ms per call). Closed to copy the file
    /// or hand it to the Python worker, reopened on next use.
    conn: tokio::sync::Mutex<Option<SqliteConnection>>,
    /// This handle's id in [`ddl_watch`], which its connection reports to.
    pub(crate) watch_id: usize,
    /// The last schema read, for the next one to read only what changed since.
    pub(crate) last_read: Mutex<Option<LastRead>>,
}

impl SqliteDb {
    pub(crate) fn new(name: String, path: PathBuf) -> Self {
        SqliteDb {
            name,
            path,
            conn: tokio::sync::Mutex::new(None),
            watch_id: ddl_watch::new_id(),
            last_read: Mutex::new(None),
        }
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

    /// The connection, opened (and watched, see [`ddl_watch`]) when there is none; held until
    /// the guard is dropped.
    pub(crate) async fn conn(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>, sqlx::Error> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            library::configure();
            let mut conn = SqliteConnection::connect_with(&Self::options(&self.path)).await?;
            ddl_watch::watch(&mut conn, self.watch_id).await?;
            *guard = Some(conn);
        }
        MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| sqlx::Error::Protocol("the connection was just opened".into()))
    }

    pub(crate) async fn close(&self) {
        let conn = self.conn.lock().await.take();
        if let Some(conn) = conn {
            let _ = conn.close().await;
        }
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

impl Drop for SqliteDb {
    fn drop(&mut self) {
        ddl_watch::forget(self.watch_id);
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
    /// An exclusive lock on `<dir>/.lease` while the run lives (the kernel drops it when the
    /// process dies, however it dies): `mrt clean --db sqlite` removes only unlocked folders.
    _lease: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// The lease file inside a run's temporary folder (see [`SqliteServer::_lease`]).
const LEASE: &str = ".lease";

fn take_lease(dir: &Path) -> Option<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::File::create(dir.join(LEASE)).ok()?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).ok()
}

/// For `mrt clean --db sqlite`: removes the temporary folders (`mrt-<run>-XXXXXX` in the temp
/// dir) of SQLite runs that were killed, and keeps those of runs still going (their lease is
/// locked). `run_prefix` limits it to runs whose id starts with it.
pub fn drop_sqlite_leftovers(run_prefix: &str) -> Result<crate::Leftovers, DbError> {
    let tmp = std::env::temp_dir();
    let io = |source| DbError::Io {
        dialect: DIALECT,
        what: "listing".into(),
        path: tmp.clone(),
        source,
    };
    let mut found = crate::Leftovers::default();
    let prefix = run_prefix.to_ascii_lowercase();
    for entry in std::fs::read_dir(&tmp).map_err(io)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = leftover_run(&name) else {
            continue;
        };
        if !run.starts_with(&prefix) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        match take_lease(&path) {
            Some(lease) => {
                drop(lease);
                if std::fs::remove_dir_all(&path).is_ok() {
                    found.dropped.push(path.display().to_string());
                }
            }
            None => found.live.push(path.display().to_string()),
        }
    }
    found.dropped.sort();
    found.live.sort();
    Ok(found)
}

/// The run id of a folder named like mrt's (`mrt-<run>-<6 random characters>`), else `None`.
fn leftover_run(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("mrt-")?;
    let (run, random) = rest.rsplit_once('-')?;
    let run_ok = !run.is_empty()
        && run
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let random_ok = random.len() == 6 && random.chars().all(|c| c.is_ascii_alphanumeric());
    (run_ok && random_ok).then_some(run)
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
        let lease = take_lease(dir.path());
        Ok(SqliteServer {
            run_id: run_id.to_ascii_lowercase(),
            dir_path: dir.path().to_path_buf(),
            dir: Mutex::new(Some(dir)),
            next: AtomicU64::new(1),
            _lease: lease,
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
        let opened = match db.conn().await {
            Ok(mut conn) => sqlx::query("SELECT 1").execute(&mut *conn).await,
            Err(e) => Err(e),
        };
        opened.map_err(|source| DbError::Connect {
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
        let copied = match src.conn().await {
            Ok(mut conn) => {
                sqlx::query("VACUUM INTO ?")
                    .bind(target)
                    .execute(&mut *conn)
                    .await
            }
            Err(e) => Err(e),
        };
        copied.map_err(|e| src.query_error(format!("VACUUM INTO {}", db.name), e))?;
        Ok(TempDb::sqlite(db))
    }

    /// A new database holding a copy of the database file at `path` (a snapshot). A file
    /// removed meanwhile is an error; an open one is copied whole (it is never written to).
    pub async fn restore_file(&self, path: &Path) -> Result<TempDb, DbError> {
        let db = self.new_db()?;
        std::fs::copy(path, &db.path).map_err(|source| DbError::Io {
            dialect: DIALECT,
            what: format!("restoring {} from", db.name),
            path: path.to_path_buf(),
            source,
        })?;
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

/// The SQLite library's version ("3.46.0"), read once from an in-memory database.
pub(crate) async fn library_version() -> String {
    use sqlx::Connection;
    static VERSION: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    VERSION
        .get_or_init(|| async {
            library::configure();
            let Ok(mut conn) = sqlx::SqliteConnection::connect("sqlite::memory:").await else {
                return "unknown".to_string();
            };
            let version: Result<String, _> = sqlx::query_scalar("SELECT sqlite_version()")
                .fetch_one(&mut conn)
                .await;
            let _ = conn.close().await;
            version.unwrap_or_else(|_| "unknown".into())
        })
        .await
        .clone()
}

#[cfg(test)]
mod leftover_tests {
    use super::*;

    #[test]
    fn only_unlocked_folders_of_mrt_runs_are_removed() {
        assert_eq!(leftover_run("mrt-3ab9_x-Kq0abc"), Some("3ab9_x"));
        assert_eq!(leftover_run("mrt-abc-toolong7"), None);
        assert_eq!(leftover_run("mrtx-abc-Kq0abc"), None);
        assert_eq!(leftover_run("mrt-ABC-Kq0abc"), None);
        let live = SqliteServer::new("leasetestlive").expect("server");
        // A killed run: its folder is there, nobody holds its lease.
        let dead = tempfile::Builder::new()
            .prefix("mrt-leasetestdead-")
            .tempdir()
            .expect("dir")
            .keep();
        std::fs::write(dead.join("mrt_leasetestdead_1.db"), "x").expect("write");
        let found = drop_sqlite_leftovers("leasetest").expect("clean");
        assert_eq!(found.dropped, [dead.display().to_string()]);
        assert!(!dead.exists());
        assert_eq!(found.live, [live.dir().display().to_string()]);
        assert!(live.dir().exists());
    }
}
