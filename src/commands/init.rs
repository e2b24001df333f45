//! `mrt init [DIR]`: detects the migration project in DIR, writes a commented `mrt.toml` that
//! says what was found (and what can be set), and prints the next two commands.

use crate::config;
use crate::exit;
use crate::project::{self, Flags};
use anyhow::{bail, Context, Result};
use mrt_migrations::{Framework, Project};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Replace an existing mrt.toml.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &InitArgs) -> Result<u8> {
    let file = args.path.join("mrt.toml");
    if file.exists() && !args.force {
        bail!(
            "{} exists; `mrt init --force {}` replaces it",
            file.display(),
            args.path.display()
        );
    }
    // Detected as every command detects it, from defaults (not from the file being replaced).
    let project = project::open_with(&args.path, &config::Loaded::default(), Flags::default())?;
    let text = config_text(&project, &args.path);
    std::fs::write(&file, &text).with_context(|| format!("writing {}", file.display()))?;
    let dir = shown(&args.path);
    println!(
        "wrote {}: {} project with {} migrations",
        file.display(),
        project.framework.name(),
        project.graph.ordered().count()
    );
    println!("next:\n  mrt check {dir}\n  mrt test --project {dir}");
    Ok(exit::OK)
}

/// `dir` as the next commands take it (quoted when the shell would split it).
fn shown(dir: &Path) -> String {
    crate::commands::test::shell_word(&dir.display().to_string())
}

/// The file: what was detected as keys, what may be set as comments.
fn config_text(project: &Project, dir: &Path) -> String {
    let rel = |p: &Path| crate::report::relative(dir, p);
    let mut t = String::from(
        "# mrt configuration, written by `mrt init`; README.md \"Configuration\" lists every key.\n",
    );
    let _ = writeln!(t, "# Detected: {}.", project.framework.detected_by());
    // The kind as config spells it (serde's lowercase names).
    let kind = serde_json::to_value(project.kind).ok();
    let kind = kind.as_ref().and_then(|k| k.as_str()).unwrap_or("alembic");
    let _ = writeln!(t, "kind = \"{kind}\"");
    match &project.framework {
        Framework::Alembic { locations, .. } => {
            if let Some(ini) = &locations.ini {
                let _ = writeln!(t, "alembic_config = \"{}\"", rel(ini));
            }
        }
        Framework::Sql(sql) => {
            let _ = writeln!(
                t,
                "\n[sql]\ntool = \"{}\"\ndir = \"{}\"",
                sql.tool,
                rel(&sql.dir)
            );
        }
        Framework::Django(django) => {
            let _ = writeln!(t, "\n[django]");
            match &django.settings_module {
                Some(module) => {
                    let _ = writeln!(t, "settings = \"{module}\"");
                }
                None => {
                    let _ = writeln!(t, "# settings = \"mysite.settings\"   # none found: set it");
                }
            }
            let apps: Vec<String> = django
                .apps
                .iter()
                .map(|a| format!("\"{}\"", a.label))
                .collect();
            let _ = writeln!(
                t,
                "# apps = [{}]   # the project's own apps (found)",
                apps.join(", ")
            );
        }
    }
    t.push_str(
        "
# `mrt test`: databases every revision runs on (mrt creates and drops its own databases there).
# databases = [\"sqlite\", \"postgres://postgres@127.0.0.1/postgres\"]
# rows = 8            # generated rows per table
# step_timeout = 60   # seconds per migration step

# `mrt check`: the engine the rules judge for, and rules to quiet or add.
# dialect = \"postgresql\"
# [severity]
# MRT204 = \"info\"

# `mrt bench`: table sizes, rounds and CI gates.
# [bench]
# rows = [0, 10000, 100000]
# repeat = 3
# fail_on_block = \"1s\"
",
    );
    t
}
