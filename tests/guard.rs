//! mrt never migrates a database it did not create: each project under `fixtures/guard/` has an
//! env.py that reaches for another database (see its README). The run must stop with exit code 3
//! and one error naming env.py, report no trial as passed, and leave the app's database exactly
//! as it was, on SQLite and (`fixed_url`) on PostgreSQL and MySQL too.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::process::Command;

fn main() {
    let args = Arguments::from_args();
    let ready = common::python_has("alembic") && common::python_has("sqlalchemy");
    let servers = [
        ("postgres", "MRT_TEST_POSTGRES_URL"),
        ("mysql", "MRT_TEST_MYSQL_URL"),
    ];
    let mut trials = vec![
        Trial::test("guard::fixed_url::sqlite", || {
            refused_sqlite("fixed_url", "tried to connect to SQLite file")
        }),
        Trial::test("guard::creator::sqlite", || {
            refused_sqlite("creator", "stopped before its first statement")
        }),
        Trial::test("guard::stale_engine::sqlite", stale_engine),
    ];
    for (db, var) in servers {
        let url = mrt_db::test_server_url(var);
        let ignored = url.is_none();
        trials.push(
            Trial::test(format!("guard::fixed_url::{db}"), move || {
                refused_server(url.as_deref().unwrap_or(""))
            })
            .with_ignored_flag(ignored || !ready),
        );
        if ignored {
            eprintln!("note: guard::fixed_url::{db} ignored: {var} names no server (unset with none on its local port, or `off`)");
        }
    }
    let pg = mrt_db::test_server_url("MRT_TEST_POSTGRES_URL");
    let no_pg = pg.is_none();
    trials.push(
        Trial::test("guard::password_scrubbed::postgres", move || {
            password_scrubbed(pg.as_deref().unwrap_or(""))
        })
        .with_ignored_flag(no_pg),
    );
    let mut trials: Vec<Trial> = trials
        .into_iter()
        .map(|t| if ready { t } else { t.with_ignored_flag(true) })
        .collect();
    let django = common::python_has("django");
    trials
        .push(Trial::test("guard::django_rogue::sqlite", django_rogue).with_ignored_flag(!django));
    if !django {
        eprintln!(
            "note: guard::django_rogue ignored: `{} -c 'import django'` failed",
            common::python()
        );
    }
    if !ready {
        eprintln!(
            "note: guard tests ignored: `{} -c 'import alembic, sqlalchemy'` failed",
            common::python()
        );
    }
    libtest_mimic::run(&args, trials).exit();
}

/// What a refused run printed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_mrt(project: &Path, db: &str, extra: &[&str], app_url: Option<&str>) -> Result<Run, Failed> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mrt"));
    command
        .args(["test", "--project"])
        .arg(project)
        .args(["--db", db, "--seed", "7"])
        .args(extra)
        .env("MRT_PYTHON", common::python())
        .env("NO_COLOR", "1")
        .env_remove("APP_DATABASE_URL");
    if let Some(url) = app_url {
        command.env("APP_DATABASE_URL", url);
    }
    let out = command
        .output()
        .map_err(|e| format!("cannot run mrt: {e}"))?;
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Exit 3, the error names env.py and the README section, and no trial of a database passed.
fn check_refused(run: &Run, words: &[&str]) -> Result<(), Failed> {
    let shown = format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        run.code, run.stdout, run.stderr
    );
    if run.code != Some(3) {
        return Err(format!("expected exit 3, got {shown}").into());
    }
    for word in [
        "env.py",
        "mrt never runs migrations",
        "env.py and mrt's database",
    ]
    .iter()
    .chain(words)
    {
        if !run.stderr.contains(word) {
            return Err(format!("stderr lacks {word:?}: {shown}").into());
        }
    }
    let passed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("test ") && !l.starts_with("test lint::"))
        .filter(|l| !l.starts_with("test graph::") && l.ends_with(" ok"))
        .collect();
    if !passed.is_empty() {
        return Err(format!("trials reported as passed: {passed:?}\n{shown}").into());
    }
    Ok(())
}

/// Runs Python code with the test interpreter and returns its stdout.
fn python(code: &str, args: &[&str]) -> Result<String, Failed> {
    let out = Command::new(common::python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run python: {e}"))?;
    if !out.status.success() {
        return Err(format!("python failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The app's own database: a table with rows, as a user's database would have.
const MAKE_APP_DB: &str = r#"
import sys, sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
with engine.begin() as c:
    c.exec_driver_sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    c.exec_driver_sql("INSERT INTO accounts VALUES (1, 'alice'), (2, 'bob')")
"#;

/// Every table of a database with its rows, as text (the fingerprint of a server database).
const DUMP_APP_DB: &str = r#"
import sys, sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
with engine.connect() as c:
    for t in sorted(sa.inspect(c).get_table_names()):
        rows = sorted(tuple(r) for r in c.exec_driver_sql(f"SELECT * FROM {t}"))
        print(t, rows)
"#;

fn refused_sqlite(fixture: &str, why: &str) -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join(fixture);
    common::copy_dir(&common::fixtures("guard").join(fixture), &project)
        .map_err(|e| e.to_string())?;
    let app_db = project.join("app.db");
    let url = format!("sqlite:///{}", app_db.display());
    python(MAKE_APP_DB, &[&url])?;
    let before = std::fs::read(&app_db).map_err(|e| e.to_string())?;
    let run = run_mrt(&project, "sqlite", &[], None)?;
    check_refused(&run, &[why, "app.db"])?;
    let after = std::fs::read(&app_db).map_err(|e| e.to_string())?;
    if before != after {
        return Err("the app's SQLite database changed".into());
    }
    let mut left: Vec<String> = std::fs::read_dir(&project)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("app.db") && n != "app.db")
        .collect();
    left.sort();
    if !left.is_empty() {
        return Err(format!("files next to app.db: {left:?}").into());
    }
    Ok(())
}

/// A Django data migration that opens a connection of its own to the project's real SQLite
/// database: stopped before it connects, exit 3, no trial passed, `app.db` unchanged.
fn django_rogue() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("django_rogue");
    common::copy_dir(&common::fixtures("guard").join("django_rogue"), &project)
        .map_err(|e| e.to_string())?;
    let app_db = project.join("app.db");
    let url = format!("sqlite:///{}", app_db.display());
    python(MAKE_APP_DB, &[&url])?;
    let before = std::fs::read(&app_db).map_err(|e| e.to_string())?;
    let run = run_mrt(&project, "sqlite", &[], None)?;
    let shown = format!("exit {:?}\n{}\n{}", run.code, run.stdout, run.stderr);
    let words = [
        "stopped before connecting",
        "app.db",
        "mrt never runs migrations",
        "Django and mrt's database",
    ];
    if run.code != Some(3) || words.iter().any(|w| !run.stderr.contains(w)) {
        return Err(format!("expected exit 3 naming {words:?}: {shown}").into());
    }
    let passed =
        (run.stdout.lines()).any(|l| l.starts_with("test sqlite::shop.0002") && l.ends_with(" ok"));
    if passed {
        return Err(format!("the rogue migration was reported as passed: {shown}").into());
    }
    let after = std::fs::read(&app_db).map_err(|e| e.to_string())?;
    if before != after {
        return Err("the app's SQLite database changed".into());
    }
    Ok(())
}

fn stale_engine() -> Result<(), Failed> {
    let project = common::fixtures("guard").join("stale_engine");
    let run = run_mrt(&project, "sqlite", &["--test-threads", "1"], None)?;
    check_refused(&run, &["without a single statement"])
}

/// A database of the app's own on the server, which env.py migrates instead of mrt's.
fn refused_server(server: &str) -> Result<(), Failed> {
    let name = format!("guard_app_{}", std::process::id());
    let (scheme, rest) = server.split_once("://").ok_or("bad server URL")?;
    let base = rest.rsplit_once('/').map_or(rest, |(b, _)| b);
    let driver = if scheme.starts_with("postgres") {
        "postgresql+psycopg"
    } else {
        "mysql+pymysql"
    };
    let admin = format!("{driver}://{rest}");
    let app = format!("{driver}://{base}/{name}");
    let ddl = |sql: String| {
        python(
            "import sys, sqlalchemy as sa\nwith sa.create_engine(sys.argv[1], isolation_level='AUTOCOMMIT').connect() as c: c.exec_driver_sql(sys.argv[2])",
            &[&admin, &sql],
        )
    };
    ddl(format!("CREATE DATABASE {name}"))?;
    let result = (|| {
        python(MAKE_APP_DB, &[&app])?;
        let before = python(DUMP_APP_DB, &[&app])?;
        let project = common::fixtures("guard").join("fixed_url");
        let run = run_mrt(&project, server, &[], Some(&app))?;
        check_refused(&run, &[&name, "stopped before connecting"])?;
        let after = python(DUMP_APP_DB, &[&app])?;
        if before != after {
            return Err(format!("the app's database changed:\n{before}\n->\n{after}").into());
        }
        Ok(())
    })();
    ddl(format!("DROP DATABASE {name}"))?;
    result
}

/// A user error that echoes `$DATABASE_URL` must not show the password in any output. The test
/// server trusts local logins, so a password added to its URL is accepted and ignored.
fn password_scrubbed(server: &str) -> Result<(), Failed> {
    const SECRET: &str = "Sup3rS3cretPw";
    let (scheme, rest) = server.split_once("://").ok_or("bad server URL")?;
    let (user, host) = rest.split_once('@').ok_or("server URL without user@")?;
    let user = user.split(':').next().unwrap_or(user);
    let url = format!("{scheme}://{user}:{SECRET}@{host}");
    let project = common::fixtures("guard").join("echo_url");
    let run = run_mrt(&project, &url, &[], None)?;
    let all = format!("{}{}", run.stdout, run.stderr);
    if !all.contains("cannot migrate") || !all.contains("***") {
        return Err(format!("the upgrade's error is not shown scrubbed:\n{all}").into());
    }
    if all.contains(SECRET) {
        return Err(format!("the password appears in the output:\n{all}").into());
    }
    Ok(())
}
