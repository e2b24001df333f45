//! The dialect-neutral schema model. Every backend introspects into these types so the diff and
//! the row generators never need to know which database they came from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Everything mrt compares between "before upgrade" and "after downgrade".
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug, Default)]
pub struct Schema {
    /// Shared: an unchanged table's model is the same allocation in every introspection of a
    /// trial (SQLite's cache), so a schema copies and compares in time proportional to what changed.
    pub tables: BTreeMap<String, Arc<Table>>,
    pub views: BTreeMap<String, View>,
    pub triggers: BTreeMap<String, Trigger>,
    /// PostgreSQL enum types (`CREATE TYPE ... AS ENUM`): name -> labels in sort order. A
    /// downgrade that drops the table but not the type leaves one behind here.
    pub enums: BTreeMap<String, Vec<String>>,
    /// PostgreSQL sequences not owned by an identity column: name -> canonical definition
    /// ("AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE ... CACHE 1 NO CYCLE OWNED BY t.c").
    /// The current value is not part of it: seeding rows moves it.
    pub sequences: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug, Default)]
pub struct Table {
    pub name: String,
    /// In the database's physical order (order is not compared by the diff: see `diff_schemas`).
    pub columns: Vec<Column>,
    /// Primary key columns in key order; empty when the table has none.
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Indexes created by `CREATE INDEX`; the indexes that back UNIQUE and PRIMARY KEY
    /// constraints are modelled as those constraints instead.
    pub indexes: Vec<Index>,
    pub uniques: Vec<UniqueConstraint>,
    pub checks: Vec<CheckConstraint>,
    /// PostgreSQL exclusion constraints; `expression` is the normalised
    /// `EXCLUDE USING ...` text from `pg_get_constraintdef`.
    pub exclusions: Vec<CheckConstraint>,
}

impl Table {
    /// The column with this name (case-sensitive).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug, Default)]
pub struct Column {
    pub name: String,
    /// Declared type as written (trimmed, whitespace collapsed), e.g. "VARCHAR(50)",
    /// "NUMERIC(12, 2)"; empty for SQLite columns declared without a type.
    pub data_type: String,
    pub nullable: bool,
    /// Default expression as SQL text, normalised (see `normalize`), e.g. "'x'", "0",
    /// "current_timestamp" (words lower-cased, outer parentheses dropped).
    pub default: Option<String>,
    /// The database assigns values itself (SQLite: INTEGER PRIMARY KEY rowid alias).
    pub autoincrement: bool,
    pub max_length: Option<u32>,
    pub numeric_precision: Option<u32>,
    pub numeric_scale: Option<u32>,
    /// Allowed values when restricted by `CHECK (col IN ('a', 'b'))` (or a native enum type:
    /// PostgreSQL enum labels in order, MySQL `ENUM(...)`/`SET(...)` members).
    pub enum_values: Option<Vec<String>>,
    /// PostgreSQL identity column kind, "ALWAYS" or "BY DEFAULT" (`autoincrement` is set too).
    pub identity: Option<String>,
    /// Collation: MySQL always (for character columns); PostgreSQL only when it is not the
    /// type's default (`COLLATE "C"`). A downgrade that recreates a column with another
    /// collation changes sorting and comparisons.
    pub collation: Option<String>,
    /// MySQL character set of a character column (e.g. "utf8mb4").
    pub charset: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct ForeignKey {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// Referential action, upper case ("CASCADE", "SET NULL", ...); `None` for the default
    /// NO ACTION so that spelling it out or leaving it implicit compares equal.
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Index {
    pub name: String,
    /// Column names, or expressions as normalised SQL text; " DESC" / " COLLATE x" appended
    /// when not the default.
    pub columns: Vec<String>,
    pub unique: bool,
    /// The WHERE clause of a partial index, normalised.
    pub partial: Option<String>,
    /// Access method when it is not the default B-tree, lower case (PostgreSQL "gin", "hash";
    /// MySQL "fulltext", "spatial", "hash").
    pub method: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct UniqueConstraint {
    pub name: Option<String>,
    pub columns: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct CheckConstraint {
    pub name: Option<String>,
    /// Normalised SQL text of the condition.
    pub expression: String,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct View {
    pub name: String,
    /// The whole `CREATE VIEW` statement, normalised (see `normalize::normalize_sql`).
    pub definition: String,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
pub struct Trigger {
    pub name: String,
    pub table: String,
    /// The whole `CREATE TRIGGER` statement, normalised.
    pub definition: String,
}

impl Schema {
    /// User tables ordered so that every table comes after the tables its foreign keys point to
    /// (the order to seed in; reverse it to delete). Self-references are ignored; tables in an
    /// FK cycle cannot be ordered and come last, in name order. Ties are broken by name so the
    /// order is deterministic.
    pub fn user_tables_parent_first(&self) -> Vec<&Table> {
        // parents[t] = tables t depends on (that exist in this schema and are not t itself).
        let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, table) in &self.tables {
            let deps = table
                .foreign_keys
                .iter()
                .map(|fk| fk.ref_table.as_str())
                .filter(|r| *r != name.as_str() && self.tables.contains_key(*r))
                .collect();
            parents.insert(name.as_str(), deps);
        }
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut order = Vec::with_capacity(self.tables.len());
        loop {
            let ready: Vec<&str> = parents
                .iter()
                .filter(|(n, deps)| !done.contains(*n) && deps.iter().all(|d| done.contains(d)))
                .map(|(n, _)| *n)
                .collect();
            if ready.is_empty() {
                break;
            }
            // Take one at a time (smallest name first) so the order is stable and readable.
            let next = ready[0];
            done.insert(next);
            order.push(next);
        }
        for name in parents.keys() {
            if !done.contains(name) {
                order.push(name);
            }
        }
        order
            .into_iter()
            .filter_map(|n| self.tables.get(n).map(|t| &**t))
            .collect()
    }
}

impl Schema {
    /// The table `name` to change (a copy of it if its model is shared).
    pub(crate) fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.get_mut(name).map(Arc::make_mut)
    }

    /// Put each table's constraints in a canonical order, so that the order the catalog lists
    /// them in does not count as a difference.
    pub(crate) fn sort_constraints(&mut self) {
        for t in self.tables.values_mut().map(Arc::make_mut) {
            t.uniques.sort_by(|a, b| a.columns.cmp(&b.columns));
            t.foreign_keys
                .sort_by(|a, b| (&a.columns, &a.ref_table).cmp(&(&b.columns, &b.ref_table)));
            t.checks
                .sort_by(|a, b| (&a.expression, &a.name).cmp(&(&b.expression, &b.name)));
        }
    }
}

/// Length / precision / scale read from a declared type's arguments.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct TypeParams {
    pub max_length: Option<u32>,
    pub precision: Option<u32>,
    pub scale: Option<u32>,
}

/// `VARCHAR(50)` -> max_length 50; `NUMERIC(12, 2)` -> precision 12, scale 2; `FLOAT(24)` ->
/// precision 24. Anything unreadable gives no parameters rather than an error: the declared type
/// text is still compared in full.
pub(crate) fn type_params(data_type: &str) -> TypeParams {
    let upper = data_type.to_uppercase();
    let Some((base, rest)) = upper.split_once('(') else {
        return TypeParams::default();
    };
    let Some((args, _)) = rest.split_once(')') else {
        return TypeParams::default();
    };
    let Ok(args) = args
        .split(',')
        .map(|a| a.trim().parse::<u32>())
        .collect::<Result<Vec<u32>, _>>()
    else {
        return TypeParams::default();
    };
    let base = base.trim();
    let textual = ["CHAR", "BINARY", "TEXT", "CLOB", "BLOB", "BIT"]
        .iter()
        .any(|k| base.contains(k));
    let numeric = [
        "NUMERIC", "DECIMAL", "DEC", "NUMBER", "FLOAT", "DOUBLE", "REAL",
    ]
    .iter()
    .any(|k| base.contains(k));
    if textual {
        TypeParams {
            max_length: args.first().copied(),
            ..TypeParams::default()
        }
    } else if numeric {
        TypeParams {
            precision: args.first().copied(),
            scale: args.get(1).copied(),
            ..TypeParams::default()
        }
    } else {
        TypeParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        assert_eq!(type_params("VARCHAR(50)").max_length, Some(50));
        assert_eq!(type_params("character varying( 7 )").max_length, Some(7));
        let n = type_params("NUMERIC(12, 2)");
        assert_eq!((n.precision, n.scale), (Some(12), Some(2)));
        assert_eq!(type_params("INTEGER"), TypeParams::default());
        assert_eq!(type_params("VARCHAR(max)"), TypeParams::default());
    }

    fn table(name: &str, refs: &[&str]) -> Table {
        Table {
            name: name.into(),
            foreign_keys: refs
                .iter()
                .map(|r| ForeignKey {
                    name: None,
                    columns: vec!["x".into()],
                    ref_table: (*r).into(),
                    ref_columns: vec!["id".into()],
                    on_delete: None,
                    on_update: None,
                })
                .collect(),
            ..Table::default()
        }
    }

    #[test]
    fn parent_first_order() {
        let mut s = Schema::default();
        for t in [
            table("a_child", &["m_parent"]),
            table("m_parent", &["z_root", "m_parent"]),
            table("z_root", &["ignored_elsewhere"]),
            table("c1", &["c2"]),
            table("c2", &["c1"]),
            table("b_free", &[]),
        ] {
            s.tables.insert(t.name.clone(), Arc::new(t));
        }
        let names: Vec<&str> = s
            .user_tables_parent_first()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["b_free", "z_root", "m_parent", "a_child", "c1", "c2"]
        );
    }
}
