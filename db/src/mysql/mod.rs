//! MySQL/MariaDB backend: databases made with `CREATE DATABASE` (clones by copying definitions
//! and rows), introspection from `information_schema`, row I/O.

mod clone;
mod introspect;
mod rows;
mod server;

pub(crate) use introspect::introspect;
pub use server::MysqlServer;
pub(crate) use server::{Mysql, MysqlDb};

// The row I/O is generic over the dialect; named here as the dispatch in `lib.rs` calls it.
pub(crate) use crate::server_core::{delete_all_rows, insert_rows, read_rows};

/// See [`crate::drop_leftovers`].
pub(crate) async fn drop_leftovers(
    url: crate::server_url::ServerUrl,
    run_prefix: &str,
) -> Result<crate::Leftovers, crate::DbError> {
    crate::server_core::drop_leftovers::<Mysql>(url, run_prefix).await
}
