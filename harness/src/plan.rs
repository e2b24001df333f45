//! What to test: one trial per revision per database, plus chain-level graph tests.

use crate::executors::Executors;
use crate::observe::Failing;
use crate::pool::Pool;
use crate::trial;
use crate::HarnessError;
use libtest_mimic::{Completion, Trial};
use mrt_db::Server;
use mrt_migrations::exec::PythonChoice;
use mrt_migrations::{Drift, Project, Revision, RunnerOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The static check behind `lint::<rev>`: error messages for a revision (empty = pass). Given by
/// the caller so `mrt test` applies the same config (dialect, severities, opt-in) as `mrt check`.
pub type LintFn = Arc<dyn Fn(&Project, &Revision) -> Vec<String> + Send + Sync>;

/// Everything a run needs, already resolved from config and flags.
pub struct Settings {
    pub project: Project,
    /// The interpreter, for frameworks whose steps run in Python.
    pub python: Option<PythonChoice>,
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
    /// Rows for tables given by the user (`seeds` in config), replacing or extending generated ones.
    pub custom_seeds: BTreeMap<String, mrt_generators::CustomSeed>,
    /// `lint::<rev>` tests; none when `None`.
    pub lint: Option<LintFn>,
    /// Start a worker before the trials and say which Python, Alembic and seed the run uses;
    /// off when only listing tests.
    pub announce: bool,
    /// Run `drift::<db>` (config `drift`, default on).
    pub drift: bool,
    /// Where snapshots of database states are kept; `None`: no snapshots (`--no-cache`).
    pub cache: Option<crate::snapshots::CacheSettings>,
    /// The command a failure's "reproduce" line starts with, up to the test name: what works
    /// where the user ran the tests (`mrt test --project x`, `cargo test --test migrations --`).
    pub reproduce: String,
    /// Told about each test as it runs (progress line, JUnit, JSON); see [`crate::observe`].
    pub observers: crate::observe::Observers,
}

/// Shared by every trial of a run.
pub struct Context {
    pub settings: Settings,
    pub executors: Executors,
    /// The framework's own tables, left out of seeding and comparison.
    pub bookkeeping: Vec<String>,
    pub pools: Vec<Pool>,
    pub runtime: tokio::runtime::Runtime,
    /// Names this run's databases (`mrt_<run>_<n>`); shown so `mrt clean --run` can find them.
    pub run_id: String,
    /// Runs the revision trials; unset when listing (the closures then run their trial).
    pub scheduler: std::sync::OnceLock<crate::schedule::Scheduler>,
    /// Where failures are written as they happen (see [`crate::results`]).
    pub results: Option<crate::results::Results>,
    /// The `drift::` tests: none (`None`), run (`Some(None)`), or ignored for this reason
    /// (libtest never runs an ignored test, so its observers get the reason from here).
    pub drift: Option<Option<String>>,
}

impl Context {
    /// Stops the workers and drops every database the run created.
    pub fn finish(&self) {
        self.executors.shutdown();
        for pool in &self.pools {
            self.runtime.block_on(pool.finish());
        }
    }
}

pub struct Planned {
    pub trials: Vec<Trial>,
    pub context: Arc<Context>,
    /// Per database, the revisions with a trial to run (not skipped), in graph order, with
    /// their test names (for libtest's filters).
    pub runnable: Vec<Vec<(String, String)>>,
}

/// `lanes`: how many trials run at once (libtest's thread count); see [`in_lanes`].
pub fn plan(settings: Settings, lanes: usize) -> Result<Planned, HarnessError> {
    let tested = tested_revisions(&settings)?;
    let context = context(settings)?;
    let mut trials = graph_trials(&context);
    for rev in &tested {
        if let Some(trial) = lint_trial(&context, rev) {
            trials.push(trial);
        }
    }
    let per_pool: Vec<Vec<Vec<Trial>>> = (context.pools.iter().enumerate())
        .map(|(index, pool)| {
            let trials = |rev: &String| revision_trials(&context, rev, index, &pool.name);
            tested.iter().map(trials).collect()
        })
        .collect();
    trials.extend(in_lanes(per_pool, lanes).into_iter().flatten());
    trials.extend(drift_trials(&context));
    let runnable = (context.pools.iter())
        .map(|pool| {
            (tested.iter())
                .filter(|rev| !context.settings.skip.contains_key(*rev))
                .map(|rev| (rev.clone(), scheduled_name(&context, &pool.name, rev)))
                .collect()
        })
        .collect();
    Ok(Planned {
        trials,
        context,
        runnable,
    })
}

/// The runtime, the runners and a pool per database, shared by the trials of a run (and by
/// `mrt bench`).
pub(crate) fn context(settings: Settings) -> Result<Arc<Context>, HarnessError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HarnessError::Runtime)?;
    let options = RunnerOptions {
        python: settings.python.clone(),
        url_env: settings.url_env.clone(),
        timeout: settings.step_timeout,
        runtime: Some(runtime.handle().clone()),
    };
    let project = &settings.project;
    let factory = (project.framework).runner(&project.root, &project.graph, &options)?;
    let bookkeeping = project.framework.bookkeeping_tables();
    let run_id = run_id();
    let mut pools = Vec::new();
    for (name, spec) in database_names(&settings.databases) {
        // Listing (`--list`, as nextest does before every run) names the tests without touching
        // a server: a SQLite folder stands in, and no trial ever runs on it.
        let server = if spec == "sqlite" || !settings.announce {
            Server::sqlite(&run_id)?
        } else {
            runtime.block_on(Server::connect(&spec, &run_id))?
        };
        let server = Arc::new(server);
        crate::cleanup::register(Arc::clone(&server));
        pools.push(Pool::new(&name, server));
    }
    let drift = match project.framework.drift() {
        Drift::NotApplicable => None,
        _ if !settings.drift => Some(Some("`drift = false` in config".to_string())),
        Drift::Unavailable(why) => Some(Some(why)),
        Drift::Available => Some(None),
    };
    let context = Arc::new(Context {
        drift,
        settings,
        executors: Executors::new(factory),
        bookkeeping,
        pools,
        runtime,
        results: crate::results::Results::open(&run_id),
        run_id,
        scheduler: std::sync::OnceLock::new(),
    });
    Ok(context)
}

/// What replaying one revision to reach a lane's start costs, in trials (a batched upgrade step
/// against a trial's three steps, schema reads and row work): about 1 ms against 20 ms, measured
/// on a 1,000-revision chain (0.2 left one core idle for the last quarter of the run).
pub const REPLAY_COST: f64 = 0.05;

/// A contiguous stretch of one database's chain, run in order by one thread.
pub struct Lane<T> {
    pub pool: usize,
    /// How many of the chain's trials come before this lane (what its first trial replays).
    pub start: usize,
    pub items: Vec<T>,
}

/// Cuts each database's chain into contiguous lanes, about one per thread, so a thread that
/// finishes trial r finds the database r left at `before(r+1)`, where consecutive revisions on
/// two threads would each need one more upgrade (four migration steps per trial instead of
/// three). A later lane's first trial replays the chain up to it, so that lane is shorter.
pub fn split_lanes<T>(per_pool: Vec<Vec<T>>, threads: usize) -> Vec<Lane<T>> {
    let lanes_per_pool = threads.div_ceil(per_pool.len().max(1)).max(1);
    let mut lanes = Vec::new();
    for (pool, trials) in per_pool.into_iter().enumerate() {
        let mut start = 0;
        let mut rest = trials.into_iter();
        for len in lane_lengths(rest.len(), lanes_per_pool) {
            let items: Vec<T> = rest.by_ref().take(len).collect();
            lanes.push(Lane { pool, start, items });
            start += len;
        }
    }
    lanes
}

/// The order trials are handed to libtest's threads, which only report what the scheduler
/// ([`crate::schedule`]) runs: by when each is expected to finish, so the report follows the
/// run. With one lane per database this is revision-major order, which `--list` shows.
fn in_lanes<T>(per_pool: Vec<Vec<T>>, threads: usize) -> Vec<T> {
    let mut queued: Vec<(f64, usize, T)> = Vec::new();
    for (lane_id, lane) in split_lanes(per_pool, threads).into_iter().enumerate() {
        let offset = lane.start as f64 * REPLAY_COST;
        for (i, trial) in lane.items.into_iter().enumerate() {
            queued.push((offset + i as f64, lane_id, trial));
        }
    }
    queued.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    queued.into_iter().map(|(_, _, trial)| trial).collect()
}

/// Lane lengths that end together: lane k starting at revision s runs `T - REPLAY_COST * s`
/// trials, with the common end T the smallest that covers all `n`.
fn lane_lengths(n: usize, lanes: usize) -> Vec<usize> {
    let lengths = |end: usize| {
        let mut out = Vec::new();
        let mut start = 0usize;
        for _ in 0..lanes {
            let len = (end as f64 - REPLAY_COST * start as f64).max(1.0) as usize;
            let len = len.min(n - start);
            if len == 0 {
                break;
            }
            out.push(len);
            start += len;
        }
        (start, out)
    };
    let end = (n.div_ceil(lanes.max(1))..=n)
        .find(|&end| lengths(end).0 >= n)
        .unwrap_or(n);
    lengths(end).1
}

/// A run id unique enough for database names `mrt_<run>_<n>` on a shared server. Under
/// nextest (one process per test) it starts with the nextest run's id, so `mrt clean --run`
/// with that prefix finds the databases of every process of one `cargo nextest run`.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let own = format!("{:x}{:05x}", std::process::id(), nanos & 0xfffff);
    match std::env::var("NEXTEST_RUN_ID")
        .ok()
        .as_deref()
        .map(nextest_prefix)
    {
        Some(prefix) if !prefix.is_empty() => format!("nx{prefix}_{own}"),
        _ => own,
    }
}

/// The first 8 hex digits of a nextest run id (a UUID).
fn nextest_prefix(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase()
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
pub(crate) fn tested_revisions(settings: &Settings) -> Result<Vec<String>, HarnessError> {
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

/// A test whose runs the run's observers see (every test of the run is made here).
fn test(
    context: &Arc<Context>,
    name: String,
    runner: impl FnOnce(&Context) -> Result<Completion, Failing> + Send + 'static,
) -> Trial {
    timed_test(context, name, move |ctx| (runner(ctx), None))
}

/// A test whose runner reports its own time (see [`crate::observe::watched`]).
fn timed_test(
    context: &Arc<Context>,
    name: String,
    runner: impl FnOnce(&Context) -> (Result<Completion, Failing>, Option<std::time::Duration>)
        + Send
        + 'static,
) -> Trial {
    let ctx = Arc::clone(context);
    let shown = name.clone();
    Trial::ignorable_test(name, move || {
        crate::observe::watched(&ctx.settings.observers, &shown, || runner(&ctx))
    })
}

/// A revision's test name on a database: `sqlite::<rev>`.
fn trial_name(db: &str, rev: &str) -> String {
    format!("{db}::{rev}")
}

/// A revision's trials on a database: `<db>::<rev>`; for one that cannot be downgraded by
/// design, that test is ignored with the reason and `<db>::<rev>::forward` runs instead.
fn revision_trials(context: &Arc<Context>, rev: &str, pool: usize, db: &str) -> Vec<Trial> {
    match context.settings.project.framework.forward_only(rev) {
        None => vec![revision_trial(context, rev, pool, trial_name(db, rev))],
        Some(why) => vec![
            test(context, trial_name(db, rev), move |_| {
                Ok(Completion::ignored_with(why.clone()))
            }),
            revision_trial(context, rev, pool, trial::forward_name(db, rev)),
        ],
    }
}

/// The name libtest's filters match a revision's scheduled trial by.
fn scheduled_name(context: &Context, db: &str, rev: &str) -> String {
    match context.settings.project.framework.forward_only(rev) {
        None => trial_name(db, rev),
        Some(_) => trial::forward_name(db, rev),
    }
}

fn revision_trial(context: &Arc<Context>, rev: &str, pool: usize, name: String) -> Trial {
    if let Some(reason) = context.settings.skip.get(rev) {
        let reason = reason.clone();
        return test(context, name, move |_| {
            Ok(Completion::ignored_with(format!("skipped: {reason}")))
        });
    }
    let rev = rev.to_string();
    timed_test(context, name, move |ctx| {
        let scheduled = ctx.scheduler.get().and_then(|s| s.wait(pool, &rev));
        let (outcome, took) = match scheduled {
            Some((outcome, took)) => (outcome, Some(took)),
            None => (trial::run(ctx, &rev, pool).map_err(Into::into), None),
        };
        (outcome.map(|()| Completion::Completed), took)
    })
}

fn lint_trial(context: &Arc<Context>, rev: &str) -> Option<Trial> {
    context.settings.lint.as_ref()?;
    let name = format!("lint::{rev}");
    if let Some(reason) = context.settings.skip.get(rev) {
        let reason = reason.clone();
        return Some(test(context, name, move |_| {
            Ok(Completion::ignored_with(format!("skipped: {reason}")))
        }));
    }
    let rev = rev.to_string();
    Some(test(context, name, move |ctx| {
        let graph = &ctx.settings.project.graph;
        let (Some(lint), Some(revision)) = (ctx.settings.lint.as_ref(), graph.get(&rev)) else {
            return Ok(Completion::Completed);
        };
        let errors = lint(&ctx.settings.project, revision);
        if errors.is_empty() {
            Ok(Completion::Completed)
        } else {
            Err(errors.join("\n").into())
        }
    }))
}

/// `drift::<db>`: after every migration, the database against the project's models. Ignored
/// (with a note saying why) when config turns it off or the project gives no models; none for a
/// framework that has no models at all.
fn drift_trials(context: &Arc<Context>) -> Vec<Trial> {
    let Some(why_not) = context.drift.clone() else {
        return Vec::new();
    };
    if let (Some(why), true) = (&why_not, context.settings.announce) {
        eprintln!("note: drift:: tests ignored: {why}");
    }
    (0..context.pools.len())
        .map(|index| {
            let name = format!("drift::{}", context.pools[index].name);
            test(context, name, move |ctx| {
                let drift = trial::drift(ctx, index);
                drift.map(|()| Completion::Completed).map_err(Failing::from)
            })
            .with_ignored_flag(why_not.is_some())
        })
        .collect()
}

fn graph_trials(context: &Arc<Context>) -> Vec<Trial> {
    let well_formed = test(context, "graph::well_formed".into(), move |ctx| {
        let problems: Vec<String> = ctx
            .settings
            .project
            .problems()
            .map(|p| p.to_string())
            .collect();
        if problems.is_empty() {
            Ok(Completion::Completed)
        } else {
            Err(problems.join("\n").into())
        }
    });
    let single_head = test(context, "graph::single_head".into(), move |ctx| {
        let framework = &ctx.settings.project.framework;
        let mut groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for head in ctx.settings.project.graph.heads() {
            let group = framework.head_group(&head.id);
            groups.entry(group).or_default().insert(head.id.as_str());
        }
        let conflicts: Vec<String> = groups
            .values()
            .filter(|heads| heads.len() > 1)
            .map(|heads| {
                let list: Vec<&str> = heads.iter().copied().collect();
                format!("{} heads: {}", list.len(), list.join(", "))
            })
            .collect();
        if conflicts.is_empty() {
            Ok(Completion::Completed)
        } else {
            Err(format!("{} ({})", conflicts.join("; "), framework.merge_hint()).into())
        }
    });
    vec![well_formed, single_head]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many non-empty lanes [`split_lanes`] cuts each database's trials into.
    fn lanes_per_pool(per_pool: &[Vec<String>], threads: usize) -> Vec<usize> {
        let mut counts = vec![0; per_pool.len()];
        for lane in split_lanes(per_pool.to_vec(), threads) {
            if !lane.items.is_empty() {
                counts[lane.pool] += 1;
            }
        }
        counts
    }

    #[test]
    fn one_database_per_lane_is_made_up_front() {
        let revs = |n: usize| (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>();
        assert_eq!(lanes_per_pool(&[revs(100)], 2), [2]);
        assert_eq!(lanes_per_pool(&[revs(100), revs(100)], 2), [1, 1]);
        assert_eq!(lanes_per_pool(&[revs(1), vec![]], 4), [1, 0]);
    }

    #[test]
    fn lanes_cover_the_chain_once_and_end_together() {
        for (n, k) in [
            (1, 2),
            (7, 2),
            (100, 2),
            (1000, 2),
            (1000, 3),
            (10, 16),
            (0, 2),
        ] {
            let lengths = lane_lengths(n, k);
            assert_eq!(lengths.iter().sum::<usize>(), n, "n={n} k={k}");
            assert!(lengths.len() <= k.max(1), "n={n} k={k}: {lengths:?}");
            assert!(lengths.iter().all(|&l| l > 0), "n={n} k={k}: {lengths:?}");
            // A later lane replays its start, so it is never longer than the one before.
            assert!(lengths.windows(2).all(|w| w[0] >= w[1]), "{lengths:?}");
        }
        let lengths = lane_lengths(1000, 2);
        let ends: Vec<f64> = [0.0, lengths[0] as f64 * REPLAY_COST]
            .iter()
            .zip(&lengths)
            .map(|(start, &len)| start + len as f64)
            .collect();
        assert!(
            (ends[0] - ends[1]).abs() <= 2.0,
            "{lengths:?} end at {ends:?}"
        );
    }

    #[test]
    fn one_lane_is_revision_major_order() {
        let trial = |name: &str| Trial::test(name.to_string(), || Ok(()));
        let per_pool = vec![
            vec![trial("sqlite::a"), trial("sqlite::b")],
            vec![trial("postgres::a"), trial("postgres::b")],
        ];
        let names: Vec<String> = in_lanes(per_pool, 1)
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        assert_eq!(
            names,
            ["sqlite::a", "postgres::a", "sqlite::b", "postgres::b"]
        );
    }

    #[test]
    fn two_threads_on_one_database_interleave_two_lanes() {
        let per_pool = vec![(0..10)
            .map(|i| Trial::test(format!("sqlite::r{i}"), || Ok(())))
            .collect()];
        let names: Vec<String> = in_lanes(per_pool, 2)
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        // Both lanes start at once; the second one's trials follow its replay of six revisions
        // (less than one trial's time), so the two lanes alternate.
        const { assert!(6.0 * REPLAY_COST < 1.0) };
        assert_eq!(
            names[..4],
            ["sqlite::r0", "sqlite::r6", "sqlite::r1", "sqlite::r7"]
        );
        assert_eq!(names.len(), 10);
        // Each lane keeps its own order, and every trial is queued exactly once.
        let position = |i: usize| names.iter().position(|n| *n == format!("sqlite::r{i}"));
        assert!((0..5).all(|i| position(i) < position(i + 1)), "{names:?}");
        assert!((6..9).all(|i| position(i) < position(i + 1)), "{names:?}");
        assert!((0..10).all(|i| position(i).is_some()), "{names:?}");
    }
}
