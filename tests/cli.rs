//! Exit codes and messages of the CLI itself (README's "Exit codes").

mod common;

use std::path::Path;

fn run(args: &[&str], cwd: &Path) -> (Option<i32>, String, String) {
    let out = common::mrt(args, cwd);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let (code, _, err) = run(&["graph", "--no-such-flag"], &common::repo());
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn help_exits_zero() {
    let (code, out, _) = run(&["--help"], &common::repo());
    assert_eq!(code, Some(0));
    assert!(out.contains("graph"), "{out}");
}

#[test]
fn missing_project_is_a_usage_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["graph"], dir.path());
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("no alembic.ini") && err.contains("--config"),
        "{err}"
    );
}

#[test]
fn unknown_config_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mrt.toml"),
        "kind = \"alembic\"\nalembic_ini = \"x\"\n",
    )
    .unwrap();
    let (code, _, err) = run(&["graph"], dir.path());
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("alembic_ini") && err.contains("mrt.toml"),
        "{err}"
    );
}

#[test]
fn config_key_points_at_the_ini_and_flag_overrides_it() {
    let fixture = common::fixtures("alembic").join("linear_classic");
    let dir = tempfile::tempdir().unwrap();
    let ini = fixture.join("alembic.ini");
    std::fs::write(
        dir.path().join("mrt.toml"),
        format!("alembic_config = {:?}\n", ini.display().to_string()),
    )
    .unwrap();
    let (code, out, err) = run(&["graph"], dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("3 revisions"), "{out}");
    let other = common::fixtures("alembic").join("branch_merge/alembic.ini");
    let (code, out, err) = run(&["graph", "--config", other.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("6 revisions"), "{out}");
}

#[test]
fn graph_errors_exit_two_and_still_print_the_rest() {
    let fixture = common::fixtures("alembic").join("broken_syntax");
    let (code, out, err) = run(&["graph"], &fixture);
    assert_eq!(code, Some(2));
    assert!(out.contains("aa03"), "{out}");
    assert!(err.contains("aa02_broken.py:22:1: syntax error"), "{err}");
}

/// A copy of `fixtures/check/clean` (a `users` table) with `mrt.toml` set to `config`.
fn clean_project_with(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&common::fixtures("check").join("clean"), dir.path()).unwrap();
    std::fs::write(dir.path().join("mrt.toml"), config).unwrap();
    dir
}

#[test]
fn config_values_that_cannot_work_are_config_errors_naming_the_key() {
    for (config, key) in [
        ("rows = 0\n", "rows"),
        ("url_env = \"\"\n", "url_env"),
        ("cases = 0\n", "cases"),
    ] {
        let dir = clean_project_with(config);
        let (code, _, err) = run(&["test", "--list"], dir.path());
        assert_eq!(code, Some(3), "{config}: {err}");
        assert!(
            err.contains("mrt.toml") && err.contains(&format!("line 1: {key}:")),
            "{config}: {err}"
        );
    }
    let dir = clean_project_with("");
    for flags in [["--rows", "0"], ["--url-env", ""], ["--cases", "0"]] {
        let (code, _, err) = run(&["test", "--list", flags[0], flags[1]], dir.path());
        assert_eq!(code, Some(3), "{flags:?}: {err}");
        assert!(err.contains(flags[0]), "{flags:?}: {err}");
    }
}

#[test]
fn seeds_for_a_table_no_revision_mentions_are_a_warning_naming_it() {
    let dir = clean_project_with(
        "[seeds.users]\nrows = [{ id = 1, email = \"a@x\" }]\n[seeds.userz]\nrows = [{ id = 1 }]\n",
    );
    let (code, out, err) = run(&["test", "--list"], dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("lint::"), "{out}");
    assert!(
        err.contains("warning:") && err.contains("seeds.userz") && err.contains("`userz`"),
        "{err}"
    );
    assert!(
        !err.contains("seeds.users:"),
        "users is created by a1: {err}"
    );
}

#[test]
fn name_selects_the_ini_section_on_every_static_command() {
    let dir = common::fixtures("alembic").join("multi_section");
    let (code, out, err) = run(&["graph", "--name", "tenant"], &dir);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("2 revisions; base: t1; head: t2"), "{out}");
    let (code, out, _) = run(&["check", "-n", "tenant"], &dir);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("tenant/versions/t2_drop_note.py:15:5  MRT201"),
        "{out}"
    );
    let (code, _, _) = run(&["check"], &dir);
    assert_eq!(code, Some(0), "[alembic] (core) is clean");
    let file = dir.join("tenant/versions/t2_drop_note.py");
    let (code, out, _) = run(&["explain", "-n", "tenant", file.to_str().unwrap()], &dir);
    assert_eq!(code, Some(2), "{out}");
    let (code, _, err) = run(&["graph", "-n", "nope"], &dir);
    assert_eq!(code, Some(3));
    assert!(
        err.contains("no [nope] section")
            && err.contains("[tenant]")
            && err.contains("--name tenant"),
        "{err}"
    );
    let (code, out, err) = run(&["test", "--list", "-n", "tenant"], &dir);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("t2") && !out.contains("c1"), "{out}");
}

#[test]
fn flask_migrate_layout_is_found() {
    let dir = common::fixtures("alembic").join("flask_migrate");
    let (code, out, err) = run(&["check"], &dir);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("in 2 files"), "{out}");
}

#[test]
fn django_migrations_folder_without_init_is_named_not_passed() {
    // Django treats a migrations folder without __init__.py as an app without migrations:
    // mrt says so on the files it would otherwise skip (exit 2), never "0 files".
    let check = common::fixtures("check");
    for cmd in ["check", "graph"] {
        let (code, out, err) = run(&[cmd], &check.join("django_namespace"));
        assert_eq!(code, Some(2), "{cmd}: {out}{err}");
        let text = format!("{out}{err}");
        assert!(
            text.contains("has no __init__.py") && text.contains("namespace package"),
            "{cmd}: {text}"
        );
    }
}

#[test]
fn a_schema_dump_is_no_project() {
    // A folder with only a schema dump is no migration project; the error says where mrt
    // looked for both kinds.
    let check = common::fixtures("check");
    let (code, _, err) = run(&["check"], &check.join("sql_lookalike"));
    assert_eq!(code, Some(3));
    assert!(
        err.contains("no alembic.ini") && err.contains("no SQL migrations in migrations/"),
        "{err}"
    );
}

#[test]
fn sql_files_are_read_without_config() {
    // An .up.sql/.down.sql pair with no marker: read as sqlx, said in `graph --format json`.
    let dir = common::fixtures("check").join("sql_minimal");
    let (code, out, err) = run(&["check"], &dir);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("in 2 files"), "{out}");
    let (code, out, err) = run(&["graph", "--format", "json"], &dir);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["kind"], "sqlx");
    assert_eq!(json["revisions"][0]["id"], "20240101000001_users");
}

#[test]
fn sql_files_outside_known_folders_say_how_to_point_at_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db/schema/changes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0001_a.up.sql"), "CREATE TABLE a (id INT);\n").unwrap();
    std::fs::write(dir.join("0001_a.down.sql"), "DROP TABLE a;\n").unwrap();
    let (code, _, err) = run(&["check"], tmp.path());
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("found SQL migrations") && err.contains("[sql] dir"),
        "{err}"
    );
    // Pointed at them, the same files are read.
    std::fs::write(
        tmp.path().join("mrt.toml"),
        "kind = \"sql\"\n[sql]\ntool = \"golang-migrate\"\ndir = \"db/schema/changes\"\n",
    )
    .unwrap();
    let (code, out, err) = run(&["check"], tmp.path());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("in 2 files"), "{out}");
}

#[test]
fn a_project_directory_given_as_filter_asks_for_project() {
    for command in ["test", "bench"] {
        let (code, _, err) = run(&[command, "fixtures/trials/passing"], &common::repo());
        assert_eq!(code, Some(3), "{err}");
        let hint = format!("did you mean `mrt {command} --project fixtures/trials/passing`?");
        assert!(err.contains(&hint), "{err}");
    }
    // A filter that is no directory stays a filter.
    let (code, out, err) = run(
        &[
            "test",
            "--project",
            "fixtures/sql/sqlx_traps",
            "--list",
            "lint::",
        ],
        &common::repo(),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("lint::"), "{out}");
}

#[test]
fn lint_and_graph_tests_need_no_python() {
    let args = [
        "test",
        "--project",
        "fixtures/trials/passing",
        "--python",
        "/nonexistent/python",
        "lint::",
    ];
    let (code, out, err) = run(&args, &common::repo());
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("lint::p01") && out.contains("ok"), "{out}");
    let (code, out, err) = run(&[&args[..5], &["graph::"]].concat(), &common::repo());
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("graph::single_head"), "{out}");
    // A trial does need it: one clear error, exit 3.
    let (code, _, err) = run(&[&args[..5], &["sqlite::p01"]].concat(), &common::repo());
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("/nonexistent/python"), "{err}");
    assert!(
        err.contains("--provision"),
        "the one-step fix is named: {err}"
    );
}

#[test]
fn a_missing_database_driver_is_one_error_before_any_test() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let made = std::process::Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status();
    assert!(made.is_ok_and(|s| s.success()), "python3 -m venv");
    let python = venv.join("bin/python").to_string_lossy().into_owned();
    let args = [
        "test",
        "--project",
        "fixtures/trials/passing",
        "--python",
        &python,
        "--db",
        "postgres://nobody@127.0.0.1:1/none",
    ];
    let (code, out, err) = run(&args, &common::repo());
    assert_eq!(code, Some(3), "{out}\n{err}");
    assert!(
        err.contains("no driver for PostgreSQL") && err.contains("psycopg"),
        "{err}"
    );
    assert!(err.contains("--provision"), "{err}");
    assert!(!out.contains("test "), "no test ran: {out}");
}

#[test]
fn the_reproduce_line_works_pasted_from_anywhere() {
    let test = "sqlite::20240101000003_drop_phone";
    let args = [
        "test",
        "--project",
        "fixtures/sql/sqlx_traps",
        "--seed",
        "5",
        test,
        "--exact",
    ];
    let (code, out, err) = run(&args, &common::repo());
    assert_eq!(code, Some(101), "{out}\n{err}");
    let line = (out.lines().chain(err.lines()))
        .find_map(|l| l.trim().strip_prefix("reproduce: "))
        .unwrap_or_else(|| panic!("no reproduce line in\n{out}\n{err}"))
        .to_string();
    assert!(
        line.starts_with("MRT_SEED=5 mrt test --project /"),
        "{line}"
    );
    // Pasted into a shell elsewhere, it runs the same test to the same failure.
    let elsewhere = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mrt")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let again = std::process::Command::new("sh")
        .args(["-c", &line])
        .current_dir(elsewhere.path())
        .env("PATH", path)
        .output()
        .expect("sh");
    let again_out = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(101), "{line}\n{again_out}");
    assert!(
        again_out.contains(&format!("test {test} ... FAILED")),
        "{again_out}"
    );
    assert!(again_out.contains("1 failed"), "{again_out}");
}

#[test]
fn test_help_reads_like_the_other_subcommands() {
    let (code, out, _) = run(&["test", "--help"], &common::repo());
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Run the dynamic rollback trials"), "{out}");
    assert!(out.contains("Usage: mrt test [OPTIONS] [FILTER]"), "{out}");
    for hidden in [
        "--bench",
        "--nocapture",
        "--logfile",
        "--show-output",
        "benchmarks",
    ] {
        assert!(!out.contains(hidden), "{hidden} shown:\n{out}");
    }
    assert!(
        out.contains("--exact") && out.contains("[default: .]"),
        "{out}"
    );
    for command in ["clean", "bench", "check", "graph"] {
        let (code, out, _) = run(&[command, "--help"], &common::repo());
        assert_eq!(code, Some(0), "{command}");
        assert!(out.contains(&format!("Usage: mrt {command}")), "{out}");
        assert!(!out.contains("[default: \"\"]"), "{command}:\n{out}");
    }
}

/// `mrt init` on a copy of a fixture of each kind (its own mrt.toml removed): a commented
/// mrt.toml that every command then reads, the next two commands, and no silent overwrite.
#[test]
fn init_writes_a_config_every_command_reads() {
    let cases = [
        (
            "trials/passing",
            "kind = \"alembic\"",
            "alembic_config = \"alembic.ini\"",
        ),
        ("bench/sqlx_locks", "kind = \"sql\"", "dir = \"migrations\""),
        ("django_trials/all_pass", "kind = \"django\"", "[django]"),
    ];
    for (fixture, kind, detail) in cases {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        common::copy_dir(&common::repo().join("fixtures").join(fixture), &project).unwrap();
        let _ = std::fs::remove_file(project.join("mrt.toml"));
        let (code, out, err) = run(&["init", "p"], dir.path());
        assert_eq!(code, Some(0), "{fixture}: {out}{err}");
        assert!(
            out.contains("next:\n  mrt check p\n  mrt test --project p"),
            "{out}"
        );
        let text = std::fs::read_to_string(project.join("mrt.toml")).unwrap();
        assert!(
            text.contains(kind) && text.contains(detail),
            "{fixture}:\n{text}"
        );
        assert!(text.contains("# [bench]"), "{text}");
        // The written file is valid config: the graph reads it.
        let (code, out, err) = run(&["graph", "p"], dir.path());
        assert_eq!(code, Some(0), "{fixture}: {out}{err}\n{text}");
        // A second init keeps the file unless --force.
        let (code, _, err) = run(&["init", "p"], dir.path());
        assert_eq!(code, Some(3), "{err}");
        assert!(err.contains("--force"), "{err}");
        let (code, _, err) = run(&["init", "--force", "p"], dir.path());
        assert_eq!(code, Some(0), "{err}");
    }
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["init"], empty.path());
    assert_eq!(code, Some(3), "no project: {err}");
    assert!(!empty.path().join("mrt.toml").exists());
}

/// `mrt test --list | head`: a reader that stops reading ends the listing quietly, as it ends
/// any listing command, instead of a panic with a backtrace (libtest's printer unwraps its
/// writes). The read end is closed before mrt writes its first line.
#[cfg(unix)]
#[test]
fn listing_into_a_closed_pipe_ends_without_a_panic() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--list", "--project"])
        .arg(common::fixtures("sql/sqlx_traps"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mrt");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for mrt");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}

/// `mrt check` and `mrt graph` take the project as `--project DIR` too, as `mrt test` and
/// `mrt bench` do: the same output as with PATH; both at once is a usage error.
#[test]
fn check_and_graph_take_project_as_a_flag_too() {
    let repo = common::repo();
    let dir = common::fixtures("sql/sqlx_traps");
    let dir = dir.to_str().expect("utf-8 path");
    for command in ["check", "graph"] {
        let (code, out, err) = run(&[command, dir], &repo);
        let (flag_code, flag_out, flag_err) = run(&[command, "--project", dir], &repo);
        assert_eq!((code, &out), (flag_code, &flag_out), "{err}\n{flag_err}");
        assert!(!out.is_empty(), "{command}: {err}");
        let (both, _, err) = run(&[command, "--project", dir, dir], &repo);
        assert_eq!(both, Some(3), "{command} with both: {err}");
    }
}
