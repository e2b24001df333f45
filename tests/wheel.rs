//! Python teams install tools with pip: the `mrt` binary as a wheel (maturin, `bindings = "bin"`,
//! pyproject.toml), installed into a fresh virtualenv, gives a working `mrt` on that
//! virtualenv's PATH. The wheel is built with the dev profile, so it reuses this build's
//! artifacts; a release wheel is `maturin build --release`. Reported ignored, with the reason,
//! when the suite's Python has no maturin.

mod common;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::Path;
use std::process::Command;

fn main() {
    let args = Arguments::from_args();
    let trial = Trial::ignorable_test("wheel::installs_a_working_mrt", || {
        if !common::python_has("maturin") {
            return Ok(Completion::ignored_with(format!(
                "{} cannot import maturin (pip install -r tests/requirements.txt)",
                common::python()
            )));
        }
        installs_a_working_mrt().map(|()| Completion::Completed)
    });
    libtest_mimic::run(&args, vec![trial]).exit();
}

fn run(what: &str, cmd: &mut Command) -> Result<String, Failed> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn installs_a_working_mrt() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wheels = tmp.path().join("wheels");
    run(
        "maturin build",
        Command::new(common::python())
            .args(["-m", "maturin", "build", "--profile", "dev", "--out"])
            .arg(&wheels)
            .current_dir(common::repo()),
    )?;
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or("maturin wrote no wheel")?;
    let name = wheel.file_name().unwrap_or_default().to_string_lossy();
    if !name.starts_with("migration_rollback_tester-") {
        return Err(format!("wheel named {name}").into());
    }
    let venv = tmp.path().join("venv");
    run(
        "venv",
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
    )?;
    run(
        "pip install",
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--disable-pip-version-check",
            ])
            .arg(&wheel),
    )?;
    let mrt = venv.join("bin/mrt");
    let version = run("mrt --version", Command::new(&mrt).arg("--version"))?;
    if !version.contains(env!("CARGO_PKG_VERSION")) {
        return Err(format!("mrt --version printed {version:?}").into());
    }
    check_runs(&mrt)
}

/// The installed command does real work: a check that finds the fixture's error.
fn check_runs(mrt: &Path) -> Result<(), Failed> {
    let project = common::fixtures("check").join("errors");
    let out = Command::new(mrt)
        .arg("check")
        .arg(&project)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(2) || !stdout.contains("MRT201") {
        return Err(format!("installed mrt check: {}\n{stdout}", out.status).into());
    }
    Ok(())
}
