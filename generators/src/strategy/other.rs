//! UUIDs, JSON, binary, bit strings, network addresses, enums, MySQL SETs and PostgreSQL arrays.

use mrt_db::Value;
use proptest::prelude::*;

pub(super) fn uuid() -> BoxedStrategy<Value> {
    let edges = vec![
        "00000000-0000-0000-0000-000000000000".to_string(),
        "ffffffff-ffff-ffff-ffff-ffffffffffff".to_string(),
    ];
    prop_oneof![
        1 => proptest::sample::select(edges).prop_map(Value::Text),
        5 => any::<u128>().prop_map(|n| {
            // Version 4, variant 1: what uuid4() produces.
            let n = (n & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
            Value::Text(format_uuid(n))
        }),
    ]
    .boxed()
}

/// Random version-4 UUIDs only, no fixed edge values: for columns that hold ids, where two
/// tables sharing one fixed value collide as soon as a migration copies ids from one into the
/// other.
pub(crate) fn uuid_v4() -> BoxedStrategy<Value> {
    any::<u128>()
        .prop_map(|n| {
            let n = (n & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
            Value::Text(format_uuid(n))
        })
        .boxed()
}

fn format_uuid(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub(crate) fn check_uuid(s: &str) -> Result<(), String> {
    let groups: Vec<&str> = s.trim().split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups
        .iter()
        .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if lens == [8, 4, 4, 4, 12] && hex {
        Ok(())
    } else {
        Err(format!("'{s}' is not a UUID"))
    }
}

/// Valid JSON text: mostly objects (what application code reads with `.get()` or `**`), also
/// arrays and scalars; nested values of every kind, strings with quotes and non-ASCII.
pub(super) fn json() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => json_object(),
        1 => json_tree().prop_map(|j| Value::Text(j.to_string())),
    ]
    .boxed()
}

/// JSON objects only (any values inside): for a column the revision's code uses as a mapping.
pub(crate) fn json_object() -> BoxedStrategy<Value> {
    proptest::collection::btree_map(
        proptest::sample::select(vec!["id", "name", "tags", "n", "nested key", "ünï"]),
        json_tree(),
        0..4,
    )
    .prop_map(|m| {
        let object: serde_json::Map<String, serde_json::Value> =
            m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Value::Text(serde_json::Value::Object(object).to_string())
    })
    .boxed()
}

fn json_tree() -> BoxedStrategy<serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        (-1_000_000i64..1_000_000).prop_map(J::from),
        proptest::sample::select(vec![1.5f64, -0.25, 3.125e10]).prop_map(J::from),
        proptest::sample::select(vec!["", "a", "quote \" and \\ back", "ünï", "x y"])
            .prop_map(|s| J::String(s.to_string())),
    ];
    let tree = leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            proptest::collection::btree_map(
                proptest::sample::select(vec!["id", "name", "tags", "n", "nested key"]),
                inner,
                0..4
            )
            .prop_map(|m| J::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    });
    tree.boxed()
}

/// Up to `max_len` bytes (32 when unbounded), including the empty value, zero bytes and 0xFF.
pub(super) fn bytes(max_len: Option<u32>) -> BoxedStrategy<Value> {
    let cap = max_len.map_or(32, |m| (m as usize).min(1024));
    let edges = vec![
        Vec::new(),
        vec![0u8],
        vec![0xff; cap],
        (0..cap).map(|i| i as u8).collect(),
    ];
    let edges: Vec<Vec<u8>> = edges
        .into_iter()
        .map(|mut e| {
            e.truncate(cap);
            e
        })
        .collect();
    prop_oneof![
        1 => proptest::sample::select(edges),
        3 => proptest::collection::vec(any::<u8>(), 0..=cap.min(32)),
    ]
    .prop_map(Value::Bytes)
    .boxed()
}

/// `\x0102` / `0x0102` as hex bytes, anything else as its UTF-8 bytes.
pub(crate) fn parse_bytes(text: &str) -> Vec<u8> {
    let hex = text.strip_prefix("\\x").or_else(|| text.strip_prefix("0x"));
    if let Some(h) = hex.filter(|h| h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit())) {
        return (0..h.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
            .collect();
    }
    text.as_bytes().to_vec()
}

pub(super) fn bits(len: u32, varying: bool) -> BoxedStrategy<Value> {
    let len = len as usize;
    let min = if varying { 1 } else { len };
    proptest::collection::vec(any::<bool>(), min..=len)
        .prop_map(|b| Value::Text(b.into_iter().map(|x| if x { '1' } else { '0' }).collect()))
        .boxed()
}

pub(super) fn inet(cidr: bool) -> BoxedStrategy<Value> {
    if cidr {
        (0u8..=255)
            .prop_map(|a| Value::Text(format!("10.{a}.0.0/16")))
            .boxed()
    } else {
        prop_oneof![
            1 => Just(Value::Text("::1".into())),
            4 => (0u8..=255, 1u8..=254).prop_map(|(a, b)| Value::Text(format!("192.168.{a}.{b}"))),
        ]
        .boxed()
    }
}

pub(super) fn one_of(labels: Vec<String>) -> BoxedStrategy<Value> {
    proptest::sample::select(labels)
        .prop_map(Value::Text)
        .boxed()
}

/// A MySQL SET value: labels in declaration order, comma-joined; the empty set included.
pub(super) fn set(labels: Vec<String>) -> BoxedStrategy<Value> {
    let n = labels.len();
    proptest::collection::vec(any::<bool>(), n)
        .prop_map(move |pick| {
            let chosen: Vec<&str> = labels
                .iter()
                .zip(&pick)
                .filter(|(_, p)| **p)
                .map(|(l, _)| l.as_str())
                .collect();
            Value::Text(chosen.join(","))
        })
        .boxed()
}

/// PostgreSQL array literal text (`{1,2}`, `{"a b","c\"d"}`), with NULL elements sometimes.
pub(super) fn array(element: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let element = prop_oneof![1 => Just(Value::Null), 6 => element];
    proptest::collection::vec(element, 0..4)
        .prop_map(|items| Value::Text(render_array(&items)))
        .boxed()
}

/// Renders values as a one-dimensional PostgreSQL array literal.
pub(crate) fn render_array(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|v| match v {
            Value::Null => "NULL".to_string(),
            Value::Int(n) => n.to_string(),
            Value::Float(x) => format!("{x:?}"),
            Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            Value::Text(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
            Value::Bytes(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                format!("\"\\\\x{hex}\"")
            }
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}
