//! Process-wide settings of the SQLite library, made before mrt opens its first connection.

use std::sync::Once;

use libsqlite3_sys as ffi;

/// Turns off SQLite's memory statistics. With them on (the default), every allocation SQLite
/// makes takes one process-wide mutex: two trials running at once on two databases then wait on
/// each other's allocations (a fifth of a 1,000-migration run's time went to that mutex's
/// futexes). mrt never reads the statistics.
///
/// `sqlite3_config` must come before the library initialises, i.e. before the process's first
/// connection; every connection mrt opens calls this first. Where something else opened one
/// earlier, SQLite refuses the setting and nothing changes but speed.
pub(crate) fn configure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: no connection of this process is open yet (see above), so no other thread uses
        // the library; the option takes one int argument.
        let _ = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int) };
    });
}
