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
    pub path: PathBuf,
    /// The alembic.ini to use (overrides `alembic_config`).
    #[arg(long, short = 'c', value_name = "ALEMBIC_INI")]
    pub config: Option<PathBuf>,
    /// The ini section to read instead of [alembic] (Alembic's --name/-n), e.g. for an ini with
    /// [core] and [tenant].
    #[arg(long, short = 'n', value_name = "SECTION")]
    pub name: Option<String>,
}

/// Loads config and the project; any error here is a usage/config error (exit 3).
pub fn open(args: &ProjectArgs) -> Result<Project> {
    let loaded = config::load(&args.path)?;
    open_with(
        &args.path,
        &loaded,
        args.config.as_deref(),
        args.name.as_deref(),
    )
}

/// Opens the project in `dir` with its loaded config and the `--config`/`--name` flags.
pub fn open_with(
    dir: &Path,
    loaded: &config::Loaded,
    alembic_ini: Option<&Path>,
    section: Option<&str>,
) -> Result<Project> {
    let c = &loaded.config;
    let alembic_ini = alembic_ini
        .map(Path::to_path_buf)
        .or_else(|| c.alembic_config.as_deref().map(|p| loaded.resolve(p)));
    let options = ProjectOptions {
        kind: c.kind,
        alembic_ini,
        alembic_section: section.map(str::to_string),
        version_table: c.version_table.clone(),
        sql_tool: c.sql.tool,
        sql_dir: c.sql.dir.as_deref().map(|p| loaded.resolve(p)),
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
