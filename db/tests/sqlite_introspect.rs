//! Introspection of a rich SQLite schema gives the expected dialect-neutral model.

mod common;

use common::exec;
use mrt_db::{
    CheckConstraint, Column, Dialect, ForeignKey, Index, SqliteServer, Table, Trigger,
    UniqueConstraint, View,
};

const RICH: &str = r#"
CREATE TABLE orgs (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE, code TEXT,
    CONSTRAINT uq_orgs_code UNIQUE (code));
CREATE TABLE users (
    id INTEGER NOT NULL,
    org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    email VARCHAR(120) NOT NULL,
    status VARCHAR(8) DEFAULT 'active' CONSTRAINT ck_users_status CHECK (status IN ('active', 'banned')),
    balance NUMERIC(12, 2) DEFAULT (0),
    created DATETIME DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    CHECK (balance >= 0)
);
CREATE TABLE memberships (
    user_id INTEGER NOT NULL, org_id INTEGER NOT NULL, role TEXT,
    PRIMARY KEY (user_id, org_id),
    CONSTRAINT fk_m_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE SET NULL,
    FOREIGN KEY (org_id) REFERENCES orgs
);
CREATE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, lower(email) DESC);
CREATE INDEX ix_users_active ON users (created) WHERE status = 'active';
CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE TRIGGER trg_users_audit AFTER UPDATE ON users BEGIN
    UPDATE users SET created = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
"#;

fn col(name: &str, ty: &str, nullable: bool) -> Column {
    Column {
        name: name.into(),
        data_type: ty.into(),
        nullable,
        ..Column::default()
    }
}

#[tokio::test]
async fn rich_schema_model() {
    let server = SqliteServer::new("intro").expect("server");
    let db = server.create().await.expect("create");
    assert_eq!(db.dialect(), Dialect::Sqlite);
    exec(&db, RICH).await;
    let schema = db
        .introspect(&["alembic_version"])
        .await
        .expect("introspect");

    assert_eq!(
        schema.tables.keys().collect::<Vec<_>>(),
        ["memberships", "orgs", "users"]
    );

    let orgs = Table {
        name: "orgs".into(),
        columns: vec![
            Column {
                autoincrement: true,
                ..col("id", "INTEGER", false)
            },
            Column {
                max_length: Some(50),
                ..col("name", "VARCHAR(50)", false)
            },
            col("code", "TEXT", true),
        ],
        primary_key: vec!["id".into()],
        foreign_keys: vec![],
        indexes: vec![],
        uniques: vec![
            UniqueConstraint {
                name: Some("uq_orgs_code".into()),
                columns: vec!["code".into()],
            },
            UniqueConstraint {
                name: None,
                columns: vec!["name".into()],
            },
        ],
        checks: vec![],
        exclusions: vec![],
    };
    assert_eq!(*schema.tables["orgs"], orgs);

    let users = Table {
        name: "users".into(),
        columns: vec![
            Column {
                autoincrement: true,
                ..col("id", "INTEGER", false)
            },
            col("org_id", "INTEGER", true),
            Column {
                max_length: Some(120),
                ..col("email", "VARCHAR(120)", false)
            },
            Column {
                default: Some("'active'".into()),
                max_length: Some(8),
                enum_values: Some(vec!["active".into(), "banned".into()]),
                ..col("status", "VARCHAR(8)", true)
            },
            Column {
                default: Some("0".into()),
                numeric_precision: Some(12),
                numeric_scale: Some(2),
                ..col("balance", "NUMERIC(12, 2)", true)
            },
            Column {
                default: Some("current_timestamp".into()),
                ..col("created", "DATETIME", true)
            },
        ],
        primary_key: vec!["id".into()],
        foreign_keys: vec![ForeignKey {
            name: None,
            columns: vec!["org_id".into()],
            ref_table: "orgs".into(),
            ref_columns: vec!["id".into()],
            on_delete: Some("CASCADE".into()),
            on_update: None,
        }],
        indexes: vec![
            Index {
                name: "ix_users_active".into(),
                columns: vec!["created".into()],
                unique: false,
                partial: Some("status = 'active'".into()),
                method: None,
            },
            Index {
                name: "ix_users_email".into(),
                columns: vec!["email".into()],
                unique: false,
                partial: None,
                method: None,
            },
            Index {
                name: "ux_users_org_email".into(),
                columns: vec!["org_id".into(), "lower (email) DESC".into()],
                unique: true,
                partial: None,
                method: None,
            },
        ],
        uniques: vec![],
        checks: vec![
            CheckConstraint {
                name: None,
                expression: "balance >= 0".into(),
            },
            CheckConstraint {
                name: Some("ck_users_status".into()),
                expression: "status in ('active', 'banned')".into(),
            },
        ],
        exclusions: vec![],
    };
    assert_eq!(*schema.tables["users"], users);

    let memberships = Table {
        name: "memberships".into(),
        columns: vec![
            col("user_id", "INTEGER", false),
            col("org_id", "INTEGER", false),
            col("role", "TEXT", true),
        ],
        primary_key: vec!["user_id".into(), "org_id".into()],
        foreign_keys: vec![
            ForeignKey {
                name: None,
                columns: vec!["org_id".into()],
                ref_table: "orgs".into(),
                ref_columns: vec!["id".into()],
                on_delete: None,
                on_update: None,
            },
            ForeignKey {
                name: Some("fk_m_user".into()),
                columns: vec!["user_id".into()],
                ref_table: "users".into(),
                ref_columns: vec!["id".into()],
                on_delete: Some("CASCADE".into()),
                on_update: Some("SET NULL".into()),
            },
        ],
        indexes: vec![],
        uniques: vec![],
        checks: vec![],
        exclusions: vec![],
    };
    assert_eq!(*schema.tables["memberships"], memberships);

    assert_eq!(
        schema.views.values().collect::<Vec<_>>(),
        [&View {
            name: "active_users".into(),
            definition:
                "create view active_users as select id, email from users where status = 'active'"
                    .into(),
        }]
    );
    assert_eq!(
        schema.triggers.values().collect::<Vec<_>>(),
        [&Trigger {
            name: "trg_users_audit".into(),
            table: "users".into(),
            definition: "create trigger trg_users_audit after update on users begin update users \
                         set created = current_timestamp where id = new.id; end"
                .into(),
        }]
    );

    let order: Vec<&str> = schema
        .user_tables_parent_first()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(order, ["orgs", "users", "memberships"]);

    // Without the ignore list, alembic_version is a table like any other.
    let all = db.introspect(&[]).await.expect("introspect");
    assert_eq!(all.tables["alembic_version"].primary_key, ["version_num"]);

    server.cleanup().expect("cleanup");
}

#[tokio::test]
async fn unparseable_table_is_an_error_naming_it() {
    let server = SqliteServer::new("bad").expect("server");
    let db = server.create().await.expect("create");
    // Valid SQLite that sqlparser 0.63 does not accept (`IS NOT <value>`); mrt must say so,
    // naming database and table, instead of silently dropping the CHECK.
    exec(&db, "CREATE TABLE weird (a TEXT CHECK (a IS NOT 'x'))").await;
    let err = db.introspect(&[]).await.expect_err("unparseable CHECK");
    let msg = err.to_string();
    assert!(msg.contains("table weird"), "{msg}");
    assert!(msg.contains(db.name()), "{msg}");
    // Ignoring the table is the way out.
    let schema = db.introspect(&["weird"]).await.expect("ignored");
    assert!(schema.tables.is_empty());
}

/// The worker reports SQLite schemas as `sqlite_master` texts; a table rebuilt by a batch
/// operation is stored as `CREATE TABLE "t"`, so the same schema can come with other texts.
/// The model built from the texts must equal the one read from a database holding them.
#[tokio::test]
async fn schema_from_master_texts_equals_introspection() {
    let server = SqliteServer::new("texts").expect("server");
    let db = server.create().await.expect("create");
    exec(&db, RICH).await;
    let read = db.introspect(&["alembic_version"]).await.expect("read");
    let row = |kind: &str, name: &str, table: &str, sql: &str| {
        (
            kind.to_string(),
            name.to_string(),
            table.to_string(),
            Some(sql.to_string()),
        )
    };
    // The same objects, but the texts as a rebuild would store them (quoted, other spacing)
    // and in another order; the implicit index of a UNIQUE column has no text.
    // Statements of RICH; the trigger's body has its own `;` before `END`.
    let mut statements: Vec<String> = Vec::new();
    for piece in RICH.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        match statements.last_mut() {
            Some(last) if piece == "END" => last.push_str(";\nEND"),
            _ => statements.push(piece.to_string()),
        }
    }
    // (type, name, tbl_name) of one of RICH's statements.
    let describe = |sql: &str| -> (&'static str, String, String) {
        let words: Vec<&str> = sql.split_whitespace().collect();
        let (kind, name, table) = match words[1] {
            "TABLE" => ("table", words[2], words[2]),
            "INDEX" => ("index", words[2], words[4]),
            "UNIQUE" => ("index", words[3], words[5]),
            "VIEW" => ("view", words[2], "users"),
            _ => ("trigger", words[2], "users"),
        };
        (kind, name.to_string(), table.to_string())
    };
    // Texts exactly as stored: every table comes from the cache filled by the read above.
    let stored: Vec<(String, String, String, Option<String>)> = statements
        .iter()
        .map(|sql| {
            let (kind, name, table) = describe(sql);
            row(kind, &name, &table, sql)
        })
        .collect();
    let cached = mrt_db::SchemaHint::from_sqlite_master_rows(stored.clone())
        .schema(&["alembic_version"])
        .await
        .expect("model from stored texts");
    assert_eq!(cached, read);
    let mut rows: Vec<(String, String, String, Option<String>)> = Vec::new();
    for sql in statements.iter().rev() {
        let (kind, name, table) = describe(sql);
        let sql = sql.replacen(&format!(" {name} "), &format!(" \"{name}\" "), 1);
        rows.push(row(kind, &name, &table, &sql.replace('\n', "\n  ")));
    }
    rows.push((
        "index".into(),
        "sqlite_autoindex_orgs_1".into(),
        "orgs".into(),
        None,
    ));
    let built = mrt_db::SchemaHint::from_sqlite_master_rows(rows.clone())
        .schema(&["alembic_version"])
        .await
        .expect("model from texts");
    assert_eq!(built, read);
    // A real difference still shows.
    rows.retain(|r| r.1 != "ix_users_email");
    let built = mrt_db::SchemaHint::from_sqlite_master_rows(rows.clone())
        .schema(&["alembic_version"])
        .await
        .expect("model from texts");
    assert_ne!(built, read);
}
