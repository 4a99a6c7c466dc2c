//! Integration tests for `corsfleet-preflight`: one binary, topic modules.
//! `scripted`: an axum HTTPS server whose CORS headers each test scripts (every rule, both ways,
//! plus TLS options and transport errors). `sim`: against ucce-sim (rollout scenarios).

mod scripted;
