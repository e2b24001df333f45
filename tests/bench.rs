//! `mrt bench`: the lock classes of the `fixtures/bench/locks` chain as `--format json` reports
//! them (shape and order of magnitude, never absolute times) on PostgreSQL, SQLite and MySQL, and
//! the SQL-file chain `fixtures/bench/sqlx_locks` for the outputs, baselines and gates (no Python).

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn main() {
    let args = Arguments::from_args();
    let url = mrt_db::test_server_url;
    let (pg, my) = (url("MRT_TEST_POSTGRES_URL"), url("MRT_TEST_MYSQL_URL"));
    let alembic = common::python_has("alembic") && common::python_has("sqlalchemy");
    let pg_driver = alembic && common::python_has("psycopg");
    let my_driver = alembic && common::python_has("pymysql");
    let pg_url = pg.clone().unwrap_or_default();
    let my_url = my.clone().unwrap_or_default();
    let trials = vec![
        Trial::test("bench::lock_classes::postgres", move || postgres(&pg_url))
            .with_ignored_flag(pg.is_none() || !pg_driver),
        Trial::test("bench::lock_classes::sqlite", sqlite).with_ignored_flag(!alembic),
        Trial::test("bench::lock_classes::mysql", move || mysql(&my_url))
            .with_ignored_flag(my.is_none() || !my_driver),
        Trial::test("bench::sql_files::json_shape", sql_json_shape),
        Trial::test("bench::sql_files::csv_plot_baseline", sql_outputs),
        Trial::test("bench::sql_files::gates_exit_2", sql_gates),
        Trial::test("bench::sql_files::failing_step_exit_1", sql_failing_step),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn bench(project: &str, extra: &[&str]) -> Output {
    let project = common::fixtures("bench").join(project);
    let project = project.to_string_lossy().into_owned();
    let python = common::python();
    let mut args = vec![
        "bench",
        "--project",
        &project,
        "--seed",
        "7",
        "--python",
        &python,
    ];
    args.extend_from_slice(extra);
    common::mrt(&args, &common::repo())
}

fn json_of(out: &Output) -> Result<Value, Failed> {
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(0) {
        return Err(format!(
            "exit {:?}\nstdout:\n{text}\nstderr:\n{stderr}",
            out.status.code()
        )
        .into());
    }
    serde_json::from_str(&text)
        .map_err(|e| format!("not JSON ({e}):\n{text}\nstderr:\n{stderr}").into())
}

/// The entry of a revision at a size and direction.
fn entry<'a>(run: &'a Value, rev: &str, rows: u64, direction: &str) -> Result<&'a Value, Failed> {
    let results = run["results"].as_array().ok_or("no results array")?;
    results
        .iter()
        .find(|r| r["revision"] == rev && r["rows"] == rows && r["direction"] == direction)
        .ok_or_else(|| format!("no {rev} {direction} at {rows} rows in {run:#}").into())
}

fn num(v: &Value, key: &str) -> Result<f64, Failed> {
    v[key]
        .as_f64()
        .ok_or_else(|| format!("{key} is not a number in {v:#}").into())
}

fn check(ok: bool, what: &str, v: &Value) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}:\n{v:#}").into())
    }
}

/// Every entry has the documented fields, with a sane order of min <= median <= max.
fn shape(run: &Value, expected_entries: usize) -> Result<(), Failed> {
    let results = run["results"].as_array().ok_or("no results")?;
    check(
        results.len() == expected_entries,
        &format!("{expected_entries} entries"),
        run,
    )?;
    for r in results {
        for key in [
            "revision",
            "database",
            "rows",
            "direction",
            "median_ms",
            "min_ms",
            "max_ms",
            "blocked_reads_ms",
            "blocked_writes_ms",
            "lock",
            "rewrote",
            "growth",
        ] {
            check(r.get(key).is_some(), &format!("field {key}"), r)?;
        }
        let (lo, mid, hi) = (num(r, "min_ms")?, num(r, "median_ms")?, num(r, "max_ms")?);
        check(
            lo <= mid && mid <= hi && lo >= 0.0,
            "min <= median <= max",
            r,
        )?;
    }
    check(run["seed"] == 7, "the run's seed", run)?;
    check(run["versions"]["mrt"].is_string(), "mrt's version", run)?;
    check(
        run["errors"].as_array().is_some_and(Vec::is_empty),
        "no errors",
        run,
    )
}

const BIG: u64 = 100_000;

fn postgres(url: &str) -> Result<(), Failed> {
    let out = bench(
        "locks",
        &[
            "--db", url, "--rows", "0,100000", "--repeat", "1", "--format", "json",
        ],
    );
    let run = json_of(&out)?;
    shape(&run, 5 * 2 * 2)?;
    // ADD COLUMN (nullable, no default): no rewrite, far quicker than building an index.
    let add = entry(&run, "b2", BIG, "upgrade")?;
    let index = entry(&run, "b3", BIG, "upgrade")?;
    check(add["rewrote"] == false, "b2 does not rewrite", add)?;
    check(
        num(add, "median_ms")? * 2.0 < num(index, "median_ms")?,
        "b2 much quicker than b3",
        &run,
    )?;
    // CREATE INDEX: SHARE lock, writes wait, reads go on; time grows with rows.
    check(index["lock"] == "SHARE", "b3 holds SHARE", index)?;
    check(
        num(index, "blocked_writes_ms")? > 0.0,
        "b3 blocks writes",
        index,
    )?;
    check(
        num(index, "blocked_reads_ms")? == 0.0,
        "b3 lets reads through",
        index,
    )?;
    check(index["growth"] != "constant", "b3 grows with rows", index)?;
    check(index["rewrote"] == false, "b3 does not rewrite", index)?;
    // CREATE INDEX CONCURRENTLY: writes go on (at most one probe wait).
    let concurrent = entry(&run, "b4", BIG, "upgrade")?;
    check(
        concurrent["lock"] == "SHARE UPDATE EXCLUSIVE",
        "b4 lock",
        concurrent,
    )?;
    check(
        num(concurrent, "blocked_writes_ms")? < 10.0,
        "b4 does not block writes",
        concurrent,
    )?;
    // ALTER COLUMN TYPE to bigint: rewrites under ACCESS EXCLUSIVE, reads and writes wait.
    let widen = entry(&run, "b5", BIG, "upgrade")?;
    check(widen["rewrote"] == true, "b5 rewrites", widen)?;
    check(widen["lock"] == "ACCESS EXCLUSIVE", "b5 lock", widen)?;
    check(
        num(widen, "blocked_reads_ms")? > 0.0,
        "b5 blocks reads",
        widen,
    )?;
    check(
        num(widen, "blocked_writes_ms")? > 0.0,
        "b5 blocks writes",
        widen,
    )?;
    check(widen["growth"] != "constant", "b5 grows with rows", widen)?;
    let fills = &run["fill_rows_per_second"]["postgres"];
    check(fills.as_f64().is_some_and(|r| r > 0.0), "a fill rate", &run)
}

fn sqlite() -> Result<(), Failed> {
    let out = bench(
        "locks",
        &["--rows", "0,2000", "--repeat", "1", "--format", "json"],
    );
    let run = json_of(&out)?;
    shape(&run, 5 * 2 * 2)?;
    let notes = run["notes"].to_string();
    check(
        notes.contains("SQLite locks the whole database"),
        "the SQLite note",
        &run,
    )?;
    let add = entry(&run, "b2", 2000, "upgrade")?;
    check(
        add["blocked_writes_ms"].is_null() && add["lock"].is_null(),
        "no probes on SQLite",
        add,
    )?;
    check(add["rewrote"] == false, "ADD COLUMN keeps the table", add)?;
    // The batch drop of the column and the type change copy the table (its root page moves).
    check(
        entry(&run, "b2", 2000, "downgrade")?["rewrote"] == true,
        "b2 down rewrites",
        &run,
    )?;
    check(
        entry(&run, "b5", 2000, "upgrade")?["rewrote"] == true,
        "b5 rewrites",
        &run,
    )
}

fn mysql(url: &str) -> Result<(), Failed> {
    let out = bench(
        "locks",
        &[
            "--db", url, "--rows", "0,2000", "--repeat", "1", "--format", "json",
        ],
    );
    let run = json_of(&out)?;
    shape(&run, 5 * 2 * 2)?;
    check(
        run["notes"].to_string().contains("rewrote"),
        "the MySQL note",
        &run,
    )?;
    let widen = entry(&run, "b5", 2000, "upgrade")?;
    check(
        widen["rewrote"].is_null(),
        "rewrote unknown on MySQL",
        widen,
    )
}

fn sql_json_shape() -> Result<(), Failed> {
    let out = bench(
        "sqlx_locks",
        &["--rows", "0,1000", "--repeat", "2", "--format", "json"],
    );
    let run = json_of(&out)?;
    shape(&run, 3 * 2 * 2)?;
    let index = entry(&run, "20261205000003_index_user", 1000, "upgrade")?;
    check(index["samples"] == 2, "two measured repetitions", index)?;
    check(
        index["tables"] == serde_json::json!(["events"]),
        "events filled",
        index,
    )?;
    let fills = run["fills"].as_array().ok_or("no fills")?;
    let filled = fills
        .iter()
        .any(|f| f["rows"] == 1000 && f["inserted"] == 1000);
    check(
        filled,
        "1000 rows inserted for a 1000-row measurement",
        &run,
    )
}

fn sql_outputs() -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cache = dir.path().to_string_lossy().into_owned();
    let svg = dir.path().join("bench.svg");
    let svg_arg = svg.to_string_lossy().into_owned();
    let common = [
        "--rows",
        "0,500",
        "--repeat",
        "1",
        "--cache-dir",
        cache.as_str(),
    ];
    let mut first = common.to_vec();
    first.extend([
        "--format",
        "csv",
        "--save-baseline",
        "main",
        "--plot",
        svg_arg.as_str(),
    ]);
    let out = bench("sqlx_locks", &first);
    let csv = String::from_utf8_lossy(&out.stdout).into_owned();
    check(
        out.status.success(),
        "csv run succeeds",
        &Value::String(csv.clone()),
    )?;
    let header = csv.lines().next().unwrap_or("");
    check(
        header.starts_with("revision,database,rows,direction,median_ms"),
        "csv header",
        &Value::String(csv.clone()),
    )?;
    check(
        csv.lines().count() == 1 + 12,
        "12 csv rows",
        &Value::String(csv.clone()),
    )?;
    let picture = std::fs::read_to_string(&svg).map_err(|e| format!("no plot: {e}"))?;
    check(
        picture.contains("<svg") && picture.contains("20261205000003"),
        "an SVG naming a revision",
        &Value::Null,
    )?;
    check(
        Path::new(&cache).join("bench/main.json").is_file(),
        "the baseline file",
        &Value::Null,
    )?;
    let mut second = common.to_vec();
    second.extend(["--format", "json", "--baseline", "main"]);
    let run = json_of(&bench("sqlx_locks", &second))?;
    let comparison = run["comparison"].as_array().ok_or("no comparison")?;
    check(comparison.len() == 12, "every entry compared", &run)?;
    let verdicts = ["regressed", "improved", "unchanged"];
    let known = comparison
        .iter()
        .all(|c| verdicts.iter().any(|v| c["verdict"] == *v));
    check(known, "each comparison has a verdict", &run)?;
    let missing = bench(
        "sqlx_locks",
        &["--baseline", "nope", "--cache-dir", cache.as_str()],
    );
    check(
        missing.status.code() == Some(3),
        "a missing baseline is a usage error",
        &Value::String(String::from_utf8_lossy(&missing.stderr).into()),
    )
}

fn sql_gates() -> Result<(), Failed> {
    let out = bench(
        "sqlx_locks",
        &["--rows", "0", "--repeat", "1", "--fail-over", "0ms"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    check(
        out.status.code() == Some(2),
        "exit 2 over the gate",
        &Value::String(stderr.clone()),
    )?;
    check(
        stderr.contains("--fail-over"),
        "the gate is named",
        &Value::String(stderr),
    )?;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    check(
        table.contains("growth: upgrade"),
        "the table",
        &Value::String(table.clone()),
    )?;
    let ok = bench(
        "sqlx_locks",
        &["--rows", "0", "--repeat", "1", "--fail-over", "1h"],
    );
    check(
        ok.status.code() == Some(0),
        "exit 0 within the gate",
        &Value::String(String::from_utf8_lossy(&ok.stderr).into()),
    )?;
    let bad = bench("sqlx_locks", &["--fail-over", "soon"]);
    check(
        bad.status.code() == Some(3),
        "a bad duration is a usage error",
        &Value::Null,
    )
}

/// A revision whose upgrade fails once its table has rows: its error is in the output, the sizes
/// that worked are measured, and the exit code is 1.
fn sql_failing_step() -> Result<(), Failed> {
    let project = common::fixtures("sql").join("sqlx_traps");
    let project = project.to_string_lossy().into_owned();
    let args = [
        "bench",
        "--project",
        &project,
        "--rows",
        "0,50",
        "--repeat",
        "1",
        "--format",
        "json",
        "require_country",
    ];
    let out = common::mrt(&args, &common::repo());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    check(
        out.status.code() == Some(1),
        "exit 1",
        &Value::String(text.clone()),
    )?;
    let run: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let errors = run["errors"].as_array().ok_or("no errors array")?;
    let at_50 = errors
        .iter()
        .any(|e| e["rows"] == 50 && e["error"].as_str().is_some_and(|m| m.contains("NOT NULL")));
    check(at_50, "the upgrade's error at 50 rows", &run)?;
    let rev = "20240101000009_require_country";
    check(
        entry(&run, rev, 0, "upgrade").is_ok(),
        "the empty table is measured",
        &run,
    )
}
