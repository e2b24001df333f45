//! `--format json`: one object with `findings`, `skipped` and `summary`.

use super::Report;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
struct JsonReport<'a> {
    /// Every file checked, in graph order (what the HTML report lists).
    revisions: Vec<JsonRevision<'a>>,
    findings: Vec<JsonFinding<'a>>,
    skipped: Vec<JsonSkipped<'a>>,
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    revision: Option<&'a str>,
    path: &'a str,
    line: usize,
    column: usize,
    code: &'a str,
    name: &'a str,
    severity: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonRevision<'a> {
    revision: Option<&'a str>,
    path: &'a str,
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSkipped<'a> {
    revision: &'a str,
    path: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
    info: usize,
    files: usize,
    skipped: usize,
    exit_code: u8,
}

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &value(report))?;
    writeln!(out)
}

/// The document `--format json` prints (and the HTML report reads).
pub fn value(report: &Report) -> serde_json::Value {
    let c = report.counts();
    let view = JsonReport {
        revisions: (report.checked.iter())
            .map(|c| JsonRevision {
                revision: c.revision.as_deref(),
                path: &c.path,
                message: c.message.as_deref(),
            })
            .collect(),
        findings: report
            .items
            .iter()
            .map(|i| JsonFinding {
                revision: i.finding.revision.as_deref(),
                path: &i.path,
                line: i.finding.line,
                column: i.finding.column,
                code: i.finding.code,
                name: mrt_lint::find_rule(i.finding.code).map_or("", |r| r.name),
                severity: i.finding.severity.as_str(),
                message: &i.finding.message,
            })
            .collect(),
        skipped: report
            .skipped
            .iter()
            .map(|s| JsonSkipped {
                revision: &s.revision,
                path: &s.path,
                reason: &s.reason,
            })
            .collect(),
        summary: JsonSummary {
            errors: c.errors,
            warnings: c.warnings,
            info: c.info,
            files: report.checked.len(),
            skipped: report.skipped.len(),
            exit_code: report.exit_code(),
        },
    };
    // Plain structs of strings and numbers: serialising them cannot fail.
    serde_json::to_value(view).unwrap_or_default()
}
