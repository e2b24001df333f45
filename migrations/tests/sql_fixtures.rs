//! The fixture projects under `fixtures/sql/`, checked against their `expect.toml` without mrt's
//! trial harness:
//!
//! - `fixture::<name>`: the project reads without problems as the intended tool (detection
//!   agrees with `mrt.toml`), and `expect.toml` has a verdict for exactly its tests
//!   (`<id>`, and `<id>::forward` for forward-only migrations, whose rollback test is `skipped`);
//! - `fixture::<name>::<db>::chain`: every up in order, every down in reverse, every up again;
//! - `fixture::<name>::<db>::<id>`: a small trial by hand — the database at the state before
//!   the migration, one row seeded into every table (id 1000, integers 1000, strings `'x'`,
//!   plus the literal the migration's SQL compares with where a trap needs it, as mrt's literal
//!   mining seeds it), up, down, schema and rows compared with before, up again — whose outcome
//!   must match the verdict's title and name what the verdict's `contains` names.
//!
//! `MRT_SQL_FIXTURES_SHOW=1` prints what each hand-run trial saw. SQLite runs in memory; PostgreSQL and MySQL/MariaDB in scratch databases created and dropped
//! on `MRT_TEST_POSTGRES_URL` / `MRT_TEST_MYSQL_URL`, ignored with the reason when unset.

mod sql_db;

use libtest_mimic::{Arguments, Failed, Trial};
use mrt_migrations::sql::{self, SqlDown, SqlProject, SqlTool};
use serde::Deserialize;
use sql_db::{connect, drop_scratch, Conn};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    databases: Option<Vec<String>>,
    verdicts: BTreeMap<String, Verdict>,
    #[serde(default)]
    per_db: BTreeMap<String, BTreeMap<String, Verdict>>,
    /// The static verdicts, checked by `tests/trials.rs` through `mrt test`, not here.
    #[serde(default, rename = "lint")]
    _lint: BTreeMap<String, Verdict>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Verdict {
    Word(String),
    Fail { fail: String, contains: Vec<String> },
}

/// The tool each fixture is for.
fn intended_tool(name: &str) -> SqlTool {
    let table = [
        ("sqlx", SqlTool::Sqlx),
        ("diesel", SqlTool::Diesel),
        ("golang_migrate", SqlTool::GolangMigrate),
        ("dbmate", SqlTool::Dbmate),
        ("flyway", SqlTool::Flyway),
        ("refinery", SqlTool::Refinery),
    ];
    table
        .iter()
        .find(|(key, _)| name.contains(key))
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("fixture {name}: name does not say its tool"))
}

/// Values the trial's literal mining would seed for a trap: (fixture, table, column, SQL value).
const LITERALS: &[(&str, &str, &str, &str)] =
    &[("golang_migrate_traps", "users", "status", "'archived'")];

/// mrt's own words in failure messages, not names of database objects.
const MRT_WORDS: &[&str] = &["lost", "changed", "left behind", "smallest failing rows"];

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sql")
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("expect.toml").is_file());
    dirs.sort();
    dirs
}

fn read_expect(dir: &Path) -> Result<Expect, String> {
    let text = std::fs::read_to_string(dir.join("expect.toml")).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e| format!("expect.toml: {e}"))
}

/// `[sql] tool` and `dir` from the fixture's mrt.toml, as the configuration passes them.
fn load(dir: &Path) -> Result<SqlProject, String> {
    let config: toml::Value = std::fs::read_to_string(dir.join("mrt.toml"))
        .ok()
        .and_then(|t| toml::from_str(&t).ok())
        .unwrap_or(toml::Value::Table(Default::default()));
    let section = config.get("sql");
    let tool = section
        .and_then(|s| s.get("tool"))
        .and_then(|t| t.as_str())
        .map(|t| t.parse::<SqlTool>().map_err(|e| e.to_string()))
        .transpose()?;
    let sub = section
        .and_then(|s| s.get("dir"))
        .and_then(|d| d.as_str())
        .map(PathBuf::from);
    sql::load(dir, tool, sub.as_deref()).map_err(|e| e.to_string())
}

fn name_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// The tests a project has: each migration's rollback test, and a forward test for the
/// forward-only ones.
fn tests_of(p: &SqlProject) -> Vec<String> {
    let mut out = Vec::new();
    for m in &p.migrations {
        out.push(m.id.clone());
        if m.down == SqlDown::ForwardOnly {
            out.push(format!("{}::forward", m.id));
        }
    }
    out.sort();
    out
}

fn check_layout(dir: &Path) -> Result<(), Failed> {
    let name = name_of(dir);
    let expect = read_expect(dir)?;
    let p = load(dir)?;
    let mut problems = Vec::new();
    if p.tool != intended_tool(&name) {
        problems.push(format!("read as {}, not {}", p.tool, intended_tool(&name)));
    }
    if !p.problems.is_empty() {
        problems.push(format!("problems: {:#?}", p.problems));
    }
    match sql::detect_with_reason(dir) {
        Some(d) if d.tool == p.tool && d.dir == p.dir => {}
        other => problems.push(format!("detection without mrt.toml: {other:?}")),
    }
    let mut keys: Vec<String> = expect.verdicts.keys().cloned().collect();
    keys.sort();
    let tests = tests_of(&p);
    if keys != tests {
        problems.push(format!("verdicts for {keys:?}, tests are {tests:?}"));
    }
    for m in p
        .migrations
        .iter()
        .filter(|m| m.down == SqlDown::ForwardOnly)
    {
        if !matches!(expect.verdicts.get(&m.id), Some(Verdict::Word(w)) if w == "skipped") {
            problems.push(format!(
                "{}: forward-only, its rollback test is skipped",
                m.id
            ));
        }
    }
    for (db, overrides) in &expect.per_db {
        for key in overrides.keys() {
            if !tests.contains(key) {
                problems.push(format!("[per_db.{db}] {key}: no such test"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn scratch_name(fixture: &str, test: &str) -> String {
    let mut s = format!("mrt_sqlfx_{}_{fixture}_{test}", std::process::id());
    s.retain(|c| c.is_ascii_alphanumeric() || c == '_');
    s.truncate(63);
    s.to_ascii_lowercase()
}

fn block_on<F: std::future::Future<Output = Result<(), String>>>(f: F) -> Result<(), Failed> {
    tokio::runtime::Runtime::new()
        .map_err(|e| e.to_string())?
        .block_on(f)
        .map_err(Failed::from)
}

/// Every up in order, every down in reverse, every up again (when every migration has a down).
async fn chain(conn: &mut Conn, p: &SqlProject, fixture: &str) -> Result<(), String> {
    for m in &p.migrations {
        conn.exec(&m.up.text)
            .await
            .map_err(|e| format!("up {}: {e}", m.id))?;
    }
    for m in p.migrations.iter().rev() {
        if let SqlDown::Script(down) = &m.down {
            conn.exec(&down.text)
                .await
                .map_err(|e| format!("down {}: {e}", m.id))?;
        }
    }
    if p.migrations.iter().any(|m| m.down == SqlDown::ForwardOnly)
        && p.migrations.iter().all(|m| m.down == SqlDown::ForwardOnly)
    {
        return Ok(());
    }
    let left = conn.tables().await?;
    if !left.is_empty() {
        return Err(format!("tables left after every down: {left:?}"));
    }
    let mut second = Ok(());
    for m in &p.migrations {
        if let Err(e) = conn.exec(&m.up.text).await {
            second = Err(format!("second up {}: {e}", m.id));
            break;
        }
    }
    // The fixtures whose down leaves an enum type behind that breaks the next upgrade.
    match (fixture, second) {
        ("flyway_enum_pg" | "sqlx_plpgsql_pg", Err(e)) if e.contains("already exists") => Ok(()),
        ("flyway_enum_pg" | "sqlx_plpgsql_pg", Ok(())) => {
            Err("the enum type should make the second upgrade fail".into())
        }
        (_, r) => r,
    }
}

/// One row in every table: id and integers 1000 (so foreign keys find their parent), strings
/// 'x', dates 2024-01-02, enum columns NULL; parents first (retried until all fit).
async fn seed(conn: &mut Conn, fixture: &str) -> Result<(), String> {
    let dialect = conn.dialect();
    let mut pending = conn.tables().await?;
    loop {
        let mut failed = Vec::new();
        let mut last_error = String::new();
        for t in &pending {
            let cols = conn.columns(t).await?;
            let mut names = Vec::new();
            let mut values = Vec::new();
            for c in &cols {
                let literal = LITERALS
                    .iter()
                    .find(|(f, tb, col, _)| *f == fixture && tb == t && *col == c.name)
                    .map(|(_, _, _, v)| v.to_string());
                let ty = c.ty.as_str();
                let value = literal.or_else(|| {
                    if ty.contains("int") {
                        Some("1000".into())
                    } else if ty.contains("char") || ty.contains("text") {
                        Some("'x'".into())
                    } else if ty.contains("date") {
                        Some("'2024-01-02'".into())
                    } else {
                        None
                    }
                });
                if let Some(v) = value {
                    names.push(mrt_db::quote_ident(dialect, &c.name));
                    values.push(v);
                }
            }
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                mrt_db::quote_ident(dialect, t),
                names.join(", "),
                values.join(", ")
            );
            if let Err(e) = conn.exec(&sql).await {
                last_error = e;
                failed.push(t.clone());
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if failed.len() == pending.len() {
            return Err(format!("cannot seed {failed:?}: {last_error}"));
        }
        pending = failed;
    }
}

/// What the hand-run trial saw, as a verdict title and the text that explains it.
async fn trial(
    conn: &mut Conn,
    p: &SqlProject,
    fixture: &str,
    index: usize,
    forward: bool,
) -> Result<(String, String), String> {
    for m in &p.migrations[..index] {
        conn.exec(&m.up.text)
            .await
            .map_err(|e| format!("before: up {}: {e}", m.id))?;
    }
    seed(conn, fixture).await?;
    let m = &p.migrations[index];
    let s0 = conn.schema(&[]).await?;
    let d0 = conn.rows(&[]).await?;
    if let Err(e) = conn.exec(&m.up.text).await {
        return Ok(("upgrade fails with existing data".into(), e));
    }
    if forward {
        return Ok(("pass".into(), String::new()));
    }
    let s1 = conn.schema(&[]).await?;
    let SqlDown::Script(down) = &m.down else {
        return Err(format!("{}: no down script", m.id));
    };
    if let Err(e) = conn.exec(&down.text).await {
        return Ok(("downgrade fails".into(), e));
    }
    let schema = sql_db::diff(&s0, &conn.schema(&[]).await?);
    if !schema.is_empty() {
        return Ok((
            "downgrade did not restore the schema".into(),
            schema.join("\n"),
        ));
    }
    let data = sql_db::diff(&d0, &conn.rows(&[]).await?);
    if !data.is_empty() {
        return Ok(("downgrade did not restore the data".into(), data.join("\n")));
    }
    if let Err(e) = conn.exec(&m.up.text).await {
        return Ok(("upgrade fails after the downgrade".into(), e));
    }
    let again = sql_db::diff(&s1, &conn.schema(&[]).await?);
    if !again.is_empty() {
        return Ok((
            "second upgrade differs from the first".into(),
            again.join("\n"),
        ));
    }
    Ok(("pass".into(), String::new()))
}

fn judge(want: &Verdict, got: &(String, String)) -> Result<(), String> {
    let (title, text) = got;
    match want {
        Verdict::Word(w) if w == "pass" => {
            if title == "pass" {
                Ok(())
            } else {
                Err(format!("expected pass, got {title}:\n{text}"))
            }
        }
        Verdict::Word(w) => Err(format!("verdict {w:?} cannot be checked here")),
        Verdict::Fail { fail, contains } => {
            if title != fail {
                return Err(format!("expected {fail:?}, got {title}:\n{text}"));
            }
            let missing: Vec<&String> = contains
                .iter()
                .filter(|c| !MRT_WORDS.contains(&c.as_str()) && !text.contains(c.as_str()))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("{fail}, but {missing:?} not in:\n{text}"))
            }
        }
    }
}

fn verdict_for(expect: &Expect, db: &str, test: &str) -> Option<Verdict> {
    expect
        .per_db
        .get(db)
        .and_then(|o| o.get(test))
        .or_else(|| expect.verdicts.get(test))
        .cloned()
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let engines = sql_db::engines();
    for (_, url, var) in &engines {
        if url.is_none() {
            eprintln!("note: fixture trials on a server ignored: {var} names no server (unset with none on its local port, or `off`)");
        }
    }
    for dir in fixture_dirs() {
        let name = name_of(&dir);
        {
            let dir = dir.clone();
            trials.push(Trial::test(format!("fixture::{name}"), move || {
                check_layout(&dir)
            }));
        }
        let (Ok(expect), Ok(project)) = (read_expect(&dir), load(&dir)) else {
            continue;
        };
        let expect = std::sync::Arc::new(expect);
        let project = std::sync::Arc::new(project);
        for (dialect, url, _) in &engines {
            let db = dialect.as_str();
            if expect
                .databases
                .as_ref()
                .is_some_and(|dbs| !dbs.iter().any(|d| d == db))
            {
                continue;
            }
            let ignored = url.is_none();
            let url = url.clone().unwrap_or_default();
            let dialect = *dialect;
            {
                let (p, url, name) = (project.clone(), url.clone(), name.clone());
                trials.push(
                    Trial::test(format!("fixture::{name}::{db}::chain"), move || {
                        let scratch = scratch_name(&name, "chain");
                        block_on(async {
                            let mut conn = connect(dialect, &url, &scratch).await?;
                            let r = chain(&mut conn, &p, &name).await;
                            drop(conn);
                            let dropped = drop_scratch(dialect, &url, &scratch).await;
                            r.and(dropped)
                        })
                    })
                    .with_ignored_flag(ignored),
                );
            }
            for (index, m) in project.migrations.iter().enumerate() {
                let mut tests = vec![(m.id.clone(), false)];
                if m.down == SqlDown::ForwardOnly {
                    tests = vec![(format!("{}::forward", m.id), true)];
                }
                for (test, forward) in tests {
                    let Some(want) = verdict_for(&expect, db, &test) else {
                        continue;
                    };
                    let (p, url, name) = (project.clone(), url.clone(), name.clone());
                    trials.push(
                        Trial::test(format!("fixture::{name}::{db}::{test}"), move || {
                            let scratch = scratch_name(&name, &format!("{index}"));
                            block_on(async {
                                let mut conn = connect(dialect, &url, &scratch).await?;
                                let got = trial(&mut conn, &p, &name, index, forward).await;
                                drop(conn);
                                let dropped = drop_scratch(dialect, &url, &scratch).await;
                                let got = got?;
                                dropped?;
                                if std::env::var_os("MRT_SQL_FIXTURES_SHOW").is_some() {
                                    eprintln!("{name}::{db}::{test}: {}\n{}", got.0, got.1);
                                }
                                judge(&want, &got)
                            })
                        })
                        .with_ignored_flag(ignored),
                    );
                }
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
