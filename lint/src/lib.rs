//! Static rollback-safety rules over parsed migrations: the rule registry, findings and
//! suppression. Kept apart from execution so `mrt check` never needs a database; severity
//! overrides, skip lists and output formats are the CLI's.
//!
//! Pipeline: Python AST ([`python`]) -> calls -> [`model::Kind`]s (op calls in `ops`, raw SQL in
//! [`sql`]) -> rules -> hits -> suppression -> [`Finding`]s.

mod dialect;
mod extract;
mod finding;
mod graph;
mod hazards;
pub mod model;
mod ops;
pub mod python;
mod registry;
mod rules;
mod severity;
pub mod sql;
pub mod suppress;

pub use dialect::{dialect_from_url, Dialect, UnknownDialect};
pub use finding::{Finding, Hit};
pub use graph::{graph_findings, problem_findings};
pub use registry::{find_rule, rules, Rule, RuleDoc};
pub use severity::{Severity, UnknownSeverity};

use rustpython_parser::source_code::RandomLocator;
use rustpython_parser::text_size::TextRange;
use rustpython_parser::{ast, Parse};
use std::collections::HashSet;
use std::path::Path;

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
    };
    let mut hits = Vec::new();
    for rule in rules().iter().filter(|r| enabled(r, ctx)) {
        if let Some(check) = rules::check(rule.code) {
            hits.extend(check(&rule_ctx).into_iter().map(|h| (rule, h)));
        }
    }
    to_findings(ctx, hits)
}

fn enabled(rule: &Rule, ctx: &FileContext) -> bool {
    let opted = || {
        ctx.opt_in_rules
            .iter()
            .any(|o| o.eq_ignore_ascii_case(rule.code) || o.eq_ignore_ascii_case(rule.name))
    };
    rule.runs_on(ctx.dialect) && (!rule.opt_in || opted())
}

/// One finding per (code, call) and per hazard, positioned, unsuppressed, sorted.
fn to_findings(ctx: &FileContext, hits: Vec<(&'static Rule, Hit)>) -> Vec<Finding> {
    let suppressions = suppress::Suppressions::from_source(ctx.source);
    let mut locator = RandomLocator::new(ctx.source);
    let mut seen = HashSet::new();
    let unique: Vec<(&'static Rule, Hit)> = hits
        .into_iter()
        .filter(|(_, hit)| seen.insert((hit.code, hit.start)))
        .collect();
    let mut findings = Vec::new();
    for merged in hazards::merge(unique) {
        let mut silenced = |code: &str, span: TextRange| {
            let first = locator.locate(span.start()).row.get() as usize;
            let last = locator.locate(span.end()).row.get() as usize;
            suppressions.silences(code, first, last)
        };
        let hit = &merged.hit;
        if silenced(hit.code, hit.span) || merged.also.iter().any(|(_, h)| silenced(h.code, h.span))
        {
            continue;
        }
        let mut finding = positioned(ctx, &mut locator, merged.rule, merged.hit);
        finding.also = merged
            .also
            .into_iter()
            .map(|(rule, hit)| positioned(ctx, &mut locator, rule, hit))
            .collect();
        findings.push(finding);
    }
    findings.sort_by(|a, b| (a.line, a.column, a.code).cmp(&(b.line, b.column, b.code)));
    findings
}

/// A hit as a finding of `rule`, at the line and column of the hit's start.
fn positioned(
    ctx: &FileContext,
    locator: &mut RandomLocator,
    rule: &'static Rule,
    hit: Hit,
) -> Finding {
    let at = locator.locate(hit.start);
    Finding {
        revision: ctx.revision.map(str::to_string),
        path: ctx.path.to_path_buf(),
        line: at.row.get() as usize,
        column: at.column.get() as usize,
        code: rule.code,
        severity: rule.severity,
        message: hit.message,
        also: Vec::new(),
    }
}
