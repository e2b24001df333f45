//! Finding a project's own apps: folders under the project with a `migrations` package, their
//! labels (`apps.py`), and the modules Django's loader lists in each `migrations` package.
//!
//! The listing follows `MigrationLoader.load_disk` (django/db/migrations/loader.py): the
//! migrations module must be a regular package (a folder without `__init__.py` is a namespace
//! package, and Django treats the app as unmigrated), its modules are those
//! `pkgutil.iter_modules` yields (sub-packages left out, a module name with a dot left out, a
//! package shadowing the module of the same name), minus names starting with `_` or `~`.

use super::source::{dotted, string, Source};
use crate::foreign::is_django_source;
use crate::{Problem, ProblemKind};
use rustpython_parser::ast::{self, Constant, Expr, Stmt};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Folders a project search does not enter: dependencies, caches, VCS data. Hidden folders and
/// virtual environments (a `pyvenv.cfg` inside) are skipped too.
const SKIPPED: &[&str] = &[
    "node_modules",
    "site-packages",
    "dist-packages",
    "target",
    "__pycache__",
    "venv",
];

/// An app folder with a migrations package.
#[derive(Debug, Clone)]
pub(crate) struct FoundApp {
    pub label: String,
    pub migrations_dir: PathBuf,
    /// The migration modules Django would import, by name, in name order.
    pub files: Vec<(String, PathBuf)>,
}

#[derive(Debug, Default)]
pub(crate) struct Discovery {
    /// In path order.
    pub apps: Vec<FoundApp>,
    pub problems: Vec<Problem>,
    pub ignored: Vec<(PathBuf, String)>,
}

/// Every app under `root` (see the module documentation).
pub(crate) fn discover(root: &Path) -> Discovery {
    let mut found = Discovery::default();
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_skipped(e));
    for entry in walker.flatten() {
        if entry.file_type().is_dir() && entry.file_name() == "migrations" && entry.depth() > 0 {
            examine(entry.path(), &mut found);
        }
    }
    found
}

fn is_skipped(e: &walkdir::DirEntry) -> bool {
    if !e.file_type().is_dir() {
        return false;
    }
    let name = e.file_name().to_string_lossy();
    name.starts_with('.')
        || SKIPPED.contains(&name.as_ref())
        || e.path().join("pyvenv.cfg").is_file()
}

fn examine(migrations_dir: &Path, found: &mut Discovery) {
    let Some(app_dir) = migrations_dir.parent() else {
        return;
    };
    let listing = list_modules(migrations_dir);
    let django_files: Vec<&PathBuf> = listing
        .sources
        .iter()
        .map(|(_, p)| p)
        .filter(|p| head(p).is_some_and(|t| is_django_source(&t)))
        .collect();
    if !listing.is_package {
        if let Some(first) = django_files.first() {
            found.problems.push(
                Problem::new(
                    ProblemKind::Malformed,
                    *first,
                    format!(
                        "{} has no __init__.py: Django treats it as a namespace package, takes the app for one without migrations and never runs the {} migration file{} in it; add an empty __init__.py",
                        crate::shown(migrations_dir),
                        django_files.len(),
                        if django_files.len() == 1 { "" } else { "s" },
                    ),
                )
                .at(1, None),
            );
        }
        return;
    }
    let is_app = app_dir.join("apps.py").is_file()
        || app_dir.join("models.py").is_file()
        || app_dir.join("models").join("__init__.py").is_file();
    if django_files.is_empty() && !is_app {
        found.ignored.push((
            migrations_dir.to_path_buf(),
            "a `migrations` package with no Django migration in it and no apps.py or models.py beside it: not an app's migrations".into(),
        ));
        return;
    }
    let folder = app_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = match app_label(&app_dir.join("apps.py")) {
        Ok(label) => label.unwrap_or(folder),
        Err(problem) => {
            found.problems.push(*problem);
            folder
        }
    };
    found.problems.extend(listing.compiled);
    found.ignored.extend(listing.ignored);
    found.apps.push(FoundApp {
        label,
        migrations_dir: migrations_dir.to_path_buf(),
        files: listing.sources,
    });
}

/// What `pkgutil.iter_modules` yields for a folder, sorted by name, split the way the loader
/// uses it.
#[derive(Debug, Default)]
pub(crate) struct ModuleListing {
    /// Whether the folder has an `__init__` module (a regular package).
    pub is_package: bool,
    /// Source modules Django imports as migrations: (module name, file).
    pub sources: Vec<(String, PathBuf)>,
    /// Compiled modules without a source beside them, which Django imports and mrt cannot read.
    pub compiled: Vec<Problem>,
    /// Files Django leaves out, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
}

/// Lists a migrations folder as `pkgutil._iter_file_finder_modules` does (names sorted, a
/// module name taken from the file name by its suffix, `__init__` and names already yielded
/// skipped, a folder yielded as a package only when it holds an `__init__` module, a name
/// with a dot skipped), then keeps what `load_disk` keeps: not packages, not `_*`, not `~*`.
pub(crate) fn list_modules(dir: &Path) -> ModuleListing {
    let mut listing = ModuleListing::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return listing;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut yielded: HashMap<String, ()> = HashMap::new();
    for file in names {
        let path = dir.join(&file);
        let module = module_name(&file);
        if module.as_deref() == Some("__init__") {
            listing.is_package = true;
            continue;
        }
        let (module, is_pkg) = match module {
            Some(m) => (m, false),
            None if path.is_dir() && !file.contains('.') => {
                if !list_has_init(&path) {
                    continue;
                }
                (file.clone(), true)
            }
            None => continue,
        };
        if module.contains('.') {
            if file.ends_with(".py") && !file.starts_with('.') {
                listing.ignored.push((
                    path,
                    "Django skips it: a module name cannot contain a dot".into(),
                ));
            }
            continue;
        }
        if yielded.insert(module.clone(), ()).is_some() {
            if file.ends_with(".py") {
                listing.ignored.push((
                    path,
                    format!("Django skips it: the package {module}/ of the same name comes first"),
                ));
            }
            continue;
        }
        if is_pkg {
            continue;
        }
        if module.starts_with(['_', '~']) {
            listing.ignored.push((
                path,
                "Django skips migration modules whose name starts with `_` or `~`".into(),
            ));
            continue;
        }
        if file.ends_with(".py") {
            listing.sources.push((module, path));
        } else {
            listing.compiled.push(
                Problem::new(
                    ProblemKind::Unreadable,
                    &path,
                    format!("compiled module {module} without its source: Django imports it as a migration, mrt cannot read it; delete it, or restore {module}.py"),
                )
                .of(module),
            );
        }
    }
    listing
}

/// `inspect.getmodulename`: the name without a module suffix (`.py`, `.pyc`, extension
/// modules), or `None` for a file that is not a module.
fn module_name(file: &str) -> Option<String> {
    if let Some(stem) = file
        .strip_suffix(".py")
        .or_else(|| file.strip_suffix(".pyc"))
    {
        return Some(stem.to_string());
    }
    if file.ends_with(".so") || file.ends_with(".pyd") {
        // `x.cpython-311-x86_64-linux-gnu.so`, `x.abi3.so`, `x.so`
        return file.split('.').next().map(str::to_string);
    }
    None
}

fn list_has_init(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| module_name(&e.file_name().to_string_lossy()).as_deref() == Some("__init__"))
    })
}

/// The first 8 KiB of a file, enough for a migration's header.
fn head(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = vec![0; 8192];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// An `AppConfig` subclass of `apps.py`, with what it sets.
#[derive(Debug, Default, Clone)]
struct Config {
    base: Option<String>,
    label: Option<Result<String, usize>>,
    name: Option<Result<String, usize>>,
    default: Option<bool>,
}

/// The label `apps.py` gives the app, read as Django's `AppConfig.create` picks the config
/// (django/apps/config.py): the only `AppConfig` subclass not marked `default = False`, else
/// the only one marked `default = True`; its `label`, else the last part of its `name`. `None`
/// when apps.py is absent or picks no config: the label is then the folder name.
pub(crate) fn app_label(apps_py: &Path) -> Result<Option<String>, Box<Problem>> {
    if !apps_py.is_file() {
        return Ok(None);
    }
    let source = Source::read(apps_py)?;
    let mut configs: BTreeMap<String, (usize, Config)> = BTreeMap::new();
    for (i, stmt) in source.suite.iter().enumerate() {
        let Stmt::ClassDef(class) = stmt else {
            continue;
        };
        let mut config = Config {
            base: class.bases.first().and_then(dotted),
            ..Config::default()
        };
        for s in &class.body {
            let (targets, value) = match s {
                Stmt::Assign(a) => (a.targets.iter().collect::<Vec<_>>(), &*a.value),
                Stmt::AnnAssign(ast::StmtAnnAssign {
                    target,
                    value: Some(value),
                    ..
                }) => (vec![target.as_ref()], value.as_ref()),
                _ => continue,
            };
            for t in targets {
                let Expr::Name(n) = t else { continue };
                let literal = || {
                    string(value)
                        .map(str::to_string)
                        .ok_or(source.line_of(value))
                };
                match n.id.as_str() {
                    "label" => config.label = Some(literal()),
                    "name" => config.name = Some(literal()),
                    "default" => {
                        config.default = match value {
                            Expr::Constant(ast::ExprConstant {
                                value: Constant::Bool(b),
                                ..
                            }) => Some(*b),
                            _ => None,
                        }
                    }
                    _ => {}
                }
            }
        }
        configs.insert(class.name.to_string(), (i, config));
    }
    // Classes deriving, in this file, from AppConfig; fields inherited from a parent here.
    let resolved: Vec<(usize, Config)> = configs
        .values()
        .filter_map(|(i, c)| resolve(c, &configs, 0).map(|c| (*i, c)))
        .collect();
    let mut candidates: Vec<&(usize, Config)> = resolved
        .iter()
        .filter(|(_, c)| c.default != Some(false))
        .collect();
    if candidates.len() != 1 {
        candidates.retain(|(_, c)| c.default == Some(true));
    }
    let [(_, chosen)] = candidates.as_slice() else {
        return Ok(None);
    };
    let not_literal = |field: &str, line: usize| {
        Box::new(
            Problem::new(
                ProblemKind::NotLiteral,
                apps_py,
                format!("the app config's `{field}` is not a string literal; mrt takes the folder name as the app label"),
            )
            .at(line, None),
        )
    };
    match (&chosen.label, &chosen.name) {
        (Some(Ok(label)), _) => Ok(Some(label.clone())),
        (Some(Err(line)), _) => Err(not_literal("label", *line)),
        (None, Some(Ok(name))) => Ok(Some(name.rsplit('.').next().unwrap_or(name).to_string())),
        (None, Some(Err(line))) => Err(not_literal("name", *line)),
        (None, None) => Ok(None),
    }
}

/// The config with fields inherited from same-file parents, if it derives from `AppConfig`.
fn resolve(c: &Config, all: &BTreeMap<String, (usize, Config)>, depth: usize) -> Option<Config> {
    let base = c.base.as_deref()?;
    if base == "AppConfig" || base.ends_with(".AppConfig") {
        return Some(c.clone());
    }
    let (_, parent) = all.get(base)?;
    if depth > 8 {
        return None;
    }
    let parent = resolve(parent, all, depth + 1)?;
    Some(Config {
        base: c.base.clone(),
        label: c.label.clone().or(parent.label),
        name: c.name.clone().or(parent.name),
        // `default` is read with getattr, so it is inherited too.
        default: c.default.or(parent.default),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    const MIGRATION: &str = "from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = []\n";

    fn label(text: &str) -> Result<Option<String>, Box<Problem>> {
        let dir = tempfile::tempdir().unwrap();
        app_label(&write(dir.path(), "apps.py", text))
    }

    #[test]
    fn labels_follow_django_config_choice() {
        let single = "from django.apps import AppConfig\nclass ShopConfig(AppConfig):\n    name = 'project.shop'\n    label = 'store'\n";
        assert_eq!(label(single).unwrap().as_deref(), Some("store"));
        let by_name = "from django.apps import AppConfig\nclass C(AppConfig):\n    name = 'project.catalog'\n";
        assert_eq!(label(by_name).unwrap().as_deref(), Some("catalog"));
        let two = "from django.apps import AppConfig\nclass A(AppConfig):\n    name = 'x.a'\n    label = 'first'\nclass B(AppConfig):\n    name = 'x.a'\n    label = 'second'\n    default = True\n";
        assert_eq!(label(two).unwrap().as_deref(), Some("second"));
        let undecided = "from django.apps import AppConfig\nclass A(AppConfig):\n    label = 'a'\nclass B(AppConfig):\n    label = 'b'\n";
        assert_eq!(
            label(undecided).unwrap(),
            None,
            "Django uses a plain AppConfig"
        );
        let opted_out = "from django import apps\nclass A(apps.AppConfig):\n    label = 'a'\n    default = False\n";
        assert_eq!(label(opted_out).unwrap(), None);
        let inherited = "from django.apps import AppConfig\nclass Base(AppConfig):\n    label = 'base'\n    default = False\nclass Real(Base):\n    name = 'p.real'\n    default = True\n";
        assert_eq!(label(inherited).unwrap().as_deref(), Some("base"));
        let computed =
            "from django.apps import AppConfig\nclass A(AppConfig):\n    label = PREFIX + 'x'\n";
        assert_eq!(label(computed).unwrap_err().line, Some(3));
    }

    #[test]
    fn listing_follows_pkgutil_and_the_loader() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("migrations");
        for f in [
            "__init__.py",
            "0001_initial.py",
            "0002_b.py",
            "_helpers.py",
            "~0003_old.py",
            "0004_x.orig.py",
            "0005_gone.pyc",
            "README.md",
        ] {
            write(&m, f, MIGRATION);
        }
        write(&m, "pkg/__init__.py", "");
        write(&m, "pkg.py", MIGRATION);
        write(&m, "notpkg/x.py", "");
        write(&m, "__pycache__/0001_initial.cpython-311.pyc", "");
        let l = list_modules(&m);
        assert!(l.is_package);
        let names: Vec<&str> = l.sources.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["0001_initial", "0002_b"]);
        assert_eq!(l.compiled.len(), 1);
        assert!(l.compiled[0].message.contains("0005_gone"));
        let ignored: Vec<String> = l
            .ignored
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            ignored,
            ["0004_x.orig.py", "_helpers.py", "pkg.py", "~0003_old.py"]
        );
    }

    #[test]
    fn discovery_finds_apps_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "users/apps.py", "from django.apps import AppConfig\nclass U(AppConfig):\n    name = 'users'\n    label = 'accounts'\n");
        write(r, "users/migrations/__init__.py", "");
        write(r, "users/migrations/0001_initial.py", MIGRATION);
        // An app without migrations yet: still an app (a dependency on it must not be external).
        write(r, "blog/models.py", "");
        write(r, "blog/migrations/__init__.py", "");
        // A helper package called migrations, not an app.
        write(r, "lib/blocks/migrations/__init__.py", "");
        write(r, "lib/blocks/migrations/operations.py", "def f(): pass\n");
        // Forgotten __init__.py.
        write(r, "shop/migrations/0001_initial.py", MIGRATION);
        // Alembic's folder.
        write(
            r,
            "alembic_proj/migrations/env.py",
            "from alembic import context\n",
        );
        // Environments.
        write(r, ".venv/lib/x/migrations/__init__.py", "");
        write(r, "myenv/pyvenv.cfg", "");
        write(r, "myenv/lib/site-packages/y/migrations/__init__.py", "");
        write(
            r,
            "myenv/lib/site-packages/y/migrations/0001_initial.py",
            MIGRATION,
        );
        let d = discover(r);
        let labels: Vec<&str> = d.apps.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["blog", "accounts"]);
        assert_eq!(d.apps[1].files.len(), 1);
        assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
        assert!(d.problems[0].message.contains("no __init__.py"));
        assert!(d.problems[0]
            .path
            .ends_with("shop/migrations/0001_initial.py"));
        assert_eq!(d.ignored.len(), 1);
        assert!(d.ignored[0].0.ends_with("lib/blocks/migrations"));
    }
}
