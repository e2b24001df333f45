//! `mrt explain CODE|NAME|FILE` and `mrt rules`.

mod check_common;
mod common;

use check_common::{copy_fixture, fixture, run, write};
use serde_json::Value;

#[test]
fn explain_code_prints_the_whole_doc() {
    let rule = "MRT201";
    let r = run(&["explain", rule], &common::repo());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    for part in [
        "MRT201 drop-column (error; all dialects)",
        "What it catches:",
        "Why it is dangerous:",
        "How to fix:",
        "Stop using the column first",
        "Example:\n    op.drop_column(\"users\", \"legacy_email\")",
    ] {
        assert!(r.stdout.contains(part), "{part:?} missing:\n{}", r.stdout);
    }
    let by_name = run(&["explain", "drop-column"], &common::repo());
    assert_eq!(by_name.stdout, r.stdout);
    let lower = run(&["explain", "mrt201"], &common::repo());
    assert_eq!(lower.stdout, r.stdout);
}

#[test]
fn explain_unknown_code_exits_three() {
    let r = run(&["explain", "MRT999"], &common::repo());
    assert_eq!(r.code, Some(3));
    assert!(
        r.stderr
            .contains("unknown rule MRT999; `mrt rules` lists them"),
        "{}",
        r.stderr
    );
}

#[test]
fn explain_file_shows_findings_and_fixes() {
    let dir = fixture("errors");
    let file = "migrations/versions/b2c3d4e5f6a1_drop_users_email.py";
    let r = run(&["explain", file], &dir);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("{file}:19:5  MRT201  error  ")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Stop using the column first"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("mrt explain MRT201"), "{}", r.stdout);
    assert!(
        r.stdout.ends_with("1 error, 0 warnings, 0 info\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn explain_file_uses_the_project_dialect_found_above_it() {
    let file = "migrations/versions/c2c2c2c2c2c2_index_users_email.py";
    let pg = run(&["explain", file], &fixture("postgres"));
    assert_eq!(pg.code, Some(1), "{}", pg.stderr);
    assert!(pg.stdout.contains("MRT407"), "{}", pg.stdout);
    assert!(pg.stdout.contains("CONCURRENTLY"), "{}", pg.stdout);
    // From another directory, by absolute path: the project is found by walking up.
    let abs = fixture("sqlite_twin").join(file);
    let lite = run(&["explain", abs.to_str().unwrap()], &common::repo());
    assert_eq!(lite.code, Some(0), "{}", lite.stdout);
    assert!(!lite.stdout.contains("MRT407"), "{}", lite.stdout);
    let forced = run(
        &["explain", abs.to_str().unwrap(), "--dialect", "postgresql"],
        &common::repo(),
    );
    assert!(forced.stdout.contains("MRT407"), "{}", forced.stdout);
}

#[test]
fn explain_file_honours_the_project_config() {
    let dir = copy_fixture("errors");
    write(dir.path(), "mrt.toml", "[severity]\nMRT201 = \"warning\"\n");
    let file = "migrations/versions/b2c3d4e5f6a1_drop_users_email.py";
    let r = run(&["explain", file], dir.path());
    assert_eq!(r.code, Some(1), "{}", r.stdout);
    assert!(r.stdout.contains("MRT201  warning"), "{}", r.stdout);
}

#[test]
fn explain_broken_file_reports_the_syntax_error() {
    let file = "migrations/versions/b2c3d4e5f6a1_broken_downgrade.py";
    let r = run(&["explain", file], &fixture("syntax_error"));
    assert_eq!(r.code, Some(2));
    assert!(
        r.stdout.contains(&format!("{file}:22:15  MRT902")),
        "{}",
        r.stdout
    );
}

#[test]
fn rules_json_lists_every_rule() {
    let r = run(&["rules", "--format", "json"], &common::repo());
    assert_eq!(r.code, Some(0));
    let rules: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 63);
    let codes: Vec<&str> = rules.iter().map(|r| r["code"].as_str().unwrap()).collect();
    for code in [
        "MRT100", "MRT101", "MRT107", "MRT201", "MRT209", "MRT216", "MRT407", "MRT412", "MRT415",
        "MRT416", "MRT417", "MRT601", "MRT701", "MRT901", "MRT902", "MRT903",
    ] {
        assert!(codes.contains(&code), "{code} missing");
    }
    let drop = rules.iter().find(|r| r["code"] == "MRT201").unwrap();
    assert_eq!(drop["name"], "drop-column");
    assert_eq!(drop["severity"], "error");
    assert_eq!(drop["opt_in"], false);
    assert_eq!(drop["dialects"].as_array().unwrap().len(), 4);
    assert!(drop["doc"]["fix"].as_str().unwrap().contains("Stop using"));
    let pg = rules.iter().find(|r| r["code"] == "MRT407").unwrap();
    assert_eq!(pg["dialects"], serde_json::json!(["postgresql"]));
    let opt = rules.iter().find(|r| r["code"] == "MRT701").unwrap();
    assert_eq!(opt["opt_in"], true);
    let sql = rules.iter().find(|r| r["code"] == "MRT415").unwrap();
    assert_eq!(sql["frameworks"], serde_json::json!(["sql"]));
    assert_eq!(
        drop["frameworks"],
        serde_json::json!(["alembic", "django", "sql"])
    );
    let django = rules.iter().find(|r| r["code"] == "MRT209").unwrap();
    assert_eq!(django["frameworks"], serde_json::json!(["django"]));
}

#[test]
fn rules_table_has_a_row_per_rule() {
    let r = run(&["rules"], &common::repo());
    assert_eq!(r.code, Some(0));
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 64);
    assert!(lines[0].starts_with("CODE"), "{}", lines[0]);
    let row = lines.iter().find(|l| l.starts_with("MRT201")).unwrap();
    assert!(
        row.contains("drop-column") && row.contains("error"),
        "{row}"
    );
}

#[test]
fn explain_sql_file_lints_its_migration() {
    // Either file of a migration explains the migration: the down file names the up file's
    // DROP COLUMN, with its line.
    let dir = common::fixtures("sql").join("sqlx_traps");
    let down = "migrations/20240101000003_drop_phone.down.sql";
    let r = run(&["explain", down], &dir);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("migrations/20240101000003_drop_phone.up.sql:2:1  MRT201  error"),
        "{}",
        r.stdout
    );
    let clean = run(
        &["explain", "migrations/20240101000002_add_phone.up.sql"],
        &dir,
    );
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    // An .sql file in no project of a known tool is an error, never "0 findings".
    let lone = run(
        &["explain", "fixtures/check/sql_lookalike/db/schema.sql"],
        &common::repo(),
    );
    assert_eq!(lone.code, Some(3), "{}", lone.stdout);
    assert!(
        lone.stderr
            .contains("is an SQL migration file, but no folder above it holds a project"),
        "{}",
        lone.stderr
    );
}
