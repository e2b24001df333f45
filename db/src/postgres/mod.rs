//! PostgreSQL backend: databases made with `CREATE DATABASE` (clones with `TEMPLATE`),
//! introspection from `pg_catalog`, row I/O with explicit casts.

mod ddl_log;
mod handoff;
mod introspect;
mod rows;
mod server;

pub use handoff::{HAND_OFF_PREFIX, HAND_OFF_TTL};
pub(crate) use introspect::{introspect, Tracking};
pub use server::PgServer;
pub(crate) use server::{Pg, PgDb};

// The row I/O is generic over the dialect; named here as the dispatch in `lib.rs` calls it.
pub(crate) use crate::server_core::{delete_all_rows, insert_rows, read_rows};

pub(crate) use handoff::{drop_unclaimed, waiting};

/// See [`crate::drop_leftovers`].
pub(crate) async fn drop_leftovers(
    url: crate::server_url::ServerUrl,
    run_prefix: &str,
) -> Result<crate::Leftovers, crate::DbError> {
    crate::server_core::drop_leftovers::<Pg>(url, run_prefix).await
}
