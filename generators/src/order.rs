//! The order tables are seeded in, with foreign-key cycles broken. Parents come before children
//! (as [`Schema::user_tables_parent_first`] orders them) so every foreign key finds its parent's
//! rows; a cycle (`members.team_id` NOT NULL -> `teams`, `teams.default_member_id` nullable ->
//! `members`) has no such order, so one of its edges is set aside:
//! - a nullable edge is inserted NULL and filled by an UPDATE once every table has rows
//!   (a *deferred* foreign key);
//! - a NOT NULL edge whose parent already holds rows (a data migration's) takes them;
//! - an edge out of a table whose rows the user gives (a custom seed that replaces the
//!   generated ones) carries the user's values.
//!
//! A cycle none of these break cannot be seeded: the error names it.

use crate::SeedError;
use mrt_db::{Schema, Table};
use std::collections::{BTreeMap, BTreeSet};

/// How to seed a schema: tables in insertion order, and the foreign keys filled afterwards.
pub(crate) struct SeedOrder<'a> {
    pub tables: Vec<&'a Table>,
    /// (table, index into its `foreign_keys`): inserted NULL, filled by an UPDATE at the end.
    pub deferred: BTreeSet<(String, usize)>,
}

/// What the schema and the seed options say about each table, for breaking cycles.
pub(crate) struct CycleHints<'h> {
    /// Tables that already hold rows.
    pub existing: &'h BTreeSet<String>,
    /// Tables whose rows all come from a custom seed.
    pub custom: &'h BTreeSet<String>,
}

/// A foreign key between two different tables of the schema.
#[derive(Clone)]
struct Edge<'a> {
    child: &'a str,
    fk: usize,
    parent: &'a str,
}

/// Why an edge may be set aside, best first (the derived order is the preference).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    Nullable,
    ExistingParent,
    CustomChild,
}

/// Tables in seeding order; ties broken by name, so the order (and with it the rows) is the
/// same from run to run. Without cycles it is exactly `user_tables_parent_first`.
pub(crate) fn seed_order<'a>(
    schema: &'a Schema,
    hints: &CycleHints,
) -> Result<SeedOrder<'a>, SeedError> {
    let mut edges: Vec<Edge<'a>> = Vec::new();
    for (name, table) in &schema.tables {
        for (i, fk) in table.foreign_keys.iter().enumerate() {
            if fk.ref_table != *name && schema.tables.contains_key(&fk.ref_table) {
                edges.push(Edge {
                    child: name,
                    fk: i,
                    parent: &fk.ref_table,
                });
            }
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order: Vec<&'a Table> = Vec::with_capacity(schema.tables.len());
    let mut deferred = BTreeSet::new();
    while done.len() < schema.tables.len() {
        let ready = schema.tables.iter().find(|(n, _)| {
            !done.contains(n.as_str())
                && edges
                    .iter()
                    .all(|e| e.child != n.as_str() || done.contains(e.parent))
        });
        if let Some((name, table)) = ready {
            done.insert(name);
            order.push(table);
            continue;
        }
        let pending: Vec<&Edge> = edges
            .iter()
            .filter(|e| !done.contains(e.child) && !done.contains(e.parent))
            .collect();
        let breakable = pending
            .iter()
            .filter(|e| on_cycle(&pending, e))
            .filter_map(|e| breaks(schema, hints, e).map(|b| (b, e.child, e.fk)))
            .min();
        let Some((kind, child, fk)) = breakable else {
            return Err(SeedError::Cycle {
                cycle: describe(schema, &find_cycle(&pending)),
            });
        };
        if kind == Break::Nullable {
            deferred.insert((child.to_string(), fk));
        }
        edges.retain(|e| !(e.child == child && e.fk == fk));
    }
    Ok(SeedOrder {
        tables: order,
        deferred,
    })
}

/// How `edge` may be set aside, if at all. A nullable edge needs a way to find the row again for
/// its UPDATE: a primary key or a unique set of NOT NULL columns outside the foreign key.
fn breaks(schema: &Schema, hints: &CycleHints, edge: &Edge) -> Option<Break> {
    let table = schema.tables.get(edge.child)?;
    let fk = table.foreign_keys.get(edge.fk)?;
    let nullable = !fk.columns.is_empty()
        && fk
            .columns
            .iter()
            .all(|c| table.column(c).is_some_and(|col| col.nullable));
    if nullable && row_key(table, &fk.columns).is_some() {
        Some(Break::Nullable)
    } else if hints.existing.contains(edge.parent) {
        Some(Break::ExistingParent)
    } else if hints.custom.contains(edge.child) {
        Some(Break::CustomChild)
    } else {
        None
    }
}

/// The columns that identify a row of `table` for an UPDATE of `changed`: the primary key, or
/// else the first unique set of NOT NULL columns; none of them among `changed`.
pub(crate) fn row_key<'t>(table: &'t Table, changed: &[String]) -> Option<&'t [String]> {
    let usable = |cols: &[String]| {
        !cols.is_empty()
            && cols
                .iter()
                .all(|c| !changed.contains(c) && table.column(c).is_some_and(|col| !col.nullable))
    };
    if usable(&table.primary_key) {
        return Some(&table.primary_key);
    }
    table
        .uniques
        .iter()
        .map(|u| u.columns.as_slice())
        .find(|cols| usable(cols))
}

/// Whether `edge`'s parent reaches its child through `edges` (so the edge closes a cycle).
fn on_cycle(edges: &[&Edge], edge: &Edge) -> bool {
    path(edges, edge.parent, edge.child).is_some()
}

/// The edges of a shortest path `from` -> `to` (child to parent direction), if any.
fn path<'e, 'a>(edges: &[&'e Edge<'a>], from: &str, to: &str) -> Option<Vec<&'e Edge<'a>>> {
    let mut came_by: BTreeMap<&str, &Edge> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            let mut out = Vec::new();
            let mut node = to;
            while node != from {
                let edge = came_by.get(node)?;
                out.push(*edge);
                node = edge.child;
            }
            out.reverse();
            return Some(out);
        }
        for e in edges.iter().filter(|e| e.child == at) {
            if seen.insert(e.parent) {
                came_by.insert(e.parent, e);
                queue.push_back(e.parent);
            }
        }
    }
    None
}

/// A cycle among `edges` (which hold one when no table is ready): the one through the edge that
/// sorts first, walked from its child.
fn find_cycle<'e, 'a>(edges: &[&'e Edge<'a>]) -> Vec<&'e Edge<'a>> {
    for edge in edges {
        if let Some(back) = path(edges, edge.parent, edge.child) {
            let mut cycle = vec![*edge];
            cycle.extend(back);
            return cycle;
        }
    }
    Vec::new()
}

/// `a.b_id -> b, b.a_id -> a` (composite keys as `a.(x, y) -> b`).
fn describe(schema: &Schema, cycle: &[&Edge]) -> String {
    cycle
        .iter()
        .map(|e| {
            let columns = schema
                .tables
                .get(e.child)
                .and_then(|t| t.foreign_keys.get(e.fk))
                .map(|fk| fk.columns.clone())
                .unwrap_or_default();
            let columns = match columns.as_slice() {
                [one] => one.clone(),
                many => format!("({})", many.join(", ")),
            };
            format!("{}.{columns} -> {}", e.child, e.parent)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
