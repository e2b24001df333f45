//! The default, human format: findings grouped by file as `path:line:col  CODE  severity  message`,
//! then the skipped revisions, then one summary line.

use super::{Item, Report};
use mrt_lint::Severity;
use mrt_migrations::escape;
use std::io::{self, Write};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";

pub fn write(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let paint = Paint(color);
    for (i, (_, items)) in report.by_path().into_iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_group(&items, paint, out)?;
    }
    if !report.skipped.is_empty() {
        if !report.items.is_empty() {
            writeln!(out)?;
        }
        for s in &report.skipped {
            let tag = paint.wrap(DIM, "skipped");
            writeln!(
                out,
                "{}  {tag}  revision {}: {}",
                escape(&s.path),
                escape(&s.revision),
                escape(&s.reason)
            )?;
        }
    }
    if !report.items.is_empty() || !report.skipped.is_empty() {
        writeln!(out)?;
    }
    writeln!(out, "{}", paint.wrap(BOLD, &report.summary()))
}

fn write_group(items: &[&Item], paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    let locations: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "{}:{}:{}",
                escape(&i.path),
                i.finding.line,
                i.finding.column
            )
        })
        .collect();
    let width = locations.iter().map(String::len).max().unwrap_or(0);
    for (item, location) in items.iter().zip(&locations) {
        let f = &item.finding;
        let severity = paint.wrap(
            severity_color(f.severity),
            &format!("{:7}", f.severity.as_str()),
        );
        writeln!(
            out,
            "{location:width$}  {}  {severity}  {}",
            paint.wrap(BOLD, f.code),
            escape(&f.message)
        )?;
    }
    Ok(())
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Error => "\x1b[31m",
        Severity::Warning => "\x1b[33m",
        Severity::Info => "\x1b[36m",
    }
}

#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, style: &str, text: &str) -> String {
        if self.0 {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::finding;
    use crate::report::{Checked, Skipped};

    fn render(report: &Report, color: bool) -> String {
        let mut buf = Vec::new();
        write(report, color, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn sample() -> Report {
        Report {
            items: vec![
                finding("v/a.py", 9, "MRT201", Severity::Error),
                finding("v/a.py", 12, "MRT103", Severity::Warning),
                finding("v/b.py", 3, "MRT100", Severity::Info),
            ],
            checked: vec![
                Checked {
                    revision: Some("a".into()),
                    path: "v/a.py".into(),
                    message: None,
                },
                Checked {
                    revision: Some("b".into()),
                    path: "v/b.py".into(),
                    message: None,
                },
            ],
            skipped: vec![Skipped {
                revision: "c".into(),
                path: "v/c.py".into(),
                reason: "reviewed".into(),
            }],
            ..Report::default()
        }
    }

    #[test]
    fn plain_table_groups_by_file() {
        let text = render(&sample(), false);
        let expected = "\
v/a.py:9:5   MRT201  error    MRT201 here
v/a.py:12:5  MRT103  warning  MRT103 here

v/b.py:3:5  MRT100  info     MRT100 here

v/c.py  skipped  revision c: reviewed

1 error, 1 warning, 1 info in 2 files; 1 skipped
";
        assert_eq!(text, expected);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colour_only_when_asked() {
        let text = render(&sample(), true);
        assert!(text.contains("\x1b[31merror  \x1b[0m"), "{text:?}");
    }

    #[test]
    fn clean_report_is_one_line() {
        assert_eq!(
            render(&Report::default(), false),
            "0 errors, 0 warnings, 0 info in 0 files; 0 skipped\n"
        );
    }
}
