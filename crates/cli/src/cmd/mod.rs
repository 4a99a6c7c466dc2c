//! One module per command group; each exposes its clap args and a `run` function.

pub mod inventory;
pub mod preflight;
pub mod report;
pub mod validate;
pub mod webconfig;
