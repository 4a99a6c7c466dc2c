//! The one error type of the simulator's library, with messages that read after "failed to".

use std::{net::SocketAddr, path::PathBuf};

/// Errors of the simulator's library functions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A file or folder of the server root could not be read or written.
    #[error("access {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The root has no server certificate yet.
    #[error("find the server certificate at {path} (run `ucce-sim init` first)")]
    NotInitialized { path: PathBuf },
    /// Certificate generation failed.
    #[error("generate a test certificate")]
    Cert(#[from] rcgen::Error),
    /// A PEM file of the root could not be parsed.
    #[error("parse PEM file {path}")]
    Pem { path: PathBuf },
    /// rustls refused the certificate or key.
    #[error("build the TLS configuration")]
    Tls(#[from] rustls::Error),
    /// A listener could not be bound.
    #[error("listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A listener stopped with an I/O error.
    #[error("serve HTTPS")]
    Serve(#[source] std::io::Error),
    /// A server task panicked or was aborted.
    #[error("join a server task")]
    Join(#[from] tokio::task::JoinError),
    /// `sim-faults.yml` is not valid.
    #[error("read fault knobs from {path}")]
    Faults {
        path: PathBuf,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
}

impl SimError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SimError::Io {
            path: path.into(),
            source,
        }
    }
}
