//! Whole-project tests on small projects written to a temporary folder.

use super::*;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
}

fn migration(deps: &str) -> String {
    format!("from django.conf import settings\nfrom django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = [{deps}]\n    operations = []\n")
}

fn app(root: &Path, label: &str, files: &[(&str, &str)]) {
    write(root, &format!("{label}/__init__.py"), "");
    write(root, &format!("{label}/models.py"), "");
    write(root, &format!("{label}/migrations/__init__.py"), "");
    for (name, deps) in files {
        write(
            root,
            &format!("{label}/migrations/{name}.py"),
            &migration(deps),
        );
    }
}

fn manage(root: &Path, module: &str) {
    write(
        root,
        "manage.py",
        &format!("import os\nimport sys\n\n\ndef main():\n    os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"{module}\")\n\n\nif __name__ == \"__main__\":\n    main()\n"),
    );
}

fn ids(p: &DjangoProject) -> Vec<&str> {
    p.migrations.iter().map(|m| m.id.as_str()).collect()
}

#[test]
fn settings_module_priority_and_swappable_user_model() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    manage(r, "site.settings");
    write(r, "site/__init__.py", "");
    write(r, "site/settings.py", "AUTH_USER_MODEL = 'accounts.User'\n");
    write(r, "site/other.py", "AUTH_USER_MODEL = 'people.Person'\n");
    app(r, "accounts", &[("0001_initial", "")]);
    app(r, "people", &[("0001_initial", "")]);
    app(
        r,
        "blog",
        &[(
            "0001_initial",
            "migrations.swappable_dependency(settings.AUTH_USER_MODEL)",
        )],
    );

    let p = load_with_env(r, None, None, None).unwrap();
    assert_eq!(p.settings_module.as_deref(), Some("site.settings"));
    assert!(p
        .settings_file
        .as_ref()
        .unwrap()
        .ends_with("site/settings.py"));
    assert_eq!(p.auth_user_model.as_deref(), Some("accounts.User"));
    assert_eq!(
        p.get("blog.0001_initial").unwrap().dependencies,
        ["accounts.0001_initial"]
    );

    // $DJANGO_SETTINGS_MODULE wins over manage.py's default, as setdefault does; the override wins over both.
    let p = load_with_env(r, None, Some("site.other"), None).unwrap();
    assert_eq!(
        p.get("blog.0001_initial").unwrap().dependencies,
        ["people.0001_initial"]
    );
    let p = load_with_env(r, Some("site.settings"), Some("site.other"), None).unwrap();
    assert_eq!(
        p.get("blog.0001_initial").unwrap().dependencies,
        ["accounts.0001_initial"]
    );

    let err = load_with_env(r, Some("site.nope"), None, None).unwrap_err();
    assert!(matches!(err, DjangoError::SettingsNotFound { .. }), "{err}");

    // A module is looked up in the root's parent only when it names the root folder itself.
    let inner = r.join("site");
    app(&inner, "blog2", &[("0001_initial", "")]);
    let p = load_with_env(&inner, Some("site.settings"), None, None).unwrap();
    assert!(p.settings_file.unwrap().ends_with("site/settings.py"));
    assert!(load_with_env(&inner.join("blog2"), Some("site.settings"), None, None).is_err());
}

#[test]
fn default_and_computed_user_models() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    manage(r, "site.settings");
    write(r, "site/settings.py", "DEBUG = True\n");
    app(
        r,
        "blog",
        &[(
            "0001_initial",
            "migrations.swappable_dependency(settings.AUTH_USER_MODEL)",
        )],
    );
    let p = load_with_env(r, None, None, None).unwrap();
    assert_eq!(p.auth_user_model.as_deref(), Some("auth.User"));
    let m = p.get("blog.0001_initial").unwrap();
    assert_eq!(m.external, [("auth".to_string(), "__first__".to_string())]);
    assert!(m.dependencies.is_empty() && m.unresolved.is_empty());

    write(
        r,
        "site/settings.py",
        "AUTH_USER_MODEL = env('USER_MODEL')\n",
    );
    let p = load_with_env(r, None, None, None).unwrap();
    assert_eq!(p.auth_user_model, None);
    let m = p.get("blog.0001_initial").unwrap();
    assert_eq!(m.unresolved, ["settings.AUTH_USER_MODEL"]);
    assert!(m.external.is_empty());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn restricting_apps_makes_the_others_environment() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    manage(r, "site.settings");
    app(r, "a", &[("0001_initial", "")]);
    app(r, "b", &[("0001_initial", "('a', '0001_initial')")]);
    let only = vec!["b".to_string()];
    let p = load_with_env(r, None, None, Some(&only)).unwrap();
    assert_eq!(ids(&p), ["b.0001_initial"]);
    assert_eq!(
        p.migrations[0].external,
        [("a".to_string(), "0001_initial".to_string())]
    );
    let bad = vec!["c".to_string()];
    match load_with_env(r, None, None, Some(&bad)).unwrap_err() {
        DjangoError::UnknownApps { unknown, known } => {
            assert_eq!(unknown, ["c"]);
            assert_eq!(known, ["a", "b"]);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn duplicate_labels_keep_the_first_app() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    manage(r, "site.settings");
    app(r, "one/shop", &[("0001_initial", "")]);
    app(
        r,
        "two/shop",
        &[("0001_initial", ""), ("0002_x", "('shop', '0001_initial')")],
    );
    let p = load_with_env(r, None, None, None).unwrap();
    assert_eq!(ids(&p), ["shop.0001_initial"]);
    assert!(p.migrations[0].path.starts_with(r.join("one")));
    assert_eq!(p.shadowed.len(), 2);
    assert_eq!(p.problems.len(), 1);
    assert_eq!(p.problems[0].kind, ProblemKind::DuplicateId);
    assert!(p.problems[0].path.starts_with(r.join("two")));
}

#[test]
fn broken_files_are_problems_and_leave_the_rest_usable() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    manage(r, "site.settings");
    app(
        r,
        "a",
        &[("0001_initial", ""), ("0003_z", "('a', '0002_broken')")],
    );
    write(
        r,
        "a/migrations/0002_broken.py",
        "class Migration(migrations.Migration:\n",
    );
    let p = load_with_env(r, None, None, None).unwrap();
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    let problem = &p.problems[0];
    assert_eq!(problem.kind, ProblemKind::Syntax);
    assert_eq!(problem.line, Some(1));
    assert_eq!(problem.revision.as_deref(), Some("a.0002_broken"));
    assert_eq!(ids(&p), ["a.0001_initial", "a.0003_z"]);
}

#[test]
fn revisions_leaves_and_detection() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    assert_eq!(detect(r), None);
    // Flask-Script's manage.py, Alembic's migrations folder: not Django.
    write(r, "manage.py", "from flask_script import Manager\n");
    write(r, "migrations/env.py", "from alembic import context\n");
    write(r, "migrations/versions/a1_x.py", "revision = 'a1'\n");
    assert_eq!(detect(r), None);
    assert!(matches!(
        load_with_env(r, None, None, None),
        Err(DjangoError::NotFound { .. })
    ));
    app(
        r,
        "a",
        &[("0001_initial", ""), ("0002_x", "('a', '0001_initial')")],
    );
    assert_eq!(
        detect(r).as_deref(),
        Some("Django migrations in app a (no manage.py)")
    );
    manage(r, "site.settings");
    assert_eq!(
        detect(r).as_deref(),
        Some("a Django project (manage.py, settings site.settings)")
    );
    write(r, "a/migrations/0002_x.py", "\"\"\"Add x.\"\"\"\nfrom django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = [('a', '0001_initial')]\n");
    let p = load_with_env(r, None, None, None).unwrap();
    let revs = p.revisions();
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1].id, "a.0002_x");
    assert_eq!(revs[1].down_revisions, ["a.0001_initial"]);
    assert_eq!(revs[1].message.as_deref(), Some("Add x."));
    assert_eq!(revs[1].line, 4);
    assert_eq!(p.leaves()["a"], ["a.0002_x"]);
    let graph = crate::RevisionGraph::build(revs, &[]);
    assert!(graph.problems().is_empty());
    assert_eq!(graph.heads().len(), 1);
}

#[test]
fn no_project_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        load_with_env(dir.path(), None, None, None),
        Err(DjangoError::NotFound { .. })
    ));
}
