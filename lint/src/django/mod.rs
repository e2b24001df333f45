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
//! into the Django one ([`relate`]), so one hazard gives one finding and a `# noqa` for either
//! code silences it. Reverse-pairing findings about an operation that has no reverse at
//! all, or a no-op one, are folded into that operation's finding.

mod code;
mod facts;
mod fields;
mod history;
mod lower;
mod parse;
mod relate;
mod schema;
mod state;

pub(crate) use facts::{Facts, OpFact, Reverse, What};
pub(crate) use fields::FieldDef;

use crate::model::{Body, Migration, TxBlock, TxWhy};
use crate::registry::Frontend;
use crate::suppress::Suppressions;
use crate::{rules, to_findings, Dialect, Finding, Place, Spot};
use history::{parse_file, File, History, Parsed};
use lower::{Lowered, Lowerer};
use rustpython_parser::ast::{self, Ranged};
use rustpython_parser::source_code::RandomLocator;
use rustpython_parser::text_size::{TextRange, TextSize};
use state::AppState;
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
        let need = history.need(i, m.app);
        let mut own = history.state(m.app, &need);
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
        let mut applied = need;
        applied.insert(i);
        history.keep(m.app, applied, own);
    }
    findings
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
    relate::relate(&mut hits, &facts, &lowered.code_owners);
    let mut place = DjangoPlace {
        path: m.path,
        locator: RandomLocator::new(m.source),
        suppressions: Suppressions::from_source(m.source),
        code_owners: lowered.code_owners,
        op_spans: facts.ops.iter().map(|op| op.span).collect(),
    };
    to_findings(Some(m.id), &mut place, hits)
}

/// `0001_squashed_0004_x`: the name `squashmigrations` gives a squash.
fn named_like_squash(id: &str) -> bool {
    let name = id.rsplit('.').next().unwrap_or(id);
    let digits = name.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && name[digits..].starts_with("_squashed_")
}

/// Where hits land in a Django migration: one file; a suppression comment on any line of the
/// operation silences its findings, also those placed in the code a `RunPython` runs.
struct DjangoPlace<'a> {
    path: &'a Path,
    locator: RandomLocator<'a>,
    suppressions: Suppressions,
    code_owners: Vec<(TextRange, TextRange)>,
    /// Every operation's call, nested ones included.
    op_spans: Vec<TextRange>,
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
        // The operations around it, or running the function it is in.
        let at = span.start();
        let owners: Vec<TextRange> = self
            .op_spans
            .iter()
            .copied()
            .filter(|op| op.contains_inclusive(at))
            .chain(
                self.code_owners
                    .iter()
                    .filter(|(f, _)| f.contains_inclusive(at))
                    .map(|(_, op)| *op),
            )
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
