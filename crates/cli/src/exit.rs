//! The CLI's one error type and the exit codes it maps to. The codes are documented in
//! docs/exit-codes.md and stable: scripts and CI depend on them.

use std::process::ExitCode;

/// How a command that ran to its end came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything succeeded / is compliant / the expectation held.
    Success,
    /// At least one host failed, drifted, or a preflight did not meet its expectation.
    Failed,
    /// At least one host could not be reached (and none failed).
    Unreachable,
    /// The run stopped early because of `max_fail_percentage` or `any_errors_fatal`.
    Aborted,
    /// Ctrl-C: in-flight atomic steps finished, nothing new started.
    Interrupted,
}

/// Errors that stop a command before or outside a run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: a file (inventory, playbook, web.config, report) or a flag. The message is
    /// one line, already in `FILE:LINE:COL: message` form where a position is known.
    #[error("{message}")]
    Input {
        message: String,
        hint: Option<String>,
    },
    /// Something that should not happen: a bug or an environment failure (disk full...).
    #[error("internal error: {0}")]
    Internal(String),
}

impl CliError {
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input {
            message: message.into(),
            hint: None,
        }
    }

    pub fn input_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Input {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal(message.to_string())
    }
}

pub const SUCCESS: u8 = 0;
pub const INTERNAL: u8 = 1;
pub const INVALID_INPUT: u8 = 2;
pub const FAILED: u8 = 3;
pub const UNREACHABLE: u8 = 4;
pub const ABORTED: u8 = 5;
pub const INTERRUPTED: u8 = 130;

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => SUCCESS,
            Outcome::Failed => FAILED,
            Outcome::Unreachable => UNREACHABLE,
            Outcome::Aborted => ABORTED,
            Outcome::Interrupted => INTERRUPTED,
        }
    }
}

/// Print the error (if any) as one line on stderr and turn the result into the exit code.
#[allow(clippy::print_stderr)]
pub fn finish(result: Result<Outcome, CliError>) -> ExitCode {
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(CliError::Input { message, hint }) => {
            eprintln!("error: {message}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(INVALID_INPUT)
        }
        Err(err @ CliError::Internal(_)) => {
            eprintln!("error: {err}");
            ExitCode::from(INTERNAL)
        }
    }
}
