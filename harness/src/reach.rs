//! Bringing a database forward to a state: the steps that apply what it still lacks. Shared by
//! the trial and `mrt bench`, which both start from `before(r)`.

use mrt_migrations::exec::{Direction, Step};
use mrt_migrations::RevisionGraph;
use std::collections::BTreeSet;

/// For each head of `target`, one step applying exactly the revisions of its ancestry that
/// `applied` lacks, parents first; none when `applied` already covers `target`.
pub fn steps_to(
    graph: &RevisionGraph,
    applied: &BTreeSet<String>,
    target: &BTreeSet<&str>,
) -> Vec<Step> {
    let mut applied: BTreeSet<&str> = target
        .iter()
        .copied()
        .filter(|r| applied.contains(*r))
        .collect();
    let mut steps = Vec::new();
    if applied.len() == target.len() {
        return steps;
    }
    for head in graph.heads_of(target) {
        let mut wanted = graph.ancestors(head).unwrap_or_default();
        wanted.insert(head);
        let missing: Vec<&str> = graph
            .ordered()
            .map(|r| r.id.as_str())
            .filter(|id| wanted.contains(id) && !applied.contains(id))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let from = heads(graph, &applied);
        applied.extend(missing.iter().copied());
        steps.push(Step {
            direction: Direction::Up,
            revisions: missing.iter().map(|s| s.to_string()).collect(),
            from,
            to: heads(graph, &applied),
            schema_hint: false,
        });
    }
    steps
}

/// The step of `rev` alone, from `before(rev)`: up applies it, down takes it back.
pub fn own_step(
    graph: &RevisionGraph,
    before: &BTreeSet<&str>,
    rev: &str,
    direction: Direction,
) -> Step {
    let mut after = before.clone();
    after.insert(rev);
    let (from, to) = match direction {
        Direction::Up => (heads(graph, before), heads(graph, &after)),
        Direction::Down => (heads(graph, &after), heads(graph, before)),
    };
    Step {
        direction,
        revisions: vec![rev.to_string()],
        from,
        to,
        schema_hint: true,
    }
}

/// The heads of a state as a runner takes them.
pub fn heads(graph: &RevisionGraph, state: &BTreeSet<&str>) -> Vec<String> {
    graph
        .heads_of(state)
        .iter()
        .map(|s| s.to_string())
        .collect()
}
