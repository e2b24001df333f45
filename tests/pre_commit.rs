//! `.pre-commit-hooks.yaml`: pre-commit accepts it, its `entry` is an `mrt` command that runs,
//! and its `files` pattern picks migration files (and leaves the rest of a repository alone).

mod common;

use libtest_mimic::{Arguments, Completion, Trial};
use serde_json::Value;
use std::process::{Command, Output};

const MANIFEST: &str = ".pre-commit-hooks.yaml";

/// Reads the manifest with pre-commit's own loader (defaults filled in, `entry` split as
/// pre-commit splits it) and tries its `files` pattern on a few paths.
const LOAD: &str = r#"
import json, re, shlex, sys
from pre_commit.clientlib import load_manifest
paths = json.loads(sys.argv[2])
hooks = [
    {**h, "argv": shlex.split(h["entry"]),
     "matched": [p for p in paths if re.search(h["files"], p)]}
    for h in load_manifest(sys.argv[1])
]
print(json.dumps(hooks, default=str))
"#;

/// The paths the hook must run for, then those it must not.
const MIGRATIONS: &[&str] = &[
    "db/migrations/versions/a1b2c3d4e5f6_create_users.py",
    "alembic/versions/2024_01_01_init.py",
    "shop/orders/migrations/0002_order_total.py",
    "sql/20240101000000_init.up.sql",
    "V2__add_users.sql",
    "db/mrt.toml",
    "alembic.ini",
];
const OTHER_FILES: &[&str] = &["src/app.py", "README.md", "shop/orders/models.py"];

/// Each test is reported ignored, with the reason, when the suite's Python (tests/common/python.rs)
/// has no pre-commit.
fn main() {
    let args = Arguments::from_args();
    let missing = (!common::python_has("pre_commit")).then(|| {
        format!(
            "{} cannot import pre_commit (pip install -r tests/requirements.txt, or unset \
             MRT_PYTHON to let the suite make its own virtualenv)",
            common::python()
        )
    });
    let tests: [(&str, fn()); 3] = [
        (
            "pre_commit_validates_the_manifest",
            pre_commit_validates_the_manifest,
        ),
        (
            "the_hook_runs_mrt_check_on_the_whole_project",
            the_hook_runs_mrt_check_on_the_whole_project,
        ),
        (
            "the_hook_runs_for_migration_files_only",
            the_hook_runs_for_migration_files_only,
        ),
    ];
    let trials = tests.map(|(name, test)| {
        let missing = missing.clone();
        Trial::ignorable_test(name, move || match missing {
            Some(why) => Ok(Completion::ignored_with(why)),
            None => {
                test();
                Ok(Completion::Completed)
            }
        })
    });
    libtest_mimic::run(&args, trials.into()).exit();
}

fn python_with_pre_commit() -> String {
    common::python()
}

fn shown(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn pre_commit_validates_the_manifest() {
    let out = Command::new(python_with_pre_commit())
        .args(["-m", "pre_commit", "validate-manifest", MANIFEST])
        .current_dir(common::repo())
        .output()
        .expect("run pre-commit");
    assert!(out.status.success(), "{}", shown(&out));
}

fn mrt_check_hook() -> Value {
    let paths: Vec<&str> = MIGRATIONS.iter().chain(OTHER_FILES).copied().collect();
    let out = Command::new(python_with_pre_commit())
        .args(["-c", LOAD, MANIFEST])
        .arg(serde_json::to_string(&paths).expect("paths as JSON"))
        .current_dir(common::repo())
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", shown(&out));
    let hooks: Value = serde_json::from_slice(&out.stdout).expect("hooks as JSON");
    let hook = (hooks.as_array().into_iter().flatten()).find(|h| h["id"] == "mrt-check");
    hook.cloned()
        .unwrap_or_else(|| panic!("no mrt-check hook: {hooks}"))
}

fn the_hook_runs_mrt_check_on_the_whole_project() {
    let hook = mrt_check_hook();
    assert_eq!(hook["language"], "rust", "{hook}");
    assert_eq!(hook["pass_filenames"], false, "{hook}");
    let argv: Vec<&str> = (hook["argv"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let Some((&"mrt", entry_args)) = argv.split_first() else {
        panic!("entry is not an mrt command: {hook}");
    };
    // As a user's `args: [fixtures/check/clean]` would run it, from the repository root.
    let out = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(entry_args)
        .arg("fixtures/check/clean")
        .current_dir(common::repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("run mrt");
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" in 3 files; 0 skipped"), "{}", shown(&out));
}

fn the_hook_runs_for_migration_files_only() {
    let hook = mrt_check_hook();
    let matched: Vec<&str> = (hook["matched"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(matched, MIGRATIONS, "files: {}", hook["files"]);
}
