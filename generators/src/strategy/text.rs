//! Strings. Lengths are counted in characters (what VARCHAR(n) limits in PostgreSQL and MySQL),
//! and the mix includes what a careless conversion breaks: the empty string, exactly the maximum
//! length, multi-byte characters, quotes, backslashes, surrounding whitespace and LIKE wildcards.

use mrt_db::Value;
use proptest::prelude::*;

/// Longest string generated for an unbounded column: past 255, so a downgrade to VARCHAR(255)
/// shows.
const UNBOUNDED_LONG: usize = 300;
/// Cap for the "exactly max length" edge of very wide columns.
const LONGEST_EDGE: usize = 4096;

/// Edge strings before fitting to the column's length limits. Multi-byte characters are taken
/// from the Basic Multilingual Plane only, since MySQL's legacy `utf8` charset rejects 4-byte ones.
const EDGES: &[&str] = &[
    "",
    "é",
    "Grüße, 日本語 Ωμέγα",
    "O'Brien",
    "say \"hi\"",
    "C:\\path\\to\\file",
    "  leading and trailing  ",
    " ",
    "100% of_all",
    "%",
    "_",
    "line1\nline2\ttab",
    "NULL",
    "0",
];

/// Characters for ordinary strings: mostly ASCII letters of both cases (a downgrade that rewrites
/// case shows only on values that have the case it changes), some digits, multi-byte and awkward
/// ones. The first 26 are `a`..`z` (see [`short_word`]).
const ALPHABET: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's',
    't', 'u', 'v', 'w', 'x', 'y', 'z', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L',
    'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '0', '1', '5', '9', ' ',
    '-', '.', '@', '\'', '"', '\\', '%', '_', 'é', 'ñ', 'ß', 'Ω', '日', '€',
];

/// Text with at least `min` and at most `max` characters (`None`: unbounded).
pub(super) fn text(min: u32, max: Option<u32>) -> BoxedStrategy<Value> {
    let min = min as usize;
    let max_len = max.map(|m| m as usize);
    let fit = move |s: &str| fit_len(s, min, max_len);
    let mut edges: Vec<String> = EDGES.iter().map(|s| fit(s)).collect();
    match max_len {
        Some(m) => {
            let m = m.min(LONGEST_EDGE);
            edges.push(fit(&"x".repeat(m)));
            // Exactly the maximum with a multi-byte character last: a byte-counting column
            // (or a downgrade to one) truncates it.
            let mut s: String = "a".repeat(m.saturating_sub(1));
            s.push('é');
            edges.push(fit(&s));
        }
        None => edges.push("long ".repeat(UNBOUNDED_LONG / 5)),
    }
    edges.dedup();
    let upper = max_len.unwrap_or(24).clamp(min.max(1), 24.max(min));
    let ordinary =
        proptest::collection::vec(proptest::sample::select(ALPHABET), min.max(1)..=upper).prop_map(
            move |chars| {
                Value::Text(fit_len(
                    &chars.into_iter().collect::<String>(),
                    min,
                    max_len,
                ))
            },
        );
    prop_oneof![
        2 => proptest::sample::select(edges).prop_map(Value::Text),
        3 => ordinary,
    ]
    .boxed()
}

/// Cuts `s` to `max` characters and pads it with `x` to `min`.
fn fit_len(s: &str, min: usize, max: Option<usize>) -> String {
    let mut out: String = match max {
        Some(m) => s.chars().take(m).collect(),
        None => s.to_string(),
    };
    let n = out.chars().count();
    if n < min {
        out.push_str(&"x".repeat(min - n));
    }
    out
}

/// A short lowercase word for types mrt does not know: almost every type parses that, or the
/// failure is clear.
pub(super) fn short_word() -> BoxedStrategy<Value> {
    proptest::collection::vec(proptest::sample::select(&ALPHABET[..26]), 1..=8)
        .prop_map(|c| Value::Text(c.into_iter().collect()))
        .boxed()
}

/// A string that a SQL LIKE pattern matches: `%` becomes nothing or `a`, `_` becomes `a`,
/// escaped wildcards (`\%`) stay literal.
pub(crate) fn like_example(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    let mut first_percent = true;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '%' => {
                // One `a` for the first wildcard so "%@example.com" gives a plausible address.
                if first_percent {
                    out.push('a');
                    first_percent = false;
                }
            }
            '_' => out.push('a'),
            other => out.push(other),
        }
    }
    out
}
