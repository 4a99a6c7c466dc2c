//! `corsfleet report render`: every format re-renders a saved report.json exactly as the
//! library renders it; bad files exit 2 with `FILE:LINE:COL`.

use std::path::Path;

use assert_cmd::Command;
use corsfleet_report::{
    ReportBuilder, RunReport, render_html, render_json, render_junit, render_markdown, write_all,
};
use corsfleet_runner::events::{HostStatus, RunEvent, RunMode, TaskStatus};
use jiff::{SignedDuration, Timestamp};

fn report() -> RunReport {
    let base = Timestamp::now();
    let at = |ms: i64| base + SignedDuration::from_millis(ms);
    let events = vec![
        RunEvent::RunStarted {
            run_id: "run-cli-test".to_owned(),
            corsfleet_version: "0.1.0".to_owned(),
            started_at: base,
            mode: RunMode::Run,
            check: false,
            playbook: "playbooks/cors.yml".to_owned(),
            inventory: vec!["inventory/lab.yml".to_owned()],
            limit: None,
            hosts: vec!["logger-a".to_owned(), "aw-1".to_owned()],
        },
        RunEvent::HostConnected {
            host: "logger-a".to_owned(),
            at: at(10),
        },
        RunEvent::TaskFinished {
            host: "logger-a".to_owned(),
            task_index: 0,
            name: "Add <cors> | web.config".to_owned(),
            module: "web_config_cors".to_owned(),
            status: TaskStatus::Changed,
            message: "added <cors>".to_owned(),
            diff: Some("--- a\n+++ b\n@@ -1 +1,2 @@\n <system.webServer>\n+<cors/>\n".to_owned()),
            drift: Vec::new(),
            started_at: at(10),
            finished_at: at(400),
            attempts: 1,
            reboot_required: false,
            rolled_back: false,
            ignored: false,
        },
        RunEvent::HostFinished {
            host: "logger-a".to_owned(),
            status: HostStatus::Changed,
            at: at(410),
        },
        RunEvent::HostUnreachable {
            host: "aw-1".to_owned(),
            at: at(50),
            message: "ssh: connection refused".to_owned(),
        },
        RunEvent::HostFinished {
            host: "aw-1".to_owned(),
            status: HostStatus::Unreachable,
            at: at(50),
        },
        RunEvent::RunFinished {
            finished_at: at(500),
        },
    ];
    let mut b = ReportBuilder::new();
    for e in &events {
        b.push(e);
    }
    b.finish()
}

fn corsfleet() -> Command {
    let mut cmd = Command::cargo_bin("corsfleet").expect("binary");
    cmd.env("NO_COLOR", "1");
    cmd
}

fn saved(dir: &Path) -> (RunReport, std::path::PathBuf) {
    let r = report();
    write_all(&r, dir).expect("write reports");
    (r, dir.join("report.json"))
}

#[test]
fn render_to_stdout_matches_the_library_for_every_format() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (r, json) = saved(tmp.path());
    let cases = [
        ("md", render_markdown(&r)),
        ("markdown", render_markdown(&r)),
        ("html", render_html(&r).expect("html")),
        ("junit", render_junit(&r).expect("junit")),
        ("json", render_json(&r)),
    ];
    for (format, expected) in cases {
        let out = corsfleet()
            .args(["report", "render"])
            .arg(&json)
            .args(["--format", format])
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{format}");
    }
}

#[test]
fn render_to_out_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (r, json) = saved(tmp.path());
    let target = tmp.path().join("ticket.md");
    corsfleet()
        .args(["report", "render"])
        .arg(&json)
        .args(["--format", "md", "--out"])
        .arg(&target)
        .assert()
        .success()
        .stdout("");
    let written = std::fs::read_to_string(&target).expect("out file");
    assert_eq!(written, render_markdown(&r));
    assert!(
        written.contains("Add \\<cors\\> \\| web.config"),
        "escaped in the table"
    );
}

#[test]
fn invalid_json_exits_2_with_file_line_col() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("report.json");
    std::fs::write(&bad, "{\n  \"schema\": 1,\n  \"run_id\": oops\n}\n").expect("write");
    let out = corsfleet()
        .args(["report", "render"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3:13: ", bad.display())),
        "expected FILE:LINE:COL, got: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn other_schema_version_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, json) = saved(tmp.path());
    let text = std::fs::read_to_string(&json).expect("read");
    std::fs::write(&json, text.replacen("\"schema\": 1", "\"schema\": 7", 1)).expect("write");
    let out = corsfleet()
        .args(["report", "render"])
        .arg(&json)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported schema version 7"), "{stderr}");
}

#[test]
fn missing_file_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope.json");
    let out = corsfleet()
        .args(["report", "render"])
        .arg(&missing)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.json"));
}

#[test]
fn unknown_format_is_a_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, json) = saved(tmp.path());
    let out = corsfleet()
        .args(["report", "render"])
        .arg(&json)
        .args(["--format", "pdf"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
}
