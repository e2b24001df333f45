//! Runs every SQL-file migration under `fixtures/lint_sql/` and compares the findings with the
//! `-- expect: CODE` markers in its files (see fixtures/lint_sql/README.md): a missing finding,
//! an unexpected one, or one in the wrong file or on the wrong line fails.

use mrt_lint::{
    find_rule, lint_sql_migration, rules, Dialect, Finding, Frontend, SqlDown, SqlFileContext,
    SqlSource,
};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/lint_sql")
}

/// Rules that never fire on a SQL file: they are about Python calls (`op.execute`, batch mode,
/// `alter_column`, SQL built at run time) or about the project (MRT901-MRT903).
const NO_SQL_FORM: &[&str] = &[
    "MRT100", "MRT104", "MRT105", "MRT206", "MRT402", "MRT410", "MRT901", "MRT902", "MRT903",
];

/// One script of a case as read from disk.
struct Script {
    path: PathBuf,
    text: String,
    first_line: usize,
    transactional: bool,
}

impl Script {
    fn source(&self) -> SqlSource<'_> {
        SqlSource {
            path: &self.path,
            text: &self.text,
            first_line: self.first_line,
            transactional: self.transactional,
        }
    }
}

enum Down {
    Present(Script),
    Missing,
    ForwardOnly,
}

struct Case {
    /// The case folder, or the dbmate file.
    name: PathBuf,
    up: Script,
    down: Down,
    dialect: Dialect,
    opt_in: Vec<String>,
    /// (file, code, line) of every expected finding.
    expected: BTreeSet<(PathBuf, String, usize)>,
}

impl Case {
    fn lint(&self) -> Vec<Finding> {
        let opt_in: Vec<&str> = self.opt_in.iter().map(String::as_str).collect();
        let ctx = SqlFileContext {
            revision: Some("fixture"),
            up: self.up.source(),
            down: match &self.down {
                Down::Present(s) => SqlDown::Present(s.source()),
                Down::Missing => SqlDown::Missing,
                Down::ForwardOnly => SqlDown::ForwardOnly,
            },
            dialect: self.dialect,
            opt_in_rules: &opt_in,
        };
        lint_sql_migration(&ctx)
    }

    fn fires(&self, code: &str) -> bool {
        self.expected.iter().any(|(_, c, _)| c == code)
    }
}

/// A pair's script runs in a transaction unless it starts with sqlx's `-- no-transaction` or
/// says `-- transactional: false` (diesel's metadata.toml, golang-migrate).
fn transactional(text: &str) -> bool {
    !(text.starts_with("-- no-transaction")
        || text.lines().any(|l| l.trim() == "-- transactional: false"))
}

/// Directives and `-- expect:` markers of a file, at the file's own line numbers.
fn read_markers(case: &mut Case, path: &Path, text: &str) {
    for (i, line) in text.lines().enumerate() {
        if let Some(d) = line.strip_prefix("-- dialect:") {
            case.dialect = d.trim().parse().expect("valid dialect");
        }
        if let Some(o) = line.strip_prefix("-- opt-in:") {
            case.opt_in
                .extend(o.split(',').map(|s| s.trim().to_string()));
        }
        if let Some(at) = line.find("-- expect:") {
            for code in line[at + 10..].split(|c: char| c == ',' || c.is_whitespace()) {
                if !code.is_empty() {
                    case.expected
                        .insert((path.to_path_buf(), code.to_string(), i + 1));
                }
            }
        }
    }
}

fn forward_only(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "-- down: forward-only")
}

fn read_pair(dir: &Path) -> Case {
    let up_path = dir.join("up.sql");
    let up_text = fs::read_to_string(&up_path).expect("up.sql readable");
    let down_path = dir.join("down.sql");
    let down = match fs::read_to_string(&down_path) {
        Ok(text) => Down::Present(Script {
            path: down_path,
            transactional: transactional(&text),
            text,
            first_line: 1,
        }),
        Err(_) if forward_only(&up_text) => Down::ForwardOnly,
        Err(_) => Down::Missing,
    };
    let mut case = Case {
        name: dir.to_path_buf(),
        up: Script {
            path: up_path.clone(),
            transactional: transactional(&up_text),
            text: up_text.clone(),
            first_line: 1,
        },
        down,
        dialect: Dialect::Generic,
        opt_in: Vec::new(),
        expected: BTreeSet::new(),
    };
    read_markers(&mut case, &up_path, &up_text);
    if let Down::Present(d) = &case.down {
        let (path, text) = (d.path.clone(), d.text.clone());
        read_markers(&mut case, &path, &text);
    }
    case
}

/// A dbmate file: `-- migrate:up [transaction:false]`, then optionally `-- migrate:down`.
/// Each section's text starts on the line after its marker.
fn read_dbmate(path: &Path) -> Case {
    let text = fs::read_to_string(path).expect("fixture readable");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let marker = |name: &str| lines.iter().position(|l| l.trim_start().starts_with(name));
    let up_at = marker("-- migrate:up").expect("a dbmate fixture has -- migrate:up");
    let down_at = marker("-- migrate:down");
    let section = |from: usize, to: usize| {
        let transactional = !lines[from].contains("transaction:false");
        Script {
            path: path.to_path_buf(),
            text: lines[from + 1..to].concat(),
            first_line: from + 2,
            transactional,
        }
    };
    let up = section(up_at, down_at.unwrap_or(lines.len()));
    let down = match down_at {
        Some(d) => Down::Present(section(d, lines.len())),
        None if forward_only(&text) => Down::ForwardOnly,
        None => Down::Missing,
    };
    let mut case = Case {
        name: path.to_path_buf(),
        up,
        down,
        dialect: Dialect::Generic,
        opt_in: Vec::new(),
        expected: BTreeSet::new(),
    };
    read_markers(&mut case, path, &text);
    case
}

fn collect(dir: &Path, out: &mut Vec<Case>) {
    if dir.join("up.sql").is_file() {
        out.push(read_pair(dir));
        return;
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("fixture folder readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(read_dbmate(&path));
        }
    }
}

fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    collect(&root(), &mut cases);
    assert!(
        cases.len() > 50,
        "too few SQL fixtures under {}",
        root().display()
    );
    cases
}

fn actual(findings: &[Finding]) -> BTreeSet<(PathBuf, String, usize)> {
    findings
        .iter()
        .map(|f| (f.path.clone(), f.code.to_string(), f.line))
        .collect()
}

#[test]
fn every_case_gives_exactly_its_expected_findings_in_the_right_file() {
    let mut failures = Vec::new();
    for case in all_cases() {
        let findings = case.lint();
        for f in &findings {
            assert!(f.line >= 1 && f.column >= 1, "{f:?}");
            assert_eq!(f.revision.as_deref(), Some("fixture"));
        }
        let got = actual(&findings);
        if got != case.expected {
            let missing: Vec<_> = case.expected.difference(&got).collect();
            let unexpected: Vec<String> = findings
                .iter()
                .filter(|f| {
                    !case
                        .expected
                        .contains(&(f.path.clone(), f.code.to_string(), f.line))
                })
                .map(|f| format!("{} {}@{}: {}", f.path.display(), f.code, f.line, f.message))
                .collect();
            failures.push(format!(
                "{}\n  missing: {missing:?}\n  unexpected: {unexpected:#?}",
                case.name.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} SQL fixture(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn safe_suite_is_silent() {
    let safe: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| c.name.starts_with(root().join("safe")))
        .collect();
    assert!(
        safe.len() >= 12,
        "the SQL false-positive suite needs at least 12 migrations, has {}",
        safe.len()
    );
    for case in &safe {
        assert!(
            case.expected.is_empty(),
            "{}: safe cases carry no expect markers",
            case.name.display()
        );
        let findings = case.lint();
        assert!(
            findings.is_empty(),
            "{}: {findings:#?}",
            case.name.display()
        );
    }
}

/// Every rule with a SQL form fires in some case of `fixtures/lint_sql/rules/MRTxxx/` and stays
/// quiet in a look-alike there; rules without one (and rules that do not run on SQL files at
/// all, such as the Django ones) never appear in a marker.
#[test]
fn every_rule_with_a_sql_form_has_a_firing_and_a_quiet_case() {
    let cases = all_cases();
    let mut missing = Vec::new();
    for rule in rules() {
        let dir = root().join("rules").join(rule.code);
        let own: Vec<&Case> = cases.iter().filter(|c| c.name.starts_with(&dir)).collect();
        if NO_SQL_FORM.contains(&rule.code) || !rule.runs_in(Frontend::SqlFiles) {
            assert!(
                own.is_empty(),
                "{} has no SQL form but has SQL fixtures",
                rule.code
            );
            assert!(
                !cases.iter().any(|c| c.fires(rule.code)),
                "{} has no SQL form but a fixture expects it",
                rule.code
            );
            continue;
        }
        let fires = own.iter().any(|c| c.fires(rule.code));
        let quiet = own.iter().any(|c| !c.fires(rule.code));
        if !fires || !quiet {
            missing.push(format!(
                "{} (fires: {fires}, quiet look-alike: {quiet})",
                rule.code
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "rules without SQL fixtures: {missing:#?}"
    );
}

/// Findings in the down script are reported in the down file; the fixtures must prove it for a
/// pair and for a dbmate file (where both sections share a path but not their lines).
#[test]
fn down_findings_point_at_the_down_script() {
    let cases = all_cases();
    let in_down_file = cases.iter().any(|c| match &c.down {
        Down::Present(d) if d.path != c.up.path => c
            .lint()
            .iter()
            .any(|f| f.path == d.path && f.code == "MRT215"),
        _ => false,
    });
    assert!(
        in_down_file,
        "no pair fixture reports MRT215 in its down.sql"
    );
    let in_down_section = cases.iter().any(|c| match &c.down {
        Down::Present(d) if d.path == c.up.path => c
            .lint()
            .iter()
            .any(|f| f.code == "MRT215" && f.line >= d.first_line),
        _ => false,
    });
    assert!(
        in_down_section,
        "no dbmate fixture reports MRT215 in its down section"
    );
}

#[test]
fn sql_only_rules_are_documented_with_sql_examples() {
    for code in ["MRT216", "MRT415", "MRT416", "MRT417"] {
        let rule = find_rule(code).unwrap_or_else(|| panic!("{code} registered"));
        assert!(
            rule.runs_in(Frontend::SqlFiles) && !rule.runs_in(Frontend::Alembic),
            "{code} runs on SQL files, not on Alembic revisions"
        );
        assert_eq!(
            rule.only_sql_files,
            rule.frontends == [Frontend::SqlFiles],
            "{code}"
        );
        let doc = rule.doc;
        for text in [doc.catches, doc.why, doc.fix, doc.example] {
            assert!(text.len() > 40, "{code}: thin documentation {text:?}");
        }
        assert!(
            doc.example.contains(';') && !doc.example.contains("op."),
            "{code}: the example is SQL"
        );
        assert!(find_rule(rule.name).is_some_and(|r| r.code == code));
    }
    let gates = |code: &str| find_rule(code).map(|r| r.dialects.to_vec());
    assert_eq!(
        gates("MRT415"),
        Some(vec![Dialect::Postgresql, Dialect::Generic])
    );
    assert_eq!(gates("MRT416"), Some(vec![Dialect::Postgresql]));
    assert_eq!(gates("MRT417"), Some(vec![Dialect::Postgresql]));
    assert_eq!(gates("MRT216"), Some(vec![]));
}
