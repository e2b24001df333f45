//! Django projects, read without importing anything: the settings module (`manage.py`), the
//! project's own apps (folders under the project with a `migrations` package, labelled as their
//! `apps.py` says), every migration file parsed with rustpython-parser, and the graph Django's
//! `MigrationLoader` builds from them for a fresh database (`__first__`, `__latest__`,
//! swappable dependencies, `run_before`, squashes), in Django's plan order.
//!
//! Each part names the Django source it follows: `apps.rs` lists migration modules as
//! loader.py `load_disk` and `pkgutil.iter_modules` do and labels apps as apps/config.py
//! `AppConfig.create` picks their config; `graph.rs` is loader.py `build_graph` and
//! `check_key`, graph.py `remove_replaced_nodes` and `iterative_dfs`, executor.py
//! `migration_plan`; `migration_file.rs` reads what migration.py's `Migration` declares. Apps
//! outside the project (django.contrib, site-packages) are the environment: dependencies on
//! them are kept as declared in [`DjangoMigration::external`], never resolved, so an order that
//! only another app's migrations impose (a third-party migration between two of the project's)
//! is not seen. `tests/django_parity.rs` checks all of it against Django's own loader.

mod apps;
mod graph;
mod migration_file;
mod settings;
mod source;

use crate::{Problem, ProblemKind, Revision};
use graph::Key;
use migration_file::{Declared, Dep, SwapValue};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A Django project as mrt reads it.
#[derive(Debug, Clone)]
pub struct DjangoProject {
    pub root: PathBuf,
    /// The settings module: the override, else `$DJANGO_SETTINGS_MODULE`, else `manage.py`'s
    /// default (what `manage.py` itself would use); `None` when unknown.
    pub settings_module: Option<String>,
    /// The settings module's file under the project, when found; string settings
    /// (`AUTH_USER_MODEL`) are read from it (and the files it star-imports) as text.
    pub settings_file: Option<PathBuf>,
    /// What `swappable_dependency(settings.AUTH_USER_MODEL)` names: the settings' literal,
    /// Django's default `auth.User` when they set none (or none were found), `None` when the
    /// settings compute it.
    pub auth_user_model: Option<String>,
    /// The project's own apps (their migrations folder lies under `root`), in path order.
    pub apps: Vec<DjangoApp>,
    /// Every migration of the project's own apps in the graph, dependencies first: Django's plan
    /// for a fresh database (squashes in place of what they replace).
    pub migrations: Vec<DjangoMigration>,
    /// Migrations on disk replaced by a squash in the graph: not in the graph, still files a
    /// check must read. Their `dependencies` are as resolved before the squash took their place.
    pub replaced: Vec<DjangoMigration>,
    /// Migrations of an app whose label an app earlier in path order already has (a
    /// [`ProblemKind::DuplicateId`]): not in the graph, still files a check must read.
    pub shadowed: Vec<DjangoMigration>,
    /// What Django would refuse or mrt cannot read, each naming its file and line.
    pub problems: Vec<Problem>,
    /// Files and folders Django leaves out, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
}

/// One of the project's own apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoApp {
    pub label: String,
    pub migrations_dir: PathBuf,
}

/// One migration file, with its dependencies resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoMigration {
    /// `app_label.0003_name`.
    pub id: String,
    pub app: String,
    /// The module name, `0003_name`.
    pub name: String,
    pub path: PathBuf,
    /// Line of `class Migration(`.
    pub line: usize,
    /// Parents in the graph within the project's own apps, sorted: declared dependencies after
    /// `__first__`/`__latest__`/swappable resolution and squash remapping, and migrations whose
    /// `run_before` names this one.
    pub dependencies: Vec<String>,
    /// Declared dependencies on apps outside the project: (app label, migration name or
    /// `__first__`/`__latest__`), a swappable one as the `__first__` of its app.
    pub external: Vec<(String, String)>,
    /// Swappable dependencies mrt cannot resolve without running code
    /// (`swappable_dependency(oauth2_settings.TOKEN_MODEL)`, a computed setting), as written;
    /// they add no edge.
    pub unresolved: Vec<String>,
    /// Migrations this one must run before, as ids (`__first__`/`__latest__` resolved within
    /// the project, kept as declared outside it).
    pub run_before: Vec<String>,
    /// The migrations a squash replaces, as ids.
    pub replaces: Vec<String>,
    pub initial: bool,
    /// `atomic` when the class sets it (Django's default is `True`).
    pub atomic: Option<bool>,
    /// First line of the module docstring.
    pub message: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DjangoError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("{root}: no Django project found (no manage.py, and no folder with a migrations package holding Django migrations)")]
    NotFound { root: PathBuf },
    #[error("settings module {module} not found under {root} (looked for {looked}); set [django] settings to the module manage.py uses")]
    SettingsNotFound {
        module: String,
        root: PathBuf,
        looked: String,
    },
    #[error("[django] apps names {} that {} not an app of this project (apps with migrations here: {})", unknown.join(", "), if unknown.len() == 1 { "is" } else { "are" }, known.join(", "))]
    UnknownApps {
        unknown: Vec<String>,
        known: Vec<String>,
    },
}

/// What the project at `root` is, as a sentence for `-v`: "a Django project (manage.py,
/// settings shop.settings)"; `None` when it is not one.
pub fn detect(root: &Path) -> Option<String> {
    if let Some(manage) = manage_py(root) {
        let rel = manage
            .strip_prefix(root)
            .unwrap_or(&manage)
            .display()
            .to_string();
        return Some(match settings::manage_py_settings(&manage) {
            Some(module) => format!("a Django project ({rel}, settings {module})"),
            None => format!("a Django project ({rel})"),
        });
    }
    let found = apps::discover(root);
    let with_files: Vec<&str> = found
        .apps
        .iter()
        .filter(|a| !a.files.is_empty())
        .map(|a| a.label.as_str())
        .collect();
    (!with_files.is_empty()).then(|| {
        format!(
            "Django migrations in app{} {} (no manage.py)",
            if with_files.len() == 1 { "" } else { "s" },
            with_files.join(", ")
        )
    })
}

/// Reads the project at `root`. `settings` overrides the settings module (config
/// `[django] settings`); `apps` restricts the project's apps to these labels (config
/// `[django] apps`), the others becoming environment like site-packages.
pub fn load(
    root: &Path,
    settings: Option<&str>,
    apps: Option<&[String]>,
) -> Result<DjangoProject, DjangoError> {
    let env = std::env::var("DJANGO_SETTINGS_MODULE")
        .ok()
        .filter(|s| !s.is_empty());
    load_with_env(root, settings, env.as_deref(), apps)
}

fn load_with_env(
    root: &Path,
    settings: Option<&str>,
    env: Option<&str>,
    only: Option<&[String]>,
) -> Result<DjangoProject, DjangoError> {
    if !root.is_dir() {
        return Err(DjangoError::NotADirectory(root.to_path_buf()));
    }
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let manage = manage_py(&root);
    let found_settings = find_settings(&root, manage.as_deref(), settings, env)?;
    let found = apps::discover(&root);
    if found.apps.is_empty() && manage.is_none() && found.problems.is_empty() {
        return Err(DjangoError::NotFound { root });
    }
    let mut problems = found.problems;
    let mut ignored = found.ignored;
    ignored.sort();
    let (own, doubles) = unique_labels(found.apps, &mut problems);
    let own = restrict(own, only)?;
    let project_apps: BTreeSet<String> = own.iter().map(|a| a.label.clone()).collect();

    let resolver = Resolver {
        values: &found_settings.values,
        auth_user_model: found_settings.auth_user_model.as_deref(),
    };
    let mut inputs = Vec::new();
    let mut declared: BTreeMap<Key, (PathBuf, Declared)> = BTreeMap::new();
    let mut unreadable = BTreeSet::new();
    for (key, path, outcome) in read_files(&own) {
        match outcome {
            Ok(d) => {
                inputs.push(resolver.input(&key, &path, &d));
                declared.insert(key, (path, d));
            }
            Err(problem) => {
                problems.push(problem.of(graph::id(&key)));
                unreadable.insert(key);
            }
        }
    }
    let out = graph::build(&inputs, &project_apps, &unreadable);
    problems.extend(out.problems.iter().cloned());
    let migration = |key: &Key, parents: &[Key]| -> DjangoMigration {
        let (path, d) = &declared[key];
        resolver.migration(key, path, d, parents, &out)
    };
    let migrations = (out.order.iter())
        .map(|k| migration(k, &out.parents[k]))
        .collect();
    let replaced = (out.replaced.iter())
        .map(|(k, parents)| migration(k, parents))
        .collect();
    let mut shadowed = Vec::new();
    for (key, path, outcome) in read_files(&doubles) {
        match outcome {
            Ok(d) => shadowed.push(resolver.migration(&key, &path, &d, &[], &Default::default())),
            Err(problem) => problems.push(problem.of(graph::id(&key))),
        }
    }
    Ok(DjangoProject {
        root,
        settings_module: found_settings.module,
        settings_file: found_settings.file,
        auth_user_model: found_settings.auth_user_model,
        apps: (own.into_iter())
            .map(|a| DjangoApp {
                label: a.label,
                migrations_dir: a.migrations_dir,
            })
            .collect(),
        migrations,
        replaced,
        shadowed,
        problems,
        ignored,
    })
}

/// The settings module, its file and the string settings in it.
struct FoundSettings {
    module: Option<String>,
    file: Option<PathBuf>,
    values: settings::Values,
    auth_user_model: Option<String>,
}

/// The module is the override, else `$DJANGO_SETTINGS_MODULE`, else `manage.py`'s default: what
/// `manage.py` itself runs with (`os.environ.setdefault`). Only an override that names no file
/// under the project is an error.
fn find_settings(
    root: &Path,
    manage: Option<&Path>,
    settings: Option<&str>,
    env: Option<&str>,
) -> Result<FoundSettings, DjangoError> {
    let module = (settings.or(env).map(str::to_string))
        .or_else(|| manage.and_then(settings::manage_py_settings));
    let bases = settings_bases(root, manage, module.as_deref());
    let file = (module.as_deref()).and_then(|m| settings::module_file(&bases, m));
    if let (Some(module), None) = (settings, &file) {
        return Err(DjangoError::SettingsNotFound {
            module: module.to_string(),
            root: root.to_path_buf(),
            looked: looked_for(&bases, module),
        });
    }
    let values = (file.as_deref())
        .map(|f| settings::Values::read(f, &bases))
        .unwrap_or_default();
    let auth_user_model = match values.get("AUTH_USER_MODEL") {
        Some(settings::Value::Literal(v)) => Some(v.clone()),
        Some(settings::Value::Computed) => None,
        None => Some(settings::DEFAULT_USER_MODEL.to_string()),
    };
    Ok(FoundSettings {
        module,
        file,
        values,
        auth_user_model,
    })
}

/// Labels are unique in Django (ImproperlyConfigured otherwise): the first app in path order
/// keeps its label; the others are returned apart, each with a problem.
fn unique_labels(
    found: Vec<apps::FoundApp>,
    problems: &mut Vec<Problem>,
) -> (Vec<apps::FoundApp>, Vec<apps::FoundApp>) {
    let mut owners: BTreeMap<String, PathBuf> = BTreeMap::new();
    let (mut own, mut doubles) = (Vec::new(), Vec::new());
    for app in found {
        match owners.get(&app.label) {
            Some(first) => {
                problems.push(duplicate_label(&app, first));
                doubles.push(app);
            }
            None => {
                owners.insert(app.label.clone(), app.migrations_dir.clone());
                own.push(app);
            }
        }
    }
    (own, doubles)
}

/// The apps the configuration chooses (`[django] apps`), each of which must exist.
fn restrict(
    own: Vec<apps::FoundApp>,
    only: Option<&[String]>,
) -> Result<Vec<apps::FoundApp>, DjangoError> {
    let Some(only) = only else {
        return Ok(own);
    };
    let known: Vec<String> = own.iter().map(|a| a.label.clone()).collect();
    let unknown: Vec<String> = (only.iter())
        .filter(|l| !known.contains(l))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(DjangoError::UnknownApps { unknown, known });
    }
    Ok(own
        .into_iter()
        .filter(|a| only.contains(&a.label))
        .collect())
}

type FileRead = (Key, PathBuf, Result<Declared, Box<Problem>>);

/// Every migration file of these apps, parsed in parallel.
fn read_files(apps: &[apps::FoundApp]) -> Vec<FileRead> {
    let files: Vec<(Key, PathBuf)> = (apps.iter())
        .flat_map(|a| {
            (a.files.iter()).map(|(name, path)| ((a.label.clone(), name.clone()), path.clone()))
        })
        .collect();
    files
        .into_par_iter()
        .map(|(key, path)| {
            let declared = migration_file::read(&path);
            (key, path, declared)
        })
        .collect()
}

/// Turns declarations into graph input and graph output back into [`DjangoMigration`]s.
struct Resolver<'a> {
    values: &'a settings::Values,
    auth_user_model: Option<&'a str>,
}

impl Resolver<'_> {
    /// `swappable_dependency(value)` is `(value.split(".", 1)[0], "__first__")`
    /// (django/db/migrations/migration.py); `None` when the value is unknown.
    fn swappable(&self, value: &SwapValue) -> Option<Key> {
        let model = match value {
            SwapValue::Literal(v) => Some(v.as_str()),
            SwapValue::Setting(name) => match self.values.get(name) {
                Some(settings::Value::Literal(v)) => Some(v.as_str()),
                Some(settings::Value::Computed) => None,
                None if name == "AUTH_USER_MODEL" => self.auth_user_model,
                None => None,
            },
            SwapValue::Computed => None,
        }?;
        let app = model.split('.').next().unwrap_or(model);
        Some((app.to_string(), "__first__".to_string()))
    }

    fn keys(&self, deps: &[Dep]) -> Vec<Key> {
        deps.iter()
            .filter_map(|d| match d {
                Dep::Key(a, n) => Some((a.clone(), n.clone())),
                Dep::Swappable(s) => self.swappable(&s.value),
            })
            .collect()
    }

    fn input(&self, key: &Key, path: &Path, d: &Declared) -> graph::Input {
        graph::Input {
            key: key.clone(),
            dependencies: self.keys(&d.dependencies),
            run_before: self.keys(&d.run_before),
            replaces: d.replaces.clone(),
            path: path.to_path_buf(),
            line: d.line,
        }
    }

    fn migration(
        &self,
        key: &Key,
        path: &Path,
        d: &Declared,
        parents: &[Key],
        out: &graph::Output,
    ) -> DjangoMigration {
        let unresolved = d
            .dependencies
            .iter()
            .chain(&d.run_before)
            .filter_map(|dep| match dep {
                Dep::Swappable(s) if self.swappable(&s.value).is_none() => Some(s.text.clone()),
                _ => None,
            })
            .collect();
        DjangoMigration {
            id: graph::id(key),
            app: key.0.clone(),
            name: key.1.clone(),
            path: path.to_path_buf(),
            line: d.line,
            dependencies: parents.iter().map(graph::id).collect(),
            external: out.external.get(key).cloned().unwrap_or_default(),
            unresolved,
            run_before: out
                .run_before
                .get(key)
                .map(|ks| ks.iter().map(graph::id).collect())
                .unwrap_or_default(),
            replaces: d.replaces.iter().map(graph::id).collect(),
            initial: d.initial,
            atomic: d.atomic,
            message: d.message.clone(),
        }
    }
}

impl DjangoProject {
    /// One revision per migration in the graph, in plan order: `down_revisions` are its
    /// in-project parents.
    pub fn revisions(&self) -> Vec<Revision> {
        self.migrations
            .iter()
            .map(|m| Revision {
                id: m.id.clone(),
                down_revisions: m.dependencies.clone(),
                branch_labels: Vec::new(),
                depends_on: Vec::new(),
                message: m.message.clone(),
                path: m.path.clone(),
                line: m.line,
            })
            .collect()
    }

    /// The migration in the graph with this id.
    pub fn get(&self, id: &str) -> Option<&DjangoMigration> {
        self.migrations.iter().find(|m| m.id == id)
    }

    /// Leaf nodes per app (migrations no other migration of the app depends on), as Django's
    /// `leaf_nodes(app)`; more than one is a [`ProblemKind::ConflictingLeaves`].
    pub fn leaves(&self) -> BTreeMap<String, Vec<String>> {
        let app_of: BTreeMap<&str, &str> = self
            .migrations
            .iter()
            .map(|m| (m.id.as_str(), m.app.as_str()))
            .collect();
        let mut has_child: BTreeSet<&str> = BTreeSet::new();
        for m in &self.migrations {
            for d in &m.dependencies {
                if app_of.get(d.as_str()) == Some(&m.app.as_str()) {
                    has_child.insert(d);
                }
            }
        }
        let mut leaves: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in &self.migrations {
            if !has_child.contains(m.id.as_str()) {
                leaves.entry(m.app.clone()).or_default().push(m.id.clone());
            }
        }
        for ids in leaves.values_mut() {
            ids.sort();
        }
        leaves
    }
}

/// Django's `manage.py` at the root, else the only one in a folder just below it
/// (`src/manage.py`). A `manage.py` that never mentions Django (Flask-Script's) is not one.
fn manage_py(root: &Path) -> Option<PathBuf> {
    let is_django = |p: &Path| {
        std::fs::read(p).is_ok_and(|text| {
            String::from_utf8_lossy(&text)
                .to_ascii_lowercase()
                .contains("django")
        })
    };
    let at_root = root.join("manage.py");
    if is_django(&at_root) {
        return Some(at_root);
    }
    let below: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path().join("manage.py"))
        .filter(|p| is_django(p))
        .collect();
    match below.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Folders a settings module's dotted path is looked up under: the project root, the folder of
/// `manage.py` (on `sys.path` when it runs), `src/`, and the root's parent when the module names
/// the root folder itself (a package's own test settings, `wagtail.test.settings` in `wagtail/`).
fn settings_bases(root: &Path, manage: Option<&Path>, module: Option<&str>) -> Vec<PathBuf> {
    let mut bases = vec![root.to_path_buf()];
    if let Some(dir) = manage.and_then(Path::parent) {
        bases.push(dir.to_path_buf());
    }
    bases.push(root.join("src"));
    let first = module.and_then(|m| m.split('.').next());
    if let (Some(parent), Some(first)) = (root.parent(), first) {
        if root.file_name().is_some_and(|n| n == first) {
            bases.push(parent.to_path_buf());
        }
    }
    bases.dedup();
    bases
}

fn looked_for(bases: &[PathBuf], module: &str) -> String {
    let rel = module.replace('.', "/");
    bases
        .iter()
        .map(|b| format!("{}.py", b.join(&rel).display()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn duplicate_label(app: &apps::FoundApp, first: &Path) -> Problem {
    let path = app
        .files
        .first()
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| app.migrations_dir.clone());
    Problem::new(
        ProblemKind::DuplicateId,
        path,
        format!(
            "app label '{}' of {} is also the label of {}: Django refuses two apps with one label (\"Application labels aren't unique\"); mrt reads only the first; set a distinct `label` in this app's AppConfig",
            app.label,
            crate::shown(&app.migrations_dir),
            crate::shown(first),
        ),
    )
    .at(1, None)
}

#[cfg(test)]
mod tests;
