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
    let alembic_ini = args.config.clone().or_else(|| {
        loaded
            .config
            .alembic_config
            .as_deref()
            .map(|p| loaded.resolve(p))
    });
    let options = ProjectOptions {
        kind: loaded.config.kind,
        alembic_ini,
        alembic_section: args.name.clone(),
        version_table: loaded.config.version_table.clone(),
    };
    Project::open(&args.path, &options).with_context(|| {
        format!(
            "cannot open the migration project in {}",
            args.path.display()
        )
    })
}

/// A path for machine output: relative to the project root, so it is stable wherever mrt runs.
pub fn display_path(root: &Path, path: &Path) -> String {
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}
