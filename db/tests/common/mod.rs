//! Helpers shared by the SQLite integration tests.
#![allow(dead_code)]

use std::str::FromStr;

use mrt_db::TempDb;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Run a multi-statement script on the database through a separate connection (as the Python
/// worker would), with foreign keys off like Alembic's batch mode.
pub async fn exec(db: &TempDb, sql: &str) {
    let url = db.url();
    let path = url.strip_prefix("sqlite:///").expect("sqlite url");
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .expect("options")
        .foreign_keys(false)
        .connect()
        .await
        .expect("connect");
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{sql}"));
    conn.close().await.expect("close");
}

/// The schema a new handle reads (everything): that of a copy of `db`, dropped after.
pub async fn full_read(server: &mrt_db::Server, db: &TempDb) -> Result<mrt_db::Schema, String> {
    let copy = (server.clone_db(db).await).map_err(|e| format!("clone: {e}"))?;
    let schema = (copy.introspect(&[]).await).map_err(|e| format!("read copy: {e}"));
    (server.drop_database(copy).await).map_err(|e| format!("drop copy: {e}"))?;
    schema
}
