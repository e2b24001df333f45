//! `--format junit`: JUnit XML for CI test reports. One test suite; one test case per revision
//! (`lint::<rev>`), failing on errors (and warnings with `--strict`), skipped with the configured
//! reason.

use super::{Checked, Item, Report};
use std::collections::HashMap;
use std::io::{self, Write};

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let by_path: HashMap<&str, Vec<&Item>> =
        report.by_path().into_iter().collect::<HashMap<_, _>>();
    let failures = report
        .checked
        .iter()
        .filter(|c| {
            failing(report, by_path.get(c.path.as_str()))
                .next()
                .is_some()
        })
        .count();
    let tests = report.checked.len() + report.skipped.len();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="mrt check" tests="{tests}" failures="{failures}" errors="0" skipped="{}">"#,
        report.skipped.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="mrt check" tests="{tests}" failures="{failures}" errors="0" skipped="{}" time="0">"#,
        report.skipped.len()
    )?;
    for c in &report.checked {
        write_case(report, c, by_path.get(c.path.as_str()), out)?;
    }
    for s in &report.skipped {
        writeln!(
            out,
            r#"    <testcase name="lint::{}" classname="lint" file="{}" time="0">"#,
            escape(&s.revision),
            escape(&s.path)
        )?;
        writeln!(out, r#"      <skipped message="{}"/>"#, escape(&s.reason))?;
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

fn failing<'a>(
    report: &'a Report,
    items: Option<&'a Vec<&'a Item>>,
) -> impl Iterator<Item = &'a &'a Item> + 'a {
    items
        .into_iter()
        .flatten()
        .filter(|i| report.fails(i.finding.severity))
}

fn write_case(
    report: &Report,
    c: &Checked,
    items: Option<&Vec<&Item>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        r#"    <testcase name="{}" classname="lint" file="{}" time="0">"#,
        escape(&c.test_name()),
        escape(&c.path)
    )?;
    let failing: Vec<&Item> = failing(report, items).copied().collect();
    if let Some(first) = failing.first() {
        let codes: Vec<&str> = failing.iter().map(|i| i.finding.code).collect();
        writeln!(
            out,
            r#"      <failure message="{}" type="{}">{}</failure>"#,
            escape(&format!(
                "{} failing finding{}: {}",
                failing.len(),
                if failing.len() == 1 { "" } else { "s" },
                codes.join(", ")
            )),
            escape(first.finding.code),
            escape(&lines(&failing))
        )?;
    }
    let others: Vec<&Item> = items
        .into_iter()
        .flatten()
        .filter(|i| !report.fails(i.finding.severity))
        .copied()
        .collect();
    if !others.is_empty() {
        writeln!(
            out,
            "      <system-out>{}</system-out>",
            escape(&lines(&others))
        )?;
    }
    writeln!(out, "    </testcase>")
}

fn lines(items: &[&Item]) -> String {
    items
        .iter()
        .map(|i| {
            let f = &i.finding;
            format!(
                "{}:{}:{}: {} {}: {}",
                mrt_migrations::escape(&i.path),
                f.line,
                f.column,
                f.code,
                f.severity,
                mrt_migrations::escape(&f.message)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot hold become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c'\n\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;\u{FFFD}"
        );
    }
}
