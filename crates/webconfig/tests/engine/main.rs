//! Integration tests of the patch engine: golden files (insta) for every documented case in
//! CRLF/BOM/tab variants, property tests, and robustness against arbitrary bytes.

mod common;
mod golden;
mod props;
