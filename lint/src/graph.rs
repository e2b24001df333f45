//! Findings about the project rather than one file: several heads (MRT901) and files that do not
//! parse (MRT902). They come from `mrt-migrations`, which reads the files without running them.

use crate::{Finding, Severity};
use mrt_migrations::{Problem, ProblemKind, Revision, RevisionGraph};
use std::collections::HashSet;
use std::path::PathBuf;

/// What makes two heads the same finding: their file, canonical when it exists.
fn head_key(r: &Revision) -> PathBuf {
    std::fs::canonicalize(&r.path).unwrap_or_else(|_| r.path.clone())
}

/// MRT901: one finding on each head's file, each naming every head, so the user sees the
/// problem whichever file they open. A file is reported once even when the graph lists it
/// as a head twice (the same revision id declared twice, a file reached by two paths).
pub fn graph_findings(graph: &RevisionGraph) -> Vec<Finding> {
    let heads = graph.heads();
    let mut names: Vec<&str> = Vec::new();
    for head in &heads {
        if !names.contains(&head.id.as_str()) {
            names.push(head.id.as_str());
        }
    }
    if names.len() < 2 {
        return Vec::new();
    }
    let message = format!(
        "{} heads: {}; create a merge revision (`alembic merge {}`)",
        names.len(),
        names.join(", "),
        names.join(" ")
    );
    let mut files = HashSet::new();
    heads
        .iter()
        .filter(|head| files.insert(head_key(head)))
        .map(|head| Finding {
            revision: Some(head.id.clone()),
            path: head.path.clone(),
            line: head.line.max(1),
            column: 1,
            code: "MRT901",
            severity: Severity::Error,
            message: message.clone(),
            also: Vec::new(),
        })
        .collect()
}

/// A finding for every problem reading the project, so a check never passes over what it could
/// not read: MRT902 for a file that does not parse or cannot be read, MRT903 for a broken graph.
pub fn problem_findings(problems: &[Problem]) -> Vec<Finding> {
    problems
        .iter()
        .map(|p| Finding {
            revision: p.revision.clone(),
            path: p.path.clone(),
            line: p.line.unwrap_or(1).max(1),
            column: p.column.unwrap_or(1).max(1),
            code: problem_code(&p.kind),
            severity: Severity::Error,
            message: p.message.clone(),
            also: Vec::new(),
        })
        .collect()
}

fn problem_code(kind: &ProblemKind) -> &'static str {
    use ProblemKind::*;
    match kind {
        // A file mrt cannot read as a migration of its tool.
        Syntax | NotUtf8 | Unreadable | NotLiteral | MissingUp | BadVersion | Malformed
        | EmptyScript => "MRT902",
        // An up script whose tool expects a down beside it: the migration cannot be undone.
        MissingDown => "MRT101",
        // The chain as a whole is wrong.
        DuplicateId | MissingParent | MissingDependency | DuplicateBranchLabel | Cycle
        | DuplicateVersion | VersionGap | BadSquash => "MRT903",
        // Several leaves in one Django app: its several heads.
        ConflictingLeaves => "MRT901",
    }
}
