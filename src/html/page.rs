//! The page: one self-contained file (inline CSS and script, no network), a summary, filters,
//! one row per revision in graph order. maud escapes every interpolated value for HTML; values
//! from the project also have their control characters shown as escapes (`t`), as every text
//! output of mrt does.

use super::model::{
    DataRow, FailurePart, Finding, Model, Revision, SchemaRow, TestResult, Verdict,
};
use maud::{html, Markup, PreEscaped, DOCTYPE};

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Project text made safe to show: control characters as escapes (line breaks kept).
fn t(s: &str) -> String {
    mrt_migrations::escape_lines(s)
}

pub fn render(model: &Model, title: &str, bench_svg: Option<&str>) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "mrt report: " (t(title)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "mrt report " span.project { (t(title)) } }
                    (summary(model))
                }
                (filters(model))
                (revisions(model))
                (chain(model))
                @if let Some(svg) = bench_svg { (bench(model, svg)) }
                footer {
                    "From " (model.sources.join(", ")) " · mrt "
                    (model.versions.get("mrt").map(String::as_str).unwrap_or(env!("CARGO_PKG_VERSION")))
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}

fn summary(model: &Model) -> Markup {
    let count = |db: Option<&str>, v: Verdict| {
        (model.revisions.iter())
            .filter(|r| match db {
                Some(db) => r.verdict_on(db) == Some(v),
                None => r.verdict() == Some(v),
            })
            .count()
    };
    html! {
        div.summary {
            div.card { b { (model.revisions.len()) } " revisions" }
            @for db in &model.databases {
                div.card.db {
                    b { (t(db)) }
                    span.pass { (count(Some(db), Verdict::Pass)) " pass" }
                    span.fail { (count(Some(db), Verdict::Fail)) " fail" }
                    span.ignored { (count(Some(db), Verdict::Ignored)) " ignored" }
                }
            }
            @if let Some([errors, warnings, info, files]) = model.check {
                div.card.check {
                    b { "mrt check" }
                    span.fail { (errors) " errors" }
                    span.warn { (warnings) " warnings" }
                    span { (info) " info in " (files) " files" }
                }
            }
            @if let Some(seed) = model.seed {
                div.card { "seed " code { (seed) } " (" code { "MRT_SEED=" (seed) } " reproduces the run)" }
            }
            @for (name, version) in &model.versions {
                div.card.version { (t(name)) " " code { (t(version)) } }
            }
        }
    }
}

fn filters(model: &Model) -> Markup {
    html! {
        form #filters {
            label { "Verdict "
                select #f-verdict {
                    option value="" { "all" }
                    option value="fail" { "failing" }
                    option value="pass" { "passing" }
                    option value="ignored" { "ignored" }
                    option value="findings" { "with findings" }
                }
            }
            label { "Database "
                select #f-db {
                    option value="" { "all" }
                    @for db in &model.databases { option value=(db) { (t(db)) } }
                }
            }
            label { "Text " input #f-text type="search" placeholder="revision, table, rule, message"; }
            span #f-count {}
        }
    }
}

fn revisions(model: &Model) -> Markup {
    html! {
        table #revisions {
            thead { tr {
                th { "#" } th { "revision" } th { "findings" }
                @for db in &model.databases { th.dbcol data-db=(db) { (t(db)) } }
            } }
            @for (i, rev) in model.revisions.iter().enumerate() { (revision(model, i + 1, rev)) }
        }
    }
}

fn verdicts_attr(model: &Model, rev: &Revision) -> String {
    let mut words: Vec<String> = (model.databases.iter())
        .filter_map(|db| rev.verdict_on(db).map(|v| format!("{db}:{}", v.as_str())))
        .collect();
    if let Some(v) = rev.verdict() {
        words.push(format!("*:{}", v.as_str()));
    }
    words.join(" ")
}

fn revision(model: &Model, n: usize, rev: &Revision) -> Markup {
    let verdict = rev.verdict().map(Verdict::as_str).unwrap_or("none");
    let open = rev.verdict() == Some(Verdict::Fail);
    html! {
        tbody.rev data-revision=(rev.id) data-verdicts=(verdicts_attr(model, rev)) data-findings=(rev.findings.len()) data-verdict=(verdict) {
            tr.head {
                td.n { (n) }
                td.id {
                    code { (t(&rev.id)) }
                    @if let Some(m) = &rev.message { " " span.msg { (t(m)) } }
                    @if let Some(p) = &rev.path { br; span.path { (t(p)) } }
                }
                td.findings { (finding_badges(rev)) }
                @for db in &model.databases {
                    td.dbcol.cell data-db=(db) { (verdict_cell(rev.trials.get(db))) }
                }
            }
            @if has_detail(rev) { tr.detail {
                td colspan=(3 + model.databases.len()) {
                    details open[open] {
                        summary { "details" }
                        @if let Some(why) = &rev.skipped { p.skipped { "mrt check skipped it: " (t(why)) } }
                        @for f in &rev.findings { (finding(model, rev, f)) }
                        @if let Some(lint) = lint_text(rev) {
                            div.finding.error { pre { (t(lint)) } }
                        }
                        @for db in &model.databases {
                            @for trial in rev.trials.get(db).into_iter().flatten() {
                                (trial_detail(db, trial))
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// A failed `lint::` test's text, when no `mrt check` findings say the same.
fn lint_text(rev: &Revision) -> Option<&str> {
    let lint = rev.lint.as_ref().filter(|l| l.verdict == Verdict::Fail)?;
    rev.findings.is_empty().then_some(lint.text.as_str())
}

/// Whether a revision has anything to show below its line.
fn has_detail(rev: &Revision) -> bool {
    let lint = lint_text(rev).is_some();
    let trials = rev
        .trials
        .values()
        .flatten()
        .any(|t| t.verdict != Verdict::Pass);
    rev.skipped.is_some() || !rev.findings.is_empty() || lint || trials
}

fn finding_badges(rev: &Revision) -> Markup {
    let count = |s: &str| rev.findings.iter().filter(|f| f.severity == s).count();
    html! {
        @for (severity, n) in [("error", count("error")), ("warning", count("warning")), ("info", count("info"))] {
            @if n > 0 { span.badge.(severity) { (n) " " (severity) } " " }
        }
        @if lint_text(rev).is_some() { span.badge.error { "lint" } }
    }
}

fn verdict_cell(trials: Option<&Vec<TestResult>>) -> Markup {
    html! {
        @for trial in trials.into_iter().flatten() {
            @let forward = trial.name.ends_with("::forward");
            span.verdict.(trial.verdict.as_str()) title=(t(&trial.text)) {
                @if forward { "forward " } (trial.verdict.as_str())
            }
            " "
        }
    }
}

fn link(model: &Model, path: &str, line: usize) -> Option<String> {
    let template = model.link.as_deref()?;
    Some(
        template
            .replace("{path}", path)
            .replace("{line}", &line.to_string()),
    )
}

fn finding(model: &Model, rev: &Revision, f: &Finding) -> Markup {
    let path = rev.path.as_deref().unwrap_or("");
    let place = format!("{path}:{}:{}", f.line, f.column);
    html! {
        div.finding.(f.severity.as_str()) {
            div {
                span.badge.(f.severity.as_str()) { (t(&f.severity)) }
                " " b { (t(&f.code)) } " " span.rule { (t(&f.name)) } " "
                @match link(model, path, f.line) {
                    Some(href) => a.place href=(href) { (t(&place)) },
                    None => span.place { (t(&place)) },
                }
            }
            p { (t(&f.message)) }
            @if !f.source.is_empty() {
                pre.source { @for (n, line) in &f.source {
                    span.line.hit[*n == f.line] { span.ln { (n) } (t(line)) }
                } }
            }
            @if let Some(fix) = &f.fix { p.fix { b { "Fix: " } (fix) " " code { "mrt explain " (t(&f.code)) } } }
        }
    }
}

fn trial_detail(db: &str, trial: &TestResult) -> Markup {
    html! {
        div.trial.(trial.verdict.as_str()) data-db=(db) {
            h4 { (t(&trial.name)) " " span.verdict.(trial.verdict.as_str()) { (trial.verdict.as_str()) } }
            @if trial.verdict != Verdict::Pass {
                @if trial.parts.is_empty() { pre { (t(&trial.text)) } }
                @for part in &trial.parts { (failure(part)) }
                @if let Some(line) = trial.text.lines().find(|l| l.trim_start().starts_with("reproduce:")) {
                    p.reproduce { code { (t(line.trim())) } }
                }
            }
        }
    }
}

fn failure(part: &FailurePart) -> Markup {
    html! {
        div.failure {
            h5 { (t(&part.title)) }
            @if !part.schema.is_empty() { (schema_table(&part.schema)) }
            @if !part.rows.is_empty() { (rows_table(&part.rows)) }
            @if part.schema.is_empty() && part.rows.is_empty() {
                pre { @for l in &part.lines { (t(l)) "\n" } }
            }
        }
    }
}

fn shown(v: &Option<String>, missing: &str) -> String {
    v.as_deref().map_or_else(|| missing.to_string(), t)
}

fn schema_table(rows: &[SchemaRow]) -> Markup {
    html! {
        table.diff {
            thead { tr { th { "object" } th { "before" } th { "after" } } }
            @for r in rows { tr {
                td { (t(&r.object)) }
                td.before { (shown(&r.before, "(not there)")) }
                td.after { (shown(&r.after, "(missing)")) }
            } }
        }
    }
}

fn rows_table(rows: &[DataRow]) -> Markup {
    html! {
        table.diff {
            thead { tr { th { "table" } th { "row" } th { "column" } th { "before" } th { "after" } } }
            @for r in rows { tr.(r.change.as_str()) {
                td { (t(&r.table)) } td { (t(&r.key)) }
                @match r.change.as_str() {
                    "lost" => { td { "(whole row)" } td.before { "present" } td.after { "lost" } },
                    "added" => { td { "(whole row)" } td.before { "absent" } td.after { "left behind" } },
                    _ => {
                        td { (shown(&r.column, "")) }
                        td.before { (shown(&r.before, "")) }
                        td.after { (shown(&r.after, "")) }
                    },
                }
            } }
        }
    }
}

fn chain(model: &Model) -> Markup {
    html! {
        @if !model.chain.is_empty() {
            section #chain {
                h2 { "Whole-chain tests" }
                @for test in &model.chain {
                    div.trial.(test.verdict.as_str()) {
                        h4 { (t(&test.name)) " " span.verdict.(test.verdict.as_str()) { (test.verdict.as_str()) } }
                        @if test.verdict != Verdict::Pass && !test.text.is_empty() { pre { (t(&test.text)) } }
                    }
                }
            }
        }
    }
}

fn bench(model: &Model, svg: &str) -> Markup {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(svg);
    html! {
        section #bench {
            h2 { "Benchmark" }
            // An <img> of the SVG: shown as a picture, never run as part of the page.
            img alt="median step time against rows" src=(format!("data:image/svg+xml;base64,{data}"));
            @if let Some(run) = &model.bench {
                table.diff {
                    thead { tr { th { "revision" } th { "database" } th { "rows" } th { "direction" }
                        th { "median ms" } th { "blocked reads ms" } th { "blocked writes ms" } th { "lock" } th { "growth" } } }
                    @for r in &run.results { tr {
                        td { code { (t(&r.revision)) } } td { (t(&r.database)) } td { (r.rows) }
                        td { (r.direction.as_str()) } td { (format!("{:.2}", r.median_ms)) }
                        td { (r.blocked_reads_ms.map_or("-".into(), |v| format!("{v:.1}"))) }
                        td { (r.blocked_writes_ms.map_or("-".into(), |v| format!("{v:.1}"))) }
                        td { (t(r.lock.as_deref().unwrap_or("-"))) } td { (t(&r.growth)) }
                    } }
                }
            }
        }
    }
}
