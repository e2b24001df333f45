//! What `mrt test` writes besides libtest's lines: `--format json` with each failure's text as it
//! is, `--format junit`, and the live progress line (on a terminal's stderr only, never on stdout,
//! never with JSON). The sqlx traps fixture needs no Python and fails for known reasons.

mod common;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};

fn traps() -> std::path::PathBuf {
    common::fixtures("sql").join("sqlx_traps")
}

fn mrt_test(extra: &[&str]) -> std::process::Output {
    let project = traps();
    let mut args = vec!["test", "--project", project.to_str().unwrap(), "--no-cache"];
    args.extend_from_slice(extra);
    common::mrt(&args, &common::repo())
}

/// `name -> event` of the test events in a JSON stream, and the failures' texts.
fn events(
    stdout: &str,
) -> (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    Vec<Value>,
) {
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    let (mut ended, mut texts) = (BTreeMap::new(), BTreeMap::new());
    for v in lines
        .iter()
        .filter(|v| v["type"] == "test" && v["event"] != "started")
    {
        let name = v["name"].as_str().unwrap().to_string();
        if let Some(text) = v["stdout"].as_str() {
            texts.insert(name.clone(), text.to_string());
        }
        ended.insert(name, v["event"].as_str().unwrap().to_string());
    }
    let suites = lines.into_iter().filter(|v| v["type"] == "suite").collect();
    (ended, texts, suites)
}

#[test]
fn json_carries_each_failure_text_as_it_is() {
    let out = mrt_test(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(101));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (ended, texts, suites) = events(&stdout);
    assert_eq!(ended["sqlite::20240101000003_drop_phone"], "failed");
    assert_eq!(ended["sqlite::20240101000001_create_users"], "ok");
    assert_eq!(ended["sqlite::20240101000008_normalize_emails"], "ignored");
    let text = &texts["sqlite::20240101000003_drop_phone"];
    assert!(!text.starts_with("Error: "), "wrapped: {text:?}");
    assert!(
        text.contains("\n  downgrade did not restore the data"),
        "{text:?}"
    );
    assert!(text.contains("phone"), "{text:?}");
    // Started, then ended, per test; one suite start and one summary that adds up.
    assert_eq!(suites.len(), 2, "{suites:?}");
    assert_eq!(suites[0]["event"], "started");
    let total = suites[0]["test_count"].as_u64().unwrap() as usize;
    assert_eq!(total, ended.len());
    let summary = &suites[1];
    assert_eq!(summary["event"], "failed");
    let failed = ended.values().filter(|e| *e == "failed").count();
    assert_eq!(summary["failed"].as_u64(), Some(failed as u64));
    let ignored = ended.values().filter(|e| *e == "ignored").count();
    assert_eq!(summary["ignored"].as_u64(), Some(ignored as u64));
    let reason = stdout
        .lines()
        .find(|l| l.contains("\"ignored\"") && l.contains("normalize_emails"))
        .unwrap();
    assert!(reason.contains("no down migration"), "{reason}");
}

#[test]
fn junit_has_one_case_per_test_with_failures_and_reasons() {
    let out = mrt_test(&["--format", "junit"]);
    assert_eq!(out.status.code(), Some(101));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("test result: FAILED."),
        "libtest's lines go to stderr: {stderr}"
    );
    let json = mrt_test(&["--format", "json"]);
    let (ended, _, _) = events(&String::from_utf8_lossy(&json.stdout));

    let mut reader = Reader::from_str(&stdout);
    let (mut cases, mut current) = (BTreeMap::new(), String::new());
    let mut totals = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |k: &str| {
                    e.try_get_attribute(k)
                        .ok()
                        .flatten()
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"testsuites" => totals = Some((attr("tests"), attr("failures"))),
                    b"testcase" => {
                        current = attr("name").unwrap();
                        cases.insert(current.clone(), "ok".to_string());
                    }
                    b"failure" => {
                        let message = attr("message").unwrap();
                        assert!(!message.is_empty());
                        cases.insert(current.clone(), "failed".into());
                    }
                    b"skipped" => {
                        cases.insert(current.clone(), "ignored".into());
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(cases, ended, "JUnit and JSON disagree");
    let failed = ended
        .values()
        .filter(|e| *e == "failed")
        .count()
        .to_string();
    assert_eq!(totals, Some((Some(ended.len().to_string()), Some(failed))));
    assert!(stdout.contains("downgrade did not restore the data"));
}

/// Runs `mrt test` with stderr on a pseudo-terminal and stdout on a pipe; returns both.
#[cfg(target_os = "linux")]
fn on_terminal(extra: &[&str]) -> (String, String) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let project = traps();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project", project.to_str().unwrap(), "--no-cache"])
        .args(extra)
        .env("MRT_PYTHON", "/nonexistent")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()))
        .spawn()
        .expect("run mrt");
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the child's end is closed.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child.wait().unwrap();
    (stdout, reader.join().unwrap())
}

#[cfg(target_os = "linux")]
#[test]
fn progress_line_on_a_terminal_stderr_only() {
    let json = mrt_test(&["--format", "json"]);
    let (ended, _, _) = events(&String::from_utf8_lossy(&json.stdout));
    let (stdout, terminal) = on_terminal(&[]);
    let total = format!("/{} tests", ended.len());
    assert!(
        terminal.contains(&total),
        "no progress line {total:?}: {terminal:?}"
    );
    assert!(
        terminal.contains("tests · 1 failed"),
        "the failures so far are shown: {terminal:?}"
    );
    assert!(stdout.contains("test result: FAILED."), "{stdout}");
    assert!(
        !stdout.contains('\r') && !stdout.contains('\u{1b}'),
        "{stdout:?}"
    );

    let (stdout, terminal) = on_terminal(&["--format", "json"]);
    assert!(
        !terminal.contains(" tests"),
        "progress with JSON: {terminal:?}"
    );
    for line in stdout.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    }

    // stderr not a terminal: no progress line at all.
    let out = mrt_test(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\r') && !stderr.contains(" tests ·"),
        "{stderr:?}"
    );
}

/// A revision test's `exec_time` is its trial's own time. The scheduler runs trials ahead of
/// libtest asking for their verdicts, so the time libtest's closure waited was ~0 for most of
/// them (the verdict was ready); every trial here runs steps and reads schemas: over 1 ms.
#[test]
fn json_exec_time_of_a_revision_test_is_its_trial_time() {
    let out = mrt_test(&["--format", "json", "--test-threads", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let times: Vec<(String, f64)> = (stdout.lines())
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "test" && (v["event"] == "ok" || v["event"] == "failed"))
        .filter_map(|v| {
            let name = v["name"].as_str()?.to_string();
            name.starts_with("sqlite::")
                .then(|| (name, v["exec_time"].as_f64().unwrap_or(-1.0)))
        })
        .collect();
    assert!(times.len() >= 5, "{stdout}");
    for (name, secs) in &times {
        assert!(*secs > 0.001, "{name}: exec_time {secs}\n{times:?}");
    }
}

/// An ignored `drift::` test carries its reason in JSON as every ignored test does, although
/// libtest never runs it (the Alembic fixture's env.py sets no target_metadata).
#[test]
fn json_ignored_drift_test_says_why() {
    let project = common::fixtures("trials").join("passing");
    let project = project.to_str().expect("utf-8 path");
    let args = [
        "test",
        "--project",
        project,
        "--no-cache",
        "--format",
        "json",
        "drift::",
    ];
    let out = common::mrt(&args, &common::repo());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let drift = (stdout.lines())
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["name"] == "drift::sqlite" && v["event"] == "ignored")
        .unwrap_or_else(|| panic!("no ignored drift::sqlite:\n{stdout}"));
    let message = drift["message"].as_str().unwrap_or_default();
    assert!(message.contains("target_metadata"), "{drift}");
}
