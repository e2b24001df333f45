//! One hazard, one finding, for Django migrations: which hit gives way to which on the same
//! operation. The crate's hazard merging ([`crate::hazards`]) then folds them.

use super::facts::{Facts, OpFact};
use crate::finding::{Hit, Yield};
use crate::registry::Rule;
use rustpython_parser::text_size::{TextRange, TextSize};

/// Generic rules whose hazard a Django rule reports more precisely on the same operation
/// (first the generic code, then the one it gives way to).
const DJANGO_FORMS: &[(&str, &str)] = &[
    ("MRT201", "MRT209"),
    ("MRT202", "MRT209"),
    ("MRT202", "MRT210"),
    ("MRT202", "MRT211"),
    ("MRT203", "MRT212"),
    ("MRT401", "MRT411"),
    ("MRT213", "MRT412"),
    ("MRT407", "MRT413"),
    ("MRT209", "MRT208"),
    ("MRT107", "MRT601"),
    ("MRT108", "MRT601"),
    ("MRT110", "MRT601"),
];

/// Rules that judge an operation by what its reverse does: when the operation has no reverse
/// at all, or a no-op one, its own finding says so and absorbs them.
const REVERSE_PAIRING: &[&str] = &[
    "MRT103", "MRT104", "MRT105", "MRT106", "MRT205", "MRT207", "MRT216", "MRT301", "MRT302",
    "MRT304", "MRT402", "MRT403", "MRT408", "MRT409", "MRT501", "MRT502", "MRT503", "MRT504",
];

/// Findings about an operation's reverse as a whole.
const REVERSE_CODES: &[&str] = &["MRT107", "MRT108", "MRT109", "MRT110", "MRT601"];

/// Findings that an operation destroys data: a no-op reverse (MRT109) of the same operation
/// adds nothing to them, so it is folded into the first.
const DESTRUCTIVE: &[&str] = &[
    "MRT201", "MRT202", "MRT203", "MRT208", "MRT209", "MRT210", "MRT211", "MRT212", "MRT214",
];

/// Names, on each hit, the Django hit on the same operation that reports its hazard.
pub fn relate(
    hits: &mut [(&'static Rule, Hit)],
    facts: &Facts,
    code_owners: &[(TextRange, TextRange)],
) {
    let at: Vec<(&'static str, TextSize)> = hits.iter().map(|(_, h)| (h.code, h.start)).collect();
    let present = |code: &str, start: TextSize| at.iter().any(|&(c, s)| c == code && s == start);
    for (_, hit) in hits.iter_mut() {
        for &(generic, django) in DJANGO_FORMS {
            if hit.code == generic && present(django, hit.start) {
                hit.yields_to.push(Yield {
                    code: django,
                    at: Some(hit.start),
                });
            }
        }
    }
    // A no-op reverse of an operation that destroys data: the destruction is the finding.
    let destroying: Vec<(&'static str, TextSize, TextSize)> = hits
        .iter()
        .filter(|(_, h)| DESTRUCTIVE.contains(&h.code) && h.yields_to.is_empty())
        .filter_map(|(_, h)| Some((h.code, h.start, owner(facts, code_owners, h.start)?.start)))
        .collect();
    for (_, hit) in hits.iter_mut().filter(|(_, h)| h.code == "MRT109") {
        if let Some(&(code, start, _)) = destroying.iter().find(|(_, _, op)| *op == hit.start) {
            hit.yields_to.push(Yield {
                code,
                at: Some(start),
            });
        }
    }
    // The operation-level finding that stands (one that does not give way itself).
    let standing: Vec<(&'static str, TextSize)> = hits
        .iter()
        .filter(|(_, h)| REVERSE_CODES.contains(&h.code) && h.yields_to.is_empty())
        .map(|(_, h)| (h.code, h.start))
        .collect();
    for (_, hit) in hits.iter_mut() {
        if !REVERSE_PAIRING.contains(&hit.code) {
            continue;
        }
        let Some(op) = owner(facts, code_owners, hit.start) else {
            continue;
        };
        if let Some(&(code, start)) = standing.iter().find(|(_, s)| *s == op.start) {
            hit.yields_to.push(Yield {
                code,
                at: Some(start),
            });
        }
    }
}

/// The operation a position belongs to: the innermost operation call containing it, or the
/// `RunPython` operation running the function it is in.
fn owner<'f>(
    facts: &'f Facts,
    code_owners: &[(TextRange, TextRange)],
    at: TextSize,
) -> Option<&'f OpFact> {
    let span = facts
        .ops
        .iter()
        .filter(|op| op.span.contains_inclusive(at))
        .min_by_key(|op| op.span.len())
        .map(|op| op.span)
        .or_else(|| {
            code_owners
                .iter()
                .find(|(f, _)| f.contains_inclusive(at))
                .map(|(_, op)| *op)
        })?;
    facts.ops.iter().find(|op| op.span == span)
}
