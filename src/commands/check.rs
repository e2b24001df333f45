//! `mrt check`: the static rules over every revision file, no database needed.
//!
//! config + flags -> [`Policy`] (dialect, severities, opt-in, select) and [`Selection`] (skip,
//! minimum revision, `--since`, `--since-git`) -> lint the selected files in parallel -> apply
//! the policy -> [`Report`] -> one of the formats in `crate::report`.

use crate::config::{self, Loaded};
use crate::project::{self, ProjectArgs};
use crate::report::{self, Checked, Format, Item, Report, Skipped};
use anyhow::{anyhow, bail, Context, Result};
use mrt_lint::{
    Dialect, FileContext, Finding, Severity, SqlDown as SqlDownSource, SqlFileContext, SqlSource,
};
use mrt_migrations::django::DjangoProject;
use mrt_migrations::sql::{SqlDown, SqlProject, SqlScript};
use mrt_migrations::{Framework, Project, Revision, RevisionGraph};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The project's folder inside its repository, put before paths in SARIF, GitHub, JSON and
    /// JUnit output (default: found from `.git`; the table format shows paths from the current
    /// directory).
    #[arg(long, value_name = "DIR")]
    pub path_prefix: Option<String>,
    /// Also write an HTML report (one self-contained page) to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Database engine: generic, sqlite, postgresql or mysql (default: config `dialect`, else
    /// the ini's sqlalchemy.url).
    #[arg(long, value_parser = parse_dialect)]
    pub dialect: Option<Dialect>,
    /// Warnings fail the run too (exit 2).
    #[arg(long)]
    pub strict: bool,
    /// Check only the revisions after REV (its descendants, not REV itself).
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Check only revisions whose files changed since git REF (committed, staged, unstaged or
    /// untracked).
    #[arg(long, value_name = "REF")]
    pub since_git: Option<String>,
    /// Report only these rules (codes or names, comma-separated); opt-in rules named here run.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Vec<String>,
    /// Also run these opt-in rules (codes or names, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub opt_in: Vec<String>,
    /// Check again whenever a migration file changes, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
}

pub fn parse_dialect(s: &str) -> Result<Dialect, String> {
    s.parse()
        .map_err(|e: mrt_lint::UnknownDialect| e.to_string())
}

pub fn run(args: &CheckArgs, verbose: bool) -> Result<u8> {
    if args.watch {
        return super::watch::run(args, verbose);
    }
    let loaded = config::load(args.project.dir())?;
    let policy = Policy::new(&loaded, args.dialect, &args.opt_in, &args.select)?;
    let project = project::open(&args.project)?;
    let selection = Selection::new(&project, &loaded, args)?;
    let dialect = policy.dialect_for(project.framework.configured_url());
    if verbose {
        let detected = mrt_migrations::escape(&project.framework.detected_by()).into_owned();
        eprintln!("note: read as {detected}; dialect {dialect}");
    }
    let report = check(&project, &policy, &selection, dialect, args.strict);
    let prefixes = report::paths::Prefixes::new(&project.root, args.path_prefix.as_deref());
    match report::print(&report, args.format, &prefixes) {
        // `mrt check | head`: the reader has all it wanted; the verdict stands.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write the report")?,
    }
    if let Some(out) = &args.report {
        let link = loaded.config.report.link.as_deref();
        crate::html::write_check(&report, &prefixes, link, out)?;
    }
    Ok(report.exit_code())
}

fn check(
    project: &Project,
    policy: &Policy,
    selection: &Selection,
    dialect: Dialect,
    strict: bool,
) -> Report {
    let graph = &project.graph;
    let (revisions, skipped) = select(project, selection);
    let mut findings = lint_all(project, &revisions, dialect, &policy.opt_in);
    // Django's leaves are per app; several in one app are a problem of the project (MRT901).
    if !matches!(project.framework, Framework::Django(_)) {
        findings.extend(mrt_lint::graph_findings(graph));
    }
    let problems: Vec<_> = project.problems().cloned().collect();
    findings.extend(
        mrt_lint::problem_findings(&problems)
            .into_iter()
            .filter(|f| {
                let files = std::slice::from_ref(&f.path);
                selection.verdict(f.revision.as_deref(), files) == Verdict::Check
            }),
    );
    let mut checked: Vec<Checked> = revisions
        .iter()
        .flat_map(|r| {
            (project.framework.files(r).into_iter()).map(|path| Checked {
                revision: Some(r.id.clone()),
                path: report::relative(&project.root, &path),
                message: r.message.clone(),
            })
        })
        .collect();
    let items = to_items(&project.root, policy.apply(findings));
    add_unparsed_files(&mut checked, &items);
    Report {
        items,
        checked,
        skipped,
        strict,
        overrides: policy.overrides.clone(),
    }
}

/// The revisions to lint and the ones skipped by config: in graph order, then those on a cycle
/// and those whose id a later file declares again (read, so checked, though not in the graph).
fn select(project: &Project, selection: &Selection) -> (Vec<Revision>, Vec<Skipped>) {
    let mut revisions = Vec::new();
    let mut skipped = Vec::new();
    let graph = &project.graph;
    let extra = project.framework.extra_revisions();
    for r in graph
        .ordered()
        .chain(graph.unordered())
        .chain(graph.shadowed())
        .chain(&extra)
    {
        let files = project.framework.files(r);
        match selection.verdict(Some(&r.id), &files) {
            Verdict::Check => revisions.push(r.clone()),
            Verdict::Skip(reason) => skipped.push(Skipped {
                revision: r.id.clone(),
                path: report::relative(&project.root, &r.path),
                reason: reason.to_string(),
            }),
            Verdict::Out => {}
        }
    }
    (revisions, skipped)
}

/// Files with an MRT902 are not revisions in the graph but were checked all the same.
fn add_unparsed_files(checked: &mut Vec<Checked>, items: &[Item]) {
    let known: HashSet<String> = checked.iter().map(|c| c.path.clone()).collect();
    let mut extra: Vec<Checked> = items
        .iter()
        .filter(|i| is_unread(i.finding.code) && !known.contains(&i.path))
        .map(|i| Checked {
            revision: i.finding.revision.clone(),
            path: i.path.clone(),
            message: None,
        })
        .collect();
    extra.dedup();
    checked.extend(extra);
}

fn to_items(root: &Path, findings: Vec<Finding>) -> Vec<Item> {
    let mut items: Vec<Item> = findings
        .into_iter()
        .map(|f| Item {
            path: report::relative(root, &f.path),
            finding: f,
        })
        .collect();
    items.sort_by(|a, b| {
        (&a.path, a.finding.line, a.finding.column, a.finding.code).cmp(&(
            &b.path,
            b.finding.line,
            b.finding.column,
            b.finding.code,
        ))
    });
    items
}

/// Lints the revision files in parallel.
fn lint_all(
    project: &Project,
    revisions: &[Revision],
    dialect: Dialect,
    opt_in: &[&str],
) -> Vec<Finding> {
    if let Framework::Django(django) = &project.framework {
        // Each file is judged against its history: the project is linted as a whole.
        let selected: HashSet<&str> = revisions.iter().map(|r| r.id.as_str()).collect();
        let mut findings = lint_django(django, dialect, opt_in);
        findings.retain(|f| f.revision.as_deref().is_some_and(|r| selected.contains(r)));
        return findings;
    }
    revisions
        .par_iter()
        .flat_map_iter(|r| lint_project_revision(project, r, dialect, opt_in))
        .collect()
}

/// Every finding of a Django project: its migrations in graph order (dependencies first), then
/// the files outside the graph (replaced by a squash, an app label used twice), each judged
/// against the model state its own history leaves.
pub fn lint_django(django: &DjangoProject, dialect: Dialect, opt_in: &[&str]) -> Vec<Finding> {
    let files: Vec<(&mrt_migrations::django::DjangoMigration, String)> = (django.migrations.iter())
        .chain(&django.replaced)
        .chain(&django.shadowed)
        .filter_map(|m| read_source(&m.path).map(|source| (m, source)))
        .collect();
    let migrations: Vec<mrt_lint::DjangoMigration> = files
        .iter()
        .map(|(m, source)| mrt_lint::DjangoMigration {
            id: &m.id,
            app: &m.app,
            path: &m.path,
            source,
            dependencies: &m.dependencies,
            squashed: !m.replaces.is_empty(),
        })
        .collect();
    mrt_lint::lint_django_migrations(&migrations, dialect, opt_in)
}

/// Lints one revision of a project with its framework's frontend.
pub fn lint_project_revision(
    project: &Project,
    revision: &Revision,
    dialect: Dialect,
    opt_in: &[&str],
) -> Vec<Finding> {
    match &project.framework {
        Framework::Sql(sql) => lint_sql_migration(sql, &revision.id, dialect, opt_in),
        Framework::Django(django) => {
            let mut findings = lint_django(django, dialect, opt_in);
            findings.retain(|f| f.revision.as_deref() == Some(revision.id.as_str()));
            findings
        }
        Framework::Alembic { .. } => lint_revision(
            &revision.path,
            Some(&revision.id),
            project.graph.is_merge(&revision.id),
            dialect,
            opt_in,
        ),
    }
}

/// Lints one SQL-file migration (its up and down scripts) by id.
fn lint_sql_migration(
    sql: &SqlProject,
    id: &str,
    dialect: Dialect,
    opt_in: &[&str],
) -> Vec<Finding> {
    let Some(m) = sql
        .get(id)
        .or_else(|| sql.shadowed.iter().find(|m| m.id == id))
    else {
        return Vec::new();
    };
    let source = |s| sql_source(sql, s, dialect);
    let down = match &m.down {
        SqlDown::Script(script) => SqlDownSource::Present(source(script)),
        SqlDown::Missing => SqlDownSource::Missing,
        SqlDown::ForwardOnly => SqlDownSource::ForwardOnly,
    };
    mrt_lint::lint_sql_migration(&SqlFileContext {
        revision: Some(id),
        up: source(&m.up),
        down,
        dialect,
        opt_in_rules: opt_in,
    })
}

/// A script as the lint frontend reads it: whether the tool wraps it in a transaction on this
/// engine (unknown engine: as the file declares it).
fn sql_source<'s>(sql: &SqlProject, script: &'s SqlScript, dialect: Dialect) -> SqlSource<'s> {
    let engine = match dialect {
        Dialect::Sqlite => Some(mrt_db::Dialect::Sqlite),
        Dialect::Postgresql => Some(mrt_db::Dialect::Postgres),
        Dialect::Mysql => Some(mrt_db::Dialect::Mysql),
        Dialect::Generic => None,
    };
    SqlSource {
        path: &script.path,
        text: &script.text,
        first_line: script.first_line,
        transactional: engine.map_or(script.transactional, |e| {
            sql.tool.runs_in_transaction(e, script)
        }),
    }
}

/// Lints one file; one that cannot be read yields nothing here (it is an MRT902 problem).
pub fn lint_revision(
    path: &Path,
    revision: Option<&str>,
    is_merge: bool,
    dialect: Dialect,
    opt_in: &[&str],
) -> Vec<Finding> {
    let Some(source) = read_source(path) else {
        return Vec::new();
    };
    mrt_lint::lint_file(&FileContext {
        path,
        source: &source,
        revision,
        is_merge,
        dialect,
        opt_in_rules: opt_in,
    })
}

/// UTF-8, else Latin-1 (which Python accepts with a coding cookie, as `mrt-migrations` does).
pub fn read_source(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    })
}

/// What the config and flags say about rules: dialect, severities, opt-in, selection.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--dialect`, else config `dialect`; `None` falls back to the ini's URL.
    pub dialect: Option<Dialect>,
    /// By code; `None` is "off".
    pub overrides: HashMap<&'static str, Option<Severity>>,
    /// Codes of the opt-in rules to run.
    pub opt_in: Vec<&'static str>,
    /// `--select`: only these codes are reported.
    pub select: Option<HashSet<&'static str>>,
}

impl Policy {
    pub fn new(
        loaded: &Loaded,
        dialect_flag: Option<Dialect>,
        opt_in_flag: &[String],
        select_flag: &[String],
    ) -> Result<Self> {
        let config = &loaded.config;
        let origin = origin(loaded);
        let dialect = match (dialect_flag, &config.dialect) {
            (Some(d), _) => Some(d),
            (None, Some(s)) => Some(s.parse().map_err(|e| anyhow!("{origin}: dialect: {e}"))?),
            (None, None) => None,
        };
        let mut opt_in = codes(&config.opt_in).map_err(|e| anyhow!("{origin}: opt_in: {e}"))?;
        opt_in.extend(codes(opt_in_flag).map_err(|e| anyhow!("--opt-in: {e}"))?);
        let select = if select_flag.is_empty() {
            None
        } else {
            let codes = codes(select_flag).map_err(|e| anyhow!("--select: {e}"))?;
            opt_in.extend(codes.iter().copied());
            Some(codes.into_iter().collect())
        };
        let overrides =
            overrides(&config.severity).map_err(|e| anyhow!("{origin}: severity: {e}"))?;
        Ok(Policy {
            dialect,
            overrides,
            opt_in,
            select,
        })
    }

    /// `--dialect` > config `dialect` > the ini's `sqlalchemy.url` > generic.
    pub fn dialect_for(&self, url: Option<&str>) -> Dialect {
        self.dialect
            .or_else(|| url.and_then(mrt_lint::dialect_from_url))
            .unwrap_or_default()
    }

    /// Applies severity overrides (dropping rules turned off) and `--select`. A finding that is
    /// dropped gives way to the findings it absorbed, which go through the same policy: turning
    /// MRT208 off (or selecting only MRT201) must not hide the MRT201 that MRT208 stood for.
    pub fn apply(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings.into_iter().flat_map(|f| self.resolve(f)).collect()
    }

    fn resolve(&self, mut f: Finding) -> Vec<Finding> {
        match self.level(f.code, f.severity) {
            Some(level) => {
                f.severity = level;
                vec![f]
            }
            None => std::mem::take(&mut f.also)
                .into_iter()
                .flat_map(|a| self.resolve(a))
                .collect(),
        }
    }

    /// The severity a finding of `code` is reported at; `None` when off or not selected. What
    /// mrt could not read (MRT902, MRT903) is reported whatever `--select` says.
    fn level(&self, code: &str, default: Severity) -> Option<Severity> {
        let selected = |s: &HashSet<&str>| s.contains(code) || is_unread(code);
        if self.select.as_ref().is_some_and(|s| !selected(s)) {
            return None;
        }
        match self.overrides.get(code) {
            Some(level) => *level,
            None => Some(default),
        }
    }
}

/// Findings about files or a graph mrt could not read: the check fails on them, never passes.
fn is_unread(code: &str) -> bool {
    matches!(code, "MRT902" | "MRT903")
}

fn origin(loaded: &Loaded) -> String {
    loaded
        .source
        .as_deref()
        .map_or_else(|| "config".to_string(), |p| p.display().to_string())
}

/// Rule codes for codes or names; an unknown one is an error that names it.
fn codes(names: &[String]) -> Result<Vec<&'static str>> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| rule_code(n))
        .collect()
}

fn rule_code(name: &str) -> Result<&'static str> {
    mrt_lint::find_rule(name)
        .map(|r| r.code)
        .ok_or_else(|| anyhow!("unknown rule `{}`; `mrt rules` lists them", name.trim()))
}

fn overrides(table: &BTreeMap<String, String>) -> Result<HashMap<&'static str, Option<Severity>>> {
    let mut out = HashMap::new();
    for (key, value) in table {
        let code = rule_code(key)?;
        let level = match value.trim().to_ascii_lowercase().as_str() {
            "off" => None,
            other => Some(other.parse::<Severity>().map_err(|_| {
                anyhow!(
                    "{key} = \"{value}\": unknown severity (expected error, warning, info or off)"
                )
            })?),
        };
        out.insert(code, level);
    }
    Ok(out)
}

/// Which revisions are checked: config `skip`, `minimum_revision`, `--since`, `--since-git`.
#[derive(Debug, Default)]
pub struct Selection {
    /// Revision id -> reason.
    skip: BTreeMap<String, String>,
    /// From `minimum_revision` and `--since`: the ids in range (both must hold).
    in_range: Option<HashSet<String>>,
    /// From `--since-git`: canonical paths of changed files.
    changed: Option<HashSet<PathBuf>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict<'a> {
    Check,
    Skip(&'a str),
    Out,
}

impl Selection {
    fn new(project: &Project, loaded: &Loaded, args: &CheckArgs) -> Result<Self> {
        let graph = &project.graph;
        let origin = origin(loaded);
        let config = &loaded.config;
        let mut skip = BTreeMap::new();
        for (rev, reason) in &config.skip {
            let id = resolve(graph, rev)
                .ok_or_else(|| anyhow!("{origin}: skip: unknown revision `{rev}`"))?;
            skip.insert(id.to_string(), reason.clone());
        }
        let mut in_range: Option<HashSet<String>> = None;
        if let Some(min) = &config.minimum_revision {
            let id = resolve(graph, min)
                .ok_or_else(|| anyhow!("{origin}: minimum_revision: unknown revision `{min}`"))?;
            in_range = Some(descendants(graph, id, true));
        }
        if let Some(since) = &args.since {
            let id = resolve(graph, since)
                .ok_or_else(|| anyhow!("--since: unknown revision `{since}`"))?;
            let after = descendants(graph, id, false);
            in_range = Some(match in_range {
                Some(range) => range.intersection(&after).cloned().collect(),
                None => after,
            });
        }
        let changed = match &args.since_git {
            Some(git_ref) => Some(git_changed(
                &project.root,
                git_ref,
                &project.framework.migration_dirs(),
            )?),
            None => None,
        };
        Ok(Selection {
            skip,
            in_range,
            changed,
        })
    }

    /// Whether a revision (whose files are `paths`) is checked, skipped or out of range.
    fn verdict(&self, revision: Option<&str>, paths: &[PathBuf]) -> Verdict<'_> {
        if let Some(id) = revision {
            if let Some(range) = &self.in_range {
                if !range.contains(id) {
                    return Verdict::Out;
                }
            }
        }
        if let Some(changed) = &self.changed {
            let canonical = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            if !paths.iter().any(|p| changed.contains(&canonical(p))) {
                return Verdict::Out;
            }
        }
        match revision.and_then(|id| self.skip.get(id)) {
            Some(reason) => Verdict::Skip(reason),
            None => Verdict::Check,
        }
    }
}

/// A revision id (or branch label) as the graph knows it.
fn resolve<'g>(graph: &'g RevisionGraph, ident: &str) -> Option<&'g str> {
    graph.get(ident.trim()).map(|r| r.id.as_str())
}

/// The revisions that have `start` among their ancestors (through `down_revision` and
/// `depends_on`), plus `start` itself when `include_start`. One pass in graph order.
pub fn descendants(graph: &RevisionGraph, start: &str, include_start: bool) -> HashSet<String> {
    let mut set: HashSet<String> = HashSet::from([start.to_string()]);
    for r in graph.ordered() {
        let parent_in = r
            .down_revisions
            .iter()
            .chain(&r.depends_on)
            .filter_map(|p| graph.get(p))
            .any(|p| set.contains(&p.id));
        if parent_in {
            set.insert(r.id.clone());
        }
    }
    if !include_start {
        set.remove(start);
    }
    set
}

/// Files under the version locations that differ from git `git_ref`: committed since, staged,
/// unstaged, and untracked (not ignored). Canonical paths.
fn git_changed(root: &Path, git_ref: &str, dirs: &[PathBuf]) -> Result<HashSet<PathBuf>> {
    if git_ref.starts_with('-') {
        bail!("--since-git: `{git_ref}` is not a git revision");
    }
    let top = PathBuf::from(git(root, &["rev-parse", "--show-toplevel"])?.trim());
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{git_ref}^{{commit}}"),
        ],
    )
    .with_context(|| format!("--since-git: unknown git revision `{git_ref}`"))?;
    let pathspecs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let mut diff = vec!["diff", "--name-only", "--no-renames", git_ref, "--"];
    diff.extend(pathspecs.iter().map(String::as_str));
    let mut untracked = vec![
        "ls-files",
        "--others",
        "--exclude-standard",
        "--full-name",
        "--",
    ];
    untracked.extend(pathspecs.iter().map(String::as_str));
    let listed = git(root, &diff)? + &git(root, &untracked)?;
    Ok(listed
        .lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| std::fs::canonicalize(top.join(l)).ok())
        .collect())
}

/// Runs git in `dir`; a failure is an error carrying git's own message.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .context("--since-git: cannot run git (is it installed?)")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!("git {}: {}", args.join(" "), stderr.trim());
    }
    String::from_utf8(out.stdout).context("git printed a path that is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn loaded(config: Config) -> Loaded {
        Loaded {
            config,
            source: Some(PathBuf::from("mrt.toml")),
        }
    }

    fn finding(code: &'static str, severity: Severity) -> Finding {
        Finding {
            revision: None,
            path: PathBuf::from("a.py"),
            line: 1,
            column: 1,
            code,
            severity,
            message: String::new(),
            also: Vec::new(),
        }
    }

    /// MRT208 that absorbed an MRT201 on the same statement, as lint reports it.
    fn merged_208() -> Finding {
        let mut f = finding("MRT208", Severity::Error);
        f.message = "narrowed (also MRT201: ...)".into();
        let mut absorbed = finding("MRT201", Severity::Error);
        absorbed.message = "drops column".into();
        f.also.push(absorbed);
        f
    }

    #[test]
    fn absorbed_finding_stands_in_when_its_absorber_is_off_or_not_selected() {
        let none = Policy::new(&loaded(Config::default()), None, &[], &[]).unwrap();
        let out = none.apply(vec![merged_208()]);
        assert_eq!(out.iter().map(|f| f.code).collect::<Vec<_>>(), ["MRT208"]);

        let mut config = Config::default();
        config.severity.insert("MRT208".into(), "off".into());
        let off = Policy::new(&loaded(config.clone()), None, &[], &[]).unwrap();
        let out = off.apply(vec![merged_208()]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            (out[0].code, out[0].message.as_str()),
            ("MRT201", "drops column")
        );

        config.severity.insert("MRT201".into(), "warning".into());
        let out = Policy::new(&loaded(config.clone()), None, &[], &[])
            .unwrap()
            .apply(vec![merged_208()]);
        assert_eq!(
            (out[0].code, out[0].severity),
            ("MRT201", Severity::Warning)
        );

        config.severity.insert("MRT201".into(), "off".into());
        let both_off = Policy::new(&loaded(config), None, &[], &[]).unwrap();
        assert!(both_off.apply(vec![merged_208()]).is_empty());

        let select =
            Policy::new(&loaded(Config::default()), None, &[], &["MRT201".into()]).unwrap();
        let out = select.apply(vec![merged_208()]);
        assert_eq!(out.iter().map(|f| f.code).collect::<Vec<_>>(), ["MRT201"]);
        let both = Policy::new(
            &loaded(Config::default()),
            None,
            &[],
            &["MRT201".into(), "MRT208".into()],
        )
        .unwrap();
        let out = both.apply(vec![merged_208()]);
        assert_eq!(out.iter().map(|f| f.code).collect::<Vec<_>>(), ["MRT208"]);
    }

    #[test]
    fn severity_overrides_by_code_name_and_off() {
        let mut config = Config::default();
        config.severity.insert("MRT201".into(), "warning".into());
        config.severity.insert("drop-table".into(), "info".into());
        config.severity.insert("mrt203".into(), "off".into());
        let policy = Policy::new(&loaded(config), None, &[], &[]).unwrap();
        let out = policy.apply(vec![
            finding("MRT201", Severity::Error),
            finding("MRT202", Severity::Error),
            finding("MRT203", Severity::Error),
            finding("MRT101", Severity::Error),
        ]);
        let got: Vec<(&str, Severity)> = out.iter().map(|f| (f.code, f.severity)).collect();
        assert_eq!(
            got,
            vec![
                ("MRT201", Severity::Warning),
                ("MRT202", Severity::Info),
                ("MRT101", Severity::Error)
            ]
        );
    }

    #[test]
    fn unknown_rule_or_severity_is_named() {
        let mut config = Config::default();
        config.severity.insert("MRT999".into(), "warning".into());
        let err = Policy::new(&loaded(config), None, &[], &[]).unwrap_err();
        assert!(err.to_string().contains("MRT999"), "{err}");
        let mut config = Config::default();
        config.severity.insert("MRT201".into(), "loud".into());
        let err = Policy::new(&loaded(config), None, &[], &[]).unwrap_err();
        assert!(err.to_string().contains("loud"), "{err}");
        let err = Policy::new(&loaded(Config::default()), None, &["nope".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }

    #[test]
    fn dialect_precedence() {
        let config = Config {
            dialect: Some("mysql".into()),
            ..Config::default()
        };
        let pg = Some("postgresql://u@h/db");
        let flag = Policy::new(&loaded(config.clone()), Some(Dialect::Sqlite), &[], &[]).unwrap();
        assert_eq!(flag.dialect_for(pg), Dialect::Sqlite);
        let from_config = Policy::new(&loaded(config), None, &[], &[]).unwrap();
        assert_eq!(from_config.dialect_for(pg), Dialect::Mysql);
        let none = Policy::new(&loaded(Config::default()), None, &[], &[]).unwrap();
        assert_eq!(none.dialect_for(pg), Dialect::Postgresql);
        assert_eq!(none.dialect_for(Some("driver://x")), Dialect::Generic);
        assert_eq!(none.dialect_for(None), Dialect::Generic);
    }

    #[test]
    fn select_filters_and_enables_opt_in() {
        let policy = Policy::new(
            &loaded(Config::default()),
            None,
            &[],
            &["deploy-drop-column".into()],
        )
        .unwrap();
        assert_eq!(policy.opt_in, vec!["MRT701"]);
        let out = policy.apply(vec![
            finding("MRT201", Severity::Error),
            finding("MRT701", Severity::Error),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].code, "MRT701");
    }
}
