//! Seed-row generation from an introspected schema (proptest strategies, FK order, edge values).
//! Kept apart because the data check is only as good as the rows it seeds: a downgrade that loses
//! a nullable column, rounds a number, truncates a string or deletes rows matching a value passes
//! unnoticed unless the seeded rows hold such values.
//!
//! - [`seed`] fills every table, parents first, honouring keys, unique sets, foreign keys and the
//!   CHECKs it can read ([`constraints`]), with per-type strategies ([`column_strategy`]);
//! - [`mine_literals`] finds the values a revision compares columns with, which [`seed`] then
//!   plants in a good share of rows;
//! - [`shrink_candidates`] proposes smaller seed sets for reporting a minimal failing case;
//! - [`custom_rows`] reads user-given rows (inline, JSON or CSV) for tables that cannot be
//!   generated.

mod constraints;
mod custom;
mod literals;
mod order;
mod shrink;
mod strategy;
mod types;

use constraints::{read_checks, unique_sets, ColumnComparison, UniqueSet};
use mrt_db::{Column, Row, RowUpdate, Schema, Table, Value};
use order::{row_key, seed_order, CycleHints};
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use strategy::{json_object, parse_for, strategy_for, uuid_v4, Spec};
use types::SqlType;

pub use custom::{custom_rows, CustomMode, CustomSeed, CustomSeedError};
pub use literals::{mine_literals, Literals};
pub use shrink::{shrink_candidates, MAX_SHRINK_CANDIDATES};
pub use strategy::column_strategy;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedError {
    #[error("cannot seed table {table}: column {column} is NOT NULL and must reference a row of {ref_table}, which has none to offer (its custom seed gives none, each is taken by a one-to-one key, or it is outside the seeded tables); add a custom seed for {table} (or {ref_table})")]
    NoParentRows {
        table: String,
        column: String,
        ref_table: String,
    },
    /// A cycle of foreign keys none of which can be set aside (see `order`).
    #[error("cannot seed the foreign-key cycle {cycle}: no row of it can be inserted before the others (each foreign key is NOT NULL or its table has no primary key to fill it in afterwards, and none points at rows already there); give these tables custom seeds (`seeds.<table>` in config: rows that point at existing rows, or `rows = []` to leave a table empty)")]
    Cycle { cycle: String },
    #[error("cannot seed table {table}: could not generate {rows} distinct values for unique column(s) {columns}; add a custom seed for {table}")]
    Uniqueness {
        table: String,
        columns: String,
        rows: usize,
    },
    #[error("cannot seed table {table}: could not satisfy the CHECK between columns {columns}; add a custom seed for {table}")]
    Check { table: String, columns: String },
    #[error(transparent)]
    Custom(#[from] CustomSeedError),
}

/// How much to generate and from which seed; the same options give the same rows.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub rows_per_table: usize,
    pub seed: u64,
    /// Values mined from the revision under test (see [`mine_literals`]).
    pub literals: Literals,
    /// Table name → user-given rows that replace or extend the generated ones.
    pub custom: BTreeMap<String, CustomSeed>,
    /// Table name → rows already in the database (a data migration's lookup rows, a system
    /// user): generated rows avoid their keys and unique values, auto-numbered keys continue
    /// after them, and foreign keys may point at them. They are not part of the returned seeds.
    pub existing: BTreeMap<String, Vec<Row>>,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            rows_per_table: 8,
            seed: 0,
            literals: Literals::default(),
            custom: BTreeMap::new(),
            existing: BTreeMap::new(),
        }
    }
}

/// Rows per table, in the order they must be inserted (parents first), then the foreign keys of
/// cycles to fill once every table has rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seeds {
    pub tables: Vec<(String, Vec<Vec<Value>>)>,
    /// Applied after every insert, in order (see [`Seeds::row_updates`]): rows of `tables` hold
    /// NULL in these columns until then.
    pub updates: Vec<SeedUpdate>,
    /// What [`shrink_candidates`] needs to keep shrunk rows insertable; filled by [`seed`],
    /// empty (no links, nothing simplified) for hand-built seeds.
    pub shape: SeedShape,
}

/// A nullable foreign key of a cycle (`teams.default_member_id` while `members.team_id` NOT NULL
/// points back), inserted NULL and set here once its parent has rows. Positions index the
/// table's columns, as in the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedUpdate {
    pub table: String,
    /// The row to change, found by its values in these columns (its primary key, or else a
    /// unique set of NOT NULL columns).
    pub key_columns: Vec<usize>,
    pub key: Vec<Value>,
    /// The foreign key's columns and the parent key they get.
    pub columns: Vec<usize>,
    pub values: Vec<Value>,
    pub parent: String,
    pub parent_columns: Vec<usize>,
}

impl Seeds {
    /// The updates as the database applies them, grouped by table in order (consecutive
    /// updates of one table together). Updates of tables missing from `schema` are left out,
    /// as the harness leaves out their rows.
    pub fn row_updates<'s>(&self, schema: &'s Schema) -> Vec<(&'s Table, Vec<RowUpdate>)> {
        let mut out: Vec<(&'s Table, Vec<RowUpdate>)> = Vec::new();
        for u in &self.updates {
            let Some(table) = schema.tables.get(&u.table) else {
                continue;
            };
            let named = |cols: &[usize], values: &[Value]| -> Vec<(String, Value)> {
                cols.iter()
                    .zip(values)
                    .filter_map(|(&c, v)| Some((table.columns.get(c)?.name.clone(), v.clone())))
                    .collect()
            };
            let update = RowUpdate {
                key: named(&u.key_columns, &u.key),
                set: named(&u.columns, &u.values),
            };
            match out.last_mut() {
                Some((t, list)) if t.name == table.name => list.push(update),
                _ => out.push((&**table, vec![update])),
            }
        }
        out
    }
}

/// The structure of seeded tables that shrinking must respect.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeedShape {
    pub links: Vec<SeedLink>,
    /// Table → per column (in row order) what shrinking may simplify.
    pub columns: BTreeMap<String, Vec<ColumnShape>>,
}

/// A foreign key between seeded tables, by column positions in the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedLink {
    pub child: String,
    pub child_columns: Vec<usize>,
    pub parent: String,
    pub parent_columns: Vec<usize>,
    /// Keys of parent rows that were in the database before seeding: shrinking never removes
    /// them, so children pointing at them stay.
    pub existing_parent_keys: Vec<Vec<Value>>,
}

/// What shrinking may do to one column's values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ColumnShape {
    /// May become NULL: nullable, not a key, not referenced by a foreign key.
    pub nullable: bool,
    /// Free text that may be cut shorter: no unique set, key, enum, CHECK length or reference.
    pub shortenable: bool,
}

/// Generates rows for every table of `schema` (parents before children, so foreign keys hold).
/// A foreign-key cycle is broken at a nullable foreign key, which is filled by [`Seeds::updates`].
pub fn seed(schema: &Schema, options: SeedOptions) -> Result<Seeds, SeedError> {
    let mut runner = runner_for(options.seed);
    // Rows already there are parents from the start: a cycle may be entered through them.
    let mut done: BTreeMap<String, Vec<Vec<Value>>> = options
        .existing
        .iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(t, rows)| (t.clone(), rows.clone()))
        .collect();
    let existing_tables: BTreeSet<String> = done.keys().cloned().collect();
    let custom_tables: BTreeSet<String> = options
        .custom
        .iter()
        .filter(|(_, c)| c.mode == CustomMode::Replace)
        .map(|(t, _)| t.clone())
        .collect();
    let order = seed_order(
        schema,
        &CycleHints {
            existing: &existing_tables,
            custom: &custom_tables,
        },
    )?;
    let mut seeds = Seeds::default();
    // Tables with deferred foreign keys: their plan and where their generated rows start.
    let mut later: Vec<(TablePlan, usize)> = Vec::new();
    for table in order.tables {
        let mut plan = TablePlan::new(schema, table, &options.literals);
        plan.defer(&order.deferred);
        let mut rows = Vec::new();
        let mut generate = options.rows_per_table;
        if let Some(custom) = options.custom.get(&table.name) {
            rows = custom_rows(table, custom)?;
            seeds.updates.extend(plan.hold_back(&mut rows));
            if custom.mode == CustomMode::Replace {
                generate = 0;
            }
        }
        let given = rows.len();
        let existing = options
            .existing
            .get(&table.name)
            .map_or(&[][..], Vec::as_slice);
        plan.fill(&mut rows, generate, existing, &done, &mut runner)?;
        seeds
            .shape
            .links
            .extend(plan.links(schema, &options.existing));
        seeds
            .shape
            .columns
            .insert(table.name.clone(), plan.column_shapes(schema));
        let mut parents = existing.to_vec();
        parents.extend(rows.iter().cloned());
        done.insert(table.name.clone(), parents);
        seeds.tables.push((table.name.clone(), rows));
        if plan.fks.iter().any(|fk| fk.deferred) {
            later.push((plan, given));
        }
    }
    for (plan, given) in &later {
        let rows = seeds
            .tables
            .iter()
            .find(|(n, _)| *n == plan.table.name)
            .map_or(&[][..], |(_, r)| r.as_slice());
        let generated = rows.get(*given..).unwrap_or(&[]);
        seeds
            .updates
            .extend(plan.fill_deferred(generated, &done, &mut runner)?);
    }
    Ok(seeds)
}

/// Tables in the order [`seed`] inserts them: parents first, a cycle entered at a nullable
/// foreign key. Reversed, the order to delete in (with those keys set NULL first, as
/// `TempDb::delete_all_rows` does). A cycle that cannot be broken comes last, in name order.
pub fn insert_order(schema: &Schema) -> Vec<&Table> {
    let none = BTreeSet::new();
    let hints = CycleHints {
        existing: &none,
        custom: &none,
    };
    match seed_order(schema, &hints) {
        Ok(order) => order.tables,
        Err(_) => schema.user_tables_parent_first(),
    }
}

/// Given rows (what the tables held before seeding) as [`Seeds`] that insert in
/// [`insert_order`]: values of a cycle's nullable foreign keys are inserted NULL and set by
/// `updates` afterwards, so rows of a cycle can be put back.
pub fn restore_seeds(schema: &Schema, rows: &BTreeMap<String, Vec<Row>>) -> Seeds {
    let none = BTreeSet::new();
    let hints = CycleHints {
        existing: &none,
        custom: &none,
    };
    let (tables, deferred) = match seed_order(schema, &hints) {
        Ok(order) => (order.tables, order.deferred),
        Err(_) => (schema.user_tables_parent_first(), BTreeSet::new()),
    };
    let mut seeds = Seeds::default();
    for table in tables {
        let mut table_rows = rows.get(&table.name).cloned().unwrap_or_default();
        let mut plan = TablePlan::new(schema, table, &Literals::default());
        plan.defer(&deferred);
        seeds.updates.extend(plan.hold_back(&mut table_rows));
        seeds.tables.push((table.name.clone(), table_rows));
    }
    seeds
}

fn runner_for(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    TestRunner::new_with_rng(Config::default(), rng)
}

/// Attempts per row before a unique set or a CHECK is declared impossible to satisfy. Half of
/// them are plain retries; after that, a nullable column of the clashing set is set to NULL.
const ATTEMPTS: usize = 100;

/// A foreign key resolved to column positions.
struct Fk<'a> {
    /// Position in the table's `foreign_keys`.
    index: usize,
    /// Inserted NULL and filled afterwards (a cycle's nullable edge, see `order`).
    deferred: bool,
    columns: Vec<usize>,
    ref_table: &'a str,
    ref_columns: Vec<usize>,
    self_ref: bool,
    /// The child columns form a unique set: each parent key may be used once.
    one_to_one: bool,
}

/// Everything needed to generate one table's rows, worked out once.
struct TablePlan<'a> {
    table: &'a Table,
    specs: Vec<Spec>,
    strategies: Vec<BoxedStrategy<Value>>,
    comparisons: Vec<ColumnComparison>,
    uniques: Vec<UniqueSet>,
    fks: Vec<Fk<'a>>,
    /// Per column: mined values that fit it, planted in every other row.
    candidates: Vec<Vec<Value>>,
    /// Per column: loose source constants that fit it, used now and then.
    loose: Vec<Vec<Value>>,
    auto: Vec<bool>,
    /// Per column: text holding ids (see `id_like`): distinct UUIDs, no boundary string.
    ids: Vec<bool>,
    /// Per column: the revision tests it for NULL, so NULL is planted like a mined value.
    nulls: Vec<bool>,
    /// Per column: values the revision itself inserts (see [`Literals::inserted`]), which
    /// generated rows must not take in a unique column.
    reserved: Vec<Vec<Value>>,
}

impl<'a> TablePlan<'a> {
    fn new(schema: &'a Schema, table: &'a Table, literals: &Literals) -> Self {
        let checks = read_checks(table);
        let specs = checks.specs;
        let ids: Vec<bool> = table
            .columns
            .iter()
            .zip(&specs)
            .map(|(c, spec)| id_like(c, spec))
            .collect();
        let strategies = table
            .columns
            .iter()
            .zip(&specs)
            .zip(&ids)
            .map(|((c, spec), &id)| {
                if id {
                    uuid_v4()
                } else if spec.ty == SqlType::Json && literals.wants_object(&c.name) {
                    json_object()
                } else {
                    strategy_for(spec)
                }
            })
            .collect();
        let nulls = table
            .columns
            .iter()
            .map(|c| c.nullable && literals.wants_null(&c.name))
            .collect();
        let uniques = unique_sets(table);
        let fks = table
            .foreign_keys
            .iter()
            .enumerate()
            .filter_map(|(index, fk)| {
                let columns: Option<Vec<usize>> =
                    fk.columns.iter().map(|c| position(table, c)).collect();
                let self_ref = fk.ref_table == table.name;
                let parent = if self_ref {
                    Some(table)
                } else {
                    schema.tables.get(&fk.ref_table).map(|t| &**t)
                };
                let ref_columns: Option<Vec<usize>> = match parent {
                    Some(p) => fk.ref_columns.iter().map(|c| position(p, c)).collect(),
                    // The parent is outside the seeded schema: no keys to draw from.
                    None => Some(Vec::new()),
                };
                let columns = columns?;
                let one_to_one = uniques
                    .iter()
                    .any(|u| u.columns.iter().all(|c| columns.contains(c)));
                Some(Fk {
                    index,
                    deferred: false,
                    columns,
                    ref_table: &fk.ref_table,
                    ref_columns: ref_columns?,
                    self_ref,
                    one_to_one,
                })
            })
            .collect();
        let fit = |spec: &Spec, texts: &mut dyn Iterator<Item = String>| -> Vec<Value> {
            let mut out: Vec<Value> = Vec::new();
            for t in texts {
                if let Ok(v) = parse_for(spec, &t) {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
            }
            out
        };
        let candidates: Vec<Vec<Value>> = table
            .columns
            .iter()
            .zip(&specs)
            .map(|(c, spec)| fit(spec, &mut literals.for_column(&c.name).into_iter()))
            .collect();
        let loose = specs
            .iter()
            .map(|spec| match spec.ty {
                SqlType::Text { .. } | SqlType::Unknown => {
                    fit(spec, &mut literals.strings.iter().cloned())
                }
                SqlType::Int { .. } | SqlType::Decimal { .. } | SqlType::Float { .. } => {
                    fit(spec, &mut literals.numbers.iter().cloned())
                }
                _ => Vec::new(),
            })
            .collect();
        let reserved = table
            .columns
            .iter()
            .zip(&specs)
            .map(|(c, spec)| {
                fit(
                    spec,
                    &mut literals.inserted_into(&table.name, &c.name).into_iter(),
                )
            })
            .collect();
        // A value the revision creates a row with is never planted where it must be unique.
        let candidates: Vec<Vec<Value>> = candidates
            .into_iter()
            .zip(&reserved)
            .map(|(mut values, reserved): (Vec<Value>, &Vec<Value>)| {
                values.retain(|v| !reserved.contains(v));
                values
            })
            .collect();
        let auto = table.columns.iter().map(is_auto).collect();
        TablePlan {
            table,
            specs,
            strategies,
            comparisons: checks.comparisons,
            uniques,
            fks,
            candidates,
            loose,
            auto,
            ids,
            nulls,
            reserved,
        }
    }

    /// Marks the foreign keys `order` set aside (see `order::seed_order`) as filled afterwards.
    fn defer(&mut self, deferred: &BTreeSet<(String, usize)>) {
        for fk in &mut self.fks {
            fk.deferred = deferred.contains(&(self.table.name.clone(), fk.index));
        }
    }

    /// Custom rows that give a deferred foreign key a value cannot be inserted with it (the
    /// parent has no rows yet): they are inserted NULL there and get the value by an update.
    fn hold_back(&self, rows: &mut [Row]) -> Vec<SeedUpdate> {
        let mut out = Vec::new();
        for fk in self.fks.iter().filter(|fk| fk.deferred) {
            for row in rows.iter_mut() {
                let values: Vec<Value> = fk.columns.iter().map(|&c| row[c].clone()).collect();
                if values.iter().all(|v| *v == Value::Null) {
                    continue;
                }
                if let Some(update) = self.update_for(fk, row, values) {
                    for &c in &fk.columns {
                        row[c] = Value::Null;
                    }
                    out.push(update);
                }
            }
        }
        out
    }

    /// Parent keys for the deferred foreign keys of `rows` (this table's generated rows, as
    /// inserted), drawn as `assign_fk` draws them now that every table has rows.
    fn fill_deferred(
        &self,
        rows: &[Row],
        done: &BTreeMap<String, Vec<Row>>,
        runner: &mut TestRunner,
    ) -> Result<Vec<SeedUpdate>, SeedError> {
        let mut out = Vec::new();
        for fk in self.fks.iter().filter(|fk| fk.deferred) {
            let mut assigned: Vec<Row> = Vec::with_capacity(rows.len());
            for (index, row) in rows.iter().enumerate() {
                let mut filled = row.clone();
                self.assign_fk(fk, &mut filled, index, &assigned, done, runner)?;
                let values: Vec<Value> = fk.columns.iter().map(|&c| filled[c].clone()).collect();
                if values.iter().any(|v| *v != Value::Null) {
                    out.extend(self.update_for(fk, row, values));
                }
                assigned.push(filled);
            }
        }
        Ok(out)
    }

    /// The update that gives `row`'s columns of `fk` these values.
    fn update_for(&self, fk: &Fk, row: &[Value], values: Vec<Value>) -> Option<SeedUpdate> {
        let changed: Vec<String> = fk
            .columns
            .iter()
            .map(|&c| self.table.columns[c].name.clone())
            .collect();
        let key_columns: Vec<usize> = row_key(self.table, &changed)?
            .iter()
            .map(|name| position(self.table, name))
            .collect::<Option<_>>()?;
        Some(SeedUpdate {
            table: self.table.name.clone(),
            key: key_columns.iter().map(|&c| row[c].clone()).collect(),
            key_columns,
            columns: fk.columns.clone(),
            values,
            parent: fk.ref_table.to_string(),
            parent_columns: fk.ref_columns.clone(),
        })
    }

    /// Appends `count` generated rows to `rows` (which may already hold custom rows), distinct
    /// from `existing` (rows already in the table) in every unique set.
    fn fill(
        &self,
        rows: &mut Vec<Row>,
        count: usize,
        existing: &[Row],
        done: &BTreeMap<String, Vec<Row>>,
        runner: &mut TestRunner,
    ) -> Result<(), SeedError> {
        // `all` is what the table will hold: existing rows first, then custom and generated ones.
        let base = existing.len();
        let mut all: Vec<Row> = existing.to_vec();
        all.append(rows);
        let mut seen: Vec<HashSet<Vec<Value>>> = self
            .uniques
            .iter()
            .map(|u| {
                let mut keys: HashSet<Vec<Value>> = all.iter().filter_map(|r| u.key(r)).collect();
                if let [column] = u.columns[..] {
                    keys.extend(self.reserved[column].iter().map(|v| vec![v.clone()]));
                }
                keys
            })
            .collect();
        let mut used_auto = self.used_ints(&all);
        for (used, reserved) in used_auto.iter_mut().zip(&self.reserved) {
            used.extend(reserved.iter().filter_map(|v| match v {
                Value::Int(n) => Some(*n),
                _ => None,
            }));
        }
        let auto_start = self.auto_starts(existing);
        for _ in 0..count {
            let index = all.len() - base;
            let mut attempt = 0;
            let row = loop {
                let mut row =
                    self.gen_row(index, attempt, &all, done, &used_auto, &auto_start, runner)?;
                for cmp in &self.comparisons {
                    cmp.repair(&mut row);
                }
                let clash = self.clash(&mut row, &seen, attempt);
                let broken = self.comparisons.iter().find(|c| !c.holds(&row));
                if clash.is_none() && broken.is_none() {
                    break row;
                }
                attempt += 1;
                if attempt < ATTEMPTS {
                    continue;
                }
                let names = |cols: &[usize]| {
                    cols.iter()
                        .map(|&c| self.table.columns[c].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if let Some(set) = clash {
                    return Err(SeedError::Uniqueness {
                        table: self.table.name.clone(),
                        columns: names(&self.uniques[set].columns),
                        rows: all.len() - base + 1,
                    });
                }
                if let Some(cmp) = broken {
                    return Err(SeedError::Check {
                        table: self.table.name.clone(),
                        columns: names(&[cmp.left, cmp.right]),
                    });
                }
            };
            for (u, s) in self.uniques.iter().zip(seen.iter_mut()) {
                if let Some(k) = u.key(&row) {
                    s.insert(k);
                }
            }
            for (c, used) in used_auto.iter_mut().enumerate() {
                if let Some(Value::Int(n)) = row.get(c) {
                    used.insert(*n);
                }
            }
            all.push(row);
        }
        rows.extend(all.drain(base..));
        Ok(())
    }

    /// Per column, the integers `rows` already hold (auto-numbered keys must not repeat them).
    fn used_ints(&self, rows: &[Row]) -> Vec<HashSet<i64>> {
        (0..self.table.columns.len())
            .map(|c| {
                rows.iter()
                    .filter_map(|r| match r.get(c) {
                        Some(Value::Int(n)) => Some(*n),
                        _ => None,
                    })
                    .collect()
            })
            .collect()
    }

    /// Per column, where auto-numbered values start: after the largest existing one, as the
    /// database's own sequence would continue (so generated keys never meet existing ones).
    fn auto_starts(&self, existing: &[Row]) -> Vec<Option<i64>> {
        (0..self.table.columns.len())
            .map(|c| {
                existing
                    .iter()
                    .filter_map(|r| match r.get(c) {
                        Some(Value::Int(n)) => Some(*n),
                        _ => None,
                    })
                    .max()
                    .map(|n| n.saturating_add(1))
            })
            .collect()
    }

    /// The index of the first unique set `row` repeats, after trying (late in the attempts) to
    /// resolve it by setting a nullable column of that set to NULL.
    fn clash(
        &self,
        row: &mut [Value],
        seen: &[HashSet<Vec<Value>>],
        attempt: usize,
    ) -> Option<usize> {
        for (i, (u, s)) in self.uniques.iter().zip(seen).enumerate() {
            let Some(key) = u.key(row) else { continue };
            if !s.contains(&key) {
                continue;
            }
            let nullable = u
                .columns
                .iter()
                .copied()
                .find(|&c| self.table.columns[c].nullable);
            match nullable {
                Some(c) if attempt >= ATTEMPTS / 2 => row[c] = Value::Null,
                _ => return Some(i),
            }
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn gen_row(
        &self,
        index: usize,
        attempt: usize,
        earlier: &[Row],
        done: &BTreeMap<String, Vec<Row>>,
        used_auto: &[HashSet<i64>],
        auto_start: &[Option<i64>],
        runner: &mut TestRunner,
    ) -> Result<Row, SeedError> {
        let mut row = Vec::with_capacity(self.table.columns.len());
        for (c, column) in self.table.columns.iter().enumerate() {
            let auto = Auto {
                used: &used_auto[c],
                start: auto_start[c],
            };
            row.push(self.gen_value(c, column, index, attempt, auto, runner));
        }
        for fk in &self.fks {
            if fk.deferred {
                for &c in &fk.columns {
                    row[c] = Value::Null;
                }
                continue;
            }
            self.assign_fk(fk, &mut row, index, earlier, done, runner)?;
        }
        Ok(row)
    }

    fn gen_value(
        &self,
        c: usize,
        column: &Column,
        index: usize,
        attempt: usize,
        auto: Auto,
        runner: &mut TestRunner,
    ) -> Value {
        if self.auto[c] {
            if let SqlType::Int { min, max } = self.specs[c].ty {
                let start = auto.start.unwrap_or(1).max(min);
                let mut n = start.saturating_add(index as i64);
                while auto.used.contains(&n) && n < max {
                    n += 1;
                }
                return Value::Int(n);
            }
        }
        // A column the revision tests for NULL holds it in every fourth row (not the first).
        if self.nulls[c] && index % 4 == 3 {
            return Value::Null;
        }
        let candidates = &self.candidates[c];
        // Every other row holds a mined value, cycling through them so each appears.
        // After a clash, unique columns draw afresh; the others keep their planted values.
        let planted = !candidates.is_empty()
            && index % 2 == 1
            && (attempt == 0 || !self.uniques.iter().any(|u| u.columns.contains(&c)));
        if planted {
            return candidates[(index / 2) % candidates.len()].clone();
        }
        if index == BOUNDARY_ROW && attempt == 0 && !self.ids[c] {
            if let Some(v) = self.boundary(c) {
                return v;
            }
        }
        if column.nullable && index > 0 && chance(runner, 4) {
            return Value::Null;
        }
        // The first row never holds a mined value, so a row that a `WHERE x = 'v'` leaves
        // alone is always there to compare with.
        if !candidates.is_empty() && index > 0 && chance(runner, 6) {
            return candidates[pick_index(runner, candidates.len())].clone();
        }
        let loose = &self.loose[c];
        if !loose.is_empty() && !self.ids[c] && chance(runner, 8) {
            return loose[pick_index(runner, loose.len())].clone();
        }
        draw(&self.strategies[c], runner).unwrap_or(Value::Null)
    }

    /// The longest value a bounded text column takes (a multi-byte character last), so a downgrade
    /// that truncates or narrows it always meets one, not only by chance.
    fn boundary(&self, c: usize) -> Option<Value> {
        let max = self.specs[c].text_max()? as usize;
        if max == 0
            || self.specs[c].ty
                != (SqlType::Text {
                    max_chars: Some(max as u32),
                })
        {
            return None;
        }
        let mut s: String = "boundary "
            .chars()
            .cycle()
            .take(max.saturating_sub(1).min(4095))
            .collect();
        s.push('é');
        Some(Value::Text(s))
    }

    /// Fills a foreign key's columns from one parent row (all columns from the same row, so
    /// composite keys hold), from an earlier row for self-references, or NULL.
    fn assign_fk(
        &self,
        fk: &Fk,
        row: &mut [Value],
        index: usize,
        earlier: &[Vec<Value>],
        done: &BTreeMap<String, Vec<Vec<Value>>>,
        runner: &mut TestRunner,
    ) -> Result<(), SeedError> {
        let own = [row.to_vec()];
        let parents: &[Vec<Value>] = if fk.self_ref {
            if earlier.is_empty() {
                // A NOT NULL self-reference can point at its own row.
                &own
            } else {
                earlier
            }
        } else {
            done.get(fk.ref_table).map(Vec::as_slice).unwrap_or(&[])
        };
        let key_of = |r: &[Value]| -> Option<Vec<Value>> {
            fk.ref_columns
                .iter()
                .map(|&c| r.get(c).filter(|v| **v != Value::Null).cloned())
                .collect()
        };
        let mut keys: Vec<Vec<Value>> = parents
            .iter()
            .filter_map(|r| key_of(r))
            .filter(|k| !fk.ref_columns.is_empty() && k.len() == fk.columns.len())
            .collect();
        if fk.one_to_one {
            keys.retain(|k| {
                !earlier
                    .iter()
                    .any(|r| fk.columns.iter().zip(k).all(|(&c, v)| r.get(c) == Some(v)))
            });
        }
        let nullable: Vec<usize> = fk
            .columns
            .iter()
            .copied()
            .filter(|&c| self.table.columns[c].nullable)
            .collect();
        let set_null = |row: &mut [Value]| {
            for &c in &nullable {
                row[c] = Value::Null;
            }
        };
        if keys.is_empty() {
            if nullable.is_empty() {
                let column = fk
                    .columns
                    .first()
                    .map_or(String::new(), |&c| self.table.columns[c].name.clone());
                return Err(SeedError::NoParentRows {
                    table: self.table.name.clone(),
                    column,
                    ref_table: fk.ref_table.to_string(),
                });
            }
            set_null(row);
            return Ok(());
        }
        if !nullable.is_empty() && index > 0 && chance(runner, 4) {
            set_null(row);
            return Ok(());
        }
        let key = &keys[pick_index(runner, keys.len())];
        for (&c, v) in fk.columns.iter().zip(key) {
            row[c] = v.clone();
        }
        Ok(())
    }

    fn links(&self, schema: &Schema, existing: &BTreeMap<String, Vec<Row>>) -> Vec<SeedLink> {
        self.fks
            .iter()
            .filter(|fk| schema.tables.contains_key(fk.ref_table) && !fk.ref_columns.is_empty())
            .map(|fk| SeedLink {
                child: self.table.name.clone(),
                child_columns: fk.columns.clone(),
                parent: fk.ref_table.to_string(),
                parent_columns: fk.ref_columns.clone(),
                existing_parent_keys: existing
                    .get(fk.ref_table)
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        fk.ref_columns
                            .iter()
                            .map(|&c| r.get(c).cloned().unwrap_or(Value::Null))
                            .collect()
                    })
                    .collect(),
            })
            .collect()
    }

    fn column_shapes(&self, schema: &Schema) -> Vec<ColumnShape> {
        let referenced = |c: usize| {
            let name = &self.table.columns[c].name;
            schema.tables.values().any(|t| {
                t.foreign_keys
                    .iter()
                    .any(|fk| fk.ref_table == self.table.name && fk.ref_columns.contains(name))
            })
        };
        let in_fk = |c: usize| self.fks.iter().any(|fk| fk.columns.contains(&c));
        let in_unique = |c: usize| self.uniques.iter().any(|u| u.columns.contains(&c));
        let in_check = |c: usize| {
            self.comparisons
                .iter()
                .any(|cmp| cmp.left == c || cmp.right == c)
        };
        (0..self.table.columns.len())
            .map(|c| {
                let column = &self.table.columns[c];
                let key = self.table.primary_key.contains(&column.name);
                let spec = &self.specs[c];
                ColumnShape {
                    nullable: column.nullable && !key && !referenced(c),
                    shortenable: matches!(spec.ty, SqlType::Text { .. })
                        && spec.min_chars == 0
                        && !key
                        && !referenced(c)
                        && !in_fk(c)
                        && !in_unique(c)
                        && !in_check(c),
                }
            })
            .collect()
    }
}

/// Text columns that hold ids: named like one (`uuid`, `guid`, `*_uuid`, `*_guid`,
/// `external_id`) and wide enough for a UUID, or `CHAR(36)`. Code copies such ids between
/// tables and parses them, so they get distinct, well-formed UUIDs.
fn id_like(column: &Column, spec: &Spec) -> bool {
    let SqlType::Text { max_chars } = spec.ty else {
        return false;
    };
    let name = column.name.to_ascii_lowercase();
    let named = ["uuid", "guid", "external_id"].contains(&name.as_str())
        || name.ends_with("_uuid")
        || name.ends_with("_guid");
    let ty = column.data_type.to_ascii_lowercase();
    let fixed = !ty.contains("var") && ty.contains("char") && max_chars == Some(36);
    let fits = spec.min_chars <= 36 && spec.text_max().is_none_or(|m| m >= 36);
    (named || fixed) && fits
}

/// One column's auto-numbering: values already taken and where numbering starts.
#[derive(Clone, Copy)]
struct Auto<'a> {
    used: &'a HashSet<i64>,
    start: Option<i64>,
}

/// The row that holds boundary values (see `boundary`): not the first, which stays ordinary.
const BOUNDARY_ROW: usize = 2;

fn position(table: &Table, name: &str) -> Option<usize> {
    table.columns.iter().position(|c| c.name == name)
}

/// Columns the database numbers itself (flagged by introspection, `serial` types, sequence
/// defaults): mrt still gives them explicit, distinct values so rows compare by key.
fn is_auto(column: &Column) -> bool {
    column.autoincrement
        || column.data_type.to_ascii_lowercase().contains("serial")
        || column
            .default
            .as_deref()
            .is_some_and(|d| d.to_ascii_lowercase().starts_with("nextval("))
}

fn draw<T: std::fmt::Debug>(
    strategy: &impl Strategy<Value = T>,
    runner: &mut TestRunner,
) -> Option<T> {
    strategy.new_tree(runner).ok().map(|tree| tree.current())
}

/// True about once in `n` draws.
fn chance(runner: &mut TestRunner, n: u32) -> bool {
    draw(&(0..n), runner) == Some(0)
}

fn pick_index(runner: &mut TestRunner, len: usize) -> usize {
    draw(&(0..len.max(1)), runner).unwrap_or(0)
}

#[cfg(test)]
mod tests;
