//! Which Python interpreter runs the user's migrations, in DESIGN.md's order of precedence.

use std::path::{Path, PathBuf};

/// The interpreter chosen and why, so an import failure can say exactly what was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonChoice {
    pub path: PathBuf,
    pub source: &'static str,
}

/// `--python` / config, then `MRT_PYTHON`, then `$VIRTUAL_ENV`, then `.venv/` or `venv/` next to
/// the project, then `python3` on PATH.
pub fn find_python(explicit: Option<&Path>, project_root: &Path) -> PythonChoice {
    if let Some(p) = explicit {
        return PythonChoice {
            path: from_cwd(p),
            source: "--python / `python` in config",
        };
    }
    if let Some(p) = std::env::var_os("MRT_PYTHON").filter(|p| !p.is_empty()) {
        return PythonChoice {
            path: from_cwd(Path::new(&p)),
            source: "MRT_PYTHON",
        };
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|p| !p.is_empty()) {
        let p = venv_python(Path::new(&venv));
        if p.is_file() {
            return PythonChoice {
                path: p,
                source: "VIRTUAL_ENV",
            };
        }
    }
    for name in [".venv", "venv"] {
        let p = venv_python(&project_root.join(name));
        if p.is_file() {
            return PythonChoice {
                path: p,
                source: "a virtualenv next to the project",
            };
        }
    }
    PythonChoice {
        path: PathBuf::from("python3"),
        source: "python3 on PATH",
    }
}

/// A relative path with a folder in it (`venv/bin/python`) is meant from where mrt was started,
/// not from the project folder the worker runs in; a bare name (`python3`) is looked up on PATH.
/// Symlinks are kept: a virtualenv's `bin/python` is one, and resolving it would leave the venv.
fn from_cwd(p: &Path) -> PathBuf {
    if p.is_absolute() || p.components().count() < 2 {
        return p.to_path_buf();
    }
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_wins_and_project_venv_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let chosen = find_python(Some(Path::new("/x/python")), dir.path());
        assert_eq!(chosen.path, PathBuf::from("/x/python"));
        // Relative to the working directory, not to the project the worker runs in.
        let cwd = std::env::current_dir().unwrap();
        let chosen = find_python(Some(Path::new("venv/bin/python")), dir.path());
        assert_eq!(chosen.path, cwd.join("venv/bin/python"));
        let chosen = find_python(Some(Path::new("python3.12")), dir.path());
        assert_eq!(chosen.path, PathBuf::from("python3.12"));
        if std::env::var_os("MRT_PYTHON").is_none() && std::env::var_os("VIRTUAL_ENV").is_none() {
            std::fs::create_dir_all(dir.path().join(".venv/bin")).unwrap();
            std::fs::write(dir.path().join(".venv/bin/python"), "").unwrap();
            assert_eq!(
                find_python(None, dir.path()).path,
                dir.path().join(".venv/bin/python")
            );
        }
    }
}

/// Whether `python` can import every module in `modules`.
pub fn can_import(python: &Path, modules: &[&str]) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[derive(Debug, thiserror::Error)]
#[error("cannot provision a virtualenv with {packages} in {dir}: {message}")]
pub struct ProvisionError {
    pub packages: String,
    pub dir: PathBuf,
    pub message: String,
}

/// The Python frameworks mrt drives, for what `--provision` installs and what an interpreter
/// must import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonFramework {
    Alembic,
    Django,
}

impl PythonFramework {
    /// Modules the interpreter must import to run the worker.
    pub fn modules(self) -> &'static [&'static str] {
        match self {
            PythonFramework::Alembic => &["alembic", "sqlalchemy"],
            PythonFramework::Django => &["django"],
        }
    }

    /// What `--provision` installs (pip requirement, module it provides): the framework and the
    /// drivers of `dialects` (`sqlite`, `postgres`, `mysql`). Alembic gets the async drivers too,
    /// for env.py files from its async template.
    pub fn packages(self, dialects: &[&str]) -> Vec<(&'static str, &'static str)> {
        let mut out = match self {
            PythonFramework::Alembic => vec![
                ("alembic", "alembic"),
                ("sqlalchemy[asyncio]", "greenlet"),
                ("aiosqlite", "aiosqlite"),
            ],
            PythonFramework::Django => vec![("django", "django")],
        };
        if dialects.contains(&"postgres") {
            out.push(("psycopg[binary]", "psycopg"));
        }
        if dialects.contains(&"mysql") {
            out.push(("pymysql", "pymysql"));
            if self == PythonFramework::Alembic {
                out.push(("aiomysql", "aiomysql"));
            }
        }
        out
    }
}

/// `--provision`: a virtualenv in mrt's cache with `packages` (pip requirement, module) installed
/// from the package index, made once per set and reused. Returns its interpreter.
pub fn provision(base: &Path, packages: &[(&str, &str)]) -> Result<PathBuf, ProvisionError> {
    let modules: Vec<&str> = packages.iter().map(|(_, m)| *m).collect();
    let packages: Vec<&str> = packages.iter().map(|(p, _)| *p).collect();
    let dir = user_cache_dir().join(format!("venv-{}", modules.join("-")));
    let python = venv_python(&dir);
    if python.is_file() && can_import(&python, &modules) {
        return Ok(python);
    }
    let err = |message: String| ProvisionError {
        packages: packages.join(", "),
        dir: dir.clone(),
        message,
    };
    eprintln!(
        "mrt: provisioning {} into {} (once) ...",
        packages.join(", "),
        dir.display()
    );
    run(std::process::Command::new(base)
        .arg("-m")
        .arg("venv")
        .arg(&dir))
    .map_err(err)?;
    run(std::process::Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(&packages))
    .map_err(err)?;
    Ok(python)
}

fn run(cmd: &mut std::process::Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `$MRT_CACHE_DIR`, else `$XDG_CACHE_HOME/mrt`, else `~/.cache/mrt`, else a temp-dir path.
pub fn user_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MRT_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("mrt");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache").join("mrt"),
        None => std::env::temp_dir().join("mrt-cache"),
    }
}
