//! Every graph problem a SQL-migration project can have, each naming its file, and what the
//! tool does about it in the message.

mod sql_common;

use mrt_migrations::sql::{SqlDown, SqlTool};
use mrt_migrations::ProblemKind;
use sql_common::*;

#[test]
fn duplicate_versions_name_both_files() {
    let p = TempProject::new();
    p.file("m/1_a.up.sql", "SELECT 1;");
    p.file("m/1_a.down.sql", "SELECT 1;");
    p.file("m/0001_b.up.sql", "SELECT 1;");
    p.file("m/0001_b.down.sql", "SELECT 1;");
    let proj = p.load(SqlTool::Sqlx, "m");
    assert_eq!(ids(&proj), ["0001_b"]);
    assert_eq!(proj.shadowed.len(), 1);
    let pr = problem(&proj, ProblemKind::DuplicateVersion, "1_a.up.sql");
    assert!(pr.message.contains("0001_b.up.sql"), "{}", pr.message);
    assert_eq!(pr.revision.as_deref(), Some("1_a"));

    // Flyway: 1.0 and 1 are one version.
    let f = TempProject::new();
    f.file("sql/V1__a.sql", "SELECT 1;");
    f.file("sql/V1.0__b.sql", "SELECT 1;");
    let proj = f.load(SqlTool::Flyway, "sql");
    let pr = problem(&proj, ProblemKind::DuplicateVersion, "V1__a.sql");
    assert!(pr.message.contains("V1.0__b.sql") && pr.message.contains("Flyway refuses"));

    // dbmate sorts by name, so files of one version are not always neighbours.
    let d = TempProject::new();
    d.file("m/1.sql", "-- migrate:up\n-- migrate:down\n");
    d.file("m/10_x.sql", "-- migrate:up\n-- migrate:down\n");
    d.file("m/1_a.sql", "-- migrate:up\n-- migrate:down\n");
    let proj = d.load(SqlTool::Dbmate, "m");
    assert_eq!(ids(&proj), ["1", "10_x"]);
    problem(&proj, ProblemKind::DuplicateVersion, "1_a.sql");

    // golang-migrate: two up files of one version.
    let g = TempProject::new();
    g.file("m/1_a.up.sql", "SELECT 1;");
    g.file("m/1_b.up.sql", "SELECT 1;");
    g.file("m/1_a.down.sql", "SELECT 1;");
    let proj = g.load(SqlTool::GolangMigrate, "m");
    let pr = problem(&proj, ProblemKind::DuplicateVersion, "1_b.up.sql");
    assert!(pr.message.contains("refuses"));

    // refinery: V2 and U2.
    let r = TempProject::new();
    r.file("m/V2__a.sql", "SELECT 1;");
    r.file("m/U2__b.sql", "SELECT 1;");
    let proj = r.load(SqlTool::Refinery, "m");
    assert_eq!(proj.migrations.len(), 1);
    assert_eq!(kinds(&proj), [ProblemKind::DuplicateVersion]);

    // diesel: the version drops dashes, so these two collide.
    let dl = TempProject::new();
    for name in ["2024-01-01_a", "20240101_b"] {
        dl.file(&format!("m/{name}/up.sql"), "SELECT 1;");
        dl.file(&format!("m/{name}/down.sql"), "SELECT 1;");
    }
    let proj = dl.load(SqlTool::Diesel, "m");
    assert_eq!(kinds(&proj), [ProblemKind::DuplicateVersion]);
}

#[test]
fn up_without_down_and_the_reverse() {
    let p = TempProject::new();
    p.file("m/1_a.up.sql", "SELECT 1;");
    p.file("m/2_b.down.sql", "SELECT 2;");
    let proj = p.load(SqlTool::Sqlx, "m");
    assert_eq!(ids(&proj), ["1_a"]);
    assert_eq!(proj.migrations[0].down, SqlDown::Missing);
    problem(&proj, ProblemKind::MissingDown, "1_a.up.sql");
    problem(&proj, ProblemKind::MissingUp, "2_b.down.sql");

    let g = p.load(SqlTool::GolangMigrate, "m");
    assert!(problem(&g, ProblemKind::MissingDown, "1_a.up.sql")
        .message
        .contains("empty down"));
    problem(&g, ProblemKind::MissingUp, "2_b.down.sql");

    let d = TempProject::new();
    d.file("m/2024-01-01-000001_a/up.sql", "SELECT 1;");
    d.file("m/2024-01-01-000002_b/down.sql", "SELECT 2;");
    let proj = d.load(SqlTool::Diesel, "m");
    assert_eq!(ids(&proj), ["2024-01-01-000001_a"]);
    problem(&proj, ProblemKind::MissingDown, "up.sql");
    problem(&proj, ProblemKind::MissingUp, "2024-01-01-000002_b");

    let f = TempProject::new();
    f.file("sql/V1__a.sql", "SELECT 1;");
    f.file("sql/U2__b.sql", "SELECT 2;");
    let proj = f.load(SqlTool::Flyway, "sql");
    problem(&proj, ProblemKind::MissingDown, "V1__a.sql");
    problem(&proj, ProblemKind::MissingUp, "U2__b.sql");
}

#[test]
fn dbmate_markers() {
    let p = TempProject::new();
    p.file("m/1_no_up.sql", "CREATE TABLE t (id INT);\n");
    p.file("m/2_no_down.sql", "-- migrate:up\nSELECT 2;\n");
    p.file(
        "m/3_statement_first.sql",
        "SET x = 1;\n-- migrate:up\nSELECT 3;\n-- migrate:down\n",
    );
    p.file(
        "m/4_down_first.sql",
        "-- migrate:down\nSELECT 4;\n-- migrate:up\nSELECT 4;\n",
    );
    p.file(
        "m/5_two_sections.sql",
        "-- migrate:up\nSELECT 5;\n-- migrate:down\nSELECT -5;\n-- migrate:up\nSELECT 55;\n-- migrate:down\nSELECT -55;\n",
    );
    let proj = p.load(SqlTool::Dbmate, "m");
    problem(&proj, ProblemKind::MissingUp, "1_no_up.sql");
    let pr = problem(&proj, ProblemKind::MissingDown, "2_no_down.sql");
    assert_eq!(pr.line, Some(1));
    let pr = problem(&proj, ProblemKind::Malformed, "3_statement_first.sql");
    assert_eq!(pr.line, Some(1));
    let pr = problem(&proj, ProblemKind::Malformed, "4_down_first.sql");
    assert_eq!(pr.line, Some(1));
    let pr = problem(&proj, ProblemKind::Malformed, "5_two_sections.sql");
    assert_eq!(pr.line, Some(5));
    assert!(pr.message.contains("#820"));
    assert_eq!(ids(&proj), ["2_no_down", "5_two_sections"]);
    assert_eq!(
        down_text(&proj.migrations[1]),
        "-- migrate:down\nSELECT -5;\n"
    );
}

#[test]
fn versions_that_do_not_parse() {
    let p = TempProject::new();
    p.file("m/abc_x.up.sql", "SELECT 1;");
    p.file("m/99999999999999999999_x.sql", "SELECT 1;");
    let proj = p.load(SqlTool::Sqlx, "m");
    assert!(problem(&proj, ProblemKind::BadVersion, "abc_x.up.sql")
        .message
        .contains("refuses the whole folder"));
    problem(&proj, ProblemKind::BadVersion, "99999999999999999999_x.sql");

    let g = TempProject::new();
    g.file("m/99999999999999999999_x.up.sql", "SELECT 1;");
    let proj = g.load(SqlTool::GolangMigrate, "m");
    problem(
        &proj,
        ProblemKind::BadVersion,
        "99999999999999999999_x.up.sql",
    );

    let f = TempProject::new();
    f.file("sql/V1.x__a.sql", "SELECT 1;");
    f.file("sql/V1.__b.sql", "SELECT 1;");
    f.file("sql/Views.sql", "SELECT 1;");
    let proj = f.load(SqlTool::Flyway, "sql");
    problem(&proj, ProblemKind::BadVersion, "V1.x__a.sql");
    problem(&proj, ProblemKind::BadVersion, "V1.__b.sql");
    assert_eq!(ignored_names(&proj), ["Views.sql"]);

    let r = TempProject::new();
    r.file("m/V1.5__a.sql", "SELECT 1;");
    r.file("m/V3000000000__b.sql", "SELECT 1;");
    let proj = r.load(SqlTool::Refinery, "m");
    problem(&proj, ProblemKind::BadVersion, "V1.5__a.sql");
    problem(&proj, ProblemKind::BadVersion, "V3000000000__b.sql");
}

#[test]
fn gaps_in_sequential_numbering_only() {
    let p = TempProject::new();
    for v in [1, 2, 4, 7] {
        p.file(&format!("m/{v:06}_step.up.sql"), "SELECT 1;");
        p.file(&format!("m/{v:06}_step.down.sql"), "SELECT 1;");
    }
    let proj = p.load(SqlTool::GolangMigrate, "m");
    let gaps: Vec<&str> = proj
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::VersionGap)
        .map(|p| p.message.as_str())
        .collect();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(
        gaps[0].starts_with("version 4 follows 2: version 3 is missing"),
        "{}",
        gaps[0]
    );
    assert!(
        gaps[1].contains("versions 5 to 6 are missing"),
        "{}",
        gaps[1]
    );
    problem(&proj, ProblemKind::VersionGap, "000004_step.up.sql");

    // Timestamps have gaps by nature.
    let t = TempProject::new();
    for v in ["20240101000001", "20240105120000", "20240301000000"] {
        t.file(&format!("m/{v}_x.up.sql"), "SELECT 1;");
        t.file(&format!("m/{v}_x.down.sql"), "SELECT 1;");
    }
    assert!(t.load(SqlTool::Sqlx, "m").problems.is_empty());

    // Flyway and refinery number V1, V2, ...; dbmate as digits.
    let f = TempProject::new();
    f.file("sql/V1__a.sql", "SELECT 1;");
    f.file("sql/V3__c.sql", "SELECT 1;");
    let proj = f.load(SqlTool::Refinery, "sql");
    assert_eq!(kinds(&proj), [ProblemKind::VersionGap]);
    let d = TempProject::new();
    d.file("m/001_a.sql", "-- migrate:up\n-- migrate:down\n");
    d.file("m/003_c.sql", "-- migrate:up\n-- migrate:down\n");
    assert_eq!(
        kinds(&d.load(SqlTool::Dbmate, "m")),
        [ProblemKind::VersionGap]
    );
    // Dotted Flyway versions are not a sequence.
    let fd = TempProject::new();
    fd.file("sql/V1.1__a.sql", "SELECT 1;");
    fd.file("sql/U1.1__a.sql", "SELECT 1;");
    fd.file("sql/V1.3__c.sql", "SELECT 1;");
    fd.file("sql/U1.3__c.sql", "SELECT 1;");
    assert!(fd.load(SqlTool::Flyway, "sql").problems.is_empty());
}

#[test]
fn sqlx_accepts_simple_and_reversible_together() {
    // sqlx 0.8.6 infers the type per file (InvalidMixReversibleAndSimple is deprecated).
    let p = TempProject::new();
    p.file("m/1_a.sql", "SELECT 1;");
    p.file("m/2_b.up.sql", "SELECT 2;");
    p.file("m/2_b.down.sql", "SELECT 2;");
    let proj = p.load(SqlTool::Sqlx, "m");
    assert!(proj.problems.is_empty(), "{:#?}", proj.problems);
    assert_eq!(proj.migrations[0].down, SqlDown::ForwardOnly);
}

#[test]
fn unreadable_and_not_utf8_files() {
    let p = TempProject::new();
    p.bytes("m/1_a.up.sql", b"SELECT 1;\nSELECT '\xff';\n");
    p.file("m/1_a.down.sql", "SELECT 1;");
    let proj = p.load(SqlTool::Sqlx, "m");
    let pr = problem(&proj, ProblemKind::NotUtf8, "1_a.up.sql");
    assert_eq!(pr.line, Some(2));
    assert!(proj.migrations.is_empty());

    let d = TempProject::new();
    d.bytes("m/1_a.sql", b"-- migrate:up\n\xc3\x28\n-- migrate:down\n");
    problem(
        &d.load(SqlTool::Dbmate, "m"),
        ProblemKind::NotUtf8,
        "1_a.sql",
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let u = TempProject::new();
        let f = u.file("m/V1__a.sql", "SELECT 1;");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read(&f).is_err() {
            // (root reads anything; the check only means something for other users.)
            problem(
                &u.load(SqlTool::Flyway, "m"),
                ProblemKind::Unreadable,
                "V1__a.sql",
            );
        }
    }
}

#[test]
fn diesel_empty_scripts() {
    let p = TempProject::new();
    p.file("m/2024-01-01-000001_a/up.sql", "");
    p.file("m/2024-01-01-000001_a/down.sql", "SELECT 1;");
    let proj = p.load(SqlTool::Diesel, "m");
    assert!(problem(&proj, ProblemKind::EmptyScript, "up.sql")
        .message
        .contains("EmptyMigration"));
}

#[test]
fn flyway_script_config_must_be_boolean() {
    let p = TempProject::new();
    p.file("sql/V1__a.sql", "SELECT 1;");
    p.file("sql/U1__a.sql", "SELECT 1;");
    p.file("sql/V1__a.sql.conf", "executeInTransaction = yes\n");
    let proj = p.load(SqlTool::Flyway, "sql");
    let pr = problem(&proj, ProblemKind::Malformed, "V1__a.sql.conf");
    assert_eq!(pr.line, Some(1));
}

#[test]
fn refinery_pipe_prefix() {
    // refinery's pattern `[U|V]` accepts '|', and then hits `unreachable!()`.
    let p = TempProject::new();
    p.file("m/|1__a.sql", "SELECT 1;");
    let proj = p.load(SqlTool::Refinery, "m");
    problem(&proj, ProblemKind::Malformed, "|1__a.sql");
}
