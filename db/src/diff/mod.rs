//! Dialect-neutral comparison of two introspections (schema) and two reads of a table (rows).

pub mod rows;
pub mod schema;
