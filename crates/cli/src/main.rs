//! `corsfleet`: clap definition and glue. Libraries do the work; this binary parses flags,
//! resolves settings, calls a library and maps the result to a documented exit code
//! (docs/exit-codes.md).

mod cmd;
mod exit;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Roll out and verify IIS CORS for Cisco UCCE/PCCE Configuration API servers, fleet-wide.
#[derive(Debug, Parser)]
#[command(name = "corsfleet", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log detail (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect or patch one web.config file locally.
    #[command(subcommand)]
    Webconfig(cmd::webconfig::WebconfigCommand),
    /// List hosts and groups of an inventory.
    #[command(subcommand)]
    Inventory(cmd::inventory::InventoryCommand),
    /// Load a playbook, template every task for every selected host, report all errors.
    Validate(cmd::validate::ValidateArgs),
    /// Send a CORS preflight and an actual request, and judge them as a browser does.
    Preflight(cmd::preflight::PreflightArgs),
    /// Roll out: run a playbook against the selected hosts (`--check` for a dry run).
    Run(cmd::run::RunArgs),
    /// Audit: read-only; each host compliant, drifted or unreachable.
    Verify(cmd::run::VerifyArgs),
    /// The whole product in one process: four simulated UCCE servers, rollout, audit, drift, fix.
    Demo(cmd::demo::DemoArgs),
    /// Re-render a saved run report.
    #[command(subcommand)]
    Report(cmd::report::ReportCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Webconfig(c) => cmd::webconfig::run(c),
        Command::Inventory(c) => cmd::inventory::run(c),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Preflight(a) => cmd::preflight::run(a),
        Command::Report(c) => cmd::report::run(c),
        Command::Run(a) => cmd::run::run(a),
        Command::Verify(a) => cmd::run::verify(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Completions { shell } => cmd::completions(shell),
        Command::Man => cmd::man(),
    };
    exit::finish(result)
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::LogWriter)
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .init();
}
