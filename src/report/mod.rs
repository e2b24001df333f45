//! Output formats of `mrt check`, one module per format, all rendering the same [`Report`].
//!
//! Every path in a report is relative to the project root with `/` separators; at print time each
//! format puts the prefix its reader needs before them (see [`paths`]).

pub mod github;
pub mod json;
pub mod junit;
pub mod paths;
pub mod sarif;
pub mod table;

use crate::exit;
use mrt_lint::{Finding, Rule, Severity};
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable, grouped by file (coloured on a terminal unless `NO_COLOR` is set).
    Table,
    /// One object: `findings`, `skipped`, `summary`.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...`), shown as annotations.
    Github,
    /// JUnit XML: one test case per revision.
    Junit,
}

/// A finding and its path relative to the project root.
#[derive(Debug, Clone)]
pub struct Item {
    pub finding: Finding,
    pub path: String,
}

/// A revision the config says not to check, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub revision: String,
    pub path: String,
    pub reason: String,
}

/// A file that was checked: a revision, or a file that does not parse (no revision known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub revision: Option<String>,
    pub path: String,
    /// The revision's message (docstring), for the HTML report.
    pub message: Option<String>,
}

impl Checked {
    /// The test name used by junit and by `mrt test`: `lint::<rev>` (or `lint::<path>`).
    pub fn test_name(&self) -> String {
        format!("lint::{}", self.revision.as_deref().unwrap_or(&self.path))
    }
}

/// Everything `mrt check` found, ready to render.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Sorted by path, line, column, code.
    pub items: Vec<Item>,
    /// In graph order (parents first).
    pub checked: Vec<Checked>,
    pub skipped: Vec<Skipped>,
    /// `--strict`: warnings fail like errors.
    pub strict: bool,
    /// Configured severities by rule code (`None` = off); rules not named keep their default.
    pub overrides: HashMap<&'static str, Option<Severity>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for item in &self.items {
            match item.finding.severity {
                Severity::Error => c.errors += 1,
                Severity::Warning => c.warnings += 1,
                Severity::Info => c.info += 1,
            }
        }
        c
    }

    /// Whether a finding of this severity fails the run: errors, and warnings with `--strict`.
    pub fn fails(&self, severity: Severity) -> bool {
        severity == Severity::Error || (self.strict && severity == Severity::Warning)
    }

    /// 0 clean (info only is clean), 1 warnings only, 2 errors (or warnings with `--strict`).
    pub fn exit_code(&self) -> u8 {
        let worst = self.items.iter().map(|i| i.finding.severity).max();
        match worst {
            Some(s) if self.fails(s) => exit::ERRORS,
            Some(Severity::Warning) => exit::WARNINGS,
            _ => exit::OK,
        }
    }

    /// A rule's severity in this run: the configured one, else its default; `None` when off.
    pub fn level_of(&self, rule: &Rule) -> Option<Severity> {
        self.overrides
            .get(rule.code)
            .copied()
            .unwrap_or(Some(rule.severity))
    }

    /// Items grouped by path, in order.
    pub fn by_path(&self) -> Vec<(&str, Vec<&Item>)> {
        let mut groups: Vec<(&str, Vec<&Item>)> = Vec::new();
        for item in &self.items {
            match groups.last_mut() {
                Some((path, items)) if *path == item.path => items.push(item),
                _ => groups.push((&item.path, vec![item])),
            }
        }
        groups
    }

    /// The same report with `prefix` before every project-relative path.
    pub fn under(&self, prefix: &str) -> Report {
        let mut shown = self.clone();
        let join = |p: &mut String| *p = paths::join(prefix, p);
        shown.items.iter_mut().for_each(|i| join(&mut i.path));
        shown.checked.iter_mut().for_each(|c| join(&mut c.path));
        shown.skipped.iter_mut().for_each(|s| join(&mut s.path));
        shown
    }

    /// `N errors, M warnings, K info in F files; S skipped`.
    pub fn summary(&self) -> String {
        let c = self.counts();
        format!(
            "{} in {}; {} skipped",
            counts_text(c),
            plural(self.checked.len(), "file", "files"),
            self.skipped.len()
        )
    }
}

pub fn counts_text(c: Counts) -> String {
    format!(
        "{}, {}, {} info",
        plural(c.errors, "error", "errors"),
        plural(c.warnings, "warning", "warnings"),
        c.info
    )
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Writes `report` to stdout in `format`, its paths as that format's reader needs them.
pub fn print(report: &Report, format: Format, prefixes: &paths::Prefixes) -> io::Result<()> {
    let shown = report.under(prefixes.for_format(format));
    let stdout = io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = io::BufWriter::new(stdout.lock());
    write(&shown, format, color, &mut out)?;
    out.flush()
}

pub fn write(report: &Report, format: Format, color: bool, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::write(report, color, out),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
        Format::Github => github::write(report, out),
        Format::Junit => junit::write(report, out),
    }
}

/// `path` relative to `root`, with `/` separators; `path` itself when it is outside `root`.
pub fn relative(root: &Path, path: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (root, path) = (abs(root), abs(path));
    match path.strip_prefix(&root) {
        Ok(rel) => {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            parts.join("/")
        }
        Err(_) => path.to_string_lossy().replace('\\', "/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn finding(path: &str, line: usize, code: &'static str, sev: Severity) -> Item {
        Item {
            finding: Finding {
                revision: Some("r1".into()),
                path: PathBuf::from(path),
                line,
                column: 5,
                code,
                severity: sev,
                message: format!("{code} here"),
                also: Vec::new(),
            },
            path: path.to_string(),
        }
    }

    #[test]
    fn exit_codes_follow_the_worst_severity() {
        let mut r = Report::default();
        assert_eq!(r.exit_code(), exit::OK);
        r.items.push(finding("a.py", 1, "MRT100", Severity::Info));
        assert_eq!(r.exit_code(), exit::OK);
        r.items
            .push(finding("a.py", 2, "MRT103", Severity::Warning));
        assert_eq!(r.exit_code(), exit::WARNINGS);
        r.strict = true;
        assert_eq!(r.exit_code(), exit::ERRORS);
        r.strict = false;
        r.items.push(finding("b.py", 1, "MRT201", Severity::Error));
        assert_eq!(r.exit_code(), exit::ERRORS);
        assert_eq!(
            r.counts(),
            Counts {
                errors: 1,
                warnings: 1,
                info: 1
            }
        );
        assert_eq!(r.by_path().len(), 2);
    }

    #[test]
    fn summary_pluralises() {
        let mut r = Report::default();
        r.items.push(finding("a.py", 1, "MRT201", Severity::Error));
        r.checked.push(Checked {
            revision: None,
            path: "a.py".into(),
            message: None,
        });
        assert_eq!(
            r.summary(),
            "1 error, 0 warnings, 0 info in 1 file; 0 skipped"
        );
    }

    #[test]
    fn relative_paths_use_forward_slashes() {
        assert_eq!(
            relative(Path::new("/p"), Path::new("/p/migrations/versions/a.py")),
            "migrations/versions/a.py"
        );
        assert_eq!(relative(Path::new("/p"), Path::new("/q/a.py")), "/q/a.py");
    }
}
