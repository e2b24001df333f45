//! Nothing left behind on Ctrl-C: the servers of a run are registered here, and a SIGINT/SIGTERM
//! handler drops every database they created before the process exits.

use mrt_db::Server;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

static SERVERS: Mutex<Vec<Arc<Server>>> = Mutex::new(Vec::new());
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set once a signal arrived: no new database may be created after the clean-up started.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}
static INSTALL: Once = Once::new();
/// How long a signal handler may spend dropping databases before it exits anyway.
const SIGNAL_CLEANUP: Duration = Duration::from_secs(20);

pub fn register(server: Arc<Server>) {
    if let Ok(mut servers) = SERVERS.lock() {
        servers.push(server);
    }
}

/// Called after a normal end: the run's own clean-up already dropped everything.
pub fn forget_all() {
    if let Ok(mut servers) = SERVERS.lock() {
        servers.clear();
    }
}

pub fn install_signal_handler() {
    INSTALL.call_once(|| {
        let result = ctrlc::set_handler(|| {
            stop_run("mrt: interrupted; dropping the databases this run created", 130)
        });
        if let Err(e) = result {
            eprintln!("mrt: cannot install the Ctrl-C handler ({e}); an interrupted run may leave databases behind");
        }
    });
}

/// Ends the whole run at once (a signal, or env.py reaching for a database mrt did not create):
/// says why in one message, drops every database the run created, kills the workers and exits
/// with `code`. Trials still running see [`interrupted`] and report nothing, so no verdict of a
/// stopped run reaches the output. Only the first caller does this; later ones wait for the exit.
pub fn stop_run(message: &str, code: i32) -> ! {
    if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        park();
    }
    eprintln!("\n{}", mrt_db::scrub_secrets(message));
    let servers: Vec<Arc<Server>> = SERVERS.lock().map(|s| s.clone()).unwrap_or_default();
    for server in servers {
        server.cleanup_blocking(SIGNAL_CLEANUP);
        let left = server.created_databases();
        if !left.is_empty() {
            eprintln!(
                "mrt: could not drop {} on {}: run `mrt clean --db <server URL>`",
                left.join(", "),
                server.label()
            );
        }
    }
    // Workers last: killing one first would let its trial go on and create databases.
    mrt_migrations::exec::kill_all_workers();
    std::process::exit(code);
}

/// Blocks the calling thread for good: the run is being stopped and the process exits soon.
pub fn park() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// A step's result, except that a step refused for reaching a database mrt did not create stops
/// the whole run (exit 3) with its message.
pub fn stop_if_refused<T>(
    result: Result<T, mrt_migrations::exec::StepError>,
) -> Result<T, mrt_migrations::exec::StepError> {
    match result {
        Err(mrt_migrations::exec::StepError::Refused(message)) => {
            stop_run(&format!("mrt: error: {message}"), 3)
        }
        other => other,
    }
}
