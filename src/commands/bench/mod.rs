//! `mrt bench`: how long each revision's upgrade and downgrade take, and what they block, as
//! the tables they touch grow. The measuring is `mrt_harness::bench`; here are the flags, the
//! outputs (table, JSON, CSV, plot), baselines and the CI gates.

mod baseline;
mod output;
mod plot;

use crate::commands::test::{self, TestArgs};
use crate::config::{self, BenchConfig};
use crate::exit;
use anyhow::{bail, Context, Result};
use mrt_harness::bench::{BenchOptions, BenchRun, Event};
use std::path::PathBuf;
use std::time::Duration;

/// Table sizes measured unless `--rows` or `[bench] rows` say otherwise.
const DEFAULT_ROWS: [usize; 3] = [0, 10_000, 100_000];
const DEFAULT_REPEAT: usize = 3;
const DEFAULT_NOISE_PERCENT: f64 = 20.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Only revisions whose id contains this.
    pub filter: Option<String>,
    /// Project directory (holding alembic.ini, mrt.toml, pyproject.toml, manage.py or SQL files).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project: PathBuf,
    /// The alembic.ini to use (overrides `alembic_config`).
    #[arg(long, short = 'c', value_name = "ALEMBIC_INI")]
    pub config: Option<PathBuf>,
    /// Django's settings module.
    #[arg(long, value_name = "MODULE")]
    pub settings: Option<String>,
    /// Database to measure on (repeatable): `sqlite` or a postgres:// / mysql:// server URL, on
    /// which mrt creates and drops its own databases.
    #[arg(long = "db", value_name = "DB")]
    pub databases: Vec<String>,
    /// Table sizes, comma-separated (default 0,10000,100000; config `[bench] rows`).
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    pub rows: Option<Vec<usize>>,
    /// Measured repetitions per size and direction, after one warm-up round (default 3).
    #[arg(long, value_name = "K")]
    pub repeat: Option<usize>,
    /// Seed of the generated rows (else MRT_SEED, else `seed`, else random; always recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write an HTML report (one self-contained page, with the plot) to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Also draw time against rows (log-log) as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Save this run's results as baseline NAME (in the cache folder's `bench/`).
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare with baseline NAME and mark changes beyond the noise threshold.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Changes within this percentage of the baseline are noise (default 20).
    #[arg(long, value_name = "PERCENT")]
    pub noise: Option<f64>,
    /// Exit 2 when any step takes longer than this (`500ms`, `2s`, `1m`).
    #[arg(long, value_name = "DURATION")]
    pub fail_over: Option<String>,
    /// Exit 2 when any step blocks reads or writes of a table longer than this.
    #[arg(long, value_name = "DURATION")]
    pub fail_on_block: Option<String>,
    /// Hard timeout of one migration step, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub step_timeout: Option<f64>,
    /// Python interpreter that runs Alembic or Django.
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// If the interpreter cannot import the framework, build (once) a cached virtualenv.
    #[arg(long)]
    pub provision: bool,
    /// Folder that holds saved baselines (default as for `mrt test`'s snapshots).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The CI gates, parsed.
struct Gates {
    over: Option<Duration>,
    block: Option<Duration>,
}

/// The `--plot` picture as SVG text, for the HTML report.
pub fn plot_svg(run: &BenchRun) -> Result<String> {
    plot::svg(run)
}

pub fn run(args: &BenchArgs) -> Result<u8> {
    crate::project::refuse_project_as_filter("bench", args.filter.as_deref())?;
    let loaded = config::load(&args.project)?;
    let c = &loaded.config.bench;
    let options = options(args, c)?;
    let gates = Gates {
        over: duration(
            "--fail-over",
            args.fail_over.as_deref().or(c.fail_over.as_deref()),
        )?,
        block: duration(
            "--fail-on-block",
            args.fail_on_block.as_deref().or(c.fail_on_block.as_deref()),
        )?,
    };
    let noise = args.noise.or(c.noise).unwrap_or(DEFAULT_NOISE_PERCENT);
    if !(noise.is_finite() && noise >= 0.0) {
        bail!("--noise must be a percentage of 0 or more, not {noise}");
    }
    let cache = test::cache_dir(&args.project, &loaded, args.cache_dir.as_deref());
    let baselines = baseline::Store::new(cache.join("bench"));
    let compare_with = match &args.baseline {
        Some(name) => Some(baselines.load(name)?),
        None => None,
    };
    let mut settings = test::settings(&test_args(args))?;
    let root = settings.project.root.clone();
    settings.lint = None;
    settings.drift = false;
    settings.cache = None;
    let bar = output::progress_bar();
    let progress = |event: Event| match event {
        Event::Planned(n) => bar.set_length(n),
        Event::Started(what) => bar.set_message(what),
        Event::Finished => bar.inc(1),
    };
    let run = mrt_harness::bench::run(settings, &options, &progress)?;
    bar.finish_and_clear();
    let comparison = compare_with
        .as_ref()
        .map(|base| baseline::compare(base, &run, noise / 100.0));
    emit(args, &run, comparison.as_deref())?;
    if let Some(name) = &args.save_baseline {
        let path = baselines.save(name, &run)?;
        eprintln!("mrt: baseline '{name}' saved to {}", path.display());
    }
    if let Some(out) = &args.report {
        let input = crate::html::model::Input::Bench(Box::new(run.clone()));
        let link = loaded.config.report.link.as_deref();
        let title = crate::html::title(&root);
        crate::html::write(&[input], &|_: &str| None, link, &title, out)?;
    }
    Ok(verdict(&run, &gates))
}

fn emit(args: &BenchArgs, run: &BenchRun, comparison: Option<&[baseline::Change]>) -> Result<()> {
    let text = match args.format {
        Format::Table => output::table(run, comparison),
        Format::Json => output::json(run, comparison)?,
        Format::Csv => output::csv(run)?,
    };
    print!("{text}");
    if args.format != Format::Table {
        for note in &run.notes {
            eprintln!("note: {note}");
        }
    }
    if let Some(path) = &args.plot {
        plot::draw(run, path).with_context(|| format!("drawing {}", path.display()))?;
        eprintln!("mrt: plot written to {}", path.display());
    }
    Ok(())
}

/// 0, or 2 when a gate is exceeded (each named on stderr), or 1 when a revision could not be
/// measured (its error is in the output).
fn verdict(run: &BenchRun, gates: &Gates) -> u8 {
    let mut failed = false;
    for r in &run.results {
        let what = format!(
            "{} {} {} at {} rows",
            r.database,
            r.revision,
            r.direction.as_str(),
            r.rows
        );
        if let Some(limit) = gates.over {
            if r.median_ms > ms(limit) {
                eprintln!(
                    "mrt: gate: {what} took {:.1} ms (--fail-over {})",
                    r.median_ms,
                    show(limit)
                );
                failed = true;
            }
        }
        if let Some(limit) = gates.block {
            let worst = r
                .blocked_reads_ms
                .unwrap_or(0.0)
                .max(r.blocked_writes_ms.unwrap_or(0.0));
            if worst > ms(limit) {
                eprintln!(
                    "mrt: gate: {what} blocked a table for {worst:.1} ms (--fail-on-block {})",
                    show(limit)
                );
                failed = true;
            }
        }
    }
    if failed {
        exit::ERRORS
    } else if !run.errors.is_empty() {
        exit::WARNINGS
    } else {
        exit::OK
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn duration(flag: &str, text: Option<&str>) -> Result<Option<Duration>> {
    text.map(|t| {
        humantime::parse_duration(t.trim())
            .map_err(|e| anyhow::anyhow!("{flag} {t:?}: {e} (write e.g. 500ms, 2s, 1m)"))
    })
    .transpose()
}

fn options(args: &BenchArgs, c: &BenchConfig) -> Result<BenchOptions> {
    let mut rows = (args.rows.clone())
        .or_else(|| c.rows.clone())
        .unwrap_or_else(|| DEFAULT_ROWS.to_vec());
    rows.sort_unstable();
    rows.dedup();
    if rows.is_empty() {
        bail!("--rows: give at least one table size, e.g. --rows 0,10000");
    }
    let repeat = args.repeat.or(c.repeat).unwrap_or(DEFAULT_REPEAT);
    if repeat == 0 {
        bail!("--repeat: at least 1 measured repetition is needed (default {DEFAULT_REPEAT})");
    }
    Ok(BenchOptions {
        rows,
        repeat,
        filter: args.filter.clone(),
    })
}

/// `mrt test`'s settings resolve the project, databases, Python and seed the same way.
fn test_args(args: &BenchArgs) -> TestArgs {
    TestArgs {
        project: args.project.clone(),
        config: args.config.clone(),
        name: None,
        settings: args.settings.clone(),
        databases: args.databases.clone(),
        seed: args.seed,
        rows: None,
        cases: None,
        step_timeout: args.step_timeout,
        python: args.python.clone(),
        url_env: None,
        provision: args.provision,
        cache_dir: args.cache_dir.clone(),
        no_cache: true,
        libtest: libtest_mimic::Arguments::default(),
        reproduce_with: None,
        junit: false,
        report: None,
    }
}
