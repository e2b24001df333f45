//! mrt's own trial scheduler. libtest hands out tests first come, first served, so a thread that
//! drew the next trial of a lane whose previous trial still runs could only wait or take another
//! database and replay the gap. Here each thread runs a lane in order and, when its lanes are
//! done, takes the back half of the longest remaining one (if that beats its replay); libtest's
//! closures only wait for the verdicts and report them.

use crate::plan::{split_lanes, Context, Lane, REPLAY_COST};
use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// A trial's verdict: `Err` holds the failure message libtest shows.
pub type Outcome = Result<(), crate::observe::Failing>;

pub struct Scheduler {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What the threads share; each also holds the run's context until it ends (the context holds
/// the scheduler, so keeping it here would be a cycle).
struct Shared {
    /// Every lane, the stolen halves appended as they are cut off.
    lanes: Mutex<Vec<Arc<Running>>>,
    /// Lanes of the initial split not yet claimed by a thread.
    unclaimed: AtomicUsize,
    initial: usize,
    results: HashMap<(usize, String), Delivery>,
}

/// A lane being run: its trials and how far the owner got; a thief shortens `end`.
struct Running {
    pool: usize,
    items: Vec<String>,
    progress: Mutex<(usize, usize)>,
}

#[derive(Default)]
struct Delivery {
    /// The verdict and how long the trial itself took.
    outcome: Mutex<Option<(Outcome, std::time::Duration)>>,
    ready: Condvar,
}

impl Scheduler {
    /// Starts `threads` threads over `per_pool`: each database's trials to run, in graph order.
    pub fn start(ctx: &Arc<Context>, per_pool: Vec<Vec<String>>, threads: usize) -> Scheduler {
        let results = (per_pool.iter().enumerate())
            .flat_map(|(pool, revs)| revs.iter().map(move |r| (pool, r.clone())))
            .map(|key| (key, Delivery::default()))
            .collect();
        let mut lanes: Vec<(usize, Lane<String>)> = Vec::new();
        let mut rank: HashMap<usize, usize> = HashMap::new();
        for lane in split_lanes(per_pool, threads) {
            let nth = rank.entry(lane.pool).or_insert(0);
            lanes.push((*nth, lane));
            *nth += 1;
        }
        // Every database's first lane first, so all of them start at once.
        lanes.sort_by_key(|(nth, lane)| (*nth, lane.pool));
        let lanes: Vec<Arc<Running>> = lanes
            .into_iter()
            .map(|(_, l)| running(l.pool, l.items))
            .collect();
        let shared = Arc::new(Shared {
            initial: lanes.len(),
            lanes: Mutex::new(lanes),
            unclaimed: AtomicUsize::new(0),
            results,
        });
        let handles = (0..threads.max(1))
            .map(|_| {
                let shared = Arc::clone(&shared);
                let ctx = Arc::clone(ctx);
                std::thread::spawn(move || {
                    shared.work(&ctx);
                    crate::timing::thread_done();
                    for pool in &ctx.pools {
                        ctx.runtime.block_on(pool.release_mine());
                    }
                })
            })
            .collect();
        Scheduler {
            shared,
            threads: Mutex::new(handles),
        }
    }

    /// The verdict of a scheduled trial, once it is known, with the trial's own time; `None` if
    /// it was not scheduled.
    pub fn wait(&self, pool: usize, rev: &str) -> Option<(Outcome, std::time::Duration)> {
        let delivery = self.shared.results.get(&(pool, rev.to_string()))?;
        let mut outcome = delivery.outcome.lock().ok()?;
        loop {
            if let Some(done) = outcome.take() {
                return Some(done);
            }
            outcome = delivery.ready.wait(outcome).ok()?;
        }
    }

    /// Waits for every thread (all trials have their verdicts then).
    pub fn join(&self) {
        let handles: Vec<JoinHandle<()>> = self
            .threads
            .lock()
            .map(|mut h| h.drain(..).collect())
            .unwrap_or_default();
        for handle in handles {
            let _ = handle.join();
        }
    }
}

fn running(pool: usize, items: Vec<String>) -> Arc<Running> {
    let end = items.len();
    Arc::new(Running {
        pool,
        items,
        progress: Mutex::new((0, end)),
    })
}

impl Running {
    fn next(&self) -> Option<&str> {
        let mut progress = self.progress.lock().ok()?;
        let (next, end) = *progress;
        if next >= end {
            return None;
        }
        progress.0 += 1;
        self.items.get(next).map(String::as_str)
    }

    fn remaining(&self) -> usize {
        self.progress
            .lock()
            .map(|p| p.1.saturating_sub(p.0))
            .unwrap_or(0)
    }
}

impl Shared {
    fn work(&self, ctx: &Context) {
        while let Some(lane) = self.claim().or_else(|| self.steal(ctx)) {
            while let Some(rev) = lane.next() {
                self.run_one(ctx, lane.pool, rev);
            }
        }
    }

    fn claim(&self) -> Option<Arc<Running>> {
        let index = self.unclaimed.fetch_add(1, Ordering::SeqCst);
        if index >= self.initial {
            return None;
        }
        self.lanes.lock().ok()?.get(index).cloned()
    }

    /// Cuts off the back half of the lane with the most trials left, when running that half
    /// saves more than replaying up to it costs; `None` when nothing is worth taking.
    fn steal(&self, ctx: &Context) -> Option<Arc<Running>> {
        let mut lanes = self.lanes.lock().ok()?;
        let mut by_size: Vec<(usize, &Arc<Running>)> =
            lanes.iter().map(|lane| (lane.remaining(), lane)).collect();
        by_size.sort_by_key(|(left, _)| std::cmp::Reverse(*left));
        let stolen = by_size
            .into_iter()
            .find_map(|(_, lane)| cut(lane, |rev| replay_gap(ctx, lane.pool, rev)))?;
        lanes.push(Arc::clone(&stolen));
        Some(stolen)
    }
}

/// The back half of `lane`'s remaining trials as a new lane, if it is longer than replaying up
/// to its first trial costs (`gap`: how many revisions that replays).
fn cut(lane: &Running, gap: impl Fn(&str) -> usize) -> Option<Arc<Running>> {
    let mut progress = lane.progress.lock().ok()?;
    let (next, end) = *progress;
    let half = end.saturating_sub(next) / 2;
    let mid = end - half;
    let first = lane.items.get(mid)?;
    if half == 0 || half as f64 <= REPLAY_COST * gap(first) as f64 {
        return None;
    }
    progress.1 = mid;
    Some(running(lane.pool, lane.items[mid..end].to_vec()))
}

/// How many revisions a trial of `rev` would replay from the nearest idle database.
fn replay_gap(ctx: &Context, pool: usize, rev: &str) -> usize {
    let graph = &ctx.settings.project.graph;
    let before: BTreeSet<&str> = graph.ancestors(rev).unwrap_or_default();
    before.len() - ctx.pools[pool].nearest_behind(&before).min(before.len())
}

impl Shared {
    fn run_one(&self, ctx: &Context, pool: usize, rev: &str) {
        let start = std::time::Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            crate::trial::run(ctx, rev, pool).map_err(crate::observe::Failing::from)
        }))
        .unwrap_or_else(|panic| Err(format!("mrt panicked: {}", panic_message(&panic)).into()));
        if crate::cleanup::interrupted() {
            // The run is being stopped: this verdict (likely "interrupted") is not the trial's.
            crate::cleanup::park();
        }
        if let (Err(failing), Some(results)) = (&outcome, &ctx.results) {
            results.record(&format!("{}::{rev}", ctx.pools[pool].name), &failing.text);
        }
        let Some(delivery) = self.results.get(&(pool, rev.to_string())) else {
            return;
        };
        if let Ok(mut slot) = delivery.outcome.lock() {
            *slot = Some((outcome, start.elapsed()));
            delivery.ready.notify_all();
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(n: usize, done: usize) -> Running {
        Running {
            pool: 0,
            items: (0..n).map(|i| format!("r{i}")).collect(),
            progress: Mutex::new((done, n)),
        }
    }

    fn drain(lane: &Running) -> Vec<String> {
        std::iter::from_fn(|| lane.next().map(String::from)).collect()
    }

    #[test]
    fn a_thief_takes_the_back_half_and_the_owner_stops_before_it() {
        let owner = lane(10, 2);
        let stolen = cut(&owner, |_| 0).expect("worth stealing");
        assert_eq!(drain(&stolen), ["r6", "r7", "r8", "r9"]);
        assert_eq!(drain(&owner), ["r2", "r3", "r4", "r5"]);
    }

    #[test]
    fn nothing_is_stolen_when_the_replay_costs_more() {
        let owner = lane(10, 2);
        // Four trials against replaying revisions at REPLAY_COST each.
        let even = (4.0 / REPLAY_COST).round() as usize;
        assert!(cut(&owner, |_| even).is_none());
        assert!(cut(&owner, |_| even - 1).is_some());
        let last = lane(10, 9);
        assert!(cut(&last, |_| 0).is_none(), "one trial left is the owner's");
        assert_eq!(drain(&last), ["r9"]);
    }
}
