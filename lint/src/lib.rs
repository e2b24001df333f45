//! Static rollback-safety rules over parsed migrations: the rule registry, findings and
//! suppression. Kept apart from execution so `mrt check` never needs a database; severity
//! overrides, skip lists and output formats are the CLI's.
//!
//! Pipeline: Python AST ([`python`]) -> calls -> [`model::Kind`]s (op calls in `ops`, raw SQL in
//! [`sql`]) -> rules -> hits -> suppression -> [`Finding`]s. SQL-file migrations take the same
//! road from their statements ([`lint_sql_migration`]): a script cut into statements, each read
//! by [`sql`] into the same `Kind`s. Django migrations ([`lint_django_migrations`]) take it from
//! their `operations`, each read with the model state the project's history leaves before it,
//! and reversed as Django reverses it.

mod dialect;
mod django;
mod extract;
mod finding;
mod graph;
mod hazards;
pub mod model;
mod ops;
pub mod python;
mod registry;
mod rules;
mod script;
mod severity;
pub mod sql;
mod sqlfile;
pub mod suppress;

pub use dialect::{dialect_from_url, Dialect, UnknownDialect};
pub use django::{lint_django_migrations, DjangoMigration};
pub use finding::{Finding, Hit};
pub use graph::{graph_findings, problem_findings};
pub use registry::{find_rule, rules, Frontend, Rule, RuleDoc};
pub use severity::{Severity, UnknownSeverity};
pub use sqlfile::{lint_sql_migration, SqlDown, SqlFileContext, SqlSource};

use rustpython_parser::source_code::RandomLocator;
use rustpython_parser::text_size::{TextRange, TextSize};
use rustpython_parser::{ast, Parse};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One migration file to check.
#[derive(Debug, Clone, Copy)]
pub struct FileContext<'a> {
    pub path: &'a Path,
    pub source: &'a str,
    pub revision: Option<&'a str>,
    /// A merge revision (several parents): an empty upgrade/downgrade is correct there.
    pub is_merge: bool,
    pub dialect: Dialect,
    /// Opt-in rules to run as well (codes or names, e.g. `MRT701`); empty runs none of them.
    pub opt_in_rules: &'a [&'a str],
}

impl<'a> FileContext<'a> {
    /// A non-merge file of unknown revision and dialect, with no opt-in rules.
    pub fn new(path: &'a Path, source: &'a str) -> Self {
        FileContext {
            path,
            source,
            revision: None,
            is_merge: false,
            dialect: Dialect::Generic,
            opt_in_rules: &[],
        }
    }
}

/// Runs every enabled per-file rule. A file that does not parse yields nothing here (its MRT902
/// comes from [`problem_findings`]). Sorted by line, column, code; suppressed findings removed.
pub fn lint_file(ctx: &FileContext) -> Vec<Finding> {
    // Parsing it would overflow the stack; the project reports it (MRT902).
    if mrt_migrations::alembic::too_complex(ctx.source).is_some() {
        return Vec::new();
    }
    let Ok(suite) = ast::Suite::parse(ctx.source, &ctx.path.display().to_string()) else {
        return Vec::new();
    };
    let module = python::Module::new(&suite);
    let migration = extract::migration(&module, ctx.dialect);
    let rule_ctx = rules::Ctx {
        m: &migration,
        is_merge: ctx.is_merge,
        forward_only: false,
        frontend: Frontend::Alembic,
        django: None,
    };
    let hits = rules::run(&rule_ctx, ctx.dialect, ctx.opt_in_rules);
    let mut place = PythonPlace {
        path: ctx.path,
        locator: RandomLocator::new(ctx.source),
        suppressions: suppress::Suppressions::from_source(ctx.source),
    };
    to_findings(ctx.revision, &mut place, hits)
}

/// Where a hit lands in a Python file: one file, lines from the Python lexer's locator.
struct PythonPlace<'a> {
    path: &'a Path,
    locator: RandomLocator<'a>,
    suppressions: suppress::Suppressions,
}

impl Place for PythonPlace<'_> {
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
        let first = self.locator.locate(span.start()).row.get() as usize;
        let last = self.locator.locate(span.end()).row.get() as usize;
        self.suppressions.silences(code, first, last)
    }
}

/// A position in a migration's files: which file (its order among the migration's files), its
/// path, 1-based line and column.
struct Spot {
    file: usize,
    path: PathBuf,
    line: usize,
    column: usize,
}

/// How a frontend turns the positions of its hits into places in its files.
trait Place {
    fn locate(&mut self, at: TextSize) -> Spot;
    /// A suppression comment on a line of `span` silences `code`.
    fn silenced(&mut self, code: &str, span: TextRange) -> bool;
    /// A rule's message in the words of this kind of migration.
    fn word(&self, message: String) -> String {
        message
    }
}

/// One finding per (code, call) and per hazard, positioned, unsuppressed, sorted by file, line,
/// column and code.
fn to_findings(
    revision: Option<&str>,
    place: &mut impl Place,
    hits: Vec<(&'static Rule, Hit)>,
) -> Vec<Finding> {
    let mut seen = HashSet::new();
    let unique: Vec<(&'static Rule, Hit)> = hits
        .into_iter()
        .filter(|(_, hit)| seen.insert((hit.code, hit.start)))
        .collect();
    let mut findings = Vec::new();
    for merged in hazards::merge(unique) {
        let hit = &merged.hit;
        if place.silenced(hit.code, hit.span)
            || merged
                .also
                .iter()
                .any(|(_, h)| place.silenced(h.code, h.span))
        {
            continue;
        }
        let (file, mut finding) = positioned(revision, place, merged.rule, merged.hit);
        finding.also = merged
            .also
            .into_iter()
            .map(|(rule, hit)| positioned(revision, place, rule, hit).1)
            .collect();
        findings.push((file, finding));
    }
    findings.sort_by(|(fa, a), (fb, b)| {
        (fa, a.line, a.column, a.code).cmp(&(fb, b.line, b.column, b.code))
    });
    findings.into_iter().map(|(_, f)| f).collect()
}

/// A hit as a finding of `rule`, at the place of the hit's start, with its file's order.
fn positioned(
    revision: Option<&str>,
    place: &mut impl Place,
    rule: &'static Rule,
    hit: Hit,
) -> (usize, Finding) {
    let at = place.locate(hit.start);
    let finding = Finding {
        revision: revision.map(str::to_string),
        path: at.path,
        line: at.line,
        column: at.column,
        code: rule.code,
        severity: rule.severity,
        message: place.word(hit.message),
        also: Vec::new(),
    };
    (at.file, finding)
}
