//! Host-key verification against an OpenSSH `known_hosts` file.
//!
//! Name matching (plain names, comma lists, hashed `|1|salt|hash` entries, `[host]:port`) is
//! libssh2's `KnownHosts`; key-type handling and the file's lifecycle are ours, because
//! ssh2's `check_port` compares keys of any type and also accepts a plain `host` entry for a
//! non-default port, both of which OpenSSH does not do. So:
//!
//! - the name looked up is the one OpenSSH writes: `host` for port 22, `[host]:port`
//!   otherwise, or the `HostKeyAlias` verbatim;
//! - entries are grouped by key type and the presented key is checked only against entries of
//!   its own type; before the handshake the host-key algorithms already known for the host are
//!   preferred, so a host known by its ED25519 key is not reported "changed" just because
//!   libssh2 would have negotiated ECDSA;
//! - `@revoked` keys are refused; `@cert-authority` lines are not supported and ignored;
//!   lines libssh2 cannot parse are skipped (logged at debug level).
//!
//! `accept-new` appends under a process-wide mutex *and* an exclusive advisory lock on the
//! file, re-reading and re-checking after taking the lock, so eight hosts accepted in parallel
//! (or two corsfleet processes) never clobber each other or write duplicates.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use ssh2::{CheckResult, HostKeyType, KnownHostFileKind, Session};

use crate::TransportError;

/// The name OpenSSH records for `host:port` (or the alias, used verbatim like HostKeyAlias).
pub(crate) fn known_hosts_name(host: &str, port: u16, alias: Option<&str>) -> String {
    match alias {
        Some(a) => a.to_owned(),
        None if port == 22 => host.to_owned(),
        None => format!("[{host}]:{port}"),
    }
}

/// The key type as spelled in known_hosts.
pub(crate) fn key_type_name(t: HostKeyType) -> Option<&'static str> {
    Some(match t {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => return None,
    })
}

/// Host-key algorithms that produce a key of the given known_hosts type.
fn algorithms_for(key_type: &str) -> &'static [&'static str] {
    match key_type {
        "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        "ssh-dss" => &["ssh-dss"],
        "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
        "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
        "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
        "ssh-ed25519" => &["ssh-ed25519"],
        _ => &[],
    }
}

/// `ED25519 SHA256:…` like OpenSSH prints it (unpadded base64 of the SHA-256 of the blob).
pub(crate) fn fingerprint(t: HostKeyType, blob: &[u8]) -> String {
    let label = match t {
        HostKeyType::Rsa => "RSA",
        HostKeyType::Dss => "DSA",
        HostKeyType::Ecdsa256 | HostKeyType::Ecdsa384 | HostKeyType::Ecdsa521 => "ECDSA",
        HostKeyType::Ed25519 => "ED25519",
        HostKeyType::Unknown => "UNKNOWN",
    };
    let digest = Sha256::digest(blob);
    format!(
        "{label} SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// known_hosts content split the way the check needs it.
#[derive(Debug, Default)]
pub(crate) struct KnownHostsFile {
    /// key type → lines with that type (whole lines, for libssh2 to parse).
    by_type: BTreeMap<String, Vec<String>>,
    /// base64 blobs of `@revoked` keys.
    revoked: Vec<String>,
}

impl KnownHostsFile {
    pub(crate) fn parse(content: &str) -> KnownHostsFile {
        let mut file = KnownHostsFile::default();
        for line in content.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let Some(marker) = fields.first().filter(|f| f.starts_with('@')) {
                if let (true, Some(key)) = (*marker == "@revoked", fields.get(3)) {
                    file.revoked.push((*key).to_owned());
                }
                continue;
            }
            if let Some(key_type) = fields.get(1) {
                file.by_type
                    .entry((*key_type).to_owned())
                    .or_default()
                    .push(line.to_owned());
            }
        }
        file
    }

    /// Read `path`; a missing file is an empty one.
    pub(crate) fn read(path: &Path) -> Result<KnownHostsFile, TransportError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Self::parse(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(KnownHostsFile::default()),
            Err(source) => Err(TransportError::KnownHosts {
                op: "read",
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn check_type(
        &self,
        session: &Session,
        key_type: &str,
        name: &str,
        blob: &[u8],
    ) -> CheckResult {
        let Some(lines) = self.by_type.get(key_type) else {
            return CheckResult::NotFound;
        };
        let Ok(mut kh) = session.known_hosts() else {
            return CheckResult::Failure;
        };
        for line in lines {
            if let Err(e) = kh.read_str(line, KnownHostFileKind::OpenSSH) {
                tracing::debug!(error = %e, "skipping a known_hosts line libssh2 cannot parse");
            }
        }
        kh.check(name, blob)
    }

    /// Key types recorded for `name`.
    pub(crate) fn known_types(&self, session: &Session, name: &str) -> Vec<String> {
        // A probe key that can never match: a host entry of that type then reports Mismatch.
        const PROBE: &[u8] = b"corsfleet-probe-key";
        self.by_type
            .keys()
            .filter(|t| {
                matches!(
                    self.check_type(session, t, name, PROBE),
                    CheckResult::Mismatch
                )
            })
            .cloned()
            .collect()
    }

    /// Host-key algorithm preference: algorithms of known key types first, then the rest of
    /// what libssh2 supports in its own order. `None` when nothing is known (keep defaults).
    pub(crate) fn algorithm_preference(&self, session: &Session, name: &str) -> Option<String> {
        let known = self.known_types(session, name);
        if known.is_empty() {
            return None;
        }
        let supported = session
            .supported_algs(ssh2::MethodType::HostKey)
            .unwrap_or_default();
        let mut prefs: Vec<&str> = Vec::new();
        for t in &known {
            for a in algorithms_for(t) {
                if supported.contains(a) && !prefs.contains(a) {
                    prefs.push(a);
                }
            }
        }
        for a in supported {
            if !prefs.contains(&a) {
                prefs.push(a);
            }
        }
        Some(prefs.join(","))
    }

    pub(crate) fn lookup(
        &self,
        session: &Session,
        name: &str,
        key_type: &str,
        blob: &[u8],
    ) -> Lookup {
        let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
        if self.revoked.contains(&b64) {
            return Lookup::Revoked;
        }
        match self.check_type(session, key_type, name, blob) {
            CheckResult::Match => Lookup::Match,
            CheckResult::Mismatch => Lookup::Mismatch,
            CheckResult::NotFound | CheckResult::Failure => {
                let others = self.known_types(session, name);
                if others.is_empty() {
                    Lookup::NotFound
                } else {
                    Lookup::OtherTypes(others)
                }
            }
        }
    }
}

/// Result of looking up a presented host key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    Match,
    /// Same name and key type, different key.
    Mismatch,
    /// The name is known only with other key types (listed).
    OtherTypes(Vec<String>),
    NotFound,
    Revoked,
}

/// Everything the check needs about one connection.
pub(crate) struct Presented<'a> {
    pub name: &'a str,
    pub key_type: HostKeyType,
    pub blob: &'a [u8],
}

/// Verify the presented key; with `accept_new`, record an unknown one.
pub(crate) fn verify(
    session: &Session,
    path: &Path,
    presented: &Presented<'_>,
    accept_new: bool,
) -> Result<(), TransportError> {
    let fp = fingerprint(presented.key_type, presented.blob);
    let Some(type_name) = key_type_name(presented.key_type) else {
        return Err(TransportError::HostKeyChanged {
            host: presented.name.to_owned(),
            fingerprint: fp,
            detail: "the server presented a key of a type libssh2 does not know".to_owned(),
            known_hosts: path.to_owned(),
        });
    };
    let file = KnownHostsFile::read(path)?;
    match decide(
        &file.lookup(session, presented.name, type_name, presented.blob),
        presented,
        path,
        &fp,
    ) {
        Decision::Accept => Ok(()),
        Decision::Refuse(e)
            if !accept_new || !matches!(e, TransportError::HostKeyUnknown { .. }) =>
        {
            Err(e)
        }
        Decision::Refuse(_) => append_new(session, path, presented, type_name, &fp),
    }
}

enum Decision {
    Accept,
    Refuse(TransportError),
}

fn decide(lookup: &Lookup, p: &Presented<'_>, path: &Path, fp: &str) -> Decision {
    let changed = |detail: String| {
        Decision::Refuse(TransportError::HostKeyChanged {
            host: p.name.to_owned(),
            fingerprint: fp.to_owned(),
            detail,
            known_hosts: path.to_owned(),
        })
    };
    match lookup {
        Lookup::Match => Decision::Accept,
        Lookup::Mismatch => changed("a different key of the same type is recorded".to_owned()),
        Lookup::Revoked => changed("this key is marked @revoked".to_owned()),
        Lookup::OtherTypes(types) => changed(format!(
            "the host is recorded only with key type(s) {}, which the server did not offer although they were preferred",
            types.join(", ")
        )),
        Lookup::NotFound => Decision::Refuse(TransportError::HostKeyUnknown {
            host: p.name.to_owned(),
            fingerprint: fp.to_owned(),
            known_hosts: path.to_owned(),
        }),
    }
}

/// Serialises accept-new within this process; the file lock covers other processes.
static APPEND_LOCK: Mutex<()> = Mutex::new(());

fn append_new(
    session: &Session,
    path: &Path,
    p: &Presented<'_>,
    type_name: &str,
    fp: &str,
) -> Result<(), TransportError> {
    let _guard = APPEND_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let err = |op: &'static str| {
        move |source: io::Error| TransportError::KnownHosts {
            op,
            path: path.to_owned(),
            source,
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err("create the folder of"))?;
    }
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(err("open"))?;
    // Exclusive advisory lock, released when `f` is dropped (or the process dies).
    f.lock().map_err(err("lock"))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(err("read"))?;
    let content = String::from_utf8_lossy(&bytes);
    // Another host or process may have recorded this name while we waited.
    let file = KnownHostsFile::parse(&content);
    match decide(
        &file.lookup(session, p.name, type_name, p.blob),
        p,
        path,
        fp,
    ) {
        Decision::Accept => return Ok(()),
        Decision::Refuse(TransportError::HostKeyUnknown { .. }) => {}
        Decision::Refuse(e) => return Err(e),
    }
    let mut line = String::new();
    if !content.is_empty() && !content.ends_with('\n') {
        line.push('\n');
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(p.blob);
    line.push_str(&format!("{} {type_name} {b64}\n", p.name));
    // One write on an O_APPEND descriptor: lands at the end even if a lock-ignoring
    // writer appended meanwhile.
    f.write_all(line.as_bytes()).map_err(err("append to"))?;
    f.sync_all().map_err(err("flush"))?;
    tracing::info!(host = p.name, fingerprint = fp, file = %path.display(), "recorded new host key");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_openssh() {
        assert_eq!(known_hosts_name("10.0.0.5", 22, None), "10.0.0.5");
        assert_eq!(known_hosts_name("10.0.0.5", 2222, None), "[10.0.0.5]:2222");
        assert_eq!(
            known_hosts_name("10.0.0.5", 2222, Some("logger-a")),
            "logger-a"
        );
    }

    #[test]
    fn fingerprint_matches_openssh_format() {
        // The SHA-256 of the empty string, unpadded base64; tests/ssh.rs compares real keys
        // with `ssh-keygen -l`.
        assert_eq!(
            fingerprint(HostKeyType::Ed25519, b""),
            "ED25519 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn parse_groups_by_type_and_collects_revoked() {
        let f = KnownHostsFile::parse(
            "# comment\n\
             host1 ssh-ed25519 AAAA1\n\
             |1|c2FsdA==|aGFzaA== ssh-rsa AAAA2\n\
             @revoked * ssh-ed25519 AAAABAD\n\
             @cert-authority *.example ssh-ed25519 AAAACA\n\
             \n\
             garbage\n",
        );
        assert_eq!(f.by_type.get("ssh-ed25519").map(Vec::len), Some(1));
        assert_eq!(f.by_type.get("ssh-rsa").map(Vec::len), Some(1));
        assert_eq!(f.revoked, ["AAAABAD"]);
        assert_eq!(f.by_type.len(), 2);
    }
}
