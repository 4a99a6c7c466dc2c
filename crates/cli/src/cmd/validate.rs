//! `corsfleet validate ...` (stub, replaced by its issue).

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}

pub fn run(_args: ValidateArgs) -> Result<Outcome, CliError> {
    Err(CliError::internal("not implemented yet"))
}
