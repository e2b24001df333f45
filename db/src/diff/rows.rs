//! Row comparison: rows are matched by primary key (a multiset of whole rows when there is none)
//! over the columns both versions of the table have. A column that exists on one side only is a
//! schema difference and is left out here, so one lost column is not reported once per row.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::Table;
use crate::value::{Row, Value};

#[derive(Serialize, Clone, PartialEq, Eq, Debug)]
pub struct RowDifference {
    pub table: String,
    /// "id=3", "a=1, b='x'" for a composite key, or every compared column for keyless tables.
    pub key: String,
    pub kind: RowDiffKind,
}

#[derive(Serialize, Clone, PartialEq, Eq, Debug)]
pub enum RowDiffKind {
    /// The row was there before and is gone.
    Lost,
    /// The row was not there before: the migration left it behind.
    Added,
    /// The row is there but this column's value changed (kind included: 1 vs '1').
    Changed {
        column: String,
        before: Value,
        after: Value,
    },
}

impl fmt::Display for RowDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}, row {}: ", self.table, self.key)?;
        match &self.kind {
            RowDiffKind::Lost => f.write_str("lost"),
            RowDiffKind::Added => f.write_str("left behind (not there before)"),
            RowDiffKind::Changed {
                column,
                before,
                after,
            } => {
                write!(f, "column {column} was {before}")?;
                if before.kind() != after.kind() {
                    write!(f, " ({})", before.kind())?;
                }
                write!(f, ", now {after}")?;
                if before.kind() != after.kind() {
                    write!(f, " ({})", after.kind())?;
                }
                Ok(())
            }
        }
    }
}

fn render_key(names: &[&str], values: &[Value]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Differences between the rows of a table before and after, in a deterministic order (by key).
///
/// `before` rows follow `table_before.columns`, `after` rows `table_after.columns`. Rows are
/// matched by `table_before`'s primary key when every key column still exists; otherwise (no key,
/// or a key column lost) as a multiset of the common columns, duplicates counted.
pub fn diff_rows(
    table_before: &Table,
    before: &[Row],
    table_after: &Table,
    after: &[Row],
) -> Vec<RowDifference> {
    // (name, index before, index after) for every column on both sides, in `before`'s order.
    let common: Vec<(&str, usize, usize)> = table_before
        .columns
        .iter()
        .enumerate()
        .filter_map(|(ib, c)| {
            let ia = table_after.columns.iter().position(|x| x.name == c.name)?;
            Some((c.name.as_str(), ib, ia))
        })
        .collect();
    let key_cols: Vec<(&str, usize, usize)> = table_before
        .primary_key
        .iter()
        .map(|k| common.iter().find(|(n, _, _)| n == k).copied())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    let table = table_before.name.clone();

    let all_names: Vec<&str> = common.iter().map(|c| c.0).collect();
    let mut out = Vec::new();

    if key_cols.is_empty() {
        multiset(&table, &all_names, &common, before, after, &mut out);
        return out;
    }

    let key_names: Vec<&str> = key_cols.iter().map(|c| c.0).collect();
    let mut groups: BTreeMap<Vec<Value>, (Vec<&Row>, Vec<&Row>)> = BTreeMap::new();
    for row in before {
        groups
            .entry(project(row, &key_cols, false))
            .or_default()
            .0
            .push(row);
    }
    for row in after {
        groups
            .entry(project(row, &key_cols, true))
            .or_default()
            .1
            .push(row);
    }
    for (key, (b, a)) in groups {
        let key_text = render_key(&key_names, &key);
        match (b.as_slice(), a.as_slice()) {
            ([rb], [ra]) => {
                for &(name, ib, ia) in &common {
                    let vb = rb.get(ib).cloned().unwrap_or(Value::Null);
                    let va = ra.get(ia).cloned().unwrap_or(Value::Null);
                    if vb != va {
                        out.push(RowDifference {
                            table: table.clone(),
                            key: key_text.clone(),
                            kind: RowDiffKind::Changed {
                                column: name.to_string(),
                                before: vb,
                                after: va,
                            },
                        });
                    }
                }
            }
            (_, []) | ([], _) => {
                let kind = if a.is_empty() {
                    RowDiffKind::Lost
                } else {
                    RowDiffKind::Added
                };
                for _ in 0..b.len().max(a.len()) {
                    out.push(RowDifference {
                        table: table.clone(),
                        key: key_text.clone(),
                        kind: kind.clone(),
                    });
                }
            }
            // Several rows share a key (SQLite allows NULL in non-INTEGER primary keys):
            // compare that group as a multiset of whole rows.
            _ => {
                let b: Vec<Row> = b.into_iter().cloned().collect();
                let a: Vec<Row> = a.into_iter().cloned().collect();
                multiset(&table, &all_names, &common, &b, &a, &mut out);
            }
        }
    }
    out
}

/// A column both sides have: (name, index in a `before` row, index in an `after` row).
type Common<'a> = (&'a str, usize, usize);

/// The values of `cols` in `row`, taken from the before or the after side's positions.
fn project(row: &Row, cols: &[Common<'_>], after_side: bool) -> Vec<Value> {
    cols.iter()
        .map(|&(_, ib, ia)| {
            row.get(if after_side { ia } else { ib })
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect()
}

fn multiset(
    table: &str,
    names: &[&str],
    common: &[(&str, usize, usize)],
    before: &[Row],
    after: &[Row],
    out: &mut Vec<RowDifference>,
) {
    let mut counts: BTreeMap<Vec<Value>, (usize, usize)> = BTreeMap::new();
    for row in before {
        counts.entry(project(row, common, false)).or_default().0 += 1;
    }
    for row in after {
        counts.entry(project(row, common, true)).or_default().1 += 1;
    }
    for (values, (nb, na)) in counts {
        let kind = if nb > na {
            RowDiffKind::Lost
        } else {
            RowDiffKind::Added
        };
        for _ in 0..nb.abs_diff(na) {
            out.push(RowDifference {
                table: table.to_string(),
                key: render_key(names, &values),
                kind: kind.clone(),
            });
        }
    }
}
