//! diff_schemas and diff_rows on real SQLite databases: every kind of loss is reported with a
//! clear message, and a faithful batch-mode rebuild compares equal.

mod common;

use common::exec;
use mrt_db::{diff_rows, diff_schemas, RowDiffKind, SqliteServer, TempDb, Value};

const BASE: &str = r#"
CREATE TABLE orgs (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    email VARCHAR(120),
    age INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT ck_age CHECK (age >= 0)
);
CREATE INDEX ix_users_email ON users (email);
CREATE VIEW v_users AS SELECT id, email FROM users;
CREATE TRIGGER trg_users AFTER INSERT ON users BEGIN SELECT 1; END;
INSERT INTO orgs VALUES (1, 'acme'), (2, 'globex');
INSERT INTO users VALUES (1, 1, 'a@x', 30), (2, 2, NULL, 0), (3, 1, 'c@x', 41);
"#;

/// Alembic batch mode: create the new table, copy, drop the old one, rename, recreate the index
/// and trigger (dropped with the old table) and the view (SQLite refuses the rename while a view
/// points at the missing table).
fn rebuild_users(create_tmp: &str) -> String {
    format!(
        "DROP VIEW v_users;
         {create_tmp};
         INSERT INTO _alembic_tmp_users (id, org_id, email, age) SELECT id, org_id, email, age FROM users;
         DROP TABLE users;
         ALTER TABLE _alembic_tmp_users RENAME TO users;
         CREATE INDEX ix_users_email ON users (email);
         CREATE TRIGGER trg_users AFTER INSERT ON users BEGIN SELECT 1; END;
         CREATE VIEW v_users AS SELECT id, email FROM users;"
    )
}

async fn base(server: &SqliteServer) -> TempDb {
    let db = server.create().await.expect("create");
    exec(&db, BASE).await;
    db
}

/// Differences (as messages) between the base schema and the base schema after `script`.
async fn schema_diff_after(server: &SqliteServer, script: &str) -> Vec<String> {
    let db = base(server).await;
    let before = db.introspect(&[]).await.expect("introspect before");
    exec(&db, script).await;
    let after = db.introspect(&[]).await.expect("introspect after");
    server.drop_database(db).await.expect("drop");
    diff_schemas(&before, &after)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn each_kind_of_schema_difference_is_reported() {
    let server = SqliteServer::new("diff").expect("server");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "dropped column",
            "DROP INDEX ix_users_email; DROP VIEW v_users; ALTER TABLE users DROP COLUMN email; \
             CREATE VIEW v_users AS SELECT id, email FROM users"
                .into(),
            vec![
                "column users.email: was VARCHAR(120) NULL, now missing",
                "index ix_users_email on users: was (email), now missing",
            ],
        ),
        (
            "changed type",
            rebuild_users(
                "CREATE TABLE _alembic_tmp_users (id INTEGER PRIMARY KEY, org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE, \
                 email VARCHAR(50), age INTEGER NOT NULL DEFAULT 0, CONSTRAINT ck_age CHECK (age >= 0))",
            ),
            vec!["column users.email: was VARCHAR(120) NULL, now VARCHAR(50) NULL"],
        ),
        (
            "changed nullability",
            rebuild_users(
                "CREATE TABLE _alembic_tmp_users (id INTEGER PRIMARY KEY, org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE, \
                 email VARCHAR(120), age INTEGER DEFAULT 0, CONSTRAINT ck_age CHECK (age >= 0))",
            ),
            vec!["column users.age: was INTEGER NOT NULL DEFAULT 0, now INTEGER NULL DEFAULT 0"],
        ),
        (
            "changed default",
            rebuild_users(
                "CREATE TABLE _alembic_tmp_users (id INTEGER PRIMARY KEY, org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE, \
                 email VARCHAR(120), age INTEGER NOT NULL, CONSTRAINT ck_age CHECK (age >= 0))",
            ),
            vec!["column users.age: was INTEGER NOT NULL DEFAULT 0, now INTEGER NOT NULL"],
        ),
        (
            "lost index",
            "DROP INDEX ix_users_email".into(),
            vec!["index ix_users_email on users: was (email), now missing"],
        ),
        (
            "index uniqueness",
            "DROP INDEX ix_users_email; CREATE UNIQUE INDEX ix_users_email ON users (email)".into(),
            vec!["index ix_users_email on users: was (email), now UNIQUE (email)"],
        ),
        (
            "foreign key action",
            rebuild_users(
                "CREATE TABLE _alembic_tmp_users (id INTEGER PRIMARY KEY, org_id INTEGER REFERENCES orgs(id), \
                 email VARCHAR(120), age INTEGER NOT NULL DEFAULT 0, CONSTRAINT ck_age CHECK (age >= 0))",
            ),
            vec![
                "foreign key users(org_id) -> orgs(id): was unnamed, ON DELETE CASCADE, ON UPDATE NO ACTION, \
                 now unnamed, ON DELETE NO ACTION, ON UPDATE NO ACTION",
            ],
        ),
        (
            "lost foreign key",
            rebuild_users(
                "CREATE TABLE _alembic_tmp_users (id INTEGER PRIMARY KEY, org_id INTEGER, \
                 email VARCHAR(120), age INTEGER NOT NULL DEFAULT 0, CONSTRAINT ck_age CHECK (age >= 0))",
            ),
            vec![
                "foreign key users(org_id) -> orgs(id): was unnamed, ON DELETE CASCADE, ON UPDATE NO ACTION, now missing",
            ],
        ),
        (
            "lost check",
            rebuild_users(
                "CREATE TABLE _alembic_tmp_users (id INTEGER PRIMARY KEY, org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE, \
                 email VARCHAR(120), age INTEGER NOT NULL DEFAULT 0)",
            ),
            vec!["check constraint on users (age >= 0): was named ck_age, now missing"],
        ),
        (
            "changed view",
            "DROP VIEW v_users; CREATE VIEW v_users AS SELECT id FROM users".into(),
            vec![
                "view v_users: was create view v_users as select id, email from users, \
                 now create view v_users as select id from users",
            ],
        ),
        (
            "lost trigger",
            "DROP TRIGGER trg_users".into(),
            vec!["trigger trg_users: was on users: create trigger trg_users after insert on users begin select 1; end, now missing"],
        ),
        (
            "added table",
            "CREATE TABLE leftover (x INT, y TEXT)".into(),
            vec!["table leftover: not there before, now a table with columns (x, y)"],
        ),
        (
            "dropped table",
            "DROP TABLE orgs".into(),
            vec!["table orgs: was a table with columns (id, name), now missing"],
        ),
    ];
    for (what, script, expected) in cases {
        let got = schema_diff_after(&server, &script).await;
        assert_eq!(got, expected, "case {what}");
    }
    server.cleanup().expect("cleanup");
}

#[tokio::test]
async fn faithful_batch_rebuild_compares_equal() {
    let server = SqliteServer::new("rebuild").expect("server");
    let db = base(&server).await;
    let schema_before = db.introspect(&[]).await.expect("introspect");
    let users_before = &schema_before.tables["users"];
    let rows_before = db.read_rows(users_before).await.expect("rows");

    // Same table written the way SQLAlchemy writes it: quoted names, table-level PK, spacing,
    // an explicit NO ACTION, redundant parentheses, lower-case and synonym types.
    exec(
        &db,
        &rebuild_users(
            "CREATE TABLE \"_alembic_tmp_users\" (\n\t\"id\" integer NOT NULL, \n\t\"org_id\" INTEGER, \
             \n\temail varchar( 120 ), \n\tage INT NOT NULL DEFAULT (0), \n\tPRIMARY KEY (\"id\"), \
             \n\tCONSTRAINT \"ck_age\" CHECK ((\"age\" >= 0)), \
             \n\tFOREIGN KEY(org_id) REFERENCES \"orgs\" (id) ON DELETE CASCADE ON UPDATE NO ACTION\n)",
        ),
    )
    .await;
    let schema_after = db.introspect(&[]).await.expect("introspect");
    let diffs: Vec<String> = diff_schemas(&schema_before, &schema_after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(diffs.is_empty(), "{diffs:#?}");
    let users_after = &schema_after.tables["users"];
    let rows_after = db.read_rows(users_after).await.expect("rows");
    assert!(diff_rows(users_before, &rows_before, users_after, &rows_after).is_empty());
    server.cleanup().expect("cleanup");
}

#[tokio::test]
async fn row_differences_from_a_real_database() {
    let server = SqliteServer::new("rows").expect("server");
    let db = server.create().await.expect("create");
    exec(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v, note TEXT);
         INSERT INTO t VALUES (1, 1, 'a'), (2, 2, ''), (3, 3, 'c');",
    )
    .await;
    let schema = db.introspect(&[]).await.expect("introspect");
    let table = &schema.tables["t"];
    let before = db.read_rows(table).await.expect("rows");
    exec(
        &db,
        "DELETE FROM t WHERE id = 3;
         UPDATE t SET v = '1' WHERE id = 1;
         UPDATE t SET note = NULL WHERE id = 2;
         INSERT INTO t VALUES (4, 4, 'new');",
    )
    .await;
    let after = db.read_rows(table).await.expect("rows");
    let diffs: Vec<String> = diff_rows(table, &before, table, &after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        diffs,
        [
            "table t, row id=1: column v was 1 (integer), now '1' (text)",
            "table t, row id=2: column note was '' (text), now NULL (null)",
            "table t, row id=3: lost",
            "table t, row id=4: left behind (not there before)",
        ]
    );
    let kinds = diff_rows(table, &before, table, &after);
    assert_eq!(
        kinds[0].kind,
        RowDiffKind::Changed {
            column: "v".into(),
            before: Value::Int(1),
            after: Value::Text("1".into()),
        }
    );
    server.cleanup().expect("cleanup");
}
