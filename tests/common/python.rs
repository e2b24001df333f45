//! The Python interpreter the test suite runs migrations with.
//!
//! `MRT_PYTHON` when set; otherwise a virtualenv with `tests/requirements.txt` in the target folder,
//! made once (as `mrt --provision` does for users) so that a fresh machine runs every test instead
//! of ignoring the ones that need Alembic or Django. If it cannot be made (no network, no `venv`
//! module), `python3` is used and the tests that need more say so when they are ignored.
//! Shared by the root crate's tests and `migrations/tests` (included by path).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn python() -> String {
    static CHOSEN: OnceLock<String> = OnceLock::new();
    CHOSEN.get_or_init(choose).clone()
}

fn choose() -> String {
    if let Some(p) = std::env::var_os("MRT_PYTHON").filter(|p| !p.is_empty()) {
        return p.to_string_lossy().into_owned();
    }
    match provisioned() {
        Ok(python) => {
            eprintln!(
                "note: MRT_PYTHON is unset: using {} (tests/requirements.txt; MRT_PYTHON=python3 to use another)",
                python.display()
            );
            python.to_string_lossy().into_owned()
        }
        Err(e) => {
            eprintln!(
                "note: MRT_PYTHON is unset and no virtualenv could be made ({e}): using python3"
            );
            "python3".into()
        }
    }
}

fn requirements() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("tests").join("requirements.txt"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("tests/requirements.txt"))
}

/// `<target>/tmp/mrt-test-venv`, made or refreshed when tests/requirements.txt changed. Test
/// binaries may run at once (nextest), so the work is done under a file lock.
fn provisioned() -> Result<PathBuf, String> {
    let wanted = std::fs::read_to_string(requirements()).map_err(|e| e.to_string())?;
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(root).map_err(|e| e.to_string())?;
    let lock = std::fs::File::create(root.join("mrt-test-venv.lock")).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    let venv = root.join("mrt-test-venv");
    let python = venv.join("bin").join("python");
    let stamp = venv.join("mrt-requirements.txt");
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    eprintln!(
        "note: making {} with tests/requirements.txt (once; MRT_PYTHON skips it) ...",
        venv.display()
    );
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements()))?;
    let mut f = std::fs::File::create(&stamp).map_err(|e| e.to_string())?;
    f.write_all(wanted.as_bytes()).map_err(|e| e.to_string())?;
    Ok(python)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(format!("{cmd:?} failed: {}", last.unwrap_or("").trim()))
}
