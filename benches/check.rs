//! Benchmark of `mrt check` (being written).
fn main() {}
