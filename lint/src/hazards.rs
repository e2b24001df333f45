//! One hazard, one finding. When two rules report the same hazard (a DROP COLUMN that is also
//! the last step of an add-copy-drop, a SET NOT NULL on an existing column that the downgrade
//! does not revert, ...), the less specific hit names the more specific one in
//! [`Hit::yields_to`]; here it is folded into that hit, which names it in its message.
//!
//! A folded hit is not forgotten: a suppression comment for its code, on its own statement,
//! still silences the finding that absorbed it, so `# noqa` comments written for either code
//! keep working.

use crate::finding::Hit;
use crate::registry::{find_rule, Rule};

/// A hit that survived merging, with the hits it absorbed (each as its rule reported it, so
/// the CLI can fall back to it when the absorbing rule is turned off or not selected).
pub struct Merged {
    pub rule: &'static Rule,
    pub hit: Hit,
    pub also: Vec<(&'static Rule, Hit)>,
}

impl Merged {
    fn absorb(&mut self, rule: &'static Rule, hit: &Hit) {
        // Each code is named once, however many of its hits were absorbed.
        if !self.also.iter().any(|(_, h)| h.code == hit.code) {
            let summary = find_rule(hit.code).map_or("", |r| r.summary);
            self.hit.message = format!("{} (also {}: {summary})", self.hit.message, hit.code);
        }
        self.also.push((rule, hit.clone()));
    }
}

/// Folds every hit that yields into the hits it yields to; hits whose target is absent stay.
pub fn merge(hits: Vec<(&'static Rule, Hit)>) -> Vec<Merged> {
    let targets: Vec<Vec<usize>> = hits.iter().map(|(_, h)| targets_of(h, &hits)).collect();
    let mut slots: Vec<Option<Merged>> = hits
        .into_iter()
        .map(|(rule, hit)| {
            Some(Merged {
                rule,
                hit,
                also: Vec::new(),
            })
        })
        .collect();
    for (i, to) in targets.iter().enumerate() {
        if to.is_empty() {
            continue;
        }
        let Some(gone) = slots[i].take() else {
            continue;
        };
        for &j in to {
            if let Some(keeper) = slots[j].as_mut() {
                keeper.absorb(gone.rule, &gone.hit);
            }
        }
    }
    slots.into_iter().flatten().collect()
}

/// The hits `hit` gives way to: those of the first code it names that is reported. Only hits
/// that do not yield themselves can absorb, so nothing is folded into a hit that is folded
/// away in turn.
fn targets_of(hit: &Hit, all: &[(&'static Rule, Hit)]) -> Vec<usize> {
    hit.yields_to
        .iter()
        .map(|y| {
            all.iter()
                .enumerate()
                .filter(|(_, (_, h))| {
                    h.code == y.code
                        && h.yields_to.is_empty()
                        && y.at.is_none_or(|at| at == h.start)
                })
                .map(|(i, _)| i)
                .collect::<Vec<usize>>()
        })
        .find(|targets| !targets.is_empty())
        .unwrap_or_default()
}
