//! Seed-row generation from an introspected schema (proptest strategies, FK order, edge values).
//! Kept apart because the data check is only as good as the rows it seeds: a downgrade that loses
//! a nullable column passes unnoticed if that column was never filled.

mod column;

use mrt_db::{Schema, Table, Value};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::{BTreeMap, HashSet};

pub use column::column_strategy;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedError {
    #[error("cannot seed table {table}: column {column} references {ref_table}, which has no rows; add a custom seed for {ref_table} or {table}")]
    NoParentRows {
        table: String,
        column: String,
        ref_table: String,
    },
    #[error("cannot seed table {table}: could not generate {rows} distinct values for unique column(s) {columns}; add a custom seed")]
    Uniqueness {
        table: String,
        columns: String,
        rows: usize,
    },
}

/// How much to generate and from which seed; the same seed gives the same rows.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    pub rows_per_table: usize,
    pub seed: u64,
}

/// Rows per table, in the order they must be inserted (parents first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seeds {
    pub tables: Vec<(String, Vec<Vec<Value>>)>,
}

/// Generates rows for every table of `schema` (parents before children, so foreign keys hold).
pub fn seed(schema: &Schema, options: SeedOptions) -> Result<Seeds, SeedError> {
    let mut runner = runner_for(options.seed);
    let mut done: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    let mut seeds = Seeds::default();
    for table in schema.user_tables_parent_first() {
        let rows = seed_table(schema, table, &done, options.rows_per_table, &mut runner)?;
        done.insert(table.name.clone(), rows.clone());
        seeds.tables.push((table.name.clone(), rows));
    }
    Ok(seeds)
}

fn runner_for(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    TestRunner::new_with_rng(Config::default(), rng)
}

/// Attempts per row before a unique column is declared impossible to fill.
const UNIQUE_ATTEMPTS: usize = 50;

fn seed_table(
    schema: &Schema,
    table: &Table,
    parents: &BTreeMap<String, Vec<Vec<Value>>>,
    rows: usize,
    runner: &mut TestRunner,
) -> Result<Vec<Vec<Value>>, SeedError> {
    let unique_sets = unique_column_sets(table);
    let mut seen: Vec<HashSet<Vec<Value>>> = vec![HashSet::new(); unique_sets.len()];
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let mut attempt = 0;
        let row = loop {
            let row = gen_row(schema, table, parents, i, &out, runner)?;
            let keys: Vec<Vec<Value>> = unique_sets
                .iter()
                .map(|cols| cols.iter().map(|&c| row[c].clone()).collect())
                .collect();
            let clash = keys
                .iter()
                .zip(&seen)
                .any(|(k, s)| !k.iter().any(|v| *v == Value::Null) && s.contains(k));
            if !clash {
                for (k, s) in keys.into_iter().zip(seen.iter_mut()) {
                    s.insert(k);
                }
                break row;
            }
            attempt += 1;
            if attempt == UNIQUE_ATTEMPTS {
                let columns = unique_sets
                    .iter()
                    .map(|cols| {
                        cols.iter()
                            .map(|&c| table.columns[c].name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(SeedError::Uniqueness {
                    table: table.name.clone(),
                    columns,
                    rows,
                });
            }
        };
        out.push(row);
    }
    Ok(out)
}

/// Column index sets that must be unique: the primary key, unique constraints, unique indexes.
fn unique_column_sets(table: &Table) -> Vec<Vec<usize>> {
    let index = |name: &String| table.columns.iter().position(|c| &c.name == name);
    let mut sets: Vec<Vec<usize>> = Vec::new();
    let mut push = |cols: &[String]| {
        let idx: Option<Vec<usize>> = cols.iter().map(index).collect();
        if let Some(idx) = idx.filter(|i| !i.is_empty()) {
            if !sets.contains(&idx) {
                sets.push(idx);
            }
        }
    };
    push(&table.primary_key);
    for u in &table.uniques {
        push(&u.columns);
    }
    for ix in table
        .indexes
        .iter()
        .filter(|ix| ix.unique && ix.partial.is_none())
    {
        push(&ix.columns);
    }
    sets
}

fn gen_row(
    schema: &Schema,
    table: &Table,
    parents: &BTreeMap<String, Vec<Vec<Value>>>,
    row_index: usize,
    earlier: &[Vec<Value>],
    runner: &mut TestRunner,
) -> Result<Vec<Value>, SeedError> {
    let mut row = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let ctx = FkContext {
            schema,
            table,
            parents,
            earlier,
        };
        let value = match foreign_value(&ctx, &column.name, row_index, runner)? {
            Some(v) => v,
            None => column::generate(column, row_index, runner),
        };
        row.push(value);
    }
    Ok(row)
}

struct FkContext<'a> {
    schema: &'a Schema,
    table: &'a Table,
    parents: &'a BTreeMap<String, Vec<Vec<Value>>>,
    /// Rows of this table generated so far, for self-references.
    earlier: &'a [Vec<Value>],
}

/// A value for a foreign-key column: one of the parent's seeded keys (NULL sometimes when
/// nullable). Self-references point at an earlier row of the same table, or NULL for the first.
fn foreign_value(
    ctx: &FkContext,
    column: &str,
    row_index: usize,
    runner: &mut TestRunner,
) -> Result<Option<Value>, SeedError> {
    let table = ctx.table;
    let Some(fk) = table
        .foreign_keys
        .iter()
        .find(|fk| fk.columns.iter().any(|c| c == column))
    else {
        return Ok(None);
    };
    let pos = fk.columns.iter().position(|c| c == column).unwrap_or(0);
    let self_ref = fk.ref_table == table.name;
    let ref_rows: &[Vec<Value>] = if self_ref {
        ctx.earlier
    } else {
        ctx.parents
            .get(&fk.ref_table)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let ref_index = fk.ref_columns.get(pos).and_then(|ref_column| {
        let ref_table = if self_ref {
            Some(table)
        } else {
            ctx.schema.tables.get(&fk.ref_table)
        };
        ref_table?
            .columns
            .iter()
            .position(|c| &c.name == ref_column)
    });
    let nullable = table.columns.iter().any(|c| c.name == column && c.nullable);
    let Some(ref_index) = ref_index.filter(|_| !ref_rows.is_empty()) else {
        if nullable || self_ref {
            return Ok(Some(Value::Null));
        }
        return Err(SeedError::NoParentRows {
            table: table.name.clone(),
            column: column.to_string(),
            ref_table: fk.ref_table.clone(),
        });
    };
    if nullable && row_index > 0 && column::chance(runner, 4) {
        return Ok(Some(Value::Null));
    }
    let pick = column::pick_index(runner, ref_rows.len());
    Ok(Some(ref_rows[pick][ref_index].clone()))
}
