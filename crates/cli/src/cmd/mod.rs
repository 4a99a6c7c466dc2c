//! One module per command group; each exposes its clap args and a `run` function.

pub mod demo;
pub mod inventory;
pub mod preflight;
pub mod report;
pub mod run;
pub mod validate;
pub mod webconfig;

use crate::exit::{CliError, Outcome};

/// `corsfleet completions SHELL`: generated from the clap definition.
pub fn completions(shell: clap_complete::Shell) -> Result<Outcome, CliError> {
    let mut cmd = <crate::Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "corsfleet", &mut std::io::stdout());
    Ok(Outcome::Success)
}

/// `corsfleet man`: the man page, generated from the clap definition.
pub fn man() -> Result<Outcome, CliError> {
    let cmd = <crate::Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(cmd)
        .render(&mut std::io::stdout())
        .map_err(CliError::internal)?;
    Ok(Outcome::Success)
}
