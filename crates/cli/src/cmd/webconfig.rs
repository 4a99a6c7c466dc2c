//! `corsfleet webconfig ...` (stub, replaced by its issue).

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum WebconfigCommand {
    /// Not implemented yet.
    Todo,
}

pub fn run(_cmd: WebconfigCommand) -> Result<Outcome, CliError> {
    Err(CliError::internal("not implemented yet"))
}
