//! Fixture verdicts: every project under `fixtures/alembic/` states in `expect.toml` what
//! `mrt graph` must say about it, and (where Alembic can load it) that Alembic agrees.
//!
//! A libtest-mimic harness so each fixture is its own named test, and so tests that need a
//! Python with Alembic are reported *ignored* with the reason instead of silently passing.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    exit: i32,
    alembic_parity: bool,
    order: Option<Vec<String>>,
    bases: Vec<String>,
    heads: Vec<String>,
    #[serde(default)]
    branch_points: Vec<String>,
    #[serde(default)]
    merges: Vec<String>,
    #[serde(default)]
    ignored: Vec<String>,
    #[serde(default)]
    problems: Vec<ExpectProblem>,
    #[serde(default)]
    ancestors: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectProblem {
    kind: String,
    path: Option<String>,
    line: Option<u64>,
    message_contains: Option<String>,
}

fn main() {
    let args = Arguments::from_args();
    let have_alembic = common::python_has("alembic");
    let mut trials = Vec::new();
    for dir in common::fixture_dirs("alembic") {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let expect = load_expect(&dir);
        let d = dir.clone();
        trials.push(Trial::test(format!("graph::{name}"), move || {
            check_graph(&d)
        }));
        if expect.alembic_parity {
            let d = dir.clone();
            let trial = Trial::test(format!("alembic_parity::{name}"), move || check_parity(&d));
            trials.push(if have_alembic {
                trial
            } else {
                trial.with_ignored_flag(true)
            });
        }
    }
    if !have_alembic {
        eprintln!(
            "note: alembic_parity tests ignored: `{} -c 'import alembic'` failed (set MRT_PYTHON or pip install alembic)",
            common::python()
        );
    }
    libtest_mimic::run(&args, trials).exit();
}

fn load_expect(dir: &Path) -> Expect {
    let text = std::fs::read_to_string(dir.join("expect.toml")).expect("read expect.toml");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(msg().into())
    }
}

fn check_graph(dir: &Path) -> Result<(), Failed> {
    let expect = load_expect(dir);
    let out = common::mrt(&["-v", "graph", "--format", "json"], dir);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    ensure(out.status.code() == Some(expect.exit), || {
        format!(
            "exit {:?}, expected {}; stderr:\n{stderr}",
            out.status.code(),
            expect.exit
        )
    })?;
    let json: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("stdout is not JSON ({e}); stderr:\n{stderr}"))?;
    let revs = json["revisions"].as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = revs
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect();
    check_topological(&revs, &ids)?;
    if let Some(order) = &expect.order {
        ensure(&ids == order, || {
            format!("order {ids:?}, expected {order:?}")
        })?;
    }
    let flagged = |flag: &str| -> BTreeSet<String> {
        revs.iter()
            .filter(|r| r[flag].as_bool() == Some(true))
            .map(|r| r["id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    for (what, got, want) in [
        ("bases", set(&strings(&json["bases"])), set(&expect.bases)),
        ("heads", set(&strings(&json["heads"])), set(&expect.heads)),
        (
            "branch points",
            flagged("branch_point"),
            set(&expect.branch_points),
        ),
        ("merges", flagged("merge"), set(&expect.merges)),
    ] {
        ensure(got == want, || {
            format!("{what}: got {got:?}, expected {want:?}")
        })?;
    }
    for ignored in &expect.ignored {
        ensure(
            stderr.contains(&format!("{ignored} is not a revision")),
            || format!("expected a note that {ignored} is not a revision; stderr:\n{stderr}"),
        )?;
    }
    check_problems(&json["problems"], &expect.problems)?;
    check_ancestors(dir, &expect.ancestors)
}

/// Every revision comes after all of its parents.
fn check_topological(revs: &[Value], ids: &[String]) -> Result<(), Failed> {
    for (pos, r) in revs.iter().enumerate() {
        for parent in strings(&r["down_revisions"]) {
            if let Some(ppos) = ids.iter().position(|i| *i == parent) {
                ensure(ppos < pos, || {
                    format!("{} listed before its parent {parent}", ids[pos])
                })?;
            }
        }
    }
    Ok(())
}

fn check_problems(got: &Value, want: &[ExpectProblem]) -> Result<(), Failed> {
    let got = got.as_array().cloned().unwrap_or_default();
    ensure(got.len() == want.len(), || {
        format!("{} problems, expected {}: {got:#?}", got.len(), want.len())
    })?;
    for w in want {
        let found = got.iter().any(|p| {
            p["kind"] == w.kind.as_str()
                && w.path
                    .as_ref()
                    .is_none_or(|path| p["path"] == path.as_str())
                && w.line.is_none_or(|l| p["line"].as_u64() == Some(l))
                && w.message_contains.as_ref().is_none_or(|m| {
                    p["message"]
                        .as_str()
                        .is_some_and(|s| s.contains(m.as_str()))
                })
        });
        ensure(found, || format!("no problem matching {w:?} in {got:#?}"))?;
    }
    Ok(())
}

fn check_ancestors(dir: &Path, want: &BTreeMap<String, Vec<String>>) -> Result<(), Failed> {
    if want.is_empty() {
        return Ok(());
    }
    let project =
        mrt_migrations::Project::open(dir, &Default::default()).map_err(|e| e.to_string())?;
    for (rev, expected) in want {
        let got: BTreeSet<String> = project
            .graph
            .ancestors(rev)
            .ok_or_else(|| format!("no revision {rev}"))?
            .into_iter()
            .map(String::from)
            .collect();
        ensure(got == set(expected), || {
            format!("ancestors of {rev}: {got:?}, expected {expected:?}")
        })?;
    }
    Ok(())
}

/// mrt's graph must equal what Alembic itself loads: same revisions, links, labels, heads, bases.
fn check_parity(dir: &Path) -> Result<(), Failed> {
    let script = common::repo().join("tests/support/alembic_graph.py");
    let out = std::process::Command::new(common::python())
        .arg(&script)
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", common::python()))?;
    ensure(out.status.success(), || {
        format!("alembic failed: {}", String::from_utf8_lossy(&out.stderr))
    })?;
    let alembic: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let mrt_out = common::mrt(&["graph", "--format", "json"], dir);
    let mrt: Value = serde_json::from_slice(&mrt_out.stdout).map_err(|e| e.to_string())?;
    for key in ["heads", "bases"] {
        let (a, m) = (set(&strings(&alembic[key])), set(&strings(&mrt[key])));
        ensure(a == m, || {
            format!("{key}: alembic says {a:?}, mrt says {m:?}")
        })?;
    }
    let alembic_revs = alembic["revisions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mrt_revs = mrt["revisions"].as_array().cloned().unwrap_or_default();
    ensure(alembic_revs.len() == mrt_revs.len(), || {
        format!(
            "alembic has {} revisions, mrt {}",
            alembic_revs.len(),
            mrt_revs.len()
        )
    })?;
    for r in &mrt_revs {
        let id = r["id"].as_str().unwrap_or("");
        let a = alembic_revs
            .get(id)
            .ok_or_else(|| format!("alembic does not know {id}"))?;
        for field in ["down_revisions", "branch_labels", "depends_on"] {
            ensure(set(&strings(&a[field])) == set(&strings(&r[field])), || {
                format!("{id}.{field}: alembic {} vs mrt {}", a[field], r[field])
            })?;
        }
        let first_line = a["message"]
            .as_str()
            .and_then(|m| m.lines().next())
            .map(str::trim);
        ensure(first_line == r["message"].as_str(), || {
            format!(
                "{id} message: alembic {first_line:?} vs mrt {}",
                r["message"]
            )
        })?;
    }
    Ok(())
}
