//! The engine's error type. Every variant that points into a file carries a 1-based line and
//! column so the CLI can print `FILE:LINE:COL: message`, the form editors and CI annotate.

use crate::policy::PolicyError;

/// Why a `web.config` could not be read or patched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The input is not well-formed XML (or not UTF-8).
    #[error("{line}:{column}: {message}")]
    Xml {
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but the root element is not `<configuration>`.
    #[error("{line}:{column}: root element is <{found}>, expected <configuration>")]
    NotConfiguration {
        line: usize,
        column: usize,
        found: String,
    },
    /// A value inside the `<cors>` section that IIS would refuse (HTTP 500.19).
    #[error("{line}:{column}: {message}")]
    InvalidValue {
        line: usize,
        column: usize,
        message: String,
    },
    /// The desired policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The patched bytes failed the final check (a bug in the engine, never written out).
    #[error("patched output failed its self-check: {message}")]
    OutputInvalid { message: String },
}

impl PatchError {
    /// The 1-based (line, column) the error points at, if it points into the input.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            PatchError::Xml { line, column, .. }
            | PatchError::NotConfiguration { line, column, .. }
            | PatchError::InvalidValue { line, column, .. } => Some((*line, *column)),
            PatchError::Policy(_) | PatchError::OutputInvalid { .. } => None,
        }
    }
}
