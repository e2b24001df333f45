//! The HTML report: one page a reviewer opens from a CI artifact and understands in a minute.
//! Built from the JSON outputs of `mrt check`, `mrt test` and `mrt bench` ([`model::Input`]),
//! whether they come from files (`mrt report --from`) or from the run itself (`--report`).

pub mod model;
mod page;

use anyhow::{Context, Result};
use model::{Input, Model, Resolve};
use std::path::Path;

/// `--report` of `mrt check`: the page of this report, its files found through `prefixes`.
pub fn write_check(
    report: &crate::report::Report,
    prefixes: &crate::report::paths::Prefixes,
    link: Option<&str>,
    out: &Path,
) -> Result<()> {
    let value = crate::report::json::value(&report.under(&prefixes.repo));
    let resolve = |p: &str| prefixes.resolve(p);
    write(
        &[Input::Check(value)],
        &resolve,
        link,
        &title(&prefixes.root),
        out,
    )
}

/// `--report` of `mrt test`: the page of the JSON events the run kept.
pub fn write_test(
    events: &str,
    prefixes: &crate::report::paths::Prefixes,
    link: Option<&str>,
    out: &Path,
) -> Result<()> {
    let input = Input::parse("mrt test", events)?;
    let resolve = |p: &str| prefixes.resolve(p);
    write(&[input], &resolve, link, &title(&prefixes.root), out)
}

/// The project's folder name, as the page's title.
pub fn title(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| root.display().to_string())
}

/// Writes the page for `inputs` to `out`; `link` is the file-link template (`{path}`, `{line}`).
pub fn write(
    inputs: &[Input],
    resolve: Resolve<'_>,
    link: Option<&str>,
    title: &str,
    out: &Path,
) -> Result<()> {
    let mut model = Model::build(inputs, resolve);
    model.link = link.map(String::from);
    let svg = match &model.bench {
        Some(run) if run.results.iter().any(|r| r.rows > 0) => {
            Some(crate::commands::bench::plot_svg(run)?)
        }
        _ => None,
    };
    let page = page::render(&model, title, svg.as_deref());
    std::fs::write(out, page)
        .with_context(|| format!("cannot write the report {}", out.display()))?;
    eprintln!("mrt: report written to {}", out.display());
    Ok(())
}
