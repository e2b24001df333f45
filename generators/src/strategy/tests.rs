//! Each strategy, run through proptest on the type names all three dialects report, must only
//! produce values the column can hold.

use super::*;
use crate::types::classify_declared;
use proptest::test_runner::{Config, TestRunner};

fn col(data_type: &str) -> Column {
    Column {
        name: "c".into(),
        data_type: data_type.into(),
        ..Column::default()
    }
}

/// Runs `check` on 300 values of the column's strategy.
fn each(column: &Column, check: impl Fn(&Value) -> Result<(), String>) {
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&column_strategy(column), |v| {
        check(&v).map_err(|m| {
            proptest::test_runner::TestCaseError::fail(format!("{}: {m}", column.data_type))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Collects 300 values, to assert that edges do appear.
fn sample(column: &Column) -> Vec<Value> {
    let mut runner = TestRunner::deterministic();
    let s = column_strategy(column);
    (0..300)
        .map(|_| proptest::strategy::ValueTree::current(&s.new_tree(&mut runner).unwrap()))
        .collect()
}

fn int_in(min: i64, max: i64) -> impl Fn(&Value) -> Result<(), String> {
    move |v| match v {
        Value::Int(n) if (min..=max).contains(n) => Ok(()),
        other => Err(format!("{other} not in {min}..={max}")),
    }
}

#[test]
fn integers_stay_within_declared_width() {
    for (t, min, max) in [
        ("smallint", -32768, 32767),
        ("int2", -32768, 32767),
        ("SMALLINT", -32768, 32767),
        ("integer", i32::MIN as i64, i32::MAX as i64),
        ("INTEGER", i32::MIN as i64, i32::MAX as i64),
        ("int4", i32::MIN as i64, i32::MAX as i64),
        ("int(11)", i32::MIN as i64, i32::MAX as i64),
        ("int unsigned", 0, u32::MAX as i64),
        ("bigint", i64::MIN, i64::MAX),
        ("int8", i64::MIN, i64::MAX),
        ("tinyint(4)", -128, 127),
        ("tinyint unsigned", 0, 255),
        ("mediumint", -8_388_608, 8_388_607),
        ("bigint(20) unsigned", 0, i64::MAX),
    ] {
        each(&col(t), int_in(min, max));
        let values = sample(&col(t));
        assert!(values.contains(&Value::Int(min)), "{t}: min edge missing");
        assert!(values.contains(&Value::Int(max)), "{t}: max edge missing");
    }
}

#[test]
fn booleans() {
    for t in ["boolean", "BOOLEAN", "bool", "tinyint(1)"] {
        each(&col(t), |v| match v {
            Value::Bool(_) => Ok(()),
            other => Err(format!("{other} is not a bool")),
        });
    }
}

fn decimal_ok(precision: usize, scale: usize) -> impl Fn(&Value) -> Result<(), String> {
    move |v| {
        let Value::Text(s) = v else {
            return Err(format!("{v} is not decimal text"));
        };
        let digits = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if frac.len() != scale {
            return Err(format!("{s}: scale {} != {scale}", frac.len()));
        }
        if int.trim_start_matches('0').len() > precision - scale {
            return Err(format!("{s}: too many integer digits"));
        }
        if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) || int.is_empty() {
            return Err(format!("{s}: not digits"));
        }
        Ok(())
    }
}

#[test]
fn decimals_use_full_scale() {
    for (t, p, s) in [
        ("NUMERIC(8, 3)", 8, 3),
        ("numeric(8,3)", 8, 3),
        ("decimal(8,3)", 8, 3),
        ("DECIMAL(12,2)", 12, 2),
        ("numeric(30,10)", 30, 10),
        ("decimal(5,0)", 5, 0),
    ] {
        each(&col(t), decimal_ok(p, s));
    }
    let values = sample(&col("NUMERIC(8,3)"));
    assert!(values.contains(&Value::Text("99999.999".into())));
    // Ordinary values end in a non-zero digit, so rounding to fewer places shows.
    let rounded_would_show = values
        .iter()
        .filter(|v| matches!(v, Value::Text(s) if !s.ends_with('0')))
        .count();
    assert!(rounded_would_show > 200, "{rounded_would_show}");
    let unsigned = col("decimal(6,2) unsigned");
    each(&unsigned, |v| match v {
        Value::Text(s) if !s.starts_with('-') => Ok(()),
        other => Err(format!("{other} negative")),
    });
}

#[test]
fn floats_are_finite_and_single_fits_f32() {
    for t in [
        "real",
        "REAL",
        "float4",
        "FLOAT",
        "double precision",
        "double",
        "float8",
    ] {
        let single = matches!(
            classify_declared(t, None, None, None),
            crate::types::SqlType::Float { single: true, .. }
        );
        each(&col(t), move |v| match v {
            Value::Float(x) if x.is_finite() && (!single || f64::from(*x as f32) == *x) => Ok(()),
            other => Err(format!("{other} not a fitting float")),
        });
    }
}

fn text_within(max: usize) -> impl Fn(&Value) -> Result<(), String> {
    move |v| match v {
        Value::Text(s) if s.chars().count() <= max => Ok(()),
        other => Err(format!("{other} longer than {max} chars")),
    }
}

#[test]
fn strings_respect_length_in_characters() {
    for (t, max) in [
        ("VARCHAR(5)", 5),
        ("character varying(5)", 5),
        ("varchar(5)", 5),
        ("char(3)", 3),
        ("character(1)", 1),
        ("nvarchar(40)", 40),
    ] {
        each(&col(t), text_within(max));
        let values = sample(&col(t));
        let has_max = values
            .iter()
            .any(|v| matches!(v, Value::Text(s) if s.chars().count() == max));
        let multibyte = values
            .iter()
            .any(|v| matches!(v, Value::Text(s) if s.len() > s.chars().count()));
        assert!(has_max && multibyte, "{t}");
    }
    // The introspected max_length wins over the text.
    let mut c = col("character varying");
    c.max_length = Some(7);
    each(&c, text_within(7));
    let values = sample(&col("text"));
    for edge in [
        "",
        "O'Brien",
        "C:\\path\\to\\file",
        "  leading and trailing  ",
        "100% of_all",
    ] {
        assert!(
            values.contains(&Value::Text(edge.into())),
            "missing {edge:?}"
        );
    }
    assert!(values
        .iter()
        .any(|v| matches!(v, Value::Text(s) if s.chars().count() > 255)));
}

#[test]
fn temporal_formats() {
    for t in ["date", "DATE"] {
        each(&col(t), |v| match v {
            Value::Text(s) => time::check_date(s),
            o => Err(o.to_string()),
        });
    }
    for t in ["time", "time without time zone", "TIME", "time(6)"] {
        each(&col(t), |v| match v {
            Value::Text(s) if !s.contains('+') => time::check_time(s),
            o => Err(o.to_string()),
        });
    }
    each(&col("time with time zone"), |v| match v {
        Value::Text(s) if s.len() > 6 && (s.contains('+') || s.contains('-')) => {
            time::check_time(s)
        }
        o => Err(o.to_string()),
    });
    for t in ["timestamp without time zone", "DATETIME", "datetime(6)"] {
        each(&col(t), |v| match v {
            Value::Text(s) if s[10..].find(['+', '-']).is_none() => time::check_timestamp(s),
            o => Err(o.to_string()),
        });
    }
    each(&col("timestamp with time zone"), |v| match v {
        Value::Text(s) if s.ends_with(":00") || s.ends_with(":30") => time::check_timestamp(s),
        o => Err(o.to_string()),
    });
    // MySQL TIMESTAMP: 1970..2038 only, no offset.
    each(&col("timestamp"), |v| match v {
        Value::Text(s) if ("1970".."2038-01-19").contains(&s.as_str()) => time::check_timestamp(s),
        o => Err(format!("{o} outside the TIMESTAMP range")),
    });
    let values = sample(&col("timestamp with time zone"));
    assert!(values
        .iter()
        .any(|v| matches!(v, Value::Text(s) if s.contains('.') && s.contains("+05:30"))));
}

#[test]
fn uuid_json_bytes() {
    for t in ["uuid", "UUID"] {
        each(&col(t), |v| match v {
            Value::Text(s) => other::check_uuid(s),
            o => Err(o.to_string()),
        });
    }
    for t in ["json", "jsonb", "JSON"] {
        each(&col(t), |v| match v {
            Value::Text(s) => serde_json::from_str::<serde_json::Value>(s)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            o => Err(o.to_string()),
        });
    }
    for (t, max) in [
        ("bytea", 32),
        ("BLOB", 32),
        ("varbinary(4)", 4),
        ("binary(16)", 16),
        ("longblob", 32),
    ] {
        each(&col(t), move |v| match v {
            Value::Bytes(b) if b.len() <= max => Ok(()),
            o => Err(format!("{o} longer than {max}")),
        });
    }
}

#[test]
fn enums_sets_and_check_lists() {
    let labels = ["a", "it's", "c d"];
    let member = move |v: &Value| match v {
        Value::Text(s) if labels.contains(&s.as_str()) => Ok(()),
        o => Err(format!("{o} not a label")),
    };
    each(&col("enum('a','it''s','c d')"), member);
    let mut pg = col("mood");
    pg.enum_values = Some(labels.iter().map(|s| s.to_string()).collect());
    each(&pg, member);
    each(&col("set('x','y','z')"), |v| match v {
        Value::Text(s) if s.is_empty() || s.split(',').all(|p| ["x", "y", "z"].contains(&p)) => {
            Ok(())
        }
        o => Err(format!("{o} not a subset")),
    });
    let mut mysql_set = col("set('x','y')");
    mysql_set.enum_values = Some(vec!["x".into(), "y".into()]);
    assert!(sample(&mysql_set).contains(&Value::Text("x,y".into())));
}

#[test]
fn arrays_and_unknown() {
    each(&col("integer[]"), |v| match v {
        Value::Text(s) if s.starts_with('{') && s.ends_with('}') => {
            let inner = &s[1..s.len() - 1];
            if inner.is_empty()
                || inner
                    .split(',')
                    .all(|p| p == "NULL" || p.parse::<i32>().is_ok())
            {
                Ok(())
            } else {
                Err(s.clone())
            }
        }
        o => Err(o.to_string()),
    });
    each(&col("text[]"), |v| match v {
        Value::Text(s) if s.starts_with('{') && s.ends_with('}') => Ok(()),
        o => Err(o.to_string()),
    });
    assert_eq!(render_array(&[Value::Int(1), Value::Int(2)]), "{1,2}");
    assert_eq!(
        render_array(&[Value::Text("a \"b\"".into()), Value::Null]),
        "{\"a \\\"b\\\"\",NULL}"
    );
    for t in ["point", "", "geometry"] {
        each(&col(t), |v| match v {
            Value::Text(s) if (1..=8).contains(&s.len()) => Ok(()),
            o => Err(o.to_string()),
        });
    }
}

#[test]
fn check_bounds_narrow_strategies() {
    let mut spec = Spec::of(&col("integer"));
    spec.lo = Some((0.0, false));
    spec.hi = Some((10.0, true));
    let mut runner = TestRunner::deterministic();
    let s = strategy_for(&spec);
    for _ in 0..300 {
        let v = proptest::strategy::ValueTree::current(&s.new_tree(&mut runner).unwrap());
        assert!(matches!(v, Value::Int(n) if (1..=10).contains(&n)), "{v}");
    }
    let mut dec = Spec::of(&col("numeric(8,3)"));
    dec.lo = Some((0.0, false));
    let s = strategy_for(&dec);
    for _ in 0..300 {
        let v = proptest::strategy::ValueTree::current(&s.new_tree(&mut runner).unwrap());
        let ok = matches!(&v, Value::Text(t) if t.parse::<f64>().unwrap() > 0.0 && t.split('.').nth(1).map(str::len) == Some(3));
        assert!(ok, "{v}");
    }
    let mut text = Spec::of(&col("text"));
    text.min_chars = 2;
    text.max_chars = Some(5);
    let s = strategy_for(&text);
    for _ in 0..300 {
        let v = proptest::strategy::ValueTree::current(&s.new_tree(&mut runner).unwrap());
        assert!(
            matches!(&v, Value::Text(t) if (2..=5).contains(&t.chars().count())),
            "{v}"
        );
    }
}

#[test]
fn parse_for_checks_type_and_limits() {
    assert_eq!(
        parse_for(&Spec::of(&col("smallint")), "12"),
        Ok(Value::Int(12))
    );
    assert!(parse_for(&Spec::of(&col("smallint")), "70000").is_err());
    assert!(parse_for(&Spec::of(&col("varchar(3)")), "abcd").is_err());
    assert_eq!(
        parse_for(&Spec::of(&col("numeric(8,3)")), "1.5"),
        Ok(Value::Text("1.5".into()))
    );
    assert!(parse_for(&Spec::of(&col("numeric(8,3)")), "1.5555").is_err());
    assert!(parse_for(&Spec::of(&col("numeric(4,2)")), "123.5").is_err());
    assert!(parse_for(&Spec::of(&col("date")), "2023-02-29").is_err());
    assert!(parse_for(&Spec::of(&col("date")), "2024-02-29").is_ok());
    assert!(parse_for(&Spec::of(&col("uuid")), "nope").is_err());
    assert!(parse_for(&Spec::of(&col("jsonb")), "{\"a\": 1}").is_ok());
    assert!(parse_for(&Spec::of(&col("enum('a','b')")), "c").is_err());
    assert_eq!(
        parse_for(&Spec::of(&col("boolean")), "true"),
        Ok(Value::Bool(true))
    );
    assert_eq!(like_example("%@example.com"), "a@example.com");
    assert_eq!(like_example("abc_%"), "abcaa");
    assert_eq!(like_example("100\\%"), "100%");
}
