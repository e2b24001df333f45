//! "Never pass what was not read": a revision file or folder mrt cannot read, a symbolic link it
//! cannot follow, a duplicate id and a cycle fail `mrt check` (exit 2) naming the file, and
//! `mrt graph` says the same. The committed cases are fixtures under `fixtures/check/`
//! (`symlink_revision`, `duplicate_id`, `cycle`); links that loop or dangle and unreadable files
//! are made here, in a copy of `fixtures/check/clean`.

mod check_common;
mod common;

use check_common::{check_json, copy_fixture, findings, run};
use std::path::Path;
use std::process::Command;

const VERSIONS: &str = "migrations/versions";

fn link(dir: &Path, name: &str, target: &str) {
    std::os::unix::fs::symlink(target, dir.join(VERSIONS).join(name)).unwrap();
}

#[test]
fn a_symlink_that_loops_or_dangles_fails_the_check_naming_it() {
    let dir = copy_fixture("clean");
    link(dir.path(), "zz_loop.py", "zz_loop.py");
    link(dir.path(), "zz_gone.py", "../elsewhere/gone.py");
    let (code, report, stderr) = check_json(dir.path(), &[]);
    assert_eq!(code, Some(2), "{report}\n{stderr}");
    let got = findings(&report);
    for name in ["zz_loop.py", "zz_gone.py"] {
        let path = format!("{VERSIONS}/{name}");
        assert!(
            got.contains(&("MRT902".into(), path.clone(), 1)),
            "{name}: {got:?}"
        );
    }
    let messages = report["findings"].to_string();
    assert!(messages.contains("cannot be followed"), "{messages}");
    let graph = run(&["graph"], dir.path());
    assert_eq!(graph.code, Some(2), "{}", graph.stderr);
    assert!(graph.stderr.contains("zz_loop.py"), "{}", graph.stderr);
    // A link to a folder is not a revision file (Alembic does not enter it either).
    let quiet = copy_fixture("clean");
    std::fs::create_dir(quiet.path().join("elsewhere")).unwrap();
    link(quiet.path(), "zz_dir.py", "../../elsewhere");
    let (code, _, stderr) = check_json(quiet.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn select_does_not_hide_what_was_not_read() {
    let dir = copy_fixture("clean");
    link(dir.path(), "zz_loop.py", "zz_loop.py");
    let (code, report, _) = check_json(dir.path(), &["--select", "MRT201"]);
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(findings(&report)[0].0, "MRT902");
}

#[test]
fn table_and_github_formats_name_the_file() {
    let dir = copy_fixture("clean");
    link(dir.path(), "zz_loop.py", "zz_loop.py");
    let table = run(&["check"], dir.path());
    assert_eq!(table.code, Some(2));
    assert!(
        table
            .stdout
            .contains(&format!("{VERSIONS}/zz_loop.py:1:1  MRT902  error")),
        "{}",
        table.stdout
    );
    let github = run(&["check", "--format", "github"], dir.path());
    assert!(
        github.stdout.contains(&format!(
            "::error file={VERSIONS}/zz_loop.py,line=1,col=1,title=MRT902::"
        )),
        "{}",
        github.stdout
    );
}

/// Runs `mrt check --format json` in `dir` as a user who cannot read what was made unreadable:
/// the test user itself when it is not root, else `nobody` through `setpriv`. `None` when
/// neither works (root without setpriv): then nothing here can be unreadable.
fn check_as_unprivileged(dir: &Path) -> Option<(Option<i32>, serde_json::Value, String)> {
    let mrt = env!("CARGO_BIN_EXE_mrt");
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", mrt]);
        c
    } else {
        Command::new(mrt)
    };
    let out = cmd
        .args(["check", "--format", "json"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).ok()?;
    Some((
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A copy of `clean` everyone may read (the temp dir is private to its owner), so `nobody` can.
fn shared_copy() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = copy_fixture("clean");
    for entry in walk(dir.path()) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn an_unreadable_file_or_folder_fails_the_check_naming_it() {
    let dir = shared_copy();
    let file = "a1b2c3d4e5f6_create_users.py";
    chmod(&dir.path().join(VERSIONS).join(file), 0o000);
    let Some((code, report, stderr)) = check_as_unprivileged(dir.path()) else {
        eprintln!("note: not run: root without a working setpriv cannot make a file unreadable");
        return;
    };
    assert_eq!(code, Some(2), "{report}\n{stderr}");
    let got = findings(&report);
    assert!(
        got.contains(&("MRT902".into(), format!("{VERSIONS}/{file}"), 1)),
        "{got:?}"
    );

    let dir = shared_copy();
    let ini = dir.path().join("alembic.ini");
    let text = std::fs::read_to_string(&ini).unwrap();
    let text = text.replace(
        "script_location = migrations",
        "script_location = migrations\nrecursive_version_locations = true",
    );
    std::fs::write(&ini, text).unwrap();
    let locked = dir.path().join(VERSIONS).join("locked");
    std::fs::create_dir(&locked).unwrap();
    chmod(&locked, 0o000);
    let Some((code, report, stderr)) = check_as_unprivileged(dir.path()) else {
        return;
    };
    chmod(&locked, 0o755);
    assert_eq!(code, Some(2), "{report}\n{stderr}");
    let messages = report["findings"].to_string();
    assert!(messages.contains("cannot read this folder"), "{messages}");
    assert!(
        findings(&report)
            .iter()
            .any(|(c, p, _)| c == "MRT902" && p == &format!("{VERSIONS}/locked")),
        "{report}"
    );
}
