//! corsfleet-playbook: plays and tasks from YAML, minijinja templating, validation with
//! `FILE:LINE:COL`.
//!
//! A [`Playbook`] is the raw, parsed file: every [`TaskSpec`] keeps its untemplated module
//! parameters and their positions. [`template_task`] turns one `TaskSpec` into a [`Task`] for
//! one host: strings are rendered with minijinja (strict undefined), `when` is evaluated, and
//! the parameters become typed [`ModuleArgs`]. Keeping the two apart lets `corsfleet validate`
//! template every task for every host and report all errors without running anything, and
//! lets the runner template lazily per host. See docs/playbooks.md for the reference.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod extra;
mod load;
mod modules;
mod template;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use corsfleet_inventory::Host;
pub use corsfleet_inventory::Location;
use corsfleet_inventory::yaml::Node;
pub use extra::ExtraVars;
pub use modules::{
    CorsPreflightArgs, DEFAULT_DENY_ORIGIN, DEFAULT_WEB_CONFIG, IisFactsArgs, ModuleArgs,
    MsiInstallArgs, WebConfigCorsArgs,
};
pub use template::{Groups, TemplateContext, template_task, template_task_all, template_with};

/// A loaded playbook: a list of plays.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

impl Playbook {
    /// Loads and checks a playbook; returns every error found, not only the first.
    pub fn load(path: &std::path::Path) -> Result<Playbook, PlaybookErrors> {
        load::load(path)
    }

    /// The folder relative `src` paths resolve against.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// One play: a host pattern and the tasks to run on it. Debug output redacts secret vars.
#[derive(Clone)]
pub struct Play {
    pub name: String,
    /// Host pattern (Ansible syntax), not templated.
    pub hosts: String,
    /// Batch sizes; empty means all hosts in one batch. The last size repeats.
    pub serial: Vec<BatchSize>,
    /// corsfleet extension: batches grouped by this host variable's value, in order of first
    /// appearance, hosts in inventory order (UCCE duplex sides never change together).
    pub batch_by: Option<String>,
    pub max_fail_percentage: Option<u8>,
    pub any_errors_fatal: bool,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub tasks: Vec<TaskSpec>,
    pub location: Location,
    /// Positions of play vars, for error messages.
    pub(crate) var_locations: std::collections::BTreeMap<String, Location>,
}

impl fmt::Debug for Play {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Play")
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .field("serial", &self.serial)
            .field("batch_by", &self.batch_by)
            .field("max_fail_percentage", &self.max_fail_percentage)
            .field("any_errors_fatal", &self.any_errors_fatal)
            .field("vars", &corsfleet_inventory::redact(&self.vars))
            .field("tasks", &self.tasks)
            .field("location", &self.location)
            .finish()
    }
}

impl Play {
    /// Splits the play's hosts (in inventory order) into batches: first by the value of
    /// `batch_by` (groups in order of first appearance; a host without the variable forms a
    /// group of its own kind, keyed by null), then each group by `serial`. The serial sizes
    /// advance batch by batch across the whole play and the last repeats; percentages are of
    /// all the play's hosts, as in Ansible.
    pub fn batches<'h>(&self, hosts: &[&'h Host]) -> Vec<Vec<&'h Host>> {
        let mut groups: Vec<(Option<&serde_json::Value>, Vec<&'h Host>)> = Vec::new();
        for &h in hosts {
            let key = self.batch_by.as_ref().and_then(|b| h.vars.get(b));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(h),
                None => groups.push((key, vec![h])),
            }
        }
        let total = hosts.len();
        let mut batches = Vec::new();
        for (_, members) in groups {
            let mut rest = members.as_slice();
            while !rest.is_empty() {
                let size = match self.serial.get(batches.len()).or(self.serial.last()) {
                    Some(s) => s.hosts(total),
                    None => rest.len(),
                };
                let (now, later) = rest.split_at(size.min(rest.len()));
                batches.push(now.to_vec());
                rest = later;
            }
        }
        batches
    }
}

/// One entry of `serial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Count(usize),
    /// 1–100; a batch is at least one host.
    Percent(u8),
}

impl BatchSize {
    /// The number of hosts for a play of `total` hosts (Ansible rounds percentages down,
    /// but never below one host).
    pub fn hosts(self, total: usize) -> usize {
        match self {
            BatchSize::Count(n) => n.max(1),
            BatchSize::Percent(p) => (total * usize::from(p) / 100).max(1),
        }
    }
}

/// A task as written: not yet templated.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub name: String,
    pub module: ModuleKind,
    pub when: Option<String>,
    pub retries: u32,
    pub delay: Duration,
    pub timeout: Option<Duration>,
    pub tags: Vec<String>,
    pub ignore_errors: bool,
    pub location: Location,
    /// The module's parameters as parsed (`None` when the module key had no value).
    pub(crate) args: Option<Node>,
    /// Position of the `when:` value.
    pub(crate) when_location: Option<Location>,
    /// Position of the `name:` value.
    pub(crate) name_location: Option<Location>,
}

/// The task modules corsfleet knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModuleKind {
    IisFacts,
    MsiInstall,
    WebConfigCors,
    CorsPreflight,
}

impl ModuleKind {
    pub const ALL: [ModuleKind; 4] = [
        ModuleKind::IisFacts,
        ModuleKind::MsiInstall,
        ModuleKind::WebConfigCors,
        ModuleKind::CorsPreflight,
    ];

    /// The YAML key.
    pub fn name(&self) -> &'static str {
        match self {
            ModuleKind::IisFacts => "iis_facts",
            ModuleKind::MsiInstall => "msi_install",
            ModuleKind::WebConfigCors => "web_config_cors",
            ModuleKind::CorsPreflight => "cors_preflight",
        }
    }

    pub fn from_name(name: &str) -> Option<ModuleKind> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for ModuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A task templated for one host.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub name: String,
    /// Index of the task in its play.
    pub index: usize,
    /// The result of `when` (true when there is none).
    pub run: bool,
    pub retries: u32,
    pub delay: Duration,
    pub timeout: Option<Duration>,
    pub ignore_errors: bool,
    pub tags: Vec<String>,
    pub location: Location,
    pub args: ModuleArgs,
}

/// One problem in a playbook, with its position. `hint` is at most one extra line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct PlaybookError {
    pub location: Location,
    pub message: String,
    pub hint: Option<String>,
}

impl PlaybookError {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<corsfleet_inventory::Diagnostic> for PlaybookError {
    fn from(d: corsfleet_inventory::Diagnostic) -> Self {
        Self {
            location: d.location,
            message: d.message,
            hint: d.hint,
        }
    }
}

/// Every problem found in a playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookErrors(pub Vec<PlaybookError>);

impl fmt::Display for PlaybookErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("invalid playbook"),
            [one] => write!(f, "{one}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more errors)", rest.len()),
        }
    }
}

impl std::error::Error for PlaybookErrors {}
