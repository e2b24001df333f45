//! Snapshots of database states shared by processes and runs (DESIGN.md, "Snapshots"). A state
//! (the set of revisions applied) is named by content: the framework, its environment files, the
//! server and its version, what runs the steps, and every file of every revision in the state.
//! Editing a revision changes the key of every state that holds it and of no other, so a stale
//! snapshot is never found. Saving and restoring are the database layer's (a SQLite file renamed
//! into place, a PostgreSQL template database); here is which states exist, which to keep, which
//! one a trial starts from, and the size cap.

use mrt_db::{Server, TempDb};
use mrt_migrations::{Framework, RevisionGraph};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// Where snapshots are kept and how much room they may take.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// The cache folder; snapshots go in its `snapshots/` folder, one folder per server.
    pub dir: PathBuf,
    /// Least recently used snapshots beyond this size are removed at the end of a run.
    pub max_bytes: u64,
}

/// Bumped when what a snapshot holds or how it is named changes.
const FORMAT: &str = "mrt-snapshot-2";

/// The content of the revisions, hashed once per run.
pub struct Contents {
    /// Per revision: its id and its scripts as loaded (SQL files) or the bytes of its files.
    revisions: HashMap<String, [u8; 32]>,
    /// The framework and the files every step reads (env.py, settings).
    environment: [u8; 32],
}

impl Contents {
    pub fn read(framework: &Framework, graph: &RevisionGraph) -> Contents {
        let revisions = graph
            .ordered()
            .map(|rev| {
                let mut hash = Sha256::new();
                hash.update(rev.id.as_bytes());
                match framework.loaded_scripts(rev) {
                    // Already read (a test process under nextest would read them twice).
                    Some(scripts) => {
                        for (text, transactional) in scripts {
                            hash.update([0, u8::from(transactional)]);
                            hash.update(text);
                        }
                    }
                    None => {
                        for file in framework.files(rev) {
                            hash.update([0]);
                            hash.update(std::fs::read(&file).unwrap_or_default());
                        }
                    }
                }
                (rev.id.clone(), hash.finalize().into())
            })
            .collect();
        let mut hash = Sha256::new();
        hash.update(FORMAT);
        hash.update(framework.name());
        hash.update(framework.bookkeeping_tables().join(","));
        for file in framework.environment_files() {
            hash.update([0]);
            hash.update(file.to_string_lossy().as_bytes());
            hash.update(std::fs::read(&file).unwrap_or_default());
        }
        Contents {
            revisions,
            environment: hash.finalize().into(),
        }
    }
}

/// One server's snapshots, as one run sees them.
pub struct PoolSnapshots {
    /// The folder of this server's snapshots (SQLite files, PostgreSQL use times).
    dir: PathBuf,
    /// Environment, server and runner, hashed: every key starts from it.
    prefix: [u8; 32],
    contents: std::sync::Arc<Contents>,
    /// Keys known to exist: listed at the start, then saved or restored by this run.
    known: Mutex<HashSet<String>>,
    /// Keys that failed to restore (removed by another process): not tried again.
    gone: Mutex<HashSet<String>>,
    /// Save the state before a trial when this many revisions are applied, or a multiple.
    stride: usize,
    /// What restoring costs, in revisions replayed: below it, replaying is cheaper.
    restore_cost: usize,
    max_bytes: u64,
    /// Whether finished databases go to the next process instead of being dropped (see
    /// [`PoolSnapshots::hands_off`]).
    hand_off: bool,
    /// Restored and saved by this run, for the run's last line.
    pub restored: std::sync::atomic::AtomicUsize,
    pub saved: std::sync::atomic::AtomicUsize,
    /// Databases this run took over from an earlier process, and handed to a later one.
    pub claimed: std::sync::atomic::AtomicUsize,
    pub handed: std::sync::atomic::AtomicUsize,
}

/// A state a database can be restored to.
pub struct Found {
    pub key: String,
    pub state: BTreeSet<String>,
}

impl PoolSnapshots {
    /// Reads which snapshots the server keeps. `driver` names what runs the steps (the
    /// framework's version and interpreter).
    pub async fn open(
        server: &Server,
        cache: &CacheSettings,
        contents: std::sync::Arc<Contents>,
        driver: &str,
    ) -> Result<PoolSnapshots, mrt_db::DbError> {
        let identity = server.identity().await?;
        let dir = cache.dir.join("snapshots").join(folder_name(&identity));
        let mut hash = Sha256::new();
        hash.update(contents.environment);
        hash.update(identity.as_bytes());
        hash.update([0]);
        hash.update(driver.as_bytes());
        hash.update([0]);
        hash.update(env!("CARGO_PKG_VERSION"));
        let known = server.snapshot_keys(&dir).await?.into_iter().collect();
        let (stride, restore_cost) = match server.dialect() {
            // A file copy: every state is worth keeping and restoring.
            mrt_db::Dialect::Sqlite => (1, 1),
            // `CREATE DATABASE ... TEMPLATE` takes ~0.25 s and ~8 MB whatever the state.
            _ => (10, 25),
        };
        Ok(PoolSnapshots {
            dir,
            prefix: hash.finalize().into(),
            contents,
            known: Mutex::new(known),
            gone: Mutex::new(HashSet::new()),
            stride,
            restore_cost,
            max_bytes: cache.max_bytes,
            hand_off: server.hands_off() && one_test_per_process(),
            restored: Default::default(),
            saved: Default::default(),
            claimed: Default::default(),
            handed: Default::default(),
        })
    }

    /// The key of a state: the prefix and the sum of its revisions' hashes (a set has no
    /// order, and a sum needs none).
    pub fn key<'a>(&self, state: impl IntoIterator<Item = &'a str>) -> String {
        let mut sum = [0u8; 32];
        for rev in state {
            if let Some(h) = self.contents.revisions.get(rev) {
                add(&mut sum, h);
            }
        }
        let mut hash = Sha256::new();
        hash.update(self.prefix);
        hash.update(sum);
        let digest = hash.finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn exists(&self, key: &str) -> bool {
        let gone = self.gone.lock().map(|g| g.contains(key)).unwrap_or(true);
        !gone && self.known.lock().map(|k| k.contains(key)).unwrap_or(false)
    }

    /// The largest saved state inside `target` with more revisions than `have` plus what a
    /// restore costs: `target` itself, or everything up to one of its revisions.
    pub fn best(
        &self,
        graph: &RevisionGraph,
        target: &BTreeSet<&str>,
        have: Option<usize>,
    ) -> Option<Found> {
        let more_than = match have {
            Some(have) => have + self.restore_cost,
            None => 0,
        };
        (self.inside(graph, target, more_than).iter())
            .map(|state| self.found(state))
            .find(|found| self.exists(&found.key))
    }

    /// The states a database for `target` can start from, largest first, with more than
    /// `more_than` revisions: `target` itself, then everything up to one of its revisions.
    fn inside<'a>(
        &self,
        graph: &'a RevisionGraph,
        target: &BTreeSet<&'a str>,
        more_than: usize,
    ) -> Vec<BTreeSet<&'a str>> {
        if target.len() <= more_than {
            return Vec::new();
        }
        let mut states: Vec<BTreeSet<&str>> = target
            .iter()
            .filter_map(|rev| {
                let mut state = graph.ancestors(rev)?;
                state.insert(rev);
                Some(state)
            })
            .filter(|state| state.len() < target.len() && state.len() > more_than)
            .collect();
        states.sort_by_key(|state| std::cmp::Reverse(state.len()));
        states.insert(0, target.clone());
        states
    }

    fn found(&self, state: &BTreeSet<&str>) -> Found {
        Found {
            key: self.key(state.iter().copied()),
            state: state.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Whether finished databases go to the next process: under `cargo nextest run` (one
    /// process per test, one after another), on a server that can rename a database.
    pub fn hands_off(&self) -> bool {
        self.hand_off
    }

    /// The states inside `target` worth taking over from another process: more revisions
    /// than `have`, and than a snapshot restore would give less its cost.
    pub fn claimable(
        &self,
        graph: &RevisionGraph,
        target: &BTreeSet<&str>,
        have: usize,
    ) -> Vec<Found> {
        let states: Vec<Found> = (self.inside(graph, target, have).iter())
            .map(|state| self.found(state))
            .collect();
        // Largest first: the first snapshot worth restoring is the one `best` would pick.
        let restorable = (states.iter())
            .find(|f| f.state.len() > have + self.restore_cost && self.exists(&f.key))
            .map_or(0, |f| f.state.len() - self.restore_cost);
        (states.into_iter())
            .filter(|f| f.state.len() > restorable)
            .collect()
    }

    /// A new database at a saved state; `None` (and the key forgotten) when the snapshot went
    /// away meanwhile.
    pub async fn restore(&self, server: &Server, key: &str) -> Option<TempDb> {
        match server.restore_snapshot(key, &self.dir).await {
            Ok(db) => {
                self.touch(key);
                self.restored
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(db)
            }
            Err(_) => {
                if let Ok(mut gone) = self.gone.lock() {
                    gone.insert(key.to_string());
                }
                None
            }
        }
    }

    /// Whether the state before a trial should be kept: every `stride`-th state, if no
    /// snapshot of it exists.
    pub fn wants(&self, state: &BTreeSet<&str>) -> Option<String> {
        if state.is_empty() || !state.len().is_multiple_of(self.stride) {
            return None;
        }
        let key = self.key(state.iter().copied());
        (!self.exists(&key)).then_some(key)
    }

    /// Keeps `db` as snapshot `key`. A failure only costs later runs time: it is not an error.
    pub async fn save(&self, server: &Server, db: &TempDb, key: &str) {
        if server.save_snapshot(db, key, &self.dir).await.is_ok() {
            self.touch(key);
            self.saved
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut known) = self.known.lock() {
                known.insert(key.to_string());
            }
        }
    }

    /// Marks a snapshot as used now (least recently used ones go first): a SQLite snapshot's
    /// own file, a stamp file for one on a server.
    fn touch(&self, key: &str) {
        let _ = std::fs::create_dir_all(&self.dir);
        let path = self.stamp(key);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        if let Ok(file) = file {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    fn stamp(&self, key: &str) -> PathBuf {
        let sqlite = mrt_db::sqlite_snapshot_path(&self.dir, key);
        if sqlite.exists() {
            sqlite
        } else {
            self.dir.join(format!("{key}.used"))
        }
    }

    /// Removes the least recently used snapshots until the rest fit in the cap. One process
    /// at a time (a lock file); a snapshot being restored is kept by the server. A run that
    /// saved nothing grew nothing: it skips the sizing, which on PostgreSQL stats every file of
    /// every snapshot (~20 ms per process under nextest).
    pub async fn evict(&self, server: &Server) {
        if self.saved.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return;
        }
        let Some(_lock) = lock(&self.dir) else {
            return;
        };
        let Ok(all) = server.snapshots(&self.dir).await else {
            return;
        };
        let mut total: u64 = all.iter().map(|s| s.bytes).sum();
        if total <= self.max_bytes {
            return;
        }
        let mut by_use: Vec<(SystemTime, &mrt_db::SnapshotInfo)> =
            all.iter().map(|s| (self.last_used(&s.key), s)).collect();
        by_use.sort_by_key(|(used, _)| *used);
        for (_, snapshot) in by_use {
            if total <= self.max_bytes {
                break;
            }
            if let Ok(true) = server.drop_snapshot(&snapshot.key, &self.dir).await {
                total = total.saturating_sub(snapshot.bytes);
                let _ = std::fs::remove_file(self.dir.join(format!("{}.used", snapshot.key)));
                if let Ok(mut known) = self.known.lock() {
                    known.remove(&snapshot.key);
                }
            }
        }
    }

    fn last_used(&self, key: &str) -> SystemTime {
        std::fs::metadata(self.stamp(key))
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// `cargo nextest run` sets `NEXTEST_RUN_ID` in every test process; `MRT_HAND_OFF=off` turns the
/// hand-off off (to compare).
fn one_test_per_process() -> bool {
    std::env::var_os("NEXTEST_RUN_ID").is_some()
        && std::env::var("MRT_HAND_OFF").map_or(true, |v| v != "off")
}

/// An exclusive lock on `<dir>/.lock`, if no other process holds it.
fn lock(dir: &Path) -> Option<std::fs::File> {
    std::fs::create_dir_all(dir).ok()?;
    let file = std::fs::File::create(dir.join(".lock")).ok()?;
    file.try_lock().ok()?;
    Some(file)
}

/// Adds two 256-bit numbers (little-endian), wrapping.
fn add(sum: &mut [u8; 32], h: &[u8; 32]) {
    let mut carry = 0u16;
    for (s, b) in sum.iter_mut().zip(h) {
        let v = u16::from(*s) + u16::from(*b) + carry;
        *s = (v & 0xff) as u8;
        carry = v >> 8;
    }
}

/// A folder name for a server: its identity with anything but letters, digits, dots and
/// dashes replaced.
fn folder_name(identity: &str) -> String {
    identity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Removes every snapshot in the cache folder and, for each server URL, its snapshot
/// databases; returns what was removed, for `mrt clean --snapshots`.
pub async fn remove_all(cache: &Path, servers: &[Server]) -> Result<Vec<String>, mrt_db::DbError> {
    let mut removed = Vec::new();
    for server in servers {
        let identity = server.identity().await?;
        let dir = cache.join("snapshots").join(folder_name(&identity));
        for snapshot in server.snapshots(&dir).await? {
            if server.drop_snapshot(&snapshot.key, &dir).await? {
                let kind = server.dialect().as_str();
                removed.push(format!("{kind} {}", snapshot.key));
            }
        }
    }
    let root = cache.join("snapshots");
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|source| mrt_db::DbError::Io {
            dialect: "sqlite",
            what: "removing snapshots in".into(),
            path: root.clone(),
            source,
        })?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_order_free_and_carry() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        let x = [0xffu8; 32];
        let mut y = [0u8; 32];
        y[0] = 1;
        add(&mut a, &x);
        add(&mut a, &y);
        add(&mut b, &y);
        add(&mut b, &x);
        assert_eq!(a, b);
        assert_eq!(a, [0u8; 32], "0xff..ff + 1 wraps to zero");
    }

    #[test]
    fn folder_names_keep_only_safe_characters() {
        assert_eq!(
            folder_name("postgres 150020 127.0.0.1:5432"),
            "postgres-150020-127.0.0.1-5432"
        );
        assert_eq!(folder_name("sqlite 3.46.0"), "sqlite-3.46.0");
    }
}
