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

use common::{in_turns, ratio, run_mrt_on};
use mrt_db::{ScriptOptions, Server};
use mrt_migrations::sql::{self, SqlDown, SqlProject};
use std::path::Path;

fn main() {
    let sizes: Vec<usize> = std::env::var("MRT_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut databases = vec![("sqlite".to_string(), "sqlite".to_string())];
    match std::env::var("MRT_TEST_POSTGRES_URL") {
        Ok(url) => databases.push(("postgres".into(), url)),
        Err(_) => println!("sql_trials/postgres: skipped (set MRT_TEST_POSTGRES_URL)"),
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
            generate_chain(dir.path(), n);
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

/// `n` sqlx migrations: each creates a table (every fifth also adds a column to the one before
/// and indexes it), its down undoes exactly that.
fn generate_chain(dir: &Path, n: usize) {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).expect("mkdir");
    std::fs::write(
        dir.join("mrt.toml"),
        "kind = \"sql\"\n[sql]\ntool = \"sqlx\"\n",
    )
    .expect("mrt.toml");
    for i in 0..n {
        let name = format!("{:014}_create_t{i}", 20240101000000u64 + i as u64);
        let mut up = format!(
            "CREATE TABLE t{i} (\n    id INTEGER PRIMARY KEY,\n    name VARCHAR(50) NOT NULL,\n    note TEXT\n);\n"
        );
        let mut down = format!("DROP TABLE t{i};\n");
        if i > 0 && i % 5 == 0 {
            let p = i - 1;
            up.push_str(&format!(
                "ALTER TABLE t{p} ADD COLUMN extra INTEGER;\nCREATE INDEX ix_t{p}_name ON t{p} (name);\n"
            ));
            down = format!("DROP INDEX ix_t{p}_name;\nALTER TABLE t{p} DROP COLUMN extra;\n{down}");
        }
        std::fs::write(migrations.join(format!("{name}.up.sql")), up).expect("up");
        std::fs::write(migrations.join(format!("{name}.down.sql")), down).expect("down");
    }
}
