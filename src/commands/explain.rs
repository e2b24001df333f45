//! `mrt explain CODE|NAME` prints a rule's documentation; `mrt explain FILE` lints one revision
//! file and shows how to fix each finding. Offline: nothing is fetched or imported.

use super::check::{lint_project_revision, lint_revision, parse_dialect, read_source, Policy};
use crate::config;
use crate::exit;
use crate::report::{counts_text, Counts};
use anyhow::{bail, Context, Result};
use mrt_lint::{Dialect, Finding, Rule, Severity};
use mrt_migrations::alembic::{self, FileOutcome};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// A rule code (`MRT201`), a rule name (`drop-column`) or a revision file to explain.
    #[arg(value_name = "CODE|NAME|FILE")]
    pub target: String,
    /// Database engine for FILE (default: the project's config, else its sqlalchemy.url).
    #[arg(long, value_parser = parse_dialect)]
    pub dialect: Option<Dialect>,
    /// Also run these opt-in rules on FILE (codes or names, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub opt_in: Vec<String>,
    /// The project's ini section to read instead of [alembic] (Alembic's --name/-n).
    #[arg(long, short = 'n', value_name = "SECTION")]
    pub name: Option<String>,
}

const WIDTH: usize = 96;

pub fn run(args: &ExplainArgs, verbose: bool) -> Result<u8> {
    let path = Path::new(&args.target);
    if path.is_file() {
        return explain_file(path, args, verbose);
    }
    match mrt_lint::find_rule(&args.target) {
        Some(rule) => {
            let mut out = std::io::stdout().lock();
            out.write_all(rule_doc(rule).as_bytes())?;
            Ok(exit::OK)
        }
        None if args.target.ends_with(".py") || args.target.contains('/') => {
            bail!("no such file {}", args.target)
        }
        None => bail!("unknown rule {}; `mrt rules` lists them", args.target),
    }
}

/// Everything `mrt explain CODE` prints.
pub fn rule_doc(rule: &Rule) -> String {
    let mut s = format!(
        "{} {} ({}{}; {})\n{}\n",
        rule.code,
        rule.name,
        rule.severity,
        if rule.opt_in { ", opt-in" } else { "" },
        dialects_text(rule),
        rule.summary
    );
    for (title, text) in [
        ("What it catches", rule.doc.catches),
        ("Why it is dangerous", rule.doc.why),
        ("How to fix", rule.doc.fix),
    ] {
        s.push_str(&format!("\n{title}:\n{}\n", wrap(text, "  ")));
    }
    s.push_str("\nExample:\n");
    for line in rule.doc.example.lines() {
        s.push_str(&format!("    {line}\n"));
    }
    s.push_str(&format!(
        "\nSilence one finding with `# noqa: {code}`; change the rule's severity in mrt.toml with\n\
         `[severity]` `{code} = \"warning\"` (or \"off\"){opt}.\n",
        code = rule.code,
        opt = if rule.opt_in {
            format!("; enable it with `opt_in = [\"{}\"]` or `--opt-in {}`", rule.code, rule.code)
        } else {
            String::new()
        }
    ));
    s
}

pub fn dialects_text(rule: &Rule) -> String {
    if rule.dialects.is_empty() {
        "all dialects".to_string()
    } else {
        let names: Vec<&str> = rule.dialects.iter().map(|d| d.as_str()).collect();
        names.join(", ")
    }
}

/// Greedy word wrap at [`WIDTH`], each line prefixed with `indent`.
fn wrap(text: &str, indent: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
                lines.push(format!("{indent}{line}"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(format!("{indent}{line}"));
    }
    lines.join("\n")
}

/// Lints one file with its project's settings and prints each finding with its rule's fix.
fn explain_file(path: &Path, args: &ExplainArgs, verbose: bool) -> Result<u8> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
    {
        return explain_project_file(path, args, verbose, "an SQL migration file");
    }
    if read_source(path).is_some_and(|t| mrt_migrations::foreign::is_django_source(&t)) {
        return explain_project_file(path, args, verbose, "a Django migration");
    }
    let project_dir = find_project_dir(path);
    let loaded = match &project_dir {
        Some(dir) => config::load(dir)?,
        None => config::Loaded::default(),
    };
    let policy = Policy::new(&loaded, args.dialect, &args.opt_in, &[])?;
    let url = project_dir
        .as_deref()
        .and_then(|dir| sqlalchemy_url(dir, &loaded, args.name.as_deref()));
    let dialect = policy.dialect_for(url.as_deref());
    if verbose {
        let dir = project_dir.as_deref().map(|d| d.display().to_string());
        eprintln!(
            "note: project {}; dialect {dialect}",
            dir.as_deref().unwrap_or("not found")
        );
    }
    let findings = policy.apply(lint_one_file(path, dialect, &policy.opt_in));
    print_findings(&findings, |_| path.to_path_buf())
}

/// Prints each finding with its rule's fix and the counts; the exit code of `mrt check`.
fn print_findings(findings: &[Finding], shown: impl Fn(&Finding) -> PathBuf) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    for f in findings {
        write_finding(&mut out, &shown(f), f)?;
    }
    let counts = count(findings);
    writeln!(out, "{}", counts_text(counts))?;
    Ok(if counts.errors > 0 {
        exit::ERRORS
    } else if counts.warnings > 0 {
        exit::WARNINGS
    } else {
        exit::OK
    })
}

fn write_finding(out: &mut impl Write, path: &Path, f: &Finding) -> std::io::Result<()> {
    writeln!(
        out,
        "{}:{}:{}  {}  {}  {}",
        mrt_migrations::escape(&path.display().to_string()),
        f.line,
        f.column,
        f.code,
        f.severity,
        mrt_migrations::escape(&f.message)
    )?;
    if let Some(rule) = mrt_lint::find_rule(f.code) {
        writeln!(out, "  {} ({}): {}", rule.code, rule.name, rule.summary)?;
        writeln!(out, "  how to fix:\n{}", wrap(rule.doc.fix, "    "))?;
        writeln!(out, "  more: mrt explain {}\n", rule.code)?;
    }
    Ok(())
}

fn count(findings: &[Finding]) -> Counts {
    let mut c = Counts::default();
    for f in findings {
        match f.severity {
            Severity::Error => c.errors += 1,
            Severity::Warning => c.warnings += 1,
            Severity::Info => c.info += 1,
        }
    }
    c
}

/// An SQL migration file (either of its scripts) or a Django migration is explained as the
/// migration it belongs to, found in the nearest folder above it that holds a project that
/// reads it (a Django migration is judged against its app's history).
fn explain_project_file(path: &Path, args: &ExplainArgs, verbose: bool, what: &str) -> Result<u8> {
    let file = std::fs::canonicalize(path)
        .with_context(|| format!("cannot read {}", mrt_migrations::shown(path)))?;
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    for dir in file.ancestors().skip(1) {
        let Ok(loaded) = config::load(dir) else {
            continue;
        };
        let Ok(project) = crate::project::open_with(dir, &loaded, Default::default()) else {
            continue;
        };
        let extra = project.framework.extra_revisions();
        let mut revisions = project.graph.ordered().chain(&extra);
        let Some(revision) =
            revisions.find(|r| (project.framework.files(r).iter()).any(|f| canonical(f) == file))
        else {
            continue;
        };
        let policy = Policy::new(&loaded, args.dialect, &args.opt_in, &[])?;
        let dialect = policy.dialect_for(project.framework.configured_url());
        if verbose {
            let detected = mrt_migrations::escape(&project.framework.detected_by()).into_owned();
            eprintln!(
                "note: project {} read as {detected}; dialect {dialect}",
                dir.display()
            );
        }
        let findings = lint_project_revision(&project, revision, dialect, &policy.opt_in);
        let cwd = std::env::current_dir().unwrap_or_default();
        return print_findings(&policy.apply(findings), |f| {
            f.path.strip_prefix(&cwd).unwrap_or(&f.path).to_path_buf()
        });
    }
    bail!(
        "{} is {what}, but no folder above it holds a project that reads it (a Django project with manage.py, or a migrations folder of sqlx, diesel, golang-migrate, dbmate, Flyway or refinery; set kind and [sql] dir or [django] settings in an mrt.toml above it)",
        mrt_migrations::shown(path)
    )
}

/// The file's revision id and merge flag come from the file itself; a file that does not parse
/// gives its MRT902.
fn lint_one_file(path: &Path, dialect: Dialect, opt_in: &[&str]) -> Vec<Finding> {
    match alembic::read_revision_file(path) {
        FileOutcome::Revision(r) => {
            let merge = r.down_revisions.len() > 1;
            lint_revision(path, Some(&r.id), merge, dialect, opt_in)
        }
        FileOutcome::NotARevision(..) => lint_revision(path, None, false, dialect, opt_in),
        FileOutcome::Broken { problem, .. } => mrt_lint::problem_findings(&[problem]),
    }
}

/// The nearest directory at or above the file holding `alembic.ini` or `mrt.toml`.
fn find_project_dir(file: &Path) -> Option<PathBuf> {
    let file = std::fs::canonicalize(file).ok()?;
    file.ancestors()
        .skip(1)
        .find(|d| d.join("alembic.ini").is_file() || d.join("mrt.toml").is_file())
        .map(Path::to_path_buf)
}

/// The project's `sqlalchemy.url` (config `alembic_config` honoured); none if it cannot be read.
fn sqlalchemy_url(dir: &Path, loaded: &config::Loaded, section: Option<&str>) -> Option<String> {
    let ini = loaded
        .config
        .alembic_config
        .as_deref()
        .map(|p| loaded.resolve(p));
    alembic::locate(dir, ini.as_deref(), section)
        .ok()?
        .sqlalchemy_url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_doc_has_every_section() {
        let rule = mrt_lint::find_rule("MRT201").unwrap();
        let doc = rule_doc(rule);
        for part in [
            "MRT201 drop-column (error; all dialects)",
            "What it catches:",
            "Why it is dangerous:",
            "How to fix:",
            "Example:\n    op.drop_column",
            "# noqa: MRT201",
        ] {
            assert!(doc.contains(part), "{part} missing in\n{doc}");
        }
        let pg = rule_doc(mrt_lint::find_rule("MRT407").unwrap());
        assert!(pg.contains("(warning; postgresql)"), "{pg}");
    }

    #[test]
    fn wrap_keeps_words_and_width() {
        let text = "word ".repeat(60);
        let wrapped = wrap(&text, "  ");
        assert!(wrapped
            .lines()
            .all(|l| l.len() <= WIDTH && l.starts_with("  ")));
        assert_eq!(wrapped.split_whitespace().count(), 60);
    }
}
