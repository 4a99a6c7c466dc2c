//! Integration tests of ucce-sim: real HTTPS listeners on 127.0.0.1:0, the shims, and the
//! binary. One test binary, one module per topic.

mod common;

mod api;
mod cli;
mod cors_http;
mod iis_config;
mod installer;
mod shell;
