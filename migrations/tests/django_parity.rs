//! mrt's Django graph against Django's own `MigrationLoader`, on the fixtures under
//! `fixtures/django/` and on the migrations that real PyPI packages ship (wagtail,
//! django-allauth, django-oauth-toolkit, django.contrib), installed in the interpreter
//! `MRT_PYTHON` (else the suite's virtualenv, tests/common/python.rs).
//!
//! `fixtures/django/loader_graph.py` imports the project with Django and prints its graph for a
//! fresh database. Each trial checks that every migration file parses, that mrt reads the same
//! files and apps, that the nodes, the dependency edges within the project and the leaf nodes
//! agree, that the dependencies mrt keeps as external point where Django's edges go, that the
//! squashes replace the same files, and (fixtures) that Django's plan order and its conflicts or
//! error are what mrt says. A trial prints its counts to stderr.
//!
//! Trials are reported *ignored with the reason* when the interpreter cannot import django, or
//! a package is not installed in it.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use mrt_migrations::django::{self, DjangoProject};
use mrt_migrations::ProblemKind;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A package from PyPI whose migrations are read as one project.
struct Package {
    /// The trial name and the module whose folder is the project root.
    module: &'static str,
    /// What to install when it is missing.
    pip: &'static str,
    /// Settings the package ships for its own tests (they install its test apps too).
    settings_module: Option<&'static str>,
    /// Apps from outside the package its migrations depend on; the package's own apps (those
    /// mrt finds) are added.
    base_apps: &'static [&'static str],
    /// More settings the apps insist on.
    settings: fn() -> Value,
}

const PACKAGES: &[Package] = &[
    Package {
        module: "wagtail",
        pip: "wagtail==6.3.8",
        settings_module: Some("wagtail.test.settings"),
        base_apps: &[],
        settings: || json!({}),
    },
    Package {
        module: "allauth",
        pip: "django-allauth==65.3.0 python3-openid==3.2.0",
        settings_module: None,
        base_apps: &[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sites",
            "allauth",
        ],
        settings: || json!({"MIDDLEWARE": ["allauth.account.middleware.AccountMiddleware"]}),
    },
    Package {
        module: "oauth2_provider",
        pip: "django-oauth-toolkit==3.0.1",
        settings_module: None,
        base_apps: &["django.contrib.auth", "django.contrib.contenttypes"],
        settings: || json!({}),
    },
    Package {
        module: "django.contrib",
        pip: "Django>=5,<6",
        settings_module: None,
        base_apps: &["django.contrib.messages"],
        settings: || json!({}),
    },
];

#[path = "../../tests/common/python.rs"]
mod suite_python;
use suite_python::python;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/django")
}

fn python_output(args: &[&str]) -> Result<String, String> {
    let out = Command::new(python())
        .args(args)
        .env_remove("DJANGO_SETTINGS_MODULE")
        .env("PYTHONWARNINGS", "ignore")
        .current_dir(std::env::temp_dir())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn main() {
    let args = Arguments::from_args();
    let no_django = match python_output(&["-c", "import django; print(django.get_version())"]) {
        Ok(version) if version.starts_with('5') => None,
        Ok(version) => Some(format!(
            "{} has Django {version}, the parity test wants 5.x",
            python()
        )),
        Err(e) => Some(format!(
            "`{} -c 'import django'` failed ({}); set MRT_PYTHON to an interpreter with Django 5.x",
            python(),
            e.lines().last().unwrap_or("")
        )),
    };
    let mut trials = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("expect.toml").is_file());
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let skip = no_django.clone();
        trials.push(Trial::ignorable_test(
            format!("parity::fixture::{name}"),
            move || match skip {
                Some(why) => Ok(Completion::ignored_with(why)),
                None => fixture(&dir).map(|()| Completion::Completed),
            },
        ));
    }
    for package in PACKAGES {
        let skip = no_django.clone();
        trials.push(Trial::ignorable_test(
            format!("parity::pypi::{}", package.module),
            move || match skip {
                Some(why) => Ok(Completion::ignored_with(why)),
                None => pypi(package),
            },
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Django's graph as `loader_graph.py` prints it.
fn django_graph(request: &Value) -> Result<Value, Failed> {
    let script = fixtures_root().join("loader_graph.py");
    let text = python_output(&[&script.to_string_lossy(), &request.to_string()])
        .map_err(|e| format!("loader_graph.py failed:\n{e}"))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text}"))?)
}

fn fixture(dir: &Path) -> Result<(), Failed> {
    let expect: toml::Value = toml::from_str(
        &std::fs::read_to_string(dir.join("expect.toml")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let want = expect
        .get("django")
        .cloned()
        .unwrap_or(toml::Value::Table(Default::default()));
    let project = django::load(dir, None, None).map_err(|e| e.to_string())?;
    let request = json!({
        "path": [dir],
        "settings_module": project.settings_module,
    });
    let graph = django_graph(&request)?;
    let error = &graph["error"];
    let want_error = want.get("error").and_then(|e| e.as_str());
    match (want_error, error["type"].as_str()) {
        (None, None) => {}
        (Some(w), Some(got)) if w == got => {
            let message = error["message"].as_str().unwrap_or("");
            let parts = want.get("message_contains").and_then(|m| m.as_array());
            for part in parts.into_iter().flatten().filter_map(|p| p.as_str()) {
                if !message.contains(part) {
                    return Err(format!(
                        "Django's {got} says {message:?}, expected it to name {part:?}"
                    )
                    .into());
                }
            }
            // mrt must report the same thing.
            let kind = match got {
                "NodeNotFoundError" => ProblemKind::MissingDependency,
                "CircularDependencyError" => ProblemKind::Cycle,
                "SyntaxError" => ProblemKind::Syntax,
                other => return Err(format!("no mrt problem kind for Django's {other}").into()),
            };
            if !project.problems.iter().any(|p| p.kind == kind) {
                return Err(format!(
                    "Django raised {got} ({message}); mrt reports {:#?}",
                    project.problems
                )
                .into());
            }
        }
        (w, got) => {
            return Err(format!(
                "Django's error is {got:?} ({}), expected {w:?}",
                error["message"]
            )
            .into())
        }
    }
    if graph.get("nodes").is_none() {
        eprintln!(
            "parity::fixture::{}: Django built no graph ({}); mrt's problems agree",
            name(dir),
            error["type"]
        );
        return Ok(());
    }
    let counts = compare(&project, &graph, dir)?;
    if let Some(conflicts) = graph.get("conflicts").and_then(Value::as_object) {
        let mrt: BTreeMap<String, Vec<String>> = project
            .leaves()
            .into_iter()
            .filter(|(_, leaves)| leaves.len() > 1)
            .map(|(app, leaves)| {
                (
                    app,
                    leaves
                        .iter()
                        .map(|l| l.split_once('.').unwrap().1.to_string())
                        .collect(),
                )
            })
            .collect();
        let django: BTreeMap<String, Vec<String>> = conflicts
            .iter()
            .map(|(app, names)| (app.clone(), strings(names)))
            .collect();
        if mrt != django {
            return Err(format!("conflicts: Django {django:?}, mrt {mrt:?}").into());
        }
        let reported: BTreeSet<&str> = project
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::ConflictingLeaves)
            .filter_map(|p| p.revision.as_deref())
            .collect();
        if reported.len() != django.len() {
            return Err(format!(
                "Django finds conflicts in {django:?}; mrt reports them for {reported:?}"
            )
            .into());
        }
    }
    if error.is_null() && !counts.plan_agrees {
        return Err(format!(
            "plan order differs: Django {:?}, mrt {:?}",
            counts.django_plan, counts.mrt_plan
        )
        .into());
    }
    eprintln!("parity::fixture::{}: {counts}", name(dir));
    Ok(())
}

fn name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn pypi(package: &Package) -> Result<Completion, Failed> {
    let located = python_output(&[
        "-c",
        &format!(
            "import {m}, os; print(os.path.realpath(list({m}.__path__)[0]))",
            m = package.module
        ),
    ]);
    let root = match located {
        Ok(path) => PathBuf::from(path),
        Err(_) => {
            return Ok(Completion::ignored_with(format!(
                "{} cannot import {}: `{} -m pip install {}`",
                python(),
                package.module,
                python(),
                package.pip
            )))
        }
    };
    // The folder sys.path holds the package in.
    let mut site = root.clone();
    for _ in package.module.split('.') {
        site.pop();
    }
    let found = django::load(&root, package.settings_module, None).map_err(|e| e.to_string())?;
    // Every migration file under the package parses, in installed apps or not.
    if !found.problems.is_empty() {
        let shown: Vec<String> = found.problems.iter().map(|p| p.to_string()).collect();
        return Err(format!(
            "mrt reports problems under {}:\n{}",
            root.display(),
            shown.join("\n")
        )
        .into());
    }
    let parsed = found.migrations.len() + found.replaced.len();
    let request = match package.settings_module {
        Some(module) => json!({"path": [], "settings_module": module}),
        None => {
            let mut apps: Vec<String> = package.base_apps.iter().map(|s| s.to_string()).collect();
            for app in &found.apps {
                let dir = app.migrations_dir.parent().unwrap_or(&app.migrations_dir);
                let module = dir
                    .strip_prefix(&site)
                    .map_err(|_| format!("{} is not under {}", dir.display(), site.display()))?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(".");
                if !apps.contains(&module) {
                    apps.push(module);
                }
            }
            json!({"path": [], "installed_apps": apps, "settings": (package.settings)()})
        }
    };
    let graph = django_graph(&request)?;
    if !graph["error"].is_null() {
        return Err(format!(
            "Django's loader failed on {}: {}",
            package.module, graph["error"]
        )
        .into());
    }
    // The apps the settings install: mrt finds every app under the root, the settings may
    // install fewer (wagtail's settings leave out its emailuser test app and project template).
    let installed = apps_under(&graph, &root);
    let labels: Vec<String> = installed.keys().cloned().collect();
    let not_installed: Vec<&str> = found
        .apps
        .iter()
        .map(|a| a.label.as_str())
        .filter(|l| !installed.contains_key(*l))
        .collect();
    let project =
        django::load(&root, package.settings_module, Some(&labels)).map_err(|e| e.to_string())?;
    let file_problems: Vec<String> = project.problems.iter().map(|p| p.to_string()).collect();
    if !file_problems.is_empty() {
        return Err(format!(
            "mrt reports problems on {}:\n{}",
            package.module,
            file_problems.join("\n")
        )
        .into());
    }
    let counts = compare(&project, &graph, &root)?;
    let mut note = format!(
        "parity::pypi::{}: {parsed} migration files under the package parse; compared: {counts}",
        package.module
    );
    if !not_installed.is_empty() {
        note.push_str(&format!(
            "; apps under the package the settings do not install (not compared): {}",
            not_installed.join(", ")
        ));
    }
    eprintln!("{note}");
    Ok(Completion::Completed)
}

/// Labels of the installed apps whose migrations folder lies under `root`, with that folder.
fn apps_under(graph: &Value, root: &Path) -> BTreeMap<String, PathBuf> {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    graph["apps"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(label, app)| {
            let dir = PathBuf::from(app["migrations_dir"].as_str()?);
            let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
            dir.starts_with(&root).then(|| (label.clone(), dir))
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// What a comparison counted.
struct Counts {
    apps: usize,
    files: usize,
    nodes: usize,
    edges: usize,
    external: usize,
    /// Edges Django has from other apps' migrations into the project that mrt cannot see
    /// (another app's `run_before`).
    unseen: usize,
    leaves: usize,
    replaced: usize,
    unresolved: usize,
    plan_agrees: bool,
    django_plan: Vec<String>,
    mrt_plan: Vec<String>,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} apps, {} files parsed, {} nodes, {} edges within the project, {} edges to other apps, {} leaves, {} replaced by squashes agree with Django",
            self.apps, self.files, self.nodes, self.edges, self.external, self.leaves, self.replaced
        )?;
        if self.unseen > 0 {
            write!(
                f,
                "; {} edges from other apps' run_before not visible to mrt",
                self.unseen
            )?;
        }
        if self.unresolved > 0 {
            write!(
                f,
                "; {} swappable dependencies mrt leaves unresolved",
                self.unresolved
            )?;
        }
        write!(
            f,
            "; plan order {}",
            if self.plan_agrees {
                "identical"
            } else {
                "differs (other apps' migrations interleave)"
            }
        )
    }
}

fn compare(project: &DjangoProject, graph: &Value, root: &Path) -> Result<Counts, Failed> {
    let mut wrong: Vec<String> = Vec::new();
    // Apps and their folders.
    let django_apps = apps_under(graph, root);
    let mrt_apps: BTreeMap<String, PathBuf> = project
        .apps
        .iter()
        .map(|a| {
            let dir = std::fs::canonicalize(&a.migrations_dir)
                .unwrap_or_else(|_| a.migrations_dir.clone());
            (a.label.clone(), dir)
        })
        .collect();
    if django_apps != mrt_apps {
        wrong.push(format!("apps: Django {django_apps:?}, mrt {mrt_apps:?}"));
    }
    let in_project = |id: &str| {
        id.split_once('.')
            .is_some_and(|(app, _)| mrt_apps.contains_key(app))
    };

    // Files: every migration module Django imported from the project's apps was read by mrt.
    let django_disk: BTreeSet<String> = strings(&graph["disk"])
        .into_iter()
        .filter(|id| in_project(id))
        .collect();
    let mut mrt_disk: BTreeSet<String> = project
        .migrations
        .iter()
        .chain(&project.replaced)
        .map(|m| m.id.clone())
        .collect();
    mrt_disk.extend(
        project
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::NotLiteral)
            .filter_map(|p| p.revision.clone()),
    );
    if django_disk != mrt_disk {
        wrong.push(format!(
            "files: only Django read {:?}; only mrt read {:?}",
            django_disk.difference(&mrt_disk).collect::<Vec<_>>(),
            mrt_disk.difference(&django_disk).collect::<Vec<_>>()
        ));
    }

    // Nodes and edges.
    let nodes: BTreeMap<String, Vec<String>> = graph["nodes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, parents)| (id.clone(), strings(parents)))
        .collect();
    let django_nodes: BTreeSet<&str> = nodes
        .keys()
        .map(String::as_str)
        .filter(|id| in_project(id))
        .collect();
    let mrt_nodes: BTreeSet<&str> = project.migrations.iter().map(|m| m.id.as_str()).collect();
    if django_nodes != mrt_nodes {
        wrong.push(format!(
            "nodes: only Django has {:?}; only mrt has {:?}",
            django_nodes.difference(&mrt_nodes).collect::<Vec<_>>(),
            mrt_nodes.difference(&django_nodes).collect::<Vec<_>>()
        ));
    }
    let unmigrated: BTreeSet<String> = strings(&graph["unmigrated"]).into_iter().collect();
    let (mut edges, mut external, mut unseen, mut unresolved) = (0, 0, 0, 0);
    for m in &project.migrations {
        let Some(parents) = nodes.get(&m.id) else {
            continue;
        };
        let django_inner: BTreeSet<&str> = parents
            .iter()
            .map(String::as_str)
            .filter(|p| in_project(p) && nodes.contains_key(*p))
            .collect();
        let mrt_inner: BTreeSet<&str> = m.dependencies.iter().map(String::as_str).collect();
        if django_inner != mrt_inner {
            wrong.push(format!(
                "dependencies of {}: Django {django_inner:?}, mrt {mrt_inner:?}",
                m.id
            ));
        }
        edges += mrt_inner.len();
        // Declared dependencies on other apps: Django has an edge into each (resolving
        // __first__/__latest__), except to apps without migrations, which it ignores.
        let django_outer: BTreeSet<&str> = parents
            .iter()
            .filter(|p| !in_project(p))
            .filter_map(|p| p.split_once('.').map(|(app, _)| app))
            .collect();
        let mrt_outer: BTreeSet<&str> = m
            .external
            .iter()
            .map(|(app, _)| app.as_str())
            .filter(|app| !unmigrated.contains(*app))
            .collect();
        if !mrt_outer.is_subset(&django_outer) {
            wrong.push(format!(
                "external dependencies of {}: Django {django_outer:?}, mrt {mrt_outer:?}",
                m.id
            ));
        }
        for (app, name) in &m.external {
            if name != "__first__" && name != "__latest__" && !unmigrated.contains(app) {
                let id = format!("{app}.{name}");
                if !parents.contains(&id) {
                    wrong.push(format!(
                        "{}: mrt keeps the dependency {id}, Django has no such edge",
                        m.id
                    ));
                }
            }
        }
        external += mrt_outer.len();
        unseen += django_outer.difference(&mrt_outer).count();
        unresolved += m.unresolved.len();
    }

    // Leaf nodes (Django computes them only when the graph is valid).
    let mut leaves = 0;
    if let Some(django_leaves) = graph.get("leaves") {
        let django: BTreeSet<String> = strings(django_leaves)
            .into_iter()
            .filter(|id| in_project(id))
            .collect();
        let mrt: BTreeSet<String> = project.leaves().into_values().flatten().collect();
        if django != mrt {
            wrong.push(format!("leaves: Django {django:?}, mrt {mrt:?}"));
        }
        leaves = mrt.len();
    }

    // Squashes: the replaced migrations on disk.
    let django_replaced: BTreeSet<String> = graph["replacements"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(squash, _)| in_project(squash))
        .flat_map(|(_, replaced)| strings(replaced))
        .filter(|id| django_disk.contains(id))
        .collect();
    let mrt_replaced: BTreeSet<String> = project.replaced.iter().map(|m| m.id.clone()).collect();
    if django_replaced != mrt_replaced {
        wrong.push(format!(
            "replaced: Django {django_replaced:?}, mrt {mrt_replaced:?}"
        ));
    }

    let django_plan: Vec<String> = strings(&graph["plan"])
        .into_iter()
        .filter(|id| in_project(id))
        .collect();
    let mrt_plan: Vec<String> = project.migrations.iter().map(|m| m.id.clone()).collect();
    if !wrong.is_empty() {
        return Err(wrong.join("\n").into());
    }
    Ok(Counts {
        apps: mrt_apps.len(),
        files: mrt_disk.len(),
        nodes: mrt_nodes.len(),
        edges,
        external,
        unseen,
        leaves,
        replaced: mrt_replaced.len(),
        unresolved,
        plan_agrees: graph.get("plan").is_none() || django_plan == mrt_plan,
        django_plan,
        mrt_plan,
    })
}
