//! `mrt check` config keys (`skip`, `minimum_revision`, `severity`, `opt_in`, `dialect`) and the
//! selection flags (`--since`, `--since-git`, `--select`), on copies of `fixtures/check/errors`:
//! a1b2c3d4e5f6 (create) <- b2c3d4e5f6a1 (MRT201 error) <- c3d4e5f6a1b2 (MRT204 warning)
//! <- d4e5f6a1b2c3 (clean).

mod check_common;
mod common;

use check_common::{check_json, copy_fixture, revisions_with_findings, run, severities, write};
use std::path::Path;
use std::process::Command;

const DROP_REV: &str = "b2c3d4e5f6a1";
const CASCADE_REV: &str = "c3d4e5f6a1b2";

fn with_config(config: &str) -> tempfile::TempDir {
    let dir = copy_fixture("errors");
    write(dir.path(), "mrt.toml", config);
    dir
}

#[test]
fn skip_shows_the_reason_and_does_not_lint() {
    let dir = with_config("[skip]\nb2c3d4e5f6a1 = \"column unused since v2, approved by DBA\"\n");
    let (code, report, _) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1), "only the warning is left");
    assert_eq!(revisions_with_findings(&report), [CASCADE_REV]);
    assert_eq!(report["skipped"][0]["revision"], DROP_REV);
    assert_eq!(
        report["skipped"][0]["reason"],
        "column unused since v2, approved by DBA"
    );
    assert_eq!(report["summary"]["files"], 3);
    let table = run(&["check"], dir.path()).stdout;
    assert!(
        table.contains("skipped  revision b2c3d4e5f6a1: column unused since v2, approved by DBA"),
        "{table}"
    );
}

#[test]
fn skip_of_an_unknown_revision_is_a_config_error() {
    let dir = with_config("[skip]\nnot_a_rev = \"typo\"\n");
    let r = run(&["check"], dir.path());
    assert_eq!(r.code, Some(3));
    assert!(
        r.stderr.contains("not_a_rev") && r.stderr.contains("skip"),
        "{}",
        r.stderr
    );
}

#[test]
fn minimum_revision_checks_it_and_its_descendants_only() {
    let dir = with_config("minimum_revision = \"c3d4e5f6a1b2\"\n");
    let (code, report, _) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(revisions_with_findings(&report), [CASCADE_REV]);
    assert_eq!(report["summary"]["files"], 2, "c3 and d4");
    let dir = with_config("minimum_revision = \"b2c3d4e5f6a1\"\n");
    let (code, report, _) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(2), "the minimum revision itself is checked");
    assert_eq!(revisions_with_findings(&report), [DROP_REV, CASCADE_REV]);
}

#[test]
fn unknown_minimum_revision_is_a_config_error() {
    let dir = with_config("minimum_revision = \"deadbeef\"\n");
    let r = run(&["check"], dir.path());
    assert_eq!(r.code, Some(3));
    assert!(
        r.stderr.contains("minimum_revision") && r.stderr.contains("deadbeef"),
        "{}",
        r.stderr
    );
}

#[test]
fn severity_overrides_by_code_and_by_name() {
    let dir = with_config("[severity]\nMRT201 = \"warning\"\n\"cascade-delete\" = \"info\"\n");
    let (code, report, _) = check_json(dir.path(), &[]);
    assert_eq!(
        severities(&report),
        [
            ("MRT201".to_string(), "warning".to_string()),
            ("MRT204".to_string(), "info".to_string())
        ]
    );
    assert_eq!(code, Some(1));
    let (code, _, _) = check_json(dir.path(), &["--strict"]);
    assert_eq!(code, Some(2), "--strict fails on the downgraded warning");
}

#[test]
fn severity_off_disables_a_rule() {
    let dir = with_config("[severity]\n\"drop-column\" = \"off\"\nMRT204 = \"off\"\n");
    let (code, report, _) = check_json(dir.path(), &["--strict"]);
    assert_eq!(code, Some(0));
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
}

#[test]
fn unknown_code_or_severity_in_overrides_is_named() {
    for (config, named) in [
        ("[severity]\nMRT999 = \"warning\"\n", "MRT999"),
        ("[severity]\n\"no-such-rule\" = \"off\"\n", "no-such-rule"),
        ("[severity]\nMRT201 = \"fatal\"\n", "fatal"),
        ("opt_in = [\"MRT7O1\"]\n", "MRT7O1"),
        ("dialect = \"oracle\"\n", "oracle"),
    ] {
        let dir = with_config(config);
        let r = run(&["check"], dir.path());
        assert_eq!(r.code, Some(3), "{config}");
        assert!(
            r.stderr.contains(named) && r.stderr.contains("mrt.toml"),
            "{config}: {}",
            r.stderr
        );
    }
}

#[test]
fn config_in_pyproject_is_read() {
    let dir = copy_fixture("errors");
    write(
        dir.path(),
        "pyproject.toml",
        "[tool.mrt.severity]\nMRT201 = \"off\"\n",
    );
    let (code, report, _) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(revisions_with_findings(&report), [CASCADE_REV]);
}

#[test]
fn config_dialect_and_opt_in() {
    let dir = copy_fixture("sqlite_twin");
    write(dir.path(), "mrt.toml", "dialect = \"postgresql\"\n");
    let (code, report, _) = check_json(dir.path(), &[]);
    assert_eq!((code, severities(&report).len()), (Some(1), 1));
    assert_eq!(report["findings"][0]["code"], "MRT407");
    let (code, _, _) = check_json(dir.path(), &["--dialect", "sqlite"]);
    assert_eq!(code, Some(0), "the flag beats the config");

    let dir = with_config("opt_in = [\"deploy-drop-column\"]\n");
    let (_, report, _) = check_json(dir.path(), &[]);
    let codes: Vec<String> = severities(&report).into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, ["MRT201", "MRT701", "MRT204"]);
    let dir = copy_fixture("errors");
    let (_, report, _) = check_json(dir.path(), &["--opt-in", "MRT701"]);
    assert!(severities(&report).iter().any(|(c, _)| c == "MRT701"));
}

#[test]
fn select_reports_only_the_named_rules() {
    let dir = copy_fixture("errors");
    let (code, report, _) = check_json(dir.path(), &["--select", "cascade-delete"]);
    assert_eq!(code, Some(1));
    let codes: Vec<String> = severities(&report).into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, ["MRT204"]);
    let (_, report, _) = check_json(dir.path(), &["--select", "MRT701,MRT204"]);
    let codes: Vec<String> = severities(&report).into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        codes,
        ["MRT701", "MRT204"],
        "--select runs opt-in rules it names"
    );
}

#[test]
fn select_of_an_absorbed_code_reports_it() {
    // b2's DROP COLUMN is one MRT208 finding that absorbed MRT201; selecting MRT201 alone must
    // still report the hazard (it used to vanish with the unselected MRT208).
    let dir = check_common::fixture("absorbed_kept");
    let (code, report, _) = check_json(&dir, &["--select", "MRT201"]);
    assert_eq!(code, Some(2));
    let codes: Vec<String> = severities(&report).into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, ["MRT201"]);
    let (_, report, _) = check_json(&dir, &["--select", "MRT208,MRT201"]);
    let codes: Vec<String> = severities(&report).into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        codes,
        ["MRT208"],
        "one hazard, one finding when both are selected"
    );
}

#[test]
fn since_checks_only_later_revisions() {
    let dir = copy_fixture("errors");
    let (code, report, _) = check_json(dir.path(), &["--since", DROP_REV]);
    assert_eq!(code, Some(1), "REV itself is not checked");
    assert_eq!(revisions_with_findings(&report), [CASCADE_REV]);
    assert_eq!(report["summary"]["files"], 2);
    let (code, report, _) = check_json(dir.path(), &["--since", "a1b2c3d4e5f6"]);
    assert_eq!(code, Some(2));
    assert_eq!(revisions_with_findings(&report), [DROP_REV, CASCADE_REV]);
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=mrt",
            "-c",
            "user.email=mrt@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn has_git() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn since_git_checks_only_changed_and_new_files() {
    assert!(has_git(), "git is needed for this test");
    let dir = copy_fixture("errors");
    let root = dir.path();
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "base"]);
    let (code, report, _) = check_json(root, &["--since-git", "HEAD"]);
    assert_eq!(code, Some(0), "nothing changed");
    assert_eq!(report["summary"]["files"], 0);

    let cascade = root.join("migrations/versions/c3d4e5f6a1b2_users_manager.py");
    let text = std::fs::read_to_string(&cascade).unwrap();
    std::fs::write(
        &cascade,
        text.replace("ondelete=\"CASCADE\"", "ondelete=\"CASCADE\"  # edited"),
    )
    .unwrap();
    let (code, report, _) = check_json(root, &["--since-git", "HEAD"]);
    assert_eq!(
        code,
        Some(1),
        "only the changed warning revision is checked"
    );
    assert_eq!(revisions_with_findings(&report), [CASCADE_REV]);
    assert_eq!(report["summary"]["files"], 1);

    git(root, &["commit", "-q", "-am", "edit"]);
    let (_, report, _) = check_json(root, &["--since-git", "HEAD~1"]);
    assert_eq!(
        revisions_with_findings(&report),
        [CASCADE_REV],
        "committed changes count"
    );

    let new = root.join("migrations/versions/e5_drop_users.py");
    std::fs::write(
        &new,
        "revision = 'e5'\ndown_revision = 'd4e5f6a1b2c3'\n\ndef upgrade():\n    op.drop_table('users')\n\ndef downgrade():\n    pass\n",
    )
    .unwrap();
    let (_, report, _) = check_json(root, &["--since-git", "HEAD"]);
    assert_eq!(
        revisions_with_findings(&report),
        ["e5"],
        "untracked files count"
    );
}

#[test]
fn since_git_errors_are_usage_errors() {
    let dir = copy_fixture("clean");
    let r = run(&["check", "--since-git", "HEAD"], dir.path());
    assert_eq!(r.code, Some(3), "not a git repository");
    assert!(r.stderr.contains("git"), "{}", r.stderr);
    if has_git() {
        git(dir.path(), &["init", "-q"]);
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "base"]);
        let r = run(&["check", "--since-git", "no-such-branch"], dir.path());
        assert_eq!(r.code, Some(3));
        assert!(r.stderr.contains("no-such-branch"), "{}", r.stderr);
        let r = run(&["check", "--since-git", "--output=x"], dir.path());
        assert_eq!(r.code, Some(3), "{}", r.stderr);
    }
}
