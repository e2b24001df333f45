//! Command-line interface. Usage errors exit 3 (not clap's default 2, which means "errors found").

use crate::commands;
use crate::exit;
use crate::project::ProjectArgs;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "mrt",
    version,
    about = "Migration rollback tester: finds downgrades that silently lose schema or data."
)]
pub struct Cli {
    /// More detail on stderr (files that are not revisions, where config came from).
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the revision graph: order, bases, heads, branch and merge points.
    Graph {
        #[command(flatten)]
        project: ProjectArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = commands::graph::Format::Text)]
        format: commands::graph::Format,
    },
    /// Run the dynamic rollback trials: per revision and database, seed, upgrade, downgrade, compare.
    ///
    /// A libtest-compatible harness: FILTER, --exact, --skip, --list, --test-threads and
    /// --format work as with `cargo test`.
    #[command(
        help_template = "{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}",
        override_usage = "mrt test [OPTIONS] [FILTER]",
        after_help = "Trials run in parallel (one per thread; --test-threads to change). Exit code 101 when a test failed.",
        mut_arg("filter", |a| a.help("Run only the tests whose name contains FILTER (`sqlite::`, `lint::`, a revision id)")),
        mut_arg("ignored", |a| a.help("Run only the ignored tests")),
        mut_arg("include_ignored", |a| a.help("Run the ignored tests too")),
        mut_arg("list", |a| a.help("List the tests without running them (no database, no Python)")),
        mut_arg("test", |a| a.hide(true)),
        mut_arg("bench", |a| a.hide(true)),
        mut_arg("nocapture", |a| a.hide(true)),
        mut_arg("show_output", |a| a.hide(true)),
        mut_arg("unstable_flags", |a| a.hide(true)),
        mut_arg("logfile", |a| a.hide(true)),
        mut_arg("quiet", |a| a.help("One character per test (as --format terse)").long_help(None)),
        mut_arg("test_threads", |a| a.help("Trials run at once (default: the number of cores)").long_help(None)),
        mut_arg("color", |a| a.help("Colour the output: auto (on a terminal), always, never").long_help(None).hide_possible_values(true)),
        mut_arg("format", |a| a.help("Output: pretty (one line per test), terse (one character), json (libtest's events; a failure's text as it is), junit (JUnit XML; libtest's lines on stderr)").long_help(None).hide_possible_values(true)),
    )]
    Test(Box<commands::test::TestArgs>),
    /// Time each revision's upgrade and downgrade as the tables it touches grow, and measure
    /// what each step blocks (reads, writes, locks, table rewrites).
    Bench(Box<commands::bench::BenchArgs>),
    /// Write one HTML page over JSON outputs of mrt check, mrt test and mrt bench.
    Report(commands::report::ReportArgs),
    /// Detect the migration project in DIR, write a commented mrt.toml, print the next commands.
    Init(commands::init::InitArgs),
    /// Drop the databases crashed or killed runs left on a server (names `mrt_<run>_<n>` only).
    Clean(commands::clean::CleanArgs),
    /// Check every revision file against the static rollback-safety rules (no database).
    Check(Box<commands::check::CheckArgs>),
    /// Show a rule's documentation, or lint one revision file and explain each finding.
    Explain(commands::explain::ExplainArgs),
    /// List every rule: code, name, default severity, dialects, opt-in, summary.
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t = commands::rules::Format::Table)]
        format: commands::rules::Format,
    },
}

pub fn main() -> ExitCode {
    mrt_harness::reaper::run_if_asked();
    let (argv, junit) = take_junit(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(argv) {
        Ok(mut cli) => {
            if let Command::Test(args) = &mut cli.command {
                args.junit = junit;
            }
            cli
        }
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return exit::code(code);
        }
    };
    let result = match &cli.command {
        Command::Graph { project, format } => commands::graph::run(project, *format, cli.verbose),
        Command::Test(args) => commands::test::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Clean(args) => commands::clean::run(args),
        Command::Init(args) => commands::init::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Check(args) => commands::check::run(args, cli.verbose),
        Command::Explain(args) => commands::explain::run(args, cli.verbose),
        Command::Rules { format } => commands::rules::run(*format),
    };
    match result {
        Ok(code) => exit::code(code),
        Err(e) => {
            eprintln!(
                "error: {}",
                mrt_migrations::escape_lines(&mrt_db::scrub_secrets(&format!("{e:#}")))
            );
            exit::code(exit::USAGE)
        }
    }
}

/// `mrt test --format junit`: libtest's `--format` (whose values clap checks) knows no junit, so
/// it is taken out here and the run asks libtest for `pretty` (sent to stderr meanwhile).
fn take_junit(mut argv: Vec<OsString>) -> (Vec<OsString>, bool) {
    let command = argv
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'));
    if command.map(|i| argv[i + 1] != "test").unwrap_or(true) {
        return (argv, false);
    }
    let mut junit = false;
    for i in 1..argv.len() {
        if argv[i] == "--format=junit" {
            argv[i] = "--format=pretty".into();
            junit = true;
        } else if argv[i] == "junit" && argv[i - 1] == "--format" {
            argv[i] = "pretty".into();
            junit = true;
        }
    }
    (argv, junit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn junit_is_taken_from_test_only() {
        let (rest, junit) = take_junit(argv(&["mrt", "-v", "test", "--format", "junit", "x"]));
        assert!(junit);
        assert_eq!(
            rest,
            argv(&["mrt", "-v", "test", "--format", "pretty", "x"])
        );
        let (rest, junit) = take_junit(argv(&["mrt", "test", "--format=junit"]));
        assert!(junit);
        assert_eq!(rest, argv(&["mrt", "test", "--format=pretty"]));
        let (rest, junit) = take_junit(argv(&["mrt", "check", "--format", "junit"]));
        assert!(!junit);
        assert_eq!(rest, argv(&["mrt", "check", "--format", "junit"]));
        assert!(!take_junit(argv(&["mrt", "test", "--format", "json"])).1);
    }
}
