//! One path convention: the table format shows paths from the current directory (absolute when
//! the project is not below it); SARIF, GitHub annotations, JSON and JUnit show them from the
//! repository root (found by `.git` above the project), or after `--path-prefix`.

mod check_common;
mod common;

use check_common::{copy_dir_into, fixture, run};
use std::path::Path;

const FILE: &str = "migrations/versions/b2c3d4e5f6a1_drop_users_email.py";

/// A repository (a `.git` folder) with the `errors` fixture at `services/api`.
fn repository() -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(repo.path().join(".git")).expect("mkdir .git");
    copy_dir_into(&fixture("errors"), &repo.path().join("services/api"));
    repo
}

fn first_line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
}

#[test]
fn table_paths_are_from_the_current_directory() {
    let repo = repository();
    let from_services = run(&["check", "api"], &repo.path().join("services"));
    assert_eq!(from_services.code, Some(2), "{}", from_services.stderr);
    let line = first_line_with(&from_services.stdout, "MRT201");
    assert!(line.starts_with(&format!("api/{FILE}:19:")), "{line}");

    let inside = run(&["check"], &repo.path().join("services/api"));
    let line = first_line_with(&inside.stdout, "MRT201");
    assert!(line.starts_with(&format!("{FILE}:19:")), "{line}");

    // From a folder the project is not below: absolute, so it still opens.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let project = repo.path().join("services/api").canonicalize().unwrap();
    let arg = project.to_string_lossy().into_owned();
    let outside = run(&["check", &arg], elsewhere.path());
    let line = first_line_with(&outside.stdout, "MRT201");
    let want = format!("{}/{FILE}:19:", project.display());
    assert!(line.starts_with(&want), "{line}\nwant {want}");
    assert!(Path::new(line.split(':').next().unwrap()).is_file());
}

#[test]
fn tool_formats_are_from_the_repository_root() {
    let repo = repository();
    let cwd = repo.path().join("services/api");
    let want = format!("services/api/{FILE}");

    let json = run(&["check", "--format", "json"], &cwd);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let paths: Vec<&str> = (value["findings"].as_array().unwrap().iter())
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(paths.contains(&want.as_str()), "{paths:?}");
    assert!(
        paths.iter().all(|p| p.starts_with("services/api/")),
        "{paths:?}"
    );

    let sarif = run(
        &["check", "--format", "sarif", "api"],
        &repo.path().join("services"),
    );
    let value: serde_json::Value = serde_json::from_str(&sarif.stdout).expect("sarif");
    let uris: Vec<&str> = (value["runs"][0]["results"].as_array().unwrap().iter())
        .filter_map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str())
        .collect();
    assert!(uris.contains(&want.as_str()), "{uris:?}");

    let github = run(
        &["check", "--format", "github", "services/api"],
        repo.path(),
    );
    let line = first_line_with(&github.stdout, "MRT201");
    assert!(line.contains(&format!("file={want},line=19")), "{line}");

    let junit = run(&["check", "--format", "junit"], &cwd);
    assert!(
        junit.stdout.contains(&format!("file=\"{want}\"")),
        "{}",
        junit.stdout
    );
}

#[test]
fn path_prefix_replaces_the_repository_one() {
    let repo = repository();
    let cwd = repo.path().join("services/api");
    let github = run(
        &["check", "--format", "github", "--path-prefix", "app"],
        &cwd,
    );
    let line = first_line_with(&github.stdout, "MRT201");
    assert!(line.contains(&format!("file=app/{FILE},line=19")), "{line}");
    let github = run(&["check", "--format", "github", "--path-prefix="], &cwd);
    let line = first_line_with(&github.stdout, "MRT201");
    assert!(line.contains(&format!("file={FILE},line=19")), "{line}");
    // Not in a repository at all: paths from the project.
    let bare = check_common::copy_fixture("errors");
    let github = run(&["check", "--format", "github"], bare.path());
    let line = first_line_with(&github.stdout, "MRT201");
    assert!(line.contains(&format!("file={FILE},line=19")), "{line}");
}
