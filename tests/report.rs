//! The HTML report: every value from the project is shown as text (fixtures/report/escaping puts
//! `<script>`, markup, quotes and an ESC into a table name, a column name and a row), the page
//! is one file with nothing fetched, and `--report` and `mrt report --from` draw the same page.
//! HTML is read back with Python's own parser (tests/support/html_page.py).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn escaping() -> PathBuf {
    common::fixtures("report").join("escaping")
}

fn run(args: &[&str]) -> std::process::Output {
    common::mrt(args, &common::repo())
}

fn parse(page: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(common::repo().join("tests/support/html_page.py"))
        .arg(page)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser output")
}

fn verdicts(parsed: &serde_json::Value) -> Vec<String> {
    (parsed["rows"].as_array().unwrap().iter())
        .map(|r| r["verdicts"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn assert_safe(page: &Path) {
    let raw = std::fs::read_to_string(page).expect("page");
    let bad: Vec<char> = (raw.chars())
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(bad.is_empty(), "raw control characters {bad:?} in the page");
    assert_eq!(
        raw.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(
        !raw.contains("http://") && !raw.contains("https://"),
        "nothing fetched"
    );
    let parsed = parse(page);
    let tags: Vec<&str> = (parsed["tags"].as_array().unwrap().iter())
        .map(|t| t.as_str().unwrap())
        .collect();
    // The row's <img onerror=...> must not become an element (the page has none of its own
    // without a bench section).
    assert!(
        !tags.contains(&"img"),
        "an <img> from the project: {tags:?}"
    );
    let attrs = parsed["attrs"].as_array().unwrap();
    assert!(!attrs.iter().any(|a| a == "onerror"), "{attrs:?}");
    assert_eq!(parsed["scripts"], 1);
    let text = parsed["text"].as_str().unwrap();
    assert!(
        text.contains("<script>alert(1)</script>"),
        "table name shown as text"
    );
    assert!(text.contains("note\"q"), "column name with its quote");
}

#[test]
fn project_values_are_shown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("test.html");
    let project = escaping();
    let out = run(&[
        "test",
        "--project",
        project.to_str().unwrap(),
        "--no-cache",
        "--report",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(101), "{out:?}");
    assert_safe(&page);
    let text = parse(&page)["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("<b>bold</b>"),
        "the row's markup shown as text"
    );
    assert!(text.contains("\\x1B[31m"), "the ESC shown as an escape");
    assert_eq!(
        verdicts(&parse(&page)),
        ["sqlite:pass *:pass", "sqlite:fail *:fail"],
        "one row per revision in graph order, with its verdict"
    );

    let check = dir.path().join("check.html");
    let out = run(&[
        "check",
        project.to_str().unwrap(),
        "--report",
        check.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_safe(&check);
    let text = parse(&check)["text"].as_str().unwrap().to_string();
    assert!(text.contains("MRT201"), "the finding");
    assert!(
        text.contains("DROP COLUMN \"note\"\"q\""),
        "its source line"
    );
}

#[test]
fn report_from_json_outputs_draws_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let project = escaping();
    let p = project.to_str().unwrap();
    let test = run(&["test", "--project", p, "--no-cache", "--format", "json"]);
    let check = run(&["check", p, "--format", "json"]);
    let (t, c) = (dir.path().join("t.json"), dir.path().join("c.json"));
    std::fs::write(&t, &test.stdout).unwrap();
    std::fs::write(&c, &check.stdout).unwrap();
    let page = dir.path().join("all.html");
    let out = run(&[
        "report",
        "--from",
        c.to_str().unwrap(),
        "--from",
        t.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
        "--link",
        "https://example.test/blob/main/{path}#L{line}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let parsed = parse(&page);
    assert_eq!(
        verdicts(&parsed),
        ["sqlite:pass *:pass", "sqlite:fail *:fail"]
    );
    let raw = std::fs::read_to_string(&page).unwrap();
    let want = "https://example.test/blob/main/fixtures/report/escaping/migrations/20240101000002_drop_the_note.up.sql#L1";
    assert!(raw.contains(want), "finding linked to its file and line");
    let text = parsed["text"].as_str().unwrap();
    assert!(text.contains("MRT201") && text.contains("downgrade did not restore the data"));

    // Not an mrt output: a clear error, no page.
    std::fs::write(dir.path().join("x.json"), "{\"a\": 1}").unwrap();
    let bad = dir.path().join("bad.html");
    let out = run(&[
        "report",
        "--from",
        dir.path().join("x.json").to_str().unwrap(),
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the JSON output of mrt"));
    assert!(!bad.exists());
}
