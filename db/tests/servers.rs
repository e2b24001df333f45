//! PostgreSQL and MySQL/MariaDB backends against real servers named by `MRT_TEST_POSTGRES_URL`
//! and `MRT_TEST_MYSQL_URL`. When a variable is unset, its tests are reported IGNORED with the
//! reason (never silently passed); run with `--include-ignored` to see them fail for it.
//!
//! A harness of its own (libtest-mimic) so that "ignored because the server is not configured"
//! is decided at run time.

use std::future::Future;

use libtest_mimic::{Arguments, Failed, Trial};

#[path = "common/mod.rs"]
mod common;
#[path = "servers/conformance.rs"]
mod conformance;
#[path = "servers/ddl_log.rs"]
mod ddl_log;
#[path = "servers/spec.rs"]
mod spec;

use spec::Spec;

/// Every database a test makes carries a run id unique to this process and test, so parallel
/// tests, and other runs on the same server, never see each other's databases.
pub fn run_id(test: &str) -> String {
    format!("t{}_{test}", std::process::id())
}

/// Run an async test body on its own runtime.
pub fn block_on<F: Future<Output = Result<(), Failed>>>(f: F) -> Result<(), Failed> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("tokio runtime: {e}")))?
        .block_on(f)
}

/// `Err` with a message unless `cond`; keeps test bodies readable with `?`.
pub fn ensure(cond: bool, message: impl Into<String>) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(message.into().into())
    }
}

/// A run still going holds its lease on the server: `mrt clean` (even for every run) lists its
/// database as live and keeps it; once the run has cleaned up, nothing of it is found.
pub async fn live_run_is_kept(url: &str, server: mrt_db::Server, run: &str) -> Result<(), Failed> {
    let fail = |what: &str, e: mrt_db::DbError| Failed::from(format!("{what}: {e}"));
    let db = server.create().await.map_err(|e| fail("create", e))?;
    let name = db.name().to_string();
    let found = mrt_db::drop_leftovers(url, run)
        .await
        .map_err(|e| fail("clean while running", e))?;
    let mut result = ensure(
        found.dropped.is_empty() && found.live == [name.clone()],
        format!("while the run goes on: {found:?}"),
    );
    if result.is_ok() {
        let still = db.introspect(&[]).await;
        result = ensure(still.is_ok(), format!("{name} is gone: {still:?}"));
    }
    db.close().await;
    server.cleanup().await.map_err(|e| fail("cleanup", e))?;
    let after = mrt_db::drop_leftovers(url, run)
        .await
        .map_err(|e| fail("clean after the run", e))?;
    if result.is_ok() {
        result = ensure(
            after == mrt_db::Leftovers::default(),
            format!("after the run: {after:?}"),
        );
    }
    result
}

/// Never called: fails to compile unless the handles can be shared between threads and their
/// futures spawned on a multi-threaded runtime, as the harness does.
#[allow(dead_code)]
fn futures_are_send(server: &mrt_db::Server, db: &mrt_db::TempDb, table: &mrt_db::Table) {
    fn send<T: Send>(_: T) {}
    fn shared<T: Send + Sync>() {}
    shared::<mrt_db::Server>();
    shared::<mrt_db::PgServer>();
    shared::<mrt_db::MysqlServer>();
    shared::<mrt_db::TempDb>();
    send(mrt_db::Server::connect("", ""));
    send(server.create());
    send(server.clone_db(db));
    send(server.cleanup());
    send(db.introspect(&[]));
    send(db.read_rows(table));
    send(db.insert_rows(table, &[]));
    send(db.update_rows(table, &[]));
    send(db.delete_all_rows(&[table]));
    send(db.close());
    send(mrt_db::drop_leftovers("", ""));
}

/// The conformance suite's trials for one dialect, named `<dialect>::<case>`; ignored with the
/// reason when the dialect's server URL is not set.
fn trials(spec: &'static Spec, out: &mut Vec<Trial>) {
    let var = spec.url_var;
    let prefix = spec.dialect.as_str();
    let cases = conformance::CASES;
    let url = mrt_db::test_server_url(var);
    if url.is_none() {
        eprintln!(
            "note: {var} names no server (unset with none on its local port, or `off`): the {} {prefix} tests are ignored (set it to a server URL, \
             e.g. as .ci/run does, to run them)",
            cases.len()
        );
    }
    for (name, case) in cases {
        let name = format!("{prefix}::{name}");
        let case = *case;
        match &url {
            Some(url) => {
                let url = url.clone();
                out.push(Trial::test(name, move || case(spec, url)));
            }
            None => {
                out.push(
                    Trial::test(name, move || {
                        Err(format!("{var} names no server to test against").into())
                    })
                    .with_ignored_flag(true),
                );
            }
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut all = Vec::new();
    trials(&spec::POSTGRES, &mut all);
    trials(&spec::MYSQL, &mut all);
    let name = "postgres::schema_reads_follow_the_ddl_log";
    all.push(match mrt_db::test_server_url(spec::POSTGRES.url_var) {
        Some(url) => Trial::test(name, move || ddl_log::schema_reads_follow_the_ddl_log(url)),
        None => Trial::test(name, || Err("no PostgreSQL server to test against".into()))
            .with_ignored_flag(true),
    });
    let name = "postgres::copies_take_over_the_kept_read";
    all.push(match mrt_db::test_server_url(spec::POSTGRES.url_var) {
        Some(url) => Trial::test(name, move || ddl_log::copies_take_over_the_kept_read(url)),
        None => Trial::test(name, || Err("no PostgreSQL server to test against".into()))
            .with_ignored_flag(true),
    });
    libtest_mimic::run(&args, all).exit();
}
