//! One suite for every server dialect: lifecycle and clean-up, login errors, introspection,
//! diff, rows. What differs between the dialects is in [`Spec`].

use libtest_mimic::Failed;
use mrt_db::{
    diff_rows, diff_schemas, drop_leftovers, quote_ident, DbError, Dialect, Schema,
    SchemaDifference, Server, Table, TempDb, Value,
};
use sqlx::{Connection, MySqlConnection, PgConnection};

use super::spec::{Change, Expect, Spec};
use super::{block_on, ensure, run_id};

pub type Case = (
    &'static str,
    fn(&'static Spec, String) -> Result<(), Failed>,
);

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
    ("rows_decimal_scale_loss_is_visible", decimal_scale_loss),
    ("snapshot_outlives_the_run_and_restores", snapshot),
];

fn fail(context: &str) -> impl Fn(DbError) -> Failed + '_ {
    move |e| format!("{context}: {e}").into()
}

/// Compare two values and say which field differs.
fn same<T: PartialEq + std::fmt::Debug>(what: &str, got: &T, want: &T) -> Result<(), Failed> {
    ensure(
        got == want,
        format!("{what}:\n  got  {got:?}\n  want {want:?}"),
    )
}

/// A connection of the test's own, as the Python worker or a user would have.
enum Client {
    Postgres(PgConnection),
    Mysql(MySqlConnection),
}

impl Client {
    async fn connect(spec: &Spec, url: &str) -> Result<Client, Failed> {
        let failed = |e: sqlx::Error| Failed::from(format!("connecting to {url}: {e}"));
        Ok(match spec.dialect {
            Dialect::Postgres => {
                Client::Postgres(PgConnection::connect(url).await.map_err(failed)?)
            }
            _ => Client::Mysql(MySqlConnection::connect(url).await.map_err(failed)?),
        })
    }

    /// Run a script of one or more statements.
    async fn run(&mut self, sql: &str) -> Result<(), Failed> {
        let done = match self {
            Client::Postgres(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Client::Mysql(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        };
        done.map_err(|e| format!("script failed: {e}\n{sql}").into())
    }

    /// The databases whose names start with `prefix`, from the catalog (not from mrt's
    /// registry), sorted.
    async fn databases(&mut self, prefix: &str) -> Result<Vec<String>, Failed> {
        let names: Result<Vec<String>, _> = match self {
            Client::Postgres(c) => {
                sqlx::query_scalar(
                    "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
                )
                .bind(prefix)
                .fetch_all(c)
                .await
            }
            Client::Mysql(c) => {
                sqlx::query_scalar(
                    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
                     WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ?",
                )
                .bind(prefix)
                .bind(prefix)
                .fetch_all(c)
                .await
            }
        };
        let mut names = names.map_err(|e| e.to_string())?;
        names.sort();
        Ok(names)
    }

    async fn close(self) -> Result<(), Failed> {
        let closed = match self {
            Client::Postgres(c) => c.close().await,
            Client::Mysql(c) => c.close().await,
        };
        closed.map_err(|e| e.to_string().into())
    }
}

/// Run a script on the database through a separate connection, as the Python worker would.
async fn exec(spec: &Spec, db: &TempDb, sql: &str) -> Result<(), Failed> {
    let mut client = Client::connect(spec, &db.url()).await?;
    client.run(sql).await?;
    client.close().await
}

async fn databases(spec: &Spec, url: &str, prefix: &str) -> Result<Vec<String>, Failed> {
    let mut client = Client::connect(spec, url).await?;
    let names = client.databases(prefix).await;
    client.close().await?;
    names
}

async fn server(url: &str, test: &str) -> Result<(Server, String), Failed> {
    let run = run_id(test);
    let server = Server::connect(url, &run).await.map_err(fail("connect"))?;
    Ok((server, run))
}

/// Run `test` on a fresh server handle, then clean up whatever the test's result.
async fn with_server<F>(url: &str, name: &str, test: F) -> Result<(), Failed>
where
    F: AsyncFnOnce(&Server) -> Result<(), Failed>,
{
    let (server, _) = server(url, name).await?;
    let result = test(&server).await;
    server.cleanup().await.map_err(fail("cleanup"))?;
    result
}

fn lifecycle(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, run) = server(&url, "life").await?;
        ensure(server.dialect() == spec.dialect, "dialect")?;
        let label = server.label();
        ensure(
            label.starts_with(&format!("{} ", spec.dialect)) && label.contains(':'),
            format!("label {label}"),
        )?;
        let a = server.create().await.map_err(fail("create"))?;
        ensure(
            a.name() == format!("mrt_{run}_1"),
            format!("name {}", a.name()),
        )?;
        ensure(
            a.url().starts_with(spec.url_scheme) && a.url().ends_with(&format!("/{}", a.name())),
            a.url(),
        )?;
        exec(spec, &a, spec.lifecycle).await?;
        // A session left open on the source (like a Python worker's) must not block the clone.
        let mut open = Client::connect(spec, &a.url()).await?;
        open.run("SELECT 1").await?;
        let s0 = a.introspect(&[]).await.map_err(fail("introspect a"))?;
        let b = server.clone_db(&a).await.map_err(fail("clone"))?;
        let s1 = b.introspect(&[]).await.map_err(fail("introspect b"))?;
        clone_is_faithful(spec, &a, &b, &s0, &s1).await?;
        // The source handle still works after being copied.
        ensure(
            a.read_rows(&s0.tables["parent"])
                .await
                .map_err(fail("read a"))?
                .len()
                == 2,
            "source rows",
        )?;
        let prefix = format!("mrt_{run}_");
        same(
            "catalog",
            &databases(spec, &url, &prefix).await?,
            &vec![format!("{prefix}1"), format!("{prefix}2")],
        )?;
        // A session holding a transaction on the database does not block dropping it.
        let mut busy = Client::connect(spec, &b.url()).await?;
        busy.run("BEGIN; SELECT * FROM parent FOR UPDATE").await?;
        server.drop_database(b).await.map_err(fail("drop"))?;
        same(
            "after drop",
            &databases(spec, &url, &prefix).await?,
            &vec![format!("{prefix}1")],
        )?;
        let _c = server.create().await.map_err(fail("create c"))?;
        cleanup_is_final(spec, &server, &url, &prefix).await?;
        drop((open, busy));
        Ok(())
    })
}

/// Cleanup drops every database the handle still has (here two), refuses new ones, and can be
/// repeated.
async fn cleanup_is_final(
    spec: &Spec,
    server: &Server,
    url: &str,
    prefix: &str,
) -> Result<(), Failed> {
    ensure(
        server.created_databases().len() == 2,
        "registry has a and c",
    )?;
    server.cleanup().await.map_err(fail("cleanup"))?;
    let left = databases(spec, url, prefix).await?;
    ensure(left.is_empty(), format!("left after cleanup: {left:?}"))?;
    ensure(
        matches!(server.create().await, Err(DbError::ServerClosed { .. })),
        "create after cleanup must fail",
    )?;
    server.cleanup().await.map_err(fail("second cleanup"))
}

/// The clone `b` of `a` has the same schema, rows, views and trigger, and the trigger did not
/// fire while rows were copied.
async fn clone_is_faithful(
    spec: &Spec,
    a: &TempDb,
    b: &TempDb,
    s0: &Schema,
    s1: &Schema,
) -> Result<(), Failed> {
    let d = diff_schemas(s0, s1);
    ensure(d.is_empty(), format!("clone schema differs: {d:?}"))?;
    ensure(
        s1.views.len() == 2 && s1.triggers.len() == 1,
        "views and trigger copied",
    )?;
    let read = |table: &'static str| async move {
        b.read_rows(&s1.tables[table])
            .await
            .map_err(fail("read clone"))
    };
    same(
        "clone rows",
        &read("parent").await?,
        &vec![
            vec![Value::Int(1), Value::Text("one".into())],
            vec![Value::Int(2), Value::Text("two".into())],
        ],
    )?;
    same(
        "clone rows",
        &read("child").await?,
        &vec![
            vec![Value::Int(10), Value::Int(1)],
            vec![Value::Int(11), Value::Int(2)],
        ],
    )?;
    ensure(read("audit").await?.is_empty(), "audit empty in clone")?;
    exec(spec, b, "INSERT INTO child (id, parent_id) VALUES (12, 1)").await?;
    ensure(
        read("audit").await? == vec![vec![Value::Int(12)]],
        "trigger fires in clone",
    )?;
    // The clone's views read the clone, not the source.
    let v = &s1.views["v_top"];
    ensure(!v.definition.contains(a.name()), v.definition.clone())
}

fn drop_cleans_up(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, run) = server(&url, "dropped").await?;
        let _a = server.create().await.map_err(fail("create"))?;
        let _b = server.create().await.map_err(fail("create"))?;
        let prefix = format!("mrt_{run}_");
        ensure(databases(spec, &url, &prefix).await?.len() == 2, "two made")?;
        drop(server);
        let left = databases(spec, &url, &prefix).await?;
        ensure(left.is_empty(), format!("left after drop: {left:?}"))
    })
}

fn live_run_kept(_: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        let (server, run) = server(&url, "live").await?;
        super::live_run_is_kept(&url, server, &run).await
    })
}

fn leftovers(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        // A crashed run leaves mrt_<run>_<n> behind; a user database that merely starts with
        // mrt_ and another run's databases must survive.
        let run = run_id("crash");
        let other = run_id("other");
        let mut client = Client::connect(spec, &url).await?;
        let made = [
            format!("mrt_{run}_1"),
            format!("mrt_{run}_7"),
            format!("mrt_{other}_1"),
            format!("mrt_{run}prod"),
        ];
        for name in &made {
            let sql = format!("CREATE DATABASE {}", quote_ident(spec.dialect, name));
            client.run(&sql).await?;
        }
        let found = drop_leftovers(&url, &run)
            .await
            .map_err(fail("drop_leftovers"))?;
        let mut result = same("dropped", &found.dropped, &made[..2].to_vec());
        let left = client.databases(&format!("mrt_{run}")).await?;
        if result.is_ok() {
            result = same("left", &left, &vec![made[3].clone()]);
        }
        let still = client.databases(&format!("mrt_{other}_")).await?;
        if result.is_ok() {
            result = ensure(still.len() == 1, "other run untouched");
        }
        for name in &made[2..] {
            let sql = format!(
                "DROP DATABASE IF EXISTS {}",
                quote_ident(spec.dialect, name)
            );
            let _ = client.run(&sql).await;
        }
        result
    })
}

/// A failed connect is one `DbError::Server` line naming `host:port`, never the password.
fn login_error(err: &DbError, host_port: &str) -> Result<String, Failed> {
    let text = err.to_string();
    ensure(
        matches!(err, DbError::Server { .. }),
        format!("kind: {err:?}"),
    )?;
    ensure(
        text.contains(host_port),
        format!("names {host_port}: {text}"),
    )?;
    ensure(!text.contains("s3cret"), format!("password leaked: {text}"))?;
    ensure(!format!("{err:?}").contains("s3cret"), "password in Debug")?;
    Ok(text)
}

fn bad_login(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        let base = url::Url::parse(&url).map_err(|e| e.to_string())?;
        let host = base.host_str().unwrap_or("127.0.0.1").to_string();
        let port = base.port().unwrap_or(spec.default_port);
        let mut with_pw = base.clone();
        with_pw
            .set_password(Some("s3cret-pw"))
            .map_err(|_| "set password".to_string())?;
        // Nothing listens on port 1.
        let mut wrong_port = with_pw.clone();
        wrong_port
            .set_port(Some(1))
            .map_err(|_| "set port".to_string())?;
        let err = Server::connect(wrong_port.as_str(), "bad")
            .await
            .err()
            .ok_or("connecting to port 1 succeeded")?;
        login_error(&err, &format!("{host}:1"))?;
        // A login the server refuses.
        let mut refused = with_pw.clone();
        if let Some(user) = spec.login.refused_user {
            refused
                .set_username(user)
                .map_err(|_| "set user".to_string())?;
        }
        let err = Server::connect(refused.as_str(), "bad")
            .await
            .err()
            .ok_or("a refused login succeeded")?;
        let text = login_error(&err, &format!("{host}:{port}"))?;
        let user = refused.username();
        ensure(text.contains(user), format!("names the user: {text}"))?;
        ensure(text.contains(spec.login.refusal), text.clone())?;
        ensure(text.lines().count() == 1, format!("one line: {text}"))?;
        if spec.login.any_password {
            password_stays_in_the_worker_url(with_pw.as_str()).await?;
        }
        Ok(())
    })
}

/// The display URL masks the password, the worker's URL keeps it.
async fn password_stays_in_the_worker_url(url: &str) -> Result<(), Failed> {
    let server = Server::connect(url, &run_id("pw"))
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
}

fn table<'s>(s: &'s Schema, name: &str) -> Result<&'s Table, Failed> {
    s.tables
        .get(name)
        .map(|t| &**t)
        .ok_or_else(|| format!("no table {name}").into())
}

/// One expected part of the rich schema.
fn expect(s: &Schema, e: &Expect) -> Result<(), Failed> {
    match e {
        Expect::Columns(t, want) => same(&format!("{t}.columns"), &table(s, t)?.columns, want),
        Expect::Column(t, want) => {
            let got = table(s, t)?.column(&want.name).cloned().unwrap_or_default();
            same(&format!("{t}.{}", want.name), &got, want)
        }
        Expect::TypeOneOf(t, c, types) => {
            let got = table(s, t)?.column(c).map(|c| c.data_type.as_str());
            ensure(
                got.is_some_and(|ty| types.contains(&ty)),
                format!("{t}.{c} type {got:?}, want one of {types:?}"),
            )
        }
        Expect::PrimaryKey(t, want) => same(&format!("{t}.pk"), &table(s, t)?.primary_key, want),
        Expect::Uniques(t, want) => same(&format!("{t}.uniques"), &table(s, t)?.uniques, want),
        Expect::ForeignKeys(t, want) => same(&format!("{t}.fks"), &table(s, t)?.foreign_keys, want),
        Expect::Checks(t, want) => same(&format!("{t}.checks"), &table(s, t)?.checks, want),
        Expect::Indexes(t, want) => same(&format!("{t}.indexes"), &table(s, t)?.indexes, want),
        Expect::Exclusions(t, want) => {
            same(&format!("{t}.exclusions"), &table(s, t)?.exclusions, want)
        }
        Expect::View(name, want) => same(
            &format!("view {name}"),
            &s.views.get(*name).map(|v| v.definition.as_str()),
            &Some(*want),
        ),
        Expect::Trigger(name, t, want) => same(
            &format!("trigger {name}"),
            &s.triggers
                .get(*name)
                .map(|g| (g.table.as_str(), g.definition.as_str())),
            &Some((*t, *want)),
        ),
        Expect::Enums(want) => same("enums", &s.enums, want),
        Expect::Sequences(want) => same("sequences", &s.sequences, want),
    }
}

fn introspect_rich(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        with_server(&url, "intro", async |server| {
            let db = server.create().await.map_err(fail("create"))?;
            exec(spec, &db, spec.rich.ddl).await?;
            let s = db
                .introspect(&["alembic_version"])
                .await
                .map_err(fail("introspect"))?;
            same(
                "tables",
                &s.tables.keys().map(String::as_str).collect::<Vec<_>>(),
                &spec.rich.tables.to_vec(),
            )?;
            ensure(!s.tables.contains_key("alembic_version"), "ignored table")?;
            for e in (spec.rich.expect)(&s) {
                expect(&s, &e)?;
            }
            // Introspecting a clone gives the same schema.
            let copy = server.clone_db(&db).await.map_err(fail("clone"))?;
            let s2 = copy
                .introspect(&["alembic_version"])
                .await
                .map_err(fail("introspect clone"))?;
            let d = diff_schemas(&s, &s2);
            ensure(d.is_empty(), format!("clone differs: {d:?}"))
        })
        .await
    })
}

/// The differences `change` makes, on a fresh database.
async fn differences(
    spec: &Spec,
    server: &Server,
    change: &Change,
) -> Result<Vec<SchemaDifference>, Failed> {
    let db = server.create().await.map_err(fail("create"))?;
    if !change.setup.is_empty() {
        exec(spec, &db, change.setup).await?;
    }
    let before = db.introspect(&[]).await.map_err(fail("before"))?;
    exec(spec, &db, change.change).await?;
    let after = db.introspect(&[]).await.map_err(fail("after"))?;
    Ok(diff_schemas(&before, &after))
}

fn diff(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        with_server(&url, "diff", async |server| {
            for change in spec.changes {
                let d = differences(spec, server, change).await?;
                let what = change.what;
                let Some(want) = &change.want else {
                    ensure(d.is_empty(), format!("{what}: differs: {d:?}"))?;
                    continue;
                };
                if want.only {
                    ensure(d.len() == 1, format!("{what}: one difference: {d:?}"))?;
                }
                let found = d.iter().find(|x| {
                    x.object == want.object
                        && (want.after.is_none() || x.after.as_deref() == want.after)
                        && (!want.new || x.before.is_none())
                });
                ensure(found.is_some(), format!("{what}: {d:?}"))?;
                if let (Some(text), Some(found)) = (want.text, found) {
                    same(what, &found.to_string().as_str(), &text)?;
                }
            }
            Ok(())
        })
        .await
    })
}

/// Introspect `db` and take table `name`.
async fn live_table(db: &TempDb, name: &str) -> Result<Table, Failed> {
    let schema = db.introspect(&[]).await.map_err(fail("introspect"))?;
    Ok(table(&schema, name)?.clone())
}

fn rows_round_trip(spec: &'static Spec, url: String) -> Result<(), Failed> {
    let rt = &spec.rows;
    block_on(async move {
        with_server(&url, "rows", async |server| {
            let db = server.create().await.map_err(fail("create"))?;
            exec(spec, &db, rt.ddl).await?;
            let k = live_table(&db, "k").await?;
            let row = (rt.row)();
            let Value::Int(id) = row[0] else {
                return Err("the row's id must be an integer".into());
            };
            let nulls: Vec<Value> = std::iter::once(Value::Int(id + 1))
                .chain(std::iter::repeat_n(Value::Null, row.len() - 1))
                .collect();
            db.insert_rows(&k, &[row.clone(), nulls.clone()])
                .await
                .map_err(fail("insert"))?;
            let back = db.read_rows(&k).await.map_err(fail("read"))?;
            same("row", &back[0], &(rt.stored)(row))?;
            same("nulls", &back[1], &nulls)?;
            ensure(back.len() == 2, "two rows")?;
            // Floats are read as Float, not text.
            ensure(
                matches!(back[0][3], Value::Float(f) if f == 1.5),
                "float as Float",
            )?;
            // The id sequence was moved past the seeded ids.
            exec(spec, &db, rt.next_insert).await?;
            let back = db.read_rows(&k).await.map_err(fail("read 2"))?;
            same("next id", &back[2][0], &Value::Int(id + 2))?;
            exact_tables_and_delete(spec, &db, k).await?;
            // Keyless tables are read as a multiset in a stable order.
            let (ddl, rows) = rt.keyless;
            exec(spec, &db, ddl).await?;
            let nk = live_table(&db, "nk").await?;
            same(
                "keyless",
                &db.read_rows(&nk).await.map_err(fail("read nk"))?,
                &rows(),
            )
        })
        .await
    })
}

/// The dialect's further tables read back exactly; then `delete_all_rows` empties them and `k`.
async fn exact_tables_and_delete(spec: &Spec, db: &TempDb, k: Table) -> Result<(), Failed> {
    let mut written = vec![k];
    for (ddl, name, rows) in spec.rows.exact {
        exec(spec, db, ddl).await?;
        let t = live_table(db, name).await?;
        db.insert_rows(&t, &rows()).await.map_err(fail("insert"))?;
        same(
            name,
            &db.read_rows(&t).await.map_err(fail("read"))?,
            &rows(),
        )?;
        written.push(t);
    }
    let tables: Vec<&Table> = written.iter().collect();
    db.delete_all_rows(&tables).await.map_err(fail("delete"))?;
    ensure(
        db.read_rows(tables[0])
            .await
            .map_err(fail("read"))?
            .is_empty(),
        "k empty",
    )
}

const PARENT_CHILD: &str = "CREATE TABLE parent (id INT PRIMARY KEY);
    CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, v VARCHAR(3),
        FOREIGN KEY (parent_id) REFERENCES parent (id));";

/// The error of inserting `rows` into `table`, which must fail.
async fn insert_error(db: &TempDb, table: &Table, rows: &[Vec<Value>]) -> Result<String, Failed> {
    match db.insert_rows(table, rows).await {
        Ok(()) => Err(format!("{rows:?} accepted").into()),
        Err(e) => Ok(e.to_string()),
    }
}

fn rows_errors(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        with_server(&url, "rowerr", async |server| {
            let db = server.create().await.map_err(fail("create"))?;
            exec(spec, &db, PARENT_CHILD).await?;
            let s = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let (parent, child) = (table(&s, "parent")?, table(&s, "child")?);
            let int = Value::Int;
            let text = insert_error(&db, child, &[vec![int(1), Value::Null, Value::Null]]).await?;
            ensure(
                text.contains("table child")
                    && text.contains("row 0")
                    && text.contains(spec.not_null),
                text.clone(),
            )?;
            let text = insert_error(&db, child, &[vec![int(1), int(7), Value::Null]]).await?;
            ensure(
                text.contains("table child") && text.contains("foreign key"),
                text.clone(),
            )?;
            db.insert_rows(parent, &[vec![int(7)]])
                .await
                .map_err(fail("parent"))?;
            // Too long for VARCHAR(3): an error, not a silent truncation.
            let long = Value::Text("abcd".into());
            let text = insert_error(&db, child, &[vec![int(1), int(7), long.clone()]]).await?;
            ensure(text.contains("too long"), text.clone())?;
            // Nothing of a failed batch is kept.
            let good = vec![int(1), int(7), Value::Null];
            for bad in [
                vec![int(2), int(99), Value::Null],
                vec![int(2), int(7), long],
            ] {
                let text = insert_error(&db, child, &[good.clone(), bad]).await?;
                ensure(text.contains("row 1"), text.clone())?;
                ensure(
                    db.read_rows(child).await.map_err(fail("read"))?.is_empty(),
                    "failed batch rolled back",
                )?;
            }
            // Deleting parent before child fails, naming the table; child first works.
            db.insert_rows(child, &[good])
                .await
                .map_err(fail("child"))?;
            let err = db
                .delete_all_rows(&[parent, child])
                .await
                .err()
                .ok_or("parent-first delete accepted")?;
            ensure(err.to_string().contains("table parent"), err.to_string())?;
            db.delete_all_rows(&[child, parent])
                .await
                .map_err(fail("child-first delete"))
        })
        .await
    })
}

fn decimal_scale_loss(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        with_server(&url, "scale", async |server| {
            let db = server.create().await.map_err(fail("create"))?;
            exec(
                spec,
                &db,
                "CREATE TABLE a (id INT PRIMARY KEY, x DECIMAL(10,3));
                 CREATE TABLE b (id INT PRIMARY KEY, x DECIMAL(10,2));",
            )
            .await?;
            let s = db.introspect(&[]).await.map_err(fail("introspect"))?;
            let (a, b) = (table(&s, "a")?, table(&s, "b")?);
            let stored = vec![vec![Value::Int(1), Value::Text("12.345".into())]];
            db.insert_rows(a, &stored).await.map_err(fail("insert a"))?;
            let d0 = db.read_rows(a).await.map_err(fail("read a"))?;
            same("stored", &d0, &stored)?;
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
        })
        .await
    })
}

/// A snapshot (PostgreSQL: `mrt_snap_<key>`) outlives the run that saved it, is not a leftover
/// for `mrt clean`, ends the sessions on its source (counted, so a worker reconnects), and
/// restores schema and rows in another run. MySQL keeps none and says so.
fn snapshot(spec: &'static Spec, url: String) -> Result<(), Failed> {
    block_on(async move {
        let dir = std::path::Path::new("/nonexistent");
        let key = format!("{:x}", std::process::id());
        let (saver, _) = server(&url, "snapsave").await?;
        if !saver.keeps_snapshots() {
            let db = saver.create().await.map_err(fail("create"))?;
            let saved = saver.save_snapshot(&db, &key, dir).await;
            saver.cleanup().await.map_err(fail("cleanup"))?;
            return ensure(saved.is_err(), "MySQL must refuse to save a snapshot");
        }
        let db = saver.create().await.map_err(fail("create"))?;
        exec(spec, &db, spec.lifecycle).await?;
        let s0 = db.introspect(&[]).await.map_err(fail("introspect"))?;
        let ended = db.sessions_ended();
        let bytes = saver
            .save_snapshot(&db, &key, dir)
            .await
            .map_err(fail("save"))?;
        ensure(bytes > 0, "a snapshot has a size")?;
        ensure(
            db.sessions_ended() == ended + 1,
            "saving ends the source's sessions",
        )?;
        saver.cleanup().await.map_err(fail("cleanup"))?;
        let name = format!("{}{key}", mrt_db::SNAPSHOT_PREFIX);
        let left = drop_leftovers(&url, "").await.map_err(fail("clean"))?;
        ensure(
            !left.dropped.contains(&name),
            "mrt clean must keep snapshots",
        )?;
        let (other, _) = server(&url, "snaprestore").await?;
        let listed = other.snapshots(dir).await.map_err(fail("list"))?;
        ensure(
            listed.iter().any(|s| s.key == key),
            format!("{key} not in {listed:?}"),
        )?;
        let copy = other
            .restore_snapshot(&key, dir)
            .await
            .map_err(fail("restore"))?;
        let s1 = copy
            .introspect(&[])
            .await
            .map_err(fail("introspect copy"))?;
        let d = diff_schemas(&s0, &s1);
        let restored = ensure(d.is_empty(), format!("restored schema differs: {d:?}"));
        let dropped = other.drop_snapshot(&key, dir).await.map_err(fail("drop"))?;
        other.cleanup().await.map_err(fail("cleanup"))?;
        restored?;
        ensure(dropped, "an unused snapshot is dropped")?;
        let after = databases(spec, &url, &name).await?;
        ensure(after.is_empty(), format!("left: {after:?}"))
    })
}
