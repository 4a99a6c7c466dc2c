//! (stub) — see docs/architecture.md for this crate's job.
#![deny(clippy::print_stdout, clippy::print_stderr)]
