//! Per-host state shared by the task modules of one run.
//!
//! The runner creates one [`HostContext`] per host after connecting. Modules record facts in
//! it (is the CORS module installed? would an install happen in check mode?) and the
//! backups they made, so later modules can decide and the preflight can roll back.

use std::sync::{Arc, Mutex, MutexGuard};

use corsfleet_preflight::{Timeouts, TlsOptions};
use corsfleet_transport::{Transport, TransportError, WinPath};

/// A failed step inside a module: the transport failed, or a safety check did.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{0}")]
    Check(String),
}

/// Why the tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Converge: apply changes.
    Apply,
    /// `--check`: compute and report changes, write nothing.
    Check,
    /// `verify`: read-only audit; differences are drift.
    Verify,
}

impl Mode {
    /// Whether modules may change the host.
    pub fn writes(self) -> bool {
        self == Mode::Apply
    }
}

/// Where the host's Config API answers HTTPS, for `cors_preflight` defaults.
#[derive(Debug, Clone)]
pub struct PreflightTarget {
    /// Host name or address used in the default URL.
    pub address: String,
    pub https_port: u16,
    pub tls: TlsOptions,
    pub timeouts: Timeouts,
}

/// A web.config this run replaced, with the bytes to put back on a failed verification.
#[derive(Debug, Clone)]
pub struct Backup {
    pub path: WinPath,
    pub backup_path: WinPath,
    pub original: Vec<u8>,
    pub written: Vec<u8>,
}

/// What the modules have learnt about the host so far.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub iis_major: Option<u32>,
    /// The three marks of DOMAIN.md are all present.
    pub cors_module_installed: Option<bool>,
    /// Check mode: an `msi_install` reported that it would install the module.
    pub cors_module_pending: bool,
    /// Some module changed (or, in check mode, would change) something on this host.
    pub changed_anything: bool,
    pub reboot_required: bool,
}

/// Everything a module needs to work on one host.
#[derive(Debug)]
pub struct HostContext {
    pub host: String,
    pub transport: Arc<dyn Transport>,
    pub mode: Mode,
    pub preflight: PreflightTarget,
    /// Restore web.config backups when a verification fails (default on).
    pub rollback: bool,
    facts: Mutex<HostFacts>,
    backups: Mutex<Vec<Backup>>,
}

impl HostContext {
    pub fn new(
        host: String,
        transport: Arc<dyn Transport>,
        mode: Mode,
        preflight: PreflightTarget,
    ) -> Self {
        Self {
            host,
            transport,
            mode,
            preflight,
            rollback: true,
            facts: Mutex::new(HostFacts::default()),
            backups: Mutex::new(Vec::new()),
        }
    }

    /// The facts gathered so far (a poisoned lock only means a module panicked; the data stays usable).
    pub fn facts(&self) -> MutexGuard<'_, HostFacts> {
        self.facts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push_backup(&self, backup: Backup) {
        self.backups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(backup);
    }

    pub(crate) fn take_backups(&self) -> Vec<Backup> {
        std::mem::take(&mut *self.backups.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Run a blocking transport call on tokio's blocking pool (ssh2 blocks; one session per host).
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, StepError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Transport) -> Result<T, StepError> + Send + 'static,
    {
        let transport = Arc::clone(&self.transport);
        match tokio::task::spawn_blocking(move || f(transport.as_ref())).await {
            Ok(result) => result,
            Err(join) => Err(StepError::Check(format!("transport worker failed: {join}"))),
        }
    }
}
