//! `corsfleet inventory ...` (stub, replaced by its issue).

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum InventoryCommand {
    /// Not implemented yet.
    Todo,
}

pub fn run(_cmd: InventoryCommand) -> Result<Outcome, CliError> {
    Err(CliError::internal("not implemented yet"))
}
