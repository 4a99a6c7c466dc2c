//! End-to-end tests of `corsfleet run`, `verify` and `demo`: one test per documented exit
//! code (docs/exit-codes.md), and a search of every output for a known secret.
//!
//! Hosts are ucce-sim server roots reached with the local transport; `iis_facts` needs no
//! HTTPS server, so most tests need no listener at all.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corsfleet() -> Command {
    let mut cmd = Command::cargo_bin("corsfleet").unwrap();
    cmd.current_dir(repo()).env("NO_COLOR", "1");
    cmd
}

/// A folder with simulated server roots, an inventory and a playbook.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    /// `hosts`: (name, healthy). An unhealthy host has no web.config, so `iis_facts` fails.
    fn new(hosts: &[(&str, bool)], playbook: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let mut inv = String::from("all:\n  vars:\n    ansible_connection: local\n  hosts:\n");
        for (name, healthy) in hosts {
            let root = dir.path().join("servers").join(name);
            ucce_sim::init(&root, &[name.to_string()]).unwrap();
            if !healthy {
                std::fs::remove_file(root.join("C:/icm/tomcat/bin/i386/web.config")).unwrap();
            }
            inv.push_str(&format!(
                "    {name}:\n      corsfleet_local_root: {:?}\n",
                root.display().to_string()
            ));
        }
        std::fs::write(dir.path().join("inventory.yml"), inv).unwrap();
        std::fs::write(dir.path().join("playbook.yml"), playbook).unwrap();
        Lab { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn run(&self, extra: &[&str]) -> assert_cmd::assert::Assert {
        let mut cmd = corsfleet();
        cmd.args([
            "run",
            &self.path("playbook.yml"),
            "-i",
            &self.path("inventory.yml"),
            "--no-progress",
        ]);
        cmd.args(extra).assert()
    }
}

/// The `report.json` a run wrote into `dir`.
fn report_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

const FACTS: &str = "- name: facts\n  hosts: all\n  serial: 1\n  max_fail_percentage: 0\n  tasks:\n    - name: facts\n      iis_facts: {}\n";
const FACTS_NO_LIMIT: &str =
    "- name: facts\n  hosts: all\n  tasks:\n    - name: facts\n      iis_facts: {}\n";

#[test]
fn exit_0_when_every_host_succeeds() {
    let lab = Lab::new(&[("h1", true), ("h2", true)], FACTS);
    lab.run(&[]).code(0);
}

#[test]
fn exit_2_on_invalid_input_before_any_host_is_contacted() {
    let lab = Lab::new(
        &[("h1", true)],
        "- name: bad\n  hosts: all\n  tasks:\n    - name: facts\n      iis_facts: { bogus: 1 }\n",
    );
    let out = lab.run(&[]).code(2).get_output().stderr.clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("playbook.yml:5:"), "{err}");
    assert!(err.contains("unknown parameter `bogus`"), "{err}");
    // An unknown flag is bad input too.
    corsfleet().args(["run", "--no-such-flag"]).assert().code(2);
}

#[test]
fn exit_2_for_an_undefined_variable_names_the_host() {
    let lab = Lab::new(
        &[("h1", true)],
        "- name: bad\n  hosts: all\n  tasks:\n    - name: facts\n      web_config_cors: { origins: \"{{ nope }}\" }\n",
    );
    let out = lab.run(&[]).code(2).get_output().stderr.clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("h1") && err.contains("nope"), "{err}");
}

#[test]
fn exit_3_when_a_host_fails() {
    let lab = Lab::new(&[("h1", true), ("h2", false)], FACTS_NO_LIMIT);
    let report = lab.dir.path().join("report");
    lab.run(&["--report-dir", report.to_str().unwrap()]).code(3);
    let json: serde_json::Value = report_json(&report);
    assert_eq!(json["hosts"][1]["status"], "failed");
    for file in ["junit.xml", "report.md", "report.html"] {
        assert!(report.join(file).is_file(), "{file}");
    }
}

#[test]
fn exit_4_when_a_host_is_unreachable() {
    let lab = Lab::new(&[("h1", true), ("h2", true)], FACTS_NO_LIMIT);
    std::fs::remove_dir_all(lab.dir.path().join("servers/h2")).unwrap();
    let out = lab.run(&[]).code(4).get_output().stderr.clone();
    assert!(String::from_utf8_lossy(&out).contains("unreachable"));
}

#[test]
fn exit_5_when_max_fail_percentage_aborts_the_run() {
    let lab = Lab::new(&[("h1", false), ("h2", true)], FACTS);
    let out = lab.run(&[]).code(5).get_output().stderr.clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("max_fail_percentage"), "{err}");
    assert!(err.contains("h2") && err.contains("skipped"), "{err}");
}

#[test]
fn exit_1_when_the_report_cannot_be_written() {
    let lab = Lab::new(&[("h1", true)], FACTS);
    let not_a_dir = lab.dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    lab.run(&["--report-dir", not_a_dir.to_str().unwrap()])
        .code(1);
}

#[test]
fn exit_130_on_ctrl_c_after_the_step_in_flight() {
    // Many quick tasks, so the run is still going when the signal arrives.
    let mut playbook = String::from("- name: long\n  hosts: all\n  tasks:\n");
    for i in 0..3000 {
        playbook.push_str(&format!("    - name: facts {i}\n      iis_facts: {{}}\n"));
    }
    let lab = Lab::new(&[("h1", true)], &playbook);
    let events = lab.dir.path().join("events.jsonl");
    let report = lab.dir.path().join("report");
    let bin = assert_cmd::cargo::cargo_bin("corsfleet");
    let mut child = std::process::Command::new(bin)
        .args([
            "run",
            &lab.path("playbook.yml"),
            "-i",
            &lab.path("inventory.yml"),
            "--no-progress",
        ])
        .arg("--events")
        .arg(&events)
        .arg("--report-dir")
        .arg(&report)
        .env("NO_COLOR", "1")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until tasks are running (the signal handler is installed before the first event).
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&events)
        .map(|t| t.matches("task_finished").count())
        .unwrap_or(0)
        < 3
    {
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130));
    let json: serde_json::Value = report_json(&report);
    assert_eq!(json["hosts"][0]["status"], "interrupted");
    let tasks = json["hosts"][0]["tasks"].as_array().unwrap();
    assert!(tasks.iter().any(|t| t["status"] == "interrupted"));
    assert!(tasks.iter().filter(|t| t["status"] == "ok").count() < 3000);
}

#[test]
fn secrets_never_appear_in_any_output() {
    const SECRET: &str = "pA55-w0rd-that-must-not-leak";
    let lab = Lab::new(&[("h1", true)], FACTS_NO_LIMIT);
    // Add an SSH host whose password comes from the environment; nothing listens on its port.
    let mut inv = std::fs::read_to_string(lab.dir.path().join("inventory.yml")).unwrap();
    inv.push_str("    ssh1:\n      ansible_connection: ssh\n      ansible_host: 127.0.0.1\n      ansible_port: 9\n      ansible_user: administrator\n      corsfleet_password_env: CF_TEST_SECRET\n");
    std::fs::write(lab.dir.path().join("inventory.yml"), inv).unwrap();
    let report = lab.dir.path().join("report");
    let events = lab.dir.path().join("events.jsonl");
    let out = corsfleet()
        .env("CF_TEST_SECRET", SECRET)
        .args([
            "run",
            &lab.path("playbook.yml"),
            "-i",
            &lab.path("inventory.yml"),
            "--no-progress",
            "-vvv",
            "--output",
            "json",
        ])
        .arg("--report-dir")
        .arg(&report)
        .arg("--events")
        .arg(&events)
        .assert()
        .code(4)
        .get_output()
        .clone();
    let mut texts = vec![
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ];
    texts.push(std::fs::read_to_string(&events).unwrap());
    for entry in std::fs::read_dir(&report).unwrap() {
        texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert_eq!(texts.len(), 7);
    for text in &texts {
        assert!(
            !text.contains(SECRET),
            "the secret leaked into: {}",
            &text[..text.len().min(300)]
        );
    }
    assert!(
        texts[1].contains("ssh1"),
        "the unreachable host is reported"
    );
}

#[test]
fn verify_is_read_only_and_exits_3_on_drift() {
    let playbook = "- name: cors\n  hosts: all\n  tasks:\n    - name: configure\n      web_config_cors: { origins: [\"https://finesse-a.lab.local:8445\"] }\n";
    let lab = Lab::new(&[("h1", true)], playbook);
    let web_config = lab
        .dir
        .path()
        .join("servers/h1/C:/icm/tomcat/bin/i386/web.config");
    let before = std::fs::read(&web_config).unwrap();
    let report = lab.dir.path().join("report");
    let out = corsfleet()
        .args([
            "verify",
            &lab.path("playbook.yml"),
            "-i",
            &lab.path("inventory.yml"),
            "--no-progress",
        ])
        .arg("--report-dir")
        .arg(&report)
        .assert()
        .code(3)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("drifted"));
    assert_eq!(std::fs::read(&web_config).unwrap(), before);
    let json: serde_json::Value = report_json(&report);
    assert_eq!(json["hosts"][0]["status"], "drifted");
    assert!(
        !json["hosts"][0]["tasks"][0]["drift"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn demo_runs_the_whole_story_and_writes_four_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = corsfleet()
        .args(["demo", "--no-progress", "--report-dir"])
        .arg(dir.path())
        .assert()
        .code(0)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert_eq!(err.matches("\nok:").count(), 4, "{err}");
    for stage in ["1-rollout", "2-verify", "3-verify-after-patch", "4-fix"] {
        for file in ["report.json", "junit.xml", "report.md", "report.html"] {
            assert!(
                dir.path().join(stage).join(file).is_file(),
                "{stage}/{file}"
            );
        }
    }
}

#[test]
fn completions_and_man_page_are_generated() {
    let out = corsfleet()
        .args(["completions", "bash"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("corsfleet"));
    let man = corsfleet()
        .arg("man")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&man).contains(".TH corsfleet"));
}
