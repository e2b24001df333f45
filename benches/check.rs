//! Benchmark: `mrt check` end to end (process start, config, discovery, parse, graph, lint of
//! every file in parallel, report) on a generated 1,000-revision Alembic chain.
//!
//! Prints the median of several runs and, as the baseline measured in this same run on the same
//! project, `mrt graph` (everything but the lint), because absolute times on these machines are
//! noisy. Target: under 0.3 s for 1,000 files. Run: `cargo bench --bench check`.

mod common;

use common::{median, ms};

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const REVISIONS: usize = 1_000;
const RUNS: usize = 7;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    generate_chain(dir.path(), REVISIONS);
    let expected = expected_findings(REVISIONS);
    let check = median(RUNS, || {
        let out = mrt(dir.path(), &["check", "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
        let found = report["findings"].as_array().map_or(0, Vec::len);
        assert_eq!(found, expected, "findings on the generated chain");
        assert_eq!(out.status.code(), Some(2), "the chain holds errors");
    });
    let table = median(RUNS, || {
        mrt(dir.path(), &["check"]);
    });
    let graph = median(RUNS, || {
        let out = mrt(dir.path(), &["graph", "--format", "json"]);
        assert!(out.status.success());
    });
    println!(
        "check/{REVISIONS} revisions: `mrt check --format json` median {:.1} ms over {RUNS} runs ({expected} findings)",
        ms(check)
    );
    println!(
        "check/{REVISIONS} revisions: `mrt check` (table) median {:.1} ms",
        ms(table)
    );
    println!(
        "check/{REVISIONS} revisions: baseline `mrt graph --format json` median {:.1} ms; ratio check/graph = {:.2}",
        ms(graph),
        check.as_secs_f64() / graph.as_secs_f64()
    );
    let verdict = if check < Duration::from_millis(300) {
        "met"
    } else {
        "MISSED"
    };
    println!("check/{REVISIONS} revisions: target < 300 ms {verdict}");
}

fn mrt(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mrt")
}

/// Every 10th revision drops a column (MRT201); every 25th runs an UPDATE it does not undo
/// (MRT103) and drops a column in downgrade that upgrade did not add (MRT215); the rest add and
/// drop a nullable column, or create a table with an index and drop both: all safe.
fn body(i: usize) -> (String, String) {
    if i % 10 == 5 {
        (
            format!("    op.drop_column(\"t{}\", \"name\")", i - 1),
            format!(
                "    op.add_column(\"t{}\", sa.Column(\"name\", sa.String(50)))",
                i - 1
            ),
        )
    } else if i % 25 == 7 {
        (
            format!(
                "    op.execute(\"UPDATE t{} SET name = 'x' WHERE name IS NULL\")",
                i - 1
            ),
            format!("    op.drop_column(\"t{}\", \"extra\")", i - 1),
        )
    } else if i % 3 == 1 {
        (
            format!(
                "    op.add_column(\"t{}\", sa.Column(\"note\", sa.Text(), nullable=True))",
                i - 1
            ),
            format!("    op.drop_column(\"t{}\", \"note\")", i - 1),
        )
    } else {
        (
            format!(
                "    op.create_table(\"t{i}\", sa.Column(\"id\", sa.Integer, primary_key=True), sa.Column(\"name\", sa.String(50)))\n    op.create_index(\"ix_t{i}_name\", \"t{i}\", [\"name\"])"
            ),
            format!("    op.drop_index(\"ix_t{i}_name\", table_name=\"t{i}\")\n    op.drop_table(\"t{i}\")"),
        )
    }
}

fn expected_findings(n: usize) -> usize {
    let drops = (0..n).filter(|i| i % 10 == 5).count();
    let updates = (0..n).filter(|i| i % 25 == 7).count();
    drops + 2 * updates
}

fn generate_chain(dir: &Path, n: usize) {
    let versions = dir.join("migrations/versions");
    std::fs::create_dir_all(&versions).expect("mkdir");
    std::fs::write(
        dir.join("alembic.ini"),
        "[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite:///bench.db\n",
    )
    .expect("write ini");
    for i in 0..n {
        let down = if i == 0 {
            "None".to_string()
        } else {
            format!("\"r{:04}\"", i - 1)
        };
        let (up, down_body) = body(i);
        let text = format!(
            "\"\"\"revision {i}\n\nRevision ID: r{i:04}\n\"\"\"\nfrom typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision: str = \"r{i:04}\"\ndown_revision: Union[str, Sequence[str], None] = {down}\nbranch_labels: Union[str, Sequence[str], None] = None\ndepends_on: Union[str, Sequence[str], None] = None\n\n\ndef upgrade() -> None:\n{up}\n\n\ndef downgrade() -> None:\n{down_body}\n"
        );
        std::fs::write(versions.join(format!("r{i:04}_step.py")), text).expect("write revision");
    }
}
