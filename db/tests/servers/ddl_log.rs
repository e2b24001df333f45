//! PostgreSQL: a schema read after a migration step re-reads only what the DDL log names, and
//! must equal a full read. Each step below is a kind of DDL a migration does, run by another
//! session (as the Python worker does); after each, the database's read is compared with a full
//! read of a copy of it (a new handle, which reads everything).

use libtest_mimic::Failed;
use mrt_db::{Server, TempDb};
use sqlx::{Connection, PgConnection};

use super::common::full_read;
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
        let mut client = connect(&db).await?;
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

/// Rows in the log; `None` when it cannot be read.
async fn log_rows(client: &mut PgConnection) -> Option<i64> {
    sqlx::query_scalar("SELECT count(*) FROM _mrt_ddl.log")
        .fetch_one(client)
        .await
        .ok()
}

/// A database copied as a snapshot, or handed to another process, carries its last read: the
/// copy's first read takes it, with what the log says changed since, and equals a full read. A
/// read kept by another build of mrt is not taken.
pub fn copies_take_over_the_kept_read(url: String) -> Result<(), Failed> {
    block_on(async move {
        let run = run_id("kept");
        let server = (Server::connect(&url, &run).await).map_err(|e| format!("connect: {e}"))?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let key = format!(
            "{:x}",
            std::time::UNIX_EPOCH
                .elapsed()
                .unwrap_or_default()
                .as_nanos()
        );
        let result = kept(&server, dir.path(), &key).await;
        let _ = server.drop_snapshot(&key, dir.path()).await;
        server
            .cleanup()
            .await
            .map_err(|e| format!("cleanup: {e}"))?;
        result
    })
}

async fn kept(server: &Server, dir: &std::path::Path, key: &str) -> Result<(), Failed> {
    let db = server.create().await.map_err(|e| format!("create: {e}"))?;
    db.introspect(&[])
        .await
        .map_err(|e| format!("first read: {e}"))?;
    run(
        &db,
        "CREATE TABLE a (id int PRIMARY KEY, name text);
              CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));",
    )
    .await?;
    db.introspect(&[]).await.map_err(|e| format!("read: {e}"))?;
    server
        .save_snapshot(&db, key, dir)
        .await
        .map_err(|e| format!("save: {e}"))?;
    let copy = server
        .restore_snapshot(key, dir)
        .await
        .map_err(|e| format!("restore: {e}"))?;
    let body = kept_read(&copy)
        .await?
        .ok_or("the snapshot holds no kept read")?;
    // Changes after the snapshot are in the copy's log, and are read on top of the kept read.
    run(
        &copy,
        "ALTER TABLE a RENAME COLUMN id TO a_key; ALTER TABLE b ADD COLUMN note text;",
    )
    .await?;
    same_as_full(server, &copy, "snapshot copy").await?;
    ensure(
        kept_read(&copy).await?.is_none(),
        "the copy's read left the kept read in place",
    )?;

    // Handed to another process: renamed, claimed, read.
    copy.introspect(&[])
        .await
        .map_err(|e| format!("read: {e}"))?;
    let handed = server
        .hand_off(&copy, key)
        .await
        .map_err(|e| format!("hand off: {e}"))?;
    ensure(handed.is_some(), "the copy was not handed off")?;
    let (claimed, _) = (server.claim(&[key.to_string()]).await)
        .map_err(|e| format!("claim: {e}"))?
        .ok_or("the handed-off database was not claimed")?;
    ensure(
        kept_read(&claimed).await?.is_some(),
        "the handed-off database holds no kept read",
    )?;
    same_as_full(server, &claimed, "claimed").await?;

    // Another build's read is not taken: here the snapshot's read without table b, which would
    // be wrong if it were.
    let other = server
        .restore_snapshot(key, dir)
        .await
        .map_err(|e| format!("restore: {e}"))?;
    let mut wrong: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("the kept read is not JSON: {e}"))?;
    let removed =
        (wrong.pointer_mut("/read/schema/tables")).and_then(|t| t.as_object_mut()?.remove("b"));
    ensure(
        removed.is_some(),
        format!("no table b in the kept read {body}"),
    )?;
    let update = format!(
        "UPDATE _mrt_ddl.kept SET stamp = 'another build', body = {}",
        quote(&wrong.to_string())
    );
    run(&other, &update).await?;
    same_as_full(server, &other, "another build's read").await?;

    // This build's read is taken as it is: the same wrong read under this build's stamp is what
    // the copy reads (a debug build checks it against a full read, and says they differ).
    let third = server
        .restore_snapshot(key, dir)
        .await
        .map_err(|e| format!("restore: {e}"))?;
    run(
        &third,
        &format!(
            "UPDATE _mrt_ddl.kept SET body = {}",
            quote(&wrong.to_string())
        ),
    )
    .await?;
    match third.introspect(&[]).await {
        Ok(schema) => ensure(
            !cfg!(debug_assertions) && !schema.tables.contains_key("b"),
            format!("the kept read was not taken: {:?}", schema.tables.keys()),
        ),
        Err(e) => ensure(
            cfg!(debug_assertions) && e.to_string().contains("differs from a full read"),
            format!("reading a copy with a wrong kept read: {e}"),
        ),
    }
}

/// A session of its own on `db`.
async fn connect(db: &TempDb) -> Result<PgConnection, Failed> {
    Ok(PgConnection::connect(&db.url())
        .await
        .map_err(|e| format!("connect to {}: {e}", db.name()))?)
}

/// Runs `script` on `db` in a session of its own.
async fn run(db: &TempDb, script: &str) -> Result<(), Failed> {
    let mut client = connect(db).await?;
    sqlx::raw_sql(script)
        .execute(&mut client)
        .await
        .map_err(|e| format!("{script}: {e}"))?;
    Ok(())
}

/// The read kept in `db`, if any.
async fn kept_read(db: &TempDb) -> Result<Option<String>, Failed> {
    let mut client = connect(db).await?;
    Ok(sqlx::query_scalar("SELECT body FROM _mrt_ddl.kept")
        .fetch_optional(&mut client)
        .await
        .map_err(|e| format!("reading the kept read: {e}"))?)
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

async fn same_as_full(server: &Server, db: &TempDb, what: &str) -> Result<(), Failed> {
    let got = db
        .introspect(&[])
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let full = full_read(server, db).await?;
    ensure(
        got == full,
        format!("{what}: the read differs from a full read\n  got  {got:?}\n  full {full:?}"),
    )
}
