//! One module per subcommand.

pub mod graph;
