//! End-to-end tests of `corsfleet inventory list|graph` and `corsfleet validate`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corsfleet() -> Command {
    let mut cmd = Command::cargo_bin("corsfleet").unwrap();
    cmd.current_dir(root()).env("NO_COLOR", "1");
    cmd
}

const SHA: &str = "8a0b60af8435a266a67dd1df713d380b6267376a0608203d8468a5792351bb24";

#[test]
fn list_prints_sorted_names() {
    corsfleet()
        .args(["inventory", "list", "-i", "inventory/lab.yml"])
        .assert()
        .success()
        .stdout("aw-a\naw-b\nlogger-a\nlogger-b\n");
}

#[test]
fn list_with_limit_pattern() {
    corsfleet()
        .args([
            "inventory",
            "list",
            "-i",
            "inventory/lab.yml",
            "--limit",
            "loggers:&~.*-a",
        ])
        .assert()
        .success()
        .stdout("logger-a\n");
    corsfleet()
        .args([
            "inventory",
            "list",
            "-i",
            "inventory/lab.yml",
            "--limit",
            "all:!distributors",
        ])
        .assert()
        .success()
        .stdout("logger-a\nlogger-b\n");
}

#[test]
fn limit_matching_nothing_is_bad_input() {
    corsfleet()
        .args([
            "inventory",
            "list",
            "-i",
            "inventory/lab.yml",
            "--limit",
            "logers",
        ])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("matches no group or host"))
        .stderr(predicate::str::contains("did you mean `loggers`?"));
    corsfleet()
        .args([
            "inventory",
            "list",
            "-i",
            "inventory/lab.yml",
            "--limit",
            "loggers:&distributors",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("selects no host"));
}

#[test]
fn list_json_has_groups_vars_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yml");
    std::fs::write(
        &inv,
        "all:\n  vars:\n    api_token: s3cret\n  children:\n    loggers:\n      hosts:\n        lgr-a:\n          ansible_host: 10.0.0.5\n          corsfleet_password_env: LGR_PASS\n",
    )
    .unwrap();
    let out = corsfleet()
        .args(["inventory", "list", "-i"])
        .arg(&inv)
        .args(["--output", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let host = &doc["hosts"][0];
    assert_eq!(host["name"], "lgr-a");
    assert_eq!(host["groups"], serde_json::json!(["loggers"]));
    assert_eq!(host["vars"]["api_token"], "<redacted>");
    assert_eq!(host["vars"]["corsfleet_password_env"], "LGR_PASS");
    assert_eq!(host["connection"]["address"], "10.0.0.5");
    assert_eq!(host["connection"]["port"], 22);
}

#[test]
fn graph_prints_the_group_tree() {
    corsfleet()
        .args(["inventory", "graph", "-i", "inventory/lab.yml"])
        .assert()
        .success()
        .stdout(
            "@all:\n  |--@distributors:\n  |  |--aw-a\n  |  |--aw-b\n  |--@loggers:\n  |  |--logger-a\n  |  |--logger-b\n  |--@ungrouped:\n",
        );
}

#[test]
fn bad_inventory_exits_2_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yml");
    std::fs::write(
        &inv,
        "all:\n  hosts:\n    aw-a:\n      ansible_port: 70000\n      ansible_password: x\n",
    )
    .unwrap();
    corsfleet()
        .args(["inventory", "list", "-i"])
        .arg(&inv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "inv.yml:5:7: `ansible_password` is refused",
        ))
        .stderr(predicate::str::contains(
            "hint: set `corsfleet_password_env",
        ))
        .stderr(predicate::str::contains("panicked").not());
    std::fs::write(&inv, [0u8, 159, 146, 150]).unwrap();
    corsfleet()
        .args(["inventory", "graph", "-i"])
        .arg(&inv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("binary"));
}

#[test]
fn validate_shipped_playbook_against_lab() {
    corsfleet()
        .args([
            "validate",
            "playbooks/enable-cors.yml",
            "-i",
            "inventory/lab.yml",
        ])
        .args(["-e", "cors_msi_src=/tmp/IISCORS_amd64.msi", "-e"])
        .arg(format!("cors_msi_sha256={SHA}"))
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "ok (1 plays, 16 host tasks templated)",
        ));
}

#[test]
fn validate_reports_every_error() {
    let assert = corsfleet()
        .args([
            "validate",
            "playbooks/enable-cors.yml",
            "-i",
            "inventory/lab.yml",
        ])
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    // Two undefined variables, for each of the four hosts.
    assert_eq!(errors.len(), 8, "{stderr}");
    for host in ["logger-a", "logger-b", "aw-a", "aw-b"] {
        assert!(
            errors.iter().any(|e| e.contains(&format!("host `{host}`"))),
            "{host}: {stderr}"
        );
    }
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("error: playbooks/enable-cors.yml:2")),
        "{stderr}"
    );
}

#[test]
fn validate_limit_and_bad_playbook() {
    let assert = corsfleet()
        .args([
            "validate",
            "playbooks/enable-cors.yml",
            "-i",
            "inventory/lab.yml",
            "--limit",
            "aw-b",
        ])
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error: ")).count(),
        2,
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("pb.yml");
    std::fs::write(
        &pb,
        "- hosts: loggers\n  gather_facts: no\n  tasks:\n    - iis_facts:\n        min_iis: 9\n",
    )
    .unwrap();
    corsfleet()
        .args(["validate"])
        .arg(&pb)
        .args(["-i", "inventory/lab.yml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "pb.yml:2:3: unknown key `gather_facts` in a play",
        ))
        .stderr(predicate::str::contains(
            "pb.yml:5:9: unknown parameter `min_iis` for module `iis_facts`",
        ));
}

#[test]
fn validate_prints_policy_warnings_once() {
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("pb.yml");
    std::fs::write(&pb, "- hosts: loggers\n  tasks:\n    - web_config_cors:\n        origins: [\"https://finesse-a.lab.local:443\"]\n").unwrap();
    let assert = corsfleet()
        .args(["validate"])
        .arg(&pb)
        .args(["-i", "inventory/lab.yml"])
        .assert()
        .success();
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("pb.yml:3:7:") && warnings[0].contains("default port"),
        "{stderr}"
    );
}
