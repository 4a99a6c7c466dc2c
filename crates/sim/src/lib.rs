//! `ucce-sim`: a double of a Cisco UCCE Logger/AW server for corsfleet's tests, demo and users'
//! CI dry-runs.
//!
//! It imitates exactly the parts of a Windows UCCE box that corsfleet touches: the folder tree
//! of drive C: ([`tree`]), IIS with its configuration re-reading, HTTP 500.19 failures and the
//! IIS CORS Module ([`iis`], [`cors`]), the Config API behind the ISAPI redirector
//! ([`configapi`]), a Finesse gadget page for browser proofs ([`finesse`]), and the command-line
//! programs corsfleet runs over SSH: `msiexec` ([`msi`]), `reg` ([`reg`]) and cmd.exe
//! ([`shell`]). Every behaviour is traced to `DOMAIN.md` in `docs/simulator.md`; behaviour no
//! public source pins down is marked `[assumed]` there and in the code.
//!
//! The simulator is written without reading corsfleet's own CORS code, so that agreement
//! between the two means something.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod configapi;
pub mod cors;
mod error;
pub mod faults;
pub mod finesse;
pub mod iis;
pub mod msi;
pub mod reg;
pub mod server;
pub mod shell;
mod tls;
pub mod tree;
pub mod xml;

pub use error::SimError;
pub use msi::{make_msi, msiexec};
pub use server::{RunningSim, ServeOptions, start};
pub use shell::ShellOutput;
pub use tree::{SimPaths, init, restore_stock_web_config};

/// Test-only Config API user written by `init` into the users file.
pub const DEFAULT_USER: &str = "administrator@lab.local";
/// Test-only password of [`DEFAULT_USER`]; never use it outside a lab.
pub const DEFAULT_PASSWORD: &str = "ucce-lab";
