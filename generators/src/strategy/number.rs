//! Integers, exact decimals and floats. Boundaries come first in the mix: the declared width's
//! extremes show a downgrade that narrows a column, a decimal that uses every digit of its scale
//! shows one that rounds.

use super::Spec;
use mrt_db::Value;
use proptest::prelude::*;

/// Integers in `min..=max`, narrowed by the CHECK bounds.
pub(super) fn int(min: i64, max: i64, spec: &Spec) -> BoxedStrategy<Value> {
    let (lo, hi) = int_range(min, max, spec);
    if lo > hi {
        // The CHECK contradicts the type: offer the declared minimum and let the database say so.
        return Just(Value::Int(min)).boxed();
    }
    let mut edges = vec![lo, hi];
    for v in [0, 1, -1, lo.saturating_add(1), hi.saturating_sub(1)] {
        if (lo..=hi).contains(&v) && !edges.contains(&v) {
            edges.push(v);
        }
    }
    let small = (lo.max(-1000), hi.min(1000));
    let small = if small.0 <= small.1 { small } else { (lo, hi) };
    prop_oneof![
        3 => proptest::sample::select(edges).prop_map(Value::Int),
        4 => (small.0..=small.1).prop_map(Value::Int),
        3 => (lo..=hi).prop_map(Value::Int),
    ]
    .boxed()
}

fn int_range(min: i64, max: i64, spec: &Spec) -> (i64, i64) {
    let mut lo = min;
    let mut hi = max;
    if let Some((b, inc)) = spec.lo {
        let v = if inc { b.ceil() } else { b.floor() + 1.0 };
        if v > lo as f64 {
            lo = if v >= i64::MAX as f64 {
                i64::MAX
            } else {
                v as i64
            };
        }
    }
    if let Some((b, inc)) = spec.hi {
        let v = if inc { b.floor() } else { b.ceil() - 1.0 };
        if v < hi as f64 {
            hi = if v <= i64::MIN as f64 {
                i64::MIN
            } else {
                v as i64
            };
        }
    }
    (lo, hi)
}

/// Exact decimals as text with exactly `scale` digits after the point (the last one non-zero in
/// ordinary values), up to `precision - scale` digits before it.
pub(super) fn decimal(
    precision: u32,
    scale: u32,
    unsigned: bool,
    spec: &Spec,
) -> BoxedStrategy<Value> {
    let scale = scale.min(40) as usize;
    let int_digits = (precision as usize).saturating_sub(scale).min(30);
    if spec.lo.is_some() || spec.hi.is_some() {
        return bounded_decimal(int_digits, scale, unsigned, spec);
    }
    let nines = |n: usize| {
        if n == 0 {
            "0".to_string()
        } else {
            "9".repeat(n)
        }
    };
    let max = if scale == 0 {
        nines(int_digits)
    } else {
        format!("{}.{}", nines(int_digits), "9".repeat(scale))
    };
    let unit = if scale == 0 {
        "1".to_string()
    } else {
        format!("0.{}1", "0".repeat(scale - 1))
    };
    let mut edges = vec![max.clone(), unit.clone(), zero(scale)];
    if !unsigned {
        edges.push(format!("-{max}"));
        edges.push(format!("-{unit}"));
    }
    let digits = |n: usize| proptest::collection::vec(0u8..10, n);
    let ordinary = (
        0..=int_digits,
        digits(int_digits),
        digits(scale),
        1u8..10,
        any::<bool>(),
    )
        .prop_map(move |(len, int, frac, last, negative)| {
            let int: String = int[..len]
                .iter()
                .map(|d| char::from(b'0' + d))
                .collect::<String>()
                .trim_start_matches('0')
                .to_string();
            let int = if int.is_empty() { "0".to_string() } else { int };
            let mut text = int;
            if scale > 0 {
                let mut frac: String = frac.iter().map(|d| char::from(b'0' + d)).collect();
                frac.pop();
                frac.push(char::from(b'0' + last));
                text = format!("{text}.{frac}");
            }
            if negative && !unsigned && !text.trim_matches(['0', '.']).is_empty() {
                text = format!("-{text}");
            }
            Value::Text(text)
        });
    prop_oneof![
        1 => proptest::sample::select(edges).prop_map(Value::Text),
        3 => ordinary,
    ]
    .boxed()
}

fn zero(scale: usize) -> String {
    if scale == 0 {
        "0".into()
    } else {
        format!("0.{}", "0".repeat(scale))
    }
}

/// Decimals inside CHECK bounds: drawn as floats across the allowed range, then written with
/// the full scale and pulled back inside when rounding pushed them over a strict bound.
fn bounded_decimal(
    int_digits: usize,
    scale: usize,
    unsigned: bool,
    spec: &Spec,
) -> BoxedStrategy<Value> {
    let cap = 10f64.powi(int_digits.min(15) as i32) - 10f64.powi(-(scale.min(15) as i32));
    let unit = 10f64.powi(-(scale.min(15) as i32));
    let mut lo = if unsigned { 0.0 } else { -cap };
    let mut hi = cap;
    if let Some((b, inc)) = spec.lo {
        lo = lo.max(if inc { b } else { b + unit });
    }
    if let Some((b, inc)) = spec.hi {
        hi = hi.min(if inc { b } else { b - unit });
    }
    if lo > hi {
        return Just(Value::Text(format!("{lo:.scale$}"))).boxed();
    }
    let spec = spec.clone();
    let fmt = move |x: f64| {
        let text = format!("{x:.scale$}");
        if text.parse::<f64>().is_ok_and(|v| spec.in_bounds(v)) {
            text
        } else {
            format!(
                "{:.scale$}",
                if x - lo < hi - x { x + unit } else { x - unit }
            )
        }
    };
    let mid = lo + (hi - lo) / 2.0;
    prop_oneof![
        1 => proptest::sample::select(vec![lo, hi, mid]),
        3 => lo..=hi,
    ]
    .prop_map(move |x| Value::Text(fmt(x)))
    .boxed()
}

/// Floats: round numbers, values that need every bit, tiny and huge magnitudes.
pub(super) fn float(single: bool, unsigned: bool, spec: &Spec) -> BoxedStrategy<Value> {
    let huge = if single { 3.0e38 } else { 1.0e300 };
    let edges = vec![
        0.0, 1.0, -1.0, 0.1, 0.5, 1.0e-7, 123_456.79, huge, -huge, 2.5e-30,
    ];
    let spec = spec.clone();
    let fit = move |x: f64| {
        let x = if unsigned { x.abs() } else { x };
        let x = if single { f64::from(x as f32) } else { x };
        if spec.in_bounds(x) {
            return x;
        }
        // Fold into the CHECK range; good enough for `x > 0` / `BETWEEN a AND b` checks.
        let lo = spec.lo.map_or(-1.0e6, |(b, _)| b);
        let hi = spec.hi.map_or(lo + 1.0e6, |(b, _)| b);
        let folded = lo + (hi - lo) * (x.abs().fract() * 0.98 + 0.01);
        if single {
            f64::from(folded as f32)
        } else {
            folded
        }
    };
    prop_oneof![
        1 => proptest::sample::select(edges),
        2 => -1.0e6f64..1.0e6,
        1 => -1.0e15f64..1.0e15,
    ]
    .prop_map(move |x| Value::Float(fit(x)))
    .boxed()
}

/// Parses and checks decimal text against precision and scale; keeps the text as written
/// (`1.5` stays `1.5`), since the database pads it.
pub(crate) fn parse_decimal(
    text: &str,
    precision: u32,
    scale: u32,
    unsigned: bool,
) -> Result<String, String> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = !digits.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit())
        && !(int.is_empty() && frac.is_empty());
    if !valid {
        return Err(format!("'{text}' is not a decimal number"));
    }
    if unsigned && t.starts_with('-') {
        return Err(format!("'{text}' is negative in an unsigned column"));
    }
    let int_len = int.trim_start_matches('0').len() as u32;
    if frac.len() as u32 > scale {
        return Err(format!(
            "'{text}' has more than {scale} digits after the point"
        ));
    }
    if int_len > precision.saturating_sub(scale) {
        return Err(format!(
            "'{text}' has more digits than precision {precision}, scale {scale} allow"
        ));
    }
    Ok(t.to_string())
}
