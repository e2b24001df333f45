//! The run's start-up, done at once instead of one thing after another: each scheduler thread
//! needs a Python worker (its imports take ~0.4 s of one core) and each lane a database
//! (`CREATE DATABASE` mostly waits on the server), and the first trials used to wait for the
//! preflight worker, then their database, then (on the other threads) their own worker.
//!
//! With snapshots on, a lane that does not start at the chain's base may start from a snapshot
//! instead: which ones exist is known only once the runner is (its version is part of the key),
//! so only lanes starting at the base get an empty database up front.

use crate::plan::{split_lanes, Context};
use crate::pool::Pooled;
use crate::snapshots::{Contents, PoolSnapshots};
use crate::HarnessError;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Creates one database per lane and starts one worker per thread that has a lane (at least
/// one: a missing Alembic must be reported before any trial), all at the same time.
pub fn up(ctx: &Context, per_pool: &[Vec<String>], threads: usize) -> Result<(), HarnessError> {
    let lanes: Vec<(usize, usize, String)> = split_lanes(per_pool.to_vec(), threads)
        .into_iter()
        .filter_map(|lane| Some((lane.pool, lane.start, lane.items.first()?.clone())))
        .collect();
    let caching = ctx.settings.cache.is_some();
    let mut creating = Vec::new();
    let mut later = Vec::new();
    let graph = &ctx.settings.project.graph;
    for (pool, _, first) in lanes.iter().cloned() {
        // A lane whose first trial starts past the base (a later lane, or the one test of a
        // nextest process) may start from a snapshot: decided once the runner is known.
        let at_base = graph.ancestors(&first).is_none_or(|a| a.is_empty());
        if caching && !at_base {
            later.push((pool, first));
            continue;
        }
        let server = Arc::clone(&ctx.pools[pool].server);
        creating.push((
            pool,
            ctx.runtime.spawn(async move { server.create().await }),
        ));
    }
    let workers = lanes.len().clamp(1, threads.max(1));
    let started = ctx.executors.preflight(workers);
    if let (Ok(banner), Some(_)) = (&started, &ctx.settings.cache) {
        open_snapshots(ctx, banner);
    }
    for (pool, first) in later {
        let before: BTreeSet<&str> = graph.ancestors(&first).unwrap_or_default();
        if !ctx.pools[pool].may_start_at(graph, &before) {
            let server = Arc::clone(&ctx.pools[pool].server);
            creating.push((
                pool,
                ctx.runtime.spawn(async move { server.create().await }),
            ));
        }
    }
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

/// Reads which snapshots each server keeps; a server whose snapshots cannot be read runs
/// without them (said once).
fn open_snapshots(ctx: &Context, banner: &str) {
    let Some(cache) = &ctx.settings.cache else {
        return;
    };
    let project = &ctx.settings.project;
    let contents = Arc::new(Contents::read(&project.framework, &project.graph));
    for pool in &ctx.pools {
        if !pool.server.keeps_snapshots() {
            continue;
        }
        let opened = ctx.runtime.block_on(pool.call(PoolSnapshots::open(
            &pool.server,
            cache,
            Arc::clone(&contents),
            banner,
        )));
        match opened {
            Ok(snapshots) => {
                let _ = pool.snapshots.set(snapshots);
            }
            Err(e) if ctx.settings.announce => {
                eprintln!("mrt: {}: no snapshots this run: {e}", pool.name);
            }
            Err(_) => {}
        }
    }
}
