//! Every project under `fixtures/check/` states in `expect.toml` the exit code of `mrt check`
//! (without and with `--strict`) and exactly the findings (code, file, line) it must report.

mod check_common;
mod common;

use check_common::{check_json, findings};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    exit: i32,
    strict_exit: i32,
    findings: Vec<ExpectFinding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFinding {
    code: String,
    file: String,
    line: u64,
}

fn expect(dir: &Path) -> Expect {
    let text = std::fs::read_to_string(dir.join("expect.toml")).expect("expect.toml");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn verify(dir: &Path) -> Result<(), String> {
    let want = expect(dir);
    let (code, report, stderr) = check_json(dir, &[]);
    let mut want_findings: Vec<(String, String, u64)> = want
        .findings
        .iter()
        .map(|f| (f.code.clone(), f.file.clone(), f.line))
        .collect();
    want_findings.sort();
    let got = findings(&report);
    if got != want_findings {
        return Err(format!(
            "findings: want {want_findings:?}\n got {got:?}\n{stderr}"
        ));
    }
    if code != Some(want.exit) {
        return Err(format!("exit: want {}, got {code:?}\n{stderr}", want.exit));
    }
    if report["summary"]["exit_code"] != want.exit {
        return Err(format!("summary.exit_code: {}", report["summary"]));
    }
    let (strict, _, _) = check_json(dir, &["--strict"]);
    if strict != Some(want.strict_exit) {
        return Err(format!(
            "--strict exit: want {}, got {strict:?}",
            want.strict_exit
        ));
    }
    Ok(())
}

#[test]
fn every_check_fixture_gives_its_verdict() {
    let dirs = common::fixture_dirs("check");
    let names: Vec<String> = dirs
        .iter()
        .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for required in [
        "clean",
        "errors",
        "multi_head",
        "postgres",
        "sqlite_twin",
        "warnings",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "missing fixture {required}"
        );
    }
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| verify(d).err().map(|e| format!("{}: {e}", d.display())))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn exit_codes_cover_zero_one_two() {
    let codes: Vec<i32> = common::fixture_dirs("check")
        .iter()
        .map(|d| expect(d).exit)
        .collect();
    for code in [0, 1, 2] {
        assert!(codes.contains(&code), "no fixture exits {code}: {codes:?}");
    }
}

#[test]
fn postgres_rule_fires_only_on_postgres() {
    let rel = "migrations/versions/c2c2c2c2c2c2_index_users_email.py";
    let pg = check_common::fixture("postgres");
    let lite = check_common::fixture("sqlite_twin");
    assert_eq!(
        std::fs::read(pg.join(rel)).unwrap(),
        std::fs::read(lite.join(rel)).unwrap(),
        "the twin projects must hold the same revision"
    );
    let (_, pg_report, _) = check_json(&pg, &[]);
    let (_, lite_report, _) = check_json(&lite, &[]);
    assert_eq!(
        findings(&pg_report),
        vec![("MRT407".into(), rel.into(), 19)]
    );
    assert!(findings(&lite_report).is_empty());
    // --dialect overrides the URL both ways.
    let (code, forced, _) = check_json(&lite, &["--dialect", "postgresql"]);
    assert_eq!((code, findings(&forced).len()), (Some(1), 1));
    let (code, forced, _) = check_json(&pg, &["--dialect", "sqlite"]);
    assert_eq!((code, findings(&forced).len()), (Some(0), 0));
}

#[test]
fn bad_flags_exit_three() {
    let dir = check_common::fixture("clean");
    for args in [
        vec!["check", "--dialect", "oracle"],
        vec!["check", "--format", "xml"],
        vec!["check", "--select", "MRT999"],
        vec!["check", "--opt-in", "no-such-rule"],
        vec!["check", "--since", "ffffffffffff"],
    ] {
        let r = check_common::run(&args, &dir);
        assert_eq!(r.code, Some(3), "{args:?}: {}", r.stderr);
        assert!(
            r.stdout.is_empty(),
            "{args:?} printed a report: {}",
            r.stdout
        );
    }
    let r = check_common::run(&["check", "--select", "MRT999"], &dir);
    assert!(r.stderr.contains("unknown rule `MRT999`"), "{}", r.stderr);
    let empty = tempfile::tempdir().unwrap();
    let r = check_common::run(&["check"], empty.path());
    assert_eq!(r.code, Some(3), "{}", r.stderr);
}
