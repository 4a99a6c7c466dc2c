//! `corsfleet preflight` end to end: the binary against a tiny scripted plain-HTTP server
//! (std only, so this test needs no extra dev-dependency), checking exit codes, stderr
//! explanations and `--output json`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

use assert_cmd::Command;
use predicates::str::contains;

const ORIGIN: &str = "https://finesse-a.lab.local:8445";

/// Serve forever on 127.0.0.1: OPTIONS gets `preflight` headers with a 204, anything else
/// `actual` headers with a 200. One request per connection.
fn serve(
    preflight: &'static [(&'static str, &'static str)],
    actual: &'static [(&'static str, &'static str)],
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let (status, headers) = if first.starts_with("OPTIONS ") {
                ("204 No Content", preflight)
            } else {
                ("200 OK", actual)
            };
            let mut resp = format!("HTTP/1.1 {status}\r\n");
            for (n, v) in headers {
                resp.push_str(&format!("{n}: {v}\r\n"));
            }
            resp.push_str("content-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}/unifiedconfig/config/agent")
}

const GOOD_PREFLIGHT: &[(&str, &str)] = &[
    ("Access-Control-Allow-Origin", ORIGIN),
    ("Access-Control-Allow-Methods", "GET,PUT,POST,DELETE"),
    ("Access-Control-Allow-Headers", "Content-Type,Authorization"),
    ("Access-Control-Max-Age", "600"),
];
const GET_ONLY_PREFLIGHT: &[(&str, &str)] = &[
    ("Access-Control-Allow-Origin", ORIGIN),
    ("Access-Control-Allow-Methods", "GET"),
];
const GOOD_ACTUAL: &[(&str, &str)] = &[("Access-Control-Allow-Origin", ORIGIN), ("Vary", "Origin")];

fn corsfleet() -> Command {
    Command::cargo_bin("corsfleet").expect("binary")
}

#[test]
fn allowed_put_exits_zero_and_shows_the_exchange() {
    let url = serve(GOOD_PREFLIGHT, GOOD_ACTUAL);
    corsfleet()
        .args([
            "preflight",
            &url,
            "--origin",
            ORIGIN,
            "--method",
            "PUT",
            "-H",
            "Content-Type: application/xml",
        ])
        .assert()
        .code(0)
        .stderr(contains("access-control-request-method: PUT"))
        .stderr(contains("verdict: allowed (expected allowed)"));
}

#[test]
fn put_against_get_only_methods_exits_three_with_chromium_wording() {
    let url = serve(GET_ONLY_PREFLIGHT, GOOD_ACTUAL);
    corsfleet()
        .args(["preflight", &url, "--origin", ORIGIN, "--method", "PUT"])
        .assert()
        .code(3)
        .stderr(contains(
            "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response.",
        ))
        .stderr(contains("expectation not met"));
}

#[test]
fn expect_denied_turns_a_denial_into_success() {
    let url = serve(GET_ONLY_PREFLIGHT, GOOD_ACTUAL);
    corsfleet()
        .args([
            "preflight",
            &url,
            "--origin",
            ORIGIN,
            "--method",
            "PUT",
            "--expect",
            "denied",
        ])
        .assert()
        .code(0);
    let url = serve(GOOD_PREFLIGHT, GOOD_ACTUAL);
    corsfleet()
        .args([
            "preflight",
            &url,
            "--origin",
            ORIGIN,
            "--method",
            "PUT",
            "--expect",
            "denied",
        ])
        .assert()
        .code(3);
}

#[test]
fn json_output_carries_the_verdict() {
    let url = serve(GOOD_PREFLIGHT, &[]);
    let out = corsfleet()
        .args([
            "preflight",
            &url,
            "--origin",
            ORIGIN,
            "--method",
            "DELETE",
            "--output",
            "json",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(json["met"], false);
    assert_eq!(json["verdict"]["allowed"], false);
    assert_eq!(json["verdict"]["preflight_sent"], true);
    assert_eq!(json["verdict"]["max_age"], 600);
    assert_eq!(
        json["verdict"]["failures"][0]["rule"],
        "actual_allow_origin_missing"
    );
    assert_eq!(json["verdict"]["actual"]["method"], "GET");
}

#[test]
fn bad_origin_is_an_input_error() {
    corsfleet()
        .args([
            "preflight",
            "http://127.0.0.1:1/",
            "--origin",
            "finesse-a.lab.local",
        ])
        .assert()
        .code(2)
        .stderr(contains("invalid origin"));
}

#[test]
fn unreachable_server_exits_four() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    corsfleet()
        .args([
            "preflight",
            &format!("http://127.0.0.1:{port}/"),
            "--origin",
            ORIGIN,
        ])
        .assert()
        .code(4)
        .stderr(contains("unreachable"));
}

#[test]
fn insecure_warns_loudly() {
    let url = serve(GOOD_PREFLIGHT, GOOD_ACTUAL);
    corsfleet()
        .args(["preflight", &url, "--origin", ORIGIN, "--insecure"])
        .assert()
        .code(0)
        .stderr(contains("warning: --insecure"));
}
