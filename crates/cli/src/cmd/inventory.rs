//! `corsfleet inventory list|graph`: show what an inventory selects before anything runs.
//! `list` prints host names (sorted, one per line) or, with `--output json`, each host's
//! groups, connection settings and merged variables with secrets redacted. `graph` prints the
//! group tree like `ansible-inventory --graph`. Bad input exits 2 with `FILE:LINE:COL`.

use std::path::PathBuf;

use corsfleet_inventory::{Inventory, InventoryError, PatternError};

use crate::exit::{CliError, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListOutput {
    /// Host names, one per line, sorted.
    Text,
    /// Hosts with groups, connection settings and merged vars (secrets redacted).
    Json,
}

#[derive(Debug, clap::Subcommand)]
pub enum InventoryCommand {
    /// List the selected hosts.
    List {
        /// Inventory file or directory (repeatable).
        #[arg(short = 'i', long = "inventory", value_name = "PATH", required = true)]
        inventory: Vec<PathBuf>,
        /// Ansible host pattern, e.g. `loggers:&side_a` or `~aw-.*`.
        #[arg(short = 'l', long, value_name = "PATTERN")]
        limit: Option<String>,
        #[arg(long, value_enum, default_value_t = ListOutput::Text)]
        output: ListOutput,
    },
    /// Print the group tree.
    Graph {
        /// Inventory file or directory (repeatable).
        #[arg(short = 'i', long = "inventory", value_name = "PATH", required = true)]
        inventory: Vec<PathBuf>,
    },
}

pub fn run(cmd: InventoryCommand) -> Result<Outcome, CliError> {
    match cmd {
        InventoryCommand::List {
            inventory,
            limit,
            output,
        } => {
            let inv = load(&inventory)?;
            let hosts = inv
                .select(limit.as_deref().unwrap_or("all"))
                .map_err(pattern_error)?;
            let text = match output {
                ListOutput::Text => {
                    let mut names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                    names.sort_unstable();
                    names.iter().map(|n| format!("{n}\n")).collect::<String>()
                }
                ListOutput::Json => {
                    let mut hosts = hosts;
                    hosts.sort_by(|a, b| a.name.cmp(&b.name));
                    let list: Vec<serde_json::Value> = hosts
                        .iter()
                        .map(|h| {
                            serde_json::json!({
                                "name": h.name,
                                "groups": h.groups,
                                "connection": h.connection,
                                "vars": corsfleet_inventory::redact(&h.vars),
                            })
                        })
                        .collect();
                    let doc = serde_json::json!({ "hosts": list });
                    let mut s = serde_json::to_string_pretty(&doc).map_err(CliError::internal)?;
                    s.push('\n');
                    s
                }
            };
            print_out(&text)
        }
        InventoryCommand::Graph { inventory } => {
            let inv = load(&inventory)?;
            print_out(&inv.graph())
        }
    }
}

#[allow(clippy::print_stdout)]
fn print_out(text: &str) -> Result<Outcome, CliError> {
    print!("{text}");
    Ok(Outcome::Success)
}

pub(crate) fn load(paths: &[PathBuf]) -> Result<Inventory, CliError> {
    Inventory::load(paths).map_err(inventory_error)
}

/// All but the last diagnostic go to stderr here; the last becomes the error `finish` prints,
/// so every problem is shown, each on its own line.
#[allow(clippy::print_stderr)]
pub(crate) fn inventory_error(e: InventoryError) -> CliError {
    let mut diags = e.diagnostics;
    let Some(last) = diags.pop() else {
        return CliError::input("invalid inventory");
    };
    for d in diags {
        eprintln!("error: {d}");
        if let Some(h) = &d.hint {
            eprintln!("hint: {h}");
        }
    }
    match last.hint.clone() {
        Some(h) => CliError::input_with_hint(last.to_string(), h),
        None => CliError::input(last.to_string()),
    }
}

pub(crate) fn pattern_error(e: PatternError) -> CliError {
    match e.hint() {
        Some(h) => CliError::input_with_hint(format!("--limit/hosts: {e}"), h),
        None => CliError::input(format!("--limit/hosts: {e}")),
    }
}
