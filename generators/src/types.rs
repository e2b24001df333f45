//! Classifies a column's declared type (as SQLite, PostgreSQL or MySQL report it) into the kind of
//! values it holds. Kept in one place so the generators, the custom-seed converter and the
//! shrinker agree on what a column is; the rules read the declared text the way SQLite's type
//! affinity does (substring tests), which also covers the PostgreSQL and MySQL spellings.

use mrt_db::Column;

/// What a column holds, with the limits that matter for generating values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlType {
    /// Integers within the declared width (inclusive bounds).
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// Exact numbers: `precision` significant digits, `scale` of them after the point.
    Decimal {
        precision: u32,
        scale: u32,
        unsigned: bool,
    },
    /// Binary floating point; `single` for 4-byte REAL/FLOAT4 (values must fit an f32).
    Float {
        single: bool,
        unsigned: bool,
    },
    /// Character strings; `max_chars` counts characters, `None` means unbounded.
    Text {
        max_chars: Option<u32>,
    },
    Date,
    /// `tz`: the type keeps a time zone offset (PostgreSQL `time with time zone`).
    Time {
        tz: bool,
    },
    /// `tz`: with time zone (PostgreSQL `timestamptz`); `narrow`: MySQL-style `TIMESTAMP`, which
    /// only holds 1970..2038.
    Timestamp {
        tz: bool,
        narrow: bool,
    },
    Interval,
    Uuid,
    Json,
    Bytes {
        max_len: Option<u32>,
    },
    /// PostgreSQL bit strings of exactly `len` bits (`varbit` up to `len`).
    Bits {
        len: u32,
        varying: bool,
    },
    /// PostgreSQL `inet` (a host address) or `cidr` (a network, host bits zero).
    Inet {
        cidr: bool,
    },
    /// One of the labels (PostgreSQL enum, MySQL `ENUM(...)`, `CHECK ... IN`).
    Enum(Vec<String>),
    /// MySQL `SET(...)`: a comma-separated subset of the labels.
    Set(Vec<String>),
    /// PostgreSQL one-dimensional array of the element type.
    Array(Box<SqlType>),
    /// Anything else: short plain text, which every dialect accepts for an unknown type name.
    Unknown,
}

/// The column's type, from its declared type and introspected limits.
pub(crate) fn classify(column: &Column) -> SqlType {
    if let Some(values) = column.enum_values.as_ref().filter(|v| !v.is_empty()) {
        // MySQL reports SET members here too; a SET value is a subset, not one label.
        let t = column.data_type.trim_start().to_ascii_lowercase();
        if t.starts_with("set(") || t.starts_with("set (") {
            return SqlType::Set(values.clone());
        }
        return SqlType::Enum(values.clone());
    }
    classify_declared(
        &column.data_type,
        column.max_length,
        column.numeric_precision,
        column.numeric_scale,
    )
}

/// Classifies declared type text; the explicit limits win over those read from the text.
pub(crate) fn classify_declared(
    declared: &str,
    max_length: Option<u32>,
    precision: Option<u32>,
    scale: Option<u32>,
) -> SqlType {
    let t = declared.trim().to_ascii_lowercase();
    if let Some(element) = t.strip_suffix("[]") {
        return SqlType::Array(Box::new(classify_declared(element, None, None, None)));
    }
    if t.starts_with("enum(") || t.starts_with("enum (") {
        return SqlType::Enum(parse_quoted_list(declared));
    }
    if t.starts_with("set(") || t.starts_with("set (") {
        return SqlType::Set(parse_quoted_list(declared));
    }
    let args = type_args(&t);
    let unsigned = t.contains("unsigned");
    let has = |s: &str| t.contains(s);
    let first_arg = args.first().copied();
    if has("bool") || (t.starts_with("tinyint") && first_arg == Some(1)) {
        return SqlType::Bool;
    }
    if has("interval") {
        return SqlType::Interval;
    }
    if let Some(range) = integer_range(&t, unsigned) {
        return range;
    }
    if t == "year" || t.starts_with("year(") {
        return SqlType::Int {
            min: 1901,
            max: 2155,
        };
    }
    if has("uuid") || t == "uniqueidentifier" {
        return SqlType::Uuid;
    }
    if has("json") {
        return SqlType::Json;
    }
    if has("timestamp") || has("datetime") {
        let tz = has("with time zone") && !has("without") || t.starts_with("timestamptz");
        let narrow = t.starts_with("timestamp") && !has("time zone") && !tz;
        return SqlType::Timestamp { tz, narrow };
    }
    if has("date") {
        return SqlType::Date;
    }
    if has("time") {
        let tz = has("with time zone") && !has("without") || t.starts_with("timetz");
        return SqlType::Time { tz };
    }
    if t.starts_with("bit") {
        let varying = has("varying") || t.starts_with("varbit");
        return SqlType::Bits {
            len: first_arg.unwrap_or(1).clamp(1, 64),
            varying,
        };
    }
    if has("blob") || has("binary") || has("bytea") {
        return SqlType::Bytes {
            max_len: max_length.or(first_arg),
        };
    }
    if t == "inet" || t == "cidr" {
        return SqlType::Inet { cidr: t == "cidr" };
    }
    if has("char") || has("text") || has("clob") || has("string") || t == "citext" {
        let max_chars = max_length.or(first_arg).or_else(|| mysql_text_limit(&t));
        return SqlType::Text { max_chars };
    }
    if has("real") || has("floa") || has("doub") {
        let single = t == "real" || t == "float4" || (t.starts_with("float") && t != "float8");
        // MySQL FLOAT(p) with p > 24 is a DOUBLE; PostgreSQL "real" and "float4" are single.
        let single = single && first_arg.is_none_or(|p| p <= 24) && !has("double");
        return SqlType::Float { single, unsigned };
    }
    if t == "decimal" && precision.is_none() && first_arg.is_none() {
        // A bare `decimal` is what Django (and Rails) declare on SQLite for a decimal field
        // whatever its max_digits: the ORM then reads each value back quantized to the field's
        // places within its digits, and fails on more digits than the field allows. Values of
        // three digits, two after the point, fit every such field (max_digits >= places).
        return SqlType::Decimal {
            precision: 3,
            scale: 2,
            unsigned,
        };
    }
    if has("numeric") || has("decimal") || t.starts_with("dec") || t.starts_with("number") {
        let precision = precision.or(first_arg).unwrap_or(18).clamp(1, 60);
        let scale = scale
            .or(args.get(1).copied())
            .unwrap_or(if first_arg.is_some() { 0 } else { 4 });
        return SqlType::Decimal {
            precision,
            scale: scale.min(precision),
            unsigned,
        };
    }
    if t == "money" {
        return SqlType::Decimal {
            precision: 12,
            scale: 2,
            unsigned: false,
        };
    }
    SqlType::Unknown
}

/// Integer widths by name; `int(11)` in MySQL is a display width, not a limit.
fn integer_range(t: &str, unsigned: bool) -> Option<SqlType> {
    let base = t.split(['(', ' ']).next().unwrap_or(t);
    let bits = match base {
        "tinyint" | "int1" => 8,
        "smallint" | "int2" | "smallserial" | "serial2" => 16,
        "mediumint" | "int3" => 24,
        "integer" | "int" | "int4" | "serial" | "serial4" => 32,
        "bigint" | "int8" | "bigserial" | "serial8" => 64,
        _ if t.contains("bigint") => 64,
        _ if t.contains("smallint") => 16,
        _ if t.contains("tinyint") => 8,
        _ if t.contains("int") && !t.contains("interval") && !t.contains("point") => 32,
        _ => return None,
    };
    // MySQL's `serial` is BIGINT UNSIGNED; PostgreSQL's is INTEGER. The narrower range works on both.
    let (min, max) = if unsigned {
        let max = if bits == 64 {
            i64::MAX
        } else {
            (1i64 << bits) - 1
        };
        (0, max)
    } else if bits == 64 {
        (i64::MIN, i64::MAX)
    } else {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    };
    Some(SqlType::Int { min, max })
}

/// MySQL's TINYTEXT holds 255 bytes; a character can take 4, so stay within 63 characters.
fn mysql_text_limit(t: &str) -> Option<u32> {
    (t == "tinytext").then_some(63)
}

/// Numeric arguments of `name(a, b)`; empty when there are none or they are not numbers.
fn type_args(t: &str) -> Vec<u32> {
    let Some((_, rest)) = t.split_once('(') else {
        return Vec::new();
    };
    let Some((args, _)) = rest.split_once(')') else {
        return Vec::new();
    };
    args.split(',')
        .map(|a| a.trim().parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default()
}

/// The labels of `ENUM('a','b''c')` / `SET(...)`, SQL quoting undone.
pub(crate) fn parse_quoted_list(declared: &str) -> Vec<String> {
    let Some(start) = declared.find('(') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut chars = declared[start + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            if c == ')' {
                break;
            }
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        label.push(n);
                    }
                }
                other => label.push(other),
            }
        }
        out.push(label);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> SqlType {
        classify_declared(s, None, None, None)
    }

    #[test]
    fn integers_by_dialect() {
        let i32r = SqlType::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        };
        for s in [
            "INTEGER",
            "integer",
            "int",
            "int4",
            "int(11)",
            "serial",
            "MEDIUMINT UNSIGNED",
        ] {
            if s.contains("MEDIUM") {
                assert_eq!(
                    ty(s),
                    SqlType::Int {
                        min: 0,
                        max: 16_777_215
                    }
                );
            } else {
                assert_eq!(ty(s), i32r, "{s}");
            }
        }
        assert_eq!(
            ty("smallint"),
            SqlType::Int {
                min: -32768,
                max: 32767
            }
        );
        assert_eq!(
            ty("int2"),
            SqlType::Int {
                min: -32768,
                max: 32767
            }
        );
        assert_eq!(
            ty("tinyint(4)"),
            SqlType::Int {
                min: -128,
                max: 127
            }
        );
        assert_eq!(ty("tinyint unsigned"), SqlType::Int { min: 0, max: 255 });
        assert_eq!(ty("tinyint(1)"), SqlType::Bool);
        assert_eq!(
            ty("bigint unsigned"),
            SqlType::Int {
                min: 0,
                max: i64::MAX
            }
        );
        assert_eq!(
            ty("int8"),
            SqlType::Int {
                min: i64::MIN,
                max: i64::MAX
            }
        );
        assert_eq!(
            ty("year"),
            SqlType::Int {
                min: 1901,
                max: 2155
            }
        );
    }

    #[test]
    fn other_kinds() {
        assert_eq!(
            ty("NUMERIC(8, 3)"),
            SqlType::Decimal {
                precision: 8,
                scale: 3,
                unsigned: false
            }
        );
        assert_eq!(
            ty("character varying(20)"),
            SqlType::Text {
                max_chars: Some(20)
            }
        );
        assert_eq!(
            ty("timestamp with time zone"),
            SqlType::Timestamp {
                tz: true,
                narrow: false
            }
        );
        assert_eq!(
            ty("timestamp without time zone"),
            SqlType::Timestamp {
                tz: false,
                narrow: false
            }
        );
        assert_eq!(
            ty("TIMESTAMP"),
            SqlType::Timestamp {
                tz: false,
                narrow: true
            }
        );
        assert_eq!(ty("time with time zone"), SqlType::Time { tz: true });
        assert_eq!(
            ty("real"),
            SqlType::Float {
                single: true,
                unsigned: false
            }
        );
        assert_eq!(
            ty("double precision"),
            SqlType::Float {
                single: false,
                unsigned: false
            }
        );
        assert_eq!(ty("varbinary(16)"), SqlType::Bytes { max_len: Some(16) });
        assert_eq!(
            ty("enum('a','it''s')"),
            SqlType::Enum(vec!["a".into(), "it's".into()])
        );
        assert_eq!(
            ty("set('x','y')"),
            SqlType::Set(vec!["x".into(), "y".into()])
        );
        assert_eq!(ty("integer[]"), SqlType::Array(Box::new(ty("integer"))));
        assert_eq!(ty("point"), SqlType::Unknown);
        assert_eq!(ty(""), SqlType::Unknown);
    }
}
