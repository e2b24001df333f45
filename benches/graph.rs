//! Benchmark: discover + parse + build the graph of a generated 1,000-revision Alembic chain.
//!
//! Prints mrt's median time and, when a Python with Alembic is available, the ratio against
//! Alembic loading the same chain (`ScriptDirectory.walk_revisions()`) measured in this same run,
//! because absolute times on these machines are noisy. Run: `cargo bench --bench graph`.

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
    let mrt = median(RUNS, || {
        let project = mrt_migrations::Project::open(dir.path(), &Default::default()).expect("open");
        assert_eq!(project.graph.len(), REVISIONS);
        assert!(!project.has_problems());
    });
    println!(
        "graph/{REVISIONS} revisions: mrt (in process) median {:.1} ms over {RUNS} runs",
        ms(mrt)
    );
    let cli = median(3, || {
        let out = Command::new(env!("CARGO_BIN_EXE_mrt"))
            .args(["graph", "--format", "json"])
            .current_dir(dir.path())
            .output()
            .expect("run mrt");
        assert!(out.status.success());
    });
    println!(
        "graph/{REVISIONS} revisions: `mrt graph` (whole process) median {:.1} ms",
        ms(cli)
    );
    match alembic_time(dir.path()) {
        Some(alembic) => println!(
            "graph/{REVISIONS} revisions: alembic walk_revisions {:.1} ms; ratio mrt/alembic = {:.3}",
            ms(alembic),
            mrt.as_secs_f64() / alembic.as_secs_f64()
        ),
        None => println!("graph: alembic baseline skipped (no python with alembic; set MRT_PYTHON)"),
    }
}

/// Alembic's in-process load time of the same chain, timed inside Python (import excluded).
fn alembic_time(dir: &Path) -> Option<Duration> {
    let python = std::env::var("MRT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import time,statistics\nfrom alembic.config import Config\nfrom alembic.script import ScriptDirectory\nts=[]\nfor _ in range(3):\n    t=time.perf_counter(); s=ScriptDirectory.from_config(Config('alembic.ini')); n=len(list(s.walk_revisions())); ts.append(time.perf_counter()-t)\nprint(statistics.median(ts))";
    let out = Command::new(python)
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(Duration::from_secs_f64(secs))
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
        let body = format!(
            "\"\"\"create table t{i}\n\nRevision ID: r{i:04}\n\"\"\"\nfrom typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision: str = \"r{i:04}\"\ndown_revision: Union[str, Sequence[str], None] = {down}\nbranch_labels: Union[str, Sequence[str], None] = None\ndepends_on: Union[str, Sequence[str], None] = None\n\n\ndef upgrade() -> None:\n    op.create_table(\"t{i}\", sa.Column(\"id\", sa.Integer, primary_key=True), sa.Column(\"name\", sa.String(50)))\n\n\ndef downgrade() -> None:\n    op.drop_table(\"t{i}\")\n"
        );
        std::fs::write(versions.join(format!("r{i:04}_create_t{i}.py")), body)
            .expect("write revision");
    }
}
