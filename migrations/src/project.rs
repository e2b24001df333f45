//! A migration project as a whole: where it is, its revisions and their graph.

use crate::alembic::{self, AlembicConfigError, AlembicLocations};
use crate::django::{self, DjangoError};
use crate::foreign::Foreign;
use crate::sql::{self, SqlError, SqlTool};
use crate::{Framework, Problem, RevisionGraph};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectKind {
    Alembic,
    /// Plain SQL files of a migration tool (sqlx, diesel, golang-migrate, dbmate, Flyway,
    /// refinery).
    Sql,
    Django,
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
    /// `[sql] tool`: which tool's SQL files these are, when detection should not decide.
    pub sql_tool: Option<SqlTool>,
    /// `[sql] dir`: the migrations folder, relative to the project root.
    pub sql_dir: Option<PathBuf>,
    /// `--settings` / `[django] settings`: Django's settings module.
    pub django_settings: Option<String>,
    /// `[django] apps`: the apps that are the project's own.
    pub django_apps: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error(transparent)]
    Alembic(AlembicConfigError),
    #[error(transparent)]
    Sql(SqlError),
    #[error(transparent)]
    Django(DjangoError),
    /// No Alembic project, but migrations of a kind mrt does not read yet: said, never a silent
    /// "0 files".
    #[error("{dir}: {found}; mrt reads Alembic and SQL-file projects today (Django is planned), so nothing was checked")]
    Unsupported { dir: PathBuf, found: String },
    /// SQL migration files, but not in a folder or layout detection reads.
    #[error("{dir}: {found}, but not in a migrations folder mrt recognises (it looks in {looked}); set kind = \"sql\" and [sql] dir (and tool) in mrt.toml", looked = crate::sql::looked_for(dir))]
    SqlElsewhere { dir: PathBuf, found: String },
    /// Neither an Alembic project nor SQL migrations.
    #[error("no migration project in {dir}: no alembic.ini nor [tool.alembic] in pyproject.toml (pass --config PATH/alembic.ini), and no SQL migrations in {looked} (set kind = \"sql\" and [sql] dir in mrt.toml)")]
    NotFound { dir: PathBuf, looked: String },
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
        let sql_asked = options.sql_tool.is_some() || options.sql_dir.is_some();
        match options.kind {
            Some(ProjectKind::Sql) => return Self::open_sql(root, options),
            Some(ProjectKind::Django) => return Self::open_django(root, options),
            None if sql_asked => return Self::open_sql(root, options),
            _ => {}
        }
        let alembic = alembic::locate(
            root,
            options.alembic_ini.as_deref(),
            options.alembic_section.as_deref(),
        );
        match alembic {
            Ok(locations) => Ok(Self::open_alembic(root, options, locations)),
            Err(AlembicConfigError::NotFound(_)) if options.kind.is_none() => {
                if django::detect(root).is_some() {
                    return Self::open_django(root, options);
                }
                if sql::detect(root).is_some() {
                    return Self::open_sql(root, options);
                }
                match crate::foreign::detect(root) {
                    Some(Foreign::Sql(found)) => Err(ProjectError::SqlElsewhere {
                        dir: root.to_path_buf(),
                        found,
                    }),
                    Some(Foreign::Django(found)) => Err(ProjectError::Unsupported {
                        dir: root.to_path_buf(),
                        found,
                    }),
                    None => Err(ProjectError::NotFound {
                        dir: root.to_path_buf(),
                        looked: sql::looked_for(root),
                    }),
                }
            }
            Err(e) => Err(ProjectError::Alembic(e)),
        }
    }

    fn open_alembic(root: &Path, options: &ProjectOptions, alembic: AlembicLocations) -> Self {
        let loaded = alembic::load_revisions(&alembic);
        let graph = RevisionGraph::build(loaded.revisions, &loaded.salvaged);
        Project {
            root: absolute(root),
            kind: ProjectKind::Alembic,
            framework: Framework::Alembic {
                locations: alembic,
                version_table: (options.version_table.clone())
                    .unwrap_or_else(|| "alembic_version".into()),
            },
            graph,
            file_problems: loaded.problems,
            ignored: loaded.ignored,
        }
    }

    fn open_django(root: &Path, options: &ProjectOptions) -> Result<Self, ProjectError> {
        let project = django::load(
            root,
            options.django_settings.as_deref(),
            options.django_apps.as_deref(),
        )
        .map_err(ProjectError::Django)?;
        let graph = RevisionGraph::build(project.revisions(), &[]);
        Ok(Project {
            root: project.root.clone(),
            kind: ProjectKind::Django,
            file_problems: project.problems.clone(),
            ignored: project.ignored.clone(),
            framework: Framework::Django(Arc::new(project)),
            graph,
        })
    }

    fn open_sql(root: &Path, options: &ProjectOptions) -> Result<Self, ProjectError> {
        let root = absolute(root);
        let project = sql::load(&root, options.sql_tool, options.sql_dir.as_deref())
            .map_err(ProjectError::Sql)?;
        let graph = RevisionGraph::build(project.revisions(), &[]);
        Ok(Project {
            kind: ProjectKind::Sql,
            file_problems: project.problems.clone(),
            ignored: project.ignored.clone(),
            framework: Framework::Sql(Arc::new(project)),
            graph,
            root,
        })
    }

    /// The Alembic configuration, for an Alembic project.
    pub fn alembic(&self) -> Option<&AlembicLocations> {
        match &self.framework {
            Framework::Alembic { locations, .. } => Some(locations),
            Framework::Sql(_) | Framework::Django(_) => None,
        }
    }

    /// File problems first, then graph problems: the order a user fixes them in.
    /// A graph problem the framework's reader already reported (Django's cycles, with Django's
    /// own words) is not reported twice.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        let known =
            |p: &Problem| (self.file_problems.iter()).any(|f| f.kind == p.kind && f.path == p.path);
        let graph = self.graph.problems().iter().filter(move |p| !known(p));
        self.file_problems.iter().chain(graph)
    }

    pub fn has_problems(&self) -> bool {
        self.problems().next().is_some()
    }
}

fn absolute(root: &Path) -> PathBuf {
    std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf())
}
