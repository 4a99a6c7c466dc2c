//! Fault knobs: `ROOT/sim-faults.yml` scripts the installer and the server so corsfleet's
//! retry, reboot, timeout and verification paths can be exercised on purpose.
//!
//! ```yaml
//! installer:
//!   next_exit_once: 1618      # next msiexec returns this without installing, then the knob is removed
//!   outcome: fail             # ok | fail (1603 + log) | reboot (3010) | async (returns 0 before installing)
//!   async_delay_ms: 1500
//! server:
//!   preflight:                # applied to every 204 preflight answer
//!     status: 200
//!     drop_headers: [Access-Control-Allow-Methods]
//!     set_headers: { Access-Control-Allow-Origin: "https://wrong.example" }
//! ```
//!
//! The file is read on every use, so a test can change it while a server runs.

use std::{collections::BTreeMap, fs};

use serde::{Deserialize, Serialize};

use crate::{SimError, tree::SimPaths, tree::write_atomic};

/// All knobs; absent file = no faults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    #[serde(default, skip_serializing_if = "InstallerFaults::is_empty")]
    pub installer: InstallerFaults,
    #[serde(default, skip_serializing_if = "ServerFaults::is_empty")]
    pub server: ServerFaults,
}

/// How the next installs end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallerFaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_exit_once: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<InstallerOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub async_delay_ms: Option<u64>,
}

impl InstallerFaults {
    fn is_empty(&self) -> bool {
        *self == InstallerFaults::default()
    }
}

/// A persistent installer outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallerOutcome {
    Ok,
    /// 1603, nothing installed, "Return value 3." in the log.
    Fail,
    /// Installed, 3010.
    Reboot,
    /// Returns 0 at once; the marks appear `async_delay_ms` later.
    Async,
}

/// Wrong answers of the web server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightFault>,
}

impl ServerFaults {
    fn is_empty(&self) -> bool {
        *self == ServerFaults::default()
    }
}

/// Edits applied to the CORS module's preflight answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightFault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set_headers: BTreeMap<String, String>,
}

/// Reads the knobs; a missing or empty file means none.
pub fn load(paths: &SimPaths) -> Result<Faults, SimError> {
    let text = match fs::read_to_string(&paths.faults) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Faults::default()),
        Err(e) => return Err(SimError::io(&paths.faults, e)),
    };
    if text.trim().is_empty() {
        return Ok(Faults::default());
    }
    serde_saphyr::from_str(&text).map_err(|e| SimError::Faults {
        path: paths.faults.clone(),
        source: Box::new(e),
    })
}

/// Writes the knobs (tests and users script faults with this).
pub fn save(paths: &SimPaths, faults: &Faults) -> Result<(), SimError> {
    // Serialising these plain structs cannot fail; an empty file is the safe fallback.
    let text = serde_saphyr::to_string(faults).unwrap_or_default();
    write_atomic(&paths.faults, text.as_bytes())
}

/// Takes the one-shot exit code, removing it from the file.
pub(crate) fn take_next_exit(paths: &SimPaths) -> Result<Option<i32>, SimError> {
    let mut f = load(paths)?;
    let Some(code) = f.installer.next_exit_once.take() else {
        return Ok(None);
    };
    save(paths, &f)?;
    Ok(Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_exit_is_consumed_and_the_rest_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = SimPaths::new(dir.path());
        fs::write(
            &p.faults,
            "installer:\n  next_exit_once: 1618\n  outcome: reboot\nserver:\n  preflight:\n    drop_headers: [Vary]\n",
        )
        .expect("write");
        assert_eq!(take_next_exit(&p).expect("take"), Some(1618));
        assert_eq!(take_next_exit(&p).expect("take"), None);
        let f = load(&p).expect("load");
        assert_eq!(f.installer.outcome, Some(InstallerOutcome::Reboot));
        assert_eq!(
            f.server.preflight.map(|p| p.drop_headers),
            Some(vec!["Vary".to_string()])
        );
    }

    #[test]
    fn unknown_knobs_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = SimPaths::new(dir.path());
        fs::write(&p.faults, "installer:\n  nxt_exit: 1\n").expect("write");
        assert!(load(&p).is_err());
    }
}
