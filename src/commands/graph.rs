//! `mrt graph`: the revision graph as text or JSON.

use crate::exit;
use crate::project::{self, display_path, ProjectArgs};
use anyhow::Result;
use mrt_migrations::{escape, Problem, Project, Revision};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: &ProjectArgs, format: Format, verbose: bool) -> Result<u8> {
    let project = project::open(args)?;
    if verbose {
        eprintln!("note: read as {}", escape(&project.framework.detected_by()));
        for (path, why) in &project.ignored {
            eprintln!(
                "note: {} is not a revision: {}",
                escape(&display_path(&project.root, path)),
                escape(why)
            );
        }
    }
    let view = GraphView::of(&project);
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?,
        Format::Text => write_text(&mut out, &view)?,
    }
    for problem in project.problems() {
        eprintln!("error: {problem}");
    }
    Ok(if view.problems.is_empty() {
        exit::OK
    } else {
        exit::ERRORS
    })
}

#[derive(Serialize)]
struct GraphView {
    kind: &'static str,
    script_location: String,
    version_locations: Vec<String>,
    revisions: Vec<RevisionView>,
    bases: Vec<String>,
    heads: Vec<String>,
    problems: Vec<ProblemView>,
}

#[derive(Serialize)]
struct RevisionView {
    id: String,
    message: Option<String>,
    down_revisions: Vec<String>,
    branch_labels: Vec<String>,
    depends_on: Vec<String>,
    path: String,
    line: usize,
    base: bool,
    head: bool,
    branch_point: bool,
    merge: bool,
}

#[derive(Serialize)]
struct ProblemView {
    kind: mrt_migrations::ProblemKind,
    path: String,
    line: Option<usize>,
    column: Option<usize>,
    revision: Option<String>,
    message: String,
}

impl GraphView {
    fn of(project: &Project) -> Self {
        let root = &project.root;
        let graph = &project.graph;
        let ids = |revs: Vec<&Revision>| revs.into_iter().map(|r| r.id.clone()).collect();
        GraphView {
            kind: project.framework.name(),
            script_location: display_path(root, project.framework.home()),
            version_locations: (project.framework.migration_dirs())
                .iter()
                .map(|p| display_path(root, p))
                .collect(),
            revisions: graph.ordered().map(|r| revision_view(project, r)).collect(),
            bases: ids(graph.bases()),
            heads: ids(graph.heads()),
            problems: project
                .problems()
                .map(|p| problem_view(project, p))
                .collect(),
        }
    }
}

fn revision_view(project: &Project, r: &Revision) -> RevisionView {
    let g = &project.graph;
    RevisionView {
        id: r.id.clone(),
        message: r.message.clone(),
        down_revisions: r.down_revisions.clone(),
        branch_labels: r.branch_labels.clone(),
        depends_on: r.depends_on.clone(),
        path: display_path(&project.root, &r.path),
        line: r.line,
        base: r.down_revisions.is_empty(),
        head: g.is_head(&r.id),
        branch_point: g.is_branch_point(&r.id),
        merge: g.is_merge(&r.id),
    }
}

fn problem_view(project: &Project, p: &Problem) -> ProblemView {
    ProblemView {
        kind: p.kind.clone(),
        path: display_path(&project.root, &p.path),
        line: p.line,
        column: p.column,
        revision: p.revision.clone(),
        message: p.message.clone(),
    }
}

/// One line per revision, parents first:
/// `<id>  <- <parents>  [base, head, branchpoint, merge, label: x, depends on: y]  <message>`.
fn write_text(out: &mut impl Write, view: &GraphView) -> std::io::Result<()> {
    let ids: Vec<String> = view
        .revisions
        .iter()
        .map(|r| escape(&r.id).into_owned())
        .collect();
    let id_width = ids.iter().map(String::len).max().unwrap_or(0);
    let parents: Vec<String> = view.revisions.iter().map(parents_text).collect();
    let parent_width = parents.iter().map(String::len).max().unwrap_or(0);
    let flags: Vec<String> = view.revisions.iter().map(flags_text).collect();
    let flag_width = flags.iter().map(String::len).max().unwrap_or(0);
    for (((r, id), parents), flags) in view.revisions.iter().zip(&ids).zip(&parents).zip(&flags) {
        let message = escape(r.message.as_deref().unwrap_or(""));
        let line =
            format!("{id:id_width$}  {parents:parent_width$}  {flags:flag_width$}  {message}");
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(
        out,
        "\n{} revision{}; base{}: {}; head{}: {}",
        view.revisions.len(),
        if view.revisions.len() == 1 { "" } else { "s" },
        if view.bases.len() == 1 { "" } else { "s" },
        escape(&list_or_none(&view.bases)),
        if view.heads.len() == 1 { "" } else { "s" },
        escape(&list_or_none(&view.heads)),
    )
}

fn parents_text(r: &RevisionView) -> String {
    if r.down_revisions.is_empty() {
        String::new()
    } else {
        escape(&format!("<- {}", r.down_revisions.join(", "))).into_owned()
    }
}

fn flags_text(r: &RevisionView) -> String {
    let mut flags: Vec<String> = Vec::new();
    for (on, name) in [
        (r.base, "base"),
        (r.merge, "merge"),
        (r.branch_point, "branchpoint"),
        (r.head, "head"),
    ] {
        if on {
            flags.push(name.to_string());
        }
    }
    flags.extend(r.branch_labels.iter().map(|l| format!("label: {l}")));
    flags.extend(r.depends_on.iter().map(|d| format!("depends on: {d}")));
    if flags.is_empty() {
        String::new()
    } else {
        escape(&format!("[{}]", flags.join(", "))).into_owned()
    }
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}
