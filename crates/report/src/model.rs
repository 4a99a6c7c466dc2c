//! The `RunReport` data model: one serde document per run, the single source every renderer
//! reads (JSON, JUnit, Markdown, HTML, console recap).
//!
//! Keeping the model apart from its formats means a saved `report.json` can be re-rendered
//! later (`corsfleet report render`) and every format agrees, because they all read the same
//! numbers. The document is versioned (`"schema": 1`); readers reject other versions rather
//! than guess.

use serde::{Deserialize, Serialize};

pub use corsfleet_runner::events::{AbortReason, Drift, HostStatus, RunMode, TaskStatus};

/// The schema version this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything known about one run, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`SCHEMA_VERSION`] for reports this crate writes.
    pub schema: u32,
    pub run_id: String,
    pub corsfleet_version: String,
    pub mode: RunMode,
    /// `--check`: nothing was changed; `changed` means "would change".
    pub check: bool,
    pub playbook: String,
    pub inventory: Vec<String>,
    pub limit: Option<String>,
    pub started_at: jiff::Timestamp,
    /// `None` when the event stream ended without `RunFinished` (the process died or was cut).
    pub finished_at: Option<jiff::Timestamp>,
    pub aborted: Option<AbortReason>,
    /// Play names by play index, as announced by `PlayStarted`.
    #[serde(default)]
    pub plays: Vec<String>,
    /// Hosts in the order `RunStarted` listed them; hosts only seen later follow.
    pub hosts: Vec<HostReport>,
    pub totals: Totals,
}

/// One host's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    pub name: String,
    pub status: HostStatus,
    /// Why the host was unreachable, when it was.
    pub message: Option<String>,
    /// Tasks in play order, then task order.
    pub tasks: Vec<TaskReport>,
    pub recap: Recap,
}

/// One task on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// The task's index within its play.
    pub index: usize,
    /// The play the task belongs to, when the events said so (`BatchStarted`).
    #[serde(default)]
    pub play: Option<usize>,
    pub name: String,
    pub module: String,
    /// `interrupted` for a task that started and never finished.
    pub status: TaskStatus,
    pub changed: bool,
    pub message: String,
    pub diff: Option<String>,
    pub drift: Vec<Drift>,
    pub started_at: jiff::Timestamp,
    /// `None` for a task that never finished.
    pub finished_at: Option<jiff::Timestamp>,
    pub duration_ms: u64,
    pub attempts: u32,
    pub reboot_required: bool,
    pub rolled_back: bool,
    /// The task failed and `ignore_errors: true` kept the host going.
    pub ignored: bool,
}

/// Counters named and counted like Ansible's PLAY RECAP.
///
/// - `ok`: tasks that finished ok or changed (Ansible counts a changed task as ok too);
/// - `changed`: changed tasks (in check mode: would change);
/// - `unreachable`: 1 when the host could not be reached;
/// - `failed`: failed tasks whose failure was not ignored;
/// - `skipped`: skipped tasks;
/// - `ignored`: tasks whose failure `ignore_errors` ignored (counted here only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recap {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub ignored: u64,
}

impl Recap {
    /// Counts one task the way Ansible's recap does.
    pub fn count_task(&mut self, task: &TaskReport) {
        if task.ignored {
            self.ignored += 1;
            return;
        }
        match task.status {
            TaskStatus::Ok => self.ok += 1,
            TaskStatus::Changed => {
                self.ok += 1;
                self.changed += 1;
            }
            TaskStatus::Failed => self.failed += 1,
            TaskStatus::Skipped => self.skipped += 1,
            // Ansible has no counter for this; the host status says it.
            TaskStatus::Interrupted => {}
        }
    }

    /// Adds another recap to this one (for totals).
    pub fn add(&mut self, other: &Recap) {
        self.ok += other.ok;
        self.changed += other.changed;
        self.unreachable += other.unreachable;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.ignored += other.ignored;
    }
}

/// Run-wide counts: hosts per status, and the recap counters summed over hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub hosts: u64,
    pub ok: u64,
    pub changed: u64,
    pub failed: u64,
    pub unreachable: u64,
    pub skipped: u64,
    pub interrupted: u64,
    pub compliant: u64,
    pub drifted: u64,
    /// Tasks over all hosts.
    pub tasks: u64,
    /// Hosts with at least one task that asked for a reboot.
    pub reboot_required: u64,
    /// Tasks whose change was rolled back after a failure.
    pub rolled_back: u64,
    pub recap: Recap,
}

impl Totals {
    /// Recomputes the totals from the hosts, so they can never disagree with them.
    pub fn from_hosts(hosts: &[HostReport]) -> Self {
        let mut t = Totals {
            hosts: hosts.len() as u64,
            ..Totals::default()
        };
        for h in hosts {
            match h.status {
                HostStatus::Ok => t.ok += 1,
                HostStatus::Changed => t.changed += 1,
                HostStatus::Failed => t.failed += 1,
                HostStatus::Unreachable => t.unreachable += 1,
                HostStatus::Skipped => t.skipped += 1,
                HostStatus::Interrupted => t.interrupted += 1,
                HostStatus::Compliant => t.compliant += 1,
                HostStatus::Drifted => t.drifted += 1,
            }
            t.tasks += h.tasks.len() as u64;
            if h.tasks.iter().any(|task| task.reboot_required) {
                t.reboot_required += 1;
            }
            t.rolled_back += h.tasks.iter().filter(|task| task.rolled_back).count() as u64;
            t.recap.add(&h.recap);
        }
        t
    }
}

/// How a run came out as a whole; the CLI maps it to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitClass {
    Success,
    /// A host failed (`run`) or drifted (`verify`).
    Failed,
    /// A host could not be reached, and none failed.
    Unreachable,
    /// `max_fail_percentage` or `any_errors_fatal` stopped the run.
    Aborted,
    /// Ctrl-C, or the event stream ended without `RunFinished`.
    Interrupted,
}

/// Classifies a run. Precedence: interrupted > aborted > failed/drifted > unreachable >
/// success, so the most serious thing that happened decides the exit code.
///
/// Interrupted means: the abort reason is `interrupted`, the run never finished, or (with no
/// abort recorded) a host was left interrupted.
pub fn exit_class(report: &RunReport) -> ExitClass {
    let any = |s: HostStatus| report.hosts.iter().any(|h| h.status == s);
    match &report.aborted {
        Some(AbortReason::Interrupted) => return ExitClass::Interrupted,
        _ if report.finished_at.is_none() => return ExitClass::Interrupted,
        Some(_) => return ExitClass::Aborted,
        None => {}
    }
    if any(HostStatus::Interrupted) {
        ExitClass::Interrupted
    } else if any(HostStatus::Failed) || any(HostStatus::Drifted) {
        ExitClass::Failed
    } else if any(HostStatus::Unreachable) {
        ExitClass::Unreachable
    } else {
        ExitClass::Success
    }
}
