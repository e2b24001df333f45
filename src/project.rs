//! Opening the project a command works on: config first, then flags on top.

use crate::config;
use anyhow::{Context, Result};
use mrt_migrations::{Project, ProjectOptions};
use std::path::{Path, PathBuf};

/// Flags every project-reading command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    /// Project directory (holding alembic.ini, mrt.toml or pyproject.toml).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// The project directory, as `mrt test --project` takes it (instead of PATH).
    #[arg(long = "project", value_name = "DIR", conflicts_with = "path")]
    project: Option<PathBuf>,
    /// The alembic.ini to use (overrides `alembic_config`).
    #[arg(long, short = 'c', value_name = "ALEMBIC_INI")]
    pub config: Option<PathBuf>,
    /// The ini section to read instead of [alembic] (Alembic's --name/-n), e.g. for an ini with
    /// [core] and [tenant].
    #[arg(long, short = 'n', value_name = "SECTION")]
    pub name: Option<String>,
    /// Django's settings module (overrides `[django] settings`, $DJANGO_SETTINGS_MODULE and
    /// manage.py's default).
    #[arg(long, value_name = "MODULE")]
    pub settings: Option<String>,
}

/// What flags say about where the project is, over its config.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags<'a> {
    pub alembic_ini: Option<&'a Path>,
    pub section: Option<&'a str>,
    pub settings: Option<&'a str>,
}

impl ProjectArgs {
    /// The project directory: `--project DIR` or PATH.
    pub fn dir(&self) -> &Path {
        self.project.as_deref().unwrap_or(&self.path)
    }
}

/// Loads config and the project; any error here is a usage/config error (exit 3).
pub fn open(args: &ProjectArgs) -> Result<Project> {
    let loaded = config::load(args.dir())?;
    let flags = Flags {
        alembic_ini: args.config.as_deref(),
        section: args.name.as_deref(),
        settings: args.settings.as_deref(),
    };
    open_with(args.dir(), &loaded, flags)
}

/// Opens the project in `dir` with its loaded config and the flags that locate it.
pub fn open_with(dir: &Path, loaded: &config::Loaded, flags: Flags) -> Result<Project> {
    let c = &loaded.config;
    let alembic_ini = (flags.alembic_ini.map(Path::to_path_buf))
        .or_else(|| c.alembic_config.as_deref().map(|p| loaded.resolve(p)));
    let options = ProjectOptions {
        kind: c.kind,
        alembic_ini,
        alembic_section: flags.section.map(str::to_string),
        version_table: c.version_table.clone(),
        sql_tool: c.sql.tool,
        sql_dir: c.sql.dir.as_deref().map(|p| loaded.resolve(p)),
        django_settings: (flags.settings.map(str::to_string)).or_else(|| c.django.settings.clone()),
        django_apps: c.django.apps.clone(),
    };
    Project::open(dir, &options)
        .with_context(|| format!("cannot open the migration project in {}", dir.display()))
}

/// A path for machine output: relative to the project root, so it is stable wherever mrt runs.
pub fn display_path(root: &Path, path: &Path) -> String {
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A FILTER that names a directory holding a migration project was meant as `--project DIR`
/// (`mrt test fixtures/x` filters tests by that text and finds none): say so instead.
pub fn refuse_project_as_filter(command: &str, filter: Option<&str>) -> Result<()> {
    let Some(filter) = filter else {
        return Ok(());
    };
    let dir = Path::new(filter);
    if !dir.is_dir() {
        return Ok(());
    }
    let Ok(loaded) = config::load(dir) else {
        return Ok(());
    };
    if open_with(dir, &loaded, Flags::default()).is_err() {
        return Ok(());
    }
    anyhow::bail!(
        "`{filter}` is a directory holding a migration project, not a test filter: \
         did you mean `mrt {command} --project {filter}`?"
    )
}
