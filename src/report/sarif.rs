//! `--format sarif`: SARIF 2.1.0 as GitHub code scanning accepts it. Every rule mrt knows is in
//! `tool.driver.rules` (so `ruleIndex` is stable across runs); locations are relative to
//! `%SRCROOT%`, the repository root (see `paths`).

use super::{Item, Report};
use mrt_lint::{Rule, RuleDoc, Severity};
use serde_json::{json, Value};
use std::io::{self, Write};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// Where users read about mrt; SARIF viewers link the tool name to it.
pub const INFORMATION_URI: &str = "https://crates.io/crates/mrt";

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(report))?;
    writeln!(out)
}

pub fn log(report: &Report) -> Value {
    let rules = mrt_lint::rules();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "mrt",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": INFORMATION_URI,
                "rules": rules.iter().map(|r| rule(report, r)).collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": report.items.iter().map(|i| result(rules, i)).collect::<Vec<_>>(),
        }],
    })
}

fn rule(report: &Report, r: &Rule) -> Value {
    json!({
        "id": r.code,
        "name": r.name,
        "shortDescription": { "text": r.summary },
        "fullDescription": { "text": r.doc.catches },
        "help": { "text": help_text(&r.doc), "markdown": help_markdown(r) },
        "defaultConfiguration": {
            "enabled": report.level_of(r).is_some(),
            "level": report.level_of(r).map_or("none", level),
        },
        "properties": { "tags": ["migrations", "rollback"], "opt-in": r.opt_in },
    })
}

fn result(rules: &[Rule], item: &Item) -> Value {
    let f = &item.finding;
    let index = rules.iter().position(|r| r.code == f.code);
    let mut result = json!({
        "ruleId": f.code,
        "level": level(f.severity),
        "message": { "text": f.message },
        "locations": [{ "physicalLocation": {
            "artifactLocation": { "uri": uri(&item.path), "uriBaseId": "%SRCROOT%" },
            "region": { "startLine": f.line, "startColumn": f.column },
        }}],
    });
    if let (Some(i), Some(obj)) = (index, result.as_object_mut()) {
        obj.insert("ruleIndex".into(), json!(i));
    }
    result
}

pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn help_text(d: &RuleDoc) -> String {
    format!("{}\n\nWhy: {}\n\nFix: {}", d.catches, d.why, d.fix)
}

fn help_markdown(r: &Rule) -> String {
    format!(
        "{}\n\n**Why it is dangerous.** {}\n\n**How to fix.** {}\n\n```python\n{}\n```\n\n\
         Suppress one finding with `# noqa: {}`.",
        r.doc.catches, r.doc.why, r.doc.fix, r.doc.example, r.code
    )
}

/// A relative URI reference: `/` separators, and the characters a URI cannot hold escaped.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_escaped() {
        assert_eq!(
            uri("migrations/versions/a b%.py"),
            "migrations/versions/a%20b%25.py"
        );
        assert_eq!(uri("v/ü.py"), "v/%C3%BC.py");
    }
}
