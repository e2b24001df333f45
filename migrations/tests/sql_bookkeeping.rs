//! The tools' bookkeeping as statements: checksums computed as the tools compute them (the
//! constants were derived independently: `sha384sum`, Python's `zlib.crc32`, and a Python
//! SipHash-1-3 checked against the SipHash reference vector), the table DDL and the rows.

mod sql_common;

use mrt_db::Dialect;
use mrt_migrations::sql::{
    flyway_checksum, refinery_checksum, sqlx_checksum, SqlDown, SqlMigration, SqlScript, SqlTool,
};
use sql_common::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn sqlx_checksum_is_sha384_of_the_file() {
    // printf 'CREATE TABLE users (id INTEGER PRIMARY KEY);\n' | sha384sum
    assert_eq!(
        hex(&sqlx_checksum("CREATE TABLE users (id INTEGER PRIMARY KEY);\n")),
        "bf56d804b4fa9e24aa2a3c122aaf2a88eea1e9f13d33cb772d90e0e8fa668bdf8f1ebb8de95be124e4681305e616e8f7"
    );
}

#[test]
fn flyway_checksum_ignores_line_breaks_and_bom() {
    // zlib.crc32(b"CREATE TABLE users (  id INT);") as a signed 32-bit integer.
    let text = "\u{feff}CREATE TABLE users (\r\n  id INT\n);\n";
    assert_eq!(flyway_checksum(text), 1737345225);
    assert_eq!(
        flyway_checksum("CREATE TABLE users (\n  id INT\n);"),
        1737345225
    );
    assert_eq!(
        flyway_checksum("CREATE TABLE users (\r  id INT\r\n);\n\n\n"),
        1737345225
    );
    assert_ne!(flyway_checksum("CREATE TABLE users ( id INT);"), 1737345225);
}

#[test]
fn refinery_checksum_is_siphash13_of_name_version_sql() {
    // SipHash-1-3, zero keys, over b"drop_phone\xff" + (3i32).to_le_bytes() + sql + b"\xff".
    assert_eq!(
        refinery_checksum("drop_phone", 3, "ALTER TABLE users DROP COLUMN phone;\n"),
        6070929880486387907
    );
}

#[test]
fn ddl_is_idempotent_and_names_the_table() {
    for tool in SqlTool::ALL {
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
            let ddl = tool.bookkeeping_ddl(dialect);
            assert!(!ddl.is_empty());
            for stmt in &ddl {
                let upper = stmt.to_ascii_uppercase();
                assert!(upper.contains("IF NOT EXISTS"), "{tool} {dialect}: {stmt}");
                assert!(
                    stmt.contains(tool.bookkeeping_table()),
                    "{tool} {dialect}: {stmt}"
                );
            }
        }
    }
}

#[test]
fn sqlx_rows() {
    let proj = project(SqlTool::Sqlx);
    let m = &proj.migrations[1];
    assert_eq!(m.description, "it's a\\test");
    let sha = hex(&sqlx_checksum("SELECT 1;\n"));
    assert_eq!(
        SqlTool::Sqlx.record_applied(Dialect::Postgres, m, 12),
        [format!("INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) VALUES ( 20240101000002, 'it''s a\\test', TRUE, '\\x{sha}'::bytea, 12000000 )")]
    );
    assert_eq!(
        SqlTool::Sqlx.record_applied(Dialect::Mysql, m, 0),
        [format!("INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) VALUES ( 20240101000002, 'it''s a\\\\test', TRUE, X'{sha}', 0 )")]
    );
    assert_eq!(
        SqlTool::Sqlx.record_reverted(Dialect::Sqlite, m, Some(&proj.migrations[0])),
        ["DELETE FROM _sqlx_migrations WHERE version = 20240101000002"]
    );
}

#[test]
fn golang_migrate_keeps_one_row() {
    let proj = project(SqlTool::GolangMigrate);
    let (first, second) = (&proj.migrations[0], &proj.migrations[1]);
    let t = SqlTool::GolangMigrate;
    assert_eq!(
        t.record_applied(Dialect::Postgres, second, 5),
        [
            "TRUNCATE \"schema_migrations\"",
            "INSERT INTO \"schema_migrations\" (version, dirty) VALUES (2, false)"
        ]
    );
    assert_eq!(
        t.record_reverted(Dialect::Mysql, second, Some(first)),
        [
            "TRUNCATE `schema_migrations`",
            "INSERT INTO `schema_migrations` (version, dirty) VALUES (1, false)"
        ]
    );
    assert_eq!(
        t.record_reverted(Dialect::Sqlite, first, None),
        ["DELETE FROM schema_migrations"]
    );
}

#[test]
fn diesel_and_dbmate_rows() {
    let proj = project(SqlTool::Diesel);
    let m = &proj.migrations[1];
    assert_eq!(
        SqlTool::Diesel.record_applied(Dialect::Sqlite, m, 1),
        ["INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101000002')"]
    );
    assert_eq!(
        SqlTool::Diesel.record_reverted(Dialect::Postgres, m, None),
        ["DELETE FROM __diesel_schema_migrations WHERE version = '20240101000002'"]
    );
    let proj = project(SqlTool::Dbmate);
    let m = &proj.migrations[0];
    assert_eq!(
        SqlTool::Dbmate.record_applied(Dialect::Mysql, m, 1),
        ["insert into `schema_migrations` (version) values ('20240101000001')"]
    );
    assert_eq!(
        SqlTool::Dbmate.record_reverted(Dialect::Postgres, m, None),
        ["delete from schema_migrations where version = '20240101000001'"]
    );
}

#[test]
fn flyway_rows_and_undo() {
    let proj = project(SqlTool::Flyway);
    let m = &proj.migrations[0];
    let crc = flyway_checksum("CREATE TABLE users (\n  id INT\n);\n");
    assert_eq!(
        SqlTool::Flyway.record_applied(Dialect::Postgres, m, 42),
        [format!("INSERT INTO \"flyway_schema_history\" (\"installed_rank\", \"version\", \"description\", \"type\", \"script\", \"checksum\", \"installed_by\", \"execution_time\", \"success\") SELECT COALESCE(MAX(\"installed_rank\"), 0) + 1, '1', 'create users', 'SQL', 'V1__create_users.sql', {crc}, current_user, 42, TRUE FROM \"flyway_schema_history\"")]
    );
    let undo = SqlTool::Flyway.record_reverted(Dialect::Sqlite, &proj.migrations[1], Some(m));
    assert_eq!(undo.len(), 1);
    assert!(
        undo[0].contains("'1.1', 'drop phone again', 'UNDO_SQL', 'U1_1__drop_phone_again.sql'"),
        "{}",
        undo[0]
    );
    assert!(
        undo[0].contains(&format!(
            ", {}, '', 0, 1 FROM",
            flyway_checksum("SELECT 2;\n")
        )),
        "{}",
        undo[0]
    );

    // Without an undo file the row goes.
    let mut no_undo: SqlMigration = m.clone();
    no_undo.down = SqlDown::Missing;
    assert_eq!(
        SqlTool::Flyway.record_reverted(Dialect::Mysql, &no_undo, None),
        ["DELETE FROM `flyway_schema_history` WHERE `version` = '1'"]
    );
}

#[test]
fn refinery_rows() {
    let proj = project(SqlTool::Refinery);
    let m = &proj.migrations[1];
    let rows = SqlTool::Refinery.record_applied(Dialect::Postgres, m, 3);
    assert_eq!(rows.len(), 1);
    let sum = refinery_checksum("drop_phone", 2, "ALTER TABLE users DROP COLUMN phone;\n");
    assert!(rows[0].starts_with("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (2, 'drop_phone', '"), "{}", rows[0]);
    assert!(rows[0].ends_with(&format!("Z', '{sum}')")), "{}", rows[0]);
    assert_eq!(
        SqlTool::Refinery.record_reverted(Dialect::Sqlite, m, None),
        ["DELETE FROM refinery_schema_history WHERE version = 2"]
    );
}

#[test]
fn transactions_as_the_drivers_honour_them() {
    let script = |transactional| SqlScript {
        path: "x.sql".into(),
        text: String::new(),
        first_line: 1,
        transactional,
        name: "x.sql".into(),
    };
    // sqlx 0.8.6 honours `-- no-transaction` on PostgreSQL only.
    assert!(!SqlTool::Sqlx.runs_in_transaction(Dialect::Postgres, &script(false)));
    assert!(SqlTool::Sqlx.runs_in_transaction(Dialect::Sqlite, &script(false)));
    assert!(SqlTool::Sqlx.runs_in_transaction(Dialect::Mysql, &script(false)));
    assert!(!SqlTool::Dbmate.runs_in_transaction(Dialect::Mysql, &script(false)));
    assert!(SqlTool::Flyway.runs_in_transaction(Dialect::Sqlite, &script(true)));
}
