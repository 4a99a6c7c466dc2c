//! `corsfleet report ...` (stub, replaced by its issue).

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Not implemented yet.
    Todo,
}

pub fn run(_cmd: ReportCommand) -> Result<Outcome, CliError> {
    Err(CliError::internal("not implemented yet"))
}
