//! `corsfleet run` and `corsfleet verify`: load, plan, execute, report.
//!
//! Parse → resolve → execute: flags become a [`Job`]; planning templates every task for every
//! host before anything is contacted (bad input exits 2 with nothing changed); the runner's
//! events feed three consumers (progress, JSON-lines log, report builder).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use corsfleet_inventory::{ConnectionKind, ConnectionSpec, Inventory};
use corsfleet_playbook::{ExtraVars, Playbook};
use corsfleet_report::{ExitClass, ReportBuilder, RunReport};
use corsfleet_runner::{Connector, Mode, RunOptions};
use corsfleet_transport::{
    CommandExecutor, ExecOutput, HostKeyPolicy, LocalTransport, ShellExecutor, SshAuth, SshOptions,
    SshTransport, Transport, TransportError,
};
use tokio_util::sync::CancellationToken;

use crate::exit::{CliError, Outcome};
use crate::progress::{Progress, stderr_color};

/// Flags shared by `run` and `verify`.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// The playbook (YAML).
    pub playbook: PathBuf,
    /// Inventory file or directory; may be given several times.
    #[arg(short = 'i', long = "inventory", required = true)]
    pub inventory: Vec<PathBuf>,
    /// Narrow the play's hosts with a host pattern (e.g. `side_a`, `lgr-*:!lgr-b`).
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Extra variables: `key=value` or `@file.yml`; may be given several times.
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Hosts worked on at once within a batch.
    #[arg(short = 'f', long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub forks: u16,
    /// Write report.json, junit.xml, report.md and report.html into this folder.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Write every run event as one JSON line into FILE.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// No progress bars (plain lines are printed when stderr is not a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Record unknown SSH host keys in the known_hosts file instead of refusing the host.
    /// Changed keys are always refused.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Print the report as JSON on stdout at the end.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Say what would change; change nothing.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show the unified diff of every web.config change.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Keep a changed web.config even when its verification fails (default: restore the backup).
    #[arg(long)]
    pub no_rollback: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: RunArgs) -> Result<Outcome, CliError> {
    let mode = if args.check { Mode::Check } else { Mode::Apply };
    let job = Job::resolve(&args.common, mode, !args.no_rollback, args.diff)?;
    job.execute_blocking(&args.common)
}

pub fn verify(args: VerifyArgs) -> Result<Outcome, CliError> {
    let job = Job::resolve(&args.common, Mode::Verify, false, false)?;
    job.execute_blocking(&args.common)
}

/// Everything resolved and validated; nothing contacted yet.
#[derive(Debug)]
pub struct Job {
    pub plan: corsfleet_runner::Plan,
    pub options: RunOptions,
    pub show_diff: bool,
    pub accept_new_host_keys: bool,
}

impl Job {
    pub fn resolve(
        common: &CommonArgs,
        mode: Mode,
        rollback: bool,
        show_diff: bool,
    ) -> Result<Job, CliError> {
        let inventory =
            Inventory::load(&common.inventory).map_err(|e| CliError::input(e.to_string()))?;
        let playbook =
            Playbook::load(&common.playbook).map_err(|e| CliError::input(e.to_string()))?;
        let extra =
            ExtraVars::parse(&common.extra_vars).map_err(|e| CliError::input(e.to_string()))?;
        let plan = corsfleet_runner::plan(&playbook, &inventory, common.limit.as_deref(), &extra)
            .map_err(|e| CliError::input(e.to_string()))?;
        let options = RunOptions {
            run_id: run_id(),
            mode,
            forks: usize::from(common.forks),
            rollback,
            playbook: common.playbook.display().to_string(),
            inventory: common
                .inventory
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            limit: common.limit.clone(),
            default_task_timeout: Duration::from_secs(900),
            preflight_timeouts: corsfleet_preflight::Timeouts::default(),
        };
        Ok(Job {
            plan,
            options,
            show_diff,
            accept_new_host_keys: common.accept_new_host_keys,
        })
    }

    fn execute_blocking(self, common: &CommonArgs) -> Result<Outcome, CliError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(CliError::internal)?;
        let sinks = Sinks::from(common);
        let connector = Arc::new(CliConnector {
            accept_new_host_keys: self.accept_new_host_keys,
        });
        let report = runtime.block_on(self.execute(connector, &sinks))?;
        Ok(outcome(&report))
    }

    /// Run the plan, feed every consumer, write the outputs; returns the report.
    pub async fn execute(
        self,
        connector: Arc<dyn Connector>,
        sinks: &Sinks,
    ) -> Result<RunReport, CliError> {
        let cancel = CancellationToken::new();
        let ctrl_c = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    tracing::warn!(
                        "interrupted: finishing the steps in flight, starting nothing new"
                    );
                    cancel.cancel();
                }
            })
        };
        let mut events_log = match &sinks.events {
            Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
                CliError::input(format!("--events {}: {e}", path.display()))
            })?)),
            None => None,
        };
        let color = stderr_color();
        let mut progress = Progress::new(sinks.progress, color);
        let mut builder = ReportBuilder::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let runner = tokio::spawn(corsfleet_runner::run(
            self.plan,
            self.options,
            connector,
            cancel,
            tx,
        ));
        while let Some(event) = rx.recv().await {
            progress.event(&event);
            if let Some(log) = events_log.as_mut() {
                let line = serde_json::to_string(&event).map_err(CliError::internal)?;
                writeln!(log, "{line}").map_err(CliError::internal)?;
            }
            builder.push(&event);
        }
        runner.await.map_err(CliError::internal)?;
        ctrl_c.abort();
        progress.finish();
        if let Some(mut log) = events_log {
            log.flush().map_err(CliError::internal)?;
        }
        let report = builder.finish();
        print_outputs(&report, sinks, self.show_diff, color)?;
        Ok(report)
    }
}

/// Where the results go.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub report_dir: Option<PathBuf>,
    pub events: Option<PathBuf>,
    pub progress: bool,
    pub output: OutputFormat,
}

impl From<&CommonArgs> for Sinks {
    fn from(common: &CommonArgs) -> Self {
        Sinks {
            report_dir: common.report_dir.clone(),
            events: common.events.clone(),
            progress: !common.no_progress,
            output: common.output,
        }
    }
}

#[allow(clippy::print_stderr, clippy::print_stdout)]
fn print_outputs(
    report: &RunReport,
    sinks: &Sinks,
    show_diff: bool,
    color: bool,
) -> Result<(), CliError> {
    if show_diff {
        for host in &report.hosts {
            for task in &host.tasks {
                if let Some(diff) = &task.diff {
                    eprintln!("--- {} | {} ---\n{diff}", host.name, task.name);
                }
            }
        }
    }
    eprint!("{}", corsfleet_report::render_recap(report, color));
    if let Some(dir) = &sinks.report_dir {
        let written = corsfleet_report::write_all(report, dir).map_err(|e| {
            CliError::internal(format!("cannot write the report to {}: {e}", dir.display()))
        })?;
        for path in written {
            eprintln!("report: {}", path.display());
        }
    }
    if sinks.output == OutputFormat::Json {
        println!("{}", corsfleet_report::render_json(report));
    }
    Ok(())
}

pub fn outcome(report: &RunReport) -> Outcome {
    match corsfleet_report::exit_class(report) {
        ExitClass::Success => Outcome::Success,
        ExitClass::Failed => Outcome::Failed,
        ExitClass::Unreachable => Outcome::Unreachable,
        ExitClass::Aborted => Outcome::Aborted,
        ExitClass::Interrupted => Outcome::Interrupted,
    }
}

fn run_id() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}-{:04x}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        std::process::id() & 0xffff
    )
}

/// Opens sessions from inventory connection settings.
#[derive(Debug)]
pub struct CliConnector {
    pub accept_new_host_keys: bool,
}

impl Connector for CliConnector {
    fn connect(&self, host: &str, spec: &ConnectionSpec) -> Result<Arc<dyn Transport>, String> {
        match spec.kind {
            ConnectionKind::Local => {
                if let Some(root) = spec.local_root.as_ref().filter(|r| !r.is_dir()) {
                    return Err(format!(
                        "{host}: local root {} is not a folder",
                        root.display()
                    ));
                }
                Ok(local_transport(spec))
            }
            ConnectionKind::Ssh => {
                let auth = if let Some(key) = &spec.private_key_file {
                    SshAuth::KeyFile(key.clone())
                } else if let Some(var) = &spec.password_env {
                    SshAuth::PasswordEnv(var.clone())
                } else {
                    SshAuth::Agent
                };
                let known_hosts = spec.known_hosts.clone().unwrap_or_else(default_known_hosts);
                let options = SshOptions {
                    host: spec.address.clone(),
                    port: spec.port,
                    user: spec
                        .user
                        .clone()
                        .unwrap_or_else(|| "administrator".to_string()),
                    auth,
                    known_hosts,
                    host_key_policy: if self.accept_new_host_keys {
                        HostKeyPolicy::AcceptNew
                    } else {
                        HostKeyPolicy::Strict
                    },
                    connect_timeout: Duration::from_secs(10),
                    keepalive: Duration::from_secs(15),
                    shell: match spec.remote_shell {
                        corsfleet_inventory::RemoteShell::Cmd => {
                            corsfleet_transport::RemoteShell::Cmd
                        }
                        corsfleet_inventory::RemoteShell::Powershell => {
                            corsfleet_transport::RemoteShell::PowerShell
                        }
                    },
                    host_key_alias: None,
                };
                let transport =
                    SshTransport::connect(&options).map_err(|e| format!("{host}: {e}"))?;
                Ok(Arc::new(transport))
            }
        }
    }
}

fn default_known_hosts() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".ssh")
        .join("known_hosts")
}

/// A local connection. A `corsfleet_local_root` is a folder that mirrors drive C: — in
/// practice a ucce-sim server root — so its commands go to the simulator's cmd.exe
/// emulation; without a root, commands run under `sh -c`.
pub fn local_transport(spec: &ConnectionSpec) -> Arc<dyn Transport> {
    match &spec.local_root {
        Some(root) => Arc::new(LocalTransport::new(
            Some(root.clone()),
            Arc::new(SimShell { root: root.clone() }),
        )),
        None => Arc::new(LocalTransport::new(None, Arc::new(ShellExecutor))),
    }
}

/// Runs cmd.exe lines through ucce-sim's emulation for a simulated server root.
#[derive(Debug)]
pub struct SimShell {
    pub root: PathBuf,
}

impl CommandExecutor for SimShell {
    fn run(&self, command_line: &str) -> Result<ExecOutput, TransportError> {
        let out = ucce_sim::shell::run(&self.root, command_line);
        Ok(ExecOutput {
            exit_code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
