//! Runs every migration under `fixtures/lint/` and compares the findings with the file's own
//! `# expect: CODE` markers (see fixtures/lint/README.md): both missing and unexpected findings fail.

use mrt_lint::{lint_file, rules, Dialect, FileContext, Frontend, Severity};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/lint")
}

fn python_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            python_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "py") {
            out.push(path);
        }
    }
}

struct Fixture {
    path: PathBuf,
    source: String,
    dialect: Dialect,
    merge: bool,
    opt_in: Vec<String>,
    expected: BTreeSet<(String, usize)>,
}

/// Header directives (`# dialect: ...`, `# merge: true`, `# opt-in: MRT701`) and inline
/// `# expect: MRT201, MRT206` markers on the line where each finding must be reported.
fn read_fixture(path: &Path) -> Fixture {
    let source = fs::read_to_string(path).expect("fixture readable");
    let mut fixture = Fixture {
        path: path.to_path_buf(),
        source: source.clone(),
        dialect: Dialect::Generic,
        merge: false,
        opt_in: Vec::new(),
        expected: BTreeSet::new(),
    };
    for (i, line) in source.lines().enumerate() {
        if let Some(d) = line.strip_prefix("# dialect:") {
            fixture.dialect = d.trim().parse().expect("valid dialect");
        }
        if let Some(m) = line.strip_prefix("# merge:") {
            fixture.merge = m.trim() == "true";
        }
        if let Some(o) = line.strip_prefix("# opt-in:") {
            fixture
                .opt_in
                .extend(o.split(',').map(|s| s.trim().to_string()));
        }
        if let Some(at) = line.find("# expect:") {
            for code in line[at + 9..].split(|c: char| c == ',' || c.is_whitespace()) {
                if !code.is_empty() {
                    fixture.expected.insert((code.to_string(), i + 1));
                }
            }
        }
    }
    fixture
}

fn run(f: &Fixture) -> Vec<mrt_lint::Finding> {
    let opt_in: Vec<&str> = f.opt_in.iter().map(String::as_str).collect();
    let ctx = FileContext {
        path: &f.path,
        source: &f.source,
        revision: None,
        is_merge: f.merge,
        dialect: f.dialect,
        opt_in_rules: &opt_in,
    };
    lint_file(&ctx)
}

fn all_fixtures() -> Vec<Fixture> {
    let mut paths = Vec::new();
    python_files(&fixtures_root(), &mut paths);
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no fixtures found under {}",
        fixtures_root().display()
    );
    paths.iter().map(|p| read_fixture(p)).collect()
}

#[test]
fn every_fixture_gives_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    for f in all_fixtures() {
        let findings = run(&f);
        let actual: BTreeSet<(String, usize)> = findings
            .iter()
            .map(|x| (x.code.to_string(), x.line))
            .collect();
        if actual != f.expected {
            let missing: Vec<_> = f.expected.difference(&actual).collect();
            let unexpected: Vec<_> = findings
                .iter()
                .filter(|x| !f.expected.contains(&(x.code.to_string(), x.line)))
                .map(|x| format!("{}@{}: {}", x.code, x.line, x.message))
                .collect();
            failures.push(format!(
                "{}\n  missing: {missing:?}\n  unexpected: {unexpected:#?}",
                f.path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn safe_suite_has_no_errors_or_warnings() {
    let safe: Vec<Fixture> = all_fixtures()
        .into_iter()
        .filter(|f| f.path.components().any(|c| c.as_os_str() == "safe"))
        .collect();
    assert!(
        safe.len() >= 12,
        "the false-positive suite needs at least 12 files, has {}",
        safe.len()
    );
    for f in &safe {
        let bad: Vec<_> = run(f)
            .into_iter()
            .filter(|x| x.severity >= Severity::Warning)
            .collect();
        assert!(bad.is_empty(), "{}: {bad:#?}", f.path.display());
    }
}

/// Every per-file rule has a fixture where it fires and a look-alike in its own folder where it
/// does not (`fixtures/lint/rules/MRTxxx/`). The project rules are proven by `mrt check`
/// fixtures instead: MRT901 `fixtures/check/multi_head`, MRT902 `syntax_error`, MRT903
/// `duplicate_id` and `cycle` (all under `fixtures/check/`). Rules that do not run on Alembic
/// revisions are proven under `fixtures/lint_sql/` (lint/tests/sql_fixtures.rs) and
/// `fixtures/lint_django/` (lint/tests/django_fixtures.rs).
#[test]
fn every_rule_has_a_firing_and_a_safe_fixture() {
    let fixtures = all_fixtures();
    let mut missing = Vec::new();
    for rule in rules().iter().filter(|r| {
        !matches!(r.code, "MRT901" | "MRT902" | "MRT903") && r.runs_in(Frontend::Alembic)
    }) {
        let dir = fixtures_root().join("rules").join(rule.code);
        let own: Vec<&Fixture> = fixtures
            .iter()
            .filter(|f| f.path.starts_with(&dir))
            .collect();
        let fires = own
            .iter()
            .any(|f| f.expected.iter().any(|(c, _)| c == rule.code));
        let quiet = own
            .iter()
            .any(|f| !f.expected.iter().any(|(c, _)| c == rule.code));
        if !fires || !quiet {
            missing.push(format!(
                "{} (fires: {fires}, safe look-alike: {quiet})",
                rule.code
            ));
        }
    }
    assert!(missing.is_empty(), "rules without fixtures: {missing:#?}");
}
