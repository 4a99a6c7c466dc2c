//! Errors of this crate. Messages are lowercase and read after "failed to ...".

use std::path::PathBuf;

/// Why loading, rendering or writing a report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The bytes are not a valid report document. `line`/`column` are 1-based, as serde_json
    /// reports them, so the CLI can print `FILE:LINE:COL`.
    #[error("parse report json at line {line}, column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("read report: no \"schema\" field (is this a corsfleet report.json?)")]
    MissingSchema,
    #[error("read report: unsupported schema version {found} (this corsfleet reads schema 1)")]
    UnsupportedSchema { found: u64 },
    #[error("render junit xml")]
    Junit(#[from] quick_junit::SerializeError),
    #[error("render html")]
    Html(#[from] askama::Error),
    #[error("write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ReportError {
    /// Line and column of a parse error, when there is one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ReportError::Parse { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
}
