//! PostgreSQL cases: server lifecycle and clean-up, login errors, introspection, diff, rows.

use libtest_mimic::Failed;
use mrt_db::{
    diff_rows, diff_schemas, drop_leftovers, CheckConstraint, Column, DbError, Dialect, ForeignKey,
    Index, Server, TempDb, UniqueConstraint, Value,
};
use sqlx::{Connection, PgConnection};

use super::{block_on, ensure, run_id, Case};

pub const CASES: &[Case] = &[
    ("lifecycle_create_clone_drop_cleanup", lifecycle),
    ("drop_without_cleanup_drops_databases", drop_cleans_up),
    ("drop_leftovers_of_crashed_run", leftovers),
    ("clean_keeps_a_live_runs_databases", live_run_kept),
    ("bad_port_and_login_give_one_clear_error", bad_login),
    ("introspect_rich_schema", introspect_rich),
    ("diff_scale_enum_and_faithful_recreate", diff),
    ("rows_round_trip_every_kind", rows_round_trip),
    ("rows_errors_name_the_table", rows_errors),
    ("rows_numeric_scale_loss_is_visible", numeric_scale_loss),
];

fn fail(context: &str) -> impl Fn(DbError) -> Failed + '_ {
    move |e| format!("{context}: {e}").into()
}

async fn connect(url: &str) -> Result<PgConnection, Failed> {
    PgConnection::connect(url)
        .await
        .map_err(|e| format!("connecting to {url}: {e}").into())
}

/// Run a script on the database through a separate connection, as the Python worker would.
async fn exec(db: &TempDb, sql: &str) -> Result<(), Failed> {
    let mut conn = connect(&db.url()).await?;
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("script failed: {e}\n{sql}"))?;
    conn.close().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// The databases on the server whose names start with `prefix` (read from the catalog, not
/// from mrt's own registry).
async fn databases(url: &str, prefix: &str) -> Result<Vec<String>, Failed> {
    let mut conn = connect(url).await?;
    let mut names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)")
            .bind(prefix)
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    names.sort();
    Ok(names)
}

async fn server(url: &str, test: &str) -> Result<(Server, String), Failed> {
    let run = run_id(test);
    let server = Server::connect(url, &run).await.map_err(fail("connect"))?;
    Ok((server, run))
}

fn lifecycle(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, run) = server(&url, "life").await?;
        ensure(server.dialect() == Dialect::Postgres, "dialect")?;
        ensure(
            server.label().starts_with("postgres ") && server.label().contains(':'),
            format!("label {}", server.label()),
        )?;
        let a = server.create().await.map_err(fail("create"))?;
        ensure(
            a.name() == format!("mrt_{run}_1"),
            format!("name {}", a.name()),
        )?;
        ensure(
            a.url().starts_with("postgresql://") && a.url().ends_with(&format!("/{}", a.name())),
            a.url(),
        )?;
        exec(
            &a,
            "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one'), (2, 'two');",
        )
        .await?;
        // A session left open on the source (like a Python worker's) must not block the clone.
        let mut open = connect(&a.url()).await?;
        sqlx::query("SELECT 1")
            .execute(&mut open)
            .await
            .map_err(|e| e.to_string())?;
        let schema = a.introspect(&[]).await.map_err(fail("introspect a"))?;
        let b = server.clone_db(&a).await.map_err(fail("clone"))?;
        let rows = b
            .read_rows(&schema.tables["t"])
            .await
            .map_err(fail("read clone"))?;
        ensure(
            rows == vec![
                vec![Value::Int(1), Value::Text("one".into())],
                vec![Value::Int(2), Value::Text("two".into())],
            ],
            format!("clone rows {rows:?}"),
        )?;
        // The source handle still works after being used as a template.
        ensure(
            a.read_rows(&schema.tables["t"])
                .await
                .map_err(fail("read a"))?
                .len()
                == 2,
            "source rows",
        )?;
        let prefix = format!("mrt_{run}_");
        ensure(
            databases(&url, &prefix).await? == vec![format!("{prefix}1"), format!("{prefix}2")],
            "two databases in the catalog",
        )?;
        server.drop_database(b).await.map_err(fail("drop"))?;
        ensure(
            databases(&url, &prefix).await? == vec![format!("{prefix}1")],
            "clone dropped",
        )?;
        let _c = server.create().await.map_err(fail("create c"))?;
        ensure(
            server.created_databases().len() == 2,
            "registry has a and c",
        )?;
        server.cleanup().await.map_err(fail("cleanup"))?;
        let left = databases(&url, &prefix).await?;
        ensure(left.is_empty(), format!("left after cleanup: {left:?}"))?;
        ensure(
            matches!(server.create().await, Err(DbError::ServerClosed { .. })),
            "create after cleanup must fail",
        )?;
        server.cleanup().await.map_err(fail("second cleanup"))?;
        drop(open);
        Ok(())
    })
}

fn drop_cleans_up(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, run) = server(&url, "dropped").await?;
        let _a = server.create().await.map_err(fail("create"))?;
        let _b = server.create().await.map_err(fail("create"))?;
        let prefix = format!("mrt_{run}_");
        ensure(databases(&url, &prefix).await?.len() == 2, "two made")?;
        drop(server);
        let left = databases(&url, &prefix).await?;
        ensure(left.is_empty(), format!("left after drop: {left:?}"))
    })
}

fn live_run_kept(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, run) = server(&url, "live").await?;
        super::live_run_is_kept(&url, server, &run).await
    })
}

fn leftovers(url: String) -> Result<(), Failed> {
    block_on(async move {
        // A crashed run leaves mrt_<run>_<n> behind; a user database that merely starts with
        // mrt_ and another run's databases must survive.
        let run = run_id("crash");
        let other = run_id("other");
        let mut conn = connect(&url).await?;
        let made = [
            format!("mrt_{run}_1"),
            format!("mrt_{run}_7"),
            format!("mrt_{other}_1"),
            format!("mrt_{run}prod"),
        ];
        for name in &made {
            sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        }
        let found = drop_leftovers(&url, &run)
            .await
            .map_err(fail("drop_leftovers"))?;
        let dropped = found.dropped;
        let expected = vec![format!("mrt_{run}_1"), format!("mrt_{run}_7")];
        let mut result = ensure(dropped == expected, format!("dropped {dropped:?}"));
        let left = databases(&url, &format!("mrt_{run}")).await?;
        if result.is_ok() {
            result = ensure(
                left == vec![format!("mrt_{run}prod")],
                format!("left {left:?}"),
            );
        }
        let still = databases(&url, &format!("mrt_{other}_")).await?;
        if result.is_ok() {
            result = ensure(still.len() == 1, "other run untouched");
        }
        for name in [&made[2], &made[3]] {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                .execute(&mut conn)
                .await;
        }
        result
    })
}

fn bad_login(url: String) -> Result<(), Failed> {
    block_on(async move {
        let base = url::Url::parse(&url).map_err(|e| e.to_string())?;
        let host = base.host_str().unwrap_or("127.0.0.1").to_string();
        // Nothing listens on port 1.
        let mut wrong_port = base.clone();
        wrong_port
            .set_port(Some(1))
            .map_err(|_| "set port".to_string())?;
        wrong_port
            .set_password(Some("s3cret-pw"))
            .map_err(|_| "set password".to_string())?;
        let err = Server::connect(wrong_port.as_str(), "bad")
            .await
            .err()
            .ok_or("connecting to port 1 succeeded")?;
        let text = err.to_string();
        ensure(
            matches!(err, DbError::Server { .. }),
            format!("kind: {err:?}"),
        )?;
        ensure(
            text.contains(&format!("{host}:1")),
            format!("names host:port: {text}"),
        )?;
        ensure(!text.contains("s3cret"), format!("password leaked: {text}"))?;
        ensure(!format!("{err:?}").contains("s3cret"), "password in Debug")?;
        // A login the server refuses (a role that does not exist; trust auth accepts any
        // password for real roles).
        let mut wrong_user = base.clone();
        wrong_user
            .set_username("mrt_no_such_role")
            .map_err(|_| "set user".to_string())?;
        wrong_user
            .set_password(Some("s3cret-pw"))
            .map_err(|_| "set password".to_string())?;
        let err = Server::connect(wrong_user.as_str(), "bad")
            .await
            .err()
            .ok_or("login as a missing role succeeded")?;
        let text = err.to_string();
        ensure(
            text.contains("mrt_no_such_role"),
            format!("names the user: {text}"),
        )?;
        ensure(!text.contains("s3cret"), format!("password leaked: {text}"))?;
        ensure(text.lines().count() == 1, format!("one line: {text}"))?;
        // The display URL masks the password, the SQLAlchemy URL keeps it for the worker.
        let mut with_pw = base.clone();
        with_pw
            .set_password(Some("s3cret-pw"))
            .map_err(|_| "set password".to_string())?;
        let server = Server::connect(with_pw.as_str(), &run_id("pw"))
            .await
            .map_err(fail("connect with password (trust)"))?;
        let db = server.create().await.map_err(fail("create"))?;
        ensure(db.display_url().contains(":***@"), db.display_url())?;
        ensure(!db.display_url().contains("s3cret"), db.display_url())?;
        ensure(
            db.url().contains(":s3cret-pw@"),
            "worker URL keeps password",
        )?;
        ensure(
            !format!("{db:?} {server:?}").contains("s3cret"),
            "password in Debug",
        )?;
        server.cleanup().await.map_err(fail("cleanup"))
    })
}

const RICH: &str = r#"
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
CREATE TABLE orgs (id serial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE, code text,
    CONSTRAINT uq_orgs_code UNIQUE (code));
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id integer REFERENCES orgs(id) ON DELETE CASCADE,
    email varchar(120) NOT NULL,
    status varchar(8) DEFAULT 'active' CONSTRAINT ck_users_status CHECK (status IN ('active', 'banned')),
    balance numeric(12, 2) DEFAULT 0,
    feeling mood NOT NULL DEFAULT 'ok',
    created timestamptz DEFAULT now(),
    tags text[],
    nick text COLLATE "C",
    CHECK (balance >= 0)
);
CREATE TABLE memberships (
    user_id bigint NOT NULL, org_id integer NOT NULL, role text,
    PRIMARY KEY (user_id, org_id),
    CONSTRAINT fk_m_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE SET NULL,
    FOREIGN KEY (org_id) REFERENCES orgs
);
CREATE TABLE bookings (room int NOT NULL, during tstzrange NOT NULL,
    CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&));
CREATE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, lower(email) DESC);
CREATE INDEX ix_users_active ON users (created) WHERE status = 'active';
CREATE INDEX ix_users_tags ON users USING gin (tags);
CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created := now(); RETURN NEW; END $$;
CREATE TRIGGER trg_users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL,
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

/// Compare two values and say which field differs.
fn same<T: PartialEq + std::fmt::Debug>(what: &str, got: &T, want: &T) -> Result<(), Failed> {
    ensure(
        got == want,
        format!("{what}:\n  got  {got:?}\n  want {want:?}"),
    )
}

fn introspect_rich(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, _) = server(&url, "intro").await?;
        let db = server.create().await.map_err(fail("create"))?;
        let result = async {
            exec(&db, RICH).await?;
            let s = db
                .introspect(&["alembic_version"])
                .await
                .map_err(fail("introspect"))?;
            same(
                "tables",
                &s.tables.keys().cloned().collect::<Vec<_>>(),
                &["bookings", "memberships", "orgs", "users"].map(String::from).to_vec(),
            )?;
            let orgs = &s.tables["orgs"];
            same(
                "orgs.columns",
                &orgs.columns,
                &vec![
                    Column {
                        autoincrement: true,
                        default: Some("nextval ('orgs_id_seq'::regclass)".into()),
                        ..col("id", "integer", false)
                    },
                    Column {
                        max_length: Some(50),
                        ..col("name", "character varying(50)", false)
                    },
                    col("code", "text", true),
                ],
            )?;
            same("orgs.pk", &orgs.primary_key, &vec!["id".to_string()])?;
            same(
                "orgs.uniques",
                &orgs.uniques,
                &vec![
                    UniqueConstraint {
                        name: Some("uq_orgs_code".into()),
                        columns: vec!["code".into()],
                    },
                    UniqueConstraint {
                        name: Some("orgs_name_key".into()),
                        columns: vec!["name".into()],
                    },
                ],
            )?;

            let users = &s.tables["users"];
            let c = |n: &str| users.column(n).cloned().unwrap_or_default();
            same(
                "users.id",
                &c("id"),
                &Column {
                    autoincrement: true,
                    identity: Some("ALWAYS".into()),
                    ..col("id", "bigint", false)
                },
            )?;
            same(
                "users.status",
                &c("status"),
                &Column {
                    default: Some("'active'::character varying".into()),
                    max_length: Some(8),
                    enum_values: Some(vec!["active".into(), "banned".into()]),
                    ..col("status", "character varying(8)", true)
                },
            )?;
            same(
                "users.balance",
                &c("balance"),
                &Column {
                    default: Some("0".into()),
                    numeric_precision: Some(12),
                    numeric_scale: Some(2),
                    ..col("balance", "numeric(12,2)", true)
                },
            )?;
            same(
                "users.feeling",
                &c("feeling"),
                &Column {
                    default: Some("'ok'::mood".into()),
                    enum_values: Some(vec!["sad".into(), "ok".into(), "happy".into()]),
                    ..col("feeling", "mood", false)
                },
            )?;
            same(
                "users.created",
                &c("created"),
                &Column {
                    default: Some("now ()".into()),
                    ..col("created", "timestamp with time zone", true)
                },
            )?;
            same("users.tags", &c("tags"), &col("tags", "text[]", true))?;
            same(
                "users.nick",
                &c("nick"),
                &Column {
                    collation: Some("C".into()),
                    ..col("nick", "text", true)
                },
            )?;
            same(
                "users.fk",
                &users.foreign_keys,
                &vec![ForeignKey {
                    name: Some("users_org_id_fkey".into()),
                    columns: vec!["org_id".into()],
                    ref_table: "orgs".into(),
                    ref_columns: vec!["id".into()],
                    on_delete: Some("CASCADE".into()),
                    on_update: None,
                }],
            )?;
            same(
                "users.checks",
                &users.checks,
                &vec![
                    CheckConstraint {
                        name: Some("users_balance_check".into()),
                        expression: "balance >= 0::numeric".into(),
                    },
                    CheckConstraint {
                        name: Some("ck_users_status".into()),
                        expression: "status::text = any (array['active'::character varying, 'banned'::character varying]::text[])".into(),
                    },
                ],
            )?;
            same(
                "users.indexes",
                &users.indexes,
                &vec![
                    Index {
                        name: "ix_users_active".into(),
                        columns: vec!["created".into()],
                        unique: false,
                        partial: Some("status::text = 'active'::text".into()),
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
                        name: "ix_users_tags".into(),
                        columns: vec!["tags".into()],
                        unique: false,
                        partial: None,
                        method: Some("gin".into()),
                    },
                    Index {
                        name: "ux_users_org_email".into(),
                        columns: vec!["org_id".into(), "lower (email::text) DESC".into()],
                        unique: true,
                        partial: None,
                        method: None,
                    },
                ],
            )?;

            let m = &s.tables["memberships"];
            same(
                "memberships.pk",
                &m.primary_key,
                &vec!["user_id".to_string(), "org_id".to_string()],
            )?;
            same(
                "memberships.fks",
                &m.foreign_keys,
                &vec![
                    ForeignKey {
                        name: Some("memberships_org_id_fkey".into()),
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
            )?;
            same(
                "bookings.exclusions",
                &s.tables["bookings"].exclusions,
                &vec![CheckConstraint {
                    name: Some("no_overlap".into()),
                    expression: "exclude using gist (room with =, during with &&)".into(),
                }],
            )?;
            same(
                "views",
                &s.views.get("active_users").map(|v| v.definition.clone()),
                &Some("create view active_users as select users.id, users.email from users where users.status::text = 'active'::text".into()),
            )?;
            same(
                "triggers",
                &s.triggers
                    .get("trg_users_touch")
                    .map(|t| (t.table.clone(), t.definition.clone())),
                &Some((
                    "users".into(),
                    "create trigger trg_users_touch before update on users for each row execute function touch ()".into(),
                )),
            )?;
            same(
                "enums",
                &s.enums.get("mood"),
                &Some(&vec!["sad".to_string(), "ok".into(), "happy".into()]),
            )?;
            same(
                "sequences",
                &s.sequences,
                &[
                    (
                        "invoice_no".to_string(),
                        "AS bigint START 1000 INCREMENT 5 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE".to_string(),
                    ),
                    (
                        "orgs_id_seq".to_string(),
                        "AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE OWNED BY orgs.id".to_string(),
                    ),
                ]
                .into_iter()
                .collect(),
            )?;
            ensure(!s.tables.contains_key("alembic_version"), "ignored table")?;
            // Introspecting a clone gives the same schema.
            let copy = server.clone_db(&db).await.map_err(fail("clone"))?;
            let s2 = copy
                .introspect(&["alembic_version"])
                .await
                .map_err(fail("introspect clone"))?;
            let d = diff_schemas(&s, &s2);
            ensure(d.is_empty(), format!("clone differs: {d:?}"))
        }
        .await;
        server.cleanup().await.map_err(fail("cleanup"))?;
        result
    })
}

fn diff(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, _) = server(&url, "diff").await?;
        let result = async {
            let db = server.create().await.map_err(fail("create"))?;
            exec(
                &db,
                "CREATE TYPE st AS ENUM ('a', 'b');
                 CREATE TABLE p (id int PRIMARY KEY, amount numeric(10,3), s st);",
            )
            .await?;
            let s0 = db.introspect(&[]).await.map_err(fail("s0"))?;

            // Scale change.
            exec(&db, "ALTER TABLE p ALTER COLUMN amount TYPE numeric(10,2)").await?;
            let s1 = db.introspect(&[]).await.map_err(fail("s1"))?;
            let d = diff_schemas(&s0, &s1);
            ensure(d.len() == 1, format!("one difference: {d:?}"))?;
            ensure(d[0].object == "column p.amount", d[0].object.clone())?;
            ensure(
                d[0].to_string()
                    == "column p.amount: was NUMERIC(10, 3) NULL, now NUMERIC(10, 2) NULL",
                d[0].to_string(),
            )?;

            // A faithful drop and recreate compares equal.
            exec(
                &db,
                "DROP TABLE p; DROP TYPE st; CREATE TYPE st AS ENUM ('a', 'b');
                 CREATE TABLE p (id int PRIMARY KEY, amount numeric(10,3), s st);",
            )
            .await?;
            let s2 = db.introspect(&[]).await.map_err(fail("s2"))?;
            let d = diff_schemas(&s0, &s2);
            ensure(d.is_empty(), format!("recreate differs: {d:?}"))?;

            // Dropping the table but not its enum type leaves the type behind.
            let empty = server.create().await.map_err(fail("create empty"))?;
            let before = empty.introspect(&[]).await.map_err(fail("before"))?;
            exec(
                &empty,
                "CREATE TYPE st AS ENUM ('a', 'b'); CREATE TABLE p (s st); DROP TABLE p;",
            )
            .await?;
            let after = empty.introspect(&[]).await.map_err(fail("after"))?;
            let d = diff_schemas(&before, &after);
            ensure(
                d.len() == 1 && d[0].object == "enum type st" && d[0].before.is_none(),
                format!("enum left behind: {d:?}"),
            )?;
            ensure(
                d[0].to_string() == "enum type st: not there before, now ('a', 'b')",
                d[0].to_string(),
            )?;

            // A label added.
            exec(&db, "ALTER TYPE st ADD VALUE 'c'").await?;
            let s3 = db.introspect(&[]).await.map_err(fail("s3"))?;
            let d = diff_schemas(&s0, &s3);
            ensure(
                d.iter().any(|x| {
                    x.object == "enum type st" && x.after.as_deref() == Some("('a', 'b', 'c')")
                }),
                format!("label added: {d:?}"),
            )?;

            // A sequence changed.
            exec(&db, "CREATE SEQUENCE sq").await?;
            let s4 = db.introspect(&[]).await.map_err(fail("s4"))?;
            exec(&db, "ALTER SEQUENCE sq INCREMENT 2").await?;
            let s5 = db.introspect(&[]).await.map_err(fail("s5"))?;
            let d = diff_schemas(&s4, &s5);
            ensure(
                d.len() == 1 && d[0].object == "sequence sq",
                format!("sequence: {d:?}"),
            )
        }
        .await;
        server.cleanup().await.map_err(fail("cleanup"))?;
        result
    })
}

fn rows_round_trip(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, _) = server(&url, "rows").await?;
        let result = async {
            let db = server.create().await.map_err(fail("create"))?;
            exec(
                &db,
                "CREATE TYPE mood AS ENUM ('sad', 'ok');
                 CREATE TABLE k (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    i2 smallint, i4 integer, f4 real, f8 double precision, b boolean,
                    n numeric(12,3), t text, vc varchar(10), ts timestamptz, d date, tm time,
                    u uuid, j json, jb jsonb, by bytea, arr integer[], tarr text[], e mood,
                    iv interval);",
            )
            .await?;
            let schema = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let k = &schema.tables["k"];
            let t = |s: &str| Value::Text(s.into());
            let row = vec![
                Value::Int(7),
                Value::Int(-32768),
                Value::Int(2147483647),
                Value::Float(1.5),
                Value::Float(-1e-300),
                Value::Bool(true),
                t("12.345"),
                t("héllo 'q'"),
                t("short"),
                t("2024-02-29 23:59:59.123456+00"),
                t("2024-02-29"),
                t("13:14:15"),
                t("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                t("{\"b\": 1, \"a\": [1, 2]}"),
                t("{\"b\": 1, \"a\": [1, 2]}"),
                Value::Bytes(vec![0, 1, 255]),
                t("{1,2,3}"),
                t("{a,\"b c\"}"),
                t("ok"),
                t("1 day 02:00:00"),
            ];
            let nulls: Vec<Value> = std::iter::once(Value::Int(8))
                .chain(std::iter::repeat_n(Value::Null, row.len() - 1))
                .collect();
            db.insert_rows(k, &[row.clone(), nulls.clone()])
                .await
                .map_err(fail("insert"))?;
            let back = db.read_rows(k).await.map_err(fail("read"))?;
            let mut want = row.clone();
            // jsonb is stored normalised (keys sorted, spacing canonical); json as given.
            want[14] = t("{\"a\": [1, 2], \"b\": 1}");
            same("row", &back[0], &want)?;
            same("nulls", &back[1], &nulls)?;
            ensure(back.len() == 2, "two rows")?;
            // Floats are read as Float, not text.
            ensure(matches!(back[0][3], Value::Float(f) if f == 1.5), "real as Float")?;
            // The identity sequence was moved past the seeded ids.
            exec(&db, "INSERT INTO k (i2) VALUES (1)").await?;
            let back = db.read_rows(k).await.map_err(fail("read 2"))?;
            same("next id", &back[2][0], &Value::Int(9))?;
            // NaN and infinities survive in double precision.
            let special = vec![
                vec![Value::Int(20), Value::Float(f64::NAN)],
                vec![Value::Int(21), Value::Float(f64::INFINITY)],
            ];
            exec(&db, "CREATE TABLE f (id int PRIMARY KEY, x float8)").await?;
            let schema = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let f = &schema.tables["f"];
            db.insert_rows(f, &special).await.map_err(fail("insert f"))?;
            same("floats", &db.read_rows(f).await.map_err(fail("read f"))?, &special)?;
            // CHAR(n) keeps the whole value (a cast to plain `character` would keep one
            // character), arrays of it too.
            exec(&db, "CREATE TABLE c (id char(36) PRIMARY KEY, tags char(3)[])").await?;
            let schema = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let c = &schema.tables["c"];
            let chars = vec![
                vec![t("8f437e03-fea3-4ff3-a326-eb1081617e55"), t("{abc,\"de \"}")],
                vec![t("8f437e03-fea3-4ff3-a326-eb1081617e56"), Value::Null],
            ];
            db.insert_rows(c, &chars).await.map_err(fail("insert c"))?;
            same("char(n)", &db.read_rows(c).await.map_err(fail("read c"))?, &chars)?;
            // delete_all_rows empties the tables.
            db.delete_all_rows(&[k, f]).await.map_err(fail("delete"))?;
            ensure(db.read_rows(k).await.map_err(fail("read"))?.is_empty(), "k empty")?;
            // Keyless tables are read as a multiset in a stable order, json included.
            exec(&db, "CREATE TABLE nk (j json, v int); INSERT INTO nk VALUES ('{\"x\":2}', 2), ('{\"x\":1}', 1), ('{\"x\":1}', 1);").await?;
            let schema = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let nk = db
                .read_rows(&schema.tables["nk"])
                .await
                .map_err(fail("read nk"))?;
            same(
                "keyless",
                &nk,
                &vec![
                    vec![t("{\"x\":1}"), Value::Int(1)],
                    vec![t("{\"x\":1}"), Value::Int(1)],
                    vec![t("{\"x\":2}"), Value::Int(2)],
                ],
            )
        }
        .await;
        server.cleanup().await.map_err(fail("cleanup"))?;
        result
    })
}

fn rows_errors(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, _) = server(&url, "rowerr").await?;
        let result = async {
            let db = server.create().await.map_err(fail("create"))?;
            exec(
                &db,
                "CREATE TABLE parent (id int PRIMARY KEY);
                 CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id), v varchar(3));",
            )
            .await?;
            let s = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let child = &s.tables["child"];
            let err = db
                .insert_rows(child, &[vec![Value::Int(1), Value::Null, Value::Null]])
                .await
                .err()
                .ok_or("NULL into NOT NULL was accepted")?;
            let text = err.to_string();
            ensure(
                text.contains("table child") && text.contains("row 0") && text.contains("not-null"),
                text.clone(),
            )?;
            let err = db
                .insert_rows(
                    child,
                    &[
                        vec![Value::Int(1), Value::Int(1), Value::Null],
                    ],
                )
                .await
                .err()
                .ok_or("dangling FK was accepted")?;
            let text = err.to_string();
            ensure(
                text.contains("table child") && text.contains("foreign key"),
                text.clone(),
            )?;
            // Too long for varchar(3): an error, not a silent truncation.
            db.insert_rows(&s.tables["parent"], &[vec![Value::Int(1)]])
                .await
                .map_err(fail("parent"))?;
            let err = db
                .insert_rows(
                    child,
                    &[vec![Value::Int(1), Value::Int(1), Value::Text("abcd".into())]],
                )
                .await
                .err()
                .ok_or("over-long text was accepted")?;
            ensure(err.to_string().contains("too long"), err.to_string())?;
            // Nothing of a failed batch is kept.
            let err = db
                .insert_rows(
                    child,
                    &[
                        vec![Value::Int(1), Value::Int(1), Value::Null],
                        vec![Value::Int(2), Value::Int(99), Value::Null],
                    ],
                )
                .await
                .err()
                .ok_or("batch with a bad row accepted")?;
            ensure(err.to_string().contains("row 1"), err.to_string())?;
            ensure(
                db.read_rows(child).await.map_err(fail("read"))?.is_empty(),
                "rolled back",
            )?;
            // Deleting parent before child fails, naming the table; child first works.
            db.insert_rows(child, &[vec![Value::Int(1), Value::Int(1), Value::Null]])
                .await
                .map_err(fail("child"))?;
            let err = db
                .delete_all_rows(&[&s.tables["parent"], child])
                .await
                .err()
                .ok_or("parent-first delete accepted")?;
            ensure(err.to_string().contains("table parent"), err.to_string())?;
            db.delete_all_rows(&[child, &s.tables["parent"]])
                .await
                .map_err(fail("child-first delete"))
        }
        .await;
        server.cleanup().await.map_err(fail("cleanup"))?;
        result
    })
}

fn numeric_scale_loss(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, _) = server(&url, "scale").await?;
        let result = async {
            let db = server.create().await.map_err(fail("create"))?;
            exec(
                &db,
                "CREATE TABLE a (id int PRIMARY KEY, x numeric(10,3));
                 CREATE TABLE b (id int PRIMARY KEY, x numeric(10,2));",
            )
            .await?;
            let s = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let (a, b) = (&s.tables["a"], &s.tables["b"]);
            db.insert_rows(a, &[vec![Value::Int(1), Value::Text("12.345".into())]])
                .await
                .map_err(fail("insert a"))?;
            let d0 = db.read_rows(a).await.map_err(fail("read a"))?;
            same(
                "stored",
                &d0,
                &vec![vec![Value::Int(1), Value::Text("12.345".into())]],
            )?;
            // Copy the rows as read into the narrower column: the value changes.
            db.insert_rows(b, &d0).await.map_err(fail("insert b"))?;
            let d2 = db.read_rows(b).await.map_err(fail("read b"))?;
            same(
                "rounded",
                &d2,
                &vec![vec![Value::Int(1), Value::Text("12.35".into())]],
            )?;
            let diffs = diff_rows(a, &d0, b, &d2);
            ensure(diffs.len() == 1, format!("one changed value: {diffs:?}"))
        }
        .await;
        server.cleanup().await.map_err(fail("cleanup"))?;
        result
    })
}
