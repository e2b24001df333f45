//! The Django fixture projects under `fixtures/django/`, each read by
//! `mrt_migrations::django::load` and checked against its `expect.toml`: settings found, apps
//! and their labels, the resolved dependencies, the order (every migration after its
//! dependencies, plus the pairs the fixture names), leaf nodes per app, squash replacements,
//! ignored files and problems with their file and line. No Python needed; `django_parity.rs`
//! checks the same projects against Django's own loader.

use libtest_mimic::{Arguments, Failed, Trial};
use mrt_migrations::django::{self, DjangoProject};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    settings_module: Option<String>,
    /// Relative to the fixture.
    settings_file: Option<String>,
    auth_user_model: Option<String>,
    apps: Vec<String>,
    /// Migration files read, in the graph or not.
    files: usize,
    /// The exact plan order, when the fixture pins it.
    order: Option<Vec<String>>,
    /// Pairs `[a, b]`: `a` comes before `b`.
    #[serde(default)]
    before: Vec<[String; 2]>,
    #[serde(default)]
    replaced: Vec<String>,
    /// Files Django skips, relative to the fixture.
    #[serde(default)]
    ignored: Vec<String>,
    /// Resolved dependencies of the named migrations (exactly these, in any order).
    #[serde(default)]
    dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    external: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    unresolved: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    leaves: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    problems: Vec<ExpectProblem>,
    /// What Django's loader says, checked by `django_parity.rs`.
    #[allow(dead_code)]
    django: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectProblem {
    kind: String,
    path: String,
    line: Option<usize>,
    message_contains: Vec<String>,
}

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/django")
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("expect.toml").is_file());
    dirs.sort();
    dirs
}

fn main() {
    let args = Arguments::from_args();
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 7, "fixtures/django lost fixtures: {dirs:?}");
    let trials = dirs
        .into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            Trial::test(format!("graph::{name}"), move || check(&dir))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn rel(dir: &Path, path: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&dir)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned()
}

fn kind_name(kind: &mrt_migrations::ProblemKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Migration files read: in the graph, replaced, shadowed, or reported as a file that cannot be
/// read as a migration.
fn files_read(p: &DjangoProject) -> usize {
    use mrt_migrations::ProblemKind::*;
    let broken: BTreeSet<&Path> = p
        .problems
        .iter()
        .filter(|x| {
            matches!(
                x.kind,
                Syntax | NotUtf8 | Unreadable | NotLiteral | Malformed
            )
        })
        .map(|x| x.path.as_path())
        .collect();
    p.migrations.len() + p.replaced.len() + p.shadowed.len() + broken.len()
}

fn same(wrong: &mut Vec<String>, what: &str, got: String, want: String) {
    if got != want {
        wrong.push(format!("{what}: got {got}, expected {want}"));
    }
}

fn check(dir: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(dir.join("expect.toml")).map_err(|e| e.to_string())?;
    let expect: Expect = toml::from_str(&text).map_err(|e| format!("expect.toml: {e}"))?;
    let p = django::load(dir, None, None).map_err(|e| e.to_string())?;
    let mut wrong: Vec<String> = Vec::new();
    same(
        &mut wrong,
        "settings module",
        format!("{:?}", p.settings_module),
        format!("{:?}", expect.settings_module),
    );
    same(
        &mut wrong,
        "settings file",
        format!("{:?}", p.settings_file.as_deref().map(|f| rel(dir, f))),
        format!("{:?}", expect.settings_file),
    );
    same(
        &mut wrong,
        "AUTH_USER_MODEL",
        format!("{:?}", p.auth_user_model),
        format!("{:?}", expect.auth_user_model),
    );
    let labels: BTreeSet<&str> = p.apps.iter().map(|a| a.label.as_str()).collect();
    let want: BTreeSet<&str> = expect.apps.iter().map(String::as_str).collect();
    same(
        &mut wrong,
        "apps",
        format!("{labels:?}"),
        format!("{want:?}"),
    );
    same(
        &mut wrong,
        "files read",
        files_read(&p).to_string(),
        expect.files.to_string(),
    );

    let ids: Vec<&str> = p.migrations.iter().map(|m| m.id.as_str()).collect();
    let pos = |id: &str| ids.iter().position(|i| *i == id);
    // Migrations on a cycle cannot all follow their dependencies.
    let cyclic = expect.problems.iter().any(|x| x.kind == "cycle");
    for m in p.migrations.iter().filter(|_| !cyclic) {
        for d in &m.dependencies {
            let ordered = matches!((pos(d), pos(&m.id)), (Some(i), Some(j)) if i < j);
            if !ordered {
                wrong.push(format!("{} is ordered before its dependency {d}", m.id));
            }
        }
    }
    if let Some(order) = &expect.order {
        same(
            &mut wrong,
            "order",
            format!("{ids:?}"),
            format!("{order:?}"),
        );
    }
    for [a, b] in &expect.before {
        match (pos(a), pos(b)) {
            (Some(i), Some(j)) if i < j => {}
            _ => wrong.push(format!("{a} must come before {b}; order is {ids:?}")),
        }
    }
    let replaced: BTreeSet<&str> = p.replaced.iter().map(|m| m.id.as_str()).collect();
    let want: BTreeSet<&str> = expect.replaced.iter().map(String::as_str).collect();
    same(
        &mut wrong,
        "replaced",
        format!("{replaced:?}"),
        format!("{want:?}"),
    );
    let ignored: BTreeSet<String> = p.ignored.iter().map(|(f, _)| rel(dir, f)).collect();
    let want: BTreeSet<String> = expect.ignored.iter().cloned().collect();
    same(
        &mut wrong,
        "ignored",
        format!("{ignored:?}"),
        format!("{want:?}"),
    );

    for (id, deps) in &expect.dependencies {
        let Some(m) = p.get(id) else {
            wrong.push(format!("no migration {id} in the graph"));
            continue;
        };
        let got: BTreeSet<&str> = m.dependencies.iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = deps.iter().map(String::as_str).collect();
        same(
            &mut wrong,
            &format!("dependencies of {id}"),
            format!("{got:?}"),
            format!("{want:?}"),
        );
    }
    for (id, ext) in &expect.external {
        let got: Vec<[String; 2]> = p
            .get(id)
            .map(|m| {
                m.external
                    .iter()
                    .map(|(a, n)| [a.clone(), n.clone()])
                    .collect()
            })
            .unwrap_or_default();
        same(
            &mut wrong,
            &format!("external of {id}"),
            format!("{got:?}"),
            format!("{ext:?}"),
        );
    }
    for (id, unresolved) in &expect.unresolved {
        let got = p.get(id).map(|m| m.unresolved.clone()).unwrap_or_default();
        same(
            &mut wrong,
            &format!("unresolved of {id}"),
            format!("{got:?}"),
            format!("{unresolved:?}"),
        );
    }
    let leaves = p.leaves();
    let want: BTreeMap<String, Vec<String>> = expect.leaves.clone();
    same(
        &mut wrong,
        "leaves",
        format!("{leaves:?}"),
        format!("{want:?}"),
    );

    if p.problems.len() != expect.problems.len() {
        wrong.push(format!(
            "{} problems, expected {}: {:#?}",
            p.problems.len(),
            expect.problems.len(),
            p.problems
        ));
    }
    for w in &expect.problems {
        let found = p.problems.iter().any(|x| {
            kind_name(&x.kind) == w.kind
                && rel(dir, &x.path) == w.path
                && w.line.is_none_or(|l| x.line == Some(l))
                && w.message_contains
                    .iter()
                    .all(|m| x.message.contains(m.as_str()))
        });
        if !found {
            wrong.push(format!("no problem matching {w:?} in {:#?}", p.problems));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("\n").into())
    }
}
