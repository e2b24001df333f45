//! Runs every Django project under `fixtures/lint_django/` and compares the findings with the
//! `# expect: CODE` markers in its migration files (see fixtures/lint_django/README.md): a
//! missing finding, an unexpected one, or one in the wrong file or on the wrong line fails.
//!
//! The graph (dependencies resolved, graph order) is built here from each file's
//! `dependencies`, as Django's loader would for these small projects, since it belongs to the
//! migrations crate, not to the lint.

use mrt_lint::{
    find_rule, lint_django_migrations, rules, Dialect, DjangoMigration, Finding, Frontend,
};
use rustpython_parser::ast::{self, Expr, Stmt};
use rustpython_parser::Parse;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/lint_django")
}

/// One migration file of a fixture project.
struct File {
    id: String,
    app: String,
    path: PathBuf,
    source: String,
    /// `(app, name)` as written.
    dependencies: Vec<(String, String)>,
    squashed: bool,
}

/// A fixture project: its migrations in graph order.
struct Project {
    dir: PathBuf,
    files: Vec<File>,
    /// Resolved in-project dependency ids, per file.
    deps: Vec<Vec<String>>,
    dialect: Dialect,
    opt_in: Vec<String>,
    expected: BTreeSet<(PathBuf, String, usize)>,
}

impl Project {
    fn lint(&self) -> Vec<Finding> {
        let migrations: Vec<DjangoMigration> = self
            .files
            .iter()
            .zip(&self.deps)
            .map(|(f, deps)| DjangoMigration {
                id: &f.id,
                app: &f.app,
                path: &f.path,
                source: &f.source,
                dependencies: deps,
                squashed: f.squashed,
            })
            .collect();
        let opt_in: Vec<&str> = self.opt_in.iter().map(String::as_str).collect();
        lint_django_migrations(&migrations, self.dialect, &opt_in)
    }

    fn fires(&self, code: &str) -> bool {
        self.expected.iter().any(|(_, c, _)| c == code)
    }
}

/// `dependencies` and `replaces` of `class Migration`, read from the file.
fn read_class(source: &str) -> (Vec<(String, String)>, bool) {
    let Ok(suite) = ast::Suite::parse(source, "m.py") else {
        return (Vec::new(), false);
    };
    let Some(class) = suite.iter().find_map(|s| match s {
        Stmt::ClassDef(c) if c.name.as_str() == "Migration" => Some(c),
        _ => None,
    }) else {
        return (Vec::new(), false);
    };
    let mut deps = Vec::new();
    let mut squashed = false;
    for stmt in &class.body {
        let Stmt::Assign(a) = stmt else { continue };
        let [Expr::Name(target)] = a.targets.as_slice() else {
            continue;
        };
        let Expr::List(list) = a.value.as_ref() else {
            continue;
        };
        match target.id.as_str() {
            "dependencies" => {
                for item in &list.elts {
                    if let Expr::Tuple(t) = item {
                        if let [a, b] = t.elts.as_slice() {
                            if let (Some(a), Some(b)) = (string(a), string(b)) {
                                deps.push((a, b));
                            }
                        }
                    }
                }
            }
            "replaces" => squashed = !list.elts.is_empty(),
            _ => {}
        }
    }
    (deps, squashed)
}

fn string(e: &Expr) -> Option<String> {
    match e {
        Expr::Constant(c) => match &c.value {
            ast::Constant::Str(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Reads a project: every `<app>/migrations/NNNN_*.py` under `dir`.
fn read_project(dir: &Path) -> Project {
    let mut files = Vec::new();
    for app_dir in sorted_dirs(dir) {
        let migrations = app_dir.join("migrations");
        if !migrations.is_dir() {
            continue;
        }
        let app = app_dir.file_name().unwrap().to_string_lossy().to_string();
        let mut paths: Vec<PathBuf> = fs::read_dir(&migrations)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "py")
                    && p.file_name().is_some_and(|n| n != "__init__.py")
            })
            .collect();
        paths.sort();
        for path in paths {
            let source = fs::read_to_string(&path).unwrap();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let (dependencies, squashed) = read_class(&source);
            files.push(File {
                id: format!("{app}.{name}"),
                app: app.clone(),
                path,
                source,
                dependencies,
                squashed,
            });
        }
    }
    assert!(!files.is_empty(), "{}: no migrations", dir.display());
    let mut project = order(dir, files);
    for f in &project.files {
        for (i, line) in f.source.lines().enumerate() {
            if let Some(d) = line.strip_prefix("# dialect:") {
                project.dialect = d.trim().parse().expect("valid dialect");
            }
            if let Some(o) = line.strip_prefix("# opt-in:") {
                project
                    .opt_in
                    .extend(o.split(',').map(|s| s.trim().to_string()));
            }
            if let Some(at) = line.find("# expect:") {
                for code in line[at + 9..].split(|c: char| c == ',' || c.is_whitespace()) {
                    if !code.is_empty() {
                        project
                            .expected
                            .insert((f.path.clone(), code.to_string(), i + 1));
                    }
                }
            }
        }
    }
    project
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Resolves dependencies (`__first__`, `__latest__`, apps outside the project dropped) and
/// orders the files dependencies first, ties by id.
fn order(dir: &Path, files: Vec<File>) -> Project {
    let ids: BTreeSet<String> = files.iter().map(|f| f.id.clone()).collect();
    let by_app = |app: &str| -> Vec<String> {
        ids.iter()
            .filter(|id| id.split('.').next() == Some(app))
            .cloned()
            .collect()
    };
    let resolved: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            f.dependencies
                .iter()
                .filter_map(|(app, name)| {
                    let of_app = by_app(app);
                    match name.as_str() {
                        "__first__" => of_app.first().cloned(),
                        "__latest__" => of_app.last().cloned(),
                        _ => Some(format!("{app}.{name}")).filter(|id| ids.contains(id)),
                    }
                })
                .collect()
        })
        .collect();
    let mut pending: BTreeMap<String, (File, Vec<String>)> = files
        .into_iter()
        .zip(resolved)
        .map(|(f, d)| (f.id.clone(), (f, d)))
        .collect();
    let mut done: Vec<String> = Vec::new();
    let (mut out_files, mut out_deps) = (Vec::new(), Vec::new());
    while !pending.is_empty() {
        let next = pending
            .iter()
            .find(|(_, (_, deps))| deps.iter().all(|d| done.contains(d)))
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("{}: dependency cycle", dir.display()));
        let (f, d) = pending.remove(&next).unwrap();
        done.push(next);
        out_files.push(f);
        out_deps.push(d);
    }
    Project {
        dir: dir.to_path_buf(),
        files: out_files,
        deps: out_deps,
        dialect: Dialect::Generic,
        opt_in: Vec::new(),
        expected: BTreeSet::new(),
    }
}

/// Every project: a folder holding `<app>/migrations/`, under `rules/MRTxxx/` or `safe/`.
fn all_projects() -> Vec<Project> {
    let mut projects = Vec::new();
    for group in ["rules", "safe"] {
        let group_dir = root().join(group);
        let level: Vec<PathBuf> = if group == "rules" {
            sorted_dirs(&group_dir)
                .into_iter()
                .flat_map(|d| sorted_dirs(&d))
                .collect()
        } else {
            sorted_dirs(&group_dir)
        };
        projects.extend(level.iter().map(|d| read_project(d)));
    }
    assert!(projects.len() > 40, "too few Django fixtures");
    projects
}

fn actual(findings: &[Finding]) -> BTreeSet<(PathBuf, String, usize)> {
    findings
        .iter()
        .map(|f| (f.path.clone(), f.code.to_string(), f.line))
        .collect()
}

#[test]
fn every_project_gives_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    for project in all_projects() {
        let findings = project.lint();
        for f in findings.iter().chain(findings.iter().flat_map(|f| &f.also)) {
            assert!(f.line >= 1 && f.column >= 1, "{f:?}");
            // Messages speak of the migration and its reverse, not of Alembic's functions.
            for word in [
                "upgrade()",
                "downgrade()",
                "op.execute",
                "bulk_insert",
                "batch_",
            ] {
                assert!(!f.message.contains(word), "{}: {}", f.code, f.message);
            }
            let id = f.revision.as_deref().unwrap_or("");
            assert!(
                project.files.iter().any(|m| m.id == id && m.path == f.path),
                "{f:?}: revision and path of one migration"
            );
        }
        let got = actual(&findings);
        if got != project.expected {
            let missing: Vec<_> = project.expected.difference(&got).collect();
            let unexpected: Vec<String> = findings
                .iter()
                .filter(|f| {
                    !project
                        .expected
                        .contains(&(f.path.clone(), f.code.to_string(), f.line))
                })
                .map(|f| format!("{} {}@{}: {}", f.path.display(), f.code, f.line, f.message))
                .collect();
            failures.push(format!(
                "{}\n  missing: {missing:?}\n  unexpected: {unexpected:#?}",
                project.dir.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} Django fixture(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn safe_suite_is_silent() {
    let safe: Vec<Project> = all_projects()
        .into_iter()
        .filter(|p| p.dir.starts_with(root().join("safe")))
        .collect();
    assert!(
        safe.len() >= 8,
        "the Django false-positive suite needs at least 8 projects, has {}",
        safe.len()
    );
    let files: usize = safe.iter().map(|p| p.files.len()).sum();
    assert!(
        files >= 30,
        "the safe projects hold only {files} migrations"
    );
    for project in &safe {
        assert!(
            project.expected.is_empty(),
            "{}: safe projects carry no expect markers",
            project.dir.display()
        );
        for dialect in [
            Dialect::Generic,
            Dialect::Sqlite,
            Dialect::Postgresql,
            Dialect::Mysql,
        ] {
            let findings = Project {
                dialect,
                ..read_project(&project.dir)
            }
            .lint();
            assert!(
                findings.is_empty(),
                "{} on {dialect}: {findings:#?}",
                project.dir.display()
            );
        }
    }
}

/// Every rule that runs only on Django migrations fires in some project of
/// `fixtures/lint_django/rules/MRTxxx/` and stays quiet in a look-alike there.
#[test]
fn every_django_rule_has_a_firing_and_a_quiet_case() {
    let projects = all_projects();
    let mut missing = Vec::new();
    for rule in rules().iter().filter(|r| r.frontends == [Frontend::Django]) {
        let dir = root().join("rules").join(rule.code);
        let own: Vec<&Project> = projects
            .iter()
            .filter(|p| p.dir.starts_with(&dir))
            .collect();
        let fires = own.iter().any(|p| p.fires(rule.code));
        let quiet = own.iter().any(|p| !p.fires(rule.code));
        if !fires || !quiet {
            missing.push(format!(
                "{} (fires: {fires}, quiet look-alike: {quiet})",
                rule.code
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "Django rules without fixtures: {missing:#?}"
    );
}

/// Generic rules that Django migrations can trigger, each proven on a Django form.
#[test]
fn generic_rules_fire_on_their_django_forms() {
    let projects = all_projects();
    for code in [
        "MRT100", "MRT103", "MRT104", "MRT106", "MRT201", "MRT202", "MRT208", "MRT214", "MRT215",
        "MRT216", "MRT303", "MRT404", "MRT405", "MRT406", "MRT407", "MRT416", "MRT704",
    ] {
        let dir = root().join("rules").join(code);
        assert!(
            projects
                .iter()
                .any(|p| p.dir.starts_with(&dir) && p.fires(code)),
            "{code}: no Django fixture where it fires"
        );
        assert!(
            find_rule(code).is_some_and(|r| r.runs_in(Frontend::Django)),
            "{code} runs on Django migrations"
        );
    }
}

/// Every rule about Django has documentation with a Django example and a fix, and a name that
/// finds it.
#[test]
fn django_rules_are_documented_with_django_examples() {
    let django_only: Vec<_> = rules()
        .iter()
        .filter(|r| r.frontends == [Frontend::Django])
        .collect();
    let codes: Vec<&str> = django_only.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        [
            "MRT107", "MRT108", "MRT109", "MRT110", "MRT209", "MRT210", "MRT211", "MRT212",
            "MRT305", "MRT411", "MRT412", "MRT413", "MRT414", "MRT601", "MRT602"
        ]
    );
    for rule in django_only {
        let doc = rule.doc;
        for text in [doc.catches, doc.why, doc.fix] {
            assert!(
                text.len() > 60,
                "{}: thin documentation {text:?}",
                rule.code
            );
        }
        assert!(
            doc.catches.starts_with("Django"),
            "{}: says it is about Django",
            rule.code
        );
        assert!(
            doc.example.contains("migrations.") || doc.example.contains("class Migration"),
            "{}: the example is a Django migration",
            rule.code
        );
        assert!(!doc.example.contains("op."), "{}", rule.code);
        assert!(!rule.only_sql_files && !rule.opt_in);
        assert_eq!(find_rule(rule.name).map(|r| r.code), Some(rule.code));
    }
    let gates = |code: &str| find_rule(code).map(|r| r.dialects.to_vec());
    assert_eq!(gates("MRT413"), Some(vec![Dialect::Postgresql]));
    assert_eq!(
        gates("MRT414"),
        Some(vec![Dialect::Postgresql, Dialect::Generic])
    );
    assert_eq!(gates("MRT209"), Some(vec![]));
    // Written downgrades only: Django has none.
    for code in ["MRT101", "MRT102"] {
        assert!(
            !find_rule(code).unwrap().runs_in(Frontend::Django),
            "{code}"
        );
    }
    for code in ["MRT216", "MRT416"] {
        let r = find_rule(code).unwrap();
        assert!(
            r.runs_in(Frontend::Django)
                && r.runs_in(Frontend::SqlFiles)
                && !r.runs_in(Frontend::Alembic)
        );
        assert!(
            r.doc.catches.contains("Django"),
            "{code} documents its Django form"
        );
    }
}
