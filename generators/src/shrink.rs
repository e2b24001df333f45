//! Shrinking a failing seed set: the harness re-runs the trial on each candidate, keeps the
//! smallest that still fails and prints it, so a report shows two rows instead of eighty.
//!
//! Candidates come in this order, each a strict simplification of the input:
//! 1. for each table in insertion order: its first half of rows, then its second half (a table
//!    of one row: no rows);
//! 2. for each table with more than one row: each single row alone (the first
//!    [`SINGLE_ROWS`] rows);
//! 3. for each table and each column that may be NULL (see [`crate::ColumnShape`]): every value
//!    of the column NULL;
//! 4. for each table and each column of free text: every value cut to half its characters.
//!
//! Removing rows removes, transitively, the child rows whose foreign keys pointed at them, so
//! every candidate is insertable. Deferred updates (a cycle's foreign keys, see
//! [`crate::SeedUpdate`]) follow: an update whose row is gone is dropped, one whose parent row is
//! gone too (the column stays NULL, which it may be), and a column made NULL drops its updates. At most [`MAX_SHRINK_CANDIDATES`] are returned; the harness
//! may call again on the one it keeps, which shrinks further step by step.

use crate::{SeedLink, SeedUpdate, Seeds};
use mrt_db::Value;
use std::collections::HashSet;

/// Upper bound on the candidates one call returns.
pub const MAX_SHRINK_CANDIDATES: usize = 64;
/// How many single-row candidates one table contributes.
const SINGLE_ROWS: usize = 8;

/// Smaller variants of `seeds` to try, in the documented order (see the module docs).
pub fn shrink_candidates(seeds: &Seeds) -> Vec<Seeds> {
    let mut out: Vec<Seeds> = Vec::new();
    let push = |candidate: Seeds, out: &mut Vec<Seeds>| {
        if out.len() < MAX_SHRINK_CANDIDATES && candidate != *seeds && !out.contains(&candidate) {
            out.push(candidate);
        }
    };
    for (t, (_, rows)) in seeds.tables.iter().enumerate() {
        let n = rows.len();
        if n == 0 {
            continue;
        }
        let half = n / 2;
        let ranges = if n == 1 {
            vec![(0, 0)]
        } else {
            vec![(0, half), (half, n)]
        };
        for (a, b) in ranges {
            push(keep_rows(seeds, t, &(a..b).collect::<Vec<_>>()), &mut out);
        }
    }
    for (t, (_, rows)) in seeds.tables.iter().enumerate() {
        if rows.len() > 1 {
            for j in 0..rows.len().min(SINGLE_ROWS) {
                push(keep_rows(seeds, t, &[j]), &mut out);
            }
        }
    }
    for (t, (name, _)) in seeds.tables.iter().enumerate() {
        let Some(shapes) = seeds.shape.columns.get(name) else {
            continue;
        };
        for (c, shape) in shapes.iter().enumerate() {
            if shape.nullable {
                push(map_column(seeds, t, c, |_| Value::Null), &mut out);
            }
        }
    }
    for (t, (name, _)) in seeds.tables.iter().enumerate() {
        let Some(shapes) = seeds.shape.columns.get(name) else {
            continue;
        };
        for (c, shape) in shapes.iter().enumerate() {
            if shape.shortenable {
                push(map_column(seeds, t, c, halve), &mut out);
            }
        }
    }
    out
}

fn halve(v: &Value) -> Value {
    match v {
        Value::Text(s) => {
            let n = s.chars().count();
            Value::Text(s.chars().take(n / 2).collect())
        }
        other => other.clone(),
    }
}

/// Applies `f` to column `c` of table `t`, in its rows and in the updates that find a row by
/// that column or set it (an update whose value became NULL is dropped: the row holds NULL).
fn map_column(seeds: &Seeds, t: usize, c: usize, f: impl Fn(&Value) -> Value) -> Seeds {
    let mut out = seeds.clone();
    for row in &mut out.tables[t].1 {
        if let Some(v) = row.get_mut(c) {
            *v = f(v);
        }
    }
    let name = out.tables[t].0.clone();
    for update in out.updates.iter_mut().filter(|u| u.table == name) {
        for (&k, v) in update.key_columns.iter().zip(update.key.iter_mut()) {
            if k == c {
                *v = f(v);
            }
        }
        for (&k, v) in update.columns.iter().zip(update.values.iter_mut()) {
            if k == c {
                *v = f(v);
            }
        }
    }
    out.updates
        .retain(|u| u.values.iter().any(|v| *v != Value::Null));
    prune_updates(&mut out);
    out
}

/// Keeps only rows `keep` of table `t`, then drops child rows left without their parent.
fn keep_rows(seeds: &Seeds, t: usize, keep: &[usize]) -> Seeds {
    let mut out = seeds.clone();
    let rows = std::mem::take(&mut out.tables[t].1);
    out.tables[t].1 = rows
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, r)| r)
        .collect();
    cascade(&mut out);
    out
}

/// Removes rows whose non-NULL foreign keys match no remaining parent row, until none do.
fn cascade(seeds: &mut Seeds) {
    loop {
        let mut changed = false;
        for link in &seeds.shape.links {
            let mut parent_keys = keys(seeds, &link.parent, &link.parent_columns);
            parent_keys.extend(link.existing_parent_keys.iter().cloned());
            let Some(child) = seeds.tables.iter_mut().find(|(n, _)| *n == link.child) else {
                continue;
            };
            let before = child.1.len();
            child.1.retain(|row| orphan_free(row, link, &parent_keys));
            changed |= child.1.len() != before;
        }
        if !changed {
            prune_updates(seeds);
            return;
        }
    }
}

/// Drops the updates whose row, or whose parent row, is no longer seeded (nor was there).
fn prune_updates(seeds: &mut Seeds) {
    let updates = std::mem::take(&mut seeds.updates);
    seeds.updates = updates
        .into_iter()
        .filter(|u| has_row(seeds, u) && has_parent(seeds, u))
        .collect();
}

fn has_row(seeds: &Seeds, update: &SeedUpdate) -> bool {
    keys(seeds, &update.table, &update.key_columns).contains(&update.key)
}

fn has_parent(seeds: &Seeds, update: &SeedUpdate) -> bool {
    if update.values.contains(&Value::Null) {
        return true;
    }
    let existing = seeds.shape.links.iter().any(|l| {
        l.child == update.table
            && l.child_columns == update.columns
            && l.existing_parent_keys.contains(&update.values)
    });
    existing || keys(seeds, &update.parent, &update.parent_columns).contains(&update.values)
}

fn keys(seeds: &Seeds, table: &str, columns: &[usize]) -> HashSet<Vec<Value>> {
    seeds
        .tables
        .iter()
        .filter(|(n, _)| n == table)
        .flat_map(|(_, rows)| rows.iter())
        .map(|r| {
            columns
                .iter()
                .map(|&c| r.get(c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect()
}

fn orphan_free(row: &[Value], link: &SeedLink, parent_keys: &HashSet<Vec<Value>>) -> bool {
    let key: Vec<Value> = link
        .child_columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect();
    key.contains(&Value::Null) || parent_keys.contains(&key)
}
