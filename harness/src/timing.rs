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
    /// Saving and restoring snapshots.
    Snapshot,
}

/// Nanoseconds and number of operations of one kind.
struct Counter(AtomicU64, AtomicU64);

static MIGRATION: Counter = Counter(AtomicU64::new(0), AtomicU64::new(0));
static DATABASE: Counter = Counter(AtomicU64::new(0), AtomicU64::new(0));
static INTROSPECTION: Counter = Counter(AtomicU64::new(0), AtomicU64::new(0));
static COMPARE: Counter = Counter(AtomicU64::new(0), AtomicU64::new(0));
static SNAPSHOT: Counter = Counter(AtomicU64::new(0), AtomicU64::new(0));

pub fn add(kind: Kind, d: Duration) {
    let counter = match kind {
        Kind::Migration => &MIGRATION,
        Kind::Database => &DATABASE,
        Kind::Introspection => &INTROSPECTION,
        Kind::Compare => &COMPARE,
        Kind::Snapshot => &SNAPSHOT,
    };
    counter.0.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    counter.1.fetch_add(1, Ordering::Relaxed);
}

/// When the run started, and the moments it passed through (`MRT_TRACE` shows where a run's
/// wall time went: start-up, trials, clean-up).
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
static PHASES: std::sync::Mutex<Vec<(&'static str, f64)>> = std::sync::Mutex::new(Vec::new());

/// Marks the start of the run (the first call wins).
pub fn start() {
    START.get_or_init(std::time::Instant::now);
}

/// Records that the run reached `label`, in seconds since [`start`].
pub fn phase(label: &'static str) {
    let Some(start) = START.get() else { return };
    if let Ok(mut phases) = PHASES.lock() {
        phases.push((label, start.elapsed().as_secs_f64()));
    }
}

/// When each scheduler thread ran out of work, in seconds since the run started: a long gap
/// between the first and the last is time one core idled.
static THREADS_DONE: std::sync::Mutex<Vec<f64>> = std::sync::Mutex::new(Vec::new());

pub fn thread_done() {
    let Some(start) = START.get() else { return };
    if let Ok(mut done) = THREADS_DONE.lock() {
        done.push(start.elapsed().as_secs_f64());
    }
}

pub fn report() {
    if std::env::var_os("MRT_TRACE").is_none() {
        return;
    }
    let show = |c: &Counter| {
        let secs = c.0.load(Ordering::Relaxed) as f64 / 1e9;
        format!("{secs:.2} s ({}x)", c.1.load(Ordering::Relaxed))
    };
    eprintln!(
        "mrt: time summed over trials: migration steps {}, introspection {}, rows {}, comparison {}, snapshots saved {}",
        show(&MIGRATION),
        show(&INTROSPECTION),
        show(&DATABASE),
        show(&COMPARE),
        show(&SNAPSHOT)
    );
    if let Ok(done) = THREADS_DONE.lock() {
        let times: Vec<String> = done.iter().map(|t| format!("{t:.2} s")).collect();
        eprintln!("mrt: trial threads done at {}", times.join(", "));
    }
    if let Ok(phases) = PHASES.lock() {
        let shown: Vec<String> = phases
            .iter()
            .map(|(l, t)| format!("{l} {t:.2} s"))
            .collect();
        eprintln!("mrt: run phases: {}", shown.join(", "));
    }
}
