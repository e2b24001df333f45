//! What a step's runner can report about the schema it left, cheaper than reading it again.
//!
//! SQLite stores a schema as its `CREATE` texts, and a connection re-parses every one of them
//! after another connection changed the schema (O(tables), the largest cost of a trial on a long
//! chain). The runner that made the change already has them parsed, so it reports them; equal
//! texts are equal schemas, and mrt models differing ones from its per-table cache.

use crate::{DbError, Schema};
use std::collections::{BTreeMap, BTreeSet};

/// One row of `sqlite_master`: type, name, tbl_name, sql.
type MasterRow = (String, String, String, Option<String>);

/// A schema as a runner reported it (today: SQLite's `sqlite_master`, sorted by type and name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaHint {
    rows: Vec<MasterRow>,
}

impl SchemaHint {
    /// `sqlite_master` as a JSON array of `[type, name, tbl_name, sql]`, as
    /// `SELECT json_group_array(json_array(type, name, tbl_name, sql)) FROM (... ORDER BY type, name)`
    /// returns it.
    pub fn from_sqlite_master_json(text: &str) -> Result<SchemaHint, serde_json::Error> {
        Ok(SchemaHint {
            rows: serde_json::from_str(text)?,
        })
    }

    /// `sqlite_master` rows (type, name, tbl_name, sql), in any order.
    pub fn from_sqlite_master_rows(rows: Vec<(String, String, String, Option<String>)>) -> Self {
        SchemaHint { rows }
    }

    /// The schema these texts describe, without the tables in `ignore_tables`.
    pub async fn schema(&self, ignore_tables: &[&str]) -> Result<Schema, DbError> {
        crate::sqlite::sqlite_schema_from_master(&self.rows, ignore_tables).await
    }

    /// What differs between two reports, per object, with both texts; for when the schemas
    /// cannot be modelled and the texts are all there is to show.
    pub fn differences(&self, other: &SchemaHint, ignore_tables: &[&str]) -> Vec<String> {
        let by_key = |rows: &[MasterRow]| -> BTreeMap<(String, String), String> {
            rows.iter()
                .filter(|(_, _, table, _)| {
                    !ignore_tables.iter().any(|t| t.eq_ignore_ascii_case(table))
                })
                .map(|(kind, name, _, sql)| {
                    let text = sql.as_deref().map_or("(implicit)".into(), one_line);
                    ((kind.clone(), name.clone()), text)
                })
                .collect()
        };
        let (a, b) = (by_key(&self.rows), by_key(&other.rows));
        let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
        keys.into_iter()
            .filter_map(|key| {
                let (kind, name) = key;
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) if x == y => None,
                    (Some(x), Some(y)) => Some(format!("{kind} {name}: first `{x}`, second `{y}`")),
                    (Some(x), None) => Some(format!(
                        "{kind} {name}: missing after the second (first `{x}`)"
                    )),
                    (None, Some(y)) => {
                        Some(format!("{kind} {name}: only after the second (`{y}`)"))
                    }
                    (None, None) => None,
                }
            })
            .collect()
    }
}

/// A statement on one line (SQLAlchemy's DDL spans several).
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(rows: &[(&str, &str, &str, &str)]) -> SchemaHint {
        SchemaHint {
            rows: rows
                .iter()
                .map(|(k, n, t, s)| {
                    (
                        k.to_string(),
                        n.to_string(),
                        t.to_string(),
                        Some(s.to_string()),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn differences_name_what_changed_and_skip_ignored_tables() {
        let first = hint(&[
            (
                "table",
                "alembic_version",
                "alembic_version",
                "CREATE TABLE alembic_version (a)",
            ),
            (
                "table",
                "codes",
                "codes",
                "CREATE TABLE codes (code VARCHAR(20))",
            ),
            (
                "index",
                "ix_codes",
                "codes",
                "CREATE INDEX ix_codes ON codes (code)",
            ),
        ]);
        let second = hint(&[
            (
                "table",
                "alembic_version",
                "alembic_version",
                "CREATE TABLE alembic_version (b)",
            ),
            (
                "table",
                "codes",
                "codes",
                "CREATE TABLE codes (code VARCHAR(10))",
            ),
        ]);
        assert_eq!(
            first.differences(&second, &["alembic_version"]),
            [
                "index ix_codes: missing after the second (first `CREATE INDEX ix_codes ON codes (code)`)",
                "table codes: first `CREATE TABLE codes (code VARCHAR(20))`, second `CREATE TABLE codes (code VARCHAR(10))`",
            ]
        );
        assert!(first.differences(&first, &["alembic_version"]).is_empty());
    }

    #[test]
    fn parses_what_sqlite_returns() {
        let text =
            r#"[["table","t","t","CREATE TABLE t (a)"],["index","sqlite_autoindex_t_1","t",null]]"#;
        let parsed = SchemaHint::from_sqlite_master_json(text).expect("valid");
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[1].3, None);
        assert!(SchemaHint::from_sqlite_master_json("{").is_err());
    }
}
