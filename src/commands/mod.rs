//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod clean;
pub mod explain;
pub mod graph;
pub mod init;
pub mod report;
pub mod rules;
pub mod test;
pub mod test_output;
pub mod watch;
