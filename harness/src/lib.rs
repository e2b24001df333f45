//! The dynamic harness: plans revision × database trials, pools databases by state, runs the
//! trial and reports verdicts through libtest-mimic. Kept apart so the CLI and a Rust project's
//! `harness = false` test share one runner.
