//! `corsfleet demo`: the whole product in one process, no servers, no containers.
//!
//! Starts four ucce-sim servers (`logger-a`, `logger-b`, `aw-a`, `aw-b`) on 127.0.0.1 with
//! temporary roots, then runs the shipped `playbooks/enable-cors.yml` against the shipped
//! `inventory/lab.yml` over the local transport (side A before side B), audits the fleet,
//! imitates a CCE patch that restores Cisco's stock web.config on one host, audits again
//! (drift found) and runs again (only that host changes). Each stage writes its reports into
//! its own folder under `--report-dir`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use corsfleet_report::RunReport;
use corsfleet_runner::Mode;
use corsfleet_runner::events::HostStatus;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::cmd::run::{CliConnector, CommonArgs, Job, OutputFormat, Sinks};
use crate::exit::{CliError, Outcome};

const LAB_INVENTORY: &str = include_str!("../../../../inventory/lab.yml");
const PLAYBOOK: &str = include_str!("../../../../playbooks/enable-cors.yml");
const HOSTS: [&str; 4] = ["logger-a", "logger-b", "aw-a", "aw-b"];
/// The host whose web.config the imitated CCE patch overwrites.
const PATCHED_HOST: &str = "aw-b";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the reports of each stage go.
    #[arg(long, value_name = "DIR", default_value = "corsfleet-demo-report")]
    pub report_dir: PathBuf,
    /// No progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Keep the simulated servers' folders (printed at the end) instead of deleting them.
    #[arg(long)]
    pub keep: bool,
}

pub fn run(args: DemoArgs) -> Result<Outcome, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::internal)?;
    runtime.block_on(demo(args))
}

#[allow(clippy::print_stderr)]
async fn demo(args: DemoArgs) -> Result<Outcome, CliError> {
    let started = std::time::Instant::now();
    let work = tempfile::Builder::new()
        .prefix("corsfleet-demo-")
        .tempdir()
        .map_err(|e| CliError::internal(format!("cannot create a temporary folder: {e}")))?;
    let shutdown = CancellationToken::new();
    let lab = Lab::start(work.path(), &shutdown).await?;
    eprintln!(
        "demo: 4 simulated UCCE servers on {}",
        lab.addrs
            .iter()
            .map(|(h, a)| format!("{h}={a}"))
            .collect::<Vec<_>>()
            .join(" ")
    );

    let stages: [(&str, &str, Mode); 4] = [
        (
            "1-rollout",
            "roll out CORS to the fleet (side A, then side B)",
            Mode::Apply,
        ),
        (
            "2-verify",
            "audit: every host should be compliant",
            Mode::Verify,
        ),
        (
            "3-verify-after-patch",
            "a CCE patch restored the stock web.config on aw-b: audit again",
            Mode::Verify,
        ),
        ("4-fix", "run again: only aw-b changes", Mode::Apply),
    ];
    let mut reports = Vec::new();
    for (i, (dir, title, mode)) in stages.iter().enumerate() {
        if i == 2 {
            ucce_sim::restore_stock_web_config(&lab.root(PATCHED_HOST))
                .map_err(|e| CliError::internal(format!("cannot imitate the CCE patch: {e}")))?;
        }
        eprintln!("\n== stage {}: {title}", i + 1);
        let report = lab.stage(&args, dir, *mode).await?;
        reports.push(report);
    }
    shutdown.cancel();

    let checks = expectations(&reports);
    eprintln!();
    for (ok, what) in &checks {
        eprintln!("{} {what}", if *ok { "ok:  " } else { "FAIL:" });
    }
    eprintln!(
        "demo finished in {:.1}s; reports in {}",
        started.elapsed().as_secs_f64(),
        args.report_dir.display()
    );
    if args.keep {
        let kept = work.keep();
        eprintln!("simulated server roots kept in {}", kept.display());
    }
    Ok(if checks.iter().all(|(ok, _)| *ok) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// What each stage must show; printed so a newcomer sees what was proven.
fn expectations(reports: &[RunReport]) -> Vec<(bool, String)> {
    let statuses = |r: &RunReport| -> String {
        r.hosts
            .iter()
            .map(|h| format!("{} {}", h.name, crate::progress::host_word(h.status)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all = |r: &RunReport, s: HostStatus| {
        r.hosts.len() == HOSTS.len() && r.hosts.iter().all(|h| h.status == s)
    };
    let mut checks = Vec::new();
    if let [rollout, verify, drift, fix] = reports {
        checks.push((
            all(rollout, HostStatus::Changed),
            format!("rollout: {}", statuses(rollout)),
        ));
        checks.push((
            all(verify, HostStatus::Compliant),
            format!("audit: {}", statuses(verify)),
        ));
        let drifted: Vec<&str> = drift
            .hosts
            .iter()
            .filter(|h| h.status == HostStatus::Drifted)
            .map(|h| h.name.as_str())
            .collect();
        checks.push((
            drifted == [PATCHED_HOST],
            format!("audit after the CCE patch: {}", statuses(drift)),
        ));
        let changed: Vec<&str> = fix
            .hosts
            .iter()
            .filter(|h| h.status == HostStatus::Changed)
            .map(|h| h.name.as_str())
            .collect();
        let rest_ok = fix
            .hosts
            .iter()
            .filter(|h| h.name != PATCHED_HOST)
            .all(|h| h.status == HostStatus::Ok);
        checks.push((
            changed == [PATCHED_HOST] && rest_ok,
            format!("second rollout: {}", statuses(fix)),
        ));
    }
    checks
}

/// Four simulated servers and the files that describe them to corsfleet.
struct Lab {
    dir: PathBuf,
    addrs: Vec<(String, SocketAddr)>,
}

impl Lab {
    async fn start(dir: &Path, shutdown: &CancellationToken) -> Result<Lab, CliError> {
        let internal =
            |what: &str, e: &dyn std::fmt::Display| CliError::internal(format!("{what}: {e}"));
        let inventory_dir = dir.join("inventory");
        std::fs::create_dir_all(inventory_dir.join("host_vars"))
            .map_err(|e| internal("create inventory", &e))?;
        std::fs::create_dir_all(inventory_dir.join("group_vars"))
            .map_err(|e| internal("create inventory", &e))?;
        std::fs::write(inventory_dir.join("lab.yml"), LAB_INVENTORY)
            .map_err(|e| internal("write inventory", &e))?;
        std::fs::write(dir.join("enable-cors.yml"), PLAYBOOK)
            .map_err(|e| internal("write playbook", &e))?;

        let msi = dir.join("IISCORS_amd64.msi");
        ucce_sim::make_msi(&msi).map_err(|e| internal("make the test MSI", &e))?;
        let sha = hex::encode(Sha256::digest(
            std::fs::read(&msi).map_err(|e| internal("read MSI", &e))?,
        ));
        std::fs::write(
            inventory_dir.join("group_vars").join("all.yml"),
            format!(
                "cors_msi_src: {}\ncors_msi_sha256: \"{sha}\"\n",
                yaml_str(&msi)
            ),
        )
        .map_err(|e| internal("write group_vars", &e))?;

        let mut addrs = Vec::new();
        for host in HOSTS {
            let root = dir.join("servers").join(host);
            let paths = ucce_sim::init(&root, &[host.to_string()])
                .map_err(|e| internal("init simulator", &e))?;
            let running = ucce_sim::start(
                ucce_sim::ServeOptions {
                    root: root.clone(),
                    listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                    finesse_listen: None,
                },
                shutdown.clone(),
            )
            .await
            .map_err(|e| internal("start simulator", &e))?;
            std::fs::write(
                inventory_dir.join("host_vars").join(format!("{host}.yml")),
                format!(
                    "ansible_host: 127.0.0.1\ncorsfleet_https_port: {}\ncorsfleet_local_root: {}\ncorsfleet_ca_file: {}\n",
                    running.addr.port(),
                    yaml_str(&root),
                    yaml_str(&paths.ca_pem),
                ),
            )
            .map_err(|e| internal("write host_vars", &e))?;
            addrs.push((host.to_string(), running.addr));
        }
        Ok(Lab {
            dir: dir.to_path_buf(),
            addrs,
        })
    }

    fn root(&self, host: &str) -> PathBuf {
        self.dir.join("servers").join(host)
    }

    async fn stage(&self, args: &DemoArgs, name: &str, mode: Mode) -> Result<RunReport, CliError> {
        let common = CommonArgs {
            playbook: self.dir.join("enable-cors.yml"),
            inventory: vec![self.dir.join("inventory")],
            limit: None,
            extra_vars: Vec::new(),
            forks: 4,
            report_dir: Some(args.report_dir.join(name)),
            events: None,
            no_progress: args.no_progress,
            accept_new_host_keys: false,
            output: OutputFormat::Text,
        };
        let mut job = Job::resolve(&common, mode, true, false)?;
        // Name the shipped files the demo embeds, not its temporary copies.
        job.options.playbook = "playbooks/enable-cors.yml (embedded)".to_string();
        job.options.inventory =
            vec!["inventory/lab.yml (embedded, + simulator host_vars)".to_string()];
        let sinks = Sinks::from(&common);
        job.execute(
            Arc::new(CliConnector {
                accept_new_host_keys: false,
            }),
            &sinks,
        )
        .await
    }
}

/// A path as a double-quoted YAML string.
fn yaml_str(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).unwrap_or_default()
}
