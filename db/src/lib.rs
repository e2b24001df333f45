//! Database backends per dialect (SQLite, PostgreSQL, MySQL): isolated databases, schema
//! introspection, row I/O and schema diff. Kept apart so the trial logic never speaks SQL itself.
