//! `LocalTransport`: the [`Transport`] trait on the local filesystem.
//!
//! Used by the embedded demo and by tests against `ucce-sim` roots. With a root folder,
//! `C:\a\b` lives at `ROOT/C:/a/b`, the layout the simulator uses; without one it lives at
//! `/C:/a/b`, which is how the Linux simulator image spells it. Commands are built with
//! [`command_line`]`(cmd, RemoteShell::Cmd)` and handed to an injected [`CommandExecutor`], so
//! the demo can route them to the simulator's cmd.exe emulation and exercise exactly the
//! line an SSH host would get.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{
    ExecOutput, FileStat, RemoteCommand, RemoteShell, Transport, TransportError, WinPath,
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
        let out = self.executor.run(&line)?;
        crate::command::settle_exit(cmd, RemoteShell::Cmd, out)
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
        let (mut src, total) = crate::open_upload(local)?;
        self.replace_with(remote, &mut |f| {
            crate::copy_with_progress(&mut src, local, f, remote, total, progress)
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records the lines it is given and answers with a fixed exit code.
    #[derive(Debug, Default)]
    struct Recorder {
        lines: Mutex<Vec<String>>,
    }

    impl CommandExecutor for Recorder {
        fn run(&self, command_line: &str) -> Result<ExecOutput, TransportError> {
            self.lines
                .lock()
                .map_err(|_| TransportError::Poisoned)?
                .push(command_line.to_owned());
            // Like cmd.exe: the wrapper echoes the waited program's code and exits 0.
            Ok(ExecOutput {
                exit_code: 0,
                stdout: "corsfleet-exit=3010\r\n".to_owned(),
                stderr: String::new(),
            })
        }
    }

    fn wp(s: &str) -> WinPath {
        WinPath::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn setup() -> (tempfile::TempDir, LocalTransport) {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let t = LocalTransport::new(Some(root.path().to_owned()), Arc::new(ShellExecutor));
        (root, t)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn maps_windows_paths_below_the_root() {
        let (root, t) = setup();
        assert_eq!(
            t.local_path(&wp(r"C:\icm\tomcat\bin\i386\web.config")),
            root.path().join("C:/icm/tomcat/bin/i386/web.config")
        );
        let bare = LocalTransport::new(None, Arc::new(ShellExecutor));
        assert_eq!(bare.local_path(&wp(r"c:\x\y")), PathBuf::from("/C:/x/y"));
        assert_eq!(bare.describe(), "local");
        assert!(t.describe().starts_with("local /"));
    }

    #[test]
    fn write_read_stat_replace_remove() {
        let (root, t) = setup();
        let dir = wp(r"C:\icm\tomcat\bin\i386");
        let f = dir.join("web.config").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            t.write_file_atomic(&f, b"x").is_err(),
            "the folder does not exist yet"
        );
        t.create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.stat(&f).ok(), Some(None));
        assert!(matches!(
            t.read_file(&f),
            Err(TransportError::NotFound { .. })
        ));
        t.write_file_atomic(&f, b"<configuration/>")
            .unwrap_or_else(|e| panic!("{e}"));
        t.write_file_atomic(&f, b"<configuration><x/></configuration>")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.read_file(&f).ok().as_deref(),
            Some(&b"<configuration><x/></configuration>"[..])
        );
        let st = t.stat(&f).ok().flatten().unwrap_or_else(|| panic!("stat"));
        assert_eq!((st.size, st.is_dir), (35, false));
        assert!(st.modified.is_some());
        assert_eq!(t.stat(&dir).ok().flatten().map(|s| s.is_dir), Some(true));
        let local_dir = root.path().join("C:/icm/tomcat/bin/i386");
        assert_eq!(entries(&local_dir), ["web.config"]);
        t.remove_file(&f).unwrap_or_else(|e| panic!("{e}"));
        t.remove_file(&f)
            .unwrap_or_else(|e| panic!("idempotent: {e}"));
        assert!(entries(&local_dir).is_empty());
    }

    #[test]
    fn upload_reports_progress() {
        let (root, t) = setup();
        let src = root.path().join("pkg.msi");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&src, &data).unwrap_or_else(|e| panic!("{e}"));
        t.create_dir_all(&wp(r"C:\corsfleet"))
            .unwrap_or_else(|e| panic!("{e}"));
        let dest = wp(r"C:\corsfleet\pkg.msi");
        let mut seen = Vec::new();
        t.upload(&src, &dest, &mut |d, n| seen.push((d, n)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.read_file(&dest).ok(), Some(data));
        assert_eq!(seen.first(), Some(&(0, 200_000)));
        assert_eq!(seen.last(), Some(&(200_000, 200_000)));
        assert_eq!(seen.len(), 1 + 200_000usize.div_ceil(crate::CHUNK));
        assert_eq!(entries(&root.path().join("C:/corsfleet")), ["pkg.msi"]);
    }

    #[test]
    fn exec_hands_the_cmd_line_to_the_executor() {
        let rec = Arc::new(Recorder::default());
        let t = LocalTransport::new(None, rec.clone());
        let out = t
            .exec(&RemoteCommand::gui(
                "msiexec",
                ["/i", r"C:\corsfleet\x.msi", "/qn"],
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.exit_code, 3010);
        assert!(t.exec(&RemoteCommand::new("reg", ["a&b"])).is_err());
        let lines = rec.lines.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(
            lines,
            [
                r#"cmd /v:on /c "start "" /wait msiexec /i C:\corsfleet\x.msi /qn & echo corsfleet-exit=!ERRORLEVEL!""#
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn shell_executor_reports_codes_and_signals() {
        let out = ShellExecutor
            .run("echo hi; echo no >&2; exit 3")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
            (3, "hi\n", "no\n")
        );
        assert!(matches!(
            ShellExecutor.run("kill -9 $$"),
            Err(TransportError::NoExitStatus { .. })
        ));
    }
}
