//! Event sequences for the tests: a `run` with every task and host outcome, a `verify` run
//! with compliant and drifted hosts, a run cut off mid-task, and a run full of hostile text.

use corsfleet_runner::events::{AbortReason, Drift, HostStatus, RunEvent, RunMode, TaskStatus};
use jiff::{SignedDuration, Timestamp};

/// Builds events with times relative to one base instant.
pub struct Ev {
    pub base: Timestamp,
    pub events: Vec<RunEvent>,
}

pub struct Task<'a> {
    pub index: usize,
    pub name: &'a str,
    pub module: &'a str,
    pub status: TaskStatus,
    pub message: &'a str,
    pub diff: Option<&'a str>,
    pub drift: Vec<Drift>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub reboot_required: bool,
    pub rolled_back: bool,
    pub ignored: bool,
}

impl<'a> Task<'a> {
    pub fn new(index: usize, name: &'a str, module: &'a str, status: TaskStatus) -> Self {
        Task {
            index,
            name,
            module,
            status,
            message: "",
            diff: None,
            drift: Vec::new(),
            start_ms: 0,
            end_ms: 0,
            reboot_required: false,
            rolled_back: false,
            ignored: false,
        }
    }
    pub fn at(mut self, start_ms: i64, end_ms: i64) -> Self {
        self.start_ms = start_ms;
        self.end_ms = end_ms;
        self
    }
    pub fn msg(mut self, m: &'a str) -> Self {
        self.message = m;
        self
    }
    pub fn diff(mut self, d: &'a str) -> Self {
        self.diff = Some(d);
        self
    }
}

/// A run id that changes on every test run, like the runner's.
pub fn fresh_run_id(base: Timestamp) -> String {
    format!("run-{:016x}", base.as_nanosecond() as u64)
}

impl Ev {
    pub fn new() -> Self {
        Ev {
            base: Timestamp::now(),
            events: Vec::new(),
        }
    }

    pub fn t(&self, ms: i64) -> Timestamp {
        self.base + SignedDuration::from_millis(ms)
    }

    pub fn start(&mut self, mode: RunMode, check: bool, hosts: &[&str]) {
        self.events.push(RunEvent::RunStarted {
            run_id: fresh_run_id(self.base),
            corsfleet_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.base,
            mode,
            check,
            playbook: "playbooks/cors.yml".to_owned(),
            inventory: vec!["inventory/prod.yml".to_owned()],
            limit: Some("ucce".to_owned()),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        });
    }

    pub fn play(&mut self, index: usize, name: &str, hosts: &[&str]) {
        self.events.push(RunEvent::PlayStarted {
            play_index: index,
            name: name.to_owned(),
        });
        self.events.push(RunEvent::BatchStarted {
            play_index: index,
            batch_index: 0,
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        });
    }

    pub fn connected(&mut self, host: &str, ms: i64) {
        self.events.push(RunEvent::HostConnected {
            host: host.to_owned(),
            at: self.t(ms),
        });
    }

    pub fn unreachable(&mut self, host: &str, ms: i64, message: &str) {
        self.events.push(RunEvent::HostUnreachable {
            host: host.to_owned(),
            at: self.t(ms),
            message: message.to_owned(),
        });
    }

    pub fn task(&mut self, host: &str, t: Task<'_>) {
        self.events.push(RunEvent::TaskStarted {
            host: host.to_owned(),
            task_index: t.index,
            name: t.name.to_owned(),
            module: t.module.to_owned(),
            at: self.t(t.start_ms),
        });
        self.events.push(RunEvent::TaskFinished {
            host: host.to_owned(),
            task_index: t.index,
            name: t.name.to_owned(),
            module: t.module.to_owned(),
            status: t.status,
            message: t.message.to_owned(),
            diff: t.diff.map(str::to_owned),
            drift: t.drift,
            started_at: self.t(t.start_ms),
            finished_at: self.t(t.end_ms),
            attempts: 1,
            reboot_required: t.reboot_required,
            rolled_back: t.rolled_back,
            ignored: t.ignored,
        });
    }

    pub fn host_done(&mut self, host: &str, status: HostStatus, ms: i64) {
        self.events.push(RunEvent::HostFinished {
            host: host.to_owned(),
            status,
            at: self.t(ms),
        });
    }

    pub fn finish(&mut self, ms: i64) {
        self.events.push(RunEvent::RunFinished {
            finished_at: self.t(ms),
        });
    }
}

pub const CORS_DIFF: &str = concat!(
    "--- C:\\icm\\tomcat\\bin\\i386\\web.config\n",
    "+++ C:\\icm\\tomcat\\bin\\i386\\web.config\n",
    "@@ -4,6 +4,12 @@\n",
    "   <system.webServer>\n",
    "     <handlers>\n",
    "     </handlers>\n",
    "+    <cors enabled=\"true\" failUnlistedOrigins=\"true\">\n",
    "+      <add origin=\"https://finesse-a.example.com:8445\" allowCredentials=\"true\">\n",
    "+        <allowMethods><add method=\"GET\" /><add method=\"PUT\" /></allowMethods>\n",
    "+      </add>\n",
    "+    </cors>\n",
    "   </system.webServer>\n",
);

pub const ROLLBACK_DIFF: &str = concat!(
    "--- C:\\icm\\tomcat\\bin\\i386\\web.config\n",
    "+++ C:\\icm\\tomcat\\bin\\i386\\web.config\n",
    "@@ -4,3 +4,4 @@\n",
    "   <system.webServer>\n",
    "-    <cors enabled=\"false\" />\n",
    "+    <cors enabled=\"true\" failUnlistedOrigins=\"true\" />\n",
    "   </system.webServer>\n",
);

pub const FACTS: &str = "Gather IIS facts";
pub const INSTALL: &str = "Install IIS CORS Module 1.0";
pub const PATCH: &str = "Add <cors> to web.config";
pub const PROBE: &str = "Check preflight from Finesse";

/// A `corsfleet run`: logger-a changed (reboot), logger-b ok, aw-1 failed and rolled back
/// (after an ignored failure), aw-2 unreachable, aw-3 skipped.
pub fn run_events() -> Ev {
    let mut e = Ev::new();
    let hosts = ["logger-a", "logger-b", "aw-1", "aw-2", "aw-3"];
    e.start(RunMode::Run, false, &hosts);
    e.play(0, "Enable CORS for the Config API", &hosts);

    e.connected("logger-a", 120);
    e.task(
        "logger-a",
        Task::new(0, FACTS, "iis_facts", TaskStatus::Ok)
            .at(150, 900)
            .msg("IIS 10.0, CORS module not installed"),
    );
    let mut install = Task::new(1, INSTALL, "msi_install", TaskStatus::Changed)
        .at(900, 21_400)
        .msg("installed IISCORS_amd64.msi (exit code 3010)");
    install.reboot_required = true;
    e.task("logger-a", install);
    e.task(
        "logger-a",
        Task::new(2, PATCH, "web_config_cors", TaskStatus::Changed)
            .at(21_400, 22_100)
            .msg("added <cors> with 1 origin")
            .diff(CORS_DIFF),
    );
    e.task(
        "logger-a",
        Task::new(3, PROBE, "cors_preflight", TaskStatus::Ok)
            .at(22_100, 22_600)
            .msg("preflight allowed PUT from https://finesse-a.example.com:8445"),
    );
    e.host_done("logger-a", HostStatus::Changed, 22_700);

    e.connected("logger-b", 130);
    e.task(
        "logger-b",
        Task::new(0, FACTS, "iis_facts", TaskStatus::Ok)
            .at(160, 700)
            .msg("IIS 10.0, CORS module 1.0 installed"),
    );
    e.task(
        "logger-b",
        Task::new(1, INSTALL, "msi_install", TaskStatus::Ok)
            .at(700, 800)
            .msg("already installed"),
    );
    e.task(
        "logger-b",
        Task::new(2, PATCH, "web_config_cors", TaskStatus::Ok)
            .at(800, 1_300)
            .msg("<cors> already as desired"),
    );
    e.task(
        "logger-b",
        Task::new(3, PROBE, "cors_preflight", TaskStatus::Ok)
            .at(1_300, 1_700)
            .msg("preflight allowed PUT"),
    );
    e.host_done("logger-b", HostStatus::Ok, 1_750);

    e.connected("aw-1", 140);
    let mut facts = Task::new(0, FACTS, "iis_facts", TaskStatus::Failed)
        .at(170, 600)
        .msg("could not read IIS version from the registry");
    facts.ignored = true;
    e.task("aw-1", facts);
    e.task(
        "aw-1",
        Task::new(1, INSTALL, "msi_install", TaskStatus::Ok)
            .at(600, 700)
            .msg("already installed"),
    );
    let mut patch = Task::new(2, PATCH, "web_config_cors", TaskStatus::Failed)
        .at(700, 2_900)
        .msg("verification after write failed | web.config restored from backup")
        .diff(ROLLBACK_DIFF);
    patch.rolled_back = true;
    e.task("aw-1", patch);
    e.task(
        "aw-1",
        Task::new(3, PROBE, "cors_preflight", TaskStatus::Skipped)
            .at(2_900, 2_900)
            .msg("skipped: host failed"),
    );
    e.host_done("aw-1", HostStatus::Failed, 3_000);

    e.unreachable(
        "aw-2",
        10_100,
        "ssh: connect to 10.0.0.42:22 timed out after 10s",
    );
    e.host_done("aw-2", HostStatus::Unreachable, 10_100);

    e.connected("aw-3", 150);
    e.task(
        "aw-3",
        Task::new(0, FACTS, "iis_facts", TaskStatus::Skipped)
            .at(180, 190)
            .msg("when: condition false"),
    );
    e.host_done("aw-3", HostStatus::Skipped, 200);

    e.finish(22_800);
    e
}

/// A `corsfleet verify`: logger-a compliant, aw-1 drifted.
pub fn verify_events() -> Ev {
    let mut e = Ev::new();
    let hosts = ["logger-a", "aw-1"];
    e.start(RunMode::Verify, false, &hosts);
    e.play(0, "Audit CORS", &hosts);
    e.connected("logger-a", 100);
    e.task(
        "logger-a",
        Task::new(0, PATCH, "web_config_cors", TaskStatus::Ok)
            .at(100, 400)
            .msg("<cors> matches the playbook"),
    );
    e.task(
        "logger-a",
        Task::new(1, PROBE, "cors_preflight", TaskStatus::Ok)
            .at(400, 700)
            .msg("preflight allowed PUT"),
    );
    e.host_done("logger-a", HostStatus::Compliant, 750);
    e.connected("aw-1", 110);
    let mut drifted = Task::new(0, PATCH, "web_config_cors", TaskStatus::Changed)
        .at(110, 500)
        .msg("2 properties differ")
        .diff(ROLLBACK_DIFF);
    drifted.drift = vec![
        Drift {
            property: "cors.enabled".to_owned(),
            expected: "true".to_owned(),
            actual: "false".to_owned(),
        },
        Drift {
            property: "cors.origin[https://finesse-a.example.com:8445].allowMethods".to_owned(),
            expected: "GET,PUT".to_owned(),
            actual: "(missing)".to_owned(),
        },
    ];
    e.task("aw-1", drifted);
    e.task(
        "aw-1",
        Task::new(1, PROBE, "cors_preflight", TaskStatus::Failed)
            .at(500, 900)
            .msg("preflight: no Access-Control-Allow-Origin header"),
    );
    e.host_done("aw-1", HostStatus::Drifted, 950);
    e.finish(1_000);
    e
}

/// A run cut off by Ctrl-C: one task never finished, one host never started, no
/// `RunFinished` after the abort.
pub fn interrupted_events() -> Ev {
    let mut e = Ev::new();
    let hosts = ["logger-a", "logger-b"];
    e.start(RunMode::Run, true, &hosts);
    e.play(0, "Enable CORS for the Config API", &["logger-a"]);
    e.connected("logger-a", 100);
    e.task(
        "logger-a",
        Task::new(0, FACTS, "iis_facts", TaskStatus::Ok)
            .at(100, 300)
            .msg("IIS 10.0"),
    );
    e.events.push(RunEvent::TaskStarted {
        host: "logger-a".to_owned(),
        task_index: 1,
        name: INSTALL.to_owned(),
        module: "msi_install".to_owned(),
        at: e.t(300),
    });
    e.events.push(RunEvent::RunAborted {
        reason: AbortReason::Interrupted,
    });
    e
}

/// Text that would break out of every format if not escaped.
pub const HOSTILE: &str = "<script src=\"https://evil.example/x.js\"></script> | `code` & <img src=//evil.example/p.png> ]]> *bold* @import url(https://evil.example/a.css)";

/// A run whose host names, task names, messages and diff try to inject markup.
pub fn hostile_events() -> Ev {
    let mut e = Ev::new();
    let host = "evil<b>|host&";
    e.start(RunMode::Run, false, &[host]);
    e.play(0, HOSTILE, &[host]);
    e.connected(host, 10);
    let mut t = Task::new(0, HOSTILE, "web_config_cors", TaskStatus::Failed)
        .at(10, 20)
        .msg(HOSTILE)
        .diff("--- a\n+++ b\n@@ -1 +1 @@\n-<a href=\"https://evil.example\">x</a>\n+```\n+</pre></details><script>alert(1)</script>\n");
    t.drift = vec![Drift {
        property: HOSTILE.to_owned(),
        expected: HOSTILE.to_owned(),
        actual: "|".to_owned(),
    }];
    e.task(host, t);
    e.unreachable("second|<host>", 30, HOSTILE);
    e.host_done(host, HostStatus::Failed, 40);
    e.host_done("second|<host>", HostStatus::Unreachable, 40);
    e.finish(50);
    e
}

/// Snapshot settings that replace times, run ids and the version, so snapshots do not
/// depend on "now" or on a release bump.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]");
    s.add_filter(r"run-[0-9a-f]{16}", "[RUN_ID]");
    let version = env!("CARGO_PKG_VERSION").replace('.', r"\.");
    s.add_filter(&format!(r"\b{version}\b"), "[VERSION]");
    s.set_prepend_module_to_snapshot(false);
    s
}
