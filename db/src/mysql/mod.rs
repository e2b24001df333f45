//! MySQL/MariaDB backend: databases made with `CREATE DATABASE` (clones by copying definitions
//! and rows), introspection from `information_schema`, row I/O.

mod introspect;
mod rows;
mod server;

pub(crate) use introspect::introspect;
pub(crate) use rows::{delete_all_rows, insert_rows, read_rows};
pub use server::MysqlServer;
pub(crate) use server::{drop_leftovers, MysqlDb};
