//! `ucce-sim`: command-line entry point of the UCCE server double.
fn main() {}
