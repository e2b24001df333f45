//! Nothing left behind on a server: after a normal run, and after a run interrupted with SIGINT
//! in the middle of a migration step, no `mrt_<run>_<n>` database remains (checked with
//! `mrt clean`, which must find nothing to drop). One test per server, ignored with the reason
//! when its URL variable is unset.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args = Arguments::from_args();
    let have_python = common::python_has("alembic") && common::python_has("sqlalchemy");
    let mut trials = Vec::new();
    for (db, var) in [
        ("postgres", "MRT_TEST_POSTGRES_URL"),
        ("mysql", "MRT_TEST_MYSQL_URL"),
    ] {
        let url = mrt_db::test_server_url(var);
        if url.is_none() {
            eprintln!("note: cleanup::{db} ignored: {var} names no server (unset with none on its local port, or `off`)");
        }
        let ignored = url.is_none() || !have_python;
        let url = url.unwrap_or_default();
        trials.push(
            Trial::test(format!("cleanup::{db}"), move || nothing_left(&url))
                .with_ignored_flag(ignored),
        );
    }
    trials.push(Trial::test("cleanup::sqlite_killed_run", sqlite_killed_run));
    libtest_mimic::run(&args, trials).exit();
}

/// `mrt clean --db sqlite` removes the temporary folder of a SQLite run that was killed
/// (SIGKILL: no clean-up of its own ran) and keeps that of a run still going.
fn sqlite_killed_run() -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = common::fixtures("faults").join("hang_child");
    let start = |marker: &str| {
        Command::new(env!("CARGO_BIN_EXE_mrt"))
            .args(["test", "--project"])
            .arg(&project)
            .args(["--seed", "1", "--step-timeout", "600", "-q"])
            .env("MRT_PYTHON", common::python())
            .env("MRT_FAULT_MARKER", marker)
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    };
    let folders = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(tmp.path())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("mrt-"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while folders().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        folders().len() >= n
    };
    let tag = format!("mrt-clean-{}", std::process::id());
    let mut killed = start(&format!("{tag}-killed")).map_err(|e| e.to_string())?;
    if !wait_for(1) {
        let _ = killed.kill();
        return Err("the first run made no temporary folder".into());
    }
    let dead = folders();
    killed.kill().map_err(|e| e.to_string())?;
    let _ = killed.wait();
    let mut live = start(&format!("{tag}-live")).map_err(|e| e.to_string())?;
    let ok = wait_for(2);
    let clean = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["clean", "--db", "sqlite"])
        .env("TMPDIR", tmp.path())
        .output();
    let left = folders();
    let _ = live.kill();
    let _ = live.wait();
    // SIGKILL gave mrt no chance to stop its workers (each leads its own process group).
    kill_tagged(&tag);
    let clean = clean.map_err(|e| e.to_string())?;
    let out = String::from_utf8_lossy(&clean.stdout).into_owned();
    if !ok || !clean.status.success() {
        return Err(format!("mrt clean failed or the second run never started:\n{out}").into());
    }
    if left.len() != 1 || dead.iter().any(|d| left.contains(d)) || !out.contains("kept") {
        return Err(format!(
            "expected only the live run's folder left (dead {dead:?}), got {left:?}:\n{out}"
        )
        .into());
    }
    Ok(())
}

fn nothing_left(url: &str) -> Result<(), Failed> {
    let project = common::fixtures("trials").join("trap_crash");
    let out = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project"])
        .arg(&project)
        .args(["--db", url, "--seed", "1", "-q"])
        .env("MRT_PYTHON", common::python())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.code() != Some(101) {
        return Err(format!(
            "normal run: expected exit 101 (k02 fails), got {:?}",
            out.status.code()
        )
        .into());
    }
    let run = run_id(&String::from_utf8_lossy(&out.stderr))?;
    expect_clean(url, &run, "after a normal run")?;
    let run = interrupted_run(url)?;
    expect_clean(url, &run, "after SIGINT")
}

/// The run id mrt announces (`...; run 1a2b3c`), so only this run's databases are looked for
/// and a concurrent mrt run on the same server cannot disturb the check.
fn run_id(stderr: &str) -> Result<String, Failed> {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("mrt: ")
                .and_then(|l| l.rsplit_once("; run "))
                .map(|(_, id)| id.trim().to_string())
        })
        .ok_or_else(|| format!("no run id announced on stderr:\n{stderr}").into())
}

/// Starts a run whose second revision sleeps, interrupts it mid-step and waits for it to exit;
/// returns its run id.
fn interrupted_run(url: &str) -> Result<String, Failed> {
    // A private copy, so the worker processes of this run can be told apart by their arguments.
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = tmp.path().join("trap_hang");
    common::copy_dir(&common::fixtures("trials").join("trap_hang"), &project)
        .map_err(|e| e.to_string())?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project"])
        .arg(&project)
        .args(["--db", url, "--step-timeout", "120", "--test-threads", "1"])
        .env("MRT_PYTHON", common::python())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs(6));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    if !kill.success() {
        return Err("kill -INT failed".into());
    }
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.code() != Some(130) {
                return Err(format!("interrupted run exited {status:?}, expected 130").into());
            }
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                std::io::Read::read_to_string(&mut pipe, &mut stderr).map_err(|e| e.to_string())?;
            }
            no_worker_left(&project)?;
            return run_id(&stderr);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            return Err("interrupted run did not exit within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Python worker stuck in the sleeping step must not outlive mrt.
fn no_worker_left(project: &std::path::Path) -> Result<(), Failed> {
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(project)
        .output()
        .map_err(|e| e.to_string())?;
    let pids = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if pids.is_empty() {
        Ok(())
    } else {
        Err(format!("worker processes left running after SIGINT: {pids}").into())
    }
}

fn expect_clean(url: &str, run: &str, when: &str) -> Result<(), Failed> {
    let out = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["clean", "--db", url, "--run", run])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && text.contains("nothing left behind by mrt runs") {
        Ok(())
    } else {
        Err(format!(
            "{when}: `mrt clean` found leftovers or failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into())
    }
}

/// Kills the processes whose environment carries `MRT_FAULT_MARKER=<tag>...` (the workers of a
/// run killed with SIGKILL, and their children).
fn kill_tagged(tag: &str) {
    let needle = format!("MRT_FAULT_MARKER={tag}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if String::from_utf8_lossy(&environ).contains(&needle) {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}
