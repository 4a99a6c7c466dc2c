//! `ReportBuilder`: folds a stream of [`RunEvent`]s into a [`RunReport`].
//!
//! The builder is a plain consumer of the runner's event stream, like the progress bars and
//! the JSON-lines log. It accepts events in any order and never fails: a report is most
//! needed exactly when a run went wrong (killed, cut off, events lost), so missing pieces
//! become honest statuses (`interrupted`) instead of errors.
//!
//! Rules when the stream is incomplete:
//! - a task with `TaskStarted` but no `TaskFinished` is `interrupted`;
//! - a host with no `HostFinished` is `unreachable` if a `HostUnreachable` was seen, else
//!   `interrupted`;
//! - a host with several `HostFinished` (one per play) keeps the most serious status
//!   (interrupted > failed > drifted > unreachable > changed > ok > compliant > skipped);
//! - a task belongs to the play of the last `BatchStarted` that listed its host (else the last
//!   `PlayStarted`), so play attribution needs `BatchStarted` before the host's tasks (a run
//!   with a single play needs nothing: all its tasks belong to it).

use std::collections::{BTreeMap, HashMap};

use corsfleet_runner::events::RunEvent;

use crate::model::{
    AbortReason, HostReport, HostStatus, Recap, RunMode, RunReport, SCHEMA_VERSION, TaskReport,
    TaskStatus, Totals,
};

/// Accumulates events; call [`ReportBuilder::finish`] for the report.
#[derive(Debug, Default)]
pub struct ReportBuilder {
    run: Option<RunMeta>,
    plays: BTreeMap<usize, String>,
    last_play: Option<usize>,
    hosts: Vec<HostAcc>,
    by_name: HashMap<String, usize>,
    /// Host order announced by `RunStarted`.
    order: Vec<String>,
    aborted: Option<AbortReason>,
    finished_at: Option<jiff::Timestamp>,
    /// Earliest timestamp seen, the start time of last resort when `RunStarted` is missing.
    earliest: Option<jiff::Timestamp>,
}

#[derive(Debug)]
struct RunMeta {
    run_id: String,
    corsfleet_version: String,
    started_at: jiff::Timestamp,
    mode: RunMode,
    check: bool,
    playbook: String,
    inventory: Vec<String>,
    limit: Option<String>,
}

#[derive(Debug)]
struct HostAcc {
    name: String,
    status: Option<HostStatus>,
    unreachable: Option<String>,
    play: Option<usize>,
    tasks: Vec<TaskReport>,
}

impl ReportBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event in.
    pub fn push(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                run_id,
                corsfleet_version,
                started_at,
                mode,
                check,
                playbook,
                inventory,
                limit,
                hosts,
            } => {
                self.seen(*started_at);
                self.run = Some(RunMeta {
                    run_id: run_id.clone(),
                    corsfleet_version: corsfleet_version.clone(),
                    started_at: *started_at,
                    mode: *mode,
                    check: *check,
                    playbook: playbook.clone(),
                    inventory: inventory.clone(),
                    limit: limit.clone(),
                });
                self.order = hosts.clone();
                for h in hosts {
                    self.host(h);
                }
            }
            RunEvent::PlayStarted { play_index, name } => {
                self.plays.insert(*play_index, name.clone());
                self.last_play = Some(*play_index);
            }
            RunEvent::BatchStarted {
                play_index, hosts, ..
            } => {
                for h in hosts {
                    self.host(h).play = Some(*play_index);
                }
            }
            RunEvent::HostConnected { host, at } => {
                self.seen(*at);
                self.host(host);
            }
            RunEvent::HostUnreachable { host, at, message } => {
                self.seen(*at);
                self.host(host).unreachable = Some(message.clone());
            }
            RunEvent::TaskStarted {
                host,
                task_index,
                name,
                module,
                at,
            } => {
                self.seen(*at);
                let last_play = self.last_play;
                let acc = self.host(host);
                let play = acc.play.or(last_play);
                if let Some(i) = acc.find_task(play, *task_index) {
                    let t = &mut acc.tasks[i];
                    t.play = t.play.or(play);
                } else {
                    acc.tasks.push(TaskReport {
                        index: *task_index,
                        play,
                        name: name.clone(),
                        module: module.clone(),
                        status: TaskStatus::Interrupted,
                        changed: false,
                        message: String::new(),
                        diff: None,
                        drift: Vec::new(),
                        started_at: *at,
                        finished_at: None,
                        duration_ms: 0,
                        attempts: 0,
                        reboot_required: false,
                        rolled_back: false,
                        ignored: false,
                    });
                }
            }
            RunEvent::TaskProgress { .. } => {}
            RunEvent::TaskFinished {
                host,
                task_index,
                name,
                module,
                status,
                message,
                diff,
                drift,
                started_at,
                finished_at,
                attempts,
                reboot_required,
                rolled_back,
                ignored,
            } => {
                self.seen(*started_at);
                let last_play = self.last_play;
                let acc = self.host(host);
                let play = acc.play.or(last_play);
                let task = TaskReport {
                    index: *task_index,
                    play,
                    name: name.clone(),
                    module: module.clone(),
                    status: *status,
                    changed: *status == TaskStatus::Changed,
                    message: message.clone(),
                    diff: diff.clone(),
                    drift: drift.clone(),
                    started_at: *started_at,
                    finished_at: Some(*finished_at),
                    duration_ms: duration_ms(*started_at, *finished_at),
                    attempts: *attempts,
                    reboot_required: *reboot_required,
                    rolled_back: *rolled_back,
                    ignored: *ignored,
                };
                match acc.find_task(play, *task_index) {
                    Some(i) => {
                        let known_play = acc.tasks[i].play;
                        acc.tasks[i] = TaskReport {
                            play: play.or(known_play),
                            ..task
                        };
                    }
                    None => acc.tasks.push(task),
                }
            }
            RunEvent::HostFinished { host, status, at } => {
                self.seen(*at);
                let acc = self.host(host);
                acc.status = Some(match acc.status {
                    Some(prev) if severity(prev) >= severity(*status) => prev,
                    _ => *status,
                });
            }
            RunEvent::RunAborted { reason } => {
                // An interrupt outranks an earlier max-fail abort: it is what stopped the run.
                if self.aborted.is_none() || *reason == AbortReason::Interrupted {
                    self.aborted = Some(reason.clone());
                }
            }
            RunEvent::RunFinished { finished_at } => {
                self.seen(*finished_at);
                self.finished_at = Some(*finished_at);
            }
        }
    }

    /// Builds the report. Hosts come in `RunStarted` order; hosts not listed there follow in
    /// the order they were first seen.
    pub fn finish(self) -> RunReport {
        let ReportBuilder {
            run,
            plays,
            hosts,
            order,
            aborted,
            finished_at,
            earliest,
            ..
        } = self;
        // With a single play, every task belongs to it, whatever order the events came in.
        let only_play = if plays.len() == 1 {
            plays.keys().next().copied()
        } else {
            None
        };
        let mut hosts: Vec<HostReport> = hosts.into_iter().map(|h| h.finish(only_play)).collect();
        // Stable sort: listed hosts by their listed position, the rest keep first-seen order.
        let rank: HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut keyed: Vec<(usize, HostReport)> = hosts
            .drain(..)
            .map(|h| (rank.get(h.name.as_str()).copied().unwrap_or(usize::MAX), h))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        let hosts: Vec<HostReport> = keyed.into_iter().map(|(_, h)| h).collect();

        let plays = match plays.keys().next_back() {
            Some(&max) => (0..=max)
                .map(|i| plays.get(&i).cloned().unwrap_or_default())
                .collect(),
            None => Vec::new(),
        };
        let totals = Totals::from_hosts(&hosts);
        let run = run.unwrap_or_else(|| RunMeta {
            run_id: String::new(),
            corsfleet_version: String::new(),
            started_at: earliest.unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            mode: RunMode::Run,
            check: false,
            playbook: String::new(),
            inventory: Vec::new(),
            limit: None,
        });
        RunReport {
            schema: SCHEMA_VERSION,
            run_id: run.run_id,
            corsfleet_version: run.corsfleet_version,
            mode: run.mode,
            check: run.check,
            playbook: run.playbook,
            inventory: run.inventory,
            limit: run.limit,
            started_at: run.started_at,
            finished_at,
            aborted,
            plays,
            hosts,
            totals,
        }
    }

    fn seen(&mut self, at: jiff::Timestamp) {
        if self.earliest.is_none_or(|e| at < e) {
            self.earliest = Some(at);
        }
    }

    fn host(&mut self, name: &str) -> &mut HostAcc {
        let i = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                self.hosts.push(HostAcc {
                    name: name.to_owned(),
                    status: None,
                    unreachable: None,
                    play: None,
                    tasks: Vec::new(),
                });
                self.by_name.insert(name.to_owned(), self.hosts.len() - 1);
                self.hosts.len() - 1
            }
        };
        &mut self.hosts[i]
    }
}

impl HostAcc {
    /// The task with this index in this play. An unknown play matches any play: the
    /// `TaskStarted` and `TaskFinished` of one task can straddle the `BatchStarted` that names
    /// the play when events arrive out of order.
    fn find_task(&self, play: Option<usize>, index: usize) -> Option<usize> {
        self.tasks.iter().position(|t| {
            t.index == index && (t.play == play || t.play.is_none() || play.is_none())
        })
    }

    fn finish(mut self, only_play: Option<usize>) -> HostReport {
        if only_play.is_some() {
            for t in &mut self.tasks {
                t.play = t.play.or(only_play);
            }
        }
        let status = match (self.status, &self.unreachable) {
            (Some(s), _) => s,
            (None, Some(_)) => HostStatus::Unreachable,
            (None, None) => HostStatus::Interrupted,
        };
        self.tasks.sort_by_key(|t| (t.play, t.index));
        let mut recap = Recap::default();
        for t in &self.tasks {
            recap.count_task(t);
        }
        if status == HostStatus::Unreachable || self.unreachable.is_some() {
            recap.unreachable = 1;
        }
        HostReport {
            name: self.name,
            status,
            message: self.unreachable,
            tasks: self.tasks,
            recap,
        }
    }
}

/// How serious a host status is, for merging one `HostFinished` per play.
fn severity(s: HostStatus) -> u8 {
    match s {
        HostStatus::Skipped => 0,
        HostStatus::Compliant => 1,
        HostStatus::Ok => 2,
        HostStatus::Changed => 3,
        HostStatus::Unreachable => 4,
        HostStatus::Drifted => 5,
        HostStatus::Failed => 6,
        HostStatus::Interrupted => 7,
    }
}

fn duration_ms(start: jiff::Timestamp, end: jiff::Timestamp) -> u64 {
    let ms = end.duration_since(start).as_millis();
    u64::try_from(ms.max(0)).unwrap_or(u64::MAX)
}
