//! corsfleet-report: folds the runner's [`RunEvent`](corsfleet_runner::events::RunEvent)s
//! into one [`RunReport`] and renders it as JSON, JUnit XML, Markdown, HTML and the console
//! recap.
//!
//! The report is what an admin attaches to the change ticket and what CI reads. Every
//! renderer reads only the [`RunReport`] (never the events), so a saved `report.json`
//! re-renders into exactly the same files later. The report contains only what the events
//! contain, and events carry no secrets; every renderer still escapes all text for its
//! format (HTML, XML, Markdown), because host names, messages and diffs come from outside.
//!
//! ```text
//! RunEvent stream ─► ReportBuilder::push ─► finish() ─► RunReport ─┬─► render_json
//!                                                                  ├─► render_junit
//!                                                                  ├─► render_markdown
//!                                                                  ├─► render_html
//!                                                                  └─► render_recap
//! ```
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod builder;
mod error;
mod html;
mod json;
mod junit;
mod markdown;
mod model;
mod recap;
mod text;
mod write;

pub use builder::ReportBuilder;
pub use error::ReportError;
pub use html::render_html;
pub use json::{load_json, render_json};
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use model::{
    AbortReason, Drift, ExitClass, HostReport, HostStatus, Recap, RunMode, RunReport,
    SCHEMA_VERSION, TaskReport, TaskStatus, Totals, exit_class,
};
pub use recap::render_recap;
pub use write::{HTML_FILE, JSON_FILE, JUNIT_FILE, MARKDOWN_FILE, write_all, write_atomic};
