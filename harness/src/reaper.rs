//! The reaper of handed-off databases. Under `cargo nextest run` each process hands its
//! finished database to the next (see [`crate::pool::Pool::finish`]); no process knows it is the
//! last, so each one that hands off starts a detached copy of its own executable that waits out
//! [`mrt_db::HAND_OFF_TTL`] and drops what nobody claimed: the run leaves nothing behind. Only an
//! executable whose entry point calls [`run_if_asked`] first is started so (mrt's CLI and
//! `mrt::harness::main`); anywhere else the next process's sweep, or `mrt clean --db`, drops them.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const URL_VAR: &str = "MRT_REAP_URL";
const NAMES_VAR: &str = "MRT_REAP_NAMES";

/// Set by [`run_if_asked`]: this executable can be started as a reaper.
static ENTRY: AtomicBool = AtomicBool::new(false);

/// Call first thing in `main`: in a reaper process, waits, drops the unclaimed databases and
/// exits; anywhere else it only notes that this executable can be a reaper.
pub fn run_if_asked() {
    ENTRY.store(true, Ordering::SeqCst);
    let (Ok(url), Ok(names)) = (std::env::var(URL_VAR), std::env::var(NAMES_VAR)) else {
        return;
    };
    std::thread::sleep(mrt_db::HAND_OFF_TTL + Duration::from_secs(1));
    let names: Vec<String> = (names.split(','))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        let _ = runtime.block_on(async {
            let drop = mrt_db::drop_unclaimed(&url, &names);
            tokio::time::timeout(Duration::from_secs(30), drop).await
        });
    }
    std::process::exit(0);
}

/// Starts the reaper of `names` on the server at `url`, detached (its own process group, no
/// standard streams: nextest neither waits for it nor kills it with the test).
#[allow(clippy::zombie_processes)] // it outlives this process by design; init reaps it
pub fn spawn(url: &str, names: &[String]) {
    if !ENTRY.load(Ordering::SeqCst) || names.is_empty() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = Command::new(exe);
    command
        .env(URL_VAR, url)
        .env(NAMES_VAR, names.join(","))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let _ = command.spawn();
}
