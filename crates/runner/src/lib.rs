//! The runner: turns a validated [`Plan`] into work on hosts and a stream of [`RunEvent`]s.
//!
//! Planning happens first and completely: every task is templated for every selected host
//! before any host is contacted, so bad input changes nothing anywhere. Then, per play, hosts
//! run in batches (`serial`, `batch_by`), at most `forks` at a time, each host's tasks in
//! order over one reused session. After each batch, `max_fail_percentage` and
//! `any_errors_fatal` decide whether the run goes on. Ctrl-C (the cancellation token) lets the
//! step in flight finish and starts nothing new.
//!
//! The runner never prints: everything it has to say is a [`RunEvent`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod events;
mod plan;
mod run;

pub use corsfleet_tasks::Mode;
pub use plan::{Plan, PlanError, PlannedHost, PlannedPlay, plan};
pub use run::{Connector, RunOptions, run};
