//! Schema comparison. Each object is reduced to a key (what identifies it) and a canonical
//! description (everything compared about it); objects whose descriptions differ, or that exist on
//! one side only, are reported. Comparing canonical descriptions means the message shows exactly
//! what was compared.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::{Column, ForeignKey, Index, Schema, Table};
use crate::normalize::{canonical_type, collapse_whitespace};

/// One schema object that is not the same after the downgrade as before.
#[derive(Serialize, Clone, PartialEq, Eq, Debug)]
pub struct SchemaDifference {
    /// What differs, e.g. "table users", "column users.email", "index ix_users_email on users",
    /// "foreign key users(org_id) -> orgs(id)".
    pub object: String,
    /// Description before the migration; `None` when the object did not exist.
    pub before: Option<String>,
    /// Description after; `None` when the object is gone.
    pub after: Option<String>,
}

impl fmt::Display for SchemaDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.before, &self.after) {
            (Some(b), Some(a)) => write!(f, "{}: was {b}, now {a}", self.object),
            (Some(b), None) => write!(f, "{}: was {b}, now missing", self.object),
            (None, Some(a)) => write!(f, "{}: not there before, now {a}", self.object),
            (None, None) => write!(f, "{}: differs", self.object),
        }
    }
}

/// Everything that differs between `before` and `after`, in a deterministic order: tables by
/// name (each with its columns, primary key, foreign keys, indexes, unique, check and exclusion
/// constraints), then views, then triggers, then (PostgreSQL) enum types and sequences.
///
/// Enum types are compared by name and label list in order: a type that a downgrade left
/// behind shows as "enum type x: not there before", one that gained a label as a changed list.
///
/// Not reported, because it is not a semantic change:
/// - column order: a correct downgrade that re-adds a dropped column with `ADD COLUMN` puts it
///   last, and no database lets a migration do otherwise portably; code addresses columns by name;
/// - case and spacing of type names and the synonyms `INT`/`INTEGER`, `BOOL`/`BOOLEAN`;
/// - quoting, case and spacing of SQL text (defaults, CHECKs, views, triggers; normalised at
///   introspection) and the order in which constraints and indexes are listed;
/// - an index or constraint's place in the table definition.
///
/// Names of indexes and constraints are compared: later migrations drop them by name.
pub fn diff_schemas(before: &Schema, after: &Schema) -> Vec<SchemaDifference> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        before.tables.keys().chain(after.tables.keys()).collect();
    for name in names {
        match (before.tables.get(name), after.tables.get(name)) {
            // Equal models describe equally: skip describing them (most tables, in long chains).
            (Some(b), Some(a)) if std::sync::Arc::ptr_eq(b, a) || b == a => {}
            (Some(b), Some(a)) => diff_table(b, a, &mut out),
            (b, a) => out.push(SchemaDifference {
                object: format!("table {name}"),
                before: b.map(|t| describe_table(t)),
                after: a.map(|t| describe_table(t)),
            }),
        }
    }
    diff_keyed(
        &mut out,
        before
            .views
            .values()
            .map(|v| (v.name.clone(), v.definition.clone())),
        after
            .views
            .values()
            .map(|v| (v.name.clone(), v.definition.clone())),
        |name| format!("view {name}"),
    );
    let trigger =
        |t: &crate::model::Trigger| (t.name.clone(), format!("on {}: {}", t.table, t.definition));
    diff_keyed(
        &mut out,
        before.triggers.values().map(trigger),
        after.triggers.values().map(trigger),
        |name| format!("trigger {name}"),
    );
    let labels = |(name, values): (&String, &Vec<String>)| {
        let quoted: Vec<String> = values
            .iter()
            .map(|v| format!("'{}'", v.replace('\'', "''")))
            .collect();
        (name.clone(), format!("({})", quoted.join(", ")))
    };
    diff_keyed(
        &mut out,
        before.enums.iter().map(labels),
        after.enums.iter().map(labels),
        |name| format!("enum type {name}"),
    );
    diff_keyed(
        &mut out,
        before.sequences.iter().map(|(k, v)| (k.clone(), v.clone())),
        after.sequences.iter().map(|(k, v)| (k.clone(), v.clone())),
        |name| format!("sequence {name}"),
    );
    out
}

/// Report every key whose (sorted) descriptions differ between the two sides. Several objects
/// may share a key (two identical CHECKs); they are compared as a multiset.
fn diff_keyed<K: Ord>(
    out: &mut Vec<SchemaDifference>,
    before: impl Iterator<Item = (K, String)>,
    after: impl Iterator<Item = (K, String)>,
    object: impl Fn(&K) -> String,
) {
    let mut map: BTreeMap<K, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (k, d) in before {
        map.entry(k).or_default().0.push(d);
    }
    for (k, d) in after {
        map.entry(k).or_default().1.push(d);
    }
    for (k, (mut b, mut a)) in map {
        b.sort();
        a.sort();
        if b != a {
            let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join("; "));
            out.push(SchemaDifference {
                object: object(&k),
                before: join(b),
                after: join(a),
            });
        }
    }
}

fn describe_table(t: &Table) -> String {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    format!("a table with columns ({})", cols.join(", "))
}

/// Everything compared about a column, canonical: "VARCHAR(120) NULL DEFAULT 'x'".
fn describe_column(c: &Column) -> String {
    let ty = canonical_type(&c.data_type);
    let mut s = if ty.is_empty() {
        "(no type)".to_string()
    } else {
        ty
    };
    s.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(&collapse_whitespace(d));
    }
    if let Some(identity) = &c.identity {
        s.push_str(&format!(" GENERATED {identity} AS IDENTITY"));
    } else if c.autoincrement {
        s.push_str(" AUTOINCREMENT");
    }
    if let Some(charset) = &c.charset {
        s.push_str(&format!(" CHARACTER SET {charset}"));
    }
    if let Some(collation) = &c.collation {
        s.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(values) = &c.enum_values {
        let quoted: Vec<String> = values
            .iter()
            .map(|v| format!("'{}'", v.replace('\'', "''")))
            .collect();
        s.push_str(&format!(" IN ({})", quoted.join(", ")));
    }
    s
}

fn describe_fk(fk: &ForeignKey) -> String {
    let mut s = match &fk.name {
        Some(n) => format!("named {n}"),
        None => "unnamed".to_string(),
    };
    s.push_str(&format!(
        ", ON DELETE {}, ON UPDATE {}",
        fk.on_delete.as_deref().unwrap_or("NO ACTION"),
        fk.on_update.as_deref().unwrap_or("NO ACTION")
    ));
    s
}

fn describe_index(i: &Index) -> String {
    let mut s = format!(
        "{}{}({})",
        if i.unique { "UNIQUE " } else { "" },
        i.method
            .as_deref()
            .map(|m| format!("USING {m} "))
            .unwrap_or_default(),
        i.columns.join(", ")
    );
    if let Some(p) = &i.partial {
        s.push_str(" WHERE ");
        s.push_str(p);
    }
    s
}

fn describe_name(name: &Option<String>) -> String {
    match name {
        Some(n) => format!("named {n}"),
        None => "unnamed".to_string(),
    }
}

fn diff_table(b: &Table, a: &Table, out: &mut Vec<SchemaDifference>) {
    let t = &b.name;
    // Columns, by name; order deliberately ignored (see `diff_schemas`).
    diff_keyed(
        out,
        b.columns
            .iter()
            .map(|c| (c.name.clone(), describe_column(c))),
        a.columns
            .iter()
            .map(|c| (c.name.clone(), describe_column(c))),
        |name| format!("column {t}.{name}"),
    );
    if b.primary_key != a.primary_key {
        let describe = |pk: &Vec<String>| (!pk.is_empty()).then(|| format!("({})", pk.join(", ")));
        out.push(SchemaDifference {
            object: format!("primary key of {t}"),
            before: describe(&b.primary_key),
            after: describe(&a.primary_key),
        });
    }
    let fk_key = |fk: &ForeignKey| {
        (
            (
                fk.columns.clone(),
                fk.ref_table.clone(),
                fk.ref_columns.clone(),
            ),
            describe_fk(fk),
        )
    };
    diff_keyed(
        out,
        b.foreign_keys.iter().map(fk_key),
        a.foreign_keys.iter().map(fk_key),
        |(cols, rt, rc)| {
            format!(
                "foreign key {t}({}) -> {rt}({})",
                cols.join(", "),
                rc.join(", ")
            )
        },
    );
    diff_keyed(
        out,
        b.indexes
            .iter()
            .map(|i| (i.name.clone(), describe_index(i))),
        a.indexes
            .iter()
            .map(|i| (i.name.clone(), describe_index(i))),
        |name| format!("index {name} on {t}"),
    );
    diff_keyed(
        out,
        b.uniques
            .iter()
            .map(|u| (u.columns.clone(), describe_name(&u.name))),
        a.uniques
            .iter()
            .map(|u| (u.columns.clone(), describe_name(&u.name))),
        |cols| format!("unique constraint {t}({})", cols.join(", ")),
    );
    diff_keyed(
        out,
        b.checks
            .iter()
            .map(|c| (c.expression.clone(), describe_name(&c.name))),
        a.checks
            .iter()
            .map(|c| (c.expression.clone(), describe_name(&c.name))),
        |expr| format!("check constraint on {t} ({expr})"),
    );
    diff_keyed(
        out,
        b.exclusions
            .iter()
            .map(|c| (c.expression.clone(), describe_name(&c.name))),
        a.exclusions
            .iter()
            .map(|c| (c.expression.clone(), describe_name(&c.name))),
        |expr| format!("exclusion constraint on {t} ({expr})"),
    );
}
