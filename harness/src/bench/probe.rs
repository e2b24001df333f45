//! The probe that runs beside a measured step: tries a read and a write on every touched table
//! in turn, and asks which locks the step holds, until told to stop.

use mrt_db::{lock_strength, LockProbe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the probe saw during one step.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub blocked_reads: Duration,
    pub blocked_writes: Duration,
    pub lock: Option<String>,
}

impl Seen {
    /// The worst of two steps' observations (a repetition).
    pub fn worst(self, other: Seen) -> Seen {
        let lock = match (self.lock, other.lock) {
            (Some(a), Some(b)) if lock_strength(&b) > lock_strength(&a) => Some(b),
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        Seen {
            blocked_reads: self.blocked_reads.max(other.blocked_reads),
            blocked_writes: self.blocked_writes.max(other.blocked_writes),
            lock,
        }
    }
}

/// The longest stretch of failed attempts on one table, from the start of the first failed
/// attempt to the end of the next one that went through (or the step's end).
#[derive(Default)]
struct Stretch {
    since: Option<Instant>,
    longest: Duration,
}

impl Stretch {
    fn record(&mut self, started: Instant, went_through: bool) {
        if !went_through {
            self.since.get_or_insert(started);
        } else if let Some(since) = self.since.take() {
            self.longest = self.longest.max(since.elapsed());
        }
    }

    fn close(&mut self, at: Instant) -> Duration {
        if let Some(since) = self.since.take() {
            self.longest = self.longest.max(at.saturating_duration_since(since));
        }
        self.longest
    }
}

/// Probes `tables` until `stop` is set; gives the probe back with what it saw.
pub async fn watch(
    mut probe: LockProbe,
    tables: Vec<String>,
    stop: Arc<AtomicBool>,
) -> (LockProbe, Seen) {
    let mut reads: Vec<Stretch> = tables.iter().map(|_| Stretch::default()).collect();
    let mut writes: Vec<Stretch> = tables.iter().map(|_| Stretch::default()).collect();
    let mut seen = Seen::default();
    while !stop.load(Ordering::Acquire) {
        for (i, table) in tables.iter().enumerate() {
            let started = Instant::now();
            let ok = probe.try_read(table).await;
            reads[i].record(started, ok);
            let started = Instant::now();
            let ok = probe.try_write(table).await;
            writes[i].record(started, ok);
        }
        if let Some(lock) = probe.held_lock(&tables).await {
            let stronger =
                (seen.lock.as_deref()).is_none_or(|l| lock_strength(&lock) > lock_strength(l));
            if stronger {
                seen.lock = Some(lock);
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let end = Instant::now();
    let longest = |stretches: &mut Vec<Stretch>| {
        (stretches.iter_mut())
            .map(|s| s.close(end))
            .max()
            .unwrap_or_default()
    };
    seen.blocked_reads = longest(&mut reads);
    seen.blocked_writes = longest(&mut writes);
    (probe, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stretch_runs_from_the_first_failure_to_the_next_success() {
        let mut s = Stretch::default();
        let t0 = Instant::now();
        s.record(t0, true);
        s.record(t0, false);
        std::thread::sleep(Duration::from_millis(5));
        s.record(Instant::now(), false);
        s.record(Instant::now(), true);
        let first = s.close(Instant::now());
        assert!(first >= Duration::from_millis(5), "{first:?}");
        // Still open at the step's end: closed there.
        let mut open = Stretch::default();
        let t1 = Instant::now();
        open.record(t1, false);
        assert_eq!(
            open.close(t1 + Duration::from_millis(7)),
            Duration::from_millis(7)
        );
    }

    #[test]
    fn the_worst_of_two_keeps_the_stronger_lock() {
        let a = Seen {
            blocked_reads: Duration::from_millis(3),
            blocked_writes: Duration::ZERO,
            lock: Some("SHARE".into()),
        };
        let b = Seen {
            blocked_reads: Duration::ZERO,
            blocked_writes: Duration::from_millis(9),
            lock: Some("ACCESS EXCLUSIVE".into()),
        };
        let w = a.clone().worst(b);
        assert_eq!(w.lock.as_deref(), Some("ACCESS EXCLUSIVE"));
        assert_eq!(w.blocked_reads, Duration::from_millis(3));
        assert_eq!(w.blocked_writes, Duration::from_millis(9));
        assert_eq!(
            a.clone().worst(Seen::default()).lock.as_deref(),
            Some("SHARE")
        );
    }
}
