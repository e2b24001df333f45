//! Naming and bookkeeping shared by the server backends. Every database mrt makes is named
//! `mrt_<run>_<n>` and recorded here *before* it is created, so that `cleanup` (also from a signal
//! handler or `Drop`) knows exactly which databases are mrt's to drop, and never touches others.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::DbError;

/// Check a run id (it becomes part of database names, which are also used in SQL) and return it
/// lower-cased: PostgreSQL folds unquoted names to lower case and MySQL on some systems too, so
/// lower case keeps names identical everywhere.
pub(crate) fn validate_run_id(dialect: &'static str, run_id: &str) -> Result<String, DbError> {
    let valid = !run_id.is_empty()
        && run_id.len() <= 32
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(run_id.to_ascii_lowercase())
    } else {
        Err(DbError::Invalid {
            dialect,
            db: format!("mrt_{run_id}_*"),
            message: "run id must be 1-32 ASCII letters, digits or underscores".into(),
        })
    }
}

/// Whether `name` looks like a database an mrt run made (`mrt_<run>_<n>`) and its run part starts
/// with `run_prefix`. Used by `drop_leftovers`, which must not drop a user's `mrt_prod`.
/// The run id in a database name `mrt_<run>_<n>`.
pub(crate) fn run_of(name: &str) -> Option<&str> {
    Some(name.strip_prefix("mrt_")?.rsplit_once('_')?.0)
}

/// What a run holds on a server for as long as it runs, so that `mrt clean` leaves its databases
/// alone: the application name of one PostgreSQL session, the name of a MySQL lock.
pub(crate) fn lease_name(run_id: &str) -> String {
    format!("mrt run {run_id}")
}

pub(crate) fn is_leftover_name(name: &str, run_prefix: &str) -> bool {
    if name.starts_with(crate::snapshot::SNAPSHOT_PREFIX) {
        return false;
    }
    let Some(rest) = name.strip_prefix("mrt_") else {
        return false;
    };
    let Some((run, n)) = rest.rsplit_once('_') else {
        return false;
    };
    !run.is_empty()
        && run
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !n.is_empty()
        && n.chars().all(|c| c.is_ascii_digit())
        && run.starts_with(&run_prefix.to_ascii_lowercase())
}

/// The databases one server handle created and has not dropped yet.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    created: Mutex<BTreeSet<String>>,
    next: AtomicU64,
    closed: AtomicBool,
}

impl Registry {
    /// Reserve and record the next name. Fails once the server is cleaned up.
    pub(crate) fn next_name(&self, dialect: &'static str, run_id: &str) -> Result<String, DbError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(DbError::ServerClosed {
                dialect,
                run_id: run_id.to_string(),
            });
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("mrt_{run_id}_{n}");
        self.lock().insert(name.clone());
        Ok(name)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.lock().contains(name)
    }

    pub(crate) fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    /// Refuse new databases from now on.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while holding the lock cannot leave the set inconsistent (single inserts and
        // removes), so a poisoned lock is still usable; cleanup must work after a panic.
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Run `work` on a fresh current-thread runtime in its own thread and wait at most `timeout`.
/// Used where no async context can be relied on (`Drop`, signal handlers): connections of the
/// caller's runtime cannot be used from another runtime, so `work` must open its own.
///
/// `work` makes the future on the new thread, so the future itself need not be `Send`.
pub(crate) fn run_blocking<T, F, W>(timeout: std::time::Duration, work: W) -> Option<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T>,
    W: FnOnce() -> F + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("mrt-db-cleanup".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let out = rt.block_on(async move { tokio::time::timeout(timeout, work()).await });
            if let Ok(out) = out {
                let _ = tx.send(out);
            }
        });
    if spawned.is_err() {
        return None;
    }
    // The thread stops itself at `timeout`; the extra second covers runtime start-up.
    rx.recv_timeout(timeout + std::time::Duration::from_secs(1))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_names() {
        assert!(is_leftover_name("mrt_abc_1", ""));
        assert!(is_leftover_name("mrt_run_x_12", "run"));
        assert!(!is_leftover_name("mrt_abc_1", "x"));
        assert!(!is_leftover_name("mrt_prod", ""));
        assert!(!is_leftover_name("mrt__1", ""));
        assert!(!is_leftover_name("app", ""));
        assert!(!is_leftover_name("mrt_Abc_1", ""));
        // Snapshots outlive runs: only `mrt clean --snapshots` drops them.
        assert!(!is_leftover_name("mrt_snap_1234", ""));
    }

    #[test]
    fn registry_names() {
        let r = Registry::default();
        let a = r.next_name("postgres", "x").expect("name");
        assert_eq!(a, "mrt_x_1");
        assert!(r.contains("mrt_x_1"));
        r.remove("mrt_x_1");
        assert!(r.names().is_empty());
        r.close();
        assert!(r.next_name("postgres", "x").is_err());
    }
}
