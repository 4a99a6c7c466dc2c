//! (work in progress)
#![deny(clippy::print_stdout, clippy::print_stderr)]
