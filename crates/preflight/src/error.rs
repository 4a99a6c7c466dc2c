//! The library's one error type. `Verifier::check` fails only when no verdict can be formed:
//! the probe itself is malformed, or the server could not be reached (DNS, connect, TLS,
//! timeout). Everything a browser would call a CORS failure is a `Verdict`, not an error.

use std::path::PathBuf;

/// Why a verifier could not be built or a probe could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The URL does not parse or is not http(s).
    #[error("invalid url '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The origin is not a serialisable http(s) origin.
    #[error("invalid origin '{origin}': {reason}")]
    InvalidOrigin { origin: String, reason: String },
    /// The method is not an HTTP token, or is one browsers refuse to send.
    #[error("invalid method '{method}': {reason}")]
    InvalidMethod { method: String, reason: String },
    /// A request header is not `name` or `name: value` with a valid name.
    #[error("invalid request header '{header}': {reason}")]
    InvalidHeader { header: String, reason: String },
    /// The CA file could not be read or holds no certificate.
    #[error("could not load ca file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    /// `--pin-sha256` is not 64 hex digits.
    #[error("invalid sha-256 pin: {reason}")]
    InvalidPin { reason: String },
    /// `--tls-server-name` is not a DNS name or IP address.
    #[error("invalid tls server name '{name}': {reason}")]
    InvalidServerName { name: String, reason: String },
    /// No trust anchor at all: no CA file, no system bundle, no pin, not insecure.
    #[error(
        "no trusted root certificates: no system bundle was found; pass a ca file, a sha-256 pin, or (unsafe) insecure mode"
    )]
    NoRoots,
    /// The proxy URL does not parse.
    #[error("invalid proxy '{proxy}': {reason}")]
    InvalidProxy { proxy: String, reason: String },
    /// rustls or reqwest refused the configuration.
    #[error("could not build the https client: {0}")]
    Client(String),
    /// The request never produced a response.
    #[error("{stage} request to {url} failed ({kind}): {message}")]
    Transport {
        stage: &'static str,
        url: String,
        kind: TransportKind,
        message: String,
    },
}

/// Coarse class of a transport failure, for exit codes and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// Name resolution or TCP connect failed.
    Connect,
    /// The TLS handshake failed (untrusted certificate, name or pin mismatch...).
    Tls,
    /// The connect or read timeout expired.
    Timeout,
    /// Anything else (protocol errors, connection reset mid-response).
    Other,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connect",
            TransportKind::Tls => "tls",
            TransportKind::Timeout => "timeout",
            TransportKind::Other => "http",
        })
    }
}

impl PreflightError {
    /// Map a reqwest error to a transport error whose message carries the whole source chain
    /// (reqwest's own Display stops at "error sending request", which explains nothing).
    pub(crate) fn transport(stage: &'static str, url: &str, err: &reqwest::Error) -> Self {
        let mut kind = if err.is_timeout() {
            TransportKind::Timeout
        } else if err.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Other
        };
        let mut parts: Vec<String> = Vec::new();
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
        while let Some(s) = source {
            if is_tls(s) {
                kind = TransportKind::Tls;
            }
            if s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            {
                kind = TransportKind::Timeout;
            }
            let text = s.to_string();
            // hyper and reqwest repeat the inner message in the outer one; keep each once.
            if !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
            source = s.source();
        }
        if parts.is_empty() {
            parts.push(err.to_string());
        }
        if kind == TransportKind::Timeout && !parts.iter().any(|p| p.contains("timed out")) {
            parts.push("operation timed out".to_owned());
        }
        PreflightError::Transport {
            stage,
            url: url.to_owned(),
            kind,
            message: parts.join(": "),
        }
    }
}

/// Whether a rustls error hides in `err`. hyper-util and tokio-rustls nest it inside
/// `io::Error`s, whose `source()` skips the wrapped error, so descend with `get_ref` too.
fn is_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    if err.is::<rustls::Error>() {
        return true;
    }
    match err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => is_tls(inner),
        None => false,
    }
}
