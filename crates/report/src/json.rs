//! `report.json`: the report itself, and the only format that can be read back.
//!
//! Reading checks the `schema` field before anything else, so an old or future report fails
//! with "unsupported schema" instead of a confusing missing-field error.

use serde::Deserialize;

use crate::error::ReportError;
use crate::model::{RunReport, SCHEMA_VERSION};

/// Pretty-printed JSON with a trailing newline.
pub fn render_json(report: &RunReport) -> String {
    // Serialising plain structs with string keys cannot fail; a failure would be a bug here,
    // and an empty object is still valid JSON for the caller.
    let mut out = serde_json::to_string_pretty(report).unwrap_or_else(|_| String::from("{}"));
    out.push('\n');
    out
}

#[derive(Deserialize)]
struct SchemaProbe {
    schema: Option<serde_json::Value>,
}

/// Reads a `report.json`; rejects any schema version but [`SCHEMA_VERSION`].
pub fn load_json(bytes: &[u8]) -> Result<RunReport, ReportError> {
    let probe: SchemaProbe = serde_json::from_slice(bytes).map_err(parse_error)?;
    match probe.schema {
        None => return Err(ReportError::MissingSchema),
        Some(v) => match v.as_u64() {
            Some(n) if n == u64::from(SCHEMA_VERSION) => {}
            Some(found) => return Err(ReportError::UnsupportedSchema { found }),
            None => {
                return Err(ReportError::Parse {
                    line: 1,
                    column: 1,
                    message: format!("\"schema\" must be a number, found {v}"),
                });
            }
        },
    }
    serde_json::from_slice(bytes).map_err(parse_error)
}

fn parse_error(err: serde_json::Error) -> ReportError {
    let (line, column) = (err.line(), err.column());
    // serde_json appends " at line L column C"; the position is carried separately.
    let full = err.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ReportError::Parse {
        line,
        column,
        message,
    }
}
