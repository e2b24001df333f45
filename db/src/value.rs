//! Values as stored, independent of dialect. Equality is total (floats included) so row sets can be
//! sorted, hashed and compared without NaN breaking anything.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Serialize;

/// One stored value. Kinds are kept apart on purpose: `Int(1)` and `Text("1")` are different
/// values, because a migration that turns one into the other has changed the data.
///
/// SQLite has no boolean storage class: `Bool` is written as INTEGER 1/0 and reads back as `Int`.
#[derive(Serialize, Clone, Debug)]
pub enum Value {
    Null,
    Int(i64),
    /// Compared numerically except that all NaNs are equal to each other; `-0.0 == 0.0`
    /// (SQLite does not reliably keep the sign of a zero REAL, so a faithful copy may drop it).
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    // Room for Decimal(String), Date/Time/Timestamp(String), Json, Uuid (PostgreSQL/MySQL).
}

/// One row: values in the order of `Table::columns`.
pub type Row = Vec<Value>;

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Text(_) => 4,
            Value::Bytes(_) => 5,
        }
    }

    /// The float with NaN and -0.0 folded, so bit patterns agree exactly when values are equal.
    fn canonical_float(f: f64) -> f64 {
        if f.is_nan() {
            f64::NAN
        } else if f == 0.0 {
            0.0
        } else {
            f
        }
    }

    /// Name of the kind, for messages ("integer 1 became text '1'").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Bool(_) => "bool",
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => {
                Self::canonical_float(*a).total_cmp(&Self::canonical_float(*b))
            }
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => Self::canonical_float(*f).to_bits().hash(state),
            Value::Text(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
        }
    }
}

/// SQL-literal-like rendering so kinds stay visible in messages: `1`, `1.0`, `'1'`, `X'01'`, `NULL`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(i) => write!(f, "{i}"),
            // `{:?}` keeps "1.0" (not "1") and shows NaN / inf / -0.0 distinctly.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Text(s) if s.chars().any(char::is_control) => write!(f, "E'{}'", escaped(s)),
            Value::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Bytes(b) => {
                f.write_str("X'")?;
                for byte in b {
                    write!(f, "{byte:02X}")?;
                }
                f.write_str("'")
            }
            Value::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
        }
    }
}

/// A string with control characters as PostgreSQL's escape-string body (`E'a\nb'`): one line,
/// every character visible, and read back the same by anyone who knows that syntax.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_control_characters_stays_on_one_line() {
        let shown = Value::Text("a\nb\t'c'\\\u{1b}é".into()).to_string();
        assert_eq!(shown, "E'a\\nb\\t\\'c\\'\\\\\\x1Bé'");
        assert_eq!(Value::Text("it's".into()).to_string(), "'it''s'");
        assert_eq!(Value::Text(String::new()).to_string(), "''");
    }

    #[test]
    fn kinds_differ() {
        assert_ne!(Value::Int(1), Value::Text("1".into()));
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert_ne!(Value::Null, Value::Text(String::new()));
        assert_ne!(Value::Bool(true), Value::Int(1));
    }

    #[test]
    fn float_equality_is_total() {
        assert_eq!(Value::Float(f64::NAN), Value::Float(-f64::NAN));
        assert_eq!(Value::Float(0.0), Value::Float(-0.0));
        assert_eq!(Value::Float(f64::INFINITY), Value::Float(f64::INFINITY));
        assert_ne!(Value::Float(f64::INFINITY), Value::Float(f64::NEG_INFINITY));
        assert_ne!(Value::Float(0.1 + 0.2), Value::Float(0.3));
        let mut v = [
            Value::Float(f64::NAN),
            Value::Float(1.0),
            Value::Float(-0.0),
        ];
        v.sort();
        assert_eq!(v[0], Value::Float(0.0));
    }

    #[test]
    fn display_shows_kind() {
        assert_eq!(Value::Text("it's".into()).to_string(), "'it''s'");
        assert_eq!(Value::Float(1.0).to_string(), "1.0");
        assert_eq!(Value::Bytes(vec![0, 255]).to_string(), "X'00FF'");
    }
}
