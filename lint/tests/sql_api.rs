//! `lint_sql_migration` through the public API: where findings land (file, line, column, also
//! in dbmate sections), suppression comments, forward-only and missing downs, transactions,
//! dialect gating, and that Python revisions are not affected by the SQL-only rules.

use mrt_lint::{
    lint_file, lint_sql_migration, Dialect, FileContext, Finding, SqlDown, SqlFileContext,
    SqlSource,
};
use proptest::prelude::*;
use std::path::Path;

const UP: &str = "db/20240101000001_x.up.sql";
const DOWN: &str = "db/20240101000001_x.down.sql";

fn source<'a>(path: &'a str, text: &'a str) -> SqlSource<'a> {
    SqlSource {
        path: Path::new(path),
        text,
        first_line: 1,
        transactional: true,
    }
}

fn ctx<'a>(up: SqlSource<'a>, down: SqlDown<'a>, dialect: Dialect) -> SqlFileContext<'a> {
    SqlFileContext {
        revision: Some("20240101000001"),
        up,
        down,
        dialect,
        opt_in_rules: &[],
    }
}

/// (file, line, column, code) of each finding.
fn spots(findings: &[Finding]) -> Vec<(String, usize, usize, &'static str)> {
    findings
        .iter()
        .map(|f| (f.path.display().to_string(), f.line, f.column, f.code))
        .collect()
}

fn pair(up: &str, down: &str, dialect: Dialect) -> Vec<Finding> {
    lint_sql_migration(&ctx(
        source(UP, up),
        SqlDown::Present(source(DOWN, down)),
        dialect,
    ))
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

#[test]
fn findings_are_placed_in_the_file_of_their_statement() {
    let up = "-- widen users\nALTER TABLE users ADD COLUMN age integer;\n  /* é */ ALTER TABLE users DROP COLUMN fax;\n";
    let down = "ALTER TABLE users ADD COLUMN fax text;\nALTER TABLE users DROP COLUMN age;\n\nDROP TABLE profiles;\n";
    let findings = pair(up, down, Dialect::Generic);
    assert_eq!(
        spots(&findings),
        [
            (UP.to_string(), 3, 11, "MRT201"),
            (DOWN.to_string(), 4, 1, "MRT215"),
        ]
    );
    assert!(findings
        .iter()
        .all(|f| f.revision.as_deref() == Some("20240101000001")));
    assert!(findings[1]
        .message
        .starts_with("the down migration drops table `profiles`"));
}

#[test]
fn dbmate_sections_keep_the_lines_of_their_file() {
    let file = "-- migrate:up\nALTER TABLE users ADD COLUMN age integer;\n\n-- migrate:down\nALTER TABLE users DROP COLUMN age;\nDELETE FROM audit;\n";
    let up = SqlSource {
        path: Path::new("db/migrations/20240101_age.sql"),
        text: "ALTER TABLE users ADD COLUMN age integer;\n\n",
        first_line: 2,
        transactional: true,
    };
    let down = SqlSource {
        text: "ALTER TABLE users DROP COLUMN age;\nDELETE FROM audit;\n",
        first_line: 5,
        ..up
    };
    assert!(file.contains(up.text) && file.contains(down.text));
    let findings = lint_sql_migration(&ctx(up, SqlDown::Present(down), Dialect::Generic));
    // DELETE without WHERE in a down section: MRT215 on the file's line 6.
    assert_eq!(
        spots(&findings),
        [("db/migrations/20240101_age.sql".to_string(), 6, 1, "MRT215")]
    );
}

#[test]
fn whole_migration_findings_go_on_the_first_lines() {
    // MRT101 on line 1 of the up file, also for a section that starts further down.
    let up = SqlSource {
        first_line: 2,
        ..source("db/x.sql", "CREATE TABLE t (id int);\n")
    };
    let missing = lint_sql_migration(&ctx(up, SqlDown::Missing, Dialect::Generic));
    assert_eq!(spots(&missing), [("db/x.sql".to_string(), 1, 1, "MRT101")]);
    assert!(missing[0].message.contains("no down migration"));

    // MRT102 on the first line of the down source, even when it is empty.
    let empty = pair("CREATE TABLE t (id int);", "", Dialect::Generic);
    assert_eq!(spots(&empty), [(DOWN.to_string(), 1, 1, "MRT102")]);
    let section = SqlSource {
        first_line: 7,
        ..source(DOWN, "\n-- nothing\nSELECT 1;\nBEGIN;\nCOMMIT;\n")
    };
    let noop = lint_sql_migration(&ctx(
        source(UP, "CREATE TABLE t (id int);"),
        SqlDown::Present(section),
        Dialect::Generic,
    ));
    assert_eq!(spots(&noop), [(DOWN.to_string(), 7, 1, "MRT102")]);
}

#[test]
fn what_counts_as_a_change_for_mrt102() {
    let noop_down = "-- nothing\n";
    // Reads and session settings change nothing; a function call or a DO block may.
    assert!(pair(
        "SELECT 1;\nSET search_path = app;",
        noop_down,
        Dialect::Postgresql
    )
    .is_empty());
    assert_eq!(
        codes(&pair(
            "SELECT create_hypertable('events', 'at');",
            noop_down,
            Dialect::Postgresql
        )),
        ["MRT102"]
    );
    assert_eq!(
        codes(&pair(
            "DO $$ BEGIN PERFORM 1; END $$;",
            noop_down,
            Dialect::Postgresql
        )),
        ["MRT102"]
    );
    assert_eq!(
        codes(&pair(
            "CALL backfill_all();",
            noop_down,
            Dialect::Postgresql
        )),
        ["MRT102"]
    );
}

#[test]
fn suppression_comments_are_read_with_sql_rules() {
    let drop = |up: &str| {
        codes(&pair(
            up,
            "ALTER TABLE users ADD COLUMN fax text;",
            Dialect::Generic,
        ))
    };
    assert!(drop("ALTER TABLE users DROP COLUMN fax; -- noqa").is_empty());
    assert!(drop("ALTER TABLE users DROP COLUMN fax; -- noqa: MRT201").is_empty());
    assert!(drop("ALTER TABLE users\n  DROP COLUMN fax; -- mrt: ignore[MRT201]").is_empty());
    assert!(drop("ALTER TABLE users /* noqa */ DROP COLUMN fax;").is_empty());
    let mysql = |up: &str| {
        codes(&pair(
            up,
            "ALTER TABLE users ADD COLUMN fax text;",
            Dialect::Mysql,
        ))
    };
    assert!(mysql("ALTER TABLE users DROP COLUMN fax; # noqa: MRT201").is_empty());
    assert_eq!(
        mysql("ALTER TABLE users DROP COLUMN fax; -- noqa: MRT202"),
        ["MRT201"]
    );
    assert_eq!(
        drop("ALTER TABLE users DROP COLUMN fax; -- noqa: MRT202"),
        ["MRT201"]
    );
    // On another statement's line, inside a literal or a dollar quote: no suppression.
    assert_eq!(
        drop("-- noqa\nALTER TABLE users DROP COLUMN fax;"),
        ["MRT201"]
    );
    assert_eq!(
        drop("ALTER TABLE users DROP COLUMN fax; SELECT '-- noqa';"),
        ["MRT201"]
    );
    assert_eq!(
        codes(&pair(
            "ALTER TABLE users DROP COLUMN fax; SELECT $q$ -- noqa $q$;",
            "ALTER TABLE users ADD COLUMN fax text;",
            Dialect::Postgresql
        )),
        ["MRT201"]
    );
    // A comment in the up section does not silence the down section of the same dbmate file.
    let up = SqlSource {
        path: Path::new("m.sql"),
        text: "ALTER TABLE users ADD COLUMN age int; -- noqa\n",
        first_line: 2,
        transactional: true,
    };
    let down = SqlSource {
        text: "ALTER TABLE users DROP COLUMN age;\nDROP TABLE profiles;\n",
        first_line: 4,
        ..up
    };
    let findings = lint_sql_migration(&ctx(up, SqlDown::Present(down), Dialect::Generic));
    assert_eq!(spots(&findings), [("m.sql".to_string(), 5, 1, "MRT215")]);
}

#[test]
fn forward_only_runs_upgrade_rules_only() {
    let up = "UPDATE users SET plan = 'free';\nINSERT INTO plans (name) VALUES ('free');\nALTER TABLE users DROP COLUMN fax;\nCREATE SEQUENCE s;\nALTER SEQUENCE t RESTART WITH 1;\n";
    let forward = lint_sql_migration(&ctx(source(UP, up), SqlDown::ForwardOnly, Dialect::Generic));
    assert_eq!(codes(&forward), ["MRT201", "MRT501"]);
    assert_eq!(
        forward[1].line, 5,
        "only ALTER SEQUENCE, not the CREATE without a down"
    );
    let missing = lint_sql_migration(&ctx(source(UP, up), SqlDown::Missing, Dialect::Generic));
    assert_eq!(
        codes(&missing),
        ["MRT101", "MRT103", "MRT106", "MRT201", "MRT501", "MRT501"]
    );
}

#[test]
fn concurrently_depends_on_the_transaction() {
    let index = "CREATE INDEX CONCURRENTLY ix ON orders (created_at);";
    let run = |text: &str, transactional: bool, dialect: Dialect| {
        let up = SqlSource {
            transactional,
            ..source(UP, text)
        };
        let down = SqlSource {
            transactional: false,
            ..source(DOWN, "DROP INDEX CONCURRENTLY ix;")
        };
        codes(&lint_sql_migration(&ctx(
            up,
            SqlDown::Present(down),
            dialect,
        )))
    };
    assert_eq!(run(index, true, Dialect::Postgresql), ["MRT415"]);
    assert!(run(index, false, Dialect::Postgresql).is_empty());
    assert!(run(
        &format!("-- before\n{index} -- after"),
        false,
        Dialect::Postgresql
    )
    .is_empty());
    assert_eq!(
        run(
            &format!("BEGIN;\n{index}\nCOMMIT;"),
            false,
            Dialect::Postgresql
        ),
        ["MRT415"]
    );
    // After the explicit transaction ends, only the one-string block remains.
    let after_commit = run(
        &format!("BEGIN;\nSELECT 1;\nCOMMIT;\n{index}"),
        false,
        Dialect::Postgresql,
    );
    assert_eq!(after_commit, ["MRT415"]);
    // Only PostgreSQL has the statement; a known other engine is not told about it.
    assert!(run(index, true, Dialect::Mysql).is_empty());
    assert_eq!(run(index, true, Dialect::Generic), ["MRT415"]);
}

#[test]
fn lock_rules_are_gated_to_postgresql() {
    let up = "CREATE INDEX ix ON orders (created_at);\nALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);\nALTER TABLE orders ALTER COLUMN id TYPE bigint;";
    let down = "DROP INDEX ix;\nALTER TABLE orders DROP CONSTRAINT fk;\nALTER TABLE orders ALTER COLUMN id TYPE integer;";
    assert_eq!(
        codes(&pair(up, down, Dialect::Postgresql)),
        ["MRT407", "MRT416", "MRT417"]
    );
    for other in [Dialect::Generic, Dialect::Sqlite, Dialect::Mysql] {
        assert_eq!(codes(&pair(up, down, other)), ["MRT303"], "{other}");
    }
}

#[test]
fn merged_findings_keep_what_they_absorbed() {
    let findings = pair(
        "ALTER TABLE events ALTER COLUMN id TYPE bigint;",
        "ALTER TABLE events ALTER COLUMN id TYPE integer;",
        Dialect::Postgresql,
    );
    assert_eq!(codes(&findings), ["MRT417"]);
    let also: Vec<(&str, usize, String)> = findings[0]
        .also
        .iter()
        .map(|a| (a.code, a.line, a.path.display().to_string()))
        .collect();
    assert_eq!(also, [("MRT303", 1, UP.to_string())]);
    // A suppression for the absorbed code still silences the hazard.
    let silenced = pair(
        "ALTER TABLE events ALTER COLUMN id TYPE bigint; -- noqa: MRT303",
        "ALTER TABLE events ALTER COLUMN id TYPE integer;",
        Dialect::Postgresql,
    );
    assert!(silenced.is_empty());
}

#[test]
fn function_bodies_and_trigger_bodies_are_not_statements() {
    let up =
        "CREATE FUNCTION f() RETURNS void AS $$ DROP TABLE users; TRUNCATE t; $$ LANGUAGE sql;\n";
    assert!(pair(up, "DROP FUNCTION f();", Dialect::Postgresql).is_empty());
    let trigger =
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM b;\n  DROP TABLE c;\nEND;\n";
    assert!(pair(trigger, "DROP TRIGGER t;", Dialect::Sqlite).is_empty());
    let mysql = "DELIMITER //\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN\n  DELETE FROM b;\nEND //\nDELIMITER ;\n";
    assert!(pair(mysql, "DROP TRIGGER t;", Dialect::Mysql).is_empty());
}

#[test]
fn python_revisions_never_get_sql_file_rules() {
    // The same statements through op.execute keep their Python rules (MRT104, not MRT415-417).
    let src = "from alembic import op\nrevision = 'b'\ndown_revision = 'a'\n\ndef upgrade():\n    op.execute(\"CREATE INDEX CONCURRENTLY ix ON t (c)\")\n    op.execute(\"ALTER TABLE t ALTER COLUMN id TYPE bigint\")\n    op.execute(\"DELETE FROM t WHERE old\")\n\ndef downgrade():\n    op.execute(\"ALTER TABLE t ALTER COLUMN id TYPE integer\")\n";
    let ctx = FileContext {
        dialect: Dialect::Postgresql,
        ..FileContext::new(Path::new("r.py"), src)
    };
    let got: Vec<&str> = lint_file(&ctx).iter().map(|f| f.code).collect();
    assert!(
        !got.iter()
            .any(|c| ["MRT216", "MRT415", "MRT416", "MRT417"].contains(c)),
        "{got:?}"
    );
    assert!(
        got.contains(&"MRT303") && got.contains(&"MRT104"),
        "{got:?}"
    );
}

const TOKENS: &[&str] = &[
    "CREATE",
    "DROP",
    "ALTER",
    "TABLE",
    "INDEX",
    "CONCURRENTLY",
    "TRIGGER",
    "FUNCTION",
    "BEGIN",
    "END",
    "CASE",
    "COMMIT",
    "DELIMITER",
    "$$",
    "$a$",
    "'",
    "\"",
    "`",
    "--",
    "/*",
    "*/",
    "#",
    ";",
    "\n",
    " ",
    "t",
    "(",
    ")",
    "é",
    "\\",
    "E'",
    "UPDATE",
    "SET",
    "DELETE",
    "FROM",
    "WHERE",
    "ADD",
    "COLUMN",
    "CONSTRAINT",
    "NOT",
    "VALID",
    "TYPE",
    "noqa",
    "INSERT",
    "INTO",
    "VALUES",
    "DO",
];

fn script() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.join(" "))
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::Generic),
        Just(Dialect::Sqlite),
        Just(Dialect::Postgresql),
        Just(Dialect::Mysql)
    ]
}

proptest! {
    #[test]
    fn never_panics_and_always_places_findings(
        up in script(),
        down in script(),
        first in 1usize..40,
        dialect in dialect(),
        transactional in any::<bool>(),
    ) {
        let up_src = SqlSource { path: Path::new("f.sql"), text: &up, first_line: first, transactional };
        let down_src = SqlSource { text: &down, first_line: first + up.lines().count() + 1, ..up_src };
        let opt_in = ["MRT701", "MRT702", "MRT703", "MRT704", "MRT705"];
        for down in [SqlDown::Present(down_src), SqlDown::Missing, SqlDown::ForwardOnly] {
            let ctx = SqlFileContext { opt_in_rules: &opt_in, ..ctx(up_src, down, dialect) };
            for f in lint_sql_migration(&ctx) {
                prop_assert!(f.line >= 1 && f.column >= 1);
                prop_assert_eq!(f.path.as_path(), Path::new("f.sql"));
            }
        }
    }
}
