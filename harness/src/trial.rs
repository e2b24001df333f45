//! The trial of one revision on one database (DESIGN.md, "The trial"): seed, upgrade, downgrade,
//! compare schema and rows with before, clean, upgrade again and compare with the first upgrade.

use crate::executors::Slot;
use crate::failure::{Failure, Setup};
use crate::plan::Context;
use crate::pool::Pooled;
use crate::report::Verdict;
use mrt_db::{diff_rows, diff_schemas, DbError, Row, Schema, SchemaHint, Table, TempDb};
use mrt_generators::{mine_literals, seed, shrink_candidates, Literals, SeedOptions, Seeds};
use mrt_migrations::exec::{Direction, Step, StepError, StepOk};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// Runs the trial; the database goes back to the pool at state `before(rev) + rev` only when it
/// passed, and is dropped otherwise (its state is unknown).
///
/// The first attempt seeds and compares the tables the revision's file mentions (with their
/// foreign-key relatives). If the SQL the steps executed touched any other table, the attempt is
/// thrown away and the trial runs again over every table, so narrowing never hides a loss. A
/// failure on data is then shrunk: the trial is re-run on smaller row sets while it still fails,
/// and the smallest failing rows are shown.
///
/// A revision that cannot be downgraded by design (see `Framework::forward_only`) gets the
/// forward trial instead: seed, upgrade, and every row of the tables it does not name must be
/// as it was.
pub fn run(ctx: &Context, rev: &str, pool_index: usize) -> Result<(), Verdict> {
    let cases = ctx.settings.cases.max(1);
    let mode = match ctx.settings.project.framework.forward_only(rev) {
        Some(_) => Mode::Forward,
        None => Mode::Rollback,
    };
    for case in 0..cases {
        run_case(ctx, rev, pool_index, case, mode).map_err(|mut verdict| {
            if cases > 1 {
                verdict.add(Failure::Case {
                    case: case + 1,
                    of: cases,
                });
            }
            verdict
        })?;
    }
    Ok(())
}

/// Which trial a revision gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Upgrade, downgrade, compare, upgrade again.
    Rollback,
    /// Upgrade only: the tables it does not name keep their rows.
    Forward,
}

/// The test name of a revision's forward trial.
pub fn forward_name(db: &str, rev: &str) -> String {
    format!("{db}::{rev}::forward")
}

/// One generated case: its own rows, derived from the run seed, the revision and `case`.
fn run_case(
    ctx: &Context,
    rev: &str,
    pool_index: usize,
    case: u64,
    mode: Mode,
) -> Result<(), Verdict> {
    let project = &ctx.settings.project;
    let revision = project.graph.get(rev);
    let source = revision.and_then(|r| project.framework.revision_text(r));
    let named = revision.and_then(|r| project.framework.mentioned_words(r));
    let mut input = Input {
        mentioned: named.clone(),
        named,
        literals: mine_literals(&[source.as_deref().unwrap_or("")]),
        explicit: None,
        case,
        mode,
    };
    let mut outcome = attempt(ctx, rev, pool_index, &input);
    if outcome.rescope {
        input.mentioned = None;
        outcome = attempt(ctx, rev, pool_index, &input);
    }
    match outcome.result {
        Ok(()) => Ok(()),
        Err(verdict) if verdict.lost_data() => Err(shrink(
            ctx,
            rev,
            pool_index,
            input,
            verdict,
            outcome.seeds,
            &outcome.columns,
        )),
        Err(verdict) => Err(verdict),
    }
}

/// Re-runs spent on shrinking one failure, at most.
const SHRINK_BUDGET: usize = 16;

/// Re-runs the trial on ever smaller seeds ([`shrink_candidates`]) while it still fails on data,
/// within [`SHRINK_BUDGET`] runs, and returns the smallest failure with its rows.
fn shrink(
    ctx: &Context,
    rev: &str,
    pool_index: usize,
    mut input: Input,
    verdict: Verdict,
    seeds: Option<Seeds>,
    columns: &BTreeMap<String, Vec<String>>,
) -> Verdict {
    let Some(mut smallest) = seeds else {
        return verdict;
    };
    let mut best = verdict;
    let mut runs = 0;
    let mut steps = 0;
    'rounds: loop {
        for candidate in shrink_candidates(&smallest) {
            if runs == SHRINK_BUDGET {
                break 'rounds;
            }
            runs += 1;
            input.explicit = Some(candidate.clone());
            let outcome = attempt(ctx, rev, pool_index, &input);
            if let Err(v) = outcome.result {
                if v.lost_data() {
                    smallest = candidate;
                    best = v;
                    steps += 1;
                    continue 'rounds;
                }
            }
        }
        break;
    }
    best.add(Failure::Shrunk {
        steps,
        runs,
        rows: seed_lines(&smallest, columns),
    });
    best
}

/// One line per seeded row, its columns named: `users(id=1, email='', name='y€c')`.
fn seed_lines(seeds: &Seeds, columns: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    seeds
        .tables
        .iter()
        .flat_map(|(table, rows)| {
            let names = columns.get(table);
            rows.iter().map(move |row| {
                let values: Vec<String> = (row.iter().enumerate())
                    .map(|(i, v)| match names.and_then(|n| n.get(i)) {
                        Some(name) => format!("{name}={v}"),
                        None => v.to_string(),
                    })
                    .collect();
                format!("{table}({})", values.join(", "))
            })
        })
        .collect()
}

/// What one attempt seeds with.
struct Input {
    /// Words the revision mentions; `None` means seed and compare every table.
    mentioned: Option<BTreeSet<String>>,
    /// Words the revision's own text names (kept when the scope widens): the forward trial
    /// compares the tables outside them.
    named: Option<BTreeSet<String>>,
    mode: Mode,
    /// Constants of the revision's code, offered to the generator as candidate values.
    literals: Literals,
    /// Rows to seed instead of generating them (shrinking).
    explicit: Option<Seeds>,
    /// Which generated case (0 first); each has its own seed.
    case: u64,
}

struct Outcome {
    result: Result<(), Verdict>,
    /// The steps touched tables outside the seeded scope: run again over all tables.
    rescope: bool,
    /// The rows this attempt seeded.
    seeds: Option<Seeds>,
    /// The column names of the seeded tables, in row order.
    columns: BTreeMap<String, Vec<String>>,
}

fn attempt(ctx: &Context, rev: &str, pool_index: usize, input: &Input) -> Outcome {
    let pool = &ctx.pools[pool_index];
    let graph = &ctx.settings.project.graph;
    let message = graph.get(rev).and_then(|r| r.message.as_deref());
    let mut verdict = Verdict::new(&pool.name, rev, message, ctx.settings.seed)
        .with_command(&ctx.settings.reproduce);
    if input.mode == Mode::Forward {
        verdict.test = Some(forward_name(&pool.name, rev).into());
    }
    let before: BTreeSet<&str> = graph.ancestors(rev).unwrap_or_default();
    let done = |result| Outcome {
        result,
        rescope: false,
        seeds: None,
        columns: BTreeMap::new(),
    };
    if let Some(reason) = pool.gone() {
        let detail = pool.unreachable(reason).to_string();
        return done(fail(verdict, Setup::ServerGone, detail));
    }
    let mut pooled = match ctx.runtime.block_on(pool.call(pool.take(graph, &before))) {
        Ok(p) => p,
        Err(e) => return done(fail(verdict, Setup::CreateDatabase, e.to_string())),
    };
    let mut slot = match ctx.executors.checkout(&pooled.db) {
        Ok(slot) => slot,
        Err(e) => {
            pool.give_back(pooled);
            let what = Setup::StartExecutor(ctx.executors.what().into());
            return done(fail(verdict, what, e.to_string()));
        }
    };
    let mut trial = Trial {
        ctx,
        pool,
        slot: &mut slot,
        rev,
        before: &before,
        verdict: &mut verdict,
        input,
        rescope: false,
        seeded: None,
        columns: BTreeMap::new(),
        spare: None,
    };
    let passed = trial.run(&mut pooled);
    let (rescope, seeds, spare) = (trial.rescope, trial.seeded.take(), trial.spare.take());
    let columns = std::mem::take(&mut trial.columns);
    if input.mode == Mode::Forward {
        // The database keeps the seeded rows, changed by the upgrade: never reused. The copy
        // taken before seeding goes back at `before(rev)`.
        ctx.runtime.block_on(pool.discard(pooled));
        if let Some(db) = spare {
            let mut copy = Pooled::fresh(db);
            copy.state = before.iter().map(|s| s.to_string()).collect();
            pool.give_back(copy);
        }
        let result = if passed && !rescope {
            Ok(())
        } else {
            Err(verdict)
        };
        return Outcome {
            result,
            rescope,
            seeds,
            columns,
        };
    }
    if passed && !rescope {
        pooled.state = before
            .iter()
            .map(|s| s.to_string())
            .chain([rev.to_string()])
            .collect();
        pool.give_back(pooled);
        return Outcome {
            result: Ok(()),
            rescope,
            seeds,
            columns,
        };
    }
    ctx.runtime.block_on(pool.discard(pooled));
    Outcome {
        result: Err(verdict),
        rescope,
        seeds,
        columns,
    }
}

/// `drift::<db>`: a database with every revision applied (the one the last trial left, or one
/// brought forward), compared with env.py's `target_metadata` by Alembic's autogenerate; every
/// difference is listed. Passing, the database goes back to the pool.
pub fn drift(ctx: &Context, pool_index: usize) -> Result<(), Verdict> {
    let pool = &ctx.pools[pool_index];
    let graph = &ctx.settings.project.graph;
    let all: BTreeSet<&str> = graph.ordered().map(|r| r.id.as_str()).collect();
    let (message, title) = ctx.settings.project.framework.drift_words();
    let mut verdict = Verdict::new(
        &pool.name,
        "every revision applied",
        Some(message),
        ctx.settings.seed,
    )
    .with_command(&ctx.settings.reproduce);
    verdict.test = Some(format!("drift::{}", pool.name).into());
    if let Some(reason) = pool.gone() {
        let detail = pool.unreachable(reason).to_string();
        return fail(verdict, Setup::ServerGone, detail);
    }
    let mut pooled = match ctx.runtime.block_on(pool.call(pool.take(graph, &all))) {
        Ok(p) => p,
        Err(e) => return fail(verdict, Setup::CreateDatabase, e.to_string()),
    };
    let mut slot = match ctx.executors.checkout(&pooled.db) {
        Ok(slot) => slot,
        Err(e) => {
            pool.give_back(pooled);
            let what = Setup::StartExecutor(ctx.executors.what().into());
            return fail(verdict, what, e.to_string());
        }
    };
    let input = Input {
        mentioned: None,
        named: None,
        literals: Literals::default(),
        explicit: None,
        case: 0,
        mode: Mode::Rollback,
    };
    let mut trial = Trial {
        ctx,
        pool,
        slot: &mut slot,
        rev: "every revision",
        before: &all,
        verdict: &mut verdict,
        input: &input,
        rescope: false,
        seeded: None,
        columns: BTreeMap::new(),
        spare: None,
    };
    if trial.reach_before(&mut pooled).is_ok() {
        let heads = trial.heads_of(&all);
        match trial.slot.drift(&pooled.db, &heads) {
            Ok(Some(diffs)) if diffs.is_empty() => {}
            Ok(Some(diffs)) => trial.verdict.add(Failure::Drift(title, diffs)),
            Ok(None) => trial.verdict.add(Failure::NoDriftModel {
                why: "env.py gave context.configure() no target_metadata".into(),
                fix: "set target_metadata in env.py, or `drift = false` in config".into(),
            }),
            Err(StepError::Refused(message)) => {
                crate::cleanup::stop_run(&format!("mrt: error: {message}"), 3)
            }
            Err(e) => trial.verdict.add(Failure::DriftUnavailable(e.to_string())),
        }
    }
    drop(slot);
    if verdict.is_empty() {
        pool.give_back(pooled);
        return Ok(());
    }
    ctx.runtime.block_on(pool.discard(pooled));
    Err(verdict)
}

fn fail(mut verdict: Verdict, action: Setup, error: String) -> Result<(), Verdict> {
    verdict.add(Failure::Setup { action, error });
    Err(verdict)
}

struct Trial<'a, 's> {
    ctx: &'a Context,
    pool: &'a crate::pool::Pool,
    slot: &'a mut Slot<'s>,
    rev: &'a str,
    before: &'a BTreeSet<&'a str>,
    verdict: &'a mut Verdict,
    input: &'a Input,
    /// Set when the steps touched a table outside the scope (see [`run`]).
    rescope: bool,
    /// The rows seeded, kept for shrinking.
    seeded: Option<Seeds>,
    /// Their tables' column names (to show shrunk rows by name).
    columns: BTreeMap<String, Vec<String>>,
    /// A forward trial's copy of the database at `before(rev)`, taken before seeding.
    spare: Option<TempDb>,
}

/// A stage that went wrong: recorded in the verdict, ends the trial.
struct Stop;

type Stage<T> = Result<T, Stop>;

/// Which step of the trial ran, to say what its failure means.
#[derive(Clone, Copy)]
enum StepRole {
    ReachBefore,
    Upgrade,
    Downgrade,
    UpgradeAgain,
}

impl Trial<'_, '_> {
    fn run(&mut self, pooled: &mut Pooled) -> bool {
        let outcome = match self.input.mode {
            Mode::Rollback => self.stages(pooled),
            Mode::Forward => self.forward(pooled),
        };
        outcome.is_ok() && self.verdict.is_empty()
    }

    /// The forward trial: seed, upgrade, and the tables the revision does not name must hold
    /// exactly the rows they held.
    fn forward(&mut self, pooled: &mut Pooled) -> Stage<()> {
        self.reach_before(pooled)?;
        self.keep(pooled);
        let s0 = match pooled.schema.take() {
            Some(schema) => schema,
            None => self.introspect(&pooled.db, "before the upgrade")?,
        };
        // A copy to hand back at `before(rev)`; without one the next trial replays from base.
        let server = std::sync::Arc::clone(&self.pool.server);
        self.spare = self.block(server.clone_db(&pooled.db)).ok();
        let db = &pooled.db;
        let scope = scope_of(&s0, self.input.mentioned.as_ref());
        let pre_seed = self.read_all(db, &scope)?;
        self.seed(db, &scope, &pre_seed)?;
        let d0 = self.read_all(db, &scope)?;
        let up = match self.step(db, &self.own_step(Direction::Up), StepRole::Upgrade) {
            Ok(up) => up,
            Err(stop) => {
                self.report_residue(db, &s0);
                return Err(stop);
            }
        };
        let s1 = self.schema_after(db, up.schema_hint.as_ref(), "after the upgrade")?;
        let mut unnamed = scope.clone();
        if let Some(named) = &self.input.named {
            unnamed
                .tables
                .retain(|name, _| !named.contains(&name.to_lowercase()));
        }
        self.compare_rows(db, &unnamed, &d0, &s1, Failure::ForwardChangedRows)?;
        if self.verdict.is_empty() && !touched_within(&s0, &scope, [&up]) {
            self.rescope = true;
        }
        Ok(())
    }

    fn stages(&mut self, pooled: &mut Pooled) -> Stage<()> {
        self.reach_before(pooled)?;
        self.keep(pooled);
        let known = pooled.schema.take();
        let db = &pooled.db;
        let s0 = match known {
            Some(schema) => schema,
            None => self.introspect(db, "before the upgrade")?,
        };
        let start = std::time::Instant::now();
        let scope = scope_of(&s0, self.input.mentioned.as_ref());
        crate::timing::add(crate::timing::Kind::Compare, start.elapsed());
        let pre_seed = self.read_all(db, &scope)?;
        self.seed(db, &scope, &pre_seed)?;
        let d0 = self.read_all(db, &scope)?;
        let upgrade = self.own_step(Direction::Up);
        let up = match self.step(db, &upgrade, StepRole::Upgrade) {
            Ok(up) => up,
            Err(stop) => {
                self.report_residue(db, &s0);
                return Err(stop);
            }
        };
        // The first upgrade's schema as its runner reported it, where it can (reading it here
        // could cost a full schema re-parse in mrt's connection).
        let s1 = match up.schema_hint.clone() {
            Some(hint) => First::Hint(hint),
            None => First::Schema(self.introspect(db, "after the upgrade")?),
        };
        let down = self.step(db, &self.own_step(Direction::Down), StepRole::Downgrade)?;
        if let Some(heads) = &down.heads {
            self.check_heads(heads);
        }
        let s2 = self.schema_after(db, down.schema_hint.as_ref(), "after the downgrade")?;
        self.compare_schema(&s0, &s2, Failure::SchemaNotRestored);
        self.compare_rows(db, &scope, &d0, &s2, Failure::DataNotRestored)?;
        if self.verdict.is_empty() && !touched_within(&s0, &scope, [&up, &down]) {
            self.rescope = true;
            return Ok(());
        }
        if self.verdict.is_empty() {
            self.restore_rows(db, &scope, &pre_seed)?;
        }
        let again = self.step(db, &upgrade, StepRole::UpgradeAgain)?;
        let s3 = self.schema_after(db, again.schema_hint.as_ref(), "after the second upgrade")?;
        match (&s1, &again.schema_hint) {
            (First::Hint(first), Some(second)) => self.compare_hints(first, second, &s3),
            (First::Schema(first), _) => {
                self.compare_schema(first, &s3, Failure::SecondUpgradeDiffers)
            }
            (First::Hint(_), None) => self.verdict.add(Failure::SecondUpgradeDiffersText(vec![
                "the runner did not report the schema".into(),
            ])),
        }
        pooled.schema = Some(s3);
        Ok(())
    }

    /// Offers the state before the trial, before any row is seeded, to the snapshot store.
    fn keep(&self, pooled: &Pooled) {
        let start = std::time::Instant::now();
        self.ctx.runtime.block_on(self.pool.save(pooled));
        crate::timing::add(crate::timing::Kind::Snapshot, start.elapsed());
    }

    fn block<T>(&self, f: impl Future<Output = Result<T, DbError>>) -> Result<T, DbError> {
        self.timed(crate::timing::Kind::Database, f)
    }

    /// Runs a database call (with the pool's deadline for servers, see
    /// [`crate::pool::Pool::call`]) and adds its time to `kind`.
    fn timed<T>(
        &self,
        kind: crate::timing::Kind,
        f: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        let start = std::time::Instant::now();
        let out = self.ctx.runtime.block_on(self.pool.call(f));
        crate::timing::add(kind, start.elapsed());
        out
    }

    fn stop(&mut self, action: Setup, error: impl ToString) -> Stop {
        self.verdict.add(Failure::Setup {
            action,
            error: error.to_string(),
        });
        Stop
    }

    /// Brings a pooled database forward to `before(rev)`: for each head of that state, one step
    /// that applies exactly the revisions it still lacks, parents first.
    fn reach_before(&mut self, pooled: &mut Pooled) -> Stage<()> {
        let graph = &self.ctx.settings.project.graph;
        for step in crate::reach::steps_to(graph, &pooled.state, self.before) {
            pooled.schema = None;
            self.step(&pooled.db, &step, StepRole::ReachBefore)?;
        }
        pooled.state = self.before.iter().map(|s| s.to_string()).collect();
        self.reach_environment(pooled)
    }

    /// What the revision needs from outside the project, applied before the trial reads the
    /// schema: it is part of the state before it, not of its step.
    fn reach_environment(&mut self, pooled: &mut Pooled) -> Stage<()> {
        let revisions = [self.rev.to_string()];
        match self.slot.reach_environment(&pooled.db, &revisions) {
            Ok(false) => Ok(()),
            Ok(true) => {
                pooled.schema = None;
                Ok(())
            }
            Err(StepError::Refused(message)) => {
                crate::cleanup::stop_run(&format!("mrt: error: {message}"), 3)
            }
            Err(error) => {
                pooled.schema = None;
                self.verdict.add(Failure::CannotReachBefore {
                    revision: self.rev.to_string(),
                    step: "the migrations of other apps it depends on".into(),
                    error,
                });
                Err(Stop)
            }
        }
    }

    /// The trial's own steps: the revision alone, upgraded from the heads of `before(rev)` or
    /// downgraded from those of `before(rev) + rev` back to them.
    fn own_step(&self, direction: Direction) -> Step {
        let graph = &self.ctx.settings.project.graph;
        crate::reach::own_step(graph, self.before, self.rev, direction)
    }

    /// The heads of a state as a runner takes them.
    fn heads_of(&self, state: &BTreeSet<&str>) -> Vec<String> {
        crate::reach::heads(&self.ctx.settings.project.graph, state)
    }

    fn step(&mut self, db: &TempDb, step: &Step, role: StepRole) -> Stage<StepOk> {
        let start = std::time::Instant::now();
        let result = self.slot.step(step, db);
        crate::timing::add(crate::timing::Kind::Migration, start.elapsed());
        let error = match crate::cleanup::stop_if_refused(result) {
            Ok(ok) => return Ok(ok),
            Err(e) => e,
        };
        let step = step.to_string();
        self.verdict.add(match role {
            StepRole::ReachBefore => Failure::CannotReachBefore {
                revision: self.rev.to_string(),
                step,
                error,
            },
            StepRole::Upgrade => Failure::UpgradeFails { step, error },
            StepRole::Downgrade => Failure::DowngradeFails { step, error },
            StepRole::UpgradeAgain => Failure::UpgradeAgainFails { step, error },
        });
        Err(Stop)
    }

    /// After the downgrade, the framework's bookkeeping must name exactly the heads of
    /// `before(rev)`.
    fn check_heads(&mut self, heads: &[String]) {
        let mut expected = self.heads_of(self.before);
        expected.sort();
        let mut found = heads.to_vec();
        found.sort();
        if found != expected {
            self.verdict.add(Failure::WrongHeads { expected, found });
        }
    }

    fn ignored(&self) -> Vec<&str> {
        self.ctx.bookkeeping.iter().map(String::as_str).collect()
    }

    fn introspect(&mut self, db: &TempDb, when: &'static str) -> Stage<Schema> {
        let ignore = self.ignored();
        match self.timed(crate::timing::Kind::Introspection, db.introspect(&ignore)) {
            Ok(s) => Ok(s),
            Err(e) => Err(self.stop(Setup::ReadSchema(when), e)),
        }
    }

    /// The schema after a step: modelled from what its runner reported where it did (mostly
    /// from the per-table cache; reading the database would make mrt's connection re-parse the
    /// whole schema after the runner's change), else, or if that cannot be modelled, read.
    fn schema_after(
        &mut self,
        db: &TempDb,
        hint: Option<&SchemaHint>,
        when: &'static str,
    ) -> Stage<Schema> {
        if let Some(hint) = hint {
            let ignore = self.ignored();
            let kind = crate::timing::Kind::Introspection;
            if let Ok(schema) = self.timed(kind, hint.schema(&ignore)) {
                return Ok(schema);
            }
        }
        self.introspect(db, when)
    }

    fn read_all(&mut self, db: &TempDb, schema: &Schema) -> Stage<BTreeMap<String, Vec<Row>>> {
        let mut out = BTreeMap::new();
        for table in schema.tables.values() {
            match self.block(db.read_rows(table)) {
                Ok(rows) => {
                    out.insert(table.name.clone(), rows);
                }
                Err(e) => return Err(self.stop(Setup::ReadRows(table.name.clone()), e)),
            }
        }
        Ok(out)
    }

    /// Inserts generated rows besides `existing` (what the tables held before seeding: rows that
    /// earlier data migrations inserted), which the generator steers clear of.
    fn seed(
        &mut self,
        db: &TempDb,
        schema: &Schema,
        existing: &BTreeMap<String, Vec<Row>>,
    ) -> Stage<()> {
        let options = SeedOptions {
            rows_per_table: self.ctx.settings.rows,
            seed: trial_seed(self.ctx.settings.seed, self.rev)
                .wrapping_add(self.input.case.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            literals: self.input.literals.clone(),
            custom: self.custom_seeds(schema),
            existing: existing.clone(),
        };
        let seeds = match &self.input.explicit {
            Some(explicit) => explicit.clone(),
            None => match seed(schema, options) {
                Ok(s) => s,
                Err(e) => return Err(self.stop(Setup::Seed, e)),
            },
        };
        self.seeded = Some(seeds.clone());
        self.columns = (seeds.tables.iter())
            .filter_map(|(name, _)| {
                let table = schema.tables.get(name)?;
                Some((
                    name.clone(),
                    table.columns.iter().map(|c| c.name.clone()).collect(),
                ))
            })
            .collect();
        for (name, rows) in &seeds.tables {
            let Some(table) = schema.tables.get(name) else {
                continue;
            };
            if let Err(e) = self.block(db.insert_rows(table, rows)) {
                return Err(self.stop(Setup::InsertRows(name.clone()), e));
            }
        }
        self.fill_deferred(db, schema, &seeds, "generated rows")
    }

    /// The configured custom seeds, plus none for a table whose foreign key must point at a
    /// row of the framework's bookkeeping (Django's `auth_permission`): mrt writes no rows
    /// there, so such a table stays as it is.
    fn custom_seeds(&self, schema: &Schema) -> BTreeMap<String, mrt_generators::CustomSeed> {
        let mut custom = self.ctx.settings.custom_seeds.clone();
        let bookkeeping = |t: &str| {
            self.ctx
                .bookkeeping
                .iter()
                .any(|b| b.eq_ignore_ascii_case(t))
        };
        for table in schema.tables.values() {
            let needs_bookkeeping_rows = table.foreign_keys.iter().any(|fk| {
                bookkeeping(&fk.ref_table)
                    && fk
                        .columns
                        .iter()
                        .any(|c| table.column(c).is_some_and(|col| !col.nullable))
            });
            if needs_bookkeeping_rows {
                custom
                    .entry(table.name.clone())
                    .or_insert_with(|| mrt_generators::CustomSeed {
                        rows: Some(Vec::new()),
                        file: None,
                        mode: mrt_generators::CustomMode::Replace,
                    });
            }
        }
        custom
    }

    /// Foreign keys inserted NULL to break a cycle, filled once every table has its rows.
    fn fill_deferred(
        &mut self,
        db: &TempDb,
        schema: &Schema,
        seeds: &Seeds,
        what: &'static str,
    ) -> Stage<()> {
        for (table, updates) in seeds.row_updates(schema) {
            if let Err(e) = self.block(db.update_rows(table, &updates)) {
                return Err(self.stop(Setup::FillCycle(table.name.clone(), what), e));
            }
        }
        Ok(())
    }

    /// After a failed upgrade the database should be as before (transactional DDL); some
    /// databases commit each DDL statement, so a failure midway leaves part of the migration
    /// applied. Say so.
    fn report_residue(&mut self, db: &TempDb, s0: &Schema) {
        let ignore = self.ignored();
        if let Ok(after) = self.block(db.introspect(&ignore)) {
            let diffs = diff_schemas(s0, &after);
            if !diffs.is_empty() {
                self.verdict.add(Failure::NotRolledBack(diffs));
            }
        }
    }

    /// Adds `failure(differences)` when the schemas differ.
    fn compare_schema(
        &mut self,
        expected: &Schema,
        actual: &Schema,
        failure: fn(Vec<mrt_db::SchemaDifference>) -> Failure,
    ) {
        let start = std::time::Instant::now();
        let diffs = diff_schemas(expected, actual);
        if !diffs.is_empty() {
            self.verdict.add(failure(diffs));
        }
        crate::timing::add(crate::timing::Kind::Compare, start.elapsed());
    }

    /// Compares the two upgrades as their runner reported them: equal hints are equal schemas;
    /// otherwise the first is modelled and compared with `s3` as on other databases.
    fn compare_hints(&mut self, first: &SchemaHint, second: &SchemaHint, s3: &Schema) {
        if first == second {
            return;
        }
        let ignore = self.ignored();
        let model = self.timed(crate::timing::Kind::Introspection, first.schema(&ignore));
        match model {
            Ok(s1) => self.compare_schema(&s1, s3, Failure::SecondUpgradeDiffers),
            Err(e) => {
                // Not expected (the texts came from the database); the texts still show what
                // differs.
                let mut lines = vec![format!("cannot model the first upgrade's schema: {e}")];
                lines.extend(first.differences(second, &ignore));
                self.verdict.add(Failure::SecondUpgradeDiffersText(lines));
            }
        }
    }

    /// Adds `failure(differences)` when the rows of `s0`'s tables, read now under the schema
    /// `s2`, differ from `d0`.
    fn compare_rows(
        &mut self,
        db: &TempDb,
        s0: &Schema,
        d0: &BTreeMap<String, Vec<Row>>,
        s2: &Schema,
        failure: fn(Vec<mrt_db::RowDifference>) -> Failure,
    ) -> Stage<()> {
        let mut differences = Vec::new();
        for (name, t0) in &s0.tables {
            let Some(t2) = s2.tables.get(name) else {
                continue;
            };
            let rows = match self.block(db.read_rows(t2)) {
                Ok(r) => r,
                Err(e) => return Err(self.stop(Setup::ReadRowsAfterDowngrade(name.clone()), e)),
            };
            let empty = Vec::new();
            let before = d0.get(name).unwrap_or(&empty);
            differences.extend(diff_rows(t0, before, t2, &rows));
        }
        if !differences.is_empty() {
            self.verdict.add(failure(differences));
        }
        Ok(())
    }

    /// Puts the rows back as they were before seeding, so the database returns to the pool clean.
    /// Safe only after the comparison passed: the schema is then exactly `s0`.
    fn restore_rows(
        &mut self,
        db: &TempDb,
        s0: &Schema,
        pre_seed: &BTreeMap<String, Vec<Row>>,
    ) -> Stage<()> {
        // The order seeding used: with a foreign-key cycle, the model's parent-first order has
        // no valid direction at all.
        let parent_first: Vec<&Table> = mrt_generators::insert_order(s0);
        let child_first: Vec<&Table> = parent_first.iter().rev().copied().collect();
        if let Err(e) = self.block(db.delete_all_rows(&child_first)) {
            return Err(self.stop(Setup::RemoveSeeded, e));
        }
        let restore = mrt_generators::restore_seeds(s0, pre_seed);
        for (name, rows) in &restore.tables {
            let Some(table) = s0.tables.get(name) else {
                continue;
            };
            if rows.is_empty() {
                continue;
            }
            if let Err(e) = self.block(db.insert_rows(table, rows)) {
                return Err(self.stop(Setup::RestoreRows(table.name.clone()), e));
            }
        }
        self.fill_deferred(db, s0, &restore, "rows restored")
    }
}

/// The schema after a trial's first upgrade: read by mrt, or as its runner reported it.
enum First {
    Schema(Schema),
    Hint(SchemaHint),
}

/// The part of `s0` a trial seeds and compares: the tables named in `mentioned` (all tables when
/// `None`), closed over foreign keys in both directions (parents are needed to seed children;
/// children can lose rows through cascades).
pub(crate) fn scope_of(s0: &Schema, mentioned: Option<&BTreeSet<String>>) -> Schema {
    let Some(words) = mentioned else {
        return s0.clone();
    };
    let start = s0
        .tables
        .keys()
        .filter(|t| words.contains(&t.to_lowercase()))
        .cloned();
    let names = fk_closure(s0, start);
    let mut scope = s0.clone();
    scope.tables.retain(|name, _| names.contains(name));
    scope
}

/// Tables connected to `start` through foreign keys, in either direction.
fn fk_closure(s0: &Schema, start: impl Iterator<Item = String>) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = start.collect();
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(table) = s0.tables.get(&name) else {
            continue;
        };
        stack.extend(table.foreign_keys.iter().map(|fk| fk.ref_table.clone()));
        stack.extend(
            s0.tables
                .values()
                .filter(|t| t.foreign_keys.iter().any(|fk| fk.ref_table == name))
                .map(|t| t.name.clone()),
        );
    }
    seen
}

/// Whether every table of `s0` that the executed SQL names is inside `scope`. A statement list
/// that was cut short counts as touching everything.
fn touched_within<'a>(
    s0: &Schema,
    scope: &Schema,
    steps: impl IntoIterator<Item = &'a StepOk>,
) -> bool {
    if scope.tables.len() == s0.tables.len() {
        return true;
    }
    let mut words: BTreeSet<String> = BTreeSet::new();
    for step in steps {
        for statement in &step.statements {
            if statement.starts_with("-- mrt: more statements") {
                return false;
            }
            words.extend(mrt_migrations::sql_words(statement));
        }
    }
    s0.tables
        .keys()
        .filter(|t| words.contains(&t.to_lowercase()))
        .all(|t| scope.tables.contains_key(t))
}

/// A per-revision seed derived from the run seed, so each trial reproduces on its own.
pub(crate) fn trial_seed(run_seed: u64, rev: &str) -> u64 {
    rev.bytes().fold(run_seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_seed_differs_per_revision_and_is_stable() {
        assert_eq!(trial_seed(42, "a"), trial_seed(42, "a"));
        assert_ne!(trial_seed(42, "a"), trial_seed(42, "b"));
        assert_ne!(trial_seed(42, "a"), trial_seed(43, "a"));
    }
}
