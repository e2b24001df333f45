//! "Safe output": control characters from migration files (ESC, CR, LF, NUL, OSC sequences, bidi
//! overrides) are escaped in every text output, stderr included, and with `--format github` no
//! line starts with `::` unless mrt wrote that annotation. Fixture `fixtures/check/control_chars`
//! holds them in a table name and a docstring; a file name with a line break is made here.

mod check_common;
mod common;

use check_common::{copy_fixture, fixture, run};

/// No raw control character but the line break, and no bidi override, in `text`.
fn assert_printable(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
        .collect();
    assert!(bad.is_empty(), "{what}: raw {bad:?} in\n{text:?}");
}

/// Every line that starts with `::` is one of mrt's annotations: `::error file=...,line=N,col=N,title=CODE::`.
fn annotations(what: &str, text: &str) -> usize {
    let mut n = 0;
    for line in text.lines() {
        if !line.trim_start().starts_with("::") {
            continue;
        }
        let ours = ["::error file=", "::warning file=", "::notice file="]
            .iter()
            .any(|p| line.starts_with(p))
            && line.contains(",line=")
            && (line.contains(",title=MRT") || line.contains(",title=mrt%3A skipped"));
        assert!(
            ours,
            "{what}: a line mrt did not write starts with '::': {line:?}"
        );
        n += 1;
    }
    n
}

#[test]
fn control_characters_are_escaped_in_every_text_format() {
    let dir = fixture("control_chars");
    for format in ["table", "github", "junit"] {
        let r = run(&["check", "--format", format], &dir);
        assert_eq!(r.code, Some(2), "{format}: {}", r.stderr);
        assert_printable(format, &r.stdout);
        assert_printable(format, &r.stderr);
        assert!(
            r.stdout
                .contains("us\\x1b[31mers\\r\\n::error title=forged::x\\0\\u{202e}"),
            "{format}: {}",
            r.stdout
        );
    }
    let github = run(&["check", "--format", "github"], &dir);
    assert_eq!(annotations("github stdout", &github.stdout), 1);
    assert_eq!(annotations("github stderr", &github.stderr), 0);
    let graph = run(&["graph"], &dir);
    assert_printable("graph", &graph.stdout);
    assert!(
        graph
            .stdout
            .contains("create users \\x1b]0;owned\\x07\\x1b[2J"),
        "{}",
        graph.stdout
    );
    let file = dir.join("migrations/versions/b2_drop.py");
    let explain = run(&["explain", file.to_str().unwrap()], &dir);
    assert_printable("explain", &explain.stdout);
    assert!(
        explain.stdout.contains("us\\x1b[31mers"),
        "{}",
        explain.stdout
    );
}

#[test]
fn json_keeps_the_text_as_data() {
    let (_, report, _) = check_common::check_json(&fixture("control_chars"), &[]);
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("us\u{1b}[31mers\r\n::error title=forged::x\0\u{202e}"),
        "{message:?}"
    );
}

#[test]
fn a_file_name_with_a_line_break_cannot_forge_an_annotation() {
    let dir = copy_fixture("clean");
    let versions = dir.path().join("migrations/versions");
    let name = "zz\n::warning file=a.py,line=1::forged\x1b[2J.py";
    std::fs::write(
        versions.join(name),
        "revision = 'zz'\ndown_revision = 'f6a1b2c3d4e5'\ndef upgrade(:\n",
    )
    .unwrap();
    for format in ["table", "github", "junit"] {
        let r = run(&["check", "--format", format], dir.path());
        assert_eq!(r.code, Some(2), "{format}: {}", r.stderr);
        assert_printable(format, &r.stdout);
        assert_printable(format, &r.stderr);
        if format == "github" {
            // clean's two MRT100 notices and the broken file's MRT902: nothing else.
            assert_eq!(annotations("github stdout", &r.stdout), 3, "{}", r.stdout);
            assert_eq!(annotations("github stderr", &r.stderr), 0);
        }
    }
    let graph = run(&["graph"], dir.path());
    assert_eq!(graph.code, Some(2));
    assert_printable("graph stderr", &graph.stderr);
    assert_eq!(annotations("graph stderr", &graph.stderr), 0);
    assert!(graph.stderr.contains("zz\\n::warning"), "{}", graph.stderr);
}
