//! Dynamic fixture verdicts: every project under `fixtures/trials/` states in `expect.toml` which
//! revisions must pass and which must fail (with the section title and words the failure must
//! contain), for every database unless `[per_db.<db>]` says otherwise. Each fixture runs
//! `mrt test` end to end on SQLite, PostgreSQL (`MRT_TEST_POSTGRES_URL`) and MySQL/MariaDB
//! (`MRT_TEST_MYSQL_URL`) — one test per fixture and database, ignored with the reason when the
//! server's variable is unset — and checks every verdict, that nothing is left in the temporary
//! directory, and that no `mrt_` database is left on the server.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Only these databases (a fixture of one engine's SQL); all when absent.
    databases: Option<Vec<String>>,
    verdicts: BTreeMap<String, Verdict>,
    /// Verdicts of the static `lint::<rev>` tests, where the fixture states them.
    #[serde(default)]
    lint: BTreeMap<String, Verdict>,
    /// Every `lint::<rev>` test must pass (a false-positive check).
    #[serde(default)]
    lint_all_pass: bool,
    /// Verdicts that differ on one database: `[per_db.mysql] n02 = "pass"`.
    #[serde(default)]
    per_db: BTreeMap<String, BTreeMap<String, Verdict>>,
}

/// The databases every fixture runs on: name, `--db` value (None: server variable unset).
fn databases() -> Vec<(&'static str, Option<String>, &'static str)> {
    vec![
        ("sqlite", Some("sqlite".to_string()), ""),
        (
            "postgres",
            mrt_db::test_server_url("MRT_TEST_POSTGRES_URL"),
            "MRT_TEST_POSTGRES_URL",
        ),
        (
            "mysql",
            mrt_db::test_server_url("MRT_TEST_MYSQL_URL"),
            "MRT_TEST_MYSQL_URL",
        ),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Verdict {
    Pass(String),
    Fail { fail: String, contains: Vec<String> },
}

fn main() {
    let args = Arguments::from_args();
    let have_alembic = common::python_has("alembic") && common::python_has("sqlalchemy");
    let have_django = common::python_has("django");
    let mut missing = Vec::new();
    let mut list = Vec::new();
    for (db, url, var) in databases() {
        if url.is_none() {
            missing.push(var);
        }
        for dir in common::fixture_dirs("trials") {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let url = url.clone();
            let ignored = !have_alembic || url.is_none();
            list.push(
                Trial::test(format!("trials::{name}::{db}"), move || {
                    check(&dir, db, url.as_deref().unwrap_or(""), Python::Alembic)
                })
                .with_ignored_flag(ignored),
            );
        }
        for dir in common::fixture_dirs("django_trials") {
            if !load_expect(&dir).runs_on(db) {
                continue;
            }
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let url = url.clone();
            let ignored = !have_django || url.is_none();
            list.push(
                Trial::test(format!("django::{name}::{db}"), move || {
                    check(&dir, db, url.as_deref().unwrap_or(""), Python::Django)
                })
                .with_ignored_flag(ignored),
            );
        }
        // SQL-file projects need no Python at all: they run without any.
        for dir in common::fixture_dirs("sql") {
            if !load_expect(&dir).runs_on(db) {
                continue;
            }
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let ignored = url.is_none();
            let url = url.clone();
            list.push(
                Trial::test(format!("sql::{name}::{db}"), move || {
                    check(&dir, db, url.as_deref().unwrap_or(""), Python::None)
                })
                .with_ignored_flag(ignored),
            );
        }
    }
    if !missing.is_empty() {
        eprintln!(
            "note: trials on servers ignored: {} name no server (unset with none on the local port, or `off`)",
            missing.join(", ")
        );
    }
    let trials = list
        .into_iter()
        .chain([
            Trial::test("cli::list_exact_json", list_exact_json).with_ignored_flag(!have_alembic),
            Trial::test("cli::cases", cases).with_ignored_flag(!have_alembic),
            Trial::test("cli::sql_failure_details", sql_failure_details)
                .with_ignored_flag(mrt_db::test_server_url("MRT_TEST_POSTGRES_URL").is_none()),
            Trial::test("cli::ini_section", ini_section).with_ignored_flag(!have_alembic),
            Trial::test("cli::drift", drift).with_ignored_flag(!have_alembic),
            Trial::test("cli::same_seed_same_verdicts", same_seed_same_verdicts)
                .with_ignored_flag(!have_alembic),
        ])
        .collect();
    if !have_alembic {
        eprintln!(
            "note: trials ignored: `{} -c 'import alembic, sqlalchemy'` failed (set MRT_PYTHON or pip install -r tests/requirements.txt)",
            common::python()
        );
    }
    if !have_django {
        eprintln!(
            "note: django:: trials ignored: `{} -c 'import django'` failed (set MRT_PYTHON or pip install -r tests/requirements.txt)",
            common::python()
        );
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Outcome of one test in mrt's libtest output: "ok", "FAILED" or "ignored", and its message.
#[derive(Debug, Default)]
struct Outcome {
    status: String,
    message: String,
}

/// Which Python a fixture's run gets.
#[derive(Clone, Copy)]
enum Python {
    /// The test suite's interpreter, with Alembic.
    Alembic,
    /// The test suite's interpreter, with Django.
    Django,
    /// None: `MRT_PYTHON` points nowhere and no `python3` is on PATH.
    None,
}

impl Expect {
    fn runs_on(&self, db: &str) -> bool {
        self.databases
            .as_ref()
            .is_none_or(|dbs| dbs.iter().any(|d| d == db))
    }
}

fn load_expect(dir: &Path) -> Expect {
    let text = std::fs::read_to_string(dir.join("expect.toml"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}/expect.toml: {e}", dir.display()))
}

fn check(dir: &Path, db: &str, url: &str, python: Python) -> Result<(), Failed> {
    let text = std::fs::read_to_string(dir.join("expect.toml")).map_err(|e| e.to_string())?;
    let expect: Expect = toml::from_str(&text).map_err(|e| format!("expect.toml: {e}"))?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = run_mrt(dir, tmp.path(), url, python)?;
    let outcomes = parse(&out);
    let mut problems = Vec::new();
    let mut verdicts: BTreeMap<&String, &Verdict> = expect.verdicts.iter().collect();
    if let Some(overrides) = expect.per_db.get(db) {
        verdicts.extend(overrides.iter());
    }
    for (rev, verdict) in verdicts {
        let name = format!("{db}::{rev}");
        let Some(got) = outcomes.get(&name) else {
            problems.push(format!("{name}: not run"));
            continue;
        };
        problems.extend(judge(&name, verdict, got));
    }
    for (rev, verdict) in &expect.lint {
        let name = format!("lint::{rev}");
        match outcomes.get(&name) {
            Some(got) => problems.extend(judge(&name, verdict, got)),
            None => problems.push(format!("{name}: not run")),
        }
    }
    if expect.lint_all_pass {
        let lint_tests: Vec<(&String, &Outcome)> = outcomes
            .iter()
            .filter(|(k, _)| k.starts_with("lint::"))
            .collect();
        if lint_tests.is_empty() {
            problems.push("no lint:: tests ran".into());
        }
        for (name, got) in lint_tests {
            if got.status != "ok" {
                problems.push(format!(
                    "{name}: expected pass, got {}:\n{}",
                    got.status, got.message
                ));
            }
        }
    }
    let prefix = format!("{db}::");
    let extra: Vec<&String> = outcomes
        .keys()
        .filter(|k| k.starts_with(&prefix) && !expect.verdicts.contains_key(&k[prefix.len()..]))
        .collect();
    if !extra.is_empty() {
        problems.push(format!("tests without an expected verdict: {extra:?}"));
    }
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if !left.is_empty() {
        problems.push(format!("left behind in the temp dir: {left:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n--- mrt output ---\n{out}", problems.join("\n")).into())
    }
}

fn judge(name: &str, want: &Verdict, got: &Outcome) -> Option<String> {
    match want {
        Verdict::Pass(p) if p == "pass" => (got.status != "ok").then(|| {
            format!(
                "{name}: expected pass, got {}:\n{}",
                got.status, got.message
            )
        }),
        Verdict::Pass(p) if p == "skipped" => (got.status != "ignored")
            .then(|| format!("{name}: expected skipped, got {}", got.status)),
        Verdict::Pass(other) => Some(format!("{name}: unknown verdict {other:?}")),
        Verdict::Fail { fail, contains } => {
            if got.status != "FAILED" {
                return Some(format!(
                    "{name}: expected failure ({fail}), got {}",
                    got.status
                ));
            }
            let missing: Vec<&String> = std::iter::once(fail)
                .chain(contains)
                .filter(|w| !got.message.contains(w.as_str()))
                .collect();
            (!missing.is_empty())
                .then(|| format!("{name}: failure lacks {missing:?}:\n{}", got.message))
        }
    }
}

fn run_mrt(dir: &Path, tmp: &Path, db: &str, python: Python) -> Result<String, Failed> {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mrt"));
    command
        .args(["test", "--project"])
        .arg(dir)
        .args(["--db", db, "--seed", "42", "--test-threads", "2"])
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1");
    match python {
        Python::Alembic | Python::Django => command.env("MRT_PYTHON", common::python()),
        Python::None => command
            .env("MRT_PYTHON", tmp.join("no-python-here"))
            .env("PATH", tmp.join("empty-path"))
            .env_remove("VIRTUAL_ENV"),
    };
    let out = command
        .output()
        .map_err(|e| format!("cannot run mrt: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) | Some(101) => Ok(stdout),
        other => {
            Err(format!("mrt test exited {other:?}\nstdout:\n{stdout}\nstderr:\n{stderr}").into())
        }
    }
}

/// Reads libtest's `test NAME ... STATUS` lines and the `---- NAME ----` failure blocks.
fn parse(out: &str) -> BTreeMap<String, Outcome> {
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("test ") {
            if let Some((name, status)) = rest.split_once(" ... ") {
                let status = status
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(',');
                outcomes.entry(name.trim().to_string()).or_default().status = status.to_string();
            }
        }
    }
    let mut current: Option<String> = None;
    for line in out.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" ----"))
        {
            current = Some(name.trim().to_string());
        } else if line == "failures:" {
            current = None;
        } else if let Some(name) = &current {
            let entry = outcomes.entry(name.clone()).or_default();
            entry.message.push_str(line);
            entry.message.push('\n');
        }
    }
    outcomes
}

/// `--list` names every test without running any; `--exact` with `--format json` runs just one
/// and reports it as a JSON event, as `cargo test` does.
fn list_exact_json() -> Result<(), Failed> {
    let dir = common::fixtures("trials").join("passing");
    let list = common::mrt(&["test", "--project", ".", "--list"], &dir);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    for name in [
        "graph::well_formed: test",
        "graph::single_head: test",
        "sqlite::p01: test",
        "sqlite::p10: test",
    ] {
        if !listed.lines().any(|l| l == name) {
            return Err(format!("--list lacks {name:?}:\n{listed}").into());
        }
    }
    let run = common::mrt(
        &[
            "test",
            "--project",
            ".",
            "--exact",
            "sqlite::p03",
            "--format",
            "json",
            "--seed",
            "5",
        ],
        &dir,
    );
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    let events: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ok: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "test" && e["event"] == "ok")
        .filter_map(|e| e["name"].as_str())
        .collect();
    if ok != ["sqlite::p03"] || run.status.code() != Some(0) {
        return Err(format!(
            "expected exactly sqlite::p03 ok (exit 0), got {ok:?} / {:?}:\n{out}",
            run.status.code()
        )
        .into());
    }
    Ok(())
}

/// `--cases N` runs each passing trial again with new rows; a failure names its case.
/// On PostgreSQL a SQL runner's failure names the file and the line of the statement the
/// server rejected, and a type left behind shows as the second upgrade failing too.
fn sql_failure_details() -> Result<(), Failed> {
    let url = mrt_db::test_server_url("MRT_TEST_POSTGRES_URL").ok_or("no PostgreSQL server")?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let typo = common::repo().join("fixtures/sql_errors/pg_typo");
    let out = run_mrt(&typo, tmp.path(), &url, Python::None)?;
    let outcomes = parse(&out);
    let got = outcomes
        .get("postgres::20240301000002_copy_nickname")
        .ok_or_else(|| format!("not run:\n{out}"))?;
    let want = "at migrations/20240301000002_copy_nickname.up.sql:4";
    if got.status != "FAILED" || !got.message.contains(want) || !got.message.contains("nickname") {
        return Err(format!("expected a failure naming {want:?}:\n{out}").into());
    }
    let enums = common::fixtures("sql").join("sqlx_plpgsql_pg");
    let out = run_mrt(&enums, tmp.path(), &url, Python::None)?;
    let outcomes = parse(&out);
    let got = outcomes
        .get("postgres::20240201000004_seat_type_kept")
        .ok_or_else(|| format!("not run:\n{out}"))?;
    for word in [
        "enum type seat",
        "upgrade fails after the downgrade",
        "already exists",
    ] {
        if !got.message.contains(word) {
            return Err(format!("the failure lacks {word:?}:\n{out}").into());
        }
    }
    Ok(())
}

fn cases() -> Result<(), Failed> {
    let passing = common::fixtures("trials").join("passing");
    let run = common::mrt(
        &[
            "test",
            "--project",
            ".",
            "--cases",
            "3",
            "--seed",
            "9",
            "-q",
        ],
        &passing,
    );
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    if run.status.code() != Some(0) || !out.contains("test result: ok.") {
        return Err(format!("passing fixture with --cases 3 did not pass:\n{out}").into());
    }
    let traps = common::fixtures("trials").join("traps");
    let run = common::mrt(
        &[
            "test",
            "--project",
            ".",
            "--cases",
            "3",
            "--seed",
            "9",
            "--exact",
            "sqlite::t02",
        ],
        &traps,
    );
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    if run.status.code() != Some(101) || !out.contains("case 1 of 3 failed") {
        return Err(format!("t02 with --cases 3 should fail on case 1:\n{out}").into());
    }
    Ok(())
}

/// `-n tenant` reaches the workers: the tenant chain runs (t2 loses its column), not [alembic]'s.
fn ini_section() -> Result<(), Failed> {
    let dir = common::fixtures("sections");
    let run = common::mrt(
        &["test", "--project", ".", "-n", "tenant", "--seed", "4"],
        &dir,
    );
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    let outcomes = parse(&out);
    let status = |name: &str| outcomes.get(name).map_or("not run", |o| o.status.as_str());
    let t2 = outcomes
        .get("sqlite::t2")
        .map_or("", |o| o.message.as_str());
    if status("sqlite::t1") != "ok"
        || status("sqlite::t2") != "FAILED"
        || !t2.contains("downgrade did not restore the data")
        || outcomes.contains_key("sqlite::c1")
    {
        return Err(format!("-n tenant did not test the tenant chain:\n{out}").into());
    }
    Ok(())
}

/// The same seed gives the same verdicts, run after run (on a chain with a data migration and a
/// SQLite app in WAL mode, where verdicts used to vary).
fn same_seed_same_verdicts() -> Result<(), Failed> {
    for fixture in ["existing_rows", "sqlite_wal", "fk_cycle"] {
        let dir = common::fixtures("trials").join(fixture);
        let verdicts = || {
            let run = common::mrt(&["test", "--project", ".", "--seed", "11"], &dir);
            let out = String::from_utf8_lossy(&run.stdout).into_owned();
            parse(&out)
                .into_iter()
                .map(|(name, o)| (name, o.status, o.message))
                .collect::<Vec<_>>()
        };
        let (first, second) = (verdicts(), verdicts());
        if first.is_empty() || first != second {
            return Err(format!("{fixture}: verdicts differ:\n{first:?}\n{second:?}").into());
        }
    }
    Ok(())
}

/// `drift::sqlite` compares the database at head with env.py's target_metadata: it passes when
/// the migrations build the models, fails naming what differs when they do not, and is ignored
/// when env.py has no metadata (every fixture under fixtures/trials).
fn drift() -> Result<(), Failed> {
    let run = |dir: &Path| {
        let out = common::mrt(&["test", "--project", ".", "--seed", "2"], dir);
        parse(&String::from_utf8_lossy(&out.stdout))
    };
    let drift = common::fixtures("drift");
    let matches = run(&drift.join("matches"));
    let differs = run(&drift.join("differs"));
    let traps = run(&common::fixtures("trials").join("traps"));
    let status = |o: &BTreeMap<String, Outcome>| {
        o.get("drift::sqlite")
            .map(|x| (x.status.clone(), x.message.clone()))
            .unwrap_or_default()
    };
    let (m, d, t) = (status(&matches), status(&differs), status(&traps));
    if m.0 != "ok" {
        return Err(format!("matching models: drift::sqlite {m:?}").into());
    }
    if d.0 != "FAILED"
        || !d.1.contains("add_column users.nickname")
        || !d.1.contains("'drift::sqlite' --exact")
    {
        return Err(format!("differing models: drift::sqlite {d:?}").into());
    }
    if t.0 != "ignored" {
        return Err(format!("no target_metadata: drift::sqlite {t:?}").into());
    }
    // Alembic comparing every schema must not see mrt's DDL log on PostgreSQL (the database the
    // drift test takes has been read by the trials before it, so it carries the log).
    if let Some(url) = mrt_db::test_server_url("MRT_TEST_POSTGRES_URL") {
        let dir = drift.join("all_schemas");
        let args = [
            "test",
            "--project",
            ".",
            "--seed",
            "2",
            "--no-cache",
            "--db",
            &url,
        ];
        let out = common::mrt(&args, &dir);
        let all = parse(&String::from_utf8_lossy(&out.stdout));
        let pg = all
            .get("drift::postgres")
            .map(|x| (x.status.clone(), x.message.clone()));
        if pg.as_ref().map(|p| p.0.as_str()) != Some("ok") {
            return Err(
                format!("include_schemas=True on PostgreSQL: drift::postgres {pg:?}").into(),
            );
        }
    }
    // Django: `makemigrations --check` after every migration; the shop fixture's models match.
    if common::python_has("django") {
        let django = status(&run(&drift.join("django_differs")));
        if django.0 != "FAILED" || !django.1.contains("shop: Add field price to item") {
            return Err(format!("Django models ahead of the migrations: {django:?}").into());
        }
        let shop = status(&run(&common::fixtures("django_trials").join("all_pass")));
        if shop.0 != "ok" {
            return Err(format!("Django models and migrations agree: {shop:?}").into());
        }
    }
    Ok(())
}
