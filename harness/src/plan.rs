//! What to test: one trial per revision per database, plus chain-level graph tests.

use crate::pool::Pool;
use crate::trial;
use crate::workers::Workers;
use crate::HarnessError;
use libtest_mimic::{Completion, Failed, Trial};
use mrt_db::Server;
use mrt_migrations::exec::{PythonChoice, WorkerSpec};
use mrt_migrations::{Project, Revision};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The static check behind `lint::<rev>`: error messages for a revision (empty = pass). Given by
/// the caller so `mrt test` applies the same config (dialect, severities, opt-in) as `mrt check`.
pub type LintFn = Arc<dyn Fn(&Revision, bool) -> Vec<String> + Send + Sync>;

/// Everything a run needs, already resolved from config and flags.
pub struct Settings {
    pub project: Project,
    pub python: PythonChoice,
    /// Environment variable env.py may read the database URL from.
    pub url_env: String,
    /// Databases: `sqlite` (the embedded default) or a server URL (`postgres://...`,
    /// `mysql://...`) on which mrt creates its own databases.
    pub databases: Vec<String>,
    pub seed: u64,
    pub rows: usize,
    /// Generated cases per trial: a passing trial is run again with new rows this many times.
    pub cases: u64,
    pub step_timeout: Duration,
    /// Revisions not to test, with the reason shown for each.
    pub skip: BTreeMap<String, String>,
    /// Test only this revision and its descendants.
    pub minimum_revision: Option<String>,
    /// Alembic's version table, left out of seeding and comparison.
    pub version_table: String,
    /// Rows for tables given by the user (`seeds` in config), replacing or extending generated ones.
    pub custom_seeds: BTreeMap<String, mrt_generators::CustomSeed>,
    /// `lint::<rev>` tests; none when `None`.
    pub lint: Option<LintFn>,
    /// Start a worker before the trials and say which Python, Alembic and seed the run uses;
    /// off when only listing tests.
    pub announce: bool,
}

/// Shared by every trial of a run.
pub struct Context {
    pub settings: Settings,
    pub workers: Workers,
    pub pools: Vec<Pool>,
    pub runtime: tokio::runtime::Runtime,
}

impl Context {
    /// Stops the workers and drops every database the run created.
    pub fn finish(&self) {
        self.workers.shutdown();
        for pool in &self.pools {
            self.runtime.block_on(pool.finish());
        }
    }
}

pub struct Planned {
    pub trials: Vec<Trial>,
    pub context: Arc<Context>,
}

pub fn plan(settings: Settings) -> Result<Planned, HarnessError> {
    let tested = tested_revisions(&settings)?;
    let spec = WorkerSpec {
        python: settings.python.clone(),
        project_root: settings.project.root.clone(),
        ini: settings.project.alembic.ini.clone(),
        pyproject: settings.project.alembic.pyproject.clone(),
        url_env: settings.url_env.clone(),
        version_table: settings.version_table.clone(),
    };
    let workers = Workers::new(spec, settings.step_timeout);
    let run_id = run_id();
    if settings.announce {
        let banner = workers.preflight()?;
        eprintln!(
            "mrt: {banner}; seed {} (MRT_SEED={} reproduces this run); run {run_id}",
            settings.seed, settings.seed
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HarnessError::Runtime)?;
    let mut pools = Vec::new();
    for (name, spec) in database_names(&settings.databases) {
        let server = if spec == "sqlite" {
            Server::sqlite(&run_id)?
        } else {
            runtime.block_on(Server::connect(&spec, &run_id))?
        };
        let server = Arc::new(server);
        crate::cleanup::register(Arc::clone(&server));
        pools.push(Pool::new(&name, server));
    }
    let context = Arc::new(Context {
        settings,
        workers,
        pools,
        runtime,
    });
    let mut trials = graph_trials(&context);
    for rev in &tested {
        if let Some(trial) = lint_trial(&context, rev) {
            trials.push(trial);
        }
    }
    for rev in &tested {
        for (index, pool) in context.pools.iter().enumerate() {
            trials.push(revision_trial(&context, rev, index, &pool.name));
        }
    }
    Ok(Planned { trials, context })
}

/// A run id unique enough for database names `mrt_<run>_<n>` on a shared server.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:05x}", std::process::id(), nanos & 0xfffff)
}

/// Test-name prefixes: the dialect (`sqlite`, `postgres`, `mysql`), numbered when repeated.
fn database_names(specs: &[String]) -> Vec<(String, String)> {
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    specs
        .iter()
        .map(|spec| {
            let lower = spec.to_ascii_lowercase();
            let base = if lower.starts_with("postgres") {
                "postgres"
            } else if lower.starts_with("mysql") || lower.starts_with("mariadb") {
                "mysql"
            } else {
                "sqlite"
            };
            let n = seen.entry(base).or_insert(0);
            *n += 1;
            let name = if *n == 1 {
                base.to_string()
            } else {
                format!("{base}{n}")
            };
            (name, spec.clone())
        })
        .collect()
}

/// Revisions in graph order, from `minimum_revision` on when set.
fn tested_revisions(settings: &Settings) -> Result<Vec<String>, HarnessError> {
    let graph = &settings.project.graph;
    let ordered = graph.ordered().map(|r| r.id.clone());
    let Some(min) = &settings.minimum_revision else {
        return Ok(ordered.collect());
    };
    let min_id = graph
        .get(min)
        .map(|r| r.id.clone())
        .ok_or_else(|| HarnessError::UnknownMinimum(min.clone()))?;
    Ok(ordered
        .filter(|id| {
            *id == min_id
                || graph
                    .ancestors(id)
                    .is_some_and(|a| a.contains(min_id.as_str()))
        })
        .collect())
}

fn revision_trial(context: &Arc<Context>, rev: &str, pool: usize, db: &str) -> Trial {
    let name = format!("{db}::{rev}");
    if let Some(reason) = context.settings.skip.get(rev) {
        let reason = reason.clone();
        return Trial::ignorable_test(name, move || {
            Ok(Completion::ignored_with(format!("skipped: {reason}")))
        });
    }
    let ctx = Arc::clone(context);
    let rev = rev.to_string();
    Trial::test(name, move || {
        trial::run(&ctx, &rev, pool).map_err(|v| Failed::from(v.to_string()))
    })
}

fn lint_trial(context: &Arc<Context>, rev: &str) -> Option<Trial> {
    context.settings.lint.as_ref()?;
    let name = format!("lint::{rev}");
    if let Some(reason) = context.settings.skip.get(rev) {
        let reason = reason.clone();
        return Some(Trial::ignorable_test(name, move || {
            Ok(Completion::ignored_with(format!("skipped: {reason}")))
        }));
    }
    let ctx = Arc::clone(context);
    let rev = rev.to_string();
    Some(Trial::test(name, move || {
        let graph = &ctx.settings.project.graph;
        let (Some(lint), Some(revision)) = (ctx.settings.lint.as_ref(), graph.get(&rev)) else {
            return Ok(());
        };
        let errors = lint(revision, graph.is_merge(&rev));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n").into())
        }
    }))
}

fn graph_trials(context: &Arc<Context>) -> Vec<Trial> {
    let ctx = Arc::clone(context);
    let well_formed = Trial::test("graph::well_formed", move || {
        let problems: Vec<String> = ctx
            .settings
            .project
            .problems()
            .map(|p| p.to_string())
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n").into())
        }
    });
    let ctx = Arc::clone(context);
    let single_head = Trial::test("graph::single_head", move || {
        let heads: BTreeSet<&str> = ctx
            .settings
            .project
            .graph
            .heads()
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        if heads.len() <= 1 {
            Ok(())
        } else {
            let list: Vec<&str> = heads.into_iter().collect();
            Err(format!(
                "{} heads: {} (add a merge revision: `alembic merge heads`)",
                list.len(),
                list.join(", ")
            )
            .into())
        }
    });
    vec![well_formed, single_head]
}
