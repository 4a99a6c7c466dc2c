//! Executing a [`Plan`]: batches, forks, retries, timeouts, failure limits, cancellation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use corsfleet_inventory::ConnectionSpec;
use corsfleet_playbook::{ModuleArgs, Task};
use corsfleet_preflight::{Timeouts, TlsOptions};
use corsfleet_tasks::{HostContext, Mode, PreflightTarget, Status, TaskOutcome};
use corsfleet_transport::Transport;
use jiff::Timestamp;
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::events::{AbortReason, Drift, HostStatus, RunEvent, RunMode, TaskStatus};
use crate::plan::{Plan, PlannedHost, PlannedPlay};

/// Opens one session to a host. Implemented by the CLI (ssh or local) and by tests.
///
/// Called on a blocking worker: implementations may block (ssh2 does).
pub trait Connector: Send + Sync {
    fn connect(&self, host: &str, spec: &ConnectionSpec) -> Result<Arc<dyn Transport>, String>;
}

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub run_id: String,
    pub mode: Mode,
    /// Hosts worked on at once within a batch.
    pub forks: usize,
    /// Restore web.config backups when a verification fails.
    pub rollback: bool,
    pub playbook: String,
    pub inventory: Vec<String>,
    pub limit: Option<String>,
    /// Used when a task sets no `timeout`.
    pub default_task_timeout: Duration,
    pub preflight_timeouts: Timeouts,
}

/// What happened to one host in one play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostEnd {
    Ok,
    Changed,
    Failed,
    Unreachable,
    Interrupted,
    Drifted,
    Compliant,
}

/// Run the plan to its end (or abort, or interruption), sending every event to `events`.
pub async fn run(
    plan: Plan,
    opts: RunOptions,
    connector: Arc<dyn Connector>,
    cancel: CancellationToken,
    events: mpsc::UnboundedSender<RunEvent>,
) {
    let send = |event: RunEvent| {
        let _ = events.send(event);
    };
    send(RunEvent::RunStarted {
        run_id: opts.run_id.clone(),
        corsfleet_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: Timestamp::now(),
        mode: if opts.mode == Mode::Verify {
            RunMode::Verify
        } else {
            RunMode::Run
        },
        check: opts.mode == Mode::Check,
        playbook: opts.playbook.clone(),
        inventory: opts.inventory.clone(),
        limit: opts.limit.clone(),
        hosts: plan.hosts.clone(),
    });

    // One session (and one context with its facts) per host for the whole run.
    let sessions: Arc<Mutex<HashMap<String, Option<Arc<HostContext>>>>> = Arc::default();
    let mut aborted = false;
    'plays: for (play_index, play) in plan.plays.iter().enumerate() {
        send(RunEvent::PlayStarted {
            play_index,
            name: play.name.clone(),
        });
        for (batch_index, batch) in play.batches.iter().enumerate() {
            if aborted || cancel.is_cancelled() {
                finish_unstarted(play, batch_index, &cancel, &send);
                break 'plays;
            }
            send(RunEvent::BatchStarted {
                play_index,
                batch_index,
                hosts: batch.iter().map(|h| h.name.clone()).collect(),
            });
            let ends = run_batch(play, batch, &opts, &connector, &sessions, &cancel, &events).await;
            let failed = ends
                .iter()
                .filter(|(_, e)| matches!(e, HostEnd::Failed | HostEnd::Unreachable))
                .count();
            // An audit reads only: it always looks at every host.
            let audit = opts.mode == Mode::Verify;
            if let Some(limit) = play.max_fail_percentage.filter(|_| !audit) {
                // Ansible's rule: abort when the batch's failure percentage *exceeds* the limit.
                if failed * 100 > usize::from(limit) * batch.len() {
                    send(RunEvent::RunAborted {
                        reason: AbortReason::MaxFailPercentage {
                            play: play.name.clone(),
                            failed,
                            of: batch.len(),
                            limit,
                        },
                    });
                    aborted = true;
                }
            }
            let fatal_host = (!aborted && !audit && play.any_errors_fatal)
                .then(|| ends.iter().find(|(_, e)| *e == HostEnd::Failed))
                .flatten();
            if let Some((host, _)) = fatal_host {
                send(RunEvent::RunAborted {
                    reason: AbortReason::AnyErrorsFatal {
                        play: play.name.clone(),
                        host: host.clone(),
                    },
                });
                aborted = true;
            }
            if aborted {
                finish_unstarted(play, batch_index + 1, &cancel, &send);
                break 'plays;
            }
        }
    }
    if cancel.is_cancelled() && !aborted {
        send(RunEvent::RunAborted {
            reason: AbortReason::Interrupted,
        });
    }
    send(RunEvent::RunFinished {
        finished_at: Timestamp::now(),
    });
}

/// Hosts of batches that never started: skipped after an abort, interrupted after Ctrl-C.
fn finish_unstarted(
    play: &PlannedPlay,
    from_batch: usize,
    cancel: &CancellationToken,
    send: &impl Fn(RunEvent),
) {
    let status = if cancel.is_cancelled() {
        HostStatus::Interrupted
    } else {
        HostStatus::Skipped
    };
    for batch in play.batches.iter().skip(from_batch) {
        for host in batch {
            send(RunEvent::HostFinished {
                host: host.name.clone(),
                status,
                at: Timestamp::now(),
            });
        }
    }
}

type Sessions = Arc<Mutex<HashMap<String, Option<Arc<HostContext>>>>>;

async fn run_batch(
    play: &PlannedPlay,
    batch: &[PlannedHost],
    opts: &RunOptions,
    connector: &Arc<dyn Connector>,
    sessions: &Sessions,
    cancel: &CancellationToken,
    events: &mpsc::UnboundedSender<RunEvent>,
) -> Vec<(String, HostEnd)> {
    let forks = Arc::new(Semaphore::new(opts.forks.max(1)));
    // any_errors_fatal: the first failure stops the batch's other hosts after their current task.
    let fatal = CancellationToken::new();
    let mut handles = Vec::new();
    for host in batch {
        let host = host.clone();
        let (opts, connector, sessions) =
            (opts.clone(), Arc::clone(connector), Arc::clone(sessions));
        let (cancel, events, forks, fatal) = (
            cancel.clone(),
            events.clone(),
            Arc::clone(&forks),
            fatal.clone(),
        );
        let any_errors_fatal = play.any_errors_fatal && opts.mode != Mode::Verify;
        handles.push(tokio::spawn(async move {
            let _permit = forks.acquire_owned().await;
            let end = run_host(
                &host, &opts, &connector, &sessions, &cancel, &fatal, &events,
            )
            .await;
            if any_errors_fatal && end == HostEnd::Failed {
                fatal.cancel();
            }
            (host.name.clone(), end)
        }));
    }
    let mut ends = Vec::new();
    for (handle, host) in handles.into_iter().zip(batch) {
        match handle.await {
            Ok(end) => ends.push(end),
            Err(join) => {
                // A panic in a module is a bug; report the host failed rather than lose it.
                let _ = events.send(RunEvent::HostFinished {
                    host: host.name.clone(),
                    status: HostStatus::Failed,
                    at: Timestamp::now(),
                });
                tracing::error!(host = %host.name, "internal error: {join}");
                ends.push((host.name.clone(), HostEnd::Failed));
            }
        }
    }
    ends
}

async fn run_host(
    host: &PlannedHost,
    opts: &RunOptions,
    connector: &Arc<dyn Connector>,
    sessions: &Sessions,
    cancel: &CancellationToken,
    fatal: &CancellationToken,
    events: &mpsc::UnboundedSender<RunEvent>,
) -> HostEnd {
    let send = |event: RunEvent| {
        let _ = events.send(event);
    };
    let finish = |end: HostEnd| {
        let status = match end {
            HostEnd::Ok => HostStatus::Ok,
            HostEnd::Changed => HostStatus::Changed,
            HostEnd::Failed => HostStatus::Failed,
            HostEnd::Unreachable => HostStatus::Unreachable,
            HostEnd::Interrupted => HostStatus::Interrupted,
            HostEnd::Drifted => HostStatus::Drifted,
            HostEnd::Compliant => HostStatus::Compliant,
        };
        let _ = events.send(RunEvent::HostFinished {
            host: host.name.clone(),
            status,
            at: Timestamp::now(),
        });
        end
    };
    if cancel.is_cancelled() || fatal.is_cancelled() {
        return finish(HostEnd::Interrupted);
    }

    let ctx = match session(host, opts, connector, sessions).await {
        Ok(ctx) => {
            send(RunEvent::HostConnected {
                host: host.name.clone(),
                at: Timestamp::now(),
            });
            ctx
        }
        Err(message) => {
            send(RunEvent::HostUnreachable {
                host: host.name.clone(),
                at: Timestamp::now(),
                message,
            });
            return finish(HostEnd::Unreachable);
        }
    };

    let mut changed = false;
    let mut drifted = false;
    for (task_index, task) in host.tasks.iter().enumerate() {
        if cancel.is_cancelled() || fatal.is_cancelled() {
            for (i, rest) in host.tasks.iter().enumerate().skip(task_index) {
                let now = Timestamp::now();
                send(task_finished(
                    &host.name,
                    i,
                    rest,
                    TaskStatus::Interrupted,
                    now,
                    now,
                    0,
                    None,
                    &TaskOutcome::skipped("not started: the run was stopped"),
                ));
            }
            return finish(HostEnd::Interrupted);
        }
        let started_at = Timestamp::now();
        send(RunEvent::TaskStarted {
            host: host.name.clone(),
            task_index,
            name: task.name.clone(),
            module: module_name(task).to_string(),
            at: started_at,
        });
        if !task.run {
            let outcome = TaskOutcome::skipped("condition (when) is false");
            send(task_finished(
                &host.name,
                task_index,
                task,
                TaskStatus::Skipped,
                started_at,
                Timestamp::now(),
                0,
                None,
                &outcome,
            ));
            continue;
        }
        let (outcome, attempts) =
            attempt(&ctx, task, opts, cancel, events, &host.name, task_index).await;
        let status = match outcome.status {
            Status::Ok => TaskStatus::Ok,
            Status::Changed => TaskStatus::Changed,
            Status::Failed => TaskStatus::Failed,
            Status::Skipped => TaskStatus::Skipped,
        };
        let ignored = status == TaskStatus::Failed && task.ignore_errors;
        let ev = task_finished(
            &host.name,
            task_index,
            task,
            status,
            started_at,
            Timestamp::now(),
            attempts,
            Some(ignored),
            &outcome,
        );
        send(ev);
        match status {
            TaskStatus::Changed => {
                changed = true;
                drifted |= opts.mode == Mode::Verify;
            }
            TaskStatus::Failed if !ignored => return finish(HostEnd::Failed),
            _ => {}
        }
        drifted |= opts.mode == Mode::Verify && !outcome.drift.is_empty();
    }
    finish(match opts.mode {
        Mode::Verify if drifted => HostEnd::Drifted,
        Mode::Verify => HostEnd::Compliant,
        _ if changed => HostEnd::Changed,
        _ => HostEnd::Ok,
    })
}

/// Connect once per host per run; an unreachable host stays unreachable for later plays.
async fn session(
    host: &PlannedHost,
    opts: &RunOptions,
    connector: &Arc<dyn Connector>,
    sessions: &Sessions,
) -> Result<Arc<HostContext>, String> {
    // Look up under the lock, connect without it: hosts connect in parallel. A host is in one
    // batch of a play at a time, so no two workers connect the same host concurrently.
    if let Some(existing) = sessions.lock().await.get(&host.name) {
        return existing
            .clone()
            .ok_or_else(|| "unreachable earlier in this run".to_string());
    }
    let (name, spec, connector) = (
        host.name.clone(),
        host.connection.clone(),
        Arc::clone(connector),
    );
    let connected = tokio::task::spawn_blocking(move || connector.connect(&name, &spec))
        .await
        .unwrap_or_else(|join| Err(format!("connection worker failed: {join}")));
    let mut map = sessions.lock().await;
    match connected {
        Ok(transport) => {
            let mut ctx = HostContext::new(
                host.name.clone(),
                transport,
                opts.mode,
                preflight_target(&host.connection, opts.preflight_timeouts),
            );
            ctx.rollback = opts.rollback;
            let ctx = Arc::new(ctx);
            map.insert(host.name.clone(), Some(Arc::clone(&ctx)));
            Ok(ctx)
        }
        Err(message) => {
            map.insert(host.name.clone(), None);
            Err(message)
        }
    }
}

fn preflight_target(spec: &ConnectionSpec, timeouts: Timeouts) -> PreflightTarget {
    PreflightTarget {
        address: spec.address.clone(),
        https_port: spec.https_port,
        tls: TlsOptions {
            ca_file: spec.ca_file.clone(),
            server_name: spec.tls_server_name.clone(),
            pin_sha256: spec.pin_sha256.clone(),
            insecure: spec.insecure_tls,
        },
        timeouts,
    }
}

/// One task with its retries and timeout. Returns the last outcome and the attempt count.
async fn attempt(
    ctx: &Arc<HostContext>,
    task: &Task,
    opts: &RunOptions,
    cancel: &CancellationToken,
    events: &mpsc::UnboundedSender<RunEvent>,
    host: &str,
    task_index: usize,
) -> (TaskOutcome, u32) {
    let timeout = task.timeout.unwrap_or(opts.default_task_timeout);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let progress_events = events.clone();
        let progress_host = host.to_string();
        let progress = move |done: u64, total: u64| {
            let _ = progress_events.send(RunEvent::TaskProgress {
                host: progress_host.clone(),
                task_index,
                done,
                total,
            });
        };
        let outcome = match tokio::time::timeout(
            timeout,
            corsfleet_tasks::execute(ctx, task, &progress),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => TaskOutcome::failed(format!(
                "timed out after {}s (the remote step may still complete; nothing further was started)",
                timeout.as_secs()
            )),
        };
        if outcome.status != Status::Failed || attempts > task.retries || cancel.is_cancelled() {
            return (outcome, attempts);
        }
        tracing::info!(host, task = %task.name, attempt = attempts, "task failed, retrying: {}", outcome.message);
        tokio::select! {
            () = tokio::time::sleep(task.delay) => {}
            () = cancel.cancelled() => return (outcome, attempts),
        }
    }
}

fn module_name(task: &Task) -> &'static str {
    match task.args {
        ModuleArgs::IisFacts(_) => "iis_facts",
        ModuleArgs::MsiInstall(_) => "msi_install",
        ModuleArgs::WebConfigCors(_) => "web_config_cors",
        ModuleArgs::CorsPreflight(_) => "cors_preflight",
    }
}

#[allow(clippy::too_many_arguments)]
fn task_finished(
    host: &str,
    task_index: usize,
    task: &Task,
    status: TaskStatus,
    started_at: Timestamp,
    finished_at: Timestamp,
    attempts: u32,
    ignored: Option<bool>,
    outcome: &TaskOutcome,
) -> RunEvent {
    RunEvent::TaskFinished {
        host: host.to_string(),
        task_index,
        name: task.name.clone(),
        module: module_name(task).to_string(),
        status,
        message: outcome.message.clone(),
        diff: outcome.diff.clone(),
        drift: outcome
            .drift
            .iter()
            .map(|d| Drift {
                property: d.property.clone(),
                expected: d.expected.clone(),
                actual: d.actual.clone(),
            })
            .collect(),
        started_at,
        finished_at,
        attempts,
        reboot_required: outcome.reboot_required,
        rolled_back: outcome.rolled_back,
        ignored: ignored.unwrap_or(false),
    }
}
