//! Every output format of `mrt check`, on the `errors` fixture (an error, a warning) with one
//! revision skipped by config: table text, JSON fields, SARIF against the official 2.1.0 schema,
//! GitHub workflow commands, JUnit XML.

mod check_common;
mod common;

use check_common::{copy_fixture, run, write};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const DROP: &str = "migrations/versions/b2c3d4e5f6a1_drop_users_email.py";
const CASCADE: &str = "migrations/versions/c3d4e5f6a1b2_users_manager.py";
const NICK: &str = "migrations/versions/d4e5f6a1b2c3_add_users_nickname.py";

/// The `errors` fixture with `d4e5f6a1b2c3` skipped: 3 checked, 1 skipped, 1 error, 1 warning.
fn project() -> tempfile::TempDir {
    let dir = copy_fixture("errors");
    write(
        dir.path(),
        "mrt.toml",
        "[skip]\nd4e5f6a1b2c3 = \"reviewed: <safe> & \\\"fine\\\", 100%\"\n",
    );
    dir
}

fn output(dir: &Path, format: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["check", "--format", format];
    args.extend_from_slice(extra);
    let r = run(&args, dir);
    assert!(
        r.stderr.is_empty() || !r.stderr.contains("error"),
        "{}",
        r.stderr
    );
    (r.code, r.stdout)
}

#[test]
fn table_groups_by_file_and_summarises() {
    let dir = project();
    let (code, text) = output(dir.path(), "table", &[]);
    assert_eq!(code, Some(2));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{DROP}:19:5  MRT201  error  ")),
        "{text}"
    );
    assert!(lines[0].contains("users.email"), "{text}");
    assert_eq!(lines[1], "", "files are separated by a blank line:\n{text}");
    assert!(
        lines[2].starts_with(&format!("{CASCADE}:20:5  MRT204  warning  ")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{NICK}  skipped  revision d4e5f6a1b2c3: reviewed")),
        "{text}"
    );
    assert_eq!(
        lines.last().copied(),
        Some("1 error, 1 warning, 0 info in 3 files; 1 skipped")
    );
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
}

#[test]
fn json_has_every_field() {
    let dir = project();
    let (code, text) = output(dir.path(), "json", &[]);
    assert_eq!(code, Some(2));
    let v: Value = serde_json::from_str(&text).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["revision"], "b2c3d4e5f6a1");
    assert_eq!(f["path"], DROP);
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(19), Some(5))
    );
    assert_eq!(f["code"], "MRT201");
    assert_eq!(f["name"], "drop-column");
    assert_eq!(f["severity"], "error");
    assert!(f["message"].as_str().unwrap().contains("users.email"));
    assert_eq!(v["findings"][1]["code"], "MRT204");
    assert_eq!(v["findings"][1]["severity"], "warning");
    assert_eq!(v["findings"].as_array().unwrap().len(), 2);
    assert_eq!(v["skipped"][0]["revision"], "d4e5f6a1b2c3");
    assert_eq!(v["skipped"][0]["path"], NICK);
    assert_eq!(
        v["skipped"][0]["reason"],
        "reviewed: <safe> & \"fine\", 100%"
    );
    let s = &v["summary"];
    assert_eq!(
        (
            s["errors"].as_u64(),
            s["warnings"].as_u64(),
            s["info"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(
        (s["files"].as_u64(), s["skipped"].as_u64()),
        (Some(3), Some(1))
    );
}

fn sarif_validator() -> jsonschema::Validator {
    let schema_path = common::repo().join("tests/support/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, log: &Value) -> Vec<String> {
    validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn sarif_is_valid_2_1_0_and_complete() {
    let dir = project();
    let (code, text) = output(dir.path(), "sarif", &[]);
    assert_eq!(code, Some(2));
    let log: Value = serde_json::from_str(&text).unwrap();
    let validator = sarif_validator();
    let errors = schema_errors(&validator, &log);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif"));
    let run0 = &log["runs"][0];
    let driver = &run0["tool"]["driver"];
    assert_eq!(driver["name"], "mrt");
    assert!(driver["informationUri"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let rules = driver["rules"].as_array().unwrap();
    for r in rules {
        for key in ["id", "name", "shortDescription", "fullDescription", "help"] {
            assert!(!r[key].is_null(), "rule without {key}: {r}");
        }
        assert!(r["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("How to fix"));
        assert!(["error", "warning", "note"]
            .contains(&r["defaultConfiguration"]["level"].as_str().unwrap()));
    }
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["error", "warning"]);
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[index]["id"], result["ruleId"],
            "ruleIndex points at its rule"
        );
        let loc = &result["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("migrations/versions/") && !uri.contains('\\'),
            "{uri}"
        );
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
    }
    assert_eq!(results[0]["ruleId"], "MRT201");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        DROP
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        19
    );
}

#[test]
fn sarif_schema_check_rejects_a_broken_log() {
    let dir = project();
    let (_, text) = output(dir.path(), "sarif", &[]);
    let mut log: Value = serde_json::from_str(&text).unwrap();
    log["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!schema_errors(&sarif_validator(), &log).is_empty());
    let mut log: Value = serde_json::from_str(&text).unwrap();
    log["version"] = Value::from("2.0.0");
    assert!(!schema_errors(&sarif_validator(), &log).is_empty());
}

/// `::cmd prop=v,prop=v::message` -> (cmd, props, message), undoing GitHub's escaping.
fn parse_command(line: &str) -> (String, BTreeMap<String, String>, String) {
    let rest = line.strip_prefix("::").expect("a workflow command");
    let (head, message) = rest.split_once("::").expect("command :: message");
    let (cmd, props) = head.split_once(' ').unwrap_or((head, ""));
    let unescape = |s: &str| {
        s.replace("%2C", ",")
            .replace("%3A", ":")
            .replace("%0A", "\n")
            .replace("%0D", "\r")
            .replace("%25", "%")
    };
    let props = props
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').expect("key=value");
            (k.to_string(), unescape(v))
        })
        .collect();
    (cmd.to_string(), props, unescape(message))
}

#[test]
fn github_annotations_parse() {
    let dir = project();
    let (code, text) = output(dir.path(), "github", &[]);
    assert_eq!(code, Some(2));
    let commands: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(parse_command)
        .collect();
    assert_eq!(commands.len(), 3, "{text}");
    let (cmd, props, message) = &commands[0];
    assert_eq!(cmd, "error");
    assert_eq!(props["file"], DROP);
    assert_eq!((props["line"].as_str(), props["col"].as_str()), ("19", "5"));
    assert_eq!(props["title"], "MRT201");
    assert!(message.contains("users.email"), "{message}");
    assert_eq!(commands[1].0, "warning");
    assert_eq!(commands[1].1["title"], "MRT204");
    let (cmd, props, message) = &commands[2];
    assert_eq!((cmd.as_str(), props["file"].as_str()), ("notice", NICK));
    assert!(
        message.contains("reviewed: <safe> & \"fine\", 100%"),
        "escaping must round-trip: {message}"
    );
    assert!(
        text.contains("%25"),
        "the % in the reason is escaped: {text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("1 error, 1 warning, 0 info in 3 files; 1 skipped")
    );
}

#[derive(Debug, Default)]
struct Case {
    name: String,
    file: String,
    failure: Option<String>,
    failure_text: String,
    skipped: Option<String>,
    system_out: String,
}

fn attr(e: &quick_xml::events::BytesStart, name: &str) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .map(|a| a.unescape_value().expect("attribute").into_owned())
}

/// The suite's attributes and its test cases.
fn parse_junit(xml: &str) -> (BTreeMap<String, String>, Vec<Case>) {
    let mut reader = Reader::from_str(xml);
    let mut suite = BTreeMap::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut in_text: Option<&str> = None;
    let mut suites = 0;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testsuite" => {
                    suites += 1;
                    for key in ["tests", "failures", "skipped", "errors"] {
                        suite.insert(key.to_string(), attr(&e, key).unwrap_or_default());
                    }
                }
                b"testcase" => cases.push(Case {
                    name: attr(&e, "name").unwrap_or_default(),
                    file: attr(&e, "file").unwrap_or_default(),
                    ..Case::default()
                }),
                b"failure" => {
                    cases.last_mut().unwrap().failure = attr(&e, "message");
                    in_text = Some("failure");
                }
                b"skipped" => cases.last_mut().unwrap().skipped = attr(&e, "message"),
                b"system-out" => in_text = Some("out"),
                _ => {}
            },
            Event::Text(t) => {
                let text = t.unescape().expect("text").into_owned();
                if let Some(case) = cases.last_mut() {
                    match in_text {
                        Some("failure") => case.failure_text.push_str(&text),
                        Some("out") => case.system_out.push_str(&text),
                        _ => {}
                    }
                }
            }
            Event::End(_) => in_text = None,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 1, "one test suite");
    (suite, cases)
}

#[test]
fn junit_has_one_case_per_revision() {
    let dir = project();
    let (code, xml) = output(dir.path(), "junit", &[]);
    assert_eq!(code, Some(2));
    let (suite, cases) = parse_junit(&xml);
    assert_eq!(suite["tests"], "4");
    assert_eq!(suite["failures"], "1");
    assert_eq!(suite["skipped"], "1");
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "lint::a1b2c3d4e5f6",
            "lint::b2c3d4e5f6a1",
            "lint::c3d4e5f6a1b2",
            "lint::d4e5f6a1b2c3"
        ]
    );
    assert!(cases[0].failure.is_none() && cases[0].skipped.is_none());
    let drop = &cases[1];
    assert_eq!(drop.file, DROP);
    assert!(drop.failure.as_deref().unwrap().contains("MRT201"));
    assert!(drop
        .failure_text
        .contains(&format!("{DROP}:19:5: MRT201 error")));
    let cascade = &cases[2];
    assert!(
        cascade.failure.is_none(),
        "a warning is not a failure without --strict"
    );
    assert!(cascade.system_out.contains("MRT204 warning"), "{cascade:?}");
    assert_eq!(
        cases[3].skipped.as_deref(),
        Some("reviewed: <safe> & \"fine\", 100%")
    );
    let (code, xml) = output(dir.path(), "junit", &["--strict"]);
    assert_eq!(code, Some(2));
    let (suite, cases) = parse_junit(&xml);
    assert_eq!(suite["failures"], "2");
    assert!(cases[2].failure.as_deref().unwrap().contains("MRT204"));
}

#[test]
fn every_format_agrees_on_the_exit_code() {
    for (fixture, want) in [("clean", 0), ("warnings", 1), ("errors", 2)] {
        let dir = check_common::fixture(fixture);
        for format in ["table", "json", "sarif", "github", "junit"] {
            let (code, _) = output(&dir, format, &[]);
            assert_eq!(code, Some(want), "{fixture} --format {format}");
        }
    }
}
