//! Snapshots of database states (`--cache-dir`): the verdicts are those of a run without them,
//! an edited migration invalidates exactly the states that hold it, concurrent runs share one
//! cache, a killed run leaves nothing half-written in use, and `mrt clean --snapshots` empties
//! it. SQL-file chains need no Python; the PostgreSQL cases (template databases, and a Python
//! worker whose connection the save ends) run when `MRT_TEST_POSTGRES_URL` is set.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn main() {
    let args = Arguments::from_args();
    let pg = mrt_db::test_server_url("MRT_TEST_POSTGRES_URL");
    let alembic = common::python_has("alembic") && common::python_has("sqlalchemy");
    if pg.is_none() {
        eprintln!("note: snapshots::*::postgres ignored: MRT_TEST_POSTGRES_URL names no server");
    }
    let pg_url = pg.clone().unwrap_or_default();
    let pg2 = pg_url.clone();
    let pg3 = pg_url.clone();
    let pg4 = pg_url.clone();
    let trials = vec![
        Trial::test("snapshots::same_verdicts_cold_and_warm::sqlite", || {
            same_verdicts("sqlite")
        }),
        Trial::test(
            "snapshots::same_verdicts_cold_and_warm::postgres",
            move || same_verdicts(&pg_url),
        )
        .with_ignored_flag(pg.is_none()),
        Trial::test(
            "snapshots::edited_migration_invalidates_exactly_the_later_states",
            edited_migration,
        ),
        Trial::test("snapshots::concurrent_runs_share_the_cache::sqlite", || {
            concurrent("sqlite")
        }),
        Trial::test(
            "snapshots::concurrent_runs_share_the_cache::postgres",
            move || concurrent(&pg2),
        )
        .with_ignored_flag(pg.is_none()),
        Trial::test(
            "nextest::processes_hand_their_database_to_the_next::postgres",
            move || hand_off(&pg4),
        )
        .with_ignored_flag(pg.is_none()),
        Trial::test("snapshots::killed_run_leaves_no_half_snapshot", killed),
        Trial::test("nextest::listing_starts_no_python_and_no_server", listing),
        Trial::test(
            "snapshots::python_worker_reconnects_after_a_save::postgres",
            move || alembic_on_postgres(&pg3),
        )
        .with_ignored_flag(pg.is_none() || !alembic),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// `n` sqlx migrations in `dir`: each creates a table and fills it; every third one also
/// upper-cases the previous table's names, which its down does not undo (a failing trial).
/// A comment naming the test makes its states its own: another test's snapshots never match.
fn sqlx_chain(dir: &Path, n: usize, test: &str) {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).expect("mkdir");
    std::fs::write(
        dir.join("mrt.toml"),
        "kind = \"sql\"\n[sql]\ntool = \"sqlx\"\n",
    )
    .expect("toml");
    for i in 1..=n {
        let name = format!("{:014}_t{i}", 20240101000000u64 + i as u64);
        let mut up = format!(
            "-- {test} {}\nCREATE TABLE t{i} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);\n\
             INSERT INTO t{i} (id, name) VALUES (100{i}, 'seeded');\n",
            std::process::id()
        );
        let down = format!("DROP TABLE t{i};\n");
        if i % 3 == 0 {
            let p = i - 1;
            up.push_str(&format!("UPDATE t{p} SET name = upper(name);\n"));
        }
        std::fs::write(migrations.join(format!("{name}.up.sql")), up).expect("up");
        std::fs::write(migrations.join(format!("{name}.down.sql")), down).expect("down");
    }
}

fn mrt(project: &Path, db: &str, cache: Option<&Path>, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mrt"));
    command
        .args(["test", "--project"])
        .arg(project)
        .args(["--db", db, "--seed", "11"])
        .args(extra)
        .env("NO_COLOR", "1")
        .env("MRT_PYTHON", common::python());
    match cache {
        Some(cache) => command.arg("--cache-dir").arg(cache),
        None => command.arg("--no-cache"),
    };
    command
}

fn output(mut command: Command) -> Result<Output, Failed> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run mrt: {e}"))?;
    match out.status.code() {
        Some(0) | Some(101) => Ok(out),
        code => Err(format!(
            "mrt exited {code:?}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into()),
    }
}

/// Verdict lines and failure texts, with what differs between runs (times) left out.
fn verdicts(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("finished in"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// "mrt: snapshots: R restored, S saved in DIR" as (R, S).
fn counts(out: &Output) -> Option<(usize, usize)> {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.starts_with("mrt: snapshots: "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    Some((words.get(2)?.parse().ok()?, words.get(4)?.parse().ok()?))
}

fn ensure(cond: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(message().into())
    }
}

/// The finished snapshots in the cache (any folder), by file name.
fn snapshot_files(cache: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(servers) = std::fs::read_dir(cache.join("snapshots")) else {
        return out;
    };
    for server in servers.flatten() {
        for file in std::fs::read_dir(server.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = file.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                out.insert(name);
            }
        }
    }
    out
}

/// Held by the PostgreSQL cases: `mrt clean --snapshots --db` drops every snapshot on the
/// server, those of a case running beside it too.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn server_turn(db: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    (db != "sqlite").then(|| SERVER.lock().unwrap_or_else(|e| e.into_inner()))
}

fn clean_snapshots(db: &str, cache: &Path) -> Result<(), Failed> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mrt"));
    command
        .args(["clean", "--snapshots", "--cache-dir"])
        .arg(cache);
    if db != "sqlite" {
        command.args(["--db", db]);
    }
    let out = command.output().map_err(|e| e.to_string())?;
    ensure(out.status.success(), || {
        format!(
            "mrt clean --snapshots: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Cold cache, warm cache and no cache give the same verdicts and failure texts, one thread
/// (the report order is then fixed); the warm run restores and saves nothing new.
fn same_verdicts(db: &str) -> Result<(), Failed> {
    let _turn = server_turn(db);
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("p");
    sqlx_chain(&project, 24, &format!("same {db}"));
    let cache = tmp.path().join("cache");
    let one = ["--test-threads", "1"];
    let none = output(mrt(&project, db, None, &one))?;
    let cold = output(mrt(&project, db, Some(&cache), &one))?;
    let warm = output(mrt(&project, db, Some(&cache), &one))?;
    clean_snapshots(db, &cache)?;
    ensure(verdicts(&none).contains("FAILED"), || {
        format!("the chain has failing trials:\n{}", verdicts(&none))
    })?;
    ensure(verdicts(&cold) == verdicts(&none), || {
        format!(
            "cold cache differs:\n{}\n--- no cache:\n{}",
            verdicts(&cold),
            verdicts(&none)
        )
    })?;
    ensure(verdicts(&warm) == verdicts(&none), || {
        format!(
            "warm cache differs:\n{}\n--- no cache:\n{}",
            verdicts(&warm),
            verdicts(&none)
        )
    })?;
    let (Some((_, saved)), Some((restored, saved_again))) = (counts(&cold), counts(&warm)) else {
        return Err("no snapshot summary line".into());
    };
    ensure(saved > 0 && restored > 0 && saved_again == 0, || {
        format!("cold saved {saved}; warm restored {restored}, saved {saved_again}")
    })
}

/// Editing migration 4 of 8 leaves the states before it valid and replaces exactly the states
/// that hold it: before(5) .. before(8), four states.
fn edited_migration() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("p");
    sqlx_chain(&project, 8, "edited");
    let cache = tmp.path().join("cache");
    let one = ["--test-threads", "1"];
    let first = output(mrt(&project, "sqlite", Some(&cache), &one))?;
    let before = snapshot_files(&cache);
    // before(2) .. before(8): the empty state is never kept.
    ensure(
        counts(&first).map(|c| c.1) == Some(7) && before.len() == 7,
        || format!("first run: {:?}, files {before:?}", counts(&first)),
    )?;
    let up = project.join("migrations/20240101000004_t4.up.sql");
    let text = std::fs::read_to_string(&up).map_err(|e| e.to_string())?;
    std::fs::write(&up, format!("-- reviewed\n{text}")).map_err(|e| e.to_string())?;
    let second = output(mrt(&project, "sqlite", Some(&cache), &one))?;
    let after = snapshot_files(&cache);
    let new: Vec<&String> = after.difference(&before).collect();
    ensure(
        counts(&second).map(|c| c.1) == Some(4) && new.len() == 4,
        || format!("after the edit: {:?}, new files {new:?}", counts(&second)),
    )?;
    ensure(before.is_subset(&after), || {
        "a state without t4 was lost".into()
    })?;
    let none = output(mrt(&project, "sqlite", None, &one))?;
    ensure(verdicts(&second) == verdicts(&none), || {
        format!(
            "verdicts differ:\n{}\n---\n{}",
            verdicts(&second),
            verdicts(&none)
        )
    })
}

/// Two runs on one cache at once: both give the verdicts of a run without cache, and a third
/// run finds every state saved, with no temporary file left.
fn concurrent(db: &str) -> Result<(), Failed> {
    let _turn = server_turn(db);
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("p");
    sqlx_chain(&project, 30, &format!("concurrent {db}"));
    let cache = tmp.path().join("cache");
    let one = ["--test-threads", "1"];
    let none = output(mrt(&project, db, None, &one))?;
    let spawn = || {
        mrt(&project, db, Some(&cache), &one)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (
        a.and_then(|c| c.wait_with_output()),
        b.and_then(|c| c.wait_with_output()),
    );
    let (a, b) = (a.map_err(|e| e.to_string())?, b.map_err(|e| e.to_string())?);
    let third = output(mrt(&project, db, Some(&cache), &one))?;
    let files = snapshot_files(&cache);
    clean_snapshots(db, &cache)?;
    for (which, out) in [("first", &a), ("second", &b), ("third", &third)] {
        ensure(verdicts(out) == verdicts(&none), || {
            format!(
                "{which} run differs:\n{}\n--- no cache:\n{}",
                verdicts(out),
                verdicts(&none)
            )
        })?;
    }
    ensure(counts(&third).is_some_and(|(r, s)| r > 0 && s == 0), || {
        format!("third run: {:?}", counts(&third))
    })?;
    let tmp_files: Vec<&String> = files.iter().filter(|f| f.contains(".tmp")).collect();
    ensure(tmp_files.is_empty(), || format!("left: {tmp_files:?}"))
}

/// A run killed while it saves leaves only whole snapshots: the next run's verdicts are those
/// of a run without cache.
fn killed() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("p");
    sqlx_chain(&project, 60, "killed");
    let cache = tmp.path().join("cache");
    let one = ["--test-threads", "1"];
    let mut child = mrt(&project, "sqlite", Some(&cache), &one)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    // Kill it once it has saved a few states, in the middle of its run.
    let start = std::time::Instant::now();
    while snapshot_files(&cache).len() < 5 && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    let partial = snapshot_files(&cache);
    ensure(partial.len() >= 5, || {
        format!("the run saved only {partial:?}")
    })?;
    let again = output(mrt(&project, "sqlite", Some(&cache), &one))?;
    let none = output(mrt(&project, "sqlite", None, &one))?;
    ensure(verdicts(&again) == verdicts(&none), || {
        format!(
            "after the kill:\n{}\n--- no cache:\n{}",
            verdicts(&again),
            verdicts(&none)
        )
    })?;
    ensure(counts(&again).is_some_and(|(r, _)| r > 0), || {
        format!("nothing restored: {:?}", counts(&again))
    })?;
    // What the kill may leave half-written is hidden (a dot file) and never a snapshot.
    for file in snapshot_files(&cache) {
        ensure(file.ends_with(".sqlite"), || {
            format!("unexpected file {file}")
        })?;
    }
    Ok(())
}

/// `--list --format terse` (what nextest runs first, once per binary) names every test of a
/// PostgreSQL run with no server listening and no Python to start.
fn listing() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("p");
    alembic_chain(&project, 3)?;
    let out = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project"])
        .arg(&project)
        .args([
            "--db",
            "postgres://nobody@127.0.0.1:9/none",
            "--list",
            "--format",
            "terse",
        ])
        .env("MRT_PYTHON", tmp.path().join("no-python-here"))
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure(
        out.status.success() && stdout.contains("postgres::r0002: test"),
        || format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// An Alembic chain of 25 revisions on PostgreSQL: saving a state ends the sessions on the
/// database, the worker's kept connection among them; the next step must reconnect, and the
/// run pass as without cache. A warm run passes too, and one late test run alone (what a nextest
/// process does) starts from the saved state. (Whether the whole warm run restores depends on
/// timing: its second lane takes the first lane's idle database when that one is free first.)
fn alembic_on_postgres(url: &str) -> Result<(), Failed> {
    let _turn = server_turn(url);
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("p");
    alembic_chain(&project, 25)?;
    let cache = tmp.path().join("cache");
    let one = ["--test-threads", "1"];
    let cold = output(mrt(&project, url, Some(&cache), &one))?;
    let warm = output(mrt(&project, url, Some(&cache), &["--test-threads", "2"]))?;
    let late = output(mrt(
        &project,
        url,
        Some(&cache),
        &["postgres::r0022", "--exact"],
    ))?;
    clean_snapshots(url, &cache)?;
    for (which, out) in [("cold", &cold), ("warm", &warm), ("late", &late)] {
        ensure(out.status.success(), || {
            format!(
                "{which} run failed:\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })?;
    }
    ensure(counts(&cold).is_some_and(|(_, s)| s == 2), || {
        format!(
            "cold: {:?} (expected the states of 10 and 20 revisions saved)",
            counts(&cold)
        )
    })?;
    ensure(counts(&late).is_some_and(|(r, _)| r > 0), || {
        format!(
            "late test alone: {:?} (expected the state of 20 revisions restored)\n{}",
            counts(&late),
            String::from_utf8_lossy(&late.stderr)
        )
    })?;
    ensure(verdicts(&late).contains("postgres::r0022 ... ok"), || {
        format!("late test alone:\n{}", verdicts(&late))
    })
}

fn alembic_chain(dir: &Path, n: usize) -> Result<(), Failed> {
    let versions = dir.join("migrations/versions");
    std::fs::create_dir_all(&versions).map_err(|e| e.to_string())?;
    let env_py: PathBuf = common::fixtures("alembic/linear_classic/migrations/env.py");
    std::fs::copy(env_py, dir.join("migrations/env.py")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("alembic.ini"),
        "[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite:///%(here)s/app.db\n",
    )
    .map_err(|e| e.to_string())?;
    let pid = std::process::id();
    for i in 0..n {
        let down = if i == 0 {
            "None".to_string()
        } else {
            format!("\"r{:04}\"", i - 1)
        };
        let body = format!(
            "# test run {pid}\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = \"r{i:04}\"\ndown_revision = {down}\n\n\ndef upgrade():\n    op.create_table(\"t{i}\", sa.Column(\"id\", sa.Integer, primary_key=True), sa.Column(\"name\", sa.String(50)))\n\n\ndef downgrade():\n    op.drop_table(\"t{i}\")\n"
        );
        std::fs::write(versions.join(format!("r{i:04}.py")), body).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Under nextest (`NEXTEST_RUN_ID`), each test as its own process, one after another: every
/// verdict is the one of a run without cache; a process after a passing one takes over that
/// database instead of making one, one after a failing one does not (a failed trial's database
/// is dropped); what the last processes handed off is gone once nobody can claim it.
fn hand_off(url: &str) -> Result<(), Failed> {
    let turn = server_turn(url);
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("p");
    sqlx_chain(&project, 8, "hand off");
    let cache = tmp.path().join("cache");
    let reference = output(mrt(&project, url, None, &["--test-threads", "1"]))?;
    let expected: Vec<(String, bool)> = String::from_utf8_lossy(&reference.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("test postgres::"))
        .filter_map(|l| {
            let (name, verdict) = l.split_once(" ... ")?;
            Some((format!("postgres::{}", name.trim()), verdict.trim() == "ok"))
        })
        .collect();
    ensure(
        expected.len() == 8 && expected.iter().any(|(_, ok)| !ok),
        || format!("reference run:\n{}", verdicts(&reference)),
    )?;
    let run_id = format!("{:08x}-0000-4000-8000-000000000000", std::process::id());
    let before = handed_off(url)?;
    let mut previous_passed = false;
    for (name, passed) in &expected {
        let mut command = mrt(&project, url, Some(&cache), &["--exact", name]);
        command.env("NEXTEST_RUN_ID", &run_id);
        let out = output(command)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let verdict = if *passed { "ok" } else { "FAILED" };
        ensure(
            stdout.contains(&format!("test {name} ... {verdict}")),
            || format!("{name}: expected {verdict} as without cache:\n{stdout}"),
        )?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let took = stderr.contains("taken over from the last process 1");
        let gave = stderr.contains("handed to the next 1");
        ensure(took == previous_passed && gave == *passed, || {
            format!(
                "{name}: after a passing test {previous_passed}, passing {passed}, but:\n{stderr}"
            )
        })?;
        previous_passed = *passed;
    }
    let left: Vec<String> = handed_off(url)?.difference(&before).cloned().collect();
    // The last process's own (its output said so); others' when the suite runs under nextest.
    ensure(!left.is_empty(), || {
        "the last process handed off no database".to_string()
    })?;
    clean_snapshots(url, &cache)?;
    // The wait holds up no other case on the server.
    drop(turn);
    std::thread::sleep(mrt_db::HAND_OFF_TTL + std::time::Duration::from_secs(4));
    let still: Vec<String> = handed_off(url)?
        .intersection(&left.iter().cloned().collect())
        .cloned()
        .collect();
    ensure(still.is_empty(), || {
        format!(
            "not dropped {} s after the run: {still:?}",
            mrt_db::HAND_OFF_TTL.as_secs() + 4
        )
    })
}

/// The names of the handed-off databases on the server.
fn handed_off(url: &str) -> Result<BTreeSet<String>, Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let names = runtime
        .block_on(mrt_db::handed_off(url))
        .map_err(|e| e.to_string())?;
    Ok(names.into_iter().collect())
}
