//! Row I/O round trips and errors, and the server's create/clone/drop/cleanup guarantees.

mod common;

use common::exec;
use mrt_db::{DbError, SqliteServer, Value};

#[tokio::test]
async fn every_value_kind_round_trips() {
    let server = SqliteServer::new("io").expect("server");
    let db = server.create().await.expect("create");
    // Typeless column: no affinity, so every value is kept in the class it was bound with.
    exec(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)").await;
    let schema = db.introspect(&[]).await.expect("introspect");
    let table = &schema.tables["t"];
    let values = vec![
        Value::Null,
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Int(0),
        Value::Float(1.5),
        Value::Float(-1e-300),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Text(String::new()),
        Value::Text("héllo 'quoted' \"x\" \u{1F600}\n".into()),
        Value::Text("1".into()),
        Value::Bytes(vec![]),
        Value::Bytes(vec![0, 1, 255, 0]),
        Value::Bool(true),
        Value::Bool(false),
    ];
    let rows: Vec<Vec<Value>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| vec![Value::Int(i as i64 + 1), v.clone()])
        .collect();
    db.insert_rows(table, &rows).await.expect("insert");
    let back = db.read_rows(table).await.expect("read");
    let got: Vec<Value> = back.iter().map(|r| r[1].clone()).collect();
    let mut expected = values.clone();
    // SQLite has no boolean class: booleans are stored as INTEGER 1 / 0.
    let n = expected.len();
    expected[n - 2] = Value::Int(1);
    expected[n - 1] = Value::Int(0);
    assert_eq!(got, expected);
    // Kinds are really distinct on the way back (Text "1" is not Int 1).
    assert!(matches!(&got[10], Value::Text(s) if s == "1"));
    assert!(matches!(&got[11], Value::Bytes(b) if b.is_empty()));

    // NaN cannot be stored by SQLite: it becomes NULL.
    let nan_row = vec![vec![Value::Int(100), Value::Float(f64::NAN)]];
    db.insert_rows(table, &nan_row).await.expect("insert nan");
    let back = db.read_rows(table).await.expect("read");
    assert_eq!(back.last().map(|r| r[1].clone()), Some(Value::Null));

    // delete_all_rows empties the table.
    db.delete_all_rows(&[table]).await.expect("delete");
    assert!(db.read_rows(table).await.expect("read").is_empty());
    server.cleanup().expect("cleanup");
}

#[tokio::test]
async fn read_rows_orders_by_key_or_all_columns() {
    let server = SqliteServer::new("order").expect("server");
    let db = server.create().await.expect("create");
    exec(
        &db,
        "CREATE TABLE k (a TEXT, b INTEGER, PRIMARY KEY (b, a));
         INSERT INTO k VALUES ('z', 1), ('a', 2), ('b', 1);
         CREATE TABLE nk (a TEXT, b INTEGER);
         INSERT INTO nk VALUES ('z', 1), ('a', 2), ('a', 1);",
    )
    .await;
    let schema = db.introspect(&[]).await.expect("introspect");
    let k = db.read_rows(&schema.tables["k"]).await.expect("read");
    let t = |s: &str| Value::Text(s.into());
    assert_eq!(
        k,
        [
            vec![t("b"), Value::Int(1)],
            vec![t("z"), Value::Int(1)],
            vec![t("a"), Value::Int(2)]
        ]
    );
    let nk = db.read_rows(&schema.tables["nk"]).await.expect("read");
    assert_eq!(
        nk,
        [
            vec![t("a"), Value::Int(1)],
            vec![t("a"), Value::Int(2)],
            vec![t("z"), Value::Int(1)]
        ]
    );
    server.cleanup().expect("cleanup");
}

#[tokio::test]
async fn constraint_violations_name_the_table_and_roll_back() {
    let server = SqliteServer::new("viol").expect("server");
    let db = server.create().await.expect("create");
    exec(
        &db,
        "CREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE users (id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL REFERENCES orgs(id));",
    )
    .await;
    let schema = db.introspect(&[]).await.expect("introspect");
    let orgs = &schema.tables["orgs"];
    let users = &schema.tables["users"];

    let err = db
        .insert_rows(
            orgs,
            &[
                vec![Value::Int(1), Value::Text("ok".into())],
                vec![Value::Int(2), Value::Null],
            ],
        )
        .await
        .expect_err("NOT NULL must fail");
    let msg = err.to_string();
    assert!(
        matches!(&err, DbError::Insert { table, row_index: 1, .. } if table == "orgs"),
        "{err:?}"
    );
    assert!(
        msg.contains("table orgs") && msg.contains(db.name()),
        "{msg}"
    );
    assert!(msg.contains("NOT NULL"), "{msg}");
    // One transaction: the good first row was rolled back too.
    assert!(db.read_rows(orgs).await.expect("read").is_empty());

    let err = db
        .insert_rows(users, &[vec![Value::Int(1), Value::Int(999)]])
        .await
        .expect_err("FK must fail");
    let msg = err.to_string();
    assert!(
        matches!(&err, DbError::Insert { table, .. } if table == "users"),
        "{err:?}"
    );
    assert!(msg.contains("FOREIGN KEY"), "{msg}");

    let err = db
        .insert_rows(users, &[vec![Value::Int(1)]])
        .await
        .expect_err("wrong width");
    assert!(err.to_string().contains("table users"), "{err}");

    // Deleting a parent whose children remain violates the FK and names the table.
    db.insert_rows(orgs, &[vec![Value::Int(1), Value::Text("a".into())]])
        .await
        .expect("insert org");
    db.insert_rows(users, &[vec![Value::Int(1), Value::Int(1)]])
        .await
        .expect("insert user");
    let err = db
        .delete_all_rows(&[orgs])
        .await
        .expect_err("parent first must fail");
    assert!(err.to_string().contains("table orgs"), "{err}");
    db.delete_all_rows(&[users, orgs])
        .await
        .expect("child first");
    server.cleanup().expect("cleanup");
}

#[tokio::test]
async fn create_clone_drop_and_cleanup() {
    let server = SqliteServer::new("Srv_1").expect("server");
    let dir = server.dir().to_path_buf();
    assert!(dir.is_dir());

    let a = server.create().await.expect("create");
    assert_eq!(a.name(), "mrt_srv_1_1");
    let url = a.url();
    let path = std::path::PathBuf::from(url.strip_prefix("sqlite:///").expect("url"));
    assert!(url.starts_with("sqlite:////"), "{url}");
    assert!(path.is_file() && path.starts_with(&dir), "{url}");

    exec(
        &a,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x');",
    )
    .await;
    let schema = a.introspect(&[]).await.expect("introspect");
    let t = &schema.tables["t"];
    // Clone while `a` has open connections.
    let b = server.clone_db(&a).await.expect("clone");
    assert_eq!(b.name(), "mrt_srv_1_2");
    a.insert_rows(t, &[vec![Value::Int(2), Value::Text("y".into())]])
        .await
        .expect("insert");
    assert_eq!(b.introspect(&[]).await.expect("introspect"), schema);
    assert_eq!(b.read_rows(t).await.expect("read").len(), 1);
    assert_eq!(a.read_rows(t).await.expect("read").len(), 2);

    // close() frees the file; the handle reopens on next use.
    a.close().await;
    assert_eq!(a.read_rows(t).await.expect("read after close").len(), 2);

    let b_path = std::path::PathBuf::from(b.url().trim_start_matches("sqlite:///"));
    server.drop_database(b).await.expect("drop");
    assert!(!b_path.exists());

    server.cleanup().expect("cleanup");
    assert!(!dir.exists());
    server.cleanup().expect("cleanup is idempotent");
    let err = server.create().await.expect_err("closed");
    assert!(matches!(err, DbError::ServerClosed { .. }));
    drop(a);
}

#[tokio::test]
async fn dropping_the_server_removes_everything_even_with_live_handles() {
    let server = SqliteServer::new("drop").expect("server");
    let dir = server.dir().to_path_buf();
    let db = server.create().await.expect("create");
    exec(&db, "CREATE TABLE t (x INT)").await;
    drop(server);
    assert!(!dir.exists());
    // The handle outlived its server and was never given back.
    std::mem::forget(db);
}

#[test]
fn panicking_trial_leaves_nothing_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let joined = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let server = SqliteServer::new("panic").expect("server");
            tx.send(server.dir().to_path_buf()).expect("send");
            let _db = server.create().await.expect("create");
            panic!("trial panicked");
        })
    })
    .join();
    assert!(joined.is_err());
    let dir = rx.recv().expect("dir");
    assert!(!dir.exists());
}

#[test]
fn bad_run_id_is_rejected() {
    assert!(SqliteServer::new("").is_err());
    assert!(SqliteServer::new("a-b").is_err());
    assert!(SqliteServer::new("a'b").is_err());
}

/// A foreign-key cycle (`teams.default_member_id` nullable -> members, `members.team_id` NOT NULL
/// -> teams): rows go in with the nullable key NULL, `update_rows` fills it, and
/// `delete_all_rows` clears it before deleting, in either order.
#[tokio::test]
async fn cycle_rows_are_filled_by_updates_and_deleted() {
    use mrt_db::RowUpdate;
    let server = SqliteServer::new("io").expect("server");
    let db = server.create().await.expect("create");
    exec(
        &db,
        "CREATE TABLE teams (id INTEGER PRIMARY KEY, default_member_id INTEGER REFERENCES members(id))",
    )
    .await;
    exec(
        &db,
        "CREATE TABLE members (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL REFERENCES teams(id))",
    )
    .await;
    let schema = db.introspect(&[]).await.expect("introspect");
    let (teams, members) = (&schema.tables["teams"], &schema.tables["members"]);
    db.insert_rows(teams, &[vec![Value::Int(1), Value::Null]])
        .await
        .expect("teams");
    db.insert_rows(members, &[vec![Value::Int(7), Value::Int(1)]])
        .await
        .expect("members");
    let fill = RowUpdate {
        key: vec![("id".into(), Value::Int(1))],
        set: vec![("default_member_id".into(), Value::Int(7))],
    };
    db.update_rows(teams, &[fill]).await.expect("update");
    let back = db.read_rows(teams).await.expect("read");
    assert_eq!(back, vec![vec![Value::Int(1), Value::Int(7)]]);
    // An update that finds no row is an error, and changes nothing.
    let missing = RowUpdate {
        key: vec![("id".into(), Value::Int(99))],
        set: vec![("default_member_id".into(), Value::Null)],
    };
    let err = db.update_rows(teams, &[missing]).await.unwrap_err();
    assert!(err.to_string().contains("matches no row"), "{err}");
    // Members first (children of teams), then teams: teams.default_member_id is cleared first.
    db.delete_all_rows(&[members, teams]).await.expect("delete");
    assert!(db.read_rows(teams).await.expect("read").is_empty());
    assert!(db.read_rows(members).await.expect("read").is_empty());
}
