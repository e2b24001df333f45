//! Helpers for the `mrt check` / `explain` / `rules` tests.
#![allow(dead_code)]

use crate::common;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str], cwd: &Path) -> Run {
    let out = common::mrt(args, cwd);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn fixture(name: &str) -> PathBuf {
    common::fixtures("check").join(name)
}

/// A writable copy of `fixtures/check/<name>` in a temporary directory.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(name), dir.path());
    dir
}

/// Copies `from` into `to` (made with its parents).
pub fn copy_dir_into(from: &Path, to: &Path) {
    copy_dir(from, to)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `mrt check --format json` in `dir` with extra args; the parsed report and the exit code.
/// Paths are project-relative (`--path-prefix=`) wherever the project is; `tests/check_paths.rs`
/// tests the default.
pub fn check_json(dir: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["check", "--format", "json", "--path-prefix="];
    args.extend_from_slice(extra);
    let r = run(&args, dir);
    let value: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", r.stdout, r.stderr));
    (r.code, value, r.stderr)
}

/// `(code, path, line)` of every finding in a JSON report, sorted.
pub fn findings(report: &Value) -> Vec<(String, String, u64)> {
    let mut out: Vec<(String, String, u64)> = report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().expect("code").to_string(),
                f["path"].as_str().expect("path").to_string(),
                f["line"].as_u64().expect("line"),
            )
        })
        .collect();
    out.sort();
    out
}

/// `(code, severity)` of every finding, in report order.
pub fn severities(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_string(),
                f["severity"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Revision ids of the findings' files that were checked (per-file rules only).
pub fn revisions_with_findings(report: &Value) -> Vec<String> {
    let mut revs: Vec<String> = report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter_map(|f| f["revision"].as_str().map(str::to_string))
        .collect();
    revs.sort();
    revs.dedup();
    revs
}

pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write file");
}
