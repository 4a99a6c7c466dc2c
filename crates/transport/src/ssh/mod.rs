//! `SshTransport`: the [`Transport`] trait over ssh2 (libssh2) and SFTP.
//!
//! One TCP connection and SSH session per host, opened by [`SshTransport::connect`] and shared
//! by every task on that host through a mutex (libssh2 is blocking and not re-entrant; the
//! runner calls us from tokio's blocking pool). Connect order matters for safety: TCP with a
//! timeout, handshake, **host-key check** (see [`known_hosts`]), and only then authentication,
//! so a password is never offered to an unverified server. The password itself is read from
//! the environment variable named in the inventory at connect time and is never stored,
//! logged or put in an error.
//!
//! Files go over one SFTP channel opened at connect time. Atomic replacement writes a temp file
//! beside the target and renames it with `posix-rename@openssh.com` (see [`posix_rename`]);
//! servers without it get the documented two-rename fallback in
//! [`SshTransport::replace`] — see `docs/transport.md` for its exact guarantees.

mod known_hosts;
mod posix_rename;

use std::io::{self, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ssh2::{ErrorCode, OpenFlags, OpenType, RenameFlags, Session, Sftp};

use crate::{
    ExecOutput, FileStat, RemoteCommand, RemoteShell, Transport, TransportError, WinPath,
    command_line, temp_name,
};
use posix_rename::{Outcome, PosixRename};

/// How to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshAuth {
    /// A private key file (unencrypted, or loaded in no agent).
    KeyFile(PathBuf),
    /// Every identity the ssh-agent at `SSH_AUTH_SOCK` offers.
    Agent,
    /// A password read at connect time from the environment variable with this **name**.
    PasswordEnv(String),
}

/// What to do with a host key that is not in known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse unknown hosts (and changed keys).
    #[default]
    Strict,
    /// Record unknown hosts (OpenSSH's `StrictHostKeyChecking=accept-new`); changed keys are
    /// still refused.
    AcceptNew,
}

/// Everything needed to open a session. Contains no secret (passwords are named, not held).
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Host name or address.
    pub host: String,
    /// TCP port, usually 22.
    pub port: u16,
    /// Login name, e.g. `administrator` or `corp\svc-cors`.
    pub user: String,
    /// Authentication method.
    pub auth: SshAuth,
    /// OpenSSH known_hosts file.
    pub known_hosts: PathBuf,
    /// Unknown-host policy.
    pub host_key_policy: HostKeyPolicy,
    /// Limit for TCP connect, handshake and authentication (each blocking step).
    pub connect_timeout: Duration,
    /// Interval of SSH keepalive messages; zero disables them.
    pub keepalive: Duration,
    /// The server's default shell, which interprets exec lines.
    pub shell: RemoteShell,
    /// Name to look the host key up under instead of `host`/`[host]:port` (like HostKeyAlias).
    pub host_key_alias: Option<String>,
}

/// Longest time one SFTP call may stall (no bytes moving) before the host is failed.
const SFTP_STALL_TIMEOUT: Duration = Duration::from_secs(120);

struct Inner {
    session: Session,
    sftp: Sftp,
    /// Opened on first use; `None` until then.
    renamer: Option<PosixRename>,
    /// Set when opening the rename channel failed, to go straight to the fallback.
    renamer_failed: bool,
    /// Test hook: pretend the server lacks posix-rename.
    force_fallback: bool,
}

/// A connected host. Cheap to share behind an `Arc`; operations are serialised.
pub struct SshTransport {
    desc: String,
    shell: RemoteShell,
    keepalive: bool,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport")
            .field("target", &self.desc)
            .field("shell", &self.shell)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

impl SshTransport {
    /// Connect, verify the host key, authenticate and open the SFTP channel.
    pub fn connect(opts: &SshOptions) -> Result<SshTransport, TransportError> {
        let addr = format!("{}:{}", opts.host, opts.port);
        if opts.host.is_empty() || opts.host.contains(['\0', ' ', '/']) {
            return Err(TransportError::Connect {
                addr,
                source: io::Error::new(io::ErrorKind::InvalidInput, "invalid host name"),
            });
        }
        let tcp = connect_tcp(&opts.host, opts.port, opts.connect_timeout).map_err(|source| {
            TransportError::Connect {
                addr: addr.clone(),
                source,
            }
        })?;
        let handshake_err = |source: ssh2::Error| TransportError::Handshake {
            host: addr.clone(),
            source,
        };
        let mut session = Session::new().map_err(handshake_err)?;
        session.set_timeout(millis(opts.connect_timeout));

        let kh_name =
            known_hosts::known_hosts_name(&opts.host, opts.port, opts.host_key_alias.as_deref());
        if kh_name.contains('\0') {
            return Err(TransportError::Connect {
                addr,
                source: io::Error::new(io::ErrorKind::InvalidInput, "host key alias contains NUL"),
            });
        }
        let file = known_hosts::KnownHostsFile::read(&opts.known_hosts)?;
        if let Some(pref) = file.algorithm_preference(&session, &kh_name) {
            session
                .method_pref(ssh2::MethodType::HostKey, &pref)
                .map_err(handshake_err)?;
        }
        session.set_tcp_stream(tcp);
        session.handshake().map_err(|e| {
            if is_timeout(&e) {
                TransportError::Timeout {
                    op: format!("ssh handshake with {addr}"),
                }
            } else {
                handshake_err(e)
            }
        })?;

        let (blob, key_type) = session
            .host_key()
            .ok_or_else(|| handshake_err(ssh2::Error::from_session_error(&session, -1)))?;
        let blob = blob.to_vec();
        known_hosts::verify(
            &session,
            &opts.known_hosts,
            &known_hosts::Presented {
                name: &kh_name,
                key_type,
                blob: &blob,
            },
            opts.host_key_policy == HostKeyPolicy::AcceptNew,
        )?;

        authenticate(&session, opts, &addr)?;

        if !opts.keepalive.is_zero() {
            let secs = u32::try_from(opts.keepalive.as_secs().max(1)).unwrap_or(u32::MAX);
            session.set_keepalive(false, secs);
        }
        let sftp = session.sftp().map_err(|source| TransportError::Ssh {
            op: "open the sftp channel on",
            path: addr.clone(),
            source,
        })?;
        session.set_timeout(millis(SFTP_STALL_TIMEOUT));
        tracing::debug!(target = %addr, user = %opts.user, "ssh session ready");
        Ok(SshTransport {
            desc: format!("ssh {}@{}", opts.user, addr),
            shell: opts.shell,
            keepalive: !opts.keepalive.is_zero(),
            inner: Mutex::new(Inner {
                session,
                sftp,
                renamer: None,
                renamer_failed: false,
                force_fallback: false,
            }),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, TransportError> {
        let inner = self.inner.lock().map_err(|_| TransportError::Poisoned)?;
        if self.keepalive {
            // libssh2 only sends keepalives when asked; this sends one if the interval passed.
            inner
                .session
                .keepalive_send()
                .map_err(|source| TransportError::Ssh {
                    op: "send a keepalive to",
                    path: self.desc.clone(),
                    source,
                })?;
        }
        Ok(inner)
    }

    /// Run an already-built line through the server's shell, bypassing [`command_line`].
    /// For tests against non-Windows servers and for callers that built the line themselves.
    pub fn exec_raw(&self, line: &str) -> Result<ExecOutput, TransportError> {
        let inner = self.lock()?;
        let ssh_err = |op: &'static str| {
            move |source: ssh2::Error| TransportError::Ssh {
                op,
                path: "a remote command".to_owned(),
                source,
            }
        };
        let io_err = |op: &'static str| {
            move |source: io::Error| TransportError::Io {
                op,
                path: "the remote command".to_owned(),
                source,
            }
        };
        let mut ch = inner
            .session
            .channel_session()
            .map_err(ssh_err("open a channel for"))?;
        // A silent msiexec can run for minutes; the runner's task timeout bounds it instead.
        inner.session.set_timeout(0);
        let result = (|| {
            ch.exec(line).map_err(ssh_err("start"))?;
            // stderr is read after stdout; libssh2 buffers it meanwhile (up to the channel
            // window, 2 MiB), which is far above what the commands we run print.
            let mut stdout = Vec::new();
            ch.read_to_end(&mut stdout)
                .map_err(io_err("read the output of"))?;
            let mut stderr = Vec::new();
            ch.stderr()
                .read_to_end(&mut stderr)
                .map_err(io_err("read the error output of"))?;
            ch.wait_close().map_err(ssh_err("close the channel of"))?;
            let signal = ch
                .exit_signal()
                .map_err(ssh_err("read the exit signal of"))?;
            if let Some(sig) = signal.exit_signal {
                return Err(TransportError::NoExitStatus {
                    detail: format!("the command was killed by signal {sig}"),
                });
            }
            let exit_code = ch
                .exit_status()
                .map_err(ssh_err("read the exit status of"))?;
            Ok(ExecOutput {
                exit_code,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            })
        })();
        inner.session.set_timeout(millis(SFTP_STALL_TIMEOUT));
        result
    }

    /// Test hook: behave as if the server lacked `posix-rename@openssh.com`, to exercise the
    /// fallback against a server that has it.
    #[doc(hidden)]
    pub fn force_rename_fallback(&self, on: bool) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.force_fallback = on;
        }
    }

    /// Write `write`'s bytes to a temp file beside `target` and move it into place.
    fn replace_with(
        &self,
        target: &WinPath,
        write: &mut dyn FnMut(&mut ssh2::File) -> Result<(), TransportError>,
    ) -> Result<(), TransportError> {
        let parent = target.parent().ok_or_else(|| TransportError::InvalidPath {
            path: target.to_string(),
            reason: "a drive root is not a file",
        })?;
        let tmp = parent.join(&temp_name(target.file_name()))?;
        let mut inner = self.lock()?;
        let sftp_err = |op: &'static str, source: ssh2::Error| TransportError::Ssh {
            op,
            path: target.to_string(),
            source,
        };
        let tmp_sftp = tmp.sftp();
        let result = (|| {
            let mut f = inner
                .sftp
                .open_mode(
                    Path::new(&tmp_sftp),
                    OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                    0o644,
                    OpenType::File,
                )
                .map_err(|e| sftp_err("create a temp file beside", e))?;
            write(&mut f)?;
            if let Err(e) = f.fsync() {
                // fsync@openssh.com is an extension; without it the close below still flushes
                // to the server, which is all SFTP can promise.
                tracing::debug!(error = %e, "sftp fsync not available");
            }
            f.close()
                .map_err(|e| sftp_err("close a temp file for", e))?;
            drop(f);
            Self::replace(&mut inner, &tmp, target)
        })();
        if result.is_err() {
            let _ = inner.sftp.unlink(Path::new(&tmp_sftp));
        }
        result
    }

    /// Rename `tmp` onto `target`: posix-rename, else the two-rename fallback.
    ///
    /// Fallback, for servers without posix-rename (plain SFTP rename refuses to overwrite):
    /// 1. `target` → `.NAME.corsfleet-…bak`; on failure nothing changed.
    /// 2. `tmp` → `target`; on failure the backup is renamed back, and if even that fails the
    ///    error says where the old content is.
    /// 3. remove the backup; failure only leaves a stray backup file (logged).
    ///
    /// Between steps 1 and 2 the target is briefly missing: that window, two round trips, is
    /// the price of servers without posix-rename. The target is never left missing by a failure
    /// we can still talk to the server about.
    fn replace(inner: &mut Inner, tmp: &WinPath, target: &WinPath) -> Result<(), TransportError> {
        // Renaming a file onto itself deletes it on Win32-OpenSSH (#1849); names are
        // case-insensitive there.
        if tmp.as_str().eq_ignore_ascii_case(target.as_str()) {
            return Err(TransportError::Replace {
                path: target.to_string(),
                detail: "refusing to rename a file onto itself".to_owned(),
            });
        }
        let (from, to) = (tmp.sftp(), target.sftp());
        if !inner.force_fallback {
            if inner.renamer.is_none() && !inner.renamer_failed {
                match PosixRename::open(&inner.session) {
                    Ok(r) => inner.renamer = Some(r),
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot open an sftp channel for posix-rename");
                        inner.renamer_failed = true;
                    }
                }
            }
            if let Some(r) = inner.renamer.as_mut() {
                let outcome = match r.rename(&from, &to) {
                    Ok(o) => o,
                    Err(source) => {
                        // The channel may be out of sync now; open a fresh one next time.
                        inner.renamer = None;
                        return Err(TransportError::Io {
                            op: "posix-rename a temp file onto",
                            path: target.to_string(),
                            source,
                        });
                    }
                };
                match outcome {
                    Outcome::Done => return Ok(()),
                    Outcome::Unsupported => {}
                    Outcome::Failed(code, msg) => {
                        return Err(TransportError::Replace {
                            path: target.to_string(),
                            detail: format!(
                                "posix-rename failed with sftp status {code} ({msg}); the target is unchanged"
                            ),
                        });
                    }
                }
            }
        }
        tracing::debug!(target = %target, "posix-rename unavailable, using the two-rename fallback");
        let plain = Some(RenameFlags::empty());
        let exists = match inner.sftp.stat(Path::new(&to)) {
            Ok(_) => true,
            Err(e) if is_not_found(&e) => false,
            Err(source) => {
                return Err(TransportError::Ssh {
                    op: "stat",
                    path: target.to_string(),
                    source,
                });
            }
        };
        if !exists {
            return inner
                .sftp
                .rename(Path::new(&from), Path::new(&to), plain)
                .map_err(|source| TransportError::Ssh {
                    op: "rename a temp file onto",
                    path: target.to_string(),
                    source,
                });
        }
        let parent = target.parent().ok_or_else(|| TransportError::InvalidPath {
            path: target.to_string(),
            reason: "a drive root is not a file",
        })?;
        let bak_name = temp_name(target.file_name()).replace(".tmp", ".bak");
        let bak = parent.join(&bak_name)?;
        let bak_s = bak.sftp();
        inner
            .sftp
            .rename(Path::new(&to), Path::new(&bak_s), plain)
            .map_err(|e| TransportError::Replace {
                path: target.to_string(),
                detail: format!(
                    "moving the old file aside failed ({}); the target is unchanged",
                    e.message()
                ),
            })?;
        if let Err(e) = inner.sftp.rename(Path::new(&from), Path::new(&to), plain) {
            return Err(
                match inner.sftp.rename(Path::new(&bak_s), Path::new(&to), plain) {
                    Ok(()) => TransportError::Replace {
                        path: target.to_string(),
                        detail: format!(
                            "moving the new file into place failed ({}); the old file was restored",
                            e.message()
                        ),
                    },
                    Err(e2) => TransportError::Replace {
                        path: target.to_string(),
                        detail: format!(
                            "moving the new file into place failed ({}) and restoring the old one failed ({}); the old content is at {bak}",
                            e.message(),
                            e2.message()
                        ),
                    },
                },
            );
        }
        if let Err(e) = inner.sftp.unlink(Path::new(&bak_s)) {
            tracing::warn!(backup = %bak, error = %e, "replaced the file but could not remove the backup");
        }
        Ok(())
    }
}

fn connect_tcp(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address")
    }))
}

fn authenticate(session: &Session, opts: &SshOptions, addr: &str) -> Result<(), TransportError> {
    let fail = |reason: String| TransportError::Auth {
        user: opts.user.clone(),
        host: addr.to_owned(),
        reason,
    };
    let result = match &opts.auth {
        SshAuth::KeyFile(path) => session
            .userauth_pubkey_file(&opts.user, None, path, None)
            .map_err(|e| {
                fail(format!(
                    "the key {} was refused or unreadable: {}",
                    path.display(),
                    e.message()
                ))
            }),
        SshAuth::Agent => session.userauth_agent(&opts.user).map_err(|e| {
            fail(format!(
                "no ssh-agent identity was accepted: {}",
                e.message()
            ))
        }),
        SshAuth::PasswordEnv(var) => {
            let password = std::env::var(var).map_err(|_| {
                fail(format!(
                    "the password variable {var} is not set (or not unicode)"
                ))
            })?;
            // libssh2's messages never echo the password; ours name only the variable.
            session
                .userauth_password(&opts.user, &password)
                .map_err(|e| {
                    fail(format!(
                        "the password from {var} was refused: {}",
                        e.message()
                    ))
                })
        }
    };
    result?;
    if session.authenticated() {
        Ok(())
    } else {
        Err(fail(
            "the server did not complete authentication".to_owned(),
        ))
    }
}

/// SFTP "no such file" (2), or "no such path" (10, newer protocol versions).
fn is_not_found(e: &ssh2::Error) -> bool {
    matches!(e.code(), ErrorCode::SFTP(2) | ErrorCode::SFTP(10))
}

fn is_timeout(e: &ssh2::Error) -> bool {
    // LIBSSH2_ERROR_TIMEOUT
    matches!(e.code(), ErrorCode::Session(-9))
}

impl Transport for SshTransport {
    fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let line = command_line(cmd, self.shell)?;
        let out = self.exec_raw(&line)?;
        crate::command::settle_exit(cmd, self.shell, out)
    }

    fn read_file(&self, path: &WinPath) -> Result<Vec<u8>, TransportError> {
        let inner = self.lock()?;
        let mut f = inner.sftp.open(Path::new(&path.sftp())).map_err(|e| {
            if is_not_found(&e) {
                TransportError::NotFound {
                    path: path.to_string(),
                }
            } else {
                TransportError::Ssh {
                    op: "open",
                    path: path.to_string(),
                    source: e,
                }
            }
        })?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|source| TransportError::Io {
                op: "read",
                path: path.to_string(),
                source,
            })?;
        Ok(buf)
    }

    fn stat(&self, path: &WinPath) -> Result<Option<FileStat>, TransportError> {
        let inner = self.lock()?;
        match inner.sftp.stat(Path::new(&path.sftp())) {
            Ok(st) => Ok(Some(FileStat {
                size: st.size.unwrap_or(0),
                modified: st.mtime,
                is_dir: st.is_dir(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(TransportError::Ssh {
                op: "stat",
                path: path.to_string(),
                source,
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
        let inner = self.lock()?;
        match inner.sftp.unlink(Path::new(&path.sftp())) {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(TransportError::Ssh {
                op: "remove",
                path: path.to_string(),
                source,
            }),
        }
    }

    fn create_dir_all(&self, path: &WinPath) -> Result<(), TransportError> {
        let inner = self.lock()?;
        let mut chain = vec![path.clone()];
        while let Some(p) = chain.last().and_then(WinPath::parent) {
            chain.push(p);
        }
        for dir in chain.iter().rev().filter(|d| !d.file_name().is_empty()) {
            let s = dir.sftp();
            match inner.sftp.stat(Path::new(&s)) {
                Ok(st) if st.is_dir() => continue,
                Ok(_) => {
                    return Err(TransportError::InvalidPath {
                        path: dir.to_string(),
                        reason: "a file exists where a folder is needed",
                    });
                }
                Err(e) if is_not_found(&e) => {}
                Err(source) => {
                    return Err(TransportError::Ssh {
                        op: "stat",
                        path: dir.to_string(),
                        source,
                    });
                }
            }
            if let Err(source) = inner.sftp.mkdir(Path::new(&s), 0o755) {
                // Another task may have created it in between.
                if !inner.sftp.stat(Path::new(&s)).is_ok_and(|st| st.is_dir()) {
                    return Err(TransportError::Ssh {
                        op: "create folder",
                        path: dir.to_string(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.desc.clone()
    }
}
