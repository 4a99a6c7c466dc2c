//! `corsfleet report render`: re-render a saved `report.json` as Markdown, HTML, JUnit XML or
//! JSON, to stdout or (atomically) to `--out FILE`.
//!
//! All rendering lives in `corsfleet-report`; this module reads the file, maps errors to exit
//! codes and writes the result. Exit codes: 0 rendered; 2 the file is missing, not a report,
//! or of another schema version (message in `FILE:LINE:COL: ...` form when serde_json knows
//! the position); 1 the output could not be written.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use corsfleet_report::{
    ReportError, load_json, render_html, render_json, render_junit, render_markdown, write_atomic,
};

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Re-render a saved report.json (written by `--report-dir`) in another format.
    Render(RenderArgs),
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The report.json to read.
    pub report: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
    /// Write to FILE (atomically: temp file, then rename) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown for a change ticket.
    #[value(alias = "markdown")]
    Md,
    /// One self-contained HTML page.
    Html,
    /// JUnit XML for CI.
    #[value(alias = "xml")]
    Junit,
    /// The report itself, normalised.
    Json,
}

pub fn run(cmd: ReportCommand) -> Result<Outcome, CliError> {
    match cmd {
        ReportCommand::Render(args) => render(&args),
    }
}

fn render(args: &RenderArgs) -> Result<Outcome, CliError> {
    let path = &args.report;
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::input(format!("{}: cannot read report: {e}", path.display())))?;
    let report = load_json(&bytes).map_err(|e| load_error(path, &e))?;
    let text = match args.format {
        Format::Md => render_markdown(&report),
        Format::Html => render_html(&report).map_err(CliError::internal)?,
        Format::Junit => render_junit(&report).map_err(CliError::internal)?,
        Format::Json => render_json(&report),
    };
    match &args.out {
        Some(out) => write_atomic(out, text.as_bytes())
            .map_err(|e| CliError::internal(format!("failed to write {}: {e}", out.display())))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => {}
                // `corsfleet report render ... | head` is fine.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(CliError::internal(format!("failed to write stdout: {e}"))),
            }
        }
    }
    Ok(Outcome::Success)
}

fn load_error(path: &Path, err: &ReportError) -> CliError {
    match err {
        ReportError::Parse {
            line,
            column,
            message,
        } => CliError::input(format!("{}:{line}:{column}: {message}", path.display())),
        ReportError::UnsupportedSchema { .. } => CliError::input_with_hint(
            format!("{}: {err}", path.display()),
            "re-render with the corsfleet version that wrote the report",
        ),
        other => CliError::input(format!("{}: {other}", path.display())),
    }
}
