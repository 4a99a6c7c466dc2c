//! `LocalTransport`: the [`Transport`] trait on the local filesystem.
//!
//! Used by the embedded demo and by tests against `ucce-sim` roots. With a root folder,
//! `C:\a\b` lives at `ROOT/C:/a/b`, the layout the simulator uses; without one it lives at
//! `/C:/a/b`, which is how the Linux simulator image spells it. Commands are built with
//! [`command_line`]`(cmd, RemoteShell::Cmd)` and handed to an injected [`CommandExecutor`], so
//! the demo can route them to the simulator's cmd.exe emulation and exercise exactly the
//! line an SSH host would get.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{
    CHUNK, ExecOutput, FileStat, RemoteCommand, RemoteShell, Transport, TransportError, WinPath,
    command_line, temp_name,
};

/// Runs a finished command line (cmd.exe syntax) and reports its outcome.
pub trait CommandExecutor: Send + Sync + std::fmt::Debug {
    /// Run `command_line` and wait for it.
    fn run(&self, command_line: &str) -> Result<ExecOutput, TransportError>;
}

/// Runs the line with the local shell: `sh -c LINE` on Unix, `cmd /C LINE` on Windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShellExecutor;

impl CommandExecutor for ShellExecutor {
    fn run(&self, command_line: &str) -> Result<ExecOutput, TransportError> {
        let (shell, flag) = if cfg!(windows) {
            ("cmd", "/C")
        } else {
            ("sh", "-c")
        };
        let out = std::process::Command::new(shell)
            .arg(flag)
            .arg(command_line)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| TransportError::Spawn {
                program: shell.to_owned(),
                source,
            })?;
        let exit_code = match out.status.code() {
            Some(c) => c,
            None => {
                return Err(TransportError::NoExitStatus {
                    detail: describe_signal(&out.status),
                });
            }
        };
        Ok(ExecOutput {
            exit_code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

#[cfg(unix)]
fn describe_signal(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match status.signal() {
        Some(sig) => format!("killed by signal {sig}"),
        None => "the process reported no exit code".to_owned(),
    }
}

#[cfg(not(unix))]
fn describe_signal(_status: &std::process::ExitStatus) -> String {
    "the process reported no exit code".to_owned()
}

/// The local filesystem as a Windows host.
#[derive(Debug, Clone)]
pub struct LocalTransport {
    root: Option<PathBuf>,
    executor: Arc<dyn CommandExecutor>,
}

impl LocalTransport {
    /// `root`: folder that holds `C:` etc.; `None` means `/`.
    pub fn new(root: Option<PathBuf>, executor: Arc<dyn CommandExecutor>) -> Self {
        LocalTransport { root, executor }
    }

    /// Where `path` lives locally: `ROOT/C:/a/b`.
    pub fn local_path(&self, path: &WinPath) -> PathBuf {
        let mut p = self.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        p.push(format!("{}:", path.drive()));
        for c in path.components() {
            p.push(c);
        }
        p
    }

    /// Write `source` to a temp file beside `target`, then rename it over `target`.
    fn replace_with(
        &self,
        target: &WinPath,
        write: &mut dyn FnMut(&mut File) -> Result<(), TransportError>,
    ) -> Result<(), TransportError> {
        let dest = self.local_path(target);
        let dir = dest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let tmp = dir.join(temp_name(target.file_name()));
        let io_err = |op: &'static str, source: io::Error| TransportError::Io {
            op,
            path: target.to_string(),
            source,
        };
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| io_err("create a temp file beside", e))?;
            write(&mut f)?;
            f.sync_all().map_err(|e| io_err("flush", e))?;
            drop(f);
            fs::rename(&tmp, &dest).map_err(|e| io_err("rename a temp file onto", e))?;
            // Persist the rename itself; best effort, some filesystems refuse to open folders.
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

fn map_not_found(path: &WinPath, op: &'static str, e: io::Error) -> TransportError {
    if e.kind() == io::ErrorKind::NotFound {
        TransportError::NotFound {
            path: path.to_string(),
        }
    } else {
        TransportError::Io {
            op,
            path: path.to_string(),
            source: e,
        }
    }
}

impl Transport for LocalTransport {
    fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let line = command_line(cmd, RemoteShell::Cmd)?;
        self.executor.run(&line)
    }

    fn read_file(&self, path: &WinPath) -> Result<Vec<u8>, TransportError> {
        fs::read(self.local_path(path)).map_err(|e| map_not_found(path, "read", e))
    }

    fn stat(&self, path: &WinPath) -> Result<Option<FileStat>, TransportError> {
        match fs::metadata(self.local_path(path)) {
            Ok(m) => Ok(Some(FileStat {
                size: m.len(),
                modified: m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs()),
                is_dir: m.is_dir(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TransportError::Io {
                op: "stat",
                path: path.to_string(),
                source: e,
            }),
        }
    }

    fn write_file_atomic(&self, path: &WinPath, bytes: &[u8]) -> Result<(), TransportError> {
        self.replace_with(path, &mut |f| {
            f.write_all(bytes).map_err(|source| TransportError::Io {
                op: "write a temp file for",
                path: path.to_string(),
                source,
            })
        })
    }

    fn upload(
        &self,
        local: &Path,
        remote: &WinPath,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), TransportError> {
        let local_err = |op: &'static str, source: io::Error| TransportError::Io {
            op,
            path: local.display().to_string(),
            source,
        };
        let mut src = File::open(local).map_err(|e| local_err("open", e))?;
        let total = src.metadata().map_err(|e| local_err("stat", e))?.len();
        self.replace_with(remote, &mut |f| {
            let mut buf = vec![0u8; CHUNK];
            let mut done = 0u64;
            progress(0, total);
            loop {
                let n = src.read(&mut buf).map_err(|e| local_err("read", e))?;
                if n == 0 {
                    break;
                }
                f.write_all(&buf[..n])
                    .map_err(|source| TransportError::Io {
                        op: "write a temp file for",
                        path: remote.to_string(),
                        source,
                    })?;
                done += n as u64;
                progress(done, total);
            }
            Ok(())
        })
    }

    fn remove_file(&self, path: &WinPath) -> Result<(), TransportError> {
        match fs::remove_file(self.local_path(path)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(TransportError::Io {
                op: "remove",
                path: path.to_string(),
                source: e,
            }),
        }
    }

    fn create_dir_all(&self, path: &WinPath) -> Result<(), TransportError> {
        fs::create_dir_all(self.local_path(path)).map_err(|source| TransportError::Io {
            op: "create folder",
            path: path.to_string(),
            source,
        })
    }

    fn describe(&self) -> String {
        match &self.root {
            Some(r) => format!("local {}", r.display()),
            None => "local".to_owned(),
        }
    }
}
