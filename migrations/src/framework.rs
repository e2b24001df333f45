//! The migration framework of a project: the one place that knows Alembic (and, beside it, the
//! SQL-file tools and Django). The harness asks it which tables are its bookkeeping, what a
//! revision's text mentions, how to start a step runner and what to tell the user; it never
//! names a framework itself.

use crate::alembic::{self, AlembicLocations};
use crate::django::DjangoProject;
use crate::exec::{
    self, ExecutorFactory, PythonChoice, PythonRunner, SqlRunner, WorkerKind, WorkerSpec,
};
use crate::sql::{SqlDown, SqlProject};
use crate::{Revision, RevisionGraph};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A project's framework and what it needs to run.
#[derive(Debug)]
pub enum Framework {
    Alembic {
        locations: AlembicLocations,
        /// Alembic's version table (config `version_table`, default `alembic_version`).
        version_table: String,
    },
    /// Plain SQL files of one tool, run in-process (no Python).
    Sql(Arc<SqlProject>),
    /// A Django project's own apps, run in a Django worker.
    Django(Arc<DjangoProject>),
}

/// Tables Django keeps its own records in: the migration recorder, and the rows its
/// `post_migrate` handlers (and `get_for_model`) write for content types and permissions.
const DJANGO_BOOKKEEPING: [&str; 3] = [
    "django_migrations",
    "django_content_type",
    "auth_permission",
];

/// What a runner needs beyond the project, from flags and config.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// The interpreter for frameworks that run in Python.
    pub python: Option<PythonChoice>,
    /// The environment variable a project reads its database URL from.
    pub url_env: String,
    /// Hard timeout of one step.
    pub timeout: Duration,
    /// The runtime mrt's databases were opened on, for runners that use their connections.
    pub runtime: Option<tokio::runtime::Handle>,
}

/// Whether `drift::<db>` (the database at head against the project's models) can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The framework has no models (SQL files): no such test.
    NotApplicable,
    /// The project gives none; the test is reported ignored with this reason.
    Unavailable(String),
    Available,
}

impl Framework {
    pub fn name(&self) -> &'static str {
        match self {
            Framework::Alembic { .. } => "alembic",
            Framework::Sql(project) => project.tool.as_str(),
            Framework::Django(_) => "django",
        }
    }

    /// How the framework was recognised, for `-v` ("sqlx: Cargo.toml depends on sqlx; ...").
    pub fn detected_by(&self) -> String {
        match self {
            Framework::Alembic { locations, .. } => match &locations.ini {
                Some(ini) => format!("alembic: {}", ini.display()),
                None => "alembic: [tool.alembic] in pyproject.toml".into(),
            },
            Framework::Sql(project) => format!("{}: {}", project.tool, project.detected_by),
            Framework::Django(project) => match &project.settings_module {
                Some(module) => format!("django: settings {module}"),
                None => "django: no settings module found (set [django] settings)".into(),
            },
        }
    }

    /// The folder the framework's files live in (Alembic's script location).
    pub fn home(&self) -> &Path {
        match self {
            Framework::Alembic { locations, .. } => &locations.script_location,
            Framework::Sql(project) => &project.dir,
            Framework::Django(project) => &project.root,
        }
    }

    /// The folders holding the migration files.
    pub fn migration_dirs(&self) -> Vec<PathBuf> {
        match self {
            Framework::Alembic { locations, .. } => locations.version_locations.clone(),
            Framework::Sql(project) => vec![project.dir.clone()],
            Framework::Django(project) => (project.apps.iter())
                .map(|a| a.migrations_dir.clone())
                .collect(),
        }
    }

    /// Files outside the revisions that every step reads (Alembic's env.py, Django's settings):
    /// a snapshot of a state made with other ones is not that state.
    pub fn environment_files(&self) -> Vec<PathBuf> {
        match self {
            Framework::Alembic { locations, .. } => vec![locations.script_location.join("env.py")],
            Framework::Sql(_) => Vec::new(),
            Framework::Django(project) => project.settings_file.iter().cloned().collect(),
        }
    }

    /// The files a revision is written in (an SQL migration's up and down scripts).
    pub fn files(&self, revision: &Revision) -> Vec<PathBuf> {
        let mut files = vec![revision.path.clone()];
        if let Framework::Sql(project) = self {
            let found = (project.get(&revision.id))
                .or_else(|| project.shadowed.iter().find(|m| m.id == revision.id));
            if let Some(SqlDown::Script(down)) = found.map(|m| &m.down) {
                if down.path != revision.path {
                    files.push(down.path.clone());
                }
            }
        }
        files
    }

    /// What decides what a revision's steps do, where the framework holds it in memory: an SQL
    /// migration's scripts as its tool runs them, each with whether it runs in a transaction
    /// (diesel's `metadata.toml`, dbmate's `transaction:false`). `None`: only its files say.
    pub fn loaded_scripts(&self, revision: &Revision) -> Option<Vec<(&str, bool)>> {
        let Framework::Sql(project) = self else {
            return None;
        };
        let found = (project.get(&revision.id))
            .or_else(|| project.shadowed.iter().find(|m| m.id == revision.id))?;
        let mut scripts = vec![(found.up.text.as_str(), found.up.transactional)];
        if let SqlDown::Script(down) = &found.down {
            scripts.push((down.text.as_str(), down.transactional));
        }
        Some(scripts)
    }

    /// Revisions outside the graph that a check must still read: SQL migrations whose version
    /// an earlier one already has.
    pub fn extra_revisions(&self) -> Vec<Revision> {
        match self {
            Framework::Alembic { .. } => Vec::new(),
            Framework::Django(project) => (project.replaced.iter())
                .chain(&project.shadowed)
                .map(|m| Revision {
                    id: m.id.clone(),
                    down_revisions: Vec::new(),
                    branch_labels: Vec::new(),
                    depends_on: Vec::new(),
                    message: m.message.clone(),
                    path: m.path.clone(),
                    line: m.line,
                })
                .collect(),
            Framework::Sql(project) => (project.shadowed.iter())
                .map(|m| Revision {
                    id: m.id.clone(),
                    down_revisions: Vec::new(),
                    branch_labels: Vec::new(),
                    depends_on: Vec::new(),
                    message: Some(m.description.clone()),
                    path: m.up.path.clone(),
                    line: m.up.first_line,
                })
                .collect(),
        }
    }

    /// The database URL the project is configured with (Alembic's `sqlalchemy.url`), from which
    /// the dialect is inferred; never printed (it may hold a password).
    pub fn configured_url(&self) -> Option<&str> {
        match self {
            Framework::Alembic { locations, .. } => locations.sqlalchemy_url.as_deref(),
            Framework::Sql(project) => project.database_url.as_deref(),
            // settings.py's DATABASES is code; the dialect comes from config or --dialect.
            Framework::Django(_) => None,
        }
    }

    /// Tables the framework keeps its own records in: never seeded, never compared.
    pub fn bookkeeping_tables(&self) -> Vec<String> {
        match self {
            Framework::Alembic { version_table, .. } => vec![version_table.clone()],
            Framework::Sql(project) => vec![project.tool.bookkeeping_table().to_string()],
            Framework::Django(_) => DJANGO_BOOKKEEPING.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// How to merge several heads, as the framework's own command line does it.
    pub fn merge_hint(&self) -> &'static str {
        match self {
            Framework::Alembic { .. } => "add a merge revision: `alembic merge heads`",
            Framework::Sql(_) => "give each migration its own version",
            Framework::Django(_) => "merge them: `manage.py makemigrations --merge`",
        }
    }

    /// Heads of different groups (Django apps) are normal; within one group, several heads are
    /// a conflict. The group of a revision: its Django app, else one for all.
    pub fn head_group<'r>(&self, revision: &'r str) -> &'r str {
        match self {
            Framework::Django(_) => revision.split('.').next().unwrap_or(revision),
            Framework::Alembic { .. } | Framework::Sql(_) => "",
        }
    }

    /// The Python framework its steps run in (an interpreter must be found, or provisioned);
    /// `None` when no Python is needed.
    pub fn python(&self) -> Option<exec::PythonFramework> {
        match self {
            Framework::Alembic { .. } => Some(exec::PythonFramework::Alembic),
            Framework::Django(_) => Some(exec::PythonFramework::Django),
            Framework::Sql(_) => None,
        }
    }

    /// The text of a revision as the user wrote it (the constants the generator plants come
    /// from it).
    pub fn revision_text(&self, revision: &Revision) -> Option<String> {
        match self {
            Framework::Alembic { .. } | Framework::Django(_) => {
                std::fs::read_to_string(&revision.path).ok()
            }
            Framework::Sql(project) => {
                let m = project.get(&revision.id)?;
                let mut text = m.up.text.clone();
                if let SqlDown::Script(down) = &m.down {
                    text.push('\n');
                    text.push_str(&down.text);
                }
                Some(text)
            }
        }
    }

    /// Lower-cased words a revision names, where table names would be (`None`: unknown, test
    /// every table).
    pub fn mentioned_words(&self, revision: &Revision) -> Option<BTreeSet<String>> {
        let text = self.revision_text(revision)?;
        match self {
            Framework::Alembic { .. } => alembic::mentioned_words(&text),
            Framework::Sql(_) => Some(crate::sql_words(&text).collect()),
            Framework::Django(_) => {
                // Operations name models, whose tables are `<app>_<model>` (and M2M tables
                // `<app>_<model>_<field>`): each word also as `<app>_<word>`.
                let words = alembic::mentioned_words(&text)?;
                let app = revision.id.split('.').next().unwrap_or("").to_lowercase();
                let prefixed: Vec<String> = words.iter().map(|w| format!("{app}_{w}")).collect();
                Some(words.into_iter().chain(prefixed).collect())
            }
        }
    }

    /// Why a revision cannot be downgraded by design (it gets a forward trial instead), if so.
    pub fn forward_only(&self, rev: &str) -> Option<String> {
        match self {
            Framework::Alembic { .. } | Framework::Django(_) => None,
            Framework::Sql(project) => match &project.get(rev)?.down {
                SqlDown::ForwardOnly => Some(format!(
                    "no down migration ({} runs this one forward only); see {rev}::forward",
                    project.tool
                )),
                SqlDown::Script(_) | SqlDown::Missing => None,
            },
        }
    }

    /// What `drift::<db>` compares with, and the title of a difference.
    pub fn drift_words(&self) -> (&'static str, &'static str) {
        match self {
            Framework::Django(_) => (
                "against the models (makemigrations --check)",
                "the models have changes no migration makes",
            ),
            Framework::Alembic { .. } | Framework::Sql(_) => (
                "against env.py's target_metadata",
                "the database differs from target_metadata (add_*: only the metadata has it, remove_*: only the database)",
            ),
        }
    }

    pub fn drift(&self) -> Drift {
        match self {
            Framework::Alembic { locations, .. } => {
                match no_target_metadata(&locations.script_location.join("env.py")) {
                    Some(why) => Drift::Unavailable(why),
                    None => Drift::Available,
                }
            }
            Framework::Sql(_) => Drift::NotApplicable,
            Framework::Django(_) => Drift::Available,
        }
    }

    /// What starts this project's step runners.
    pub fn runner(
        &self,
        root: &Path,
        graph: &RevisionGraph,
        options: &RunnerOptions,
    ) -> Result<Arc<dyn ExecutorFactory>, exec::StepError> {
        match self {
            Framework::Alembic {
                locations,
                version_table,
            } => {
                let python =
                    options
                        .python
                        .clone()
                        .ok_or_else(|| exec::StepError::Unavailable {
                            runner: "Alembic".into(),
                            message: "no Python interpreter was chosen".into(),
                        })?;
                let mut dirs = vec![locations.script_location.clone()];
                dirs.extend(locations.version_locations.iter().cloned());
                let targets: HashMap<String, String> = graph
                    .ordered()
                    .filter_map(|r| Some((r.id.clone(), graph.downgrade_target(&r.id)?)))
                    .collect();
                let spec = WorkerSpec {
                    python,
                    project_root: root.to_path_buf(),
                    url_env: options.url_env.clone(),
                    timeout: options.timeout,
                    user_dirs: Arc::new(exec::user_dirs(root, &dirs)),
                    kind: WorkerKind::Alembic {
                        ini: locations.ini.clone(),
                        pyproject: locations.pyproject.clone(),
                        section: locations.section.clone(),
                        version_table: version_table.clone(),
                        downgrade_targets: Arc::new(targets),
                    },
                };
                Ok(Arc::new(PythonRunner::new(spec)))
            }
            Framework::Sql(project) => {
                let runtime =
                    options
                        .runtime
                        .clone()
                        .ok_or_else(|| exec::StepError::Unavailable {
                            runner: "the SQL runner".into(),
                            message: "no async runtime was given".into(),
                        })?;
                let runner = SqlRunner::new(Arc::clone(project), root, runtime, options.timeout);
                Ok(Arc::new(runner))
            }
            Framework::Django(project) => {
                let python =
                    options
                        .python
                        .clone()
                        .ok_or_else(|| exec::StepError::Unavailable {
                            runner: "Django".into(),
                            message: "no Python interpreter was chosen".into(),
                        })?;
                let dirs: Vec<PathBuf> = project
                    .apps
                    .iter()
                    .map(|a| a.migrations_dir.clone())
                    .collect();
                let spec = WorkerSpec {
                    python,
                    project_root: root.to_path_buf(),
                    url_env: options.url_env.clone(),
                    timeout: options.timeout,
                    user_dirs: Arc::new(exec::user_dirs(root, &dirs)),
                    kind: WorkerKind::Django {
                        settings_module: project.settings_module.clone().unwrap_or_default(),
                        apps: project.apps.iter().map(|a| a.label.clone()).collect(),
                    },
                };
                Ok(Arc::new(PythonRunner::new(spec)))
            }
        }
    }
}

/// Why env.py has no metadata to compare with (`target_metadata = None` and no other value), if
/// it has none; read as text, never run.
fn no_target_metadata(env: &Path) -> Option<String> {
    let text = std::fs::read_to_string(env).ok()?;
    let values: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("target_metadata"))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|v| v.split('#').next().unwrap_or("").trim())
        .collect();
    let assigned = values.iter().any(|v| *v != "None");
    let imported = text.contains("as target_metadata") || text.contains("import target_metadata");
    if assigned || imported {
        None
    } else {
        Some(format!("{} sets no target_metadata", env.display()))
    }
}
