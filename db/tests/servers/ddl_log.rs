//! PostgreSQL: a schema read after a migration step re-reads only what the DDL log names, and
//! must equal a full read. Each step below is a kind of DDL a migration does, run by another
//! session (as the Python worker does); after each, the database's read is compared with a full
//! read of a copy of it (a new handle, which reads everything).

use libtest_mimic::Failed;
use mrt_db::{Server, TempDb};
use sqlx::{Connection, PgConnection};

use super::{block_on, ensure, run_id};

/// (what, script, whether the log must have rows after it).
const STEPS: &[(&str, &str, bool)] = &[
    (
        "create tables, serial, FK, index, view",
        "CREATE TABLE a (id serial PRIMARY KEY, name text UNIQUE, n int DEFAULT 1);
         CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id), note text);
         CREATE INDEX ix_b_note ON b (note);
         CREATE VIEW v AS SELECT name FROM a;",
        true,
    ),
    (
        "rename a referenced column (the FK's text on b changes)",
        "ALTER TABLE a RENAME COLUMN id TO a_key;",
        true,
    ),
    (
        "rename a referenced table",
        "ALTER TABLE a RENAME TO a2;",
        true,
    ),
    ("drop an index", "DROP INDEX ix_b_note;", true),
    (
        "unique index, check constraint, trigger",
        "CREATE UNIQUE INDEX ux_b_note ON b (lower(note)) WHERE note IS NOT NULL;
         ALTER TABLE b ADD CONSTRAINT ck_b CHECK (id > 0);
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER tg_b BEFORE INSERT ON b FOR EACH ROW EXECUTE FUNCTION touch();",
        true,
    ),
    (
        "drop the trigger, the constraint and a column",
        "DROP TRIGGER tg_b ON b; ALTER TABLE b DROP CONSTRAINT ck_b; ALTER TABLE b DROP COLUMN note;",
        true,
    ),
    (
        "a sequence another table's default names, then renamed",
        "CREATE SEQUENCE shared_seq; CREATE TABLE c (id bigint DEFAULT nextval('shared_seq'));
         ALTER SEQUENCE shared_seq RENAME TO shared_seq2;",
        true,
    ),
    (
        "enum type used by a column, then a value added",
        "CREATE TYPE mood AS ENUM ('sad'); ALTER TABLE c ADD COLUMN m mood;
         ALTER TYPE mood ADD VALUE 'happy';",
        true,
    ),
    (
        "DDL under session_replication_role = replica",
        "SET session_replication_role = replica; ALTER TABLE c ADD COLUMN z int;
         RESET session_replication_role;",
        true,
    ),
    (
        "drop a referenced table with CASCADE (b loses its foreign key, v goes)",
        "DROP TABLE a2 CASCADE;",
        true,
    ),
    (
        "a step rolled back leaves nothing in the log",
        "BEGIN; CREATE TABLE d (x int); ALTER TABLE b ADD COLUMN y int; ROLLBACK;",
        false,
    ),
    (
        "grants and comments change nothing mrt compares",
        "GRANT SELECT ON b TO PUBLIC; COMMENT ON TABLE b IS 'b';",
        false,
    ),
    (
        "an enum type dropped, a view made where there was none",
        "ALTER TABLE c DROP COLUMN m; DROP TYPE mood; CREATE VIEW w AS SELECT 1 AS one;",
        true,
    ),
    (
        "a table moved to another schema leaves the one mrt reads",
        "CREATE SCHEMA other; ALTER TABLE c SET SCHEMA other;",
        true,
    ),
    (
        "the log's triggers dropped by a migration: full reads from then on",
        "DROP EVENT TRIGGER _mrt_ddl_end; DROP EVENT TRIGGER _mrt_ddl_drop;
         CREATE TABLE e (id int PRIMARY KEY);",
        false,
    ),
    ("and after", "ALTER TABLE e ADD COLUMN f text;", false),
];

pub fn schema_reads_follow_the_ddl_log(url: String) -> Result<(), Failed> {
    block_on(async move {
        let run = run_id("ddllog");
        let server = (Server::connect(&url, &run).await).map_err(|e| format!("connect: {e}"))?;
        let result = steps(&server).await;
        server
            .cleanup()
            .await
            .map_err(|e| format!("cleanup: {e}"))?;
        result
    })
}

async fn steps(server: &Server) -> Result<(), Failed> {
    let db = server.create().await.map_err(|e| format!("create: {e}"))?;
    // The first read puts the log in place.
    db.introspect(&[])
        .await
        .map_err(|e| format!("first read: {e}"))?;
    for (what, script, logs) in STEPS {
        // Copying the database below ends its sessions: a new one per step.
        let mut client = PgConnection::connect(&db.url())
            .await
            .map_err(|e| format!("connect to {}: {e}", db.name()))?;
        sqlx::raw_sql(script)
            .execute(&mut client)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let logged = log_rows(&mut client).await;
        ensure(
            logged.is_some_and(|n| n > 0) == *logs,
            format!("{what}: rows in the DDL log {logged:?}, expected some: {logs}"),
        )?;
        let got = db
            .introspect(&[])
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let full = full_read(server, &db).await?;
        ensure(
            got == full,
            format!("{what}: the read differs from a full read\n  got  {got:?}\n  full {full:?}"),
        )?;
        ensure(
            log_rows(&mut client).await.unwrap_or(0) == 0,
            format!("{what}: the read left rows in the log"),
        )?;
    }
    Ok(())
}

/// A copy's first read reads everything.
async fn full_read(server: &Server, db: &TempDb) -> Result<mrt_db::Schema, Failed> {
    let copy = server
        .clone_db(db)
        .await
        .map_err(|e| format!("clone: {e}"))?;
    let schema = copy
        .introspect(&[])
        .await
        .map_err(|e| format!("read copy: {e}"))?;
    server
        .drop_database(copy)
        .await
        .map_err(|e| format!("drop copy: {e}"))?;
    Ok(schema)
}

/// Rows in the log; `None` when it cannot be read.
async fn log_rows(client: &mut PgConnection) -> Option<i64> {
    sqlx::query_scalar("SELECT count(*) FROM _mrt_ddl.log")
        .fetch_one(client)
        .await
        .ok()
}
