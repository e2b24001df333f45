//! The run's start-up, done at once instead of one thing after another: each scheduler thread
//! needs a Python worker (its imports take ~0.4 s of one core) and each lane a database
//! (`CREATE DATABASE` mostly waits on the server), and the first trials used to wait for the
//! preflight worker, then their database, then (on the other threads) their own worker.

use crate::plan::{lanes_per_pool, Context};
use crate::pool::Pooled;
use crate::HarnessError;
use std::sync::Arc;

/// Creates one database per lane and starts one worker per thread that has a lane (at least
/// one: a missing Alembic must be reported before any trial), all at the same time.
pub fn up(ctx: &Context, per_pool: &[Vec<String>], threads: usize) -> Result<(), HarnessError> {
    let lanes = lanes_per_pool(per_pool, threads);
    let mut creating = Vec::new();
    for (index, pool) in ctx.pools.iter().enumerate() {
        for _ in 0..lanes.get(index).copied().unwrap_or(0) {
            let server = Arc::clone(&pool.server);
            creating.push((
                index,
                ctx.runtime.spawn(async move { server.create().await }),
            ));
        }
    }
    let workers = lanes.iter().sum::<usize>().clamp(1, threads.max(1));
    let started = ctx.executors.preflight(workers);
    for (pool, handle) in creating {
        // A database that cannot be made now is made by the first trial that needs it, which
        // then reports why it cannot.
        if let Ok(Ok(db)) = ctx.runtime.block_on(handle) {
            ctx.pools[pool].give_back(Pooled::fresh(db));
        }
    }
    let banner = started?;
    if ctx.settings.announce {
        let seed = ctx.settings.seed;
        eprintln!(
            "mrt: {banner}; seed {seed} (MRT_SEED={seed} reproduces this run); run {}",
            ctx.run_id
        );
        if let Some(results) = &ctx.results {
            eprintln!(
                "mrt: failures are written as they happen to {}",
                results.path.display()
            );
        }
    }
    Ok(())
}
