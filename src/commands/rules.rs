//! `mrt rules`: every rule mrt knows, as a table or JSON.

use super::explain::dialects_text;
use crate::exit;
use anyhow::Result;
use mrt_lint::{Dialect, Frontend, Rule, RuleDoc};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Serialize)]
struct RuleView {
    code: &'static str,
    name: &'static str,
    severity: &'static str,
    /// Every dialect the rule runs on (all four when it is not dialect-specific).
    dialects: Vec<&'static str>,
    opt_in: bool,
    /// The kinds of migrations the rule reads: `alembic`, `django`, `sql` (SQL files of sqlx,
    /// diesel, golang-migrate, dbmate, Flyway, refinery).
    frameworks: Vec<&'static str>,
    summary: &'static str,
    doc: RuleDoc,
}

const ALL_DIALECTS: [Dialect; 4] = [
    Dialect::Generic,
    Dialect::Sqlite,
    Dialect::Postgresql,
    Dialect::Mysql,
];

fn view(r: &Rule) -> RuleView {
    RuleView {
        code: r.code,
        name: r.name,
        severity: r.severity.as_str(),
        dialects: ALL_DIALECTS
            .iter()
            .filter(|d| r.runs_on(**d))
            .map(|d| d.as_str())
            .collect(),
        opt_in: r.opt_in,
        frameworks: frameworks(r),
        summary: r.summary,
        doc: r.doc,
    }
}

pub fn run(format: Format) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let views: Vec<RuleView> = mrt_lint::rules().iter().map(view).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?;
        }
        Format::Table => out.write_all(table().as_bytes())?,
    }
    Ok(exit::OK)
}

/// Which kinds of migrations a rule reads, by their names in `kind`.
fn frameworks(r: &Rule) -> Vec<&'static str> {
    [
        (Frontend::Alembic, "alembic"),
        (Frontend::Django, "django"),
        (Frontend::SqlFiles, "sql"),
    ]
    .into_iter()
    .filter(|(f, _)| r.runs_in(*f))
    .map(|(_, name)| name)
    .collect()
}

/// `CODE  NAME  SEVERITY  DIALECTS  MIGRATIONS  OPT-IN  SUMMARY`, columns aligned.
fn table() -> String {
    let rows: Vec<[String; 7]> = mrt_lint::rules()
        .iter()
        .map(|r| {
            [
                r.code.to_string(),
                r.name.to_string(),
                r.severity.to_string(),
                dialects_text(r).replace(" dialects", ""),
                frameworks(r).join(", "),
                if r.opt_in { "yes" } else { "" }.to_string(),
                r.summary.to_string(),
            ]
        })
        .collect();
    let header = [
        "CODE",
        "NAME",
        "SEVERITY",
        "DIALECTS",
        "MIGRATIONS",
        "OPT-IN",
        "SUMMARY",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:w$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_rule_with_header() {
        let t = table();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), mrt_lint::rules().len() + 1);
        assert!(lines[0].starts_with("CODE    NAME"), "{}", lines[0]);
        let pg = lines.iter().find(|l| l.starts_with("MRT407")).unwrap();
        assert!(pg.contains("postgresql") && pg.contains("warning"), "{pg}");
        let opt = lines.iter().find(|l| l.starts_with("MRT701")).unwrap();
        assert!(opt.contains("yes"), "{opt}");
    }

    #[test]
    fn json_view_expands_dialects() {
        let all = view(mrt_lint::find_rule("MRT201").unwrap());
        assert_eq!(all.dialects, ["generic", "sqlite", "postgresql", "mysql"]);
        let pg = view(mrt_lint::find_rule("MRT503").unwrap());
        assert_eq!(pg.dialects, ["generic", "postgresql"]);
    }
}
