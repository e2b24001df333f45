//! Snapshots: copies of a database state kept after the run, so a later process (a nextest test,
//! the next `mrt test`) starts from them instead of replaying migrations. Where a snapshot lives
//! is the dialect's business: a SQLite file in the caller's folder, a PostgreSQL template database
//! `mrt_snap_<key>` on the server. Both are made whole before they get their final name (a file
//! renamed into place, a `CREATE DATABASE` that commits or leaves nothing), so a half-written
//! snapshot is never found. MySQL has no database copy that is cheaper than its table-by-table
//! clone, and no atomic way to name a finished one: it keeps none.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{DbError, Server, TempDb};

/// The server-side name of a snapshot database (PostgreSQL).
pub const SNAPSHOT_PREFIX: &str = "mrt_snap_";

/// One snapshot a server keeps: its key and size on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub key: String,
    pub bytes: u64,
}

/// A snapshot key: lower-case hex, short enough for a database name.
fn check_key(dialect: &'static str, key: &str) -> Result<(), DbError> {
    let ok = !key.is_empty()
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if ok {
        return Ok(());
    }
    Err(DbError::Invalid {
        dialect,
        db: format!("{SNAPSHOT_PREFIX}{key}"),
        message: "a snapshot key is 1-40 lower-case hex digits".into(),
    })
}

/// The file of a SQLite snapshot in `dir`.
pub fn sqlite_snapshot_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.sqlite"))
}

static TMP: AtomicU64 = AtomicU64::new(0);

impl Server {
    /// Whether this server can keep snapshots (SQLite and PostgreSQL).
    pub fn keeps_snapshots(&self) -> bool {
        !matches!(self, Server::Mysql(_))
    }

    /// What a snapshot's key must say about the server so that no state is reused across
    /// servers or versions: the dialect, its version and (servers) where it is.
    pub async fn identity(&self) -> Result<String, DbError> {
        match self {
            Server::Sqlite(_) => Ok(format!("sqlite {}", crate::sqlite::library_version().await)),
            Server::Postgres(s) => s.identity().await,
            Server::Mysql(s) => Ok(s.label()),
        }
    }

    /// Keeps a copy of `source` as snapshot `key` (in `dir` for SQLite, on the server for
    /// PostgreSQL) and returns its size. PostgreSQL ends the sessions on `source` to copy it
    /// ([`TempDb::sessions_ended`] counts it). A snapshot that already exists is kept as it is.
    pub async fn save_snapshot(
        &self,
        source: &TempDb,
        key: &str,
        dir: &Path,
    ) -> Result<u64, DbError> {
        check_key(self.dialect().as_str(), key)?;
        match self {
            Server::Sqlite(_) => save_sqlite(source, key, dir).await,
            Server::Postgres(s) => s.save_snapshot(source, key).await,
            Server::Mysql(_) => Err(unsupported()),
        }
    }

    /// A new database `mrt_<run>_<n>` holding snapshot `key`'s schema and rows.
    pub async fn restore_snapshot(&self, key: &str, dir: &Path) -> Result<TempDb, DbError> {
        check_key(self.dialect().as_str(), key)?;
        match self {
            Server::Sqlite(s) => s.restore_file(&sqlite_snapshot_path(dir, key)).await,
            Server::Postgres(s) => s.restore_snapshot(key).await,
            Server::Mysql(_) => Err(unsupported()),
        }
    }

    /// The snapshots this server keeps (SQLite: the files in `dir`).
    pub async fn snapshots(&self, dir: &Path) -> Result<Vec<SnapshotInfo>, DbError> {
        match self {
            Server::Sqlite(_) => sqlite_snapshots(dir, true),
            Server::Postgres(s) => s.snapshots().await,
            Server::Mysql(_) => Ok(Vec::new()),
        }
    }

    /// The keys of the snapshots this server keeps, without their sizes (sizing every
    /// PostgreSQL snapshot stats all its files; a SQLite one, its file, in every test process).
    pub async fn snapshot_keys(&self, dir: &Path) -> Result<Vec<String>, DbError> {
        match self {
            Server::Postgres(s) => s.snapshot_keys().await,
            Server::Sqlite(_) => Ok(sqlite_snapshots(dir, false)?
                .into_iter()
                .map(|s| s.key)
                .collect()),
            _ => Ok(self
                .snapshots(dir)
                .await?
                .into_iter()
                .map(|s| s.key)
                .collect()),
        }
    }

    /// Whether a finished database can be handed to the next process instead of dropped
    /// (PostgreSQL: a rename, see `postgres::handoff`).
    pub fn hands_off(&self) -> bool {
        matches!(self, Server::Postgres(_))
    }

    /// Hands `db` (at the state of snapshot key `key`) to whichever process claims that key
    /// next, and returns the name it waits under; `Ok(None)` when it stays this run's, to drop
    /// as usual.
    pub async fn hand_off(&self, db: &TempDb, key: &str) -> Result<Option<String>, DbError> {
        check_key(self.dialect().as_str(), key)?;
        match self {
            Server::Postgres(s) => s.hand_off(db, key).await,
            _ => Ok(None),
        }
    }

    /// The URL a later process connects to this server with (credentials included: pass it
    /// only to a process of the same user, never print it); `None` for SQLite.
    pub fn connect_url(&self) -> Option<String> {
        match self {
            Server::Postgres(s) => Some(s.0.admin_url()),
            _ => None,
        }
    }

    /// A database another process handed off at the first of `keys` that has one, now this
    /// run's, with that key.
    pub async fn claim(&self, keys: &[String]) -> Result<Option<(TempDb, String)>, DbError> {
        for key in keys {
            check_key(self.dialect().as_str(), key)?;
        }
        match self {
            Server::Postgres(s) => s.claim(keys).await,
            _ => Ok(None),
        }
    }

    /// Removes snapshot `key`. A PostgreSQL snapshot being copied at that moment is kept (the
    /// server refuses to drop a database in use); `Ok(false)` says so.
    pub async fn drop_snapshot(&self, key: &str, dir: &Path) -> Result<bool, DbError> {
        check_key(self.dialect().as_str(), key)?;
        match self {
            Server::Sqlite(_) => {
                let path = sqlite_snapshot_path(dir, key);
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
                    Err(source) => Err(io("removing snapshot", path, source)),
                }
            }
            Server::Postgres(s) => s.drop_snapshot(key).await,
            Server::Mysql(_) => Ok(true),
        }
    }
}

/// Drops the databases in `names` handed off on the server at `url` that nobody claimed (see
/// [`Server::hand_off`]); names without the hand-off prefix are never touched.
pub async fn drop_unclaimed(url: &str, names: &[String]) -> Result<(), DbError> {
    let parsed = crate::server_url::ServerUrl::parse(url)?;
    match parsed.dialect {
        crate::Dialect::Postgres => crate::postgres::drop_unclaimed(parsed, names).await,
        _ => Ok(()),
    }
}

/// The handed-off databases waiting on the server at `url` (none but on PostgreSQL).
pub async fn handed_off(url: &str) -> Result<Vec<String>, DbError> {
    let parsed = crate::server_url::ServerUrl::parse(url)?;
    match parsed.dialect {
        crate::Dialect::Postgres => crate::postgres::waiting(parsed).await,
        _ => Ok(Vec::new()),
    }
}

fn unsupported() -> DbError {
    DbError::Invalid {
        dialect: "mysql",
        db: "(snapshot)".into(),
        message: "MySQL keeps no snapshots".into(),
    }
}

fn io(what: &str, path: PathBuf, source: std::io::Error) -> DbError {
    DbError::Io {
        dialect: "sqlite",
        what: what.into(),
        path,
        source,
    }
}

/// `VACUUM INTO` a temporary name in `dir`, then a rename onto the final one: a reader sees the
/// old file, the new file or none, never part of one.
async fn save_sqlite(source: &TempDb, key: &str, dir: &Path) -> Result<u64, DbError> {
    let src = source.as_sqlite()?;
    let path = sqlite_snapshot_path(dir, key);
    if let Ok(meta) = std::fs::metadata(&path) {
        return Ok(meta.len());
    }
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir.to_path_buf(), e))?;
    let n = TMP.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{key}.{}-{n}.tmp", std::process::id()));
    let target = tmp.to_string_lossy().into_owned();
    let written = match src.conn().await {
        Ok(mut conn) => {
            (sqlx::query("VACUUM INTO ?").bind(target))
                .execute(&mut *conn)
                .await
        }
        Err(e) => Err(e),
    }
    .map_err(|e| src.query_error(format!("VACUUM INTO snapshot {key}"), e));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let size = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
    if let Err(e) = std::fs::rename(&tmp, &path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("naming snapshot", path, e));
    }
    Ok(size)
}

/// The finished snapshot files in `dir` (temporary ones start with a dot); their sizes when
/// `sized` (else 0).
fn sqlite_snapshots(dir: &Path, sized: bool) -> Result<Vec<SnapshotInfo>, DbError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("listing snapshots in", dir.to_path_buf(), e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_suffix(".sqlite") else {
            continue;
        };
        if check_key("sqlite", key).is_err() {
            continue;
        }
        let bytes = match sized {
            true => entry.metadata().map(|m| m.len()).unwrap_or(0),
            false => 0,
        };
        out.push(SnapshotInfo {
            key: key.to_string(),
            bytes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_sqlite_snapshot_restores_schema_and_rows_and_is_listed() {
        let dir = tempfile::tempdir().expect("dir");
        let server = Server::sqlite("snaptest").expect("server");
        runtime().block_on(async {
            let db = server.create().await.expect("create");
            let script =
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x');";
            let options = crate::ScriptOptions {
                transaction: true,
                then: &[],
            };
            assert!(db.run_script(script, options).await.is_ok());
            let bytes = server
                .save_snapshot(&db, "ab12", dir.path())
                .await
                .expect("save");
            assert!(bytes > 0);
            // Saving again keeps the one there.
            server
                .save_snapshot(&db, "ab12", dir.path())
                .await
                .expect("save again");
            let copy = server
                .restore_snapshot("ab12", dir.path())
                .await
                .expect("restore");
            assert_ne!(copy.name(), db.name());
            let value = copy
                .first_column("SELECT v FROM t WHERE id = 1")
                .await
                .expect("read");
            assert_eq!(value, ["x"]);
            let listed = server.snapshots(dir.path()).await.expect("list");
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].key, "ab12");
            // No temporary file is left next to it.
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .expect("read")
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["ab12.sqlite"]);
            assert!(server
                .drop_snapshot("ab12", dir.path())
                .await
                .expect("drop"));
            assert!(server.restore_snapshot("ab12", dir.path()).await.is_err());
            assert!(server
                .save_snapshot(&db, "NOT-HEX", dir.path())
                .await
                .is_err());
            server.cleanup().await.expect("cleanup");
        });
    }
}
