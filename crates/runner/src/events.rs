//! The typed event stream between the runner and everything that shows results.
//!
//! The runner never prints: the CLI's progress bars, the JSON-lines event log and the
//! report builder are three consumers of this one stream.
//!
//! Order guarantees, per run:
//! 1. exactly one [`RunEvent::RunStarted`] first and one [`RunEvent::RunFinished`] last;
//! 2. per play: [`RunEvent::PlayStarted`], then its batches in order ([`RunEvent::BatchStarted`]);
//!    a batch's hosts run concurrently (up to `forks`), so events of different hosts interleave;
//! 3. per host in a batch: [`RunEvent::HostConnected`] or [`RunEvent::HostUnreachable`] first;
//!    after `HostConnected`, each task sends `TaskStarted`, any number of `TaskProgress`, then
//!    `TaskFinished`; the host ends with one [`RunEvent::HostFinished`];
//! 4. hosts never started (abort, interrupt) get a `HostFinished` with status
//!    `interrupted`/`skipped` before `RunFinished`.

use serde::{Deserialize, Serialize};

/// What kind of run produced the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// `corsfleet run`: converge the hosts (or, with `--check`, say what would change).
    Run,
    /// `corsfleet verify`: a read-only audit.
    Verify,
}

/// Result of one task on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Ok,
    Changed,
    Failed,
    Skipped,
    Interrupted,
}

impl TaskStatus {
    /// The word used everywhere a person reads it (and in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Ok => "ok",
            TaskStatus::Changed => "changed",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Interrupted => "interrupted",
        }
    }
}

/// Final state of one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    Ok,
    Changed,
    Failed,
    Unreachable,
    Skipped,
    Interrupted,
    /// `verify` only: everything matches the playbook.
    Compliant,
    /// `verify` only: at least one property differs.
    Drifted,
}

impl HostStatus {
    /// The word used everywhere a person reads it (and in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Ok => "ok",
            HostStatus::Changed => "changed",
            HostStatus::Failed => "failed",
            HostStatus::Unreachable => "unreachable",
            HostStatus::Skipped => "skipped",
            HostStatus::Interrupted => "interrupted",
            HostStatus::Compliant => "compliant",
            HostStatus::Drifted => "drifted",
        }
    }
}

/// One property that differs between the desired and the actual state (DSC-style).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Dotted property name, e.g. `cors.origin[https://finesse-a:8445].allowMethods`.
    pub property: String,
    pub expected: String,
    pub actual: String,
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AbortReason {
    MaxFailPercentage {
        play: String,
        failed: usize,
        of: usize,
        limit: u8,
    },
    AnyErrorsFatal {
        play: String,
        host: String,
    },
    Interrupted,
}

/// One event of a run. Serialised as one JSON line in `--events FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        corsfleet_version: String,
        started_at: jiff::Timestamp,
        mode: RunMode,
        check: bool,
        playbook: String,
        inventory: Vec<String>,
        limit: Option<String>,
        /// Every selected host, in inventory order.
        hosts: Vec<String>,
    },
    PlayStarted {
        play_index: usize,
        name: String,
    },
    BatchStarted {
        play_index: usize,
        batch_index: usize,
        hosts: Vec<String>,
    },
    HostConnected {
        host: String,
        at: jiff::Timestamp,
    },
    HostUnreachable {
        host: String,
        at: jiff::Timestamp,
        message: String,
    },
    TaskStarted {
        host: String,
        task_index: usize,
        name: String,
        module: String,
        at: jiff::Timestamp,
    },
    /// Upload progress (bytes); other modules send none.
    TaskProgress {
        host: String,
        task_index: usize,
        done: u64,
        total: u64,
    },
    TaskFinished {
        host: String,
        task_index: usize,
        name: String,
        module: String,
        status: TaskStatus,
        /// One line for people: what happened or why it failed.
        message: String,
        /// Unified diff of what changed (or would change in check mode).
        diff: Option<String>,
        /// Properties that differ from the playbook (verify and check mode).
        drift: Vec<Drift>,
        started_at: jiff::Timestamp,
        finished_at: jiff::Timestamp,
        attempts: u32,
        reboot_required: bool,
        rolled_back: bool,
        /// `ignore_errors: true` turned a failure into this event without failing the host.
        ignored: bool,
    },
    HostFinished {
        host: String,
        status: HostStatus,
        at: jiff::Timestamp,
    },
    RunAborted {
        reason: AbortReason,
    },
    RunFinished {
        finished_at: jiff::Timestamp,
    },
}
