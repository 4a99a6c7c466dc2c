//! `corsfleet webconfig patch|show`: the patch engine applied to one local file.
//!
//! The engine (`corsfleet-webconfig`) is pure; this module owns the I/O around it: reading the
//! file, turning flags into a `CorsPolicy`, writing the result atomically (temp file in the same
//! folder, then rename, so IIS never reads a half-written `web.config`) with a timestamped
//! backup beside it, and printing for people or (`--output json`) for scripts.
//!
//! Exit codes (docs/webconfig.md): 0 done (changed or unchanged); 2 bad input (the file is not
//! well-formed, a flag is invalid) with the file untouched; 3 `--check` found drift; 1 the file
//! could not be written.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use corsfleet_webconfig::{CorsPolicy, OriginRule, PatchError, patch, read_cors, unified_diff};

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum WebconfigCommand {
    /// Make the <cors> section of a web.config match the given origins; nothing else changes.
    ///
    /// Writes in place (temp file + rename) and keeps a timestamped backup beside the file when
    /// anything changes. Prints `changed` or `unchanged`.
    Patch(PatchArgs),
    /// Print the effective CORS policy of a web.config (YAML, or JSON with --output json).
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct PatchArgs {
    /// The web.config to patch in place.
    pub file: PathBuf,
    /// An allowed origin, `https://host[:port]` (repeat for each Finesse server).
    #[arg(long = "origin", value_name = "URL", required = true)]
    pub origins: Vec<String>,
    /// Access-Control-Max-Age in seconds for preflights (-1: header not sent).
    #[arg(
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        default_value_t = 120
    )]
    pub max_age: i64,
    /// Do not send Access-Control-Allow-Credentials (needed for origin `*`).
    #[arg(long)]
    pub no_credentials: bool,
    /// An allowed method; replaces the default list GET, POST, PUT, DELETE.
    #[arg(long = "allow-method", value_name = "METHOD")]
    pub allow_methods: Vec<String>,
    /// An allowed request header; replaces the default "allow all requested headers".
    #[arg(long = "allow-header", value_name = "HEADER")]
    pub allow_headers: Vec<String>,
    /// Let requests from unlisted origins through instead of answering 403.
    #[arg(long)]
    pub no_fail_unlisted_origins: bool,
    /// Scope CORS to one application: `<location path="PATH">`.
    #[arg(long, value_name = "PATH")]
    pub location: Option<String>,
    /// Write nothing; exit 3 if the file would change.
    #[arg(long)]
    pub check: bool,
    /// Print a unified diff of the change.
    #[arg(long)]
    pub diff: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PatchOutput::Text)]
    pub output: PatchOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PatchOutput {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The web.config to read.
    pub file: PathBuf,
    /// Read the section of `<location path="PATH">` instead of the file's own.
    #[arg(long, value_name = "PATH")]
    pub location: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowOutput::Yaml)]
    pub output: ShowOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowOutput {
    Yaml,
    Json,
}

pub fn run(cmd: WebconfigCommand) -> Result<Outcome, CliError> {
    match cmd {
        WebconfigCommand::Patch(args) => run_patch(&args),
        WebconfigCommand::Show(args) => run_show(&args),
    }
}

/// Flags → policy (resolve step); the engine validates it again, this reports flag errors early.
fn policy_from(args: &PatchArgs) -> Result<CorsPolicy, CliError> {
    let max_age = match args.max_age {
        -1 => None,
        n => Some(u32::try_from(n).map_err(|_| {
            CliError::input(format!(
                "--max-age {n}: must be -1 or a number from 0 to {}",
                u32::MAX
            ))
        })?),
    };
    let origins = args
        .origins
        .iter()
        .map(|o| {
            let mut rule = OriginRule::recommended(o.trim());
            rule.origin = o.trim().to_owned();
            rule.allow_credentials = !args.no_credentials;
            rule.max_age = max_age;
            if !args.allow_methods.is_empty() {
                rule.allow_methods = args.allow_methods.clone();
            }
            if !args.allow_headers.is_empty() {
                rule.allow_all_requested_headers = false;
                rule.allow_headers = args.allow_headers.clone();
            }
            rule
        })
        .collect();
    let policy = CorsPolicy {
        enabled: true,
        fail_unlisted_origins: !args.no_fail_unlisted_origins,
        location: args.location.clone(),
        origins,
    };
    policy.validate().map_err(|e| {
        let hint = match e {
            corsfleet_webconfig::PolicyError::WildcardWithCredentials => {
                Some("add --no-credentials, or list the real origins")
            }
            _ => None,
        };
        match hint {
            Some(h) => CliError::input_with_hint(e.to_string(), h),
            None => CliError::input(e.to_string()),
        }
    })?;
    Ok(policy)
}

fn read_input(path: &Path) -> Result<Vec<u8>, CliError> {
    fs::read(path).map_err(|e| CliError::input(format!("{}: cannot read: {e}", path.display())))
}

fn engine_error(path: &Path, e: PatchError) -> CliError {
    match e {
        PatchError::OutputInvalid { .. } => CliError::internal(format!("{}: {e}", path.display())),
        PatchError::Policy(p) => CliError::input(p.to_string()),
        // Positional errors already read `LINE:COL: message`.
        other => CliError::input(format!("{}:{other}", path.display())),
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn run_patch(args: &PatchArgs) -> Result<Outcome, CliError> {
    let policy = policy_from(args)?;
    let path = &args.file;
    let old = read_input(path)?;
    let result = patch(&old, &policy).map_err(|e| engine_error(path, e))?;
    let label = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let diff = if args.diff {
        Some(unified_diff(&old, &result.bytes, &label))
    } else {
        None
    };

    let mut backup = None;
    if result.changed && !args.check {
        let b = write_backup(path, &old).map_err(|e| {
            CliError::internal(format!("{}: cannot write backup: {e}", path.display()))
        })?;
        write_atomic(path, &result.bytes)
            .map_err(|e| CliError::internal(format!("{}: cannot write: {e}", path.display())))?;
        backup = Some(b);
    }

    match args.output {
        PatchOutput::Json => {
            let doc = serde_json::json!({
                "file": path.display().to_string(),
                "changed": result.changed,
                "written": backup.is_some(),
                "check": args.check,
                "backup": backup.as_ref().map(|b| b.display().to_string()),
                "drift": result.drift,
                "warnings": result.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "diff": diff,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).map_err(CliError::internal)?
            );
        }
        PatchOutput::Text => {
            for w in &result.warnings {
                eprintln!("warning: {w}");
            }
            if let Some(d) = &diff {
                print!("{d}");
            }
            if let Some(b) = &backup {
                eprintln!("backup: {}", b.display());
            }
            if args.check && result.changed {
                eprintln!("check mode: {} not written", path.display());
            }
            println!(
                "{}",
                if result.changed {
                    "changed"
                } else {
                    "unchanged"
                }
            );
        }
    }
    Ok(if args.check && result.changed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn run_show(args: &ShowArgs) -> Result<Outcome, CliError> {
    let path = &args.file;
    let bytes = read_input(path)?;
    let found = read_cors(&bytes, args.location.as_deref()).map_err(|e| engine_error(path, e))?;
    if found.is_none() {
        eprintln!("no <cors> section found in {}", path.display());
    }
    let text = match args.output {
        ShowOutput::Json => {
            serde_json::to_string_pretty(&found).map_err(CliError::internal)? + "\n"
        }
        ShowOutput::Yaml => match &found {
            Some(p) => serde_saphyr::to_string(p).map_err(CliError::internal)?,
            None => "null\n".to_owned(),
        },
    };
    print!("{text}");
    Ok(Outcome::Success)
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// Writes `bytes` to a new file in the same folder, then renames it over `path`, so readers
/// (IIS) see either the old or the new file, never a partial one.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.corsfleet-{}.tmp", unique_suffix()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&tmp, meta.permissions())?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `FILE.corsfleet-YYYYMMDDTHHMMSSZ.bak` beside the file (the name `run` uses too); never
/// overwrites an earlier backup.
fn write_backup(path: &Path, old: &[u8]) -> std::io::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let base = path.as_os_str().to_string_lossy().into_owned();
    for n in 0..1000 {
        let candidate = if n == 0 {
            PathBuf::from(format!("{base}.corsfleet-{stamp}.bak"))
        } else {
            PathBuf::from(format!("{base}.corsfleet-{stamp}-{n}.bak"))
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                f.write_all(old)?;
                f.sync_all()?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "too many backups with the same timestamp",
    ))
}
