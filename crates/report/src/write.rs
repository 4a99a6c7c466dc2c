//! `--report-dir DIR`: write all four formats, each atomically (temp file + rename), so a
//! reader (CI, an admin with the file open) never sees a half-written report.
//!
//! Everything is rendered before the first file is written, so a render error leaves the
//! directory as it was.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::model::RunReport;

/// File names inside the report directory.
pub const JSON_FILE: &str = "report.json";
pub const JUNIT_FILE: &str = "junit.xml";
pub const MARKDOWN_FILE: &str = "report.md";
pub const HTML_FILE: &str = "report.html";

/// Writes `report.json`, `junit.xml`, `report.md` and `report.html` into `dir` (created if
/// missing) and returns their paths in that order.
pub fn write_all(report: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let files = [
        (JSON_FILE, crate::render_json(report)),
        (JUNIT_FILE, crate::render_junit(report)?),
        (MARKDOWN_FILE, crate::render_markdown(report)),
        (HTML_FILE, crate::render_html(report)?),
    ];
    fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::with_capacity(files.len());
    for (name, contents) in files {
        let path = dir.join(name);
        write_atomic(&path, contents.as_bytes()).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` to `path` through a temp file in the same directory, then renames it over.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: do not leave temp files behind; the original error is what matters.
        let _ = fs::remove_file(&tmp);
    }
    result
}
