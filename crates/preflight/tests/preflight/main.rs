//! Integration tests for `corsfleet-preflight`: one binary, topic modules.
//! `scripted`: an axum HTTPS server whose CORS headers each test scripts (every rule, both ways,
//! plus TLS options and transport errors). `sim`: against ucce-sim (rollout scenarios).
//! The browser agreement test is its own binary (`tests/browser.rs`).

#[path = "../common/mod.rs"]
mod common;
mod scripted;
mod sim;
