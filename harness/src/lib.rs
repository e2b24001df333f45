//! The dynamic harness: plans revision × database trials, pools databases by state, runs the
//! trial and reports verdicts through libtest-mimic. Kept apart so the CLI and a Rust project's
//! `harness = false` test share one runner.

pub mod bench;
mod cleanup;
mod executors;
pub mod failure;
pub mod observe;
mod plan;
mod pool;
mod reach;
pub mod reaper;
mod report;
mod results;
mod schedule;
pub mod snapshots;
mod timing;
mod trial;
mod warm;

pub use failure::{Failure, Setup};
pub use observe::{Observer, Observers, Outcome, RevisionInfo, RunInfo};
pub use plan::{plan, LintFn, Settings};
pub use report::Verdict;
pub use snapshots::CacheSettings;

use libtest_mimic::{Arguments, Conclusion, Trial};

/// Runs the planned tests with libtest's arguments (filter, `--exact`, `--list`, threads, ...).
pub fn run(settings: Settings, args: &Arguments) -> Result<Conclusion, HarnessError> {
    timing::start();
    // libtest-mimic's own choice of thread count; `--list` shows revision-major order.
    let threads = args
        .test_threads
        .or_else(|| std::thread::available_parallelism().ok().map(Into::into))
        .unwrap_or(1);
    let planned = plan(settings, if args.list { 1 } else { threads })?;
    cleanup::install_signal_handler();
    let per_pool = to_run(planned.runnable, args);
    if !args.list && needs_runner(&planned.context, &per_pool, args) {
        if let Err(e) = warm::up(&planned.context, &per_pool, threads) {
            planned.context.finish();
            cleanup::forget_all();
            return Err(e);
        }
        timing::phase("ready");
        let scheduler = schedule::Scheduler::start(&planned.context, per_pool, threads);
        let _ = planned.context.scheduler.set(scheduler);
    }
    let started = std::time::Instant::now();
    let observers = planned.context.settings.observers.clone();
    if !args.list {
        begin(&planned.context, &planned.trials, args);
    }
    let conclusion = libtest_mimic::run(args, planned.trials);
    if !args.list {
        let filtered = conclusion.num_filtered_out as usize;
        observers
            .iter()
            .for_each(|o| o.end(filtered, started.elapsed()));
    }
    if let Some(scheduler) = planned.context.scheduler.get() {
        scheduler.join();
        timing::phase("trials done");
    }
    planned.context.finish();
    timing::phase("cleaned up");
    snapshots_summary(&planned.context);
    cleanup::forget_all();
    timing::report();
    Ok(conclusion)
}

/// Tells the observers which tests the run reports, and ends at once the ones libtest will
/// report ignored without running them (`drift::` when it is off).
fn begin(ctx: &plan::Context, trials: &[Trial], args: &Arguments) {
    let observers = &ctx.settings.observers;
    if observers.is_empty() {
        return;
    }
    let shown: Vec<&Trial> = trials.iter().filter(|t| !args.is_filtered_out(t)).collect();
    let project = &ctx.settings.project;
    let run = RunInfo {
        tests: shown.iter().map(|t| t.name().to_string()).collect(),
        seed: ctx.settings.seed,
        run_id: ctx.run_id.clone(),
        databases: ctx.pools.iter().map(|p| p.name.clone()).collect(),
        project_root: project.root.clone(),
        revisions: (project.graph.ordered())
            .map(|r| RevisionInfo {
                id: r.id.clone(),
                message: r.message.clone(),
                path: r.path.clone(),
            })
            .collect(),
    };
    observers.iter().for_each(|o| o.begin(&run));
    for trial in shown.into_iter().filter(|t| args.is_ignored(t)) {
        let reason = (trial.name().starts_with("drift::"))
            .then(|| ctx.drift.clone().flatten())
            .flatten();
        let ignored = Outcome::Ignored(reason);
        (observers.iter()).for_each(|o| o.finished(trial.name(), &ignored, Default::default()));
    }
}

/// "mrt: snapshots: 12 restored, 3 saved in DIR", when the run used any.
fn snapshots_summary(ctx: &plan::Context) {
    use std::sync::atomic::Ordering::Relaxed;
    let (Some(cache), true) = (&ctx.settings.cache, ctx.settings.announce) else {
        return;
    };
    let used = ctx.pools.iter().filter_map(|p| p.snapshots.get());
    let (mut restored, mut saved, mut claimed, mut handed) = (0, 0, 0, 0);
    let mut hands_off = false;
    for snap in used {
        restored += snap.restored.load(Relaxed);
        saved += snap.saved.load(Relaxed);
        claimed += snap.claimed.load(Relaxed);
        handed += snap.handed.load(Relaxed);
        hands_off |= snap.hands_off();
    }
    if ctx.pools.iter().any(|p| p.snapshots.get().is_some()) {
        let hand_off = if hands_off {
            format!("; databases taken over from the last process {claimed}, handed to the next {handed}")
        } else {
            String::new()
        };
        eprintln!(
            "mrt: snapshots: {restored} restored, {saved} saved in {}{hand_off}",
            cache.dir.display()
        );
    }
}

/// Whether any selected test runs migrations: `lint::` and `graph::` tests alone need no runner
/// (no Python for them), so a filter that keeps only those starts none.
fn needs_runner(ctx: &plan::Context, per_pool: &[Vec<String>], args: &Arguments) -> bool {
    let drift = |pool: &pool::Pool| {
        !args.is_filtered_out(&Trial::test(format!("drift::{}", pool.name), || Ok(())))
    };
    per_pool.iter().any(|revs| !revs.is_empty()) || ctx.pools.iter().any(drift)
}

/// The revisions libtest's filters (`FILTER`, `--exact`, `--skip`, `--ignored`) leave to run.
fn to_run(runnable: Vec<Vec<(String, String)>>, args: &Arguments) -> Vec<Vec<String>> {
    runnable
        .into_iter()
        .map(|revs| {
            revs.into_iter()
                .filter(|(_, name)| !args.is_filtered_out(&Trial::test(name.clone(), || Ok(()))))
                .map(|(rev, _)| rev)
                .collect()
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Runner(#[from] mrt_migrations::exec::StepError),
    #[error(transparent)]
    Db(#[from] mrt_db::DbError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("minimum_revision '{0}' is not a revision of this project")]
    UnknownMinimum(String),
}
