//! In-process tests of the runner and the task modules against ucce-sim servers reached with
//! the local transport: the same modules, events and rules as over SSH, without containers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use corsfleet_inventory::{ConnectionSpec, Inventory};
use corsfleet_playbook::{ExtraVars, Playbook};
use corsfleet_runner::events::{AbortReason, HostStatus, RunEvent, TaskStatus};
use corsfleet_runner::{Connector, Mode, RunOptions};
use corsfleet_transport::{CommandExecutor, ExecOutput, LocalTransport, Transport, TransportError};
use tokio_util::sync::CancellationToken;

const WEB_CONFIG: &str = "C:/icm/tomcat/bin/i386/web.config";

/// Sends cmd.exe lines to the simulator's emulation for one server root.
#[derive(Debug)]
struct SimShell(PathBuf);

impl CommandExecutor for SimShell {
    fn run(&self, line: &str) -> Result<ExecOutput, TransportError> {
        let out = ucce_sim::shell::run(&self.0, line);
        Ok(ExecOutput {
            exit_code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

struct LocalConnector;

impl Connector for LocalConnector {
    fn connect(&self, host: &str, spec: &ConnectionSpec) -> Result<Arc<dyn Transport>, String> {
        let root = spec
            .local_root
            .clone()
            .ok_or_else(|| format!("{host}: no local root"))?;
        if !root.exists() {
            return Err(format!("{host}: {} does not exist", root.display()));
        }
        Ok(Arc::new(LocalTransport::new(
            Some(root.clone()),
            Arc::new(SimShell(root)),
        )))
    }
}

/// A lab of simulated servers and the files describing them.
struct Lab {
    dir: tempfile::TempDir,
    shutdown: CancellationToken,
    hosts: Vec<String>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

struct HostSpec<'a> {
    name: &'a str,
    side: &'a str,
    /// Start an HTTPS server (needed by cors_preflight only).
    serve: bool,
}

impl Lab {
    async fn new(hosts: &[HostSpec<'_>]) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let shutdown = CancellationToken::new();
        let msi = dir.path().join("IISCORS_amd64.msi");
        ucce_sim::make_msi(&msi).expect("make msi");
        let sha = sha256_hex(&std::fs::read(&msi).expect("read msi"));
        let mut inv = String::from("all:\n  vars:\n    ansible_connection: local\n");
        inv.push_str("    finesse_origins: [\"https://finesse-a.lab.local:8445\", \"https://finesse-b.lab.local:8445\"]\n");
        inv.push_str(&format!(
            "    cors_msi_src: {:?}\n    cors_msi_sha256: \"{sha}\"\n",
            msi.display().to_string()
        ));
        inv.push_str("  hosts:\n");
        for host in hosts {
            let root = dir.path().join("servers").join(host.name);
            let paths = ucce_sim::init(&root, &[host.name.to_string()]).expect("init sim");
            let port = if host.serve {
                let running = ucce_sim::start(
                    ucce_sim::ServeOptions {
                        root: root.clone(),
                        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                        finesse_listen: None,
                    },
                    shutdown.clone(),
                )
                .await
                .expect("start sim");
                running.addr.port()
            } else {
                9 // discard: nothing listens; tests that use it expect no HTTPS
            };
            inv.push_str(&format!(
                "    {}:\n      side: {}\n      ansible_host: 127.0.0.1\n      corsfleet_https_port: {port}\n      corsfleet_local_root: {:?}\n      corsfleet_ca_file: {:?}\n",
                host.name,
                host.side,
                root.display().to_string(),
                paths.ca_pem.display().to_string()
            ));
        }
        std::fs::write(dir.path().join("inventory.yml"), inv).expect("write inventory");
        Lab {
            dir,
            shutdown,
            hosts: hosts.iter().map(|h| h.name.to_string()).collect(),
        }
    }

    fn root(&self, host: &str) -> PathBuf {
        self.dir.path().join("servers").join(host)
    }

    fn web_config(&self, host: &str) -> Vec<u8> {
        std::fs::read(self.root(host).join(WEB_CONFIG)).expect("read web.config")
    }

    /// Plan `playbook` (YAML text) and run it; returns every event.
    async fn run(&self, playbook: &str, mode: Mode, cancel: CancellationToken) -> Vec<RunEvent> {
        self.run_with(playbook, mode, cancel, Arc::new(LocalConnector))
            .await
    }

    async fn run_with(
        &self,
        playbook: &str,
        mode: Mode,
        cancel: CancellationToken,
        connector: Arc<dyn Connector>,
    ) -> Vec<RunEvent> {
        let path = self.dir.path().join("playbook.yml");
        std::fs::write(&path, playbook).expect("write playbook");
        let inventory =
            Inventory::load(&[self.dir.path().join("inventory.yml")]).expect("inventory");
        let playbook = Playbook::load(&path).expect("playbook");
        let plan = corsfleet_runner::plan(&playbook, &inventory, None, &ExtraVars::default())
            .expect("plan");
        let opts = RunOptions {
            run_id: "test".into(),
            mode,
            forks: 4,
            rollback: true,
            playbook: "playbook.yml".into(),
            inventory: vec!["inventory.yml".into()],
            limit: None,
            default_task_timeout: Duration::from_secs(60),
            preflight_timeouts: corsfleet_preflight::Timeouts::default(),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        corsfleet_runner::run(plan, opts, connector, cancel, tx).await;
        let mut events = Vec::new();
        while let Ok(event) = rx.try_recv() {
            events.push(event);
        }
        events
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn host_status(events: &[RunEvent], host: &str) -> Option<HostStatus> {
    events.iter().rev().find_map(|e| match e {
        RunEvent::HostFinished {
            host: h, status, ..
        } if h == host => Some(*status),
        _ => None,
    })
}

fn tasks_of<'a>(events: &'a [RunEvent], host: &str) -> Vec<(&'a str, TaskStatus, &'a str)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::TaskFinished {
                host: h,
                module,
                status,
                message,
                ..
            } if h == host => Some((module.as_str(), *status, message.as_str())),
            _ => None,
        })
        .collect()
}

fn batches(events: &[RunEvent]) -> Vec<Vec<String>> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::BatchStarted { hosts, .. } => Some(hosts.clone()),
            _ => None,
        })
        .collect()
}

fn aborted(events: &[RunEvent]) -> Option<&AbortReason> {
    events.iter().find_map(|e| match e {
        RunEvent::RunAborted { reason } => Some(reason),
        _ => None,
    })
}

const ROLLOUT: &str = r#"
- name: rollout
  hosts: all
  batch_by: side
  max_fail_percentage: 0
  tasks:
    - name: facts
      iis_facts: {}
    - name: install
      msi_install: { src: "{{ cors_msi_src }}", sha256: "{{ cors_msi_sha256 }}", busy_delay: 0 }
    - name: configure
      web_config_cors: { origins: "{{ finesse_origins }}" }
    - name: verify
      cors_preflight: { origins: "{{ finesse_origins }}", attempts: 3, delay: 1 }
"#;

fn sides(names: &[(&'static str, &'static str)], serve: bool) -> Vec<HostSpec<'static>> {
    names
        .iter()
        .map(|(name, side)| HostSpec { name, side, serve })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollout_changes_every_host_side_a_first_and_a_second_run_changes_nothing() {
    let lab = Lab::new(&sides(
        &[("lgr-a", "a"), ("lgr-b", "b"), ("aw-a", "a"), ("aw-b", "b")],
        true,
    ))
    .await;
    let stock = lab.web_config("aw-a");

    let events = lab
        .run(ROLLOUT, Mode::Apply, CancellationToken::new())
        .await;
    assert_eq!(
        batches(&events),
        vec![vec!["lgr-a", "aw-a"], vec!["lgr-b", "aw-b"]]
    );
    for host in &lab.hosts {
        assert_eq!(
            host_status(&events, host),
            Some(HostStatus::Changed),
            "{host}: {:?}",
            tasks_of(&events, host)
        );
        let statuses: Vec<TaskStatus> = tasks_of(&events, host).iter().map(|t| t.1).collect();
        assert_eq!(
            statuses,
            [
                TaskStatus::Ok,
                TaskStatus::Changed,
                TaskStatus::Changed,
                TaskStatus::Ok
            ]
        );
    }
    // Side B's first event comes after side A's last HostFinished.
    let last_a = events
        .iter()
        .rposition(|e| matches!(e, RunEvent::HostFinished { host, .. } if host.ends_with("-a")))
        .unwrap_or(0);
    let first_b = events
        .iter()
        .position(|e| matches!(e, RunEvent::HostConnected { host, .. } if host.ends_with("-b")))
        .unwrap_or(0);
    assert!(last_a < first_b, "side b started before side a finished");
    let patched = lab.web_config("aw-a");
    assert_ne!(patched, stock);
    assert!(String::from_utf8_lossy(&patched).contains("https://finesse-a.lab.local:8445"));

    let again = lab
        .run(ROLLOUT, Mode::Apply, CancellationToken::new())
        .await;
    for host in &lab.hosts {
        assert_eq!(
            host_status(&again, host),
            Some(HostStatus::Ok),
            "{host}: {:?}",
            tasks_of(&again, host)
        );
    }
    assert_eq!(
        lab.web_config("aw-a"),
        patched,
        "idempotent: no byte changes"
    );

    let audit = lab
        .run(ROLLOUT, Mode::Verify, CancellationToken::new())
        .await;
    for host in &lab.hosts {
        assert_eq!(host_status(&audit, host), Some(HostStatus::Compliant));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_stream_keeps_its_documented_order() {
    let lab = Lab::new(&sides(&[("h1", "a"), ("h2", "a")], true)).await;
    let events = lab
        .run(ROLLOUT, Mode::Apply, CancellationToken::new())
        .await;
    assert!(matches!(events.first(), Some(RunEvent::RunStarted { .. })));
    assert!(matches!(events.last(), Some(RunEvent::RunFinished { .. })));
    for host in &lab.hosts {
        let mine: Vec<&RunEvent> = events
            .iter()
            .filter(|e| match e {
                RunEvent::HostConnected { host: h, .. }
                | RunEvent::TaskStarted { host: h, .. }
                | RunEvent::TaskFinished { host: h, .. }
                | RunEvent::HostFinished { host: h, .. } => h == host,
                _ => false,
            })
            .collect();
        assert!(matches!(mine.first(), Some(RunEvent::HostConnected { .. })));
        assert!(matches!(mine.last(), Some(RunEvent::HostFinished { .. })));
        // TaskStarted and TaskFinished alternate, same index.
        let tasks: Vec<(bool, usize)> = mine
            .iter()
            .filter_map(|e| match e {
                RunEvent::TaskStarted { task_index, .. } => Some((true, *task_index)),
                RunEvent::TaskFinished { task_index, .. } => Some((false, *task_index)),
                _ => None,
            })
            .collect();
        assert_eq!(tasks.len(), 8);
        for pair in tasks.chunks(2) {
            assert_eq!(pair[0], (true, pair[1].1));
            assert!(!pair[1].0);
        }
    }
    // The upload reported byte progress ending at the package size.
    let mut progress = events.iter().filter_map(|e| match e {
        RunEvent::TaskProgress { done, total, .. } => Some((*done, *total)),
        _ => None,
    });
    let last = progress.next_back().expect("upload progress events");
    assert_eq!(last.0, last.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_mode_follows_the_chain_and_writes_nothing() {
    let lab = Lab::new(&sides(&[("h1", "a")], true)).await;
    let before = lab.web_config("h1");
    let events = lab
        .run(ROLLOUT, Mode::Check, CancellationToken::new())
        .await;
    let tasks = tasks_of(&events, "h1");
    assert_eq!(tasks[1].1, TaskStatus::Changed);
    assert_eq!(tasks[1].2, "would install the IIS CORS module");
    assert_eq!(tasks[2].1, TaskStatus::Changed);
    assert!(tasks[2].2.contains("(after install)"), "{}", tasks[2].2);
    assert_eq!(tasks[3].1, TaskStatus::Skipped);
    assert_eq!(lab.web_config("h1"), before);
    assert!(
        !lab.root("h1")
            .join("C:/Windows/System32/inetsrv/iiscors.dll")
            .exists()
    );
    assert_eq!(host_status(&events, "h1"), Some(HostStatus::Changed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cors_is_never_written_while_the_module_is_missing() {
    let lab = Lab::new(&sides(&[("h1", "a")], false)).await;
    let before = lab.web_config("h1");
    let playbook = r#"
- name: no install
  hosts: all
  tasks:
    - name: configure
      web_config_cors: { origins: "{{ finesse_origins }}" }
"#;
    let events = lab
        .run(playbook, Mode::Apply, CancellationToken::new())
        .await;
    let tasks = tasks_of(&events, "h1");
    assert_eq!(tasks[0].1, TaskStatus::Failed);
    assert!(tasks[0].2.contains("500.19"), "{}", tasks[0].2);
    assert_eq!(lab.web_config("h1"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_verification_restores_the_backup() {
    let lab = Lab::new(&sides(&[("h1", "a")], true)).await;
    let before = lab.web_config("h1");
    // Configure one origin, verify another: the browser would block it.
    let playbook = r#"
- name: mismatch
  hosts: all
  tasks:
    - name: install
      msi_install: { src: "{{ cors_msi_src }}", sha256: "{{ cors_msi_sha256 }}" }
    - name: configure
      web_config_cors: { origins: ["https://finesse-a.lab.local:8445"] }
    - name: verify
      cors_preflight: { origins: ["https://other.lab.local:8445"], attempts: 1 }
"#;
    let events = lab
        .run(playbook, Mode::Apply, CancellationToken::new())
        .await;
    let rolled_back = events.iter().any(|e| {
        matches!(
            e,
            RunEvent::TaskFinished {
                rolled_back: true,
                status: TaskStatus::Failed,
                ..
            }
        )
    });
    assert!(rolled_back, "{:?}", tasks_of(&events, "h1"));
    assert_eq!(
        lab.web_config("h1"),
        before,
        "web.config restored byte for byte"
    );
    assert_eq!(host_status(&events, "h1"), Some(HostStatus::Failed));
    // The backup stays beside the file for the admin.
    let dir = lab.root("h1").join("C:/icm/tomcat/bin/i386");
    let backups = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bak"))
        .count();
    assert_eq!(backups, 1);
}

const FACTS_ONLY: &str = r#"
- name: facts
  hosts: all
  serial: 4
  max_fail_percentage: 25
  tasks:
    - name: facts
      iis_facts: {}
"#;

/// Break a host for `iis_facts`: its web.config disappears.
fn break_host(lab: &Lab, host: &str) {
    std::fs::remove_file(lab.root(host).join(WEB_CONFIG)).expect("remove web.config");
}

fn eight_hosts() -> Vec<HostSpec<'static>> {
    ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"]
        .iter()
        .map(|name| HostSpec {
            name,
            side: "a",
            serve: false,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_fail_percentage_at_the_limit_goes_on() {
    let lab = Lab::new(&eight_hosts()).await;
    break_host(&lab, "h2"); // 1 of 4 = 25%: not more than 25%
    let events = lab
        .run(FACTS_ONLY, Mode::Apply, CancellationToken::new())
        .await;
    assert_eq!(batches(&events).len(), 2);
    assert!(aborted(&events).is_none());
    assert_eq!(host_status(&events, "h2"), Some(HostStatus::Failed));
    assert_eq!(host_status(&events, "h8"), Some(HostStatus::Ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_fail_percentage_exceeded_stops_before_the_next_batch() {
    let lab = Lab::new(&eight_hosts()).await;
    break_host(&lab, "h2");
    break_host(&lab, "h3"); // 2 of 4 = 50% > 25%
    let events = lab
        .run(FACTS_ONLY, Mode::Apply, CancellationToken::new())
        .await;
    assert_eq!(batches(&events).len(), 1);
    assert!(matches!(
        aborted(&events),
        Some(AbortReason::MaxFailPercentage {
            failed: 2,
            of: 4,
            limit: 25,
            ..
        })
    ));
    for host in ["h5", "h6", "h7", "h8"] {
        assert_eq!(host_status(&events, host), Some(HostStatus::Skipped));
        assert!(tasks_of(&events, host).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_hosts_count_as_failures_and_are_reported() {
    let lab = Lab::new(&eight_hosts()).await;
    std::fs::remove_dir_all(lab.root("h4")).expect("remove root");
    let events = lab
        .run(FACTS_ONLY, Mode::Apply, CancellationToken::new())
        .await;
    assert_eq!(host_status(&events, "h4"), Some(HostStatus::Unreachable));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::HostUnreachable { host, .. } if host == "h4"))
    );
    assert!(aborted(&events).is_none(), "1 of 4 is not more than 25%");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn any_errors_fatal_stops_the_run() {
    let lab = Lab::new(&eight_hosts()).await;
    break_host(&lab, "h1");
    let playbook = FACTS_ONLY.replace("max_fail_percentage: 25", "any_errors_fatal: true");
    let events = lab
        .run(&playbook, Mode::Apply, CancellationToken::new())
        .await;
    assert!(
        matches!(aborted(&events), Some(AbortReason::AnyErrorsFatal { host, .. }) if host == "h1")
    );
    assert_eq!(host_status(&events, "h8"), Some(HostStatus::Skipped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_repeat_a_failed_task() {
    let lab = Lab::new(&sides(&[("h1", "a")], false)).await;
    break_host(&lab, "h1");
    let playbook = r#"
- name: retry
  hosts: all
  tasks:
    - name: facts
      iis_facts: {}
      retries: 2
      delay: 0
"#;
    let events = lab
        .run(playbook, Mode::Apply, CancellationToken::new())
        .await;
    let attempts = events.iter().find_map(|e| match e {
        RunEvent::TaskFinished { attempts, .. } => Some(*attempts),
        _ => None,
    });
    assert_eq!(attempts, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_that_outlives_its_timeout_fails() {
    // A server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let lab = Lab::new(&sides(&[("h1", "a")], false)).await;
    let playbook = format!(
        r#"
- name: timeout
  hosts: all
  tasks:
    - name: verify
      cors_preflight: {{ url: "https://127.0.0.1:{port}/x", origins: ["https://a.lab.local"], attempts: 1 }}
      timeout: 1
"#
    );
    let events = lab
        .run(&playbook, Mode::Apply, CancellationToken::new())
        .await;
    let tasks = tasks_of(&events, "h1");
    assert_eq!(tasks[0].1, TaskStatus::Failed);
    assert!(
        tasks[0].2.starts_with("timed out after 1s"),
        "{}",
        tasks[0].2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancellation_starts_nothing_and_reports_hosts_interrupted() {
    let lab = Lab::new(&eight_hosts()).await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let events = lab.run(FACTS_ONLY, Mode::Apply, cancel).await;
    assert!(matches!(aborted(&events), Some(AbortReason::Interrupted)));
    for host in &lab.hosts {
        assert_eq!(
            host_status(&events, host),
            Some(HostStatus::Interrupted),
            "{host}"
        );
        assert!(
            tasks_of(&events, host)
                .iter()
                .all(|t| t.1 == TaskStatus::Interrupted)
        );
    }
}

/// Only the installer, retrying a busy msiexec at once.
const INSTALL_ONLY: &str = r#"
- name: install
  hosts: all
  tasks:
    - name: install
      msi_install: { src: "{{ cors_msi_src }}", sha256: "{{ cors_msi_sha256 }}", busy_delay: 0 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn msiexec_busy_is_retried_and_reboot_required_is_success() {
    let lab = Lab::new(&sides(&[("h1", "a")], false)).await;
    std::fs::write(
        lab.root("h1").join("sim-faults.yml"),
        "installer:\n  next_exit_once: 1618\n  outcome: reboot\n",
    )
    .expect("faults");
    let events = lab
        .run(INSTALL_ONLY, Mode::Apply, CancellationToken::new())
        .await;
    let (status, reboot, message) = events
        .iter()
        .find_map(|e| match e {
            RunEvent::TaskFinished {
                status,
                reboot_required,
                message,
                ..
            } => Some((*status, *reboot_required, message.clone())),
            _ => None,
        })
        .expect("task finished");
    assert_eq!(status, TaskStatus::Changed, "{message}");
    assert!(reboot);
    assert!(
        lab.root("h1")
            .join("C:/Windows/System32/inetsrv/iiscors.dll")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_package_with_the_wrong_hash_is_never_uploaded() {
    let lab = Lab::new(&sides(&[("h1", "a")], false)).await;
    let playbook = r#"
- name: install
  hosts: all
  tasks:
    - name: install
      msi_install: { src: "{{ cors_msi_src }}", sha256: "0000000000000000000000000000000000000000000000000000000000000000" }
"#;
    let events = lab
        .run(playbook, Mode::Apply, CancellationToken::new())
        .await;
    let tasks = tasks_of(&events, "h1");
    assert_eq!(tasks[0].1, TaskStatus::Failed);
    assert!(tasks[0].2.contains("refusing to install"), "{}", tasks[0].2);
    assert!(
        !lab.root("h1")
            .join("C:/Windows/Temp/IISCORS_amd64.msi")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_installer_reports_the_msi_log() {
    let lab = Lab::new(&sides(&[("h1", "a")], false)).await;
    std::fs::write(
        lab.root("h1").join("sim-faults.yml"),
        "installer:\n  outcome: fail\n",
    )
    .expect("faults");
    let events = lab
        .run(INSTALL_ONLY, Mode::Apply, CancellationToken::new())
        .await;
    let tasks = tasks_of(&events, "h1");
    assert_eq!(tasks[0].1, TaskStatus::Failed);
    assert!(tasks[0].2.contains("1603"), "{}", tasks[0].2);
    assert!(tasks[0].2.contains("last lines of"), "{}", tasks[0].2);
}

/// Connects only once `expected` connects are under way at the same time (or gives up after
/// 10 s): a runner that connected hosts one after another would leave every host unreachable.
struct RendezvousConnector {
    expected: usize,
    arrived: std::sync::Mutex<usize>,
    all_here: std::sync::Condvar,
}

impl Connector for RendezvousConnector {
    fn connect(&self, host: &str, spec: &ConnectionSpec) -> Result<Arc<dyn Transport>, String> {
        let mut arrived = self.arrived.lock().map_err(|_| "poisoned".to_string())?;
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, timeout) = self
            .all_here
            .wait_timeout_while(arrived, Duration::from_secs(10), |n| *n < self.expected)
            .map_err(|_| "poisoned".to_string())?;
        drop(arrived);
        if timeout.timed_out() {
            return Err(format!(
                "{host}: connected alone: sessions are opened one at a time"
            ));
        }
        LocalConnector.connect(host, spec)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hosts_of_a_batch_connect_in_parallel() {
    let lab = Lab::new(&eight_hosts()[..4]).await;
    let connector = Arc::new(RendezvousConnector {
        expected: 4,
        arrived: std::sync::Mutex::new(0),
        all_here: std::sync::Condvar::new(),
    });
    let events = lab
        .run_with(FACTS_ONLY, Mode::Apply, CancellationToken::new(), connector)
        .await;
    for host in &lab.hosts {
        assert_eq!(host_status(&events, host), Some(HostStatus::Ok), "{host}");
    }
}
