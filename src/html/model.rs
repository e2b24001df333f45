//! What the report shows, read from the JSON outputs of `mrt check`, `mrt test` and `mrt bench`
//! (the same documents `--format json` prints, so `mrt report --from` and `--report` draw one
//! page from one source). Every value is kept as the project wrote it; the page escapes it.

use mrt_harness::bench::BenchRun;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One JSON document given to the report, by what printed it.
#[derive(Debug, Clone)]
pub enum Input {
    /// `mrt check --format json`.
    Check(Value),
    /// `mrt test --format json`: one event per line.
    Test(Vec<Value>),
    /// `mrt bench --format json`.
    Bench(Box<BenchRun>),
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}: not the JSON output of mrt check, mrt test or mrt bench ({1})")]
    Unknown(String, String),
}

impl Input {
    /// Tells the three documents apart by their shape.
    pub fn parse(name: &str, text: &str) -> Result<Input, InputError> {
        let unknown = |why: String| InputError::Unknown(name.to_string(), why);
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            if value.get("findings").is_some() && value.get("summary").is_some() {
                return Ok(Input::Check(value));
            }
            if value.get("results").is_some() && value.get("repeat").is_some() {
                let run: BenchRun =
                    serde_json::from_value(value).map_err(|e| unknown(e.to_string()))?;
                return Ok(Input::Bench(Box::new(run)));
            }
        }
        let events: Result<Vec<Value>, _> = (text.lines())
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<Value>)
            .collect();
        match events {
            Ok(events) if !events.is_empty() && events.iter().all(|e| e.get("type").is_some()) => {
                Ok(Input::Test(events))
            }
            Ok(_) => Err(unknown("no findings, results or test events".into())),
            Err(e) => Err(unknown(e.to_string())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Fail,
    Pass,
    Ignored,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fail => "fail",
            Verdict::Pass => "pass",
            Verdict::Ignored => "ignored",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SchemaRow {
    pub object: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DataRow {
    pub table: String,
    pub key: String,
    pub change: String,
    pub column: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FailurePart {
    pub title: String,
    pub lines: Vec<String>,
    pub schema: Vec<SchemaRow>,
    pub rows: Vec<DataRow>,
}

/// A test's result: a trial on one database, or a chain-level test.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub verdict: Verdict,
    /// The failure's text, or the reason it was ignored.
    pub text: String,
    pub parts: Vec<FailurePart>,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub code: String,
    pub name: String,
    pub severity: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub fix: Option<String>,
    /// Numbered source lines around the finding, when the file could be read.
    pub source: Vec<(usize, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Revision {
    pub id: String,
    pub message: Option<String>,
    pub path: Option<String>,
    pub findings: Vec<Finding>,
    /// `mrt check` skipped it, with the reason.
    pub skipped: Option<String>,
    /// Per database: the rollback trial (and the forward trial of a migration with no down).
    pub trials: BTreeMap<String, Vec<TestResult>>,
    /// `lint::<rev>` from `mrt test` when no `mrt check` output was given.
    pub lint: Option<TestResult>,
}

impl Revision {
    /// The worst verdict over its trials and its error findings.
    pub fn verdict(&self) -> Option<Verdict> {
        let trial = self.trials.values().flatten().map(|t| t.verdict);
        let lint = self.lint.iter().map(|t| t.verdict);
        let errors = (self.findings.iter().any(|f| f.severity == "error")).then_some(Verdict::Fail);
        trial.chain(lint).chain(errors).min()
    }

    pub fn verdict_on(&self, db: &str) -> Option<Verdict> {
        self.trials.get(db)?.iter().map(|t| t.verdict).min()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub revisions: Vec<Revision>,
    /// Trial databases, in the order the run named them.
    pub databases: Vec<String>,
    /// `graph::` and `drift::` tests.
    pub chain: Vec<TestResult>,
    pub seed: Option<u64>,
    pub versions: BTreeMap<String, String>,
    /// `mrt check`'s counts: errors, warnings, info, files.
    pub check: Option<[u64; 4]>,
    pub bench: Option<BenchRun>,
    /// Link to a file and line: `{path}` and `{line}` are replaced.
    pub link: Option<String>,
    /// Where the reproduce lines and versions came from, for the footer.
    pub sources: Vec<String>,
}

/// Finds a file named in a report (paths are relative to the repository root).
pub type Resolve<'a> = &'a dyn Fn(&str) -> Option<PathBuf>;

/// Lines shown around a finding.
const CONTEXT: usize = 2;

impl Model {
    pub fn build(inputs: &[Input], resolve: Resolve<'_>) -> Model {
        let mut model = Model::default();
        for input in inputs {
            match input {
                Input::Test(events) => model.add_test(events),
                Input::Check(value) => model.add_check(value, resolve),
                Input::Bench(run) => model.add_bench(run),
            }
        }
        model
    }

    fn revision(&mut self, id: &str) -> &mut Revision {
        let index = match self.revisions.iter().position(|r| r.id == id) {
            Some(i) => i,
            None => {
                self.revisions.push(Revision {
                    id: id.to_string(),
                    ..Revision::default()
                });
                self.revisions.len() - 1
            }
        };
        &mut self.revisions[index]
    }

    fn add_test(&mut self, events: &[Value]) {
        for e in events {
            if e["type"] == "suite" && e["event"] == "started" {
                self.add_run(&e["mrt"]);
            }
            if e["type"] != "test" || e["event"] == "started" {
                continue;
            }
            let Some(result) = test_result(e) else {
                continue;
            };
            self.place(result);
        }
        self.sources.push("mrt test".into());
    }

    fn add_run(&mut self, run: &Value) {
        self.seed = run["seed"].as_u64().or(self.seed);
        for db in run["databases"].as_array().into_iter().flatten() {
            let db = db.as_str().unwrap_or_default().to_string();
            if !self.databases.contains(&db) {
                self.databases.push(db);
            }
        }
        for r in run["revisions"].as_array().into_iter().flatten() {
            let Some(id) = r["id"].as_str() else { continue };
            let rev = self.revision(id);
            rev.message = r["message"]
                .as_str()
                .map(String::from)
                .or(rev.message.take());
            rev.path = r["path"].as_str().map(String::from).or(rev.path.take());
        }
        if let Some(v) = run["version"].as_str() {
            self.versions.insert("mrt".into(), v.to_string());
        }
    }

    /// Puts a test under its revision and database, or with the chain tests.
    fn place(&mut self, result: TestResult) {
        let mut parts = result.name.splitn(3, "::");
        let (prefix, rest) = (parts.next().unwrap_or(""), parts.next());
        match (prefix, rest) {
            ("graph" | "drift", _) | (_, None) => self.chain.push(result),
            ("lint", Some(rev)) => {
                let rev = rev.to_string();
                self.revision(&rev).lint = Some(result);
            }
            (db, Some(rev)) => {
                let (db, rev) = (db.to_string(), rev.to_string());
                if !self.databases.contains(&db) {
                    self.databases.push(db.clone());
                }
                self.revision(&rev)
                    .trials
                    .entry(db)
                    .or_default()
                    .push(result);
            }
        }
    }

    fn add_check(&mut self, value: &Value, resolve: Resolve<'_>) {
        for r in value["revisions"].as_array().into_iter().flatten() {
            let Some(id) = r["revision"].as_str() else {
                continue;
            };
            let rev = self.revision(id);
            rev.path = r["path"].as_str().map(String::from).or(rev.path.take());
            rev.message = r["message"]
                .as_str()
                .map(String::from)
                .or(rev.message.take());
        }
        for s in value["skipped"].as_array().into_iter().flatten() {
            let id = s["revision"].as_str().unwrap_or_default().to_string();
            self.revision(&id).skipped = s["reason"].as_str().map(String::from);
        }
        for f in value["findings"].as_array().into_iter().flatten() {
            let path = f["path"].as_str().unwrap_or_default().to_string();
            let id = f["revision"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| path.clone());
            let finding = finding(f, resolve(&path));
            let rev = self.revision(&id);
            rev.path.get_or_insert(path);
            rev.findings.push(finding);
        }
        let s = &value["summary"];
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        self.check = Some([n("errors"), n("warnings"), n("info"), n("files")]);
        self.sources.push("mrt check".into());
    }

    fn add_bench(&mut self, run: &BenchRun) {
        for (k, v) in &run.versions {
            self.versions.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for r in &run.results {
            let rev = self.revision(&r.revision);
            if rev.message.is_none() {
                rev.message = r.message.clone();
            }
        }
        self.bench = Some(run.clone());
        self.sources.push("mrt bench".into());
    }
}

fn test_result(e: &Value) -> Option<TestResult> {
    let name = e["name"].as_str()?.to_string();
    let verdict = match e["event"].as_str()? {
        "ok" => Verdict::Pass,
        "failed" => Verdict::Fail,
        "ignored" => Verdict::Ignored,
        _ => return None,
    };
    let text = e["stdout"].as_str().or(e["message"].as_str()).unwrap_or("");
    let parts = e["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(part)
        .collect();
    Some(TestResult {
        name,
        verdict,
        text: text.to_string(),
        parts,
    })
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

fn part(v: &Value) -> FailurePart {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect()
    };
    FailurePart {
        title: text(&v["title"]).unwrap_or_default(),
        lines: strings(&v["lines"]),
        schema: (v["schema"].as_array().into_iter().flatten())
            .map(|d| SchemaRow {
                object: text(&d["object"]).unwrap_or_default(),
                before: text(&d["before"]),
                after: text(&d["after"]),
            })
            .collect(),
        rows: (v["rows"].as_array().into_iter().flatten())
            .map(|d| DataRow {
                table: text(&d["table"]).unwrap_or_default(),
                key: text(&d["key"]).unwrap_or_default(),
                change: text(&d["change"]).unwrap_or_default(),
                column: text(&d["column"]),
                before: text(&d["before"]),
                after: text(&d["after"]),
            })
            .collect(),
    }
}

fn finding(f: &Value, file: Option<PathBuf>) -> Finding {
    let code = text(&f["code"]).unwrap_or_default();
    let line = f["line"].as_u64().unwrap_or(0) as usize;
    Finding {
        fix: mrt_lint::find_rule(&code).map(|r| r.doc.fix.to_string()),
        name: text(&f["name"]).unwrap_or_default(),
        severity: text(&f["severity"]).unwrap_or_default(),
        column: f["column"].as_u64().unwrap_or(0) as usize,
        message: text(&f["message"]).unwrap_or_default(),
        source: file.map(|p| around(&p, line)).unwrap_or_default(),
        code,
        line,
    }
}

/// Lines `line - CONTEXT ..= line + CONTEXT` of a file, numbered.
fn around(path: &std::path::Path, line: usize) -> Vec<(usize, String)> {
    let Some(source) = crate::commands::check::read_source(path) else {
        return Vec::new();
    };
    let first = line.saturating_sub(CONTEXT).max(1);
    (source.lines().enumerate())
        .map(|(i, l)| (i + 1, l))
        .filter(|(n, _)| (first..=line + CONTEXT).contains(n))
        .map(|(n, l)| (n, l.to_string()))
        .collect()
}
