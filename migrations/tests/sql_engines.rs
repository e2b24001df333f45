//! The bookkeeping statements run on real engines: for every tool, the DDL (twice: it must be
//! idempotent), two migrations recorded as applied, the applied-versions query, the stored
//! checksums, then both reverted and one applied again. SQLite runs in memory; PostgreSQL and
//! MySQL/MariaDB run in a scratch database created and dropped on `MRT_TEST_POSTGRES_URL` /
//! `MRT_TEST_MYSQL_URL`, and are reported ignored with the reason when the variable is unset.

mod sql_common;
mod sql_db;

use libtest_mimic::{Arguments, Failed, Trial};
use mrt_db::Dialect;
use mrt_migrations::sql::{flyway_checksum, sqlx_checksum, SqlProject, SqlTool};
use sql_db::{connect, drop_scratch, Conn};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn round_trip(
    conn: &mut Conn,
    dialect: Dialect,
    tool: SqlTool,
    proj: &SqlProject,
) -> Result<(), String> {
    for _ in 0..2 {
        for stmt in tool.bookkeeping_ddl(dialect) {
            conn.exec(&stmt).await?;
        }
    }
    let (m1, m2) = (&proj.migrations[0], &proj.migrations[1]);
    let query = tool.applied_versions_query(dialect);
    let applied =
        |want: &[&str]| -> Vec<String> { sorted(want.iter().map(|s| s.to_string()).collect()) };
    for (i, m) in [m1, m2].into_iter().enumerate() {
        for stmt in tool.record_applied(dialect, m, 7 + i as i64) {
            conn.exec(&stmt).await?;
        }
    }
    let got = sorted(conn.column(&query).await?);
    let want = if tool == SqlTool::GolangMigrate {
        applied(&[&m2.version])
    } else {
        applied(&[&m1.version, &m2.version])
    };
    if got != want {
        return Err(format!("after two applies: {got:?}, expected {want:?}"));
    }
    match tool {
        SqlTool::Sqlx => {
            let stored = conn
                .bytes(&format!(
                    "SELECT checksum FROM _sqlx_migrations WHERE version = {}",
                    m2.version
                ))
                .await?;
            if stored != sqlx_checksum(&m2.up.text) {
                return Err("sqlx checksum differs from SHA-384 of the up file".into());
            }
        }
        SqlTool::Flyway => {
            let q = |c| mrt_db::quote_ident(dialect, c);
            let stored = conn
                .column(&format!(
                    "SELECT {} FROM {} WHERE {} = 1",
                    q("checksum"),
                    q("flyway_schema_history"),
                    q("installed_rank")
                ))
                .await?;
            if stored != [flyway_checksum(&m1.up.text).to_string()] {
                return Err(format!("Flyway checksum {stored:?}"));
            }
        }
        _ => {}
    }
    for stmt in tool.record_reverted(dialect, m2, Some(m1)) {
        conn.exec(&stmt).await?;
    }
    let got = sorted(conn.column(&query).await?);
    if got != applied(&[&m1.version]) {
        return Err(format!("after reverting {}: {got:?}", m2.id));
    }
    for stmt in tool.record_reverted(dialect, m1, None) {
        conn.exec(&stmt).await?;
    }
    let got = conn.column(&query).await?;
    if !got.is_empty() {
        return Err(format!("after reverting both: {got:?}"));
    }
    for stmt in tool.record_applied(dialect, m1, 1) {
        conn.exec(&stmt).await?;
    }
    let got = sorted(conn.column(&query).await?);
    if got != applied(&[&m1.version]) {
        return Err(format!("after applying {} again: {got:?}", m1.id));
    }
    Ok(())
}

fn check(dialect: Dialect, url: String, tool: SqlTool) -> Result<(), Failed> {
    let proj = sql_common::project(tool);
    let name = format!(
        "mrt_sqlbk_{}_{}",
        std::process::id(),
        tool.as_str().replace('-', "_")
    );
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut conn = connect(dialect, &url, &name).await?;
        let result = round_trip(&mut conn, dialect, tool, &proj).await;
        drop(conn);
        let dropped = drop_scratch(dialect, &url, &name).await;
        result?;
        dropped
    })
    .map_err(Failed::from)
}

fn main() {
    let args = Arguments::from_args();
    let engines = sql_db::engines();
    let mut trials = Vec::new();
    for (dialect, url, var) in engines {
        if url.is_none() {
            eprintln!("note: bookkeeping on {dialect} ignored: {var} names no server (unset with none on its local port, or `off`)");
        }
        for tool in SqlTool::ALL {
            let ignored = url.is_none();
            let url = url.clone().unwrap_or_default();
            trials.push(
                Trial::test(format!("bookkeeping::{dialect}::{tool}"), move || {
                    check(dialect, url, tool)
                })
                .with_ignored_flag(ignored),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
