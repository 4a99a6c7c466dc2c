//! A minimal SFTP client for one request: `posix-rename@openssh.com`.
//!
//! ssh2 0.9's `Sftp::rename` sends a plain `SSH_FXP_RENAME` whatever flags it is given
//! (libssh2 only transmits the flags to SFTP version 5+ servers, and OpenSSH speaks version 3),
//! and a plain rename onto an existing file fails on OpenSSH and Windows OpenSSH alike. libssh2
//! has `libssh2_sftp_posix_rename_ex`, but ssh2 does not expose it and this workspace forbids
//! `unsafe`. So we open a second `sftp` subsystem channel on the same session and speak just
//! enough of the protocol (draft-ietf-secsh-filexfer-02 framing, OpenSSH's PROTOCOL file for
//! the extension): `INIT`/`VERSION` to learn whether the extension is offered, then
//! `EXTENDED "posix-rename@openssh.com" old new` and its `STATUS`.

use std::io::{self, Read as _, Write as _};

use ssh2::{Channel, Session};

const FXP_INIT: u8 = 1;
const FXP_VERSION: u8 = 2;
const FXP_STATUS: u8 = 101;
const FXP_EXTENDED: u8 = 200;
const EXTENSION: &str = "posix-rename@openssh.com";
/// Replies here are tiny; anything larger means we are out of sync.
const MAX_PACKET: u32 = 256 * 1024;

/// SFTP status codes we act on.
pub(crate) const FX_OK: u32 = 0;
pub(crate) const FX_PERMISSION_DENIED: u32 = 3;
pub(crate) const FX_OP_UNSUPPORTED: u32 = 8;

/// An open sftp channel used only for posix-rename.
pub(crate) struct PosixRename {
    channel: Channel,
    supported: bool,
    next_id: u32,
}

impl std::fmt::Debug for PosixRename {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PosixRename")
            .field("supported", &self.supported)
            .finish()
    }
}

/// Outcome of one rename request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    /// The server does not offer the extension, or answered OP_UNSUPPORTED / PERMISSION_DENIED
    /// (OpenSSH's `sftp-server -P posix-rename` denies it that way): use the fallback.
    Unsupported,
    /// Another SFTP status (code, message).
    Failed(u32, String),
}

impl PosixRename {
    pub(crate) fn open(session: &Session) -> io::Result<PosixRename> {
        let mut channel = session.channel_session().map_err(io::Error::other)?;
        channel.subsystem("sftp").map_err(io::Error::other)?;
        let mut me = PosixRename {
            channel,
            supported: false,
            next_id: 1,
        };
        let mut init = Vec::new();
        init.push(FXP_INIT);
        init.extend_from_slice(&3u32.to_be_bytes());
        me.send(&init)?;
        let reply = me.recv()?;
        let mut r = Reader(&reply);
        if r.u8()? != FXP_VERSION {
            return Err(bad("expected SSH_FXP_VERSION"));
        }
        let _version = r.u32()?;
        while !r.0.is_empty() {
            let name = r.string()?;
            let data = r.string()?;
            if name == EXTENSION.as_bytes() && data == b"1" {
                me.supported = true;
            }
        }
        Ok(me)
    }

    pub(crate) fn rename(&mut self, from: &str, to: &str) -> io::Result<Outcome> {
        if !self.supported {
            return Ok(Outcome::Unsupported);
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut p = Vec::new();
        p.push(FXP_EXTENDED);
        p.extend_from_slice(&id.to_be_bytes());
        put_string(&mut p, EXTENSION.as_bytes());
        put_string(&mut p, from.as_bytes());
        put_string(&mut p, to.as_bytes());
        self.send(&p)?;
        let reply = self.recv()?;
        let mut r = Reader(&reply);
        if r.u8()? != FXP_STATUS {
            return Err(bad("expected SSH_FXP_STATUS"));
        }
        if r.u32()? != id {
            return Err(bad("reply for another request id"));
        }
        let code = r.u32()?;
        let msg = r
            .string()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .unwrap_or_default();
        Ok(match code {
            FX_OK => Outcome::Done,
            FX_OP_UNSUPPORTED | FX_PERMISSION_DENIED => Outcome::Unsupported,
            other => Outcome::Failed(other, msg),
        })
    }

    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        let len = u32::try_from(payload.len()).map_err(|_| bad("request too large"))?;
        let mut framed = Vec::with_capacity(payload.len() + 4);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(payload);
        self.channel.write_all(&framed)?;
        self.channel.flush()
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.channel.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len);
        if len == 0 || len > MAX_PACKET {
            return Err(bad("implausible sftp packet length"));
        }
        let mut buf = vec![0u8; len as usize];
        self.channel.read_exact(&mut buf)?;
        Ok(buf)
    }
}

fn bad(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    // Paths are far below 4 GiB; saturate rather than panic on absurd input.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("truncated sftp packet"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> io::Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_parses_strings_and_refuses_truncation() {
        let mut p = Vec::new();
        p.push(FXP_VERSION);
        p.extend_from_slice(&3u32.to_be_bytes());
        put_string(&mut p, EXTENSION.as_bytes());
        put_string(&mut p, b"1");
        let mut r = Reader(&p);
        assert_eq!(r.u8().ok(), Some(FXP_VERSION));
        assert_eq!(r.u32().ok(), Some(3));
        assert_eq!(r.string().ok(), Some(EXTENSION.as_bytes()));
        assert_eq!(r.string().ok(), Some(&b"1"[..]));
        assert!(r.0.is_empty());
        let mut short = Reader(&[0, 0, 0, 9, b'x']);
        assert!(short.string().is_err());
    }
}
