//! corsfleet's way of touching a host: one blocking [`Transport`] trait and two
//! implementations.
//!
//! - [`SshTransport`]: ssh2 (libssh2) + SFTP against Windows OpenSSH, with strict host-key
//!   checking against an OpenSSH `known_hosts` file.
//! - [`LocalTransport`]: the local filesystem, optionally below a root folder that mirrors
//!   drive `C:` as `ROOT/C:/…` (the UCCE simulator's layout), with an injectable
//!   [`CommandExecutor`].
//!
//! The trait is blocking on purpose: libssh2 is a blocking C library, so the runner calls us
//! from tokio's blocking pool, one session per host shared by that host's tasks. Remote paths
//! are Windows paths ([`WinPath`]); this crate is the only place that maps them to SFTP or
//! local spellings. Commands are built by [`command_line`] so that msiexec is waited for under
//! both of Windows OpenSSH's default shells. File writes are atomic (temp name in the same
//! folder, then rename), because a half-written `web.config` takes the whole IIS site down
//! with HTTP 500.19. See `docs/transport.md` for the rename fallback and its guarantees.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod command;
mod error;
mod local;
mod path;
mod ssh;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub use command::{MAX_CMD_LINE, RemoteCommand, RemoteShell, command_line, powershell_script};
pub use error::TransportError;
pub use local::{CommandExecutor, LocalTransport, ShellExecutor};
pub use path::WinPath;
pub use ssh::{HostKeyPolicy, SshAuth, SshOptions, SshTransport};

/// What a finished remote command reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code the remote side reported (a missing one is an error, never 0).
    pub exit_code: i32,
    /// Standard output, decoded lossily as UTF-8.
    pub stdout: String,
    /// Standard error, decoded lossily as UTF-8.
    pub stderr: String,
}

/// Metadata of a remote file or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch, when the server reports it.
    pub modified: Option<u64>,
    /// The path is a folder.
    pub is_dir: bool,
}

/// Blocking access to one host. Implementations are shared by all tasks of a host.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Run a command through the host's shell and wait for its exit status.
    fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError>;

    /// Read a whole file.
    fn read_file(&self, path: &WinPath) -> Result<Vec<u8>, TransportError>;

    /// Stat a path; `None` when it does not exist.
    fn stat(&self, path: &WinPath) -> Result<Option<FileStat>, TransportError>;

    /// Replace (or create) `path` with `bytes` atomically: write a temp file in the same
    /// folder, flush it, then rename it onto the target. The folder must exist.
    fn write_file_atomic(&self, path: &WinPath, bytes: &[u8]) -> Result<(), TransportError>;

    /// Copy a local file to `remote`, atomically like [`Transport::write_file_atomic`],
    /// calling `progress(done, total)` as bytes go out.
    fn upload(
        &self,
        local: &Path,
        remote: &WinPath,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), TransportError>;

    /// Remove a file. Removing a file that does not exist is not an error.
    fn remove_file(&self, path: &WinPath) -> Result<(), TransportError>;

    /// Create a folder and its missing parents. Existing folders are fine.
    fn create_dir_all(&self, path: &WinPath) -> Result<(), TransportError> {
        let _ = path;
        Err(TransportError::Unsupported {
            op: "create folders",
        })
    }

    /// A human description without secrets, e.g. `ssh administrator@10.0.0.5:22`.
    fn describe(&self) -> String;
}

/// Temp file name used beside `target_name`: hidden-ish, unique per process and call, and
/// never equal to the target (renaming a file onto itself deletes it on Win32-OpenSSH #1849).
pub(crate) fn temp_name(target_name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{target_name}.corsfleet-{}-{n}.tmp", std::process::id())
}

/// Size of the chunks uploads are written and reported in.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Open a local file for upload: the file and its size.
pub(crate) fn open_upload(local: &Path) -> Result<(std::fs::File, u64), TransportError> {
    let err = |op: &'static str| {
        move |source: std::io::Error| TransportError::Io {
            op,
            path: local.display().to_string(),
            source,
        }
    };
    let src = std::fs::File::open(local).map_err(err("open"))?;
    let total = src.metadata().map_err(err("stat"))?.len();
    Ok((src, total))
}

/// Copy an upload into the (temp) destination in [`CHUNK`]s, reporting `progress(done, total)`
/// from 0 to `total`. Shared by every transport so progress means the same everywhere.
pub(crate) fn copy_with_progress(
    src: &mut std::fs::File,
    local: &Path,
    dest: &mut dyn std::io::Write,
    remote: &WinPath,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), TransportError> {
    use std::io::Read as _;
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    progress(0, total);
    loop {
        let n = src.read(&mut buf).map_err(|source| TransportError::Io {
            op: "read",
            path: local.display().to_string(),
            source,
        })?;
        if n == 0 {
            return Ok(());
        }
        dest.write_all(&buf[..n])
            .map_err(|source| TransportError::Io {
                op: "upload to",
                path: remote.to_string(),
                source,
            })?;
        done += n as u64;
        progress(done, total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_unique_and_never_the_target() {
        let a = temp_name("web.config");
        let b = temp_name("web.config");
        assert_ne!(a, b);
        assert!(a.starts_with(".web.config.corsfleet-"));
        assert!(a.ends_with(".tmp"));
        assert!(!a.eq_ignore_ascii_case("web.config"));
    }
}
