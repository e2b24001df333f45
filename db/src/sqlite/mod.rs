//! SQLite backend: temp-file databases, introspection through pragmas and `sqlite_master`, row I/O.

mod ddl_watch;
mod introspect;
mod library;
mod parse;
mod reads;
mod rows;
mod server;

pub use introspect::schema_from_master as sqlite_schema_from_master;
pub(crate) use reads::introspect;
pub(crate) use rows::{delete_all_rows, insert_rows, read_rows};
pub(crate) use server::drop_sqlite_leftovers;
pub(crate) use server::library_version;
pub(crate) use server::SqliteDb;
pub use server::SqliteServer;
