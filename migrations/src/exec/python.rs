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
            path: p.to_path_buf(),
            source: "--python / `python` in config",
        };
    }
    if let Some(p) = std::env::var_os("MRT_PYTHON").filter(|p| !p.is_empty()) {
        return PythonChoice {
            path: PathBuf::from(p),
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
