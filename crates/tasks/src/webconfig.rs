//! `web_config_cors`: converge the `<cors>` section of a remote web.config.
//!
//! Query: read the file over the transport. Diff: the pure engine (`corsfleet-webconfig`)
//! computes new bytes, a unified diff and the differing properties. Apply, in this order, so
//! no step can lose the file:
//! 1. refuse while the IIS CORS module is absent (a `<cors>` section without the module turns
//!    every request under the folder into HTTP 500.19), unless `force: true`;
//! 2. write a timestamped backup beside the file and read it back;
//! 3. read the target again and abort if it changed since step 0 (someone else is editing);
//! 4. atomic write (temp name + rename, in the transport);
//! 5. read the target back and compare with what we meant to write.
//!
//! The backup is remembered so a failed verification later in the run can restore it.

use corsfleet_playbook::WebConfigCorsArgs;
use corsfleet_transport::WinPath;

use crate::context::StepError;
use crate::facts::cors_module_installed;
use crate::{Backup, HostContext, Mode, TaskOutcome};

pub(crate) async fn run(ctx: &HostContext, args: &WebConfigCorsArgs) -> TaskOutcome {
    let path = match WinPath::parse(&args.path) {
        Ok(path) => path,
        Err(err) => return TaskOutcome::failed(format!("invalid path {}: {err}", args.path)),
    };
    let target = path.clone();
    let original = match ctx.blocking(move |t| Ok(t.read_file(&target)?)).await {
        Ok(bytes) => bytes,
        Err(err) => return TaskOutcome::failed(format!("cannot read {path}: {err}")),
    };
    let patched = match corsfleet_webconfig::patch(&original, &args.policy) {
        Ok(patched) => patched,
        Err(err) => return TaskOutcome::failed(format!("{path}: {err}")),
    };
    let label = path.to_string();
    let diff = corsfleet_webconfig::unified_diff(&original, &patched.bytes, &label);
    if !patched.changed {
        return TaskOutcome::ok("CORS section already as desired");
    }

    // Is the module there (or about to be, in check mode)?
    let known = ctx.facts().cors_module_installed;
    let installed = match known {
        Some(installed) => installed,
        None => match cors_module_installed(ctx).await {
            Ok(installed) => installed,
            Err(message) => return TaskOutcome::failed(message),
        },
    };
    let pending = ctx.facts().cors_module_pending;

    if ctx.mode != Mode::Apply {
        ctx.facts().changed_anything = true;
        let message = if !installed && pending {
            "would change the CORS section (after install)".to_string()
        } else if !installed && ctx.mode == Mode::Verify {
            // An audit reports what differs; the missing module is part of it.
            let mut drift = patched.drift;
            drift.insert(
                0,
                corsfleet_webconfig::PropertyDiff {
                    property: "iis.corsModule.installed".into(),
                    expected: "true".into(),
                    actual: "false".into(),
                },
            );
            return TaskOutcome::changed(
                "CORS section differs and the IIS CORS module is not installed",
            )
            .with_diff(diff)
            .with_drift(drift);
        } else if !installed && !args.force {
            return TaskOutcome::failed(format!(
                "would refuse to write {path}: the IIS CORS module is not installed and no msi_install runs before this task"
            ))
            .with_diff(diff)
            .with_drift(patched.drift);
        } else if ctx.mode == Mode::Verify {
            "CORS section differs from the playbook".to_string()
        } else {
            "would change the CORS section".to_string()
        };
        return TaskOutcome::changed(message)
            .with_diff(diff)
            .with_drift(patched.drift);
    }

    if !installed && !args.force {
        return TaskOutcome::failed(format!(
            "refusing to write {path}: the IIS CORS module is not installed, and a <cors> section without it makes IIS answer HTTP 500.19 for the whole Configuration API; install it first (msi_install) or set force: true"
        ))
        .with_diff(diff);
    }

    match apply(ctx, &path, &original, &patched.bytes, args.backup).await {
        Ok(backup) => {
            ctx.facts().changed_anything = true;
            let note = match &backup {
                Some(b) => format!("changed the CORS section (backup {})", b.backup_path),
                None => "changed the CORS section (no backup: backup: false)".to_string(),
            };
            if let Some(backup) = backup {
                ctx.push_backup(backup);
            }
            TaskOutcome::changed(note)
                .with_diff(diff)
                .with_drift(patched.drift)
        }
        Err(message) => TaskOutcome::failed(message).with_diff(diff),
    }
}

async fn apply(
    ctx: &HostContext,
    path: &WinPath,
    original: &[u8],
    new: &[u8],
    keep_backup: bool,
) -> Result<Option<Backup>, String> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let dir = path
        .parent()
        .ok_or_else(|| format!("cannot name a backup beside {path}"))?;
    let name = path.file_name().to_string();
    // `FILE.corsfleet-STAMP.bak`, or `-2`, `-3`…: never overwrite an earlier backup.
    let backup_path = ctx
        .blocking(move |t| {
            for n in 1..100 {
                let suffix = if n == 1 {
                    String::new()
                } else {
                    format!("-{n}")
                };
                let candidate = dir.join(&format!("{name}.corsfleet-{stamp}{suffix}.bak"))?;
                if t.stat(&candidate)?.is_none() {
                    return Ok(candidate);
                }
            }
            Err(StepError::Check(format!(
                "too many backups named {name}.corsfleet-{stamp}*.bak"
            )))
        })
        .await
        .map_err(|err| format!("cannot name a backup beside {path}: {err}"))?;

    let (target, backup_at) = (path.clone(), backup_path.clone());
    let (original_bytes, new_bytes) = (original.to_vec(), new.to_vec());
    ctx.blocking(move |t| {
        if keep_backup {
            t.write_file_atomic(&backup_at, &original_bytes)?;
            if t.read_file(&backup_at)? != original_bytes {
                return Err(StepError::Check(format!(
                    "backup {backup_at} does not read back as written"
                )));
            }
        }
        if t.read_file(&target)? != original_bytes {
            return Err(StepError::Check(format!(
                "{target} changed while corsfleet was patching it; nothing written, run again"
            )));
        }
        t.write_file_atomic(&target, &new_bytes)?;
        if t.read_file(&target)? != new_bytes {
            return Err(StepError::Check(format!(
                "{target} does not read back as written; the backup is {backup_at}"
            )));
        }
        Ok(())
    })
    .await
    .map_err(|err| err.to_string())?;

    Ok(keep_backup.then(|| Backup {
        path: path.clone(),
        backup_path,
        original: original.to_vec(),
        written: new.to_vec(),
    }))
}

/// Put back every web.config this run replaced on the host. Returns a note for the report.
pub(crate) async fn roll_back(ctx: &HostContext) -> Result<Option<String>, String> {
    let backups = ctx.take_backups();
    if backups.is_empty() {
        return Ok(None);
    }
    let mut restored = Vec::new();
    for backup in backups.into_iter().rev() {
        let b = backup.clone();
        ctx.blocking(move |t| {
            // Only restore what we wrote: if someone changed the file since, leave it alone.
            if t.read_file(&b.path)? != b.written {
                return Err(StepError::Check(format!(
                    "{} changed after corsfleet wrote it; not rolled back (backup {})",
                    b.path, b.backup_path
                )));
            }
            t.write_file_atomic(&b.path, &b.original)?;
            if t.read_file(&b.path)? != b.original {
                return Err(StepError::Check(format!(
                    "{} does not read back as restored (backup {})",
                    b.path, b.backup_path
                )));
            }
            Ok(())
        })
        .await
        .map_err(|err| format!("rollback failed: {err}"))?;
        restored.push(backup.path.to_string());
    }
    Ok(Some(format!("restored {}", restored.join(", "))))
}
