//! Hand-off of a finished database to the next process (`cargo nextest run` starts one process
//! per test): instead of dropping its database, a process renames it `mrt_hand_<key>_<secs>`
//! (the snapshot key of its state, the time it was handed off), and the next process that needs
//! that state, or a later one, renames it to one of its own names. A rename is instant, where
//! `CREATE DATABASE ... TEMPLATE` copies every file (0.1-0.6 s on a 100-table chain) and
//! `DROP DATABASE` waits on the disk. Renaming is atomic and needs a database nobody is connected
//! to, so exactly one process gets each one. What nobody claims within [`HAND_OFF_TTL`] is
//! dropped by the next process that looks, or by `mrt clean --db`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnection;

use super::server::{in_use, sqlstate, terminate, PgServer};
use crate::server_core::connect_admin;
use crate::server_url::ServerUrl;
use crate::{quote_ident, DbError, Dialect, TempDb};

/// The server-side name prefix of a handed-off database.
pub const HAND_OFF_PREFIX: &str = "mrt_hand_";

/// How long a handed-off database waits for a process to claim it: under nextest the next
/// process starts as soon as one ends, so a claim comes within milliseconds or not at all.
pub const HAND_OFF_TTL: Duration = Duration::from_secs(15);

const LIST_SQL: &str = "SELECT datname::text FROM pg_database WHERE datname LIKE 'mrt\\_hand\\_%'";

fn q(name: &str) -> String {
    quote_ident(Dialect::Postgres, name)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The key and hand-off time in a name `mrt_hand_<key>_<secs>`.
fn parse(name: &str) -> Option<(&str, u64)> {
    let (key, secs) = name.strip_prefix(HAND_OFF_PREFIX)?.rsplit_once('_')?;
    Some((key, secs.parse().ok()?))
}

/// `DROP DATABASE IF EXISTS` of a handed-off database, ignoring a failure: one in use is being
/// claimed at that moment, and is that process's then.
async fn drop_if_exists(conn: &mut PgConnection, name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {}", q(name));
    let _ = sqlx::query(&sql).execute(conn).await;
}

async fn rename(conn: &mut PgConnection, from: &str, to: &str) -> Result<(), sqlx::Error> {
    let sql = format!("ALTER DATABASE {} RENAME TO {}", q(from), q(to));
    sqlx::query(&sql).execute(conn).await.map(|_| ())
}

impl PgServer {
    /// Renames `db` (made by this handle, its trial passed) to `mrt_hand_<key>_<secs>` and
    /// returns that name; it is then no longer this run's. `Ok(None)` when it could not be
    /// renamed: it is still ours, to be dropped as usual.
    pub(crate) async fn hand_off(&self, db: &TempDb, key: &str) -> Result<Option<String>, DbError> {
        let src = db.as_postgres()?;
        if !self.0.created_databases().contains(&src.name) {
            return Ok(None);
        }
        super::introspect::keep_read(src).await;
        src.close().await;
        let name = format!("{HAND_OFF_PREFIX}{key}_{}", now_secs());
        let mut conn = self.0.admin_conn(&src.name).await?;
        let mut attempt = 0u64;
        loop {
            // The handle's own sessions end asynchronously after it closes them.
            let _ = terminate(&mut conn, &src.name).await;
            match rename(&mut conn, &src.name, &name).await {
                Ok(()) => {
                    self.0.unreserve(&src.name);
                    return Ok(Some(name));
                }
                Err(e) if in_use(&e) && attempt < 5 => attempt += 1,
                Err(_) => return Ok(None),
            }
            tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
        }
    }

    /// The first of `keys` (best first) some process handed off, renamed to a new database of
    /// this run, with its key. Handed-off databases older than [`HAND_OFF_TTL`] are dropped on
    /// the way.
    pub(crate) async fn claim(&self, keys: &[String]) -> Result<Option<(TempDb, String)>, DbError> {
        let mut conn = self.0.admin_conn("(hand-off)").await?;
        let names: Vec<String> = sqlx::query_scalar(LIST_SQL)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| {
                self.0
                    .admin_error("(hand-off)", "listing handed-off databases", e)
            })?;
        let now = now_secs();
        let mut waiting = Vec::new();
        for name in &names {
            match parse(name) {
                Some((key, secs)) if now.saturating_sub(secs) <= HAND_OFF_TTL.as_secs() => {
                    waiting.push((key, name));
                }
                // Unclaimed too long: its own reaper is late or gone.
                Some(_) => drop_if_exists(&mut conn, name).await,
                None => {}
            }
        }
        for key in keys {
            for (_, from) in waiting.iter().filter(|(k, _)| k == key) {
                let name = self.0.reserve()?;
                match rename(&mut conn, from, &name).await {
                    Ok(()) => return Ok(Some((self.0.handle(name)?, key.clone()))),
                    // Claimed by another process (3D000: gone, 55006: in use), or this name
                    // taken (42P04).
                    Err(e)
                        if matches!(sqlstate(&e).as_deref(), Some("55006" | "3D000" | "42P04")) =>
                    {
                        self.0.unreserve(&name);
                    }
                    Err(e) => {
                        self.0.unreserve(&name);
                        return Err(self
                            .0
                            .admin_error(from, "claiming a handed-off database", e));
                    }
                }
            }
        }
        Ok(None)
    }
}

/// Drops the handed-off databases among `names` that nobody claimed (a claimed one has another
/// name by then): what a process's reaper does once [`HAND_OFF_TTL`] has passed. Only names
/// with the hand-off prefix are ever dropped.
pub(crate) async fn drop_unclaimed(url: ServerUrl, names: &[String]) -> Result<(), DbError> {
    let (_, mut conn) = connect_admin::<super::Pg>(&url).await?;
    for name in names.iter().filter(|n| parse(n).is_some()) {
        drop_if_exists(&mut conn, name).await;
    }
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}

/// The handed-off databases waiting on the server at `url`.
pub(crate) async fn waiting(url: ServerUrl) -> Result<Vec<String>, DbError> {
    let (_, mut conn) = connect_admin::<super::Pg>(&url).await?;
    let names = sqlx::query_scalar(LIST_SQL)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| url.error("postgres", format!("listing handed-off databases: {e}")));
    let _ = sqlx::Connection::close(conn).await;
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_key_and_time() {
        assert_eq!(
            parse("mrt_hand_0a1b_1700000000"),
            Some(("0a1b", 1_700_000_000))
        );
        assert_eq!(parse("mrt_hand_0a1b"), None);
        assert_eq!(parse("mrt_snap_0a1b_1"), None);
        assert_eq!(parse("mrt_hand_0a1b_x"), None);
    }
}
