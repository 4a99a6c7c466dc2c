//! (work in progress: the scheduler lands with the rollout issue)
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod events;
