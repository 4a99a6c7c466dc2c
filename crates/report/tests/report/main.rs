//! Integration tests of corsfleet-report: events in, files out. One test binary with topic
//! modules; fixtures are built as `RunEvent` sequences in code, with real "now" timestamps,
//! so snapshots must redact times and ids to pass.

mod builder;
mod fixtures;
mod render;
