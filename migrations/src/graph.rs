//! The revision graph: bases, heads, branch and merge points, topological order and ancestry.
//!
//! Built defensively: a duplicate id, a missing parent or a cycle becomes a [`Problem`], never a
//! hang or a panic, and the rest of the graph stays usable.

use crate::{shown, Problem, ProblemKind, Revision};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

pub type RevisionId = String;

#[derive(Debug)]
pub struct RevisionGraph {
    revisions: Vec<Revision>,
    by_id: HashMap<String, usize>,
    by_label: HashMap<String, usize>,
    /// Resolved `down_revision`s.
    parents: Vec<Vec<usize>>,
    /// Resolved `depends_on` entries.
    deps: Vec<Vec<usize>>,
    /// Reverse of `parents` only: `depends_on` never makes a revision stop being a head.
    children: Vec<Vec<usize>>,
    /// Reverse of `deps`.
    dependents: Vec<Vec<usize>>,
    order: Vec<usize>,
    problems: Vec<Problem>,
    /// Revisions whose id a later file declares again: Alembic ignores them, mrt still lints them.
    shadowed: Vec<Revision>,
}

impl RevisionGraph {
    /// Builds the graph. `salvaged` maps ids found in files that failed to parse to those files,
    /// so a child pointing at one is told where its parent went.
    pub fn build(revisions: Vec<Revision>, salvaged: &[(String, PathBuf)]) -> Self {
        let mut problems = Vec::new();
        let (revisions, shadowed) = drop_duplicates(revisions, &mut problems);
        let by_id: HashMap<String, usize> = revisions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let by_label = label_map(&revisions, &mut problems);
        let mut graph = RevisionGraph {
            parents: vec![Vec::new(); revisions.len()],
            deps: vec![Vec::new(); revisions.len()],
            children: vec![Vec::new(); revisions.len()],
            dependents: vec![Vec::new(); revisions.len()],
            revisions,
            by_id,
            by_label,
            order: Vec::new(),
            problems,
            shadowed,
        };
        graph.link(salvaged);
        graph.sort();
        graph
    }

    fn link(&mut self, salvaged: &[(String, PathBuf)]) {
        for i in 0..self.revisions.len() {
            let rev = &self.revisions[i];
            let mut parents = Vec::new();
            for p in &rev.down_revisions {
                match self.lookup(p) {
                    Some(j) => parents.push(j),
                    None => self
                        .problems
                        .push(missing(rev, p, "down_revision", salvaged)),
                }
            }
            let mut deps = Vec::new();
            for d in &rev.depends_on {
                match self.lookup(d) {
                    Some(j) => deps.push(j),
                    None => self.problems.push(missing(rev, d, "depends_on", salvaged)),
                }
            }
            for &p in &parents {
                self.children[p].push(i);
            }
            for &d in &deps {
                self.dependents[d].push(i);
            }
            self.parents[i] = parents;
            self.deps[i] = deps;
        }
    }

    fn lookup(&self, ident: &str) -> Option<usize> {
        self.by_id
            .get(ident)
            .or_else(|| self.by_label.get(ident))
            .copied()
    }

    /// Kahn's algorithm with a stack, so each branch comes out contiguously. Whatever is left is
    /// on or behind a cycle.
    fn sort(&mut self) {
        let n = self.revisions.len();
        let mut pending: Vec<usize> = (0..n).map(|i| self.prerequisites(i).len()).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for i in 0..n {
            for p in self.prerequisites(i) {
                dependents[p].push(i);
            }
        }
        let mut ready: Vec<usize> = (0..n).rev().filter(|&i| pending[i] == 0).collect();
        while let Some(i) = ready.pop() {
            self.order.push(i);
            for &d in dependents[i].iter().rev() {
                pending[d] -= 1;
                if pending[d] == 0 {
                    ready.push(d);
                }
            }
        }
        if self.order.len() < n {
            let placed: HashSet<usize> = self.order.iter().copied().collect();
            let stuck: Vec<usize> = (0..n).filter(|i| !placed.contains(i)).collect();
            self.report_cycles(&stuck);
        }
    }

    fn prerequisites(&self, i: usize) -> BTreeSet<usize> {
        self.parents[i]
            .iter()
            .chain(&self.deps[i])
            .copied()
            .collect()
    }

    fn report_cycles(&mut self, stuck: &[usize]) {
        let stuck_set: HashSet<usize> = stuck.iter().copied().collect();
        let mut reported: HashSet<usize> = HashSet::new();
        for &start in stuck {
            if let Some(cycle) = self.find_cycle(start, &stuck_set) {
                if cycle.iter().any(|c| reported.contains(c)) {
                    continue;
                }
                reported.extend(cycle.iter().copied());
                let names: Vec<&str> = cycle
                    .iter()
                    .map(|&c| self.revisions[c].id.as_str())
                    .collect();
                let first = &self.revisions[cycle[0]];
                self.problems.push(
                    Problem::new(
                        ProblemKind::Cycle,
                        &first.path,
                        format!("revision cycle: {} -> {}", names.join(" -> "), names[0]),
                    )
                    .at(first.line, None)
                    .of(first.id.clone()),
                );
            }
        }
    }

    /// Follows prerequisites among stuck nodes until one repeats; every stuck node has a stuck
    /// prerequisite, so this ends within `stuck.len()` steps.
    fn find_cycle(&self, start: usize, stuck: &HashSet<usize>) -> Option<Vec<usize>> {
        let mut path = vec![start];
        let mut seen: HashMap<usize, usize> = HashMap::from([(start, 0)]);
        let mut at = start;
        loop {
            let next = self
                .prerequisites(at)
                .into_iter()
                .find(|p| stuck.contains(p))?;
            if let Some(&pos) = seen.get(&next) {
                let mut cycle = path[pos..].to_vec();
                cycle.reverse();
                return Some(cycle);
            }
            seen.insert(next, path.len());
            path.push(next);
            at = next;
        }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Files whose revision id a later file declares again (see [`ProblemKind::DuplicateId`]):
    /// not in the graph, as in Alembic, but files a check must still read.
    pub fn shadowed(&self) -> &[Revision] {
        &self.shadowed
    }

    pub fn len(&self) -> usize {
        self.revisions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// Revisions parents-first; revisions on a cycle are left out (they are in `problems`).
    pub fn ordered(&self) -> impl Iterator<Item = &Revision> {
        self.order.iter().map(|&i| &self.revisions[i])
    }

    /// Revisions on or behind a cycle, which [`Self::ordered`] leaves out: files that were read
    /// and must still be checked.
    pub fn unordered(&self) -> impl Iterator<Item = &Revision> {
        let placed: HashSet<usize> = self.order.iter().copied().collect();
        self.revisions
            .iter()
            .enumerate()
            .filter(move |(i, _)| !placed.contains(i))
            .map(|(_, r)| r)
    }

    /// Looks a revision up by id or branch label.
    pub fn get(&self, ident: &str) -> Option<&Revision> {
        self.lookup(ident).map(|i| &self.revisions[i])
    }

    pub fn heads(&self) -> Vec<&Revision> {
        self.ordered()
            .filter(|r| self.children[self.by_id[&r.id]].is_empty())
            .collect()
    }

    pub fn bases(&self) -> Vec<&Revision> {
        self.ordered()
            .filter(|r| r.down_revisions.is_empty())
            .collect()
    }

    pub fn children(&self, id: &str) -> Vec<&Revision> {
        self.index_of(id)
            .map(|i| {
                self.children[i]
                    .iter()
                    .map(|&c| &self.revisions[c])
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_head(&self, id: &str) -> bool {
        self.index_of(id)
            .is_some_and(|i| self.children[i].is_empty())
    }

    pub fn is_branch_point(&self, id: &str) -> bool {
        self.index_of(id)
            .is_some_and(|i| self.children[i].len() > 1)
    }

    pub fn is_merge(&self, id: &str) -> bool {
        self.index_of(id).is_some_and(|i| self.parents[i].len() > 1)
    }

    /// Everything that must be applied before `id`: its ancestors through `down_revision` and
    /// `depends_on`, without `id` itself. This is the state `before(r)` of the dynamic trial.
    pub fn ancestors(&self, id: &str) -> Option<BTreeSet<&str>> {
        let start = self.index_of(id)?;
        // A flag per revision, not a set: this runs for every state a snapshot is looked up
        // for, in every test process.
        let mut seen = vec![false; self.revisions.len()];
        let prerequisites = |i: usize| self.parents[i].iter().chain(&self.deps[i]).copied();
        let mut stack: Vec<usize> = prerequisites(start).collect();
        let mut found = BTreeSet::new();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                if i != start {
                    found.insert(self.revisions[i].id.as_str());
                }
                stack.extend(prerequisites(i));
            }
        }
        Some(found)
    }

    /// The Alembic target that unapplies exactly `id` from the state `ancestors(id) + id`.
    /// Relative targets (`id-1`) are not used: they raise "Ambiguous walk" at a merge and walk
    /// other branches back to base. Alembic leaves the other parents of a merge applied when
    /// downgrading to one of them, and `id@base` removes only `id`'s own branch.
    pub fn downgrade_target(&self, id: &str) -> Option<String> {
        let rev = self.get(id)?;
        Some(match rev.down_revisions.first() {
            Some(parent) => parent.clone(),
            None => format!("{id}@base"),
        })
    }

    /// The heads of a set of revisions closed under ancestry: members no other member builds on.
    /// Upgrading to each of them reaches exactly that set.
    pub fn heads_of<'a>(&self, set: &BTreeSet<&'a str>) -> Vec<&'a str> {
        // By index: a trial asks this several times of a set as long as the chain.
        let members: HashSet<usize> = set.iter().filter_map(|id| self.index_of(id)).collect();
        set.iter()
            .copied()
            .filter(|id| {
                let Some(i) = self.index_of(id) else {
                    return false;
                };
                !self.children[i]
                    .iter()
                    .chain(&self.dependents[i])
                    .any(|c| members.contains(c))
            })
            .collect()
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }
}

/// Keeps, for each id, the revision Alembic uses: the last file it loads with that id (its
/// revision map is a dict filled in load order). The others are returned apart, each with a
/// problem naming the file that wins, so they are still linted and never silently passed.
fn drop_duplicates(
    revisions: Vec<Revision>,
    problems: &mut Vec<Problem>,
) -> (Vec<Revision>, Vec<Revision>) {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, rev) in revisions.iter().enumerate() {
        last.insert(rev.id.as_str(), i);
    }
    let winners: HashMap<String, (PathBuf, usize)> = last
        .values()
        .map(|&i| {
            let r = &revisions[i];
            (r.id.clone(), (r.path.clone(), r.line))
        })
        .collect();
    let keep: HashSet<usize> = last.into_values().collect();
    let (mut kept, mut shadowed) = (Vec::new(), Vec::new());
    for (i, rev) in revisions.into_iter().enumerate() {
        if keep.contains(&i) {
            kept.push(rev);
            continue;
        }
        let (path, line) = &winners[&rev.id];
        problems.push(
            Problem::new(
                ProblemKind::DuplicateId,
                &rev.path,
                format!(
                    "duplicate revision id '{}': also declared at {}:{line}, the file Alembic uses (the last it loads); this one is ignored by Alembic",
                    rev.id,
                    shown(path),
                ),
            )
            .at(rev.line, None)
            .of(rev.id.clone()),
        );
        shadowed.push(rev);
    }
    (kept, shadowed)
}

fn label_map(revisions: &[Revision], problems: &mut Vec<Problem>) -> HashMap<String, usize> {
    let mut map: HashMap<String, usize> = HashMap::new();
    for (i, rev) in revisions.iter().enumerate() {
        for label in &rev.branch_labels {
            if let Some(&other) = map.get(label) {
                problems.push(
                    Problem::new(
                        ProblemKind::DuplicateBranchLabel,
                        &rev.path,
                        format!(
                            "branch label '{label}' is already used by revision '{}'",
                            revisions[other].id
                        ),
                    )
                    .at(rev.line, None)
                    .of(rev.id.clone()),
                );
            } else {
                map.insert(label.clone(), i);
            }
        }
    }
    map
}

fn missing(rev: &Revision, target: &str, field: &str, salvaged: &[(String, PathBuf)]) -> Problem {
    let hint = salvaged
        .iter()
        .find(|(id, _)| id == target)
        .map(|(_, path)| {
            format!(
                " ({target} is declared in {}, which cannot be read)",
                shown(path)
            )
        })
        .unwrap_or_default();
    let kind = if field == "depends_on" {
        ProblemKind::MissingDependency
    } else {
        ProblemKind::MissingParent
    };
    Problem::new(
        kind,
        &rev.path,
        format!(
            "revision '{}': {field} '{target}' is not a known revision{hint}",
            rev.id
        ),
    )
    .at(rev.line, None)
    .of(rev.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(id: &str, down: &[&str]) -> Revision {
        Revision {
            id: id.into(),
            down_revisions: down.iter().map(|s| s.to_string()).collect(),
            branch_labels: vec![],
            depends_on: vec![],
            message: None,
            path: PathBuf::from(format!("{id}.py")),
            line: 1,
        }
    }

    fn ids<'a>(revs: impl IntoIterator<Item = &'a Revision>) -> Vec<&'a str> {
        revs.into_iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn branch_and_merge() {
        let g = RevisionGraph::build(
            vec![
                rev("m", &["b", "c"]),
                rev("a", &[]),
                rev("b", &["a"]),
                rev("c", &["a"]),
            ],
            &[],
        );
        assert!(g.problems().is_empty());
        assert_eq!(ids(g.heads()), ["m"]);
        assert_eq!(ids(g.bases()), ["a"]);
        assert!(g.is_branch_point("a"));
        assert!(g.is_merge("m"));
        let order = ids(g.ordered());
        assert_eq!(order.first(), Some(&"a"));
        assert_eq!(order.last(), Some(&"m"));
        assert_eq!(
            g.ancestors("m").unwrap().into_iter().collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(g.ancestors("a").unwrap().is_empty());
    }

    #[test]
    fn downgrade_targets_and_heads_of_a_state() {
        let g = RevisionGraph::build(
            vec![
                rev("m", &["b", "c"]),
                rev("a", &[]),
                rev("b", &["a"]),
                rev("c", &["a"]),
            ],
            &[],
        );
        assert_eq!(g.downgrade_target("a").as_deref(), Some("a@base"));
        assert_eq!(g.downgrade_target("b").as_deref(), Some("a"));
        assert_eq!(g.downgrade_target("m").as_deref(), Some("b"));
        let before_m = g.ancestors("m").unwrap();
        assert_eq!(g.heads_of(&before_m), ["b", "c"]);
        assert!(g.heads_of(&BTreeSet::new()).is_empty());
    }

    #[test]
    fn cycle_is_reported_not_hung() {
        let g = RevisionGraph::build(
            vec![
                rev("a", &["c"]),
                rev("b", &["a"]),
                rev("c", &["b"]),
                rev("d", &["c"]),
            ],
            &[],
        );
        let cycles: Vec<_> = g
            .problems()
            .iter()
            .filter(|p| p.kind == ProblemKind::Cycle)
            .collect();
        assert_eq!(cycles.len(), 1, "{:?}", g.problems());
        assert!(cycles[0].message.contains("a -> "), "{}", cycles[0].message);
        assert_eq!(g.ordered().count(), 0);
        assert_eq!(g.ancestors("d").unwrap().len(), 3);
    }

    #[test]
    fn self_loop_is_a_cycle() {
        let g = RevisionGraph::build(vec![rev("a", &["a"])], &[]);
        assert_eq!(g.problems()[0].kind, ProblemKind::Cycle);
    }

    #[test]
    fn missing_parent_names_broken_file() {
        let g = RevisionGraph::build(
            vec![rev("b", &["a"])],
            &[("a".into(), PathBuf::from("broken.py"))],
        );
        let p = &g.problems()[0];
        assert_eq!(p.kind, ProblemKind::MissingParent);
        assert!(p.message.contains("broken.py"), "{}", p.message);
    }

    #[test]
    fn duplicate_id_keeps_the_last_as_alembic_does() {
        let mut second = rev("a", &[]);
        second.path = PathBuf::from("a_second.py");
        let g = RevisionGraph::build(vec![rev("a", &[]), second, rev("b", &["a"])], &[]);
        assert_eq!(g.len(), 2);
        assert_eq!(g.get("a").unwrap().path, PathBuf::from("a_second.py"));
        let p = &g.problems()[0];
        assert_eq!(p.kind, ProblemKind::DuplicateId);
        assert_eq!(p.path, PathBuf::from("a.py"));
        assert!(p.message.contains("a_second.py:1"), "{}", p.message);
        assert_eq!(ids(g.shadowed()), ["a"]);
        assert_eq!(g.shadowed()[0].path, PathBuf::from("a.py"));
    }

    #[test]
    fn depends_on_resolves_labels_and_orders_but_keeps_heads() {
        let mut x = rev("x", &[]);
        x.branch_labels = vec!["other".into()];
        let mut b = rev("b", &["a"]);
        b.depends_on = vec!["other".into()];
        let g = RevisionGraph::build(vec![b, rev("a", &[]), x], &[]);
        assert!(g.problems().is_empty(), "{:?}", g.problems());
        let mut heads = ids(g.heads());
        heads.sort();
        assert_eq!(heads, ["b", "x"]);
        assert!(g.is_head("x") && g.is_head("b") && !g.is_head("a"));
        let order = ids(g.ordered());
        let pos = |id| order.iter().position(|o| *o == id).unwrap();
        assert!(pos("x") < pos("b") && pos("a") < pos("b"));
        assert_eq!(g.ancestors("b").unwrap().len(), 2);
    }
}
