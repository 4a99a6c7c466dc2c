//! `corsfleet preflight ...` (stub, replaced by its issue).

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Args)]
pub struct PreflightArgs {}

pub fn run(_args: PreflightArgs) -> Result<Outcome, CliError> {
    Err(CliError::internal("not implemented yet"))
}
