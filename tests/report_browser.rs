//! The HTML report of the `traps` fixture in a real browser: Debian's chromium, headless, loads
//! the page from a file (nothing fetched), runs its script, and the DOM it dumps shows every
//! revision with the verdict `fixtures/trials/traps/expect.toml` states; the verdict filter (set
//! through the URL's hash) hides the passing ones. A screenshot is written to
//! `target/ci-artifacts/report-traps.png` for CI to keep. Without chromium (or without a Python
//! that has Alembic, which the trials need) the test is reported ignored with the reason.

mod common;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let args = Arguments::from_args();
    let trial = Trial::ignorable_test("report::traps_in_chromium", || {
        let Some(browser) = chromium() else {
            return Ok(Completion::ignored_with(
                "no chromium on PATH (apt-get install chromium; or set MRT_CHROMIUM)",
            ));
        };
        if !common::python_has("alembic") {
            return Ok(Completion::ignored_with(format!(
                "{} cannot import alembic (pip install -r tests/requirements.txt)",
                common::python()
            )));
        }
        traps_in_chromium(&browser).map(|()| Completion::Completed)
    });
    libtest_mimic::run(&args, vec![trial]).exit();
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MRT_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser", "google-chrome"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("ci-artifacts")
}

/// What expect.toml says of each revision: `pass` or `fail`.
fn expected() -> BTreeMap<String, String> {
    let path = common::fixtures("trials").join("traps").join("expect.toml");
    let text = std::fs::read_to_string(path).expect("expect.toml");
    let value: toml::Value = toml::from_str(&text).expect("toml");
    let verdicts = value["verdicts"].as_table().expect("[verdicts]");
    let word = |v: &toml::Value| match v.as_str() {
        Some(s) => s.to_string(),
        None => "fail".to_string(),
    };
    verdicts.iter().map(|(k, v)| (k.clone(), word(v))).collect()
}

fn mrt_to(args: &[&str], out: &Path) -> Result<(), Failed> {
    let run = common::mrt(args, &common::repo());
    std::fs::write(out, &run.stdout).map_err(|e| e.to_string())?;
    match run.status.code() {
        Some(0..=2) | Some(101) => Ok(()),
        _ => Err(format!("mrt {args:?}: {}", String::from_utf8_lossy(&run.stderr)).into()),
    }
}

fn traps_in_chromium(browser: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = common::fixtures("trials").join("traps");
    let p = project.to_str().unwrap_or_default();
    let (check, test) = (dir.path().join("check.json"), dir.path().join("test.json"));
    mrt_to(&["check", p, "--format", "json"], &check)?;
    // A new seed each run (the verdicts must not depend on it), named in a failure.
    let seed = (std::time::UNIX_EPOCH.elapsed())
        .map_or(0, |d| d.subsec_nanos() % 1_000_000)
        .to_string();
    mrt_to(
        &[
            "test",
            "--project",
            p,
            "--no-cache",
            "--format",
            "json",
            "--seed",
            &seed,
        ],
        &test,
    )?;
    std::fs::create_dir_all(artifacts()).map_err(|e| e.to_string())?;
    let page = artifacts().join("report-traps.html");
    let from = |f: &Path| f.to_string_lossy().into_owned();
    let out = common::mrt(
        &[
            "report",
            "--from",
            &from(&check),
            "--from",
            &from(&test),
            "-o",
            &from(&page),
            "--title",
            "traps",
        ],
        &common::repo(),
    );
    if !out.status.success() {
        return Err(format!("mrt report: {}", String::from_utf8_lossy(&out.stderr)).into());
    }

    let all = dom(browser, &page, "", dir.path())?;
    let want = expected();
    let rows = rows_of(&all);
    let got: BTreeMap<String, String> = (rows.iter())
        .map(|(rev, verdicts, _)| (rev.clone(), verdict_on(verdicts, "sqlite")))
        .collect();
    if got != want {
        return Err(format!(
            "verdicts in the browser {got:?}\nexpect.toml {want:?}\n(mrt test --seed {seed})"
        )
        .into());
    }
    let order: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let sorted = want.keys().collect::<Vec<_>>();
    if order != sorted {
        return Err(format!("rows not in graph order: {order:?}").into());
    }
    if all["count"] != format!("{} of {} revisions", rows.len(), rows.len()) {
        return Err(format!("the page's script did not run: count {:?}", all["count"]).into());
    }

    let failing = dom(browser, &page, "#verdict=fail", dir.path())?;
    let shown: Vec<String> = (rows_of(&failing).into_iter())
        .filter(|(_, _, hidden)| !hidden)
        .map(|r| r.0)
        .collect();
    let want_failing: Vec<String> = (want.iter())
        .filter(|(_, v)| *v == "fail")
        .map(|(k, _)| k.clone())
        .collect();
    if shown != want_failing {
        return Err(format!("filter verdict=fail shows {shown:?}, want {want_failing:?}").into());
    }
    screenshot(browser, &page, dir.path())
}

type Row = (String, String, bool);

fn rows_of(parsed: &serde_json::Value) -> Vec<Row> {
    (parsed["rows"].as_array().into_iter().flatten())
        .map(|r| {
            (
                r["revision"].as_str().unwrap_or_default().to_string(),
                r["verdicts"].as_str().unwrap_or_default().to_string(),
                r["hidden"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn verdict_on(verdicts: &str, db: &str) -> String {
    (verdicts.split(' '))
        .find_map(|w| w.strip_prefix(&format!("{db}:")))
        .unwrap_or("none")
        .to_string()
}

fn browser_command(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The DOM chromium has after loading the page (its script run), parsed.
fn dom(browser: &Path, page: &Path, hash: &str, tmp: &Path) -> Result<serde_json::Value, Failed> {
    let url = format!("file://{}{hash}", page.display());
    let out = browser_command(browser, &tmp.join("profile"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", browser.display()))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(format!("chromium: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let dumped = tmp.join("dom.html");
    std::fs::write(&dumped, &out.stdout).map_err(|e| e.to_string())?;
    let parsed = Command::new("python3")
        .arg(common::repo().join("tests/support/html_page.py"))
        .arg(&dumped)
        .output()
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&parsed.stdout).map_err(|e| format!("parse: {e}").into())
}

fn screenshot(browser: &Path, page: &Path, tmp: &Path) -> Result<(), Failed> {
    let png = artifacts().join("report-traps.png");
    let _ = std::fs::remove_file(&png);
    let out = browser_command(browser, &tmp.join("profile"))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2000")
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&png).map_err(|e| {
        format!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if !bytes.starts_with(b"\x89PNG") || bytes.len() < 10_000 {
        return Err(format!("not a real screenshot: {} bytes", bytes.len()).into());
    }
    eprintln!("note: screenshot of the report: {}", png.display());
    Ok(())
}
