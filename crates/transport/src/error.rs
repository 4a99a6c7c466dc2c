//! The one error type of the transport layer.
//!
//! Messages are lowercase and read after "failed to" ("failed to connect to 10.0.0.5:22").
//! They never carry secrets: a password is only ever named by its environment variable, and
//! unsafe command arguments are reported by position and offending character, not by value
//! (an msiexec property can hold a secret).

use std::path::PathBuf;

/// Everything that can go wrong while talking to a host.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP connection could not be opened (refused, unreachable, timed out).
    #[error("connect to {addr}")]
    Connect {
        /// `host:port` as dialled.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The SSH protocol handshake failed after the TCP connection was up.
    #[error("complete the ssh handshake with {host}")]
    Handshake {
        /// `host:port`.
        host: String,
        /// libssh2's error.
        #[source]
        source: ssh2::Error,
    },
    /// The server's host key is not in known_hosts and the policy is strict.
    #[error(
        "verify the host key of {host}: the key {fingerprint} is not in {known_hosts} \
         (add it with ssh-keyscan, or run once with --accept-new-host-keys)"
    )]
    HostKeyUnknown {
        /// The known_hosts name checked: `host` or `[host]:port`.
        host: String,
        /// `ED25519 SHA256:…`, as OpenSSH prints it.
        fingerprint: String,
        /// The known_hosts file consulted.
        known_hosts: PathBuf,
    },
    /// The server presented a key different from the recorded one. Always refused.
    #[error(
        "verify the host key of {host}: the host key has changed, the server now presents \
         {fingerprint} ({detail}); refusing the host (possible man-in-the-middle); \
         if the change is expected, remove the old entry from {known_hosts}"
    )]
    HostKeyChanged {
        /// The known_hosts name checked.
        host: String,
        /// Fingerprint of the key the server presented now.
        fingerprint: String,
        /// What differs (same key type with another key, other key type, revoked key).
        detail: String,
        /// The known_hosts file consulted.
        known_hosts: PathBuf,
    },
    /// known_hosts could not be read, locked or appended to.
    #[error("{op} known_hosts file {path}")]
    KnownHosts {
        /// What was attempted ("read", "lock", "append to").
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Authentication was refused or could not be attempted.
    #[error("authenticate as {user} on {host}: {reason}")]
    Auth {
        /// Login name.
        user: String,
        /// `host:port`.
        host: String,
        /// Why, without any secret.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{op} {path}")]
    Io {
        /// What was attempted ("read", "write", "rename", …).
        op: &'static str,
        /// The path involved (local path, or the Windows path for remote targets).
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An SSH or SFTP operation failed.
    #[error("{op} {path} over ssh")]
    Ssh {
        /// What was attempted ("open", "read", "rename", "exec", …).
        op: &'static str,
        /// The Windows path (or command description) involved.
        path: String,
        /// libssh2's error.
        #[source]
        source: ssh2::Error,
    },
    /// The file or folder does not exist.
    #[error("find {path}: no such file or folder")]
    NotFound {
        /// The Windows path.
        path: String,
    },
    /// The remote command ended without reporting an exit status. Never treated as 0.
    #[error("get the exit status of the remote command: {detail}")]
    NoExitStatus {
        /// E.g. "killed by signal KILL".
        detail: String,
    },
    /// A path from a playbook is not an acceptable absolute Windows path.
    #[error("use {path:?} as a windows path: {reason}")]
    InvalidPath {
        /// The offending input.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A command argument cannot be quoted safely for the remote shell.
    #[error(
        "build the remote command line: argument {index} contains {what}, which cannot be passed safely"
    )]
    UnsafeArgument {
        /// 0 = the program, 1.. = arguments.
        index: usize,
        /// Description of the offending character (never the argument's value).
        what: String,
    },
    /// The command line exceeds cmd.exe's limit.
    #[error("build the remote command line: it is {len} characters long, cmd.exe allows {max}")]
    CommandTooLong {
        /// Actual length.
        len: usize,
        /// The limit (8191).
        max: usize,
    },
    /// Replacing a file by renaming failed; `detail` says what state the target was left in.
    #[error("replace {path}: {detail}")]
    Replace {
        /// The target Windows path.
        path: String,
        /// What happened, including where the old content is if it could not be restored.
        detail: String,
    },
    /// A local command could not be started.
    #[error("start local command {program}")]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An operation took too long.
    #[error("{op}: timed out")]
    Timeout {
        /// What timed out.
        op: String,
    },
    /// The operation is not supported by this transport.
    #[error("{op}: not supported by this transport")]
    Unsupported {
        /// The operation.
        op: &'static str,
    },
    /// The SSH session's lock was poisoned by a panic in another task on this host.
    #[error("use the ssh session: a previous operation on it panicked")]
    Poisoned,
}
