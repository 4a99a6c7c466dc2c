//! `corsfleet webconfig patch|show` end to end: in-place write with backup, check mode, diff,
//! JSON output, and bad input that must leave the file untouched with exit code 2.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

const STOCK: &[u8] = include_bytes!("../../../examples/web.config");
const FIN_A: &str = "https://fin-a.example.com:8445";

fn corsfleet() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("corsfleet"))
}

fn setup(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("web.config");
    std::fs::write(&file, content).expect("write fixture");
    (dir, file)
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bak"))
        .collect();
    v.sort();
    v
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).expect("read dir").count()
}

#[test]
fn patch_writes_in_place_keeps_a_backup_and_is_idempotent() {
    let (dir, file) = setup(STOCK);
    corsfleet()
        .args(["webconfig", "patch"])
        .arg(&file)
        .args(["--origin", FIN_A])
        .assert()
        .success()
        .stdout("changed\n");
    let patched = std::fs::read(&file).expect("read");
    assert_ne!(patched, STOCK);
    // Pure insertion before `</system.webServer>`: every original byte is still there.
    let needle: &[u8] = b"\r\n    </system.webServer>";
    let at = STOCK
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("anchor");
    assert!(patched.starts_with(&STOCK[..at]) && patched.ends_with(&STOCK[at..]));
    let text = String::from_utf8(patched.clone()).expect("utf-8");
    assert!(text.contains("<cors enabled=\"true\" failUnlistedOrigins=\"true\">\r\n"));
    let b = backups(dir.path());
    assert_eq!(b.len(), 1);
    assert_eq!(std::fs::read(&b[0]).expect("backup"), STOCK);
    // No temp file left behind: the file, its backup, nothing else.
    assert_eq!(files_in(dir.path()), 2);

    corsfleet()
        .args(["webconfig", "patch"])
        .arg(&file)
        .args(["--origin", FIN_A])
        .assert()
        .success()
        .stdout("unchanged\n");
    assert_eq!(std::fs::read(&file).expect("read"), patched);
    assert_eq!(
        backups(dir.path()).len(),
        1,
        "no backup when nothing changes"
    );
}

#[test]
fn check_mode_writes_nothing_and_exits_3_on_drift() {
    let (dir, file) = setup(STOCK);
    corsfleet()
        .args(["webconfig", "patch", "--check", "--diff"])
        .arg(&file)
        .args(["--origin", FIN_A])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("+        <cors enabled=\"true\""))
        .stdout(predicate::str::ends_with("changed\n"));
    assert_eq!(std::fs::read(&file).expect("read"), STOCK);
    assert!(backups(dir.path()).is_empty());
}

#[test]
fn json_output_reports_drift_and_backup() {
    let (_dir, file) = setup(STOCK);
    let out = corsfleet()
        .args(["webconfig", "patch", "--output", "json"])
        .arg(&file)
        .args([
            "--origin",
            FIN_A,
            "--origin",
            "https://FIN-B.example.com:8445",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["changed"], true);
    assert_eq!(v["written"], true);
    assert!(v["backup"].as_str().is_some_and(|b| b.ends_with(".bak")));
    assert_eq!(v["drift"][0]["property"], "cors");
    assert_eq!(
        v["warnings"].as_array().map(Vec::len),
        Some(1),
        "upper-case origin warned"
    );
}

#[test]
fn flags_shape_the_policy_and_show_reads_it_back() {
    let (_dir, file) = setup(STOCK);
    corsfleet()
        .args(["webconfig", "patch"])
        .arg(&file)
        .args([
            "--origin",
            FIN_A,
            "--allow-method",
            "GET",
            "--allow-method",
            "PATCH",
        ])
        .args([
            "--allow-header",
            "Authorization",
            "--max-age",
            "-1",
            "--no-credentials",
        ])
        .args(["--no-fail-unlisted-origins", "--location", "unifiedconfig"])
        .assert()
        .success();
    let out = corsfleet()
        .args([
            "webconfig",
            "show",
            "--output",
            "json",
            "--location",
            "unifiedconfig",
        ])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["fail_unlisted_origins"], false);
    let rule = &v["origins"][0];
    assert_eq!(rule["origin"], FIN_A);
    assert_eq!(rule["allow_methods"], serde_json::json!(["GET", "PATCH"]));
    assert_eq!(rule["allow_headers"], serde_json::json!(["Authorization"]));
    assert_eq!(rule["allow_all_requested_headers"], false);
    assert_eq!(rule["allow_credentials"], false);
    assert_eq!(rule["max_age"], serde_json::Value::Null);
    // The file's own scope has no section: show says so.
    corsfleet()
        .args(["webconfig", "show"])
        .arg(&file)
        .assert()
        .success()
        .stdout("null\n")
        .stderr(predicate::str::contains("no <cors> section"));
}

#[test]
fn show_prints_yaml() {
    let (_dir, file) = setup(STOCK);
    corsfleet()
        .args(["webconfig", "patch"])
        .arg(&file)
        .args(["--origin", FIN_A])
        .assert()
        .success();
    corsfleet()
        .args(["webconfig", "show"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("fail_unlisted_origins: true"))
        .stdout(predicate::str::contains(
            "- origin: https://fin-a.example.com:8445",
        ));
}

#[test]
fn malformed_file_gives_one_line_with_position_and_stays_untouched() {
    let bad = b"<configuration>\r\n  <system.webServer>\r\n  </system.web>\r\n</configuration>\r\n";
    let (dir, file) = setup(bad);
    let assert = corsfleet()
        .args(["webconfig", "patch"])
        .arg(&file)
        .args(["--origin", FIN_A])
        .assert()
        .code(2)
        .stdout("");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let expected = format!("error: {}:3:3: ", file.display());
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(std::fs::read(&file).expect("read"), bad);
    assert_eq!(files_in(dir.path()), 1);
}

#[test]
fn binary_garbage_and_missing_files_are_input_errors() {
    let (_dir, file) = setup(b"\x00\xff\xfeMZ\x90garbage");
    corsfleet()
        .args(["webconfig", "patch"])
        .arg(&file)
        .args(["--origin", FIN_A])
        .assert()
        .code(2);
    corsfleet()
        .args(["webconfig", "show"])
        .arg(&file)
        .assert()
        .code(2);
    corsfleet()
        .args(["webconfig", "show", "/nonexistent/web.config"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn invalid_origins_are_rejected_before_touching_the_file() {
    let (_dir, file) = setup(STOCK);
    for origin in [
        "https://fin-a.example.com:8445/desktop",
        "fin-a.example.com",
        "https://a\"b",
    ] {
        corsfleet()
            .args(["webconfig", "patch"])
            .arg(&file)
            .args(["--origin", origin])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("invalid origin"));
    }
    corsfleet()
        .args(["webconfig", "patch"])
        .arg(&file)
        .args(["--origin", "*"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("hint: add --no-credentials"));
    corsfleet()
        .args(["webconfig", "patch", "--no-credentials"])
        .arg(&file)
        .args(["--origin", "*", "--check"])
        .assert()
        .code(3);
    assert_eq!(std::fs::read(&file).expect("read"), STOCK);
}
