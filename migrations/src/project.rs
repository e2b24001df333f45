//! A migration project as a whole: where it is, its revisions and their graph.

use crate::alembic::{self, AlembicConfigError, AlembicLocations};
use crate::{Framework, Problem, RevisionGraph};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectKind {
    Alembic,
}

/// What the caller knows better than discovery (flags and config).
#[derive(Debug, Clone, Default)]
pub struct ProjectOptions {
    pub kind: Option<ProjectKind>,
    /// `--config` / `alembic_config`: the alembic.ini to use instead of `<root>/alembic.ini`.
    pub alembic_ini: Option<PathBuf>,
    /// `--name` (Alembic's `-n`): the ini section to read instead of `[alembic]`.
    pub alembic_section: Option<String>,
    /// Alembic's version table, when env.py names another (config `version_table`).
    pub version_table: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error(transparent)]
    Alembic(AlembicConfigError),
    /// No Alembic project, but migrations of a kind mrt does not read yet: said, never a silent
    /// "0 files".
    #[error("{dir}: {found}; mrt reads Alembic projects today (Django and SQL-file migrations are planned), so nothing was checked")]
    Unsupported { dir: PathBuf, found: String },
}

#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub kind: ProjectKind,
    pub framework: Framework,
    pub graph: RevisionGraph,
    /// Problems in individual files (syntax errors, non-literal ids, ...); graph problems are
    /// in `graph.problems()`.
    pub file_problems: Vec<Problem>,
    /// Python files in version locations that are not revisions, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
}

impl Project {
    pub fn open(root: &Path, options: &ProjectOptions) -> Result<Self, ProjectError> {
        if !root.is_dir() {
            return Err(ProjectError::NotADirectory(root.to_path_buf()));
        }
        let alembic = alembic::locate(
            root,
            options.alembic_ini.as_deref(),
            options.alembic_section.as_deref(),
        )
        .map_err(|e| match (&e, crate::foreign::detect(root)) {
            (AlembicConfigError::NotFound(_), Some(found)) => ProjectError::Unsupported {
                dir: root.to_path_buf(),
                found,
            },
            _ => ProjectError::Alembic(e),
        })?;
        let loaded = alembic::load_revisions(&alembic);
        let graph = RevisionGraph::build(loaded.revisions, &loaded.salvaged);
        Ok(Project {
            root: std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
            kind: ProjectKind::Alembic,
            framework: Framework::Alembic {
                locations: alembic,
                version_table: (options.version_table.clone())
                    .unwrap_or_else(|| "alembic_version".into()),
            },
            graph,
            file_problems: loaded.problems,
            ignored: loaded.ignored,
        })
    }

    /// The Alembic configuration, for an Alembic project.
    pub fn alembic(&self) -> Option<&AlembicLocations> {
        match &self.framework {
            Framework::Alembic { locations, .. } => Some(locations),
        }
    }

    /// File problems first, then graph problems: the order a user fixes them in.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.file_problems.iter().chain(self.graph.problems())
    }

    pub fn has_problems(&self) -> bool {
        self.problems().next().is_some()
    }
}
