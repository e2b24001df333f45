//! Benchmark of `mrt test` on generated sqlx chains (one `CREATE TABLE` per migration, its down a
//! `DROP TABLE`) against the floor measured in the same run: every up, then every down in reverse,
//! each in its own transaction with sqlx's bookkeeping row, over one connection of mrt's own
//! database layer — what `sqlx migrate run` and N times `sqlx migrate revert` execute, without
//! their process start-ups. Ratios matter, not absolute times: these machines are noisy.
//!
//! The floor and mrt run in turns, `MRT_BENCH_RUNS` times each (default 3), medians compared.
//!
//! Run: `cargo bench --bench sql_trials` (sizes: `MRT_BENCH_SIZES=100,1000`, default `100,1000`;
//! PostgreSQL too when `MRT_TEST_POSTGRES_URL` is set).

mod common;

use common::{in_turns, ratio, run_mrt_on, sqlx_chain};
use mrt_db::{ScriptOptions, Server};
use mrt_migrations::sql::{self, SqlDown, SqlProject};

fn main() {
    let sizes: Vec<usize> = std::env::var("MRT_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut databases = vec![("sqlite".to_string(), "sqlite".to_string())];
    match mrt_db::test_server_url("MRT_TEST_POSTGRES_URL") {
        Some(url) => databases.push(("postgres".into(), url)),
        None => println!("sql_trials/postgres: skipped (set MRT_TEST_POSTGRES_URL)"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for (name, url) in &databases {
        let mut mrt_times = Vec::new();
        for &n in &sizes {
            let dir = tempfile::tempdir().expect("temp dir");
            sqlx_chain(dir.path(), n);
            let project = sql::load(dir.path(), None, None).expect("generated chain reads");
            assert_eq!(project.migrations.len(), n);
            let (_, mrt) = in_turns(
                &format!("sql_trials/{name}/{n}"),
                || runtime.block_on(floor(&project, url)),
                || run_mrt_on(dir.path(), url),
            );
            mrt_times.push((n, mrt));
        }
        for pair in mrt_times.windows(2) {
            let ((a, ta), (b, tb)) = (pair[0], pair[1]);
            println!(
                "sql_trials/{name}: mrt {b} migrations / {a} migrations = {:.2}x (linear would be {:.1}x)",
                ratio(tb, ta),
                b as f64 / a as f64
            );
        }
    }
}

/// Every up then every down, each in a transaction with sqlx's bookkeeping, on one database.
async fn floor(project: &SqlProject, url: &str) {
    let server = Server::connect(url, "bench").await.expect("server");
    let db = server.create().await.expect("database");
    let tool = project.tool;
    let dialect = db.dialect();
    let ddl = tool.bookkeeping_ddl(dialect);
    let setup = ScriptOptions {
        transaction: false,
        then: &ddl,
    };
    db.run_script("", setup).await.expect("bookkeeping table");
    for m in &project.migrations {
        let then = tool.record_applied(dialect, m, 0);
        let options = ScriptOptions {
            transaction: true,
            then: &then,
        };
        db.run_script(&m.up.text, options).await.expect("up");
    }
    for (i, m) in project.migrations.iter().enumerate().rev() {
        let SqlDown::Script(down) = &m.down else {
            panic!("{} has no down", m.id)
        };
        let previous = i.checked_sub(1).map(|p| &project.migrations[p]);
        let then = tool.record_reverted(dialect, m, previous);
        let options = ScriptOptions {
            transaction: true,
            then: &then,
        };
        db.run_script(&down.text, options).await.expect("down");
    }
    db.close().await;
    server.drop_database(db).await.expect("drop");
    server.cleanup().await.expect("cleanup");
}
