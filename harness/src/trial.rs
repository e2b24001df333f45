//! The trial of one revision on one database (DESIGN.md, "The trial"): seed, upgrade, downgrade,
//! compare schema and rows with before, clean, upgrade again and compare with the first upgrade.

use crate::plan::Context;
use crate::pool::Pooled;
use crate::report::Verdict;
use crate::workers::Slot;
use mrt_db::{
    diff_rows, diff_schemas, sqlite_schema_from_master, DbError, Dialect, Row, Schema, Table,
    TempDb,
};
use mrt_generators::{mine_literals, seed, shrink_candidates, Literals, SeedOptions, Seeds};
use mrt_migrations::exec::{master_rows, MasterRow, Step, StepOk};
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
pub fn run(ctx: &Context, rev: &str, pool_index: usize) -> Result<(), Verdict> {
    let cases = ctx.settings.cases.max(1);
    for case in 0..cases {
        run_case(ctx, rev, pool_index, case).map_err(|mut verdict| {
            if cases > 1 {
                verdict.add(
                    "generated case",
                    vec![format!("case {} of {cases} failed", case + 1)],
                );
            }
            verdict
        })?;
    }
    Ok(())
}

/// One generated case: its own rows, derived from the run seed, the revision and `case`.
fn run_case(ctx: &Context, rev: &str, pool_index: usize, case: u64) -> Result<(), Verdict> {
    let source = revision_source(ctx, rev);
    let mut input = Input {
        mentioned: source
            .as_deref()
            .and_then(mrt_migrations::alembic::mentioned_words),
        literals: mine_literals(&[source.as_deref().unwrap_or("")]),
        explicit: None,
        case,
    };
    let mut outcome = attempt(ctx, rev, pool_index, &input);
    if outcome.rescope {
        input.mentioned = None;
        outcome = attempt(ctx, rev, pool_index, &input);
    }
    match outcome.result {
        Ok(()) => Ok(()),
        Err(verdict) if verdict.has(DATA_LOSS) => {
            Err(shrink(ctx, rev, pool_index, input, verdict, outcome.seeds))
        }
        Err(verdict) => Err(verdict),
    }
}

/// The section title of a data comparison failure (the kind of failure shrinking is for).
const DATA_LOSS: &str = "downgrade did not restore the data";
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
                if v.has(DATA_LOSS) {
                    smallest = candidate;
                    best = v;
                    steps += 1;
                    continue 'rounds;
                }
            }
        }
        break;
    }
    let mut rows = seed_lines(&smallest);
    if rows.is_empty() {
        rows.push("none: it fails with no generated rows at all (the rows it loses were in the database before seeding)".into());
    }
    let title = format!(
        "smallest failing rows ({steps} shrink steps in {runs} re-runs; the seed reproduces them)"
    );
    best.add(title, rows);
    best
}

fn seed_lines(seeds: &Seeds) -> Vec<String> {
    seeds
        .tables
        .iter()
        .flat_map(|(table, rows)| {
            rows.iter().map(move |row| {
                let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                format!("{table}: ({})", values.join(", "))
            })
        })
        .collect()
}

fn revision_source(ctx: &Context, rev: &str) -> Option<String> {
    let path = &ctx.settings.project.graph.get(rev)?.path;
    std::fs::read_to_string(path).ok()
}

/// What one attempt seeds with.
struct Input {
    /// Words the revision mentions; `None` means seed and compare every table.
    mentioned: Option<BTreeSet<String>>,
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
}

fn attempt(ctx: &Context, rev: &str, pool_index: usize, input: &Input) -> Outcome {
    let pool = &ctx.pools[pool_index];
    let graph = &ctx.settings.project.graph;
    let message = graph.get(rev).and_then(|r| r.message.as_deref());
    let mut verdict = Verdict::new(&pool.name, rev, message, ctx.settings.seed);
    let before: BTreeSet<&str> = graph.ancestors(rev).unwrap_or_default();
    let done = |result| Outcome {
        result,
        rescope: false,
        seeds: None,
    };
    if let Some(reason) = pool.gone() {
        let detail = pool.unreachable(reason).to_string();
        return done(fail(verdict, "the database server is gone", detail));
    }
    let mut pooled = match ctx.runtime.block_on(pool.call(pool.take(&before))) {
        Ok(p) => p,
        Err(e) => return done(fail(verdict, "cannot create a database", e.to_string())),
    };
    let mut slot = match ctx.workers.checkout(&pooled.db.sqlalchemy_url()) {
        Ok(slot) => slot,
        Err(e) => {
            pool.give_back(pooled);
            return done(fail(verdict, "cannot start a Python worker", e.to_string()));
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
    };
    let passed = trial.run(&mut pooled);
    let (rescope, seeds) = (trial.rescope, trial.seeded.take());
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
        };
    }
    ctx.runtime.block_on(pool.discard(pooled));
    Outcome {
        result: Err(verdict),
        rescope,
        seeds,
    }
}

/// `drift::<db>`: a database with every revision applied (the one the last trial left, or one
/// brought forward), compared with env.py's `target_metadata` by Alembic's autogenerate; every
/// difference is listed. Passing, the database goes back to the pool.
pub fn drift(ctx: &Context, pool_index: usize) -> Result<(), Verdict> {
    let pool = &ctx.pools[pool_index];
    let graph = &ctx.settings.project.graph;
    let all: BTreeSet<&str> = graph.ordered().map(|r| r.id.as_str()).collect();
    let message = "against env.py's target_metadata";
    let mut verdict = Verdict::new(
        &pool.name,
        "every revision applied",
        Some(message),
        ctx.settings.seed,
    );
    verdict.test = Some(format!("drift::{}", pool.name).into());
    if let Some(reason) = pool.gone() {
        let detail = pool.unreachable(reason).to_string();
        return fail(verdict, "the database server is gone", detail);
    }
    let mut pooled = match ctx.runtime.block_on(pool.call(pool.take(&all))) {
        Ok(p) => p,
        Err(e) => return fail(verdict, "cannot create a database", e.to_string()),
    };
    let url = pooled.db.sqlalchemy_url();
    let mut slot = match ctx.workers.checkout(&url) {
        Ok(slot) => slot,
        Err(e) => {
            pool.give_back(pooled);
            return fail(verdict, "cannot start a Python worker", e.to_string());
        }
    };
    let input = Input {
        mentioned: None,
        literals: Literals::default(),
        explicit: None,
        case: 0,
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
    };
    if trial.reach_before(&mut pooled).is_ok() {
        let heads = trial.heads_of(&all);
        match trial.slot.drift(&url, &heads) {
            Ok(Some(diffs)) if diffs.is_empty() => {}
            Ok(Some(diffs)) => trial.verdict.add(
                "the database differs from target_metadata (add_*: only the metadata has it, remove_*: only the database)",
                diffs,
            ),
            Ok(None) => trial.verdict.add(
                "env.py gave context.configure() no target_metadata",
                vec!["set target_metadata in env.py, or `drift = false` in config".into()],
            ),
            Err(mrt_migrations::exec::StepError::Refused(message)) => {
                crate::cleanup::stop_run(&format!("mrt: error: {message}"), 3)
            }
            Err(e) => trial
                .verdict
                .add("cannot compare with target_metadata", vec![e.to_string()]),
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

fn fail(mut verdict: Verdict, title: &str, detail: String) -> Result<(), Verdict> {
    verdict.add(title, vec![detail]);
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
}

/// A stage that went wrong: recorded in the verdict, ends the trial.
struct Stop;

type Stage<T> = Result<T, Stop>;

impl Trial<'_, '_> {
    fn run(&mut self, pooled: &mut Pooled) -> bool {
        let outcome = self.stages(pooled);
        outcome.is_ok() && self.verdict.is_empty()
    }

    fn stages(&mut self, pooled: &mut Pooled) -> Stage<()> {
        self.reach_before(pooled)?;
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
        let mut upgrade = self.own_step(true);
        upgrade.report_master = db.dialect() == Dialect::Sqlite;
        let up = match self.step(db, upgrade.clone(), "upgrade fails with existing data") {
            Ok(up) => up,
            Err(stop) => {
                self.report_residue(db, &s0);
                return Err(stop);
            }
        };
        // On SQLite the first upgrade's schema is its CREATE texts, from the worker; reading it
        // here would cost a full schema re-parse in mrt's connection.
        let s1 = match up.master.clone() {
            Some(texts) => First::Texts(texts),
            None => First::Schema(self.introspect(db, "after the upgrade")?),
        };
        let mut downgrade = self.own_step(false);
        downgrade.report_master = upgrade.report_master;
        let down = self.step(db, downgrade, "downgrade fails")?;
        self.check_heads(down.heads.as_deref().unwrap_or_default());
        let s2 = self.schema_after(db, down.master.as_deref(), "after the downgrade")?;
        self.compare_schema(&s0, &s2, "downgrade did not restore the schema");
        self.compare_rows(db, &scope, &d0, &s2)?;
        if self.verdict.is_empty() && !touched_within(&s0, &scope, [&up, &down]) {
            self.rescope = true;
            return Ok(());
        }
        if self.verdict.is_empty() {
            self.restore_rows(db, &scope, &pre_seed)?;
        }
        let again = self.step(db, upgrade, "upgrade fails after the downgrade")?;
        let s3 = self.schema_after(db, again.master.as_deref(), "after the second upgrade")?;
        let title = "second upgrade differs from the first";
        match (&s1, again.master) {
            (First::Texts(first), Some(second)) => self.compare_texts(first, &second, &s3, title),
            (First::Schema(first), _) => self.compare_schema(first, &s3, title),
            (First::Texts(_), None) => self
                .verdict
                .add(title, vec!["the worker did not report the schema".into()]),
        }
        pooled.schema = Some(s3);
        Ok(())
    }

    fn block<T>(&self, f: impl Future<Output = Result<T, DbError>>) -> Result<T, DbError> {
        self.timed(crate::timing::Kind::Database, f)
    }

    /// Runs a database call (with the pool's deadline for servers, see
    /// [`crate::pool::Pool::call`]) and
    /// adds its time to `kind`.
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

    fn stop(&mut self, title: impl Into<String>, detail: impl Into<String>) -> Stop {
        self.verdict.add(title, vec![detail.into()]);
        Stop
    }

    /// Brings a pooled database forward to `before(rev)`: for each head of that state, one step
    /// that applies exactly the revisions it still lacks, parents first.
    fn reach_before(&mut self, pooled: &mut Pooled) -> Stage<()> {
        let graph = &self.ctx.settings.project.graph;
        let mut applied: BTreeSet<&str> = self
            .before
            .iter()
            .copied()
            .filter(|r| pooled.state.contains(*r))
            .collect();
        if applied.len() < self.before.len() {
            for head in graph.heads_of(self.before) {
                let mut wanted = graph.ancestors(head).unwrap_or_default();
                wanted.insert(head);
                let missing: Vec<&str> = graph
                    .ordered()
                    .map(|r| r.id.as_str())
                    .filter(|id| wanted.contains(id) && !applied.contains(id))
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                let step = Step {
                    up: true,
                    revisions: missing.iter().map(|s| s.to_string()).collect(),
                    target: head.to_string(),
                    from: self.heads_of(&applied),
                    report_master: false,
                };
                pooled.schema = None;
                let title = format!("cannot reach the state before {}", self.rev);
                self.step(&pooled.db, step, &title)?;
                applied.extend(missing.iter().copied());
            }
        }
        pooled.state = self.before.iter().map(|s| s.to_string()).collect();
        Ok(())
    }

    /// The trial's own steps: the revision alone, upgraded from the heads of `before(rev)` or
    /// downgraded from those of `before(rev) + rev` back to them.
    fn own_step(&self, up: bool) -> Step {
        let graph = &self.ctx.settings.project.graph;
        let mut state = self.before.clone();
        if !up {
            state.insert(self.rev);
        }
        let target = if up {
            self.rev.to_string()
        } else {
            graph
                .downgrade_target(self.rev)
                .unwrap_or_else(|| format!("{}@base", self.rev))
        };
        Step {
            up,
            revisions: vec![self.rev.to_string()],
            target,
            from: self.heads_of(&state),
            report_master: false,
        }
    }

    /// The heads of a state as the worker takes them.
    fn heads_of(&self, state: &BTreeSet<&str>) -> Vec<String> {
        let graph = &self.ctx.settings.project.graph;
        graph
            .heads_of(state)
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn step(&mut self, db: &TempDb, step: Step, title: &str) -> Stage<StepOk> {
        let start = std::time::Instant::now();
        let result = self.slot.step(&step, &db.sqlalchemy_url());
        crate::timing::add(crate::timing::Kind::Migration, start.elapsed());
        match result {
            Ok(ok) => Ok(ok),
            Err(mrt_migrations::exec::StepError::Refused(message)) => {
                crate::cleanup::stop_run(&format!("mrt: error: {message}"), 3)
            }
            Err(e) => {
                let detail = match &e {
                    mrt_migrations::exec::StepError::Failed { error, traceback } => {
                        user_frames(traceback, &user_dirs(&self.ctx.settings.project))
                            .into_iter()
                            .fold(error.clone(), |acc, f| format!("{acc}\n{f}"))
                    }
                    other => other.to_string(),
                };
                Err(self.stop(format!("{title} ({step})"), detail))
            }
        }
    }

    /// After the downgrade, Alembic's version table must name exactly the heads of `before(rev)`.
    fn check_heads(&mut self, heads: &[String]) {
        let mut expected = self.heads_of(self.before);
        expected.sort();
        let mut got = heads.to_vec();
        got.sort();
        if got != expected {
            let show = |v: &[String]| {
                if v.is_empty() {
                    "nothing (base)".to_string()
                } else {
                    v.join(", ")
                }
            };
            self.verdict.add(
                "downgrade left the version table at the wrong revision",
                vec![format!(
                    "expected {}, found {}",
                    show(&expected),
                    show(&got)
                )],
            );
        }
    }

    fn introspect(&mut self, db: &TempDb, when: &str) -> Stage<Schema> {
        let ignore = [self.ctx.settings.version_table.as_str()];
        match self.timed(crate::timing::Kind::Introspection, db.introspect(&ignore)) {
            Ok(s) => Ok(s),
            Err(e) => Err(self.stop(format!("cannot read the schema {when}"), e.to_string())),
        }
    }

    /// The schema after a step: on SQLite modelled from the texts the worker reported (mostly
    /// from the per-table cache; reading the database would make mrt's connection re-parse the
    /// whole schema after the worker's change), else, or if those cannot be modelled, read.
    fn schema_after(&mut self, db: &TempDb, texts: Option<&str>, when: &str) -> Stage<Schema> {
        if let Some(rows) = texts.and_then(|t| master_rows(t).ok()) {
            let ignore = [self.ctx.settings.version_table.as_str()];
            let kind = crate::timing::Kind::Introspection;
            if let Ok(schema) = self.timed(kind, sqlite_schema_from_master(&rows, &ignore)) {
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
                Err(e) => {
                    return Err(
                        self.stop(format!("cannot read rows of {}", table.name), e.to_string())
                    )
                }
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
            custom: self.ctx.settings.custom_seeds.clone(),
            existing: existing.clone(),
        };
        let seeds = match &self.input.explicit {
            Some(explicit) => explicit.clone(),
            None => match seed(schema, options) {
                Ok(s) => s,
                Err(e) => return Err(self.stop("cannot seed the database", e.to_string())),
            },
        };
        self.seeded = Some(seeds.clone());
        for (name, rows) in &seeds.tables {
            let Some(table) = schema.tables.get(name) else {
                continue;
            };
            if let Err(e) = self.block(db.insert_rows(table, rows)) {
                return Err(self.stop(
                    format!("cannot insert generated rows into {name}"),
                    e.to_string(),
                ));
            }
        }
        self.fill_deferred(db, schema, &seeds, "generated rows")
    }

    /// Foreign keys inserted NULL to break a cycle, filled once every table has its rows.
    fn fill_deferred(
        &mut self,
        db: &TempDb,
        schema: &Schema,
        seeds: &Seeds,
        what: &str,
    ) -> Stage<()> {
        for (table, updates) in seeds.row_updates(schema) {
            if let Err(e) = self.block(db.update_rows(table, &updates)) {
                return Err(self.stop(
                    format!(
                        "cannot fill the foreign keys of {} ({what}) left NULL to break a cycle",
                        table.name
                    ),
                    e.to_string(),
                ));
            }
        }
        Ok(())
    }

    /// After a failed upgrade the database should be as before (transactional DDL); MySQL commits
    /// each DDL statement, so a failure midway leaves part of the migration applied. Say so.
    fn report_residue(&mut self, db: &TempDb, s0: &Schema) {
        let ignore = [self.ctx.settings.version_table.as_str()];
        if let Ok(after) = self.block(db.introspect(&ignore)) {
            let diffs = diff_schemas(s0, &after);
            if !diffs.is_empty() {
                self.verdict.add(
                    "the failed upgrade was not rolled back (the database keeps part of it)",
                    diffs.iter().map(|d| d.to_string()).collect(),
                );
            }
        }
    }

    fn compare_schema(&mut self, expected: &Schema, actual: &Schema, title: &str) {
        let start = std::time::Instant::now();
        self.compare_schema_untimed(expected, actual, title);
        crate::timing::add(crate::timing::Kind::Compare, start.elapsed());
    }

    /// Compares two SQLite schemas by their `sqlite_master` texts (the whole schema on SQLite):
    /// equal texts are equal schemas; otherwise the first texts are turned into a model (see
    /// [`sqlite_schema_from_master`]) and compared with `s3` as on other databases.
    fn compare_texts(&mut self, first: &str, second: &str, s3: &Schema, title: &str) {
        if first == second {
            return;
        }
        let rows = match master_rows(first) {
            Ok(rows) => rows,
            Err(e) => {
                let detail = format!("unreadable sqlite_master from the worker: {e}");
                return self.verdict.add(title, vec![detail]);
            }
        };
        let ignore = [self.ctx.settings.version_table.as_str()];
        let model = self.timed(
            crate::timing::Kind::Introspection,
            sqlite_schema_from_master(&rows, &ignore),
        );
        match model {
            Ok(s1) => self.compare_schema(&s1, s3, title),
            Err(e) => {
                // Not expected (the texts came from SQLite); the texts still show what differs.
                let mut lines = vec![format!("cannot model the first upgrade's schema: {e}")];
                if let Ok(second) = master_rows(second) {
                    lines.extend(master_diff(&rows, &second, ignore[0]));
                }
                self.verdict.add(title, lines);
            }
        }
    }

    fn compare_schema_untimed(&mut self, expected: &Schema, actual: &Schema, title: &str) {
        let diffs = diff_schemas(expected, actual);
        if !diffs.is_empty() {
            self.verdict
                .add(title, diffs.iter().map(|d| d.to_string()).collect());
        }
    }

    fn compare_rows(
        &mut self,
        db: &TempDb,
        s0: &Schema,
        d0: &BTreeMap<String, Vec<Row>>,
        s2: &Schema,
    ) -> Stage<()> {
        let mut lines = Vec::new();
        for (name, t0) in &s0.tables {
            let Some(t2) = s2.tables.get(name) else {
                continue;
            };
            let rows = match self.block(db.read_rows(t2)) {
                Ok(r) => r,
                Err(e) => {
                    return Err(self.stop(
                        format!("cannot read rows of {name} after the downgrade"),
                        e.to_string(),
                    ))
                }
            };
            let empty = Vec::new();
            let before = d0.get(name).unwrap_or(&empty);
            lines.extend(
                diff_rows(t0, before, t2, &rows)
                    .iter()
                    .map(|d| d.to_string()),
            );
        }
        if !lines.is_empty() {
            self.verdict
                .add("downgrade did not restore the data", lines);
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
            return Err(self.stop("cannot remove the seeded rows", e.to_string()));
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
                return Err(self.stop(
                    format!("cannot restore the rows of {}", table.name),
                    e.to_string(),
                ));
            }
        }
        self.fill_deferred(db, s0, &restore, "rows restored")
    }
}

/// The schema after a trial's first upgrade: read by mrt, or (SQLite) as the worker reported it.
enum First {
    Schema(Schema),
    Texts(String),
}

/// What differs between two `sqlite_master` listings, per object, with both texts.
fn master_diff(first: &[MasterRow], second: &[MasterRow], version_table: &str) -> Vec<String> {
    let by_key = |rows: &[MasterRow]| -> BTreeMap<(String, String), String> {
        rows.iter()
            .filter(|(_, _, table, _)| !table.eq_ignore_ascii_case(version_table))
            .map(|(kind, name, _, sql)| {
                let text = sql.as_deref().map_or("(implicit)".into(), one_line);
                ((kind.clone(), name.clone()), text)
            })
            .collect()
    };
    let (a, b) = (by_key(first), by_key(second));
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (kind, name) = key;
            match (a.get(key), b.get(key)) {
                (Some(x), Some(y)) if x == y => None,
                (Some(x), Some(y)) => Some(format!("{kind} {name}: first `{x}`, second `{y}`")),
                (Some(x), None) => Some(format!(
                    "{kind} {name}: missing after the second (first `{x}`)"
                )),
                (None, Some(y)) => Some(format!("{kind} {name}: only after the second (`{y}`)")),
                (None, None) => None,
            }
        })
        .collect()
}

/// A statement on one line (SQLAlchemy's DDL spans several).
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The part of `s0` a trial seeds and compares: the tables named in `mentioned` (all tables when
/// `None`), closed over foreign keys in both directions (parents are needed to seed children;
/// children can lose rows through cascades).
fn scope_of(s0: &Schema, mentioned: Option<&BTreeSet<String>>) -> Schema {
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
            words.extend(mrt_migrations::alembic::sql_words(statement));
        }
    }
    s0.tables
        .keys()
        .filter(|t| words.contains(&t.to_lowercase()))
        .all(|t| scope.tables.contains_key(t))
}

/// A per-revision seed derived from the run seed, so each trial reproduces on its own.
fn trial_seed(run_seed: u64, rev: &str) -> u64 {
    rev.bytes().fold(run_seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where the user's own Python lives: the project, the script location and every version
/// location (which may lie outside the project, even in an installed package). The project
/// root comes first: paths under it are shown relative to it.
fn user_dirs(project: &mrt_migrations::Project) -> Vec<String> {
    let mut dirs = vec![
        project.root.clone(),
        project.alembic.script_location.clone(),
    ];
    dirs.extend(project.alembic.version_locations.iter().cloned());
    let mut out: Vec<String> = Vec::new();
    // As given and canonical: Python names files by the path it loaded them from.
    for dir in dirs {
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        for text in [dir.display().to_string(), canonical.display().to_string()] {
            if !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}

/// The traceback frames in the user's files (`at versions/x.py:23 in downgrade: raise ...`),
/// which is where the user needs to look; Alembic's and SQLAlchemy's frames are noise here.
/// `dirs[0]` is the project root (frames under it are shown relative to it); frames under the
/// other folders are shown with their full path.
fn user_frames(traceback: &str, dirs: &[String]) -> Vec<String> {
    let root = dirs.first().map_or("", String::as_str);
    let lines: Vec<&str> = traceback.lines().collect();
    let mut frames = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("File \"") else {
            continue;
        };
        let Some((path, tail)) = rest.split_once('"') else {
            continue;
        };
        let inside = |dir: &String| {
            path.strip_prefix(dir.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        };
        if !dirs.iter().any(inside) {
            continue;
        }
        let shown = match path.strip_prefix(root) {
            Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/'),
            _ => path,
        };
        let location = tail
            .trim_start_matches(", line ")
            .replacen(", in ", " in ", 1);
        let code = lines
            .get(i + 1)
            .map(|c| c.trim())
            .filter(|c| !c.starts_with("File \""))
            .unwrap_or("");
        frames.push((
            shown.ends_with("env.py"),
            format!("at {shown}:{location}: {code}"),
        ));
    }
    let only_env = frames.iter().all(|(env, _)| *env);
    frames
        .into_iter()
        .filter(|(env, _)| only_env || !env)
        .map(|(_, f)| f)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_frames_keep_only_project_files() {
        let tb = "Traceback (most recent call last):\n  File \"/usr/lib/alembic/command.py\", line 3, in upgrade\n    script.run()\n  File \"/proj/migrations/versions/t08.py\", line 23, in downgrade\n    raise RuntimeError(\"x\")\nRuntimeError: x\n";
        assert_eq!(
            user_frames(tb, &["/proj".into()]),
            ["at migrations/versions/t08.py:23 in downgrade: raise RuntimeError(\"x\")"]
        );
        // A sibling folder whose name starts like the root is not the project.
        assert!(user_frames(&tb.replace("/proj/", "/project2/"), &["/proj".into()]).is_empty());
    }

    #[test]
    fn user_frames_include_version_locations_outside_the_project() {
        let tb = "Traceback (most recent call last):\n  File \"/usr/lib/alembic/command.py\", line 3, in upgrade\n    script.run()\n  File \"/site/pkg/migrations/r1.py\", line 9, in upgrade\n    op.drop_column(\"t\", \"c\")\nKeyError: c\n";
        let dirs = ["/proj".to_string(), "/site/pkg/migrations".to_string()];
        assert_eq!(
            user_frames(tb, &dirs),
            ["at /site/pkg/migrations/r1.py:9 in upgrade: op.drop_column(\"t\", \"c\")"]
        );
    }

    #[test]
    fn master_diff_names_what_changed_and_skips_the_version_table() {
        let row = |kind: &str, name: &str, table: &str, sql: &str| {
            (kind.into(), name.into(), table.into(), Some(sql.into()))
        };
        let first = vec![
            row(
                "table",
                "alembic_version",
                "alembic_version",
                "CREATE TABLE alembic_version (a)",
            ),
            row(
                "table",
                "codes",
                "codes",
                "CREATE TABLE codes (code VARCHAR(20))",
            ),
            row(
                "index",
                "ix_codes",
                "codes",
                "CREATE INDEX ix_codes ON codes (code)",
            ),
        ];
        let mut second = vec![
            row(
                "table",
                "alembic_version",
                "alembic_version",
                "CREATE TABLE alembic_version (b)",
            ),
            row(
                "table",
                "codes",
                "codes",
                "CREATE TABLE codes (code VARCHAR(10))",
            ),
        ];
        assert_eq!(
            master_diff(&first, &second, "alembic_version"),
            [
                "index ix_codes: missing after the second (first `CREATE INDEX ix_codes ON codes (code)`)",
                "table codes: first `CREATE TABLE codes (code VARCHAR(20))`, second `CREATE TABLE codes (code VARCHAR(10))`",
            ]
        );
        second[1] = first[1].clone();
        second.push(first[2].clone());
        assert!(master_diff(&first, &second, "alembic_version").is_empty());
    }

    #[test]
    fn trial_seed_differs_per_revision_and_is_stable() {
        assert_eq!(trial_seed(42, "a"), trial_seed(42, "a"));
        assert_ne!(trial_seed(42, "a"), trial_seed(42, "b"));
        assert_ne!(trial_seed(42, "a"), trial_seed(43, "a"));
    }
}
