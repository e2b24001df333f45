//! Migrations mrt does not read yet (Django, SQL files). A folder holding them is named for what
//! it is, so `mrt check` never reports "0 files" on a project it did not understand.

use std::path::Path;

/// Folders a project search does not enter: dependencies, caches, VCS data.
const SKIPPED: &[&str] = &[
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "target",
    "__pycache__",
    "site-packages",
];

/// What is in `dir` if it is a Django project or has SQL migration files, as a sentence
/// naming an example file; `None` when neither is there.
pub fn detect(dir: &Path) -> Option<Foreign> {
    let mut django: Vec<String> = Vec::new();
    let mut sql: Vec<String> = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .max_depth(5)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_skipped(e));
    for entry in walker.flatten().filter(|e| e.file_type().is_file()) {
        let path = entry.path();
        let rel = path.strip_prefix(dir).unwrap_or(path).display().to_string();
        if is_django_migration(path) {
            django.push(rel);
        } else if is_sql_migration(path) {
            sql.push(rel);
        }
    }
    let manage = dir.join("manage.py").is_file();
    if manage || !django.is_empty() {
        let what = if manage {
            "a Django project (manage.py)"
        } else {
            "Django migrations"
        };
        return Some(Foreign::Django(format!(
            "found {what}{}",
            files_text(&django)
        )));
    }
    (!sql.is_empty()).then(|| Foreign::Sql(format!("found SQL migrations{}", files_text(&sql))))
}

/// What [`detect`] found, as a sentence naming an example file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Foreign {
    Django(String),
    /// SQL migration files somewhere mrt's SQL detection does not look.
    Sql(String),
}

fn files_text(files: &[String]) -> String {
    match files.first() {
        None => String::new(),
        Some(first) => format!(
            " with {} migration file{} such as {}",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            crate::escape(first)
        ),
    }
}

fn is_skipped(e: &walkdir::DirEntry) -> bool {
    e.file_type().is_dir() && e.file_name().to_str().is_some_and(|n| SKIPPED.contains(&n))
}

/// A `.py` file in a `migrations` folder that declares a Django `Migration` class.
pub fn is_django_migration(path: &Path) -> bool {
    let in_migrations = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "migrations");
    let is_py = path.extension().is_some_and(|e| e == "py");
    is_py && in_migrations && head(path).is_some_and(|t| is_django_source(&t))
}

/// Django's generated header: `from django.db import migrations` and a `Migration` class.
pub fn is_django_source(text: &str) -> bool {
    text.contains("django.db") && text.contains("class Migration(")
}

/// `*.up.sql`, `up.sql` (diesel), `V1__name.sql` (Flyway, refinery), or a `-- migrate:up` header
/// (dbmate).
pub fn is_sql_migration(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if !name.ends_with(".sql") {
        return false;
    }
    let versioned = name.strip_prefix(['V', 'v']).is_some_and(|rest| {
        rest.split_once("__").is_some_and(|(v, _)| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
        })
    });
    name.ends_with(".up.sql")
        || name == "up.sql"
        || versioned
        || head(path).is_some_and(|t| t.contains("-- migrate:up"))
}

/// The first 8 KiB of a file, enough for a migration's header.
fn head(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = vec![0; 8192];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}
