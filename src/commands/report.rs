//! `mrt report --from a.json --from b.json -o report.html`: one page over the JSON outputs of
//! several runs (`mrt check --format json`, `mrt test --format json`, `mrt bench --format json`),
//! e.g. the jobs of a CI matrix.

use crate::html::model::Input;
use anyhow::{Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// A JSON output of mrt check, mrt test or mrt bench (repeatable; `-` reads stdin).
    #[arg(long = "from", value_name = "FILE.json", required = true)]
    pub from: Vec<PathBuf>,
    /// The page to write.
    #[arg(long, short = 'o', value_name = "FILE.html")]
    pub output: PathBuf,
    /// Where the paths in the outputs start (they are relative to the repository root); default:
    /// the repository holding the current directory, else the current directory.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Link from a finding to its file and line: `{path}` and `{line}` are replaced, e.g.
    /// `https://github.com/o/r/blob/main/{path}#L{line}` (default: `[report] link` in config).
    #[arg(long, value_name = "TEMPLATE")]
    pub link: Option<String>,
    /// The page's title (default: the root folder's name).
    #[arg(long)]
    pub title: Option<String>,
}

pub fn run(args: &ReportArgs) -> Result<u8> {
    let inputs = args
        .from
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<Input>>>()?;
    let root = match &args.root {
        Some(r) => r.clone(),
        None => {
            let cwd = std::env::current_dir()?;
            crate::report::paths::repo_root(&cwd).unwrap_or(cwd)
        }
    };
    let link = match &args.link {
        Some(l) => Some(l.clone()),
        None => crate::config::load(&root)
            .ok()
            .and_then(|c| c.config.report.link),
    };
    let resolve = |p: &str| Some(root.join(p)).filter(|f| f.is_file());
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| crate::html::title(&root));
    crate::html::write(&inputs, &resolve, link.as_deref(), &title, &args.output)?;
    Ok(crate::exit::OK)
}

fn read(path: &Path) -> Result<Input> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(Input::parse(&path.display().to_string(), &text)?)
}
