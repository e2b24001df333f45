//! MySQL/MariaDB cases: server lifecycle and clean-up, login errors, introspection, diff, rows.

use libtest_mimic::Failed;
use mrt_db::{
    diff_rows, diff_schemas, drop_leftovers, CheckConstraint, Column, DbError, Dialect, ForeignKey,
    Index, Server, TempDb, UniqueConstraint, Value,
};
use sqlx::{Connection, MySqlConnection};

use super::{block_on, ensure, run_id, Case};

pub const CASES: &[Case] = &[
    ("lifecycle_create_clone_drop_cleanup", lifecycle),
    ("drop_leftovers_of_crashed_run", leftovers),
    ("clean_keeps_a_live_runs_databases", live_run_kept),
    ("wrong_password_and_port_give_one_clear_error", bad_login),
    ("introspect_rich_schema", introspect_rich),
    ("diff_scale_and_faithful_recreate", diff),
    ("rows_round_trip_every_kind", rows_round_trip),
    ("rows_errors_name_the_table", rows_errors),
    ("rows_decimal_scale_loss_is_visible", decimal_scale_loss),
];

fn fail(context: &str) -> impl Fn(DbError) -> Failed + '_ {
    move |e| format!("{context}: {e}").into()
}

async fn connect(url: &str) -> Result<MySqlConnection, Failed> {
    MySqlConnection::connect(url)
        .await
        .map_err(|e| format!("connecting to {url}: {e}").into())
}

async fn exec(db: &TempDb, sql: &str) -> Result<(), Failed> {
    let mut conn = connect(&db.url()).await?;
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("script failed: {e}\n{sql}"))?;
    conn.close().await.map_err(|e| e.to_string())?;
    Ok(())
}

async fn databases(url: &str, prefix: &str) -> Result<Vec<String>, Failed> {
    let mut conn = connect(url).await?;
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ?",
    )
    .bind(prefix)
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

fn same<T: PartialEq + std::fmt::Debug>(what: &str, got: &T, want: &T) -> Result<(), Failed> {
    ensure(
        got == want,
        format!("{what}:\n  got  {got:?}\n  want {want:?}"),
    )
}

fn lifecycle(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, run) = server(&url, "life").await?;
        ensure(server.dialect() == Dialect::Mysql, "dialect")?;
        ensure(server.label().starts_with("mysql "), server.label())?;
        let a = server.create().await.map_err(fail("create"))?;
        ensure(a.name() == format!("mrt_{run}_1"), a.name().to_string())?;
        ensure(a.url().starts_with("mysql://"), a.url())?;
        exec(
            &a,
            "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20));
             CREATE TABLE child (id INT PRIMARY KEY, parent_id INT,
                 total INT AS (id * 2) STORED,
                 CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id));
             CREATE TABLE audit (n INT);
             INSERT INTO parent VALUES (1, 'one'), (2, 'two');
             INSERT INTO child (id, parent_id) VALUES (10, 1), (11, 2);
             CREATE VIEW v_base AS SELECT id, name FROM parent;
             CREATE VIEW v_top AS SELECT id FROM v_base WHERE id > 1;
             CREATE TRIGGER trg_child AFTER INSERT ON child FOR EACH ROW INSERT INTO audit VALUES (NEW.id);",
        )
        .await?;
        let s0 = a.introspect(&[]).await.map_err(fail("introspect a"))?;
        let b = server.clone_db(&a).await.map_err(fail("clone"))?;
        let s1 = b.introspect(&[]).await.map_err(fail("introspect b"))?;
        let d = diff_schemas(&s0, &s1);
        ensure(d.is_empty(), format!("clone schema differs: {d:?}"))?;
        ensure(
            s1.views.len() == 2 && s1.triggers.len() == 1,
            "views and trigger copied",
        )?;
        let rows = b
            .read_rows(&s1.tables["child"])
            .await
            .map_err(fail("read clone"))?;
        same(
            "clone rows",
            &rows,
            &vec![
                vec![Value::Int(10), Value::Int(1)],
                vec![Value::Int(11), Value::Int(2)],
            ],
        )?;
        // The trigger did not fire while copying, and does fire in the clone.
        ensure(
            b.read_rows(&s1.tables["audit"])
                .await
                .map_err(fail("audit"))?
                .is_empty(),
            "audit empty in clone",
        )?;
        exec(&b, "INSERT INTO child (id, parent_id) VALUES (12, 1)").await?;
        ensure(
            b.read_rows(&s1.tables["audit"])
                .await
                .map_err(fail("audit"))?
                == vec![vec![Value::Int(12)]],
            "trigger fires in clone",
        )?;
        // The clone's views read the clone, not the source.
        exec(&b, "INSERT INTO parent VALUES (3, 'three')").await?;
        let v = s1.views["v_top"].clone();
        ensure(!v.definition.contains(a.name()), v.definition)?;

        let prefix = format!("mrt_{run}_");
        same(
            "catalog",
            &databases(&url, &prefix).await?,
            &vec![format!("{prefix}1"), format!("{prefix}2")],
        )?;
        // A session left open on the database does not block dropping it.
        let mut open = connect(&b.url()).await?;
        sqlx::raw_sql("BEGIN; SELECT * FROM parent FOR UPDATE")
            .execute(&mut open)
            .await
            .map_err(|e| e.to_string())?;
        server.drop_database(b).await.map_err(fail("drop"))?;
        same(
            "after drop",
            &databases(&url, &prefix).await?,
            &vec![format!("{prefix}1")],
        )?;
        let _c = server.create().await.map_err(fail("create c"))?;
        server.cleanup().await.map_err(fail("cleanup"))?;
        let left = databases(&url, &prefix).await?;
        ensure(left.is_empty(), format!("left after cleanup: {left:?}"))?;
        ensure(
            matches!(server.create().await, Err(DbError::ServerClosed { .. })),
            "create after cleanup must fail",
        )
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
        let run = run_id("crash");
        let other = run_id("other");
        let mut conn = connect(&url).await?;
        let made = [
            format!("mrt_{run}_1"),
            format!("mrt_{run}_3"),
            format!("mrt_{other}_1"),
            format!("mrt_{run}prod"),
        ];
        for name in &made {
            sqlx::raw_sql(&format!("CREATE DATABASE `{name}`"))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        }
        let found = drop_leftovers(&url, &run)
            .await
            .map_err(fail("drop_leftovers"))?;
        let dropped = found.dropped;
        let mut result = same(
            "dropped",
            &dropped,
            &vec![format!("mrt_{run}_1"), format!("mrt_{run}_3")],
        );
        let left = databases(&url, &format!("mrt_{run}")).await?;
        if result.is_ok() {
            result = same("left", &left, &vec![format!("mrt_{run}prod")]);
        }
        if result.is_ok() {
            result = ensure(
                databases(&url, &format!("mrt_{other}_")).await?.len() == 1,
                "other run untouched",
            );
        }
        for name in [&made[2], &made[3]] {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{name}`"))
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
        let port = base.port().unwrap_or(3306);
        let mut wrong_pw = base.clone();
        wrong_pw
            .set_password(Some("s3cret-pw"))
            .map_err(|_| "set password".to_string())?;
        let err = Server::connect(wrong_pw.as_str(), "bad")
            .await
            .err()
            .ok_or("login with a wrong password succeeded")?;
        let text = err.to_string();
        ensure(matches!(err, DbError::Server { .. }), format!("{err:?}"))?;
        ensure(text.contains(&format!("{host}:{port}")), text.clone())?;
        ensure(text.contains("Access denied"), text.clone())?;
        ensure(!text.contains("s3cret"), format!("password leaked: {text}"))?;
        ensure(!format!("{err:?}").contains("s3cret"), "password in Debug")?;
        ensure(text.lines().count() == 1, text.clone())?;
        let mut wrong_port = wrong_pw.clone();
        wrong_port
            .set_port(Some(1))
            .map_err(|_| "set port".to_string())?;
        let err = Server::connect(wrong_port.as_str(), "bad")
            .await
            .err()
            .ok_or("port 1 accepted")?;
        let text = err.to_string();
        ensure(text.contains(&format!("{host}:1")), text.clone())?;
        ensure(!text.contains("s3cret"), format!("password leaked: {text}"))
    })
}

const RICH: &str = r#"
CREATE TABLE orgs (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE,
    code VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_bin,
    CONSTRAINT uq_orgs_code UNIQUE (code)) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE TABLE users (
    id BIGINT NOT NULL AUTO_INCREMENT,
    org_id INT,
    email VARCHAR(120) NOT NULL,
    status ENUM('active', 'banned') NOT NULL DEFAULT 'active',
    flags SET('a', 'b'),
    balance DECIMAL(12, 2) DEFAULT 0,
    created TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT ck_balance CHECK (balance >= 0)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE TABLE memberships (
    user_id BIGINT NOT NULL, org_id INT NOT NULL, role TEXT,
    PRIMARY KEY (user_id, org_id),
    CONSTRAINT fk_m_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_m_org FOREIGN KEY (org_id) REFERENCES orgs (id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, email(20));
CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE TRIGGER trg_users_bi BEFORE INSERT ON users FOR EACH ROW SET NEW.email = LOWER(NEW.email);
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, PRIMARY KEY (version_num));
"#;

fn col(name: &str, ty: &str, nullable: bool) -> Column {
    Column {
        name: name.into(),
        data_type: ty.into(),
        nullable,
        ..Column::default()
    }
}

fn text_col(name: &str, ty: &str, nullable: bool) -> Column {
    Column {
        charset: Some("utf8mb4".into()),
        collation: Some("utf8mb4_unicode_ci".into()),
        ..col(name, ty, nullable)
    }
}

fn introspect_rich(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, _) = server(&url, "intro").await?;
        let result = async {
            let db = server.create().await.map_err(fail("create"))?;
            exec(&db, RICH).await?;
            let s = db
                .introspect(&["alembic_version"])
                .await
                .map_err(fail("introspect"))?;
            same(
                "tables",
                &s.tables.keys().cloned().collect::<Vec<_>>(),
                &["memberships", "orgs", "users"].map(String::from).to_vec(),
            )?;
            let orgs = &s.tables["orgs"];
            let int = |n: &str, nullable| {
                // MariaDB keeps the display width, MySQL 8 drops it.
                let ty = orgs
                    .column("id")
                    .map(|c| c.data_type.clone())
                    .unwrap_or_default();
                let ty = if ty == "int" { "int" } else { "int(11)" };
                col(n, ty, nullable)
            };
            same(
                "orgs.columns",
                &orgs.columns,
                &vec![
                    Column {
                        autoincrement: true,
                        ..int("id", false)
                    },
                    Column {
                        max_length: Some(50),
                        ..text_col("name", "varchar(50)", false)
                    },
                    Column {
                        max_length: Some(10),
                        charset: Some("latin1".into()),
                        collation: Some("latin1_bin".into()),
                        ..col("code", "varchar(10)", true)
                    },
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
                        name: Some("name".into()),
                        columns: vec!["name".into()],
                    },
                ],
            )?;
            let users = &s.tables["users"];
            let c = |n: &str| users.column(n).cloned().unwrap_or_default();
            let bigint = c("id").data_type;
            ensure(bigint == "bigint" || bigint == "bigint(20)", bigint.clone())?;
            same(
                "users.id",
                &c("id"),
                &Column {
                    autoincrement: true,
                    ..col("id", &bigint, false)
                },
            )?;
            same(
                "users.status",
                &c("status"),
                &Column {
                    default: Some("'active'".into()),
                    enum_values: Some(vec!["active".into(), "banned".into()]),
                    ..text_col("status", "enum('active','banned')", false)
                },
            )?;
            same(
                "users.flags",
                &c("flags"),
                &Column {
                    enum_values: Some(vec!["a".into(), "b".into()]),
                    ..text_col("flags", "set('a','b')", true)
                },
            )?;
            same(
                "users.balance",
                &c("balance"),
                &Column {
                    default: Some("0.00".into()),
                    numeric_precision: Some(12),
                    numeric_scale: Some(2),
                    ..col("balance", "decimal(12,2)", true)
                },
            )?;
            same(
                "users.created",
                &c("created"),
                &Column {
                    default: Some("current_timestamp ()".into()),
                    ..col("created", "timestamp", true)
                },
            )?;
            same(
                "users.fks",
                &users.foreign_keys,
                &vec![ForeignKey {
                    name: Some("users_org".into()),
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
                &vec![CheckConstraint {
                    name: Some("ck_balance".into()),
                    expression: "balance >= 0".into(),
                }],
            )?;
            same(
                "users.indexes",
                &users.indexes,
                &vec![Index {
                    name: "ix_users_email".into(),
                    columns: vec!["email".into()],
                    unique: false,
                    partial: None,
                    method: None,
                }],
            )?;
            same(
                "users.uniques",
                &users.uniques,
                &vec![UniqueConstraint {
                    name: Some("ux_users_org_email".into()),
                    columns: vec!["org_id".into(), "email(20)".into()],
                }],
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
                        name: Some("fk_m_org".into()),
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
                        on_update: Some("CASCADE".into()),
                    },
                ],
            )?;
            same(
                "views",
                &s.views.get("active_users").map(|v| v.definition.clone()),
                &Some("create view active_users as select users.id as id, users.email as email from users where users.status = 'active'".into()),
            )?;
            same(
                "triggers",
                &s.triggers
                    .get("trg_users_bi")
                    .map(|t| (t.table.clone(), t.definition.clone())),
                &Some((
                    "users".into(),
                    "create trigger trg_users_bi before insert on users for each row set new.email = lower (new.email)".into(),
                )),
            )?;
            ensure(s.enums.is_empty() && s.sequences.is_empty(), "no enum types or sequences")?;
            Ok(())
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
                "CREATE TABLE p (id INT PRIMARY KEY, amount DECIMAL(10,3), s ENUM('a','b'));",
            )
            .await?;
            let s0 = db.introspect(&[]).await.map_err(fail("s0"))?;
            exec(&db, "ALTER TABLE p MODIFY amount DECIMAL(10,2)").await?;
            let s1 = db.introspect(&[]).await.map_err(fail("s1"))?;
            let d = diff_schemas(&s0, &s1);
            ensure(
                d.len() == 1 && d[0].object == "column p.amount",
                format!("scale change: {d:?}"),
            )?;
            ensure(
                d[0].to_string() == "column p.amount: was DECIMAL(10, 3) NULL, now DECIMAL(10, 2) NULL",
                d[0].to_string(),
            )?;
            exec(&db, "ALTER TABLE p MODIFY s ENUM('a','b','c')").await?;
            let s2 = db.introspect(&[]).await.map_err(fail("s2"))?;
            ensure(
                diff_schemas(&s1, &s2).iter().any(|x| x.object == "column p.s"),
                "ENUM members change",
            )?;
            exec(
                &db,
                "DROP TABLE p; CREATE TABLE p (id INT PRIMARY KEY, amount DECIMAL(10,3), s ENUM('a','b'));",
            )
            .await?;
            let s3 = db.introspect(&[]).await.map_err(fail("s3"))?;
            let d = diff_schemas(&s0, &s3);
            ensure(d.is_empty(), format!("recreate differs: {d:?}"))
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
                "CREATE TABLE k (id BIGINT AUTO_INCREMENT PRIMARY KEY, ti TINYINT, b BOOLEAN,
                    f FLOAT, d DOUBLE, n DECIMAL(12,3), t TEXT, vc VARCHAR(10), ts TIMESTAMP(6) NULL,
                    dt DATETIME, dd DATE, tm TIME, j JSON, vb VARBINARY(10), bl BLOB,
                    e ENUM('x','y'), st SET('p','q'), u BIGINT UNSIGNED) CHARSET utf8mb4;",
            )
            .await?;
            let schema = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let k = &schema.tables["k"];
            let t = |s: &str| Value::Text(s.into());
            let row = vec![
                Value::Int(5),
                Value::Int(-128),
                Value::Bool(true),
                Value::Float(1.5),
                Value::Float(-1e-300),
                t("12.345"),
                t("héllo 'q' \u{1F600}"),
                t("short"),
                t("2024-02-29 23:59:59.123456"),
                t("2024-02-29 01:02:03"),
                t("2024-02-29"),
                t("13:14:15"),
                t("{\"a\": 1}"),
                Value::Bytes(vec![0, 1, 255]),
                Value::Bytes(vec![]),
                t("y"),
                t("p,q"),
                t("18446744073709551615"),
            ];
            let nulls: Vec<Value> = std::iter::once(Value::Int(6))
                .chain(std::iter::repeat_n(Value::Null, row.len() - 1))
                .collect();
            db.insert_rows(k, &[row.clone(), nulls.clone()])
                .await
                .map_err(fail("insert"))?;
            let back = db.read_rows(k).await.map_err(fail("read"))?;
            let mut want = row.clone();
            want[2] = Value::Int(1); // BOOLEAN is TINYINT(1)
            same("row", &back[0], &want)?;
            same("nulls", &back[1], &nulls)?;
            db.delete_all_rows(&[k]).await.map_err(fail("delete"))?;
            ensure(db.read_rows(k).await.map_err(fail("read"))?.is_empty(), "empty")
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
                "CREATE TABLE parent (id INT PRIMARY KEY);
                 CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL,
                   v VARCHAR(3), FOREIGN KEY (parent_id) REFERENCES parent (id));",
            )
            .await?;
            let s = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let child = &s.tables["child"];
            let err = db
                .insert_rows(child, &[vec![Value::Int(1), Value::Null, Value::Null]])
                .await
                .err()
                .ok_or("NULL into NOT NULL accepted")?;
            ensure(
                err.to_string().contains("table child")
                    && err.to_string().contains("cannot be null"),
                err.to_string(),
            )?;
            let err = db
                .insert_rows(child, &[vec![Value::Int(1), Value::Int(7), Value::Null]])
                .await
                .err()
                .ok_or("dangling FK accepted")?;
            ensure(
                err.to_string().contains("table child") && err.to_string().contains("foreign key"),
                err.to_string(),
            )?;
            db.insert_rows(&s.tables["parent"], &[vec![Value::Int(7)]])
                .await
                .map_err(fail("parent"))?;
            let err = db
                .insert_rows(
                    child,
                    &[
                        vec![Value::Int(1), Value::Int(7), Value::Null],
                        vec![Value::Int(2), Value::Int(7), Value::Text("abcd".into())],
                    ],
                )
                .await
                .err()
                .ok_or("over-long value accepted")?;
            ensure(err.to_string().contains("row 1"), err.to_string())?;
            ensure(
                db.read_rows(child).await.map_err(fail("read"))?.is_empty(),
                "failed batch rolled back",
            )
        }
        .await;
        server.cleanup().await.map_err(fail("cleanup"))?;
        result
    })
}

fn decimal_scale_loss(url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, _) = server(&url, "scale").await?;
        let result = async {
            let db = server.create().await.map_err(fail("create"))?;
            exec(
                &db,
                "CREATE TABLE a (id INT PRIMARY KEY, x DECIMAL(10,3));
                 CREATE TABLE b (id INT PRIMARY KEY, x DECIMAL(10,2));",
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
            db.insert_rows(b, &d0).await.map_err(fail("insert b"))?;
            let d2 = db.read_rows(b).await.map_err(fail("read b"))?;
            same(
                "rounded",
                &d2,
                &vec![vec![Value::Int(1), Value::Text("12.35".into())]],
            )?;
            ensure(diff_rows(a, &d0, b, &d2).len() == 1, "one changed value")
        }
        .await;
        server.cleanup().await.map_err(fail("cleanup"))?;
        result
    })
}
