//! The task modules: `iis_facts`, `msi_install`, `web_config_cors` and `cors_preflight`.
//!
//! Every module follows the same shape: **query** the host's state, **diff** it against the
//! desired state, and **apply** the change. Check mode (`--check`) and the read-only audit
//! (`verify`) stop after the diff. Modules share what they learn about a host through
//! [`HostContext`], so a check run can follow a chain of dependent steps: `web_config_cors`
//! after an `msi_install` that *would* install reports "would change (after install)" instead
//! of failing on a module that is not there yet.
//!
//! Modules never schedule hosts and never print; the runner calls [`execute`] once per task
//! attempt and turns the returned [`TaskOutcome`] into events.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod context;
mod facts;
mod msi;
mod preflight;
mod webconfig;

pub use context::{Backup, HostContext, HostFacts, Mode, PreflightTarget};
pub use facts::{APPLICATION_HOST_CONFIG, CORS_DLL, CORS_SCHEMA};

use corsfleet_playbook::{ModuleArgs, Task};
use corsfleet_webconfig::PropertyDiff;

/// How one attempt of one task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
}

/// What a module reports back to the runner.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub status: Status,
    /// One line for people.
    pub message: String,
    /// Unified diff of a file change (applied, or proposed in check mode).
    pub diff: Option<String>,
    /// Properties that differ from the desired state (check mode and verify).
    pub drift: Vec<PropertyDiff>,
    pub reboot_required: bool,
    pub rolled_back: bool,
}

impl TaskOutcome {
    pub fn ok(message: impl Into<String>) -> Self {
        Self::new(Status::Ok, message)
    }

    pub fn changed(message: impl Into<String>) -> Self {
        Self::new(Status::Changed, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Status::Failed, message)
    }

    pub fn skipped(message: impl Into<String>) -> Self {
        Self::new(Status::Skipped, message)
    }

    fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            diff: None,
            drift: Vec::new(),
            reboot_required: false,
            rolled_back: false,
        }
    }

    fn with_diff(mut self, diff: String) -> Self {
        if !diff.is_empty() {
            self.diff = Some(diff);
        }
        self
    }

    fn with_drift(mut self, drift: Vec<PropertyDiff>) -> Self {
        self.drift = drift;
        self
    }
}

/// Run one attempt of `task` on the host behind `ctx`.
///
/// `progress(done, total)` receives upload progress in bytes.
pub async fn execute(
    ctx: &HostContext,
    task: &Task,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> TaskOutcome {
    match &task.args {
        ModuleArgs::IisFacts(args) => facts::run(ctx, args).await,
        ModuleArgs::MsiInstall(args) => msi::run(ctx, args, progress).await,
        ModuleArgs::WebConfigCors(args) => webconfig::run(ctx, args).await,
        ModuleArgs::CorsPreflight(args) => preflight::run(ctx, args).await,
    }
}
