//! Dates, times, timestamps and intervals as ISO text, which all three dialects parse. Fractional
//! seconds and non-zero offsets are included because dropping them is a common downgrade loss.

use mrt_db::Value;
use proptest::prelude::*;

const OFFSETS: &[&str] = &["+00:00", "+05:30", "-08:00", "+14:00", "-03:30"];

fn days_in(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Valid calendar dates (leap days included) in `years`, plus edges when `edges` is given.
fn date_parts(years: std::ops::RangeInclusive<i32>) -> impl Strategy<Value = String> {
    (years, 1u32..=12, 1u32..=31)
        .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{:02}", d.min(days_in(y, m))))
}

pub(super) fn date() -> BoxedStrategy<Value> {
    let edges = vec![
        "1970-01-01",
        "2000-02-29",
        "1999-12-31",
        "2038-01-19",
        "1000-01-01",
        "9999-12-31",
    ];
    prop_oneof![
        1 => proptest::sample::select(edges).prop_map(|s| Value::Text(s.to_string())),
        4 => date_parts(1900..=2100).prop_map(Value::Text),
    ]
    .boxed()
}

fn clock() -> impl Strategy<Value = String> {
    (
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![Just(None), (0u32..1_000_000).prop_map(Some)],
    )
        .prop_map(|(h, m, s, micros)| match micros {
            Some(us) => format!("{h:02}:{m:02}:{s:02}.{us:06}"),
            None => format!("{h:02}:{m:02}:{s:02}"),
        })
}

fn offset() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(OFFSETS)
}

pub(super) fn time(tz: bool) -> BoxedStrategy<Value> {
    let edges = vec!["00:00:00", "23:59:59.999999", "12:00:00", "13:45:09.123456"];
    let base = prop_oneof![
        1 => proptest::sample::select(edges).prop_map(str::to_string),
        3 => clock(),
    ];
    if tz {
        (base, offset())
            .prop_map(|(t, o)| Value::Text(format!("{t}{o}")))
            .boxed()
    } else {
        base.prop_map(Value::Text).boxed()
    }
}

/// `narrow`: MySQL TIMESTAMP holds only 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC, and
/// MariaDB rejects offsets in it, so those values stay inside and carry no offset.
pub(super) fn timestamp(tz: bool, narrow: bool) -> BoxedStrategy<Value> {
    let (years, edges) = if narrow {
        (
            1971..=2037,
            vec![
                "1970-01-02 00:00:00",
                "2038-01-18 23:59:59",
                "2000-02-29 12:30:00.5",
            ],
        )
    } else {
        (
            1900..=2100,
            vec![
                "1970-01-01 00:00:00",
                "2031-02-28 13:45:09.123456",
                "2000-02-29 23:59:59.999999",
                "1000-01-01 00:00:00",
                "9999-12-31 23:59:59",
            ],
        )
    };
    let base = prop_oneof![
        1 => proptest::sample::select(edges).prop_map(str::to_string),
        4 => (date_parts(years), clock()).prop_map(|(d, t)| format!("{d} {t}")),
    ];
    if tz {
        (base, offset())
            .prop_map(|(t, o)| Value::Text(format!("{t}{o}")))
            .boxed()
    } else {
        base.prop_map(Value::Text).boxed()
    }
}

/// PostgreSQL interval text, e.g. `3 days 04:05:06`.
pub(super) fn interval() -> BoxedStrategy<Value> {
    (0u32..400, 0u32..24, 0u32..60, 0u32..60)
        .prop_map(|(d, h, m, s)| Value::Text(format!("{d} days {h:02}:{m:02}:{s:02}")))
        .boxed()
}

fn num(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD` with a real calendar day.
pub(crate) fn check_date(s: &str) -> Result<(), String> {
    let bad = || format!("'{s}' is not a date (YYYY-MM-DD)");
    let mut parts = s.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in(y as i32, m) {
        return Err(bad());
    }
    Ok(())
}

/// `HH:MM[:SS[.ffffff]]` with an optional `+HH:MM` / `-HH:MM` / `Z` offset.
pub(crate) fn check_time(s: &str) -> Result<(), String> {
    let bad = || format!("'{s}' is not a time (HH:MM:SS)");
    let s = s.trim();
    let body = s.strip_suffix('Z').unwrap_or(s);
    let body = match body.rfind(['+', '-']) {
        Some(i) if i >= 5 => {
            let off = &body[i + 1..];
            let (oh, om) = off.split_once(':').unwrap_or((off, "00"));
            if num(oh, 2).is_none_or(|h| h > 14) || num(om, 2).is_none_or(|m| m > 59) {
                return Err(bad());
            }
            &body[..i]
        }
        _ => body,
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(bad());
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let limits = [23, 59, 59];
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    for (p, lim) in parts.iter().zip(limits) {
        if num(p, 2).is_none_or(|v| v > lim) {
            return Err(bad());
        }
    }
    Ok(())
}

/// A date, then `T` or a space and a time.
pub(crate) fn check_timestamp(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.len() == 10 {
        return check_date(s);
    }
    let (Some(d), Some(t)) = (s.get(..10), s.get(11..)) else {
        return Err(format!("'{s}' is not a timestamp (YYYY-MM-DD HH:MM:SS)"));
    };
    if !matches!(s.as_bytes().get(10), Some(b' ' | b'T')) {
        return Err(format!("'{s}' is not a timestamp (YYYY-MM-DD HH:MM:SS)"));
    }
    check_date(d)?;
    check_time(t)
}
