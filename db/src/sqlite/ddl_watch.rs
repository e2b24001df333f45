//! Which tables a database's own connection changed since its schema was last read, told by
//! SQLite itself: an authorizer callback sees every statement as it is prepared, with the table
//! it creates, drops or alters. A schema read then reads again only those tables' objects, not
//! all of `sqlite_master` (a trial reads three times; on a long chain every full read is
//! O(tables)). This is SQLite's counterpart of the PostgreSQL DDL log (`postgres::ddl_log`).
//!
//! `VACUUM` (which may renumber `sqlite_master`) is a full change.
//! `ALTER TABLE t` is reported apart: a rename rewrites the texts of other objects that name
//! `t`, which the reader finds in the texts it read last. What the callback cannot see is
//! reported as a full change: a new connection (what happened before it is unknown), and, from
//! `PRAGMA writable_schema` on, every statement (`sqlite_master` may then be written directly;
//! SQLite's own `CREATE`/`DROP` also report writes to it, which say nothing more). Writes by
//! other connections (the Python worker, a probe) are caught by the reader through
//! `PRAGMA data_version`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use libsqlite3_sys as ffi;

/// What changed since the last [`take`]: everything, or the objects of these tables (lower case).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Touched {
    pub full: bool,
    pub tables: BTreeSet<String>,
    /// Tables altered (lower case): also among `tables`.
    pub altered: BTreeSet<String>,
    /// `PRAGMA writable_schema` was seen: every read is a full one from then on.
    writable: bool,
}

/// Per watched database (by id): what its connection changed. An id is in the map from its first
/// connection until [`forget`].
static TOUCHED: Mutex<BTreeMap<usize, Touched>> = Mutex::new(BTreeMap::new());

/// A new id for a database handle: the authorizer carries it as its user data (a number, never
/// dereferenced), so no pointer has to outlive a connection.
pub(crate) fn new_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn touched() -> std::sync::MutexGuard<'static, BTreeMap<usize, Touched>> {
    TOUCHED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs the authorizer on a new connection of database `id`. What happened before this
/// connection is unknown: the next read is a full one.
pub(crate) async fn watch(conn: &mut sqlx::SqliteConnection, id: usize) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle().as_ptr();
    // SAFETY: `raw` is a live connection, locked (sqlx's worker thread does not use it until
    // `handle` is dropped); the callback is a plain function and its user data an integer.
    let rc = unsafe { ffi::sqlite3_set_authorizer(raw, Some(authorize), id as *mut c_void) };
    if rc != ffi::SQLITE_OK {
        // Not registered: every read of this database stays a full read.
        return Err(sqlx::Error::Protocol(format!(
            "sqlite3_set_authorizer returned {rc}"
        )));
    }
    // Registered only now: a statement prepared before reported nothing.
    touched().insert(id, Touched::all());
    Ok(())
}

/// What changed since the last call, and starts over.
pub(crate) fn take(id: usize) -> Touched {
    match touched().get_mut(&id) {
        Some(t) if t.writable => Touched::all(),
        Some(t) => std::mem::take(t),
        // Not watched (no connection yet, or the authorizer could not be set): unknown.
        None => Touched::all(),
    }
}

impl Touched {
    fn all() -> Touched {
        Touched {
            full: true,
            ..Touched::default()
        }
    }
}

/// Stops keeping track of database `id` (its handle is gone).
pub(crate) fn forget(id: usize) {
    touched().remove(&id);
}

/// What an action code tells about the schema.
#[derive(Debug, PartialEq)]
enum Effect<'a> {
    None,
    /// The objects of this table (or view) may have changed.
    Table(&'a str),
    /// This table was altered: so may be the objects that name it.
    Altered(&'a str),
    /// Anything may have changed.
    All,
    /// Anything may change from now on.
    Writable,
}

/// The effect of one authorizer call (see <https://sqlite.org/c3ref/c_alter_table.html> for
/// what `a` and `b` hold per code; `db` is the database's name). Temporary objects are not in
/// `sqlite_master`.
fn effect<'a>(code: c_int, a: Option<&'a str>, b: Option<&'a str>, db: Option<&str>) -> Effect<'a> {
    // Only the main database is in `sqlite_master`: not `temp`, an attached one, or the copy
    // `VACUUM INTO` writes (whose tables it creates one by one).
    let on = match code {
        ffi::SQLITE_ALTER_TABLE => a,
        ffi::SQLITE_ATTACH => None,
        _ => db,
    };
    if on.is_some_and(|d| !d.eq_ignore_ascii_case("main")) {
        return Effect::None;
    }
    let table = |t: Option<&'a str>| t.map_or(Effect::All, Effect::Table);
    match code {
        ffi::SQLITE_CREATE_INDEX
        | ffi::SQLITE_DROP_INDEX
        | ffi::SQLITE_CREATE_TRIGGER
        | ffi::SQLITE_DROP_TRIGGER => table(b),
        ffi::SQLITE_CREATE_TABLE
        | ffi::SQLITE_DROP_TABLE
        | ffi::SQLITE_CREATE_VIEW
        | ffi::SQLITE_DROP_VIEW
        | ffi::SQLITE_CREATE_VTABLE
        | ffi::SQLITE_DROP_VTABLE => table(a),
        ffi::SQLITE_ALTER_TABLE => b.map_or(Effect::All, Effect::Altered),
        // `VACUUM` attaches an empty (temporary) database to rebuild into, and may renumber
        // `sqlite_master`; `VACUUM INTO` attaches its target file, and changes nothing here.
        ffi::SQLITE_ATTACH if a.is_none_or(str::is_empty) => Effect::All,
        ffi::SQLITE_PRAGMA if a.is_some_and(|p| p.eq_ignore_ascii_case("writable_schema")) => {
            Effect::Writable
        }
        _ => Effect::None,
    }
}

/// The authorizer: records what a statement being prepared will change, and allows it.
unsafe extern "C" fn authorize(
    data: *mut c_void,
    code: c_int,
    a: *const c_char,
    b: *const c_char,
    db: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    // SAFETY: SQLite passes NUL-terminated strings or NULL, valid for this call.
    let text = |p: *const c_char| {
        (!p.is_null())
            .then(|| unsafe { CStr::from_ptr(p) }.to_str().ok())
            .flatten()
    };
    let effect = effect(code, text(a), text(b), text(db));
    if effect != Effect::None {
        if let Some(t) = touched().get_mut(&(data as usize)) {
            match effect {
                Effect::Table(name) => {
                    t.tables.insert(name.to_ascii_lowercase());
                }
                Effect::Altered(name) => {
                    t.tables.insert(name.to_ascii_lowercase());
                    t.altered.insert(name.to_ascii_lowercase());
                }
                Effect::Writable => t.writable = true,
                _ => t.full = true,
            }
        }
    }
    ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_the_table_or_ask_for_everything() {
        let e = |code, a, b| effect(code, a, b, Some("main"));
        assert_eq!(
            e(ffi::SQLITE_CREATE_INDEX, Some("ix"), Some("T")),
            Effect::Table("T")
        );
        assert_eq!(
            e(ffi::SQLITE_CREATE_TABLE, Some("t"), None),
            Effect::Table("t")
        );
        assert_eq!(
            e(ffi::SQLITE_DROP_TRIGGER, Some("trg"), Some("t")),
            Effect::Table("t")
        );
        assert_eq!(
            e(ffi::SQLITE_ALTER_TABLE, Some("main"), Some("t")),
            Effect::Altered("t")
        );
        // SQLite's own CREATE and DROP report writes to sqlite_master: no more than the above.
        assert_eq!(
            e(ffi::SQLITE_INSERT, Some("sqlite_master"), None),
            Effect::None
        );
        assert_eq!(
            e(ffi::SQLITE_PRAGMA, Some("writable_schema"), Some("1")),
            Effect::Writable
        );
        assert_eq!(
            e(ffi::SQLITE_PRAGMA, Some("foreign_keys"), Some("0")),
            Effect::None
        );
        assert_eq!(e(ffi::SQLITE_INSERT, Some("t"), None), Effect::None);
        assert_eq!(e(ffi::SQLITE_READ, Some("t"), Some("c")), Effect::None);
        assert_eq!(
            e(ffi::SQLITE_CREATE_TEMP_TABLE, Some("t"), None),
            Effect::None
        );
        assert_eq!(
            effect(ffi::SQLITE_CREATE_TABLE, Some("t"), None, None),
            Effect::Table("t")
        );
        // Another database than main: not in sqlite_master.
        let vacuum_into = effect(ffi::SQLITE_CREATE_TABLE, Some("t"), None, Some("vacuum_db"));
        assert_eq!(vacuum_into, Effect::None);
        let temp = effect(ffi::SQLITE_ALTER_TABLE, Some("temp"), Some("t"), None);
        assert_eq!(temp, Effect::None);
        assert_eq!(e(ffi::SQLITE_ATTACH, Some(""), None), Effect::All);
        assert_eq!(
            e(ffi::SQLITE_ATTACH, Some("/tmp/snapshot.db"), None),
            Effect::None
        );
        // A code with its table missing: unknown, so everything.
        assert_eq!(e(ffi::SQLITE_DROP_INDEX, Some("ix"), None), Effect::All);
    }
}
