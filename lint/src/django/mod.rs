//! The frontend for Django migrations: each file's `operations` become the neutral
//! [`Migration`] the rules read, judged against the model state the project's own migration
//! history leaves before it.
//!
//! A Django migration has no written downgrade: Django reverses each operation itself
//! (schema operations), with the `reverse_code` / `reverse_sql` it was given (`RunPython`,
//! `RunSQL`), or refuses. So the upgrade is the operations going forward and the downgrade is
//! what Django runs when it unapplies them, last first ([`lower`]). The model state
//! ([`state`]) is rebuilt for each migration from its ancestors only (its `dependencies`,
//! transitively), per app, and cached while the graph order allows it.
//!
//! Rules that apply to any framework (a dropped column, a NOT NULL column without default)
//! fire on the Django form through the model; where pytest-mrt had a Django code for the same
//! hazard (MRT209 RemoveField, MRT411 AddField NOT NULL, ...), the generic finding is folded
//! into the Django one ([`DJANGO_FORMS`]), so one hazard gives one finding and a `# noqa` for
//! either code silences it. Reverse-pairing findings about an operation that has no reverse at
//! all, or a no-op one, are folded into that operation's finding.

mod code;
mod facts;
mod fields;
mod lower;
mod parse;
mod schema;
mod state;

pub(crate) use facts::{Facts, OpFact, Reverse, What};
pub(crate) use fields::FieldDef;

use crate::finding::{Hit, Yield};
use crate::model::{Body, Migration, TxBlock, TxWhy};
use crate::registry::{Frontend, Rule};
use crate::suppress::Suppressions;
use crate::{rules, to_findings, Dialect, Finding, Place, Spot};
use code::ModelInfo;
use lower::{Lowered, Lowerer};
use parse::{migration_class, operation, MigrationClass, Op, Source};
use rustpython_parser::ast::{self, Ranged};
use rustpython_parser::source_code::RandomLocator;
use rustpython_parser::text_size::{TextRange, TextSize};
use rustpython_parser::Parse;
use state::AppState;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

/// One migration file of a Django project.
#[derive(Debug, Clone, Copy)]
pub struct DjangoMigration<'a> {
    /// `app.0003_name`.
    pub id: &'a str,
    /// The app label.
    pub app: &'a str,
    pub path: &'a Path,
    pub source: &'a str,
    /// Resolved ids of its in-project dependencies (all come earlier in the slice).
    pub dependencies: &'a [String],
    /// The migration is a squash (`replaces = [...]` present) — MRT601/MRT602 territory.
    pub squashed: bool,
}

/// Lints every migration of a Django project, given in graph order (dependencies first): each file
/// is judged against the model state its own migration history leaves before it (not guessed).
///
/// Findings come migration by migration in the order given, each migration's sorted by line,
/// column and code, with the migration's id as their revision. A file that does not parse
/// gives none here (the project reports it, MRT902); what it would have changed in the model
/// state is unknown to the migrations after it.
pub fn lint_django_migrations(
    migrations: &[DjangoMigration],
    dialect: Dialect,
    opt_in_rules: &[&str],
) -> Vec<Finding> {
    let suites: Vec<Option<ast::Suite>> = migrations.iter().map(parse_file).collect();
    let parsed: Vec<Parsed> = suites
        .iter()
        .map(|suite| Parsed::new(suite.as_deref()))
        .collect();
    let history = History::new(migrations, &parsed);
    let mut findings = Vec::new();
    for (i, m) in migrations.iter().enumerate() {
        let mut own = history.take(m.app, &history.need(i, m.app));
        if let Some(file) = &parsed[i].file {
            findings.extend(lint_one(
                m,
                file,
                &parsed[i],
                &history,
                i,
                &mut own,
                dialect,
                opt_in_rules,
            ));
        } else {
            own.taint();
        }
        let mut applied = history.need(i, m.app);
        applied.insert(i);
        history.put(m.app, applied, own);
    }
    findings
}

fn parse_file(m: &DjangoMigration) -> Option<ast::Suite> {
    // Parsing it would overflow the stack; the project reports it.
    if mrt_migrations::alembic::too_complex(m.source).is_some() {
        return None;
    }
    ast::Suite::parse(m.source, &m.path.display().to_string()).ok()
}

/// One file, read.
struct Parsed<'a> {
    file: Option<File<'a>>,
    /// Ids of the migrations it replaces (a squash).
    replaces: Vec<String>,
}

struct File<'a> {
    src: Source<'a>,
    class: MigrationClass<'a>,
    /// `None` when `operations` is not a list mrt can read.
    ops: Option<Vec<Op<'a>>>,
}

impl<'a> Parsed<'a> {
    fn new(suite: Option<&'a [ast::Stmt]>) -> Self {
        let Some(suite) = suite else {
            return Parsed {
                file: None,
                replaces: Vec::new(),
            };
        };
        let src = Source::new(suite);
        let Some(class) = migration_class(suite, &src) else {
            return Parsed {
                file: None,
                replaces: Vec::new(),
            };
        };
        let ops = class
            .operations
            .as_ref()
            .map(|list| list.iter().map(|e| operation(e, &src)).collect());
        let replaces = class.replaces.clone();
        Parsed {
            file: Some(File { src, class, ops }),
            replaces,
        }
    }

    /// Applies its operations to a state (no lowering): how an ancestor's history is rebuilt.
    fn apply(&self, state: &mut AppState) {
        state.applying_initial = self.file.as_ref().is_some_and(|f| f.class.initial);
        match self.file.as_ref().and_then(|f| f.ops.as_ref()) {
            Some(ops) => ops.iter().for_each(|op| state.apply(op)),
            None => state.taint(),
        }
    }
}

/// A set of migrations by their index in the slice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Set(Vec<u64>);

impl Set {
    fn insert(&mut self, i: usize) {
        let (w, b) = (i / 64, i % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn union(&mut self, other: &Set) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    fn normalized(mut self) -> Self {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }
}

/// The model state each migration is judged against, rebuilt per app from the migration's
/// ancestors, with the last state of each app kept for the next migration that needs exactly
/// it (the common case: the previous migration of the app is its parent).
struct History<'p, 'a> {
    parsed: &'p [Parsed<'a>],
    ids: Vec<String>,
    apps: Vec<String>,
    ancestors: Vec<Set>,
    /// Per app: the migrations applied to the kept state, and that state.
    cache: RefCell<HashMap<String, (Set, AppState)>>,
}

impl<'p, 'a> History<'p, 'a> {
    fn new(migrations: &[DjangoMigration], parsed: &'p [Parsed<'a>]) -> Self {
        let index: HashMap<&str, usize> = migrations
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id, i))
            .collect();
        let mut ancestors: Vec<Set> = Vec::with_capacity(migrations.len());
        for (i, m) in migrations.iter().enumerate() {
            let mut set = Set::default();
            for dep in m.dependencies {
                // Only earlier migrations: a dependency given out of order cannot be a cycle.
                if let Some(&d) = index.get(dep.as_str()).filter(|&&d| d < i) {
                    set.insert(d);
                    set.union(&ancestors[d]);
                }
            }
            ancestors.push(set);
        }
        History {
            parsed,
            ids: migrations.iter().map(|m| m.id.to_string()).collect(),
            apps: migrations.iter().map(|m| m.app.to_string()).collect(),
            ancestors,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The migrations of `app` that must be applied before migration `i`.
    fn need(&self, i: usize, app: &str) -> Set {
        let mut set = Set::default();
        for (j, a) in self.apps.iter().enumerate().take(i) {
            if a == app && self.ancestors[i].contains(j) {
                set.insert(j);
            }
        }
        set.normalized()
    }

    /// The state of `app` after exactly the migrations in `need`.
    fn build(&self, need: &Set) -> AppState {
        let mut state = AppState::default();
        let in_need: Vec<usize> = (0..self.apps.len()).filter(|&j| need.contains(j)).collect();
        for &j in &in_need {
            // A squash and the migrations it replaces carry the same operations: apply the
            // replaced ones only.
            let replaced_present = self.parsed[j]
                .replaces
                .iter()
                .any(|id| in_need.iter().any(|&k| self.ids[k] == *id));
            if !replaced_present {
                self.parsed[j].apply(&mut state);
            }
        }
        state
    }

    /// Takes the state of `app` after `need` out of the cache (building it if the kept one
    /// differs).
    fn take(&self, app: &str, need: &Set) -> AppState {
        let mut cache = self.cache.borrow_mut();
        match cache.remove(app) {
            Some((applied, state)) if applied == *need => state,
            _ => self.build(need),
        }
    }

    fn put(&self, app: &str, applied: Set, state: AppState) {
        self.cache
            .borrow_mut()
            .insert(app.to_string(), (applied.normalized(), state));
    }

    /// A model of another app as migration `i` sees it.
    fn model(&self, i: usize, app: &str, model: &str) -> Option<ModelInfo> {
        let need = self.need(i, app);
        let state = self.take(app, &need);
        let info = state.model(model).map(|m| ModelInfo::of(m, app));
        self.put(app, need, state);
        info
    }
}

#[allow(clippy::too_many_arguments)]
fn lint_one(
    m: &DjangoMigration,
    file: &File,
    parsed: &Parsed,
    history: &History,
    index: usize,
    own: &mut AppState,
    dialect: Dialect,
    opt_in_rules: &[&str],
) -> Vec<Finding> {
    let others = |app: &str, model: &str| history.model(index, app, model);
    // The app's initial migrations are applied together: tables the earlier ones created are
    // still empty when a later one runs.
    let fresh_tables: Vec<String> = if file.class.initial {
        own.models
            .values()
            .filter(|m| m.initial && m.has_table())
            .map(|model| model.table(m.app))
            .collect()
    } else {
        Vec::new()
    };
    own.applying_initial = file.class.initial;
    let mut lowerer = Lowerer {
        src: &file.src,
        app: m.app,
        dialect,
        others: &others,
        out: Lowered::default(),
    };
    match &file.ops {
        Some(ops) => lowerer.run(ops, own),
        None => own.taint(),
    }
    let lowered = lowerer.out;
    let class = file.class.class;
    let whole = TextRange::up_to(TextSize::of(m.source));
    let transactions = if file.class.atomic {
        vec![TxBlock {
            range: whole,
            why: TxWhy::Tool,
        }]
    } else {
        Vec::new()
    };
    let body = |actions, opaque_effects| Body {
        def_start: class.range().start(),
        header: TextRange::empty(class.range().start()),
        whole: class.range(),
        noop: false,
        raises: false,
        opaque_effects,
        actions,
        transactions: transactions.clone(),
    };
    let migration = Migration {
        downgrade: Some(body(lowered.downgrade(), lowered.down_opaque)),
        upgrade: Some(body(lowered.upgrade, lowered.up_opaque)),
        fresh_tables,
    };
    let facts = Facts {
        ops: lowered.facts,
        squashed: m.squashed || !parsed.replaces.is_empty(),
        unreplaced_squash: (named_like_squash(m.id) && !m.squashed && parsed.replaces.is_empty())
            .then(|| class.range()),
    };
    let ctx = rules::Ctx {
        m: &migration,
        is_merge: false,
        forward_only: false,
        frontend: Frontend::Django,
        django: Some(&facts),
    };
    let mut hits = rules::run(&ctx, dialect, opt_in_rules);
    relate(&mut hits, &facts, &lowered.code_owners);
    let mut place = DjangoPlace {
        path: m.path,
        locator: RandomLocator::new(m.source),
        suppressions: Suppressions::from_source(m.source),
        code_owners: lowered.code_owners,
    };
    to_findings(Some(m.id), &mut place, hits)
}

/// `0001_squashed_0004_x`: the name `squashmigrations` gives a squash.
fn named_like_squash(id: &str) -> bool {
    let name = id.rsplit('.').next().unwrap_or(id);
    let digits = name.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && name[digits..].starts_with("_squashed_")
}

/// Generic rules whose hazard a Django rule reports more precisely on the same operation
/// (first the generic code, then the one it gives way to).
pub(crate) const DJANGO_FORMS: &[(&str, &str)] = &[
    ("MRT201", "MRT209"),
    ("MRT202", "MRT209"),
    ("MRT202", "MRT210"),
    ("MRT202", "MRT211"),
    ("MRT203", "MRT212"),
    ("MRT401", "MRT411"),
    ("MRT213", "MRT412"),
    ("MRT407", "MRT413"),
    ("MRT209", "MRT208"),
    ("MRT107", "MRT601"),
    ("MRT108", "MRT601"),
    ("MRT110", "MRT601"),
];

/// Rules that judge an operation by what its reverse does: when the operation has no reverse
/// at all, or a no-op one, its own finding says so and absorbs them.
const REVERSE_PAIRING: &[&str] = &[
    "MRT103", "MRT104", "MRT105", "MRT106", "MRT205", "MRT207", "MRT216", "MRT301", "MRT302",
    "MRT304", "MRT402", "MRT403", "MRT408", "MRT409", "MRT501", "MRT502", "MRT503", "MRT504",
];

/// Findings about an operation's reverse as a whole.
const REVERSE_CODES: &[&str] = &["MRT107", "MRT108", "MRT109", "MRT110", "MRT601"];

/// Findings that an operation destroys data: a no-op reverse (MRT109) of the same operation
/// adds nothing to them, so it is folded into the first.
const DESTRUCTIVE: &[&str] = &[
    "MRT201", "MRT202", "MRT203", "MRT208", "MRT209", "MRT210", "MRT211", "MRT212", "MRT214",
];

/// Names, on each hit, the Django hit on the same operation that reports its hazard.
fn relate(
    hits: &mut [(&'static Rule, Hit)],
    facts: &Facts,
    code_owners: &[(TextRange, TextRange)],
) {
    let at: Vec<(&'static str, TextSize)> = hits.iter().map(|(_, h)| (h.code, h.start)).collect();
    let present = |code: &str, start: TextSize| at.iter().any(|&(c, s)| c == code && s == start);
    for (_, hit) in hits.iter_mut() {
        for &(generic, django) in DJANGO_FORMS {
            if hit.code == generic && present(django, hit.start) {
                hit.yields_to.push(Yield {
                    code: django,
                    at: Some(hit.start),
                });
            }
        }
    }
    // A no-op reverse of an operation that destroys data: the destruction is the finding.
    let destroying: Vec<(&'static str, TextSize, TextSize)> = hits
        .iter()
        .filter(|(_, h)| DESTRUCTIVE.contains(&h.code) && h.yields_to.is_empty())
        .filter_map(|(_, h)| Some((h.code, h.start, owner(facts, code_owners, h.start)?.start)))
        .collect();
    for (_, hit) in hits.iter_mut().filter(|(_, h)| h.code == "MRT109") {
        if let Some(&(code, start, _)) = destroying.iter().find(|(_, _, op)| *op == hit.start) {
            hit.yields_to.push(Yield {
                code,
                at: Some(start),
            });
        }
    }
    // The operation-level finding that stands (one that does not give way itself).
    let standing: Vec<(&'static str, TextSize)> = hits
        .iter()
        .filter(|(_, h)| REVERSE_CODES.contains(&h.code) && h.yields_to.is_empty())
        .map(|(_, h)| (h.code, h.start))
        .collect();
    for (_, hit) in hits.iter_mut() {
        if !REVERSE_PAIRING.contains(&hit.code) {
            continue;
        }
        let Some(op) = owner(facts, code_owners, hit.start) else {
            continue;
        };
        if let Some(&(code, start)) = standing.iter().find(|(_, s)| *s == op.start) {
            hit.yields_to.push(Yield {
                code,
                at: Some(start),
            });
        }
    }
}

/// The operation a position belongs to: the innermost operation call containing it, or the
/// `RunPython` operation running the function it is in.
fn owner<'f>(
    facts: &'f Facts,
    code_owners: &[(TextRange, TextRange)],
    at: TextSize,
) -> Option<&'f OpFact> {
    let span = facts
        .ops
        .iter()
        .filter(|op| op.span.contains_inclusive(at))
        .min_by_key(|op| op.span.len())
        .map(|op| op.span)
        .or_else(|| {
            code_owners
                .iter()
                .find(|(f, _)| f.contains_inclusive(at))
                .map(|(_, op)| *op)
        })?;
    facts.ops.iter().find(|op| op.span == span)
}

/// Where hits land in a Django migration: one file; a suppression comment on any line of the
/// operation silences its findings, also those placed in the code a `RunPython` runs.
struct DjangoPlace<'a> {
    path: &'a Path,
    locator: RandomLocator<'a>,
    suppressions: Suppressions,
    code_owners: Vec<(TextRange, TextRange)>,
}

impl DjangoPlace<'_> {
    fn lines(&mut self, span: TextRange) -> (usize, usize) {
        let first = self.locator.locate(span.start()).row.get() as usize;
        let last = self.locator.locate(span.end()).row.get() as usize;
        (first, last)
    }
}

impl Place for DjangoPlace<'_> {
    fn locate(&mut self, at: TextSize) -> Spot {
        let loc = self.locator.locate(at);
        Spot {
            file: 0,
            path: self.path.to_path_buf(),
            line: loc.row.get() as usize,
            column: loc.column.get() as usize,
        }
    }

    fn silenced(&mut self, code: &str, span: TextRange) -> bool {
        let (first, last) = self.lines(span);
        if self.suppressions.silences(code, first, last) {
            return true;
        }
        let owners: Vec<TextRange> = self
            .code_owners
            .iter()
            .filter(|(f, _)| f.contains_inclusive(span.start()))
            .map(|(_, op)| *op)
            .collect();
        owners.into_iter().any(|op| {
            let (first, last) = self.lines(op);
            self.suppressions.silences(code, first, last)
        })
    }

    /// Rules speak of `upgrade()` and `downgrade()`; a Django migration has operations that
    /// Django reverses.
    fn word(&self, message: String) -> String {
        message
            .replace("op.execute in upgrade()", "RunSQL in the migration")
            .replace("op.execute() in upgrade()", "RunSQL in the migration")
            .replace("bulk_insert in upgrade()", "rows inserted in the migration")
            .replace(
                "connection-level execute in upgrade()",
                "SQL run by RunPython code in the migration",
            )
            .replace("downgrade()", "the reverse")
            .replace("upgrade()", "the migration")
            // Names Django generates (a `unique=True` constraint, a `db_index` index) or of a
            // model outside the history.
            .replace("unique `<computed>`", "a unique constraint")
            .replace("`<computed>`", "`<name not known>`")
    }
}
