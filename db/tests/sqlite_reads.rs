//! SQLite: a schema read after a step re-reads only the tables the database's own connection
//! changed (SQLite's authorizer names them), and must equal a full read. Each step below is a
//! kind of DDL a migration does, most run as the SQL runner runs them (through the database's
//! own connection), some by another connection (as the Python worker does); after each, the
//! database's read is compared with the read of a copy (a new handle, which reads everything).

mod common;

use common::full_read;
use mrt_db::{ScriptOptions, Server};

/// Who runs a step: the database's own connection, or another one.
#[derive(Clone, Copy, PartialEq)]
enum By {
    Own,
    Other,
}

/// (what, script, who runs it).
const STEPS: &[(&str, &str, By)] = &[
    (
        "tables, foreign key, index, view, trigger",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
         CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id), note TEXT);
         CREATE INDEX ix_b_note ON b (note);
         CREATE VIEW v AS SELECT name FROM a;
         CREATE TRIGGER tg AFTER INSERT ON b BEGIN UPDATE a SET name = name WHERE id = NEW.a_id; END;",
        By::Own,
    ),
    (
        "rename a referenced column (b's foreign key text changes)",
        "ALTER TABLE a RENAME COLUMN id TO a_key;",
        By::Own,
    ),
    (
        "rename a referenced table (b's key, the view and b's trigger change)",
        "ALTER TABLE a RENAME TO a2;",
        By::Own,
    ),
    ("add a column", "ALTER TABLE b ADD COLUMN extra INTEGER;", By::Own),
    ("drop a column", "ALTER TABLE b DROP COLUMN extra;", By::Own),
    (
        "drop an index, make a unique partial one",
        "DROP INDEX ix_b_note; CREATE UNIQUE INDEX ux_b ON b (lower(note)) WHERE note IS NOT NULL;",
        By::Own,
    ),
    (
        "AUTOINCREMENT (SQLite adds sqlite_sequence)",
        "CREATE TABLE c (id INTEGER PRIMARY KEY AUTOINCREMENT, x TEXT);",
        By::Own,
    ),
    (
        "a table rebuilt by copy, as Alembic's batch mode does",
        "CREATE TABLE _b_new (id INTEGER PRIMARY KEY, a_id INTEGER, note TEXT NOT NULL DEFAULT '');
         INSERT INTO _b_new (id, a_id, note) SELECT id, a_id, coalesce(note, '') FROM b;
         DROP TABLE b;
         ALTER TABLE _b_new RENAME TO b;",
        By::Own,
    ),
    (
        "a step rolled back",
        "BEGIN; CREATE TABLE d (x INTEGER); DROP TABLE c; ROLLBACK;",
        By::Own,
    ),
    (
        "VACUUM may renumber sqlite_master",
        "DROP TABLE c; VACUUM; CREATE TABLE e (id INTEGER PRIMARY KEY);",
        By::Own,
    ),
    (
        "a virtual table (FTS5 makes shadow tables)",
        "CREATE VIRTUAL TABLE docs USING fts5(body);",
        By::Own,
    ),
    (
        "the virtual table renamed (its shadow tables too)",
        "ALTER TABLE docs RENAME TO pages;",
        By::Own,
    ),
    (
        "the virtual table dropped (its shadow tables too)",
        "DROP TABLE pages;",
        By::Own,
    ),
    (
        "another connection makes a table",
        "CREATE TABLE f (id INTEGER PRIMARY KEY);",
        By::Other,
    ),
    (
        "another connection alters a table the last read holds (no new row shows it)",
        "ALTER TABLE b ADD COLUMN z INTEGER;",
        By::Other,
    ),
    (
        "then the database's own connection alters it",
        "ALTER TABLE f ADD COLUMN g TEXT;",
        By::Own,
    ),
    (
        "sqlite_master written directly (no statement names the table)",
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_master SET sql = 'CREATE TABLE e (id INTEGER PRIMARY KEY CHECK (id > 0))'
           WHERE name = 'e';
         PRAGMA writable_schema = RESET;",
        By::Own,
    ),
    ("and after that", "CREATE TABLE h (id INTEGER);", By::Own),
];

#[test]
fn schema_reads_follow_what_the_connection_changed() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = Server::sqlite("sqlitereads").expect("server");
        let result = steps(&server).await;
        server.cleanup().await.expect("cleanup");
        if let Err(e) = result {
            panic!("{e}");
        }
    });
}

async fn steps(server: &Server) -> Result<(), String> {
    let db = server.create().await.map_err(|e| format!("create: {e}"))?;
    db.introspect(&[])
        .await
        .map_err(|e| format!("first read: {e}"))?;
    for (what, script, by) in STEPS {
        match by {
            By::Own => {
                let options = ScriptOptions {
                    transaction: false,
                    then: &[],
                };
                (db.run_script(script, options).await).map_err(|e| format!("{what}: {e:?}"))?;
            }
            By::Other => common::exec(&db, script).await,
        }
        let got = db
            .introspect(&[])
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let full = full_read(server, &db).await?;
        if got != full {
            return Err(format!(
                "{what}: the read differs from a full read\n  got  {got:?}\n  full {full:?}"
            ));
        }
    }
    // The steps did change the schema (a read that never changed would pass the above).
    let last = db.introspect(&[]).await.map_err(|e| e.to_string())?;
    let names: Vec<&str> = last.tables.keys().map(String::as_str).collect();
    if names != ["a2", "b", "e", "f", "h"] || last.views.len() != 1 {
        return Err(format!("unexpected final schema: {last:?}"));
    }
    Ok(())
}
