//! Strategies for one column's non-NULL values, chosen by its classified type and narrowed by
//! what its CHECK constraints say. Each strategy mixes edge values (boundaries, empty and
//! maximal strings, awkward characters) with ordinary ones, because a downgrade that truncates,
//! rounds or re-encodes only shows on values that sit at the limit.

mod number;
mod other;
mod text;
mod time;

use crate::types::{classify, SqlType};
use mrt_db::{Column, Value};
use proptest::prelude::*;

pub(crate) use other::{json_object, render_array, uuid_v4};
pub(crate) use text::like_example;

/// A numeric bound from a CHECK constraint: the value and whether it is inclusive.
pub(crate) type Bound = (f64, bool);

/// Everything that limits a column's values: its type plus what CHECK constraints add.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    pub ty: SqlType,
    pub lo: Option<Bound>,
    pub hi: Option<Bound>,
    /// Minimum length in characters (from `length(x) >= n` and friends).
    pub min_chars: u32,
    /// Maximum length in characters from a CHECK, on top of the declared length.
    pub max_chars: Option<u32>,
}

impl Spec {
    /// The spec of a column with no CHECK constraints.
    pub(crate) fn of(column: &Column) -> Spec {
        Spec {
            ty: classify(column),
            lo: None,
            hi: None,
            min_chars: 0,
            max_chars: None,
        }
    }

    /// The effective maximum length of a text value, combining type and CHECK.
    pub(crate) fn text_max(&self) -> Option<u32> {
        let declared = match &self.ty {
            SqlType::Text { max_chars } => *max_chars,
            _ => None,
        };
        match (declared, self.max_chars) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a number satisfies the CHECK bounds.
    pub(crate) fn in_bounds(&self, x: f64) -> bool {
        let lo_ok = self
            .lo
            .is_none_or(|(b, inc)| if inc { x >= b } else { x > b });
        let hi_ok = self
            .hi
            .is_none_or(|(b, inc)| if inc { x <= b } else { x < b });
        lo_ok && hi_ok
    }
}

/// The strategy for a column's non-NULL values (ignoring CHECK constraints, which need the
/// table; the seeder uses [`strategy_for`] with them).
pub fn column_strategy(column: &Column) -> BoxedStrategy<Value> {
    strategy_for(&Spec::of(column))
}

/// The strategy for values satisfying `spec`.
pub(crate) fn strategy_for(spec: &Spec) -> BoxedStrategy<Value> {
    type_strategy(&spec.ty, spec)
}

fn type_strategy(ty: &SqlType, spec: &Spec) -> BoxedStrategy<Value> {
    match ty {
        SqlType::Int { min, max } => number::int(*min, *max, spec),
        SqlType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        SqlType::Decimal {
            precision,
            scale,
            unsigned,
        } => number::decimal(*precision, *scale, *unsigned, spec),
        SqlType::Float { single, unsigned } => number::float(*single, *unsigned, spec),
        SqlType::Text { .. } => text::text(spec.min_chars, spec.text_max()),
        SqlType::Date => time::date(),
        SqlType::Time { tz } => time::time(*tz),
        SqlType::Timestamp { tz, narrow } => time::timestamp(*tz, *narrow),
        SqlType::Interval => time::interval(),
        SqlType::Uuid => other::uuid(),
        SqlType::Json => other::json(),
        SqlType::Bytes { max_len } => other::bytes(*max_len),
        SqlType::Bits { len, varying } => other::bits(*len, *varying),
        SqlType::Inet { cidr } => other::inet(*cidr),
        SqlType::Enum(labels) => other::one_of(labels.clone()),
        SqlType::Set(labels) => other::set(labels.clone()),
        SqlType::Array(element) => {
            let element_spec = Spec {
                ty: (**element).clone(),
                lo: None,
                hi: None,
                min_chars: 0,
                max_chars: None,
            };
            let element = (**element).clone();
            other::array(type_strategy(&element, &element_spec))
        }
        SqlType::Unknown => text::short_word(),
    }
}

/// Converts text (a mined literal, a CSV field, a custom-seed string) to a value of the column's
/// type, or says why it does not fit. The same rules the generators follow are checked here, so
/// a literal that would be rejected by the database (too long, out of range, not a label) is
/// never offered.
pub(crate) fn parse_for(spec: &Spec, text: &str) -> Result<Value, String> {
    let value = match &spec.ty {
        SqlType::Int { min, max } => {
            let n: i64 = text
                .trim()
                .parse()
                .map_err(|_| format!("'{text}' is not an integer"))?;
            if n < *min || n > *max {
                return Err(format!("{n} is outside {min}..={max}"));
            }
            Value::Int(n)
        }
        SqlType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" | "y" | "on" => Value::Bool(true),
            "false" | "f" | "0" | "no" | "n" | "off" => Value::Bool(false),
            _ => return Err(format!("'{text}' is not a boolean")),
        },
        SqlType::Decimal {
            precision,
            scale,
            unsigned,
        } => Value::Text(number::parse_decimal(text, *precision, *scale, *unsigned)?),
        SqlType::Float { unsigned, .. } => {
            let x: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("'{text}' is not a number"))?;
            if !x.is_finite() || (*unsigned && x < 0.0) {
                return Err(format!("{x} is not allowed here"));
            }
            Value::Float(x)
        }
        SqlType::Text { .. } | SqlType::Unknown => {
            let n = text.chars().count() as u32;
            if let Some(max) = spec.text_max() {
                if n > max {
                    return Err(format!("'{text}' is longer than {max} characters"));
                }
            }
            Value::Text(text.to_string())
        }
        SqlType::Date => time::check_date(text).map(|_| Value::Text(text.to_string()))?,
        SqlType::Time { .. } => time::check_time(text).map(|_| Value::Text(text.to_string()))?,
        SqlType::Timestamp { .. } => {
            time::check_timestamp(text).map(|_| Value::Text(text.to_string()))?
        }
        SqlType::Uuid => other::check_uuid(text).map(|_| Value::Text(text.to_string()))?,
        SqlType::Json => {
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| format!("not valid JSON: {e}"))?;
            Value::Text(text.to_string())
        }
        SqlType::Bytes { max_len } => {
            let bytes = other::parse_bytes(text);
            if max_len.is_some_and(|m| bytes.len() > m as usize) {
                return Err(format!("{} bytes is longer than allowed", bytes.len()));
            }
            Value::Bytes(bytes)
        }
        SqlType::Enum(labels) => {
            if !labels.iter().any(|l| l == text) {
                return Err(format!("'{text}' is not one of {}", labels.join(", ")));
            }
            Value::Text(text.to_string())
        }
        SqlType::Set(labels) => {
            if !text.is_empty() && text.split(',').any(|p| !labels.iter().any(|l| l == p)) {
                return Err(format!("'{text}' is not a subset of {}", labels.join(", ")));
            }
            Value::Text(text.to_string())
        }
        SqlType::Interval | SqlType::Bits { .. } | SqlType::Inet { .. } | SqlType::Array(_) => {
            Value::Text(text.to_string())
        }
    };
    check_spec(spec, &value)?;
    Ok(value)
}

/// Checks the CHECK-derived limits (bounds, lengths) on a typed value.
pub(crate) fn check_spec(spec: &Spec, value: &Value) -> Result<(), String> {
    let number = match value {
        Value::Int(n) => Some(*n as f64),
        Value::Float(x) => Some(*x),
        Value::Text(s) if matches!(spec.ty, SqlType::Decimal { .. }) => s.parse::<f64>().ok(),
        _ => None,
    };
    if let Some(x) = number {
        if !spec.in_bounds(x) {
            return Err(format!("{value} is outside the CHECK bounds"));
        }
    }
    if let Value::Text(s) = value {
        if matches!(spec.ty, SqlType::Text { .. } | SqlType::Unknown) {
            let n = s.chars().count() as u32;
            if n < spec.min_chars {
                return Err(format!(
                    "'{s}' is shorter than {} characters",
                    spec.min_chars
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
