//! PostgreSQL backend: databases made with `CREATE DATABASE` (clones with `TEMPLATE`),
//! introspection from `pg_catalog`, row I/O with explicit casts.

mod introspect;
mod rows;
mod server;

pub(crate) use introspect::introspect;
pub(crate) use rows::{delete_all_rows, insert_rows, read_rows};
pub use server::PgServer;
pub(crate) use server::{drop_leftovers, PgDb};
