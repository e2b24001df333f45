//! `mrt bench` (DESIGN.md, "Bench"): per revision and database, reach `before(r)` through the
//! pool, copy it, fill the tables the revision touches to N rows, then time the revision's
//! upgrade and downgrade K times after a warm-up round, while a probe on another connection
//! measures what each step blocks. Reuses the plan's context, the pool and the executors, not
//! the trial.

mod model;
mod probe;

pub use model::{growth, median, BenchDirection, BenchError, BenchResult, BenchRun, Fill};

use crate::executors::Slot;
use crate::plan::{self, Context, Settings};
use crate::pool::Pooled;
use crate::reach;
use crate::HarnessError;
use mrt_db::{Dialect, LockProbe, Schema, TempDb};
use mrt_generators::{mine_literals, seed, SeedOptions};
use mrt_migrations::exec::{Direction, Step, StepError};
use probe::Seen;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Table sizes, each a separate measurement.
    pub rows: Vec<usize>,
    /// Measured repetitions per size and direction (after one warm-up round).
    pub repeat: usize,
    /// Only revisions whose id contains this.
    pub filter: Option<String>,
}

/// What the run is doing, for a progress bar.
#[derive(Debug, Clone)]
pub enum Event {
    /// How many measurements (revision × database × rows) the run will make.
    Planned(u64),
    Started(String),
    Finished,
}

/// Runs the benchmark; databases it made are dropped at the end, whatever happened.
pub fn run(
    settings: Settings,
    options: &BenchOptions,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<BenchRun, HarnessError> {
    let revisions: Vec<String> = plan::tested_revisions(&settings)?
        .into_iter()
        .filter(|r| !settings.skip.contains_key(r))
        .filter(|r| options.filter.as_deref().is_none_or(|f| r.contains(f)))
        .collect();
    let ctx = plan::context(settings)?;
    crate::cleanup::install_signal_handler();
    let result = run_in(&ctx, &revisions, options, progress);
    ctx.finish();
    crate::cleanup::forget_all();
    result
}

fn run_in(
    ctx: &Context,
    revisions: &[String],
    options: &BenchOptions,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<BenchRun, HarnessError> {
    let banner = ctx.executors.preflight(1)?;
    let mut run = BenchRun {
        seed: ctx.settings.seed,
        repeat: options.repeat,
        ..BenchRun::default()
    };
    run.versions
        .insert("mrt".into(), env!("CARGO_PKG_VERSION").into());
    run.versions.insert("runner".into(), banner);
    let sizes = options.rows.len().max(1);
    progress(Event::Planned(
        (ctx.pools.len() * revisions.len() * sizes) as u64,
    ));
    let mut overhead = Vec::new();
    for (index, pool) in ctx.pools.iter().enumerate() {
        run.versions.insert(pool.name.clone(), pool.server.label());
        run.notes
            .extend(dialect_note(&pool.name, pool.server.dialect()));
        let mut bench = Bench {
            ctx,
            pool: index,
            options,
            run: &mut run,
            overhead: &mut overhead,
            progress,
        };
        for rev in revisions {
            bench.revision(rev);
        }
    }
    run.overhead_ms = median(&overhead);
    set_growth(&mut run.results);
    Ok(run)
}

/// What is true of every step on a database, said once.
fn dialect_note(name: &str, dialect: Dialect) -> Option<String> {
    match dialect {
        Dialect::Sqlite => Some(format!(
            "{name}: SQLite locks the whole database while a step writes: every other reader and \
             writer waits for it, so blocking is not probed"
        )),
        Dialect::Mysql => Some(format!(
            "{name}: no table storage id to compare, so `rewrote` is not known; reads and writes \
             are probed through metadata locks where the server is MariaDB"
        )),
        Dialect::Postgres => None,
    }
}

fn set_growth(results: &mut [BenchResult]) {
    let mut points: BTreeMap<(String, String, BenchDirection), Vec<(usize, f64)>> = BTreeMap::new();
    for r in results.iter() {
        let key = (r.revision.clone(), r.database.clone(), r.direction);
        points.entry(key).or_default().push((r.rows, r.median_ms));
    }
    for r in results.iter_mut() {
        let key = (r.revision.clone(), r.database.clone(), r.direction);
        r.growth = growth(points.get(&key).map_or(&[][..], Vec::as_slice)).to_string();
    }
}

struct Bench<'a> {
    ctx: &'a Context,
    pool: usize,
    options: &'a BenchOptions,
    run: &'a mut BenchRun,
    overhead: &'a mut Vec<f64>,
    progress: &'a (dyn Fn(Event) + Sync),
}

/// One measured step.
struct Timed {
    ms: f64,
    seen: Seen,
    rewrote: Option<bool>,
}

impl Bench<'_> {
    fn error(&mut self, rev: &str, rows: usize, error: String) {
        self.run.errors.push(BenchError {
            revision: rev.to_string(),
            database: self.ctx.pools[self.pool].name.clone(),
            rows,
            error,
        });
    }

    /// Every size of one revision, each on its own copy of `before(rev)`.
    fn revision(&mut self, rev: &str) {
        let ctx = self.ctx;
        let pool = &ctx.pools[self.pool];
        let graph = &ctx.settings.project.graph;
        let before: BTreeSet<&str> = graph.ancestors(rev).unwrap_or_default();
        let mut pooled = match ctx.runtime.block_on(pool.call(pool.take(graph, &before))) {
            Ok(p) => p,
            Err(e) => return self.error(rev, 0, format!("cannot make a database: {e}")),
        };
        let mut slot = match ctx.executors.checkout(&pooled.db) {
            Ok(slot) => slot,
            Err(e) => {
                pool.give_back(pooled);
                return self.error(rev, 0, e.to_string());
            }
        };
        let scope = match self.reach(&mut slot, &mut pooled, rev, &before) {
            Ok(scope) => scope,
            Err(e) => {
                drop(slot);
                ctx.runtime.block_on(pool.discard(pooled));
                return self.error(rev, 0, e);
            }
        };
        for &rows in &self.options.rows {
            (self.progress)(Event::Started(format!(
                "{} {rev} at {rows} rows",
                pool.name
            )));
            if let Err(e) = self.size(&mut slot, &pooled.db, rev, &before, &scope, rows) {
                self.error(rev, rows, e);
            }
            (self.progress)(Event::Finished);
        }
        drop(slot);
        pool.give_back(pooled);
    }

    /// Brings `pooled` to `before(rev)` and returns the tables the revision touches.
    fn reach(
        &mut self,
        slot: &mut Slot<'_>,
        pooled: &mut Pooled,
        rev: &str,
        before: &BTreeSet<&str>,
    ) -> Result<Schema, String> {
        let ctx = self.ctx;
        let graph = &ctx.settings.project.graph;
        for step in reach::steps_to(graph, &pooled.state, before) {
            pooled.schema = None;
            step_or_stop(slot, &step, &pooled.db)
                .map_err(|e| format!("cannot reach the state before {rev}: {e}"))?;
        }
        pooled.state = before.iter().map(|s| s.to_string()).collect();
        slot.reach_environment(&pooled.db, &[rev.to_string()])
            .map_err(|e| format!("cannot apply what {rev} needs from outside the project: {e}"))?;
        pooled.schema = None;
        let ignore: Vec<&str> = ctx.bookkeeping.iter().map(String::as_str).collect();
        let s0 = ctx
            .runtime
            .block_on(ctx.pools[self.pool].call(pooled.db.introspect(&ignore)))
            .map_err(|e| e.to_string())?;
        let project = &ctx.settings.project;
        let mentioned = graph
            .get(rev)
            .and_then(|r| project.framework.mentioned_words(r));
        Ok(crate::trial::scope_of(&s0, mentioned.as_ref()))
    }

    /// One size: a copy of `db`, filled, then the rounds; the copy is dropped afterwards.
    fn size(
        &mut self,
        slot: &mut Slot<'_>,
        db: &TempDb,
        rev: &str,
        before: &BTreeSet<&str>,
        scope: &Schema,
        rows: usize,
    ) -> Result<(), String> {
        let ctx = self.ctx;
        let pool = &ctx.pools[self.pool];
        let copy = (ctx.runtime.block_on(pool.call(pool.server.clone_db(db))))
            .map_err(|e| format!("cannot copy the database at the state before {rev}: {e}"))?;
        let outcome = self.rounds(slot, &copy, rev, before, scope, rows);
        let _ = ctx.runtime.block_on(pool.server.drop_database(copy));
        outcome
    }

    fn rounds(
        &mut self,
        slot: &mut Slot<'_>,
        db: &TempDb,
        rev: &str,
        before: &BTreeSet<&str>,
        scope: &Schema,
        rows: usize,
    ) -> Result<(), String> {
        let ctx = self.ctx;
        let started = Instant::now();
        let (inserted, generating) = fill(ctx, db, scope, rev, rows)?;
        self.run.fills.push(Fill {
            revision: rev.to_string(),
            database: ctx.pools[self.pool].name.clone(),
            rows,
            inserted,
            seconds: started.elapsed().as_secs_f64(),
            generate_seconds: generating.as_secs_f64(),
        });
        let mut probe = (ctx.runtime.block_on(db.lock_probe())).map_err(|e| e.to_string())?;
        let probed = probe.is_some() && !scope.tables.is_empty();
        let graph = &ctx.settings.project.graph;
        let step = |direction| Step {
            schema_hint: false,
            ..reach::own_step(graph, before, rev, direction)
        };
        let forward_only = ctx.settings.project.framework.forward_only(rev).is_some();
        let steps = if forward_only {
            vec![step(Direction::Up)]
        } else {
            vec![step(Direction::Up), step(Direction::Down)]
        };
        // A warm-up round first (caches, the runner's imports of the revision), not counted.
        let rounds = if forward_only {
            1
        } else {
            1 + self.options.repeat.max(1)
        };
        let mut measured: Vec<Vec<Timed>> = steps.iter().map(|_| Vec::new()).collect();
        let tables: Vec<String> = scope.tables.keys().cloned().collect();
        let mut outcome = Ok(());
        'rounds: for round in 0..rounds {
            for (i, step) in steps.iter().enumerate() {
                match self.timed(slot, db, step, &tables, &mut probe) {
                    Ok(timed) if round > 0 || forward_only => measured[i].push(timed),
                    Ok(_) => {}
                    Err(e) => {
                        outcome = Err(e);
                        break 'rounds;
                    }
                }
            }
        }
        if let Some(probe) = probe {
            ctx.runtime.block_on(probe.close());
        }
        outcome?;
        for (step, timed) in steps.iter().zip(measured) {
            self.record(rev, rows, step.direction, &tables, probed, timed);
        }
        Ok(())
    }

    fn record(
        &mut self,
        rev: &str,
        rows: usize,
        direction: Direction,
        tables: &[String],
        probed: bool,
        timed: Vec<Timed>,
    ) {
        let ctx = self.ctx;
        let pool = &ctx.pools[self.pool];
        let samples: Vec<f64> = timed.iter().map(|t| t.ms).collect();
        let seen = (timed.iter().map(|t| t.seen.clone())).fold(Seen::default(), Seen::worst);
        let rewrote = (timed.iter().map(|t| t.rewrote)).fold(None, |a, b| match (a, b) {
            (Some(x), Some(y)) => Some(x || y),
            (x, y) => x.or(y),
        });
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        let blocked = |d: Duration| probed.then(|| ms(d));
        self.run.results.push(BenchResult {
            revision: rev.to_string(),
            message: (ctx.settings.project.graph.get(rev)).and_then(|r| r.message.clone()),
            database: pool.name.clone(),
            rows,
            direction: match direction {
                Direction::Up => BenchDirection::Upgrade,
                Direction::Down => BenchDirection::Downgrade,
            },
            median_ms: median(&samples),
            min_ms: samples.iter().copied().reduce(f64::min).unwrap_or(0.0),
            max_ms: samples.iter().copied().fold(0.0, f64::max),
            samples: samples.len(),
            blocked_reads_ms: blocked(seen.blocked_reads),
            blocked_writes_ms: blocked(seen.blocked_writes),
            lock: seen.lock,
            rewrote,
            growth: String::new(),
            tables: tables.to_vec(),
        });
    }

    /// Runs one step with the probe watching; its time is the runner's own measurement.
    fn timed(
        &mut self,
        slot: &mut Slot<'_>,
        db: &TempDb,
        step: &Step,
        tables: &[String],
        probe: &mut Option<LockProbe>,
    ) -> Result<Timed, String> {
        let rt = &self.ctx.runtime;
        let dialect = db.dialect();
        let storage = |rt: &tokio::runtime::Runtime| {
            (dialect != Dialect::Mysql)
                .then(|| rt.block_on(db.table_storage(tables)).ok())
                .flatten()
        };
        let before = storage(rt);
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = (probe.take())
            .filter(|_| !tables.is_empty())
            .map(|p| rt.spawn(probe::watch(p, tables.to_vec(), Arc::clone(&stop))));
        let started = Instant::now();
        let result = step_or_stop(slot, step, db);
        let wall = started.elapsed();
        stop.store(true, Ordering::Release);
        let seen = match watcher.map(|w| rt.block_on(w)) {
            Some(Ok((p, seen))) => {
                *probe = Some(p);
                seen
            }
            _ => Seen::default(),
        };
        let ok = result.map_err(|e| format!("{step}: {e}"))?;
        self.overhead
            .push(wall.saturating_sub(ok.elapsed).as_secs_f64() * 1000.0);
        let rewrote = match (before, storage(rt)) {
            (Some(a), Some(b)) => Some(a.iter().any(|(t, f)| b.get(t).is_some_and(|g| g != f))),
            _ => None,
        };
        Ok(Timed {
            ms: ok.elapsed.as_secs_f64() * 1000.0,
            seen,
            rewrote,
        })
    }
}

/// A step on `slot`; a step that reached for a database mrt did not make stops the run.
fn step_or_stop(
    slot: &mut Slot<'_>,
    step: &Step,
    db: &TempDb,
) -> Result<mrt_migrations::exec::StepOk, StepError> {
    crate::cleanup::stop_if_refused(slot.step(step, db))
}

/// Fills the tables of `scope` to `rows` rows each (the rows already there count towards none:
/// they stay, and generated keys avoid them), parents first, many rows per statement. The
/// values are the trial's generators', seeded from the run seed and the revision. Returns the
/// rows inserted and the time spent generating them.
fn fill(
    ctx: &Context,
    db: &TempDb,
    scope: &Schema,
    rev: &str,
    rows: usize,
) -> Result<(usize, Duration), String> {
    if rows == 0 || scope.tables.is_empty() {
        return Ok((0, Duration::ZERO));
    }
    let rt = &ctx.runtime;
    let mut existing = BTreeMap::new();
    for (name, table) in &scope.tables {
        let read = rt
            .block_on(db.read_rows(table))
            .map_err(|e| e.to_string())?;
        existing.insert(name.clone(), read);
    }
    let project = &ctx.settings.project;
    let source = (project.graph.get(rev)).and_then(|r| project.framework.revision_text(r));
    let options = SeedOptions {
        rows_per_table: rows,
        seed: crate::trial::trial_seed(ctx.settings.seed, rev),
        literals: mine_literals(&[source.as_deref().unwrap_or("")]),
        custom: ctx.settings.custom_seeds.clone(),
        existing,
    };
    let started = Instant::now();
    let seeds = seed(scope, options).map_err(|e| format!("cannot generate rows: {e}"))?;
    let generating = started.elapsed();
    let mut inserted = 0;
    for (name, values) in &seeds.tables {
        let Some(table) = scope.tables.get(name) else {
            continue;
        };
        rt.block_on(db.fill_rows(table, values))
            .map_err(|e| format!("filling {name}: {e}"))?;
        inserted += values.len();
    }
    for (table, updates) in seeds.row_updates(scope) {
        rt.block_on(db.update_rows(table, &updates))
            .map_err(|e| format!("filling {}: {e}", table.name))?;
    }
    Ok((inserted, generating))
}
