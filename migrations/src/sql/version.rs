//! Version keys as each tool compares them, and the check for gaps in sequential numbering.

use super::SqlMigration;
use crate::{Problem, ProblemKind};
use std::cmp::Ordering;

/// A version ordered the way its tool orders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionKey {
    /// sqlx (`i64`), golang-migrate (`u64`, stored here as `i128`), refinery (`i32`).
    Int(i128),
    /// diesel (version string, byte order) and dbmate (file name, byte order).
    Text(String),
    /// Flyway's `MigrationVersion`: numeric parts, trailing zeros dropped.
    Flyway(FlywayVersion),
}

impl VersionKey {
    pub fn cmp_key(&self, other: &Self) -> Ordering {
        match (self, other) {
            (VersionKey::Int(a), VersionKey::Int(b)) => a.cmp(b),
            (VersionKey::Text(a), VersionKey::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (VersionKey::Flyway(a), VersionKey::Flyway(b)) => a.cmp(b),
            // One project holds one kind of key; any order keeps sorting total.
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            VersionKey::Int(_) => 0,
            VersionKey::Text(_) => 1,
            VersionKey::Flyway(_) => 2,
        }
    }
}

/// Flyway's `MigrationVersion` (flyway-core `org/flywaydb/core/api/MigrationVersion.java`):
/// `_` reads as `.`, the text splits at every `.` followed by a digit, each part is a
/// `BigInteger`, trailing zero parts are dropped (`1.0` equals `1`), and two versions compare
/// part by part with missing parts as zero, so `1.10` > `1.9` and `2` > `1.99`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlywayVersion {
    /// Each part as decimal digits without leading zeros ("0" for zero), with its sign.
    parts: Vec<(bool, String)>,
    /// The version as Flyway displays and stores it: the file's text with `_` as `.`.
    pub display: String,
}

impl FlywayVersion {
    pub fn parse(text: &str) -> Option<Self> {
        let display = text.replace('_', ".");
        let mut parts = Vec::new();
        let mut rest = display.as_str();
        loop {
            // Split at a '.' followed by a digit (`\.(?=\d)`).
            let cut = rest
                .char_indices()
                .find(|&(i, c)| c == '.' && rest[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
                .map(|(i, _)| i);
            let (part, next) = match cut {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            parts.push(big_integer(part)?);
            match next {
                Some(n) => rest = n,
                None => break,
            }
        }
        while parts.len() > 1 && parts.last().is_some_and(|(_, d)| d == "0") {
            parts.pop();
        }
        Some(FlywayVersion { parts, display })
    }

    /// Whether every part is a plain non-negative integer and there is one part.
    pub fn as_integer(&self) -> Option<i128> {
        match self.parts.as_slice() {
            [(false, digits)] => digits.parse().ok(),
            _ => None,
        }
    }
}

/// Java's `new BigInteger(s)`: an optional sign and at least one ASCII digit, nothing else.
/// Returns (negative, digits without leading zeros).
fn big_integer(s: &str) -> Option<(bool, String)> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
    Some((negative && trimmed != "0", trimmed.to_string()))
}

fn cmp_big(a: &(bool, String), b: &(bool, String)) -> Ordering {
    let magnitude = |x: &String, y: &String| x.len().cmp(&y.len()).then_with(|| x.cmp(y));
    match (a.0, b.0) {
        (false, false) => magnitude(&a.1, &b.1),
        (true, true) => magnitude(&b.1, &a.1),
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

impl Ord for FlywayVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = (false, "0".to_string());
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let a = self.parts.get(i).unwrap_or(&zero);
            let b = other.parts.get(i).unwrap_or(&zero);
            match cmp_big(a, b) {
                Ordering::Equal => continue,
                other => return other,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for FlywayVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Below this every integer version is read as a sequence number; timestamps (`20240101...`,
/// Unix seconds) are far above it, and their gaps mean nothing.
const SEQUENTIAL_BELOW: i128 = 10_000_000;

/// Gaps in a project that numbers its migrations 1, 2, 3, ...: every version an integer below
/// [`SEQUENTIAL_BELOW`], at least two of them, and a step larger than one between neighbours
/// in numeric order. A gap usually means a migration was deleted or lost in a merge.
pub(crate) fn gaps(ordered: &[(i128, &SqlMigration)]) -> Vec<Problem> {
    if ordered.len() < 2
        || ordered
            .iter()
            .any(|(v, _)| *v < 0 || *v >= SEQUENTIAL_BELOW)
    {
        return Vec::new();
    }
    let mut ordered = ordered.to_vec();
    ordered.sort_by_key(|(v, _)| *v);
    let mut problems = Vec::new();
    for pair in ordered.windows(2) {
        let ((before, _), (after, m)) = (pair[0], pair[1]);
        if after > before + 1 {
            let missing = if after == before + 2 {
                format!("version {} is missing", before + 1)
            } else {
                format!("versions {} to {} are missing", before + 1, after - 1)
            };
            problems.push(
                Problem::new(
                    ProblemKind::VersionGap,
                    &m.up.path,
                    format!(
                        "version {after} follows {before}: {missing} (this project numbers its migrations 1, 2, 3, ...)"
                    ),
                )
                .at(1, None)
                .of(m.id.clone()),
            );
        }
    }
    problems
}
