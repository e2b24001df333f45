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
            INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!("\nmrt: interrupted; dropping the databases this run created ...");
            let servers: Vec<Arc<Server>> = SERVERS.lock().map(|s| s.clone()).unwrap_or_default();
            for server in servers {
                server.cleanup_blocking(SIGNAL_CLEANUP);
                let left = server.created_databases();
                if !left.is_empty() {
                    eprintln!("mrt: could not drop {} on {}: run `mrt clean`", left.join(", "), server.label());
                }
            }
            // Workers last: killing one first would let its trial go on and create databases.
            mrt_migrations::exec::kill_all_workers();
            std::process::exit(130);
        });
        if let Err(e) = result {
            eprintln!("mrt: cannot install the Ctrl-C handler ({e}); an interrupted run may leave databases behind");
        }
    });
}
