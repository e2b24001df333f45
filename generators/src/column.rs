//! One value for one column, from a proptest strategy chosen by the column's declared type.

use mrt_db::{Column, Value};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// What kind of values a declared type holds, judged the way SQLite's type affinity does
/// (substring rules), which also covers PostgreSQL and MySQL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer { min: i64, max: i64 },
    Boolean,
    Real,
    Decimal,
    Date,
    Time,
    Timestamp,
    Bytes,
    Json,
    Uuid,
    Text,
}

fn kind_of(column: &Column) -> Kind {
    let t = column.data_type.to_ascii_lowercase();
    let has = |s: &str| t.contains(s);
    if has("bool") {
        Kind::Boolean
    } else if has("tinyint") {
        Kind::Integer { min: 0, max: 127 }
    } else if has("smallint") {
        Kind::Integer {
            min: -32_768,
            max: 32_767,
        }
    } else if has("bigint") {
        Kind::Integer {
            min: i64::MIN / 2,
            max: i64::MAX / 2,
        }
    } else if has("int") {
        Kind::Integer {
            min: -2_147_483_648,
            max: 2_147_483_647,
        }
    } else if has("uuid") {
        Kind::Uuid
    } else if has("json") {
        Kind::Json
    } else if has("timestamp") || has("datetime") {
        Kind::Timestamp
    } else if has("date") {
        Kind::Date
    } else if has("time") {
        Kind::Time
    } else if has("char") || has("text") || has("clob") || has("string") {
        Kind::Text
    } else if has("blob") || has("binary") || has("bytea") {
        Kind::Bytes
    } else if has("real") || has("floa") || has("doub") {
        Kind::Real
    } else if has("numeric") || has("decimal") {
        Kind::Decimal
    } else {
        Kind::Text
    }
}

/// The strategy for a column's non-NULL values.
pub fn column_strategy(column: &Column) -> BoxedStrategy<Value> {
    if let Some(values) = column.enum_values.clone().filter(|v| !v.is_empty()) {
        return proptest::sample::select(values)
            .prop_map(Value::Text)
            .boxed();
    }
    match kind_of(column) {
        Kind::Integer { min, max } => (min..=max).prop_map(Value::Int).boxed(),
        Kind::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::Real => (-1.0e6f64..1.0e6).prop_map(Value::Float).boxed(),
        Kind::Decimal => decimal(column),
        Kind::Date => (1970i32..2100, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| Value::Text(format!("{y:04}-{m:02}-{d:02}")))
            .boxed(),
        Kind::Time => (0u32..24, 0u32..60, 0u32..60)
            .prop_map(|(h, m, s)| Value::Text(format!("{h:02}:{m:02}:{s:02}")))
            .boxed(),
        Kind::Timestamp => (
            1970i32..2100,
            1u32..=12,
            1u32..=28,
            0u32..24,
            0u32..60,
            0u32..60,
        )
            .prop_map(|(y, mo, d, h, mi, s)| {
                Value::Text(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"))
            })
            .boxed(),
        Kind::Bytes => proptest::collection::vec(any::<u8>(), 0..16)
            .prop_map(Value::Bytes)
            .boxed(),
        Kind::Json => (0i64..1000)
            .prop_map(|n| Value::Text(format!("{{\"n\": {n}}}")))
            .boxed(),
        Kind::Uuid => any::<u128>()
            .prop_map(|n| {
                let h = format!("{n:032x}");
                Value::Text(format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                ))
            })
            .boxed(),
        Kind::Text => text(column.max_length),
    }
}

/// Numbers that use the declared scale fully, so a downgrade that rounds shows.
fn decimal(column: &Column) -> BoxedStrategy<Value> {
    let scale = column.numeric_scale.unwrap_or(2).min(6);
    let precision = column.numeric_precision.unwrap_or(10).clamp(scale + 1, 15);
    let int_digits = precision - scale;
    let max = 10i64.pow(int_digits.min(9)) - 1;
    let frac_max = 10i64.pow(scale);
    (0..=max, 1..frac_max.max(2))
        .prop_map(move |(i, f)| {
            if scale == 0 {
                Value::Int(i)
            } else {
                Value::Float(
                    format!("{i}.{f:0width$}", width = scale as usize)
                        .parse()
                        .unwrap_or(0.0),
                )
            }
        })
        .boxed()
}

fn text(max_length: Option<u32>) -> BoxedStrategy<Value> {
    let max = max_length.map(|m| m as usize).unwrap_or(24).clamp(1, 24);
    proptest::string::string_regex(&format!("[a-zA-Z0-9 '_.-]{{1,{max}}}"))
        .map(|s| s.prop_map(Value::Text).boxed())
        .unwrap_or_else(|_| Just(Value::Text("x".into())).boxed())
}

/// One value for `column` in row `row_index`: NULL for nullable columns about a quarter of the
/// time, but never in the first row, so no nullable column is left all NULL.
pub(crate) fn generate(column: &Column, row_index: usize, runner: &mut TestRunner) -> Value {
    if column.nullable && row_index > 0 && chance(runner, 4) {
        return Value::Null;
    }
    if column.autoincrement {
        return Value::Int(row_index as i64 + 1);
    }
    draw(&column_strategy(column), runner).unwrap_or(Value::Null)
}

fn draw<T: std::fmt::Debug>(
    strategy: &impl Strategy<Value = T>,
    runner: &mut TestRunner,
) -> Option<T> {
    strategy.new_tree(runner).ok().map(|tree| tree.current())
}

/// True about once in `n` draws.
pub(crate) fn chance(runner: &mut TestRunner, n: u32) -> bool {
    draw(&(0..n), runner) == Some(0)
}

pub(crate) fn pick_index(runner: &mut TestRunner, len: usize) -> usize {
    draw(&(0..len.max(1)), runner).unwrap_or(0)
}
