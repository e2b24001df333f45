//! Where a run's time went, summed over all trials: `MRT_TRACE=1 mrt test` prints it at the end.
//! Cheap enough to keep always on (two atomic adds per operation).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone, Copy)]
pub enum Kind {
    /// Alembic steps in the Python workers (including reaching `before(r)`).
    Migration,
    /// Seeding, reading and restoring rows.
    Database,
    /// Reading schemas.
    Introspection,
    /// Comparing schemas and rows, choosing the scope.
    Compare,
}

static MIGRATION_NS: AtomicU64 = AtomicU64::new(0);
static DATABASE_NS: AtomicU64 = AtomicU64::new(0);
static INTROSPECTION_NS: AtomicU64 = AtomicU64::new(0);
static COMPARE_NS: AtomicU64 = AtomicU64::new(0);

pub fn add(kind: Kind, d: Duration) {
    let counter = match kind {
        Kind::Migration => &MIGRATION_NS,
        Kind::Database => &DATABASE_NS,
        Kind::Introspection => &INTROSPECTION_NS,
        Kind::Compare => &COMPARE_NS,
    };
    counter.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

pub fn report() {
    if std::env::var_os("MRT_TRACE").is_none() {
        return;
    }
    let secs = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e9;
    eprintln!(
        "mrt: time summed over trials: migration steps {:.2} s, introspection {:.2} s, rows {:.2} s, comparison {:.2} s",
        secs(&MIGRATION_NS),
        secs(&INTROSPECTION_NS),
        secs(&DATABASE_NS),
        secs(&COMPARE_NS)
    );
}
