//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures(kind: &str) -> PathBuf {
    repo().join("fixtures").join(kind)
}

/// Fixture projects: the sub-directories of `fixtures/<kind>` that hold an `expect.toml`.
pub fn fixture_dirs(kind: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures(kind))
        .expect("fixtures directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("expect.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

pub fn mrt(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("MRT_PYTHON", python())
        .output()
        .expect("run mrt")
}

mod python;
pub use python::python;

/// Whether `python()` can import a module; tests that need it are reported ignored otherwise.
pub fn python_has(module: &str) -> bool {
    Command::new(python())
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Copies a fixture directory recursively (tests run on private copies).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
