//! `msi_install`: push the IIS CORS Module installer and run msiexec silently, waited for.
//!
//! Query: are the three marks present? Diff: install or not. Apply: hash the local file
//! (refuse a package whose SHA-256 differs from the playbook's), upload it atomically, hash it
//! again on the target, run `msiexec /i PKG /qn /norestart /l*v LOG` through the transport's
//! GUI-wait wrapper (msiexec is a GUI-subsystem program: cmd.exe would not wait for it), map
//! the MSI exit code, and check the three marks again. Never reboots.

use std::path::Path;
use std::time::Duration;

use corsfleet_playbook::MsiInstallArgs;
use corsfleet_transport::{RemoteCommand, WinPath};
use sha2::{Digest, Sha256};

use crate::facts::cors_module_installed;
use crate::{HostContext, TaskOutcome};

/// How long to wait for the marks after msiexec said it finished (a misbehaving wrapper or an
/// installer that hands work to a service may return early).
const MARKS_GRACE: Duration = Duration::from_secs(20);

pub(crate) async fn run(
    ctx: &HostContext,
    args: &MsiInstallArgs,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> TaskOutcome {
    let installed = match known_or_query(ctx).await {
        Ok(installed) => installed,
        Err(message) => return TaskOutcome::failed(message),
    };
    if installed {
        return TaskOutcome::ok("IIS CORS module already installed");
    }
    // Check the package even in check mode: a wrong hash is bad input, whatever the mode.
    let local_hash = match sha256_file(&args.src).await {
        Ok(hash) => hash,
        Err(err) => {
            return TaskOutcome::failed(format!("cannot read {}: {err}", args.src.display()));
        }
    };
    if !local_hash.eq_ignore_ascii_case(&args.sha256) {
        return TaskOutcome::failed(format!(
            "{} has SHA-256 {local_hash}, the playbook expects {}: refusing to install it",
            args.src.display(),
            args.sha256.to_ascii_lowercase()
        ));
    }
    if !ctx.mode.writes() {
        let mut facts = ctx.facts();
        facts.cors_module_pending = true;
        facts.changed_anything = true;
        drop(facts);
        let drift = vec![corsfleet_webconfig::PropertyDiff {
            property: "iis.corsModule.installed".into(),
            expected: "true".into(),
            actual: "false".into(),
        }];
        return TaskOutcome::changed("would install the IIS CORS module").with_drift(drift);
    }
    install(ctx, args, &local_hash, progress).await
}

async fn known_or_query(ctx: &HostContext) -> Result<bool, String> {
    let known = ctx.facts().cors_module_installed;
    match known {
        Some(installed) => Ok(installed),
        None => cors_module_installed(ctx).await,
    }
}

async fn install(
    ctx: &HostContext,
    args: &MsiInstallArgs,
    local_hash: &str,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> TaskOutcome {
    let file_name = match args.src.file_name().and_then(|n| n.to_str()) {
        Some(name) => name.to_string(),
        None => return TaskOutcome::failed(format!("{} has no file name", args.src.display())),
    };
    let dest_dir = match WinPath::parse(&args.dest) {
        Ok(dir) => dir,
        Err(err) => return TaskOutcome::failed(format!("invalid dest {}: {err}", args.dest)),
    };
    let (package, log) = match (
        dest_dir.join(&file_name),
        dest_dir.join("corsfleet-iiscors-install.log"),
    ) {
        (Ok(p), Ok(l)) => (p, l),
        (Err(err), _) | (_, Err(err)) => {
            return TaskOutcome::failed(format!("invalid dest path: {err}"));
        }
    };

    // Upload (atomic on the transport) with byte progress, then hash what landed.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u64)>();
    let src = args.src.clone();
    let remote = package.clone();
    let upload = ctx.blocking(move |t| {
        t.upload(&src, &remote, &mut |done, total| {
            let _ = tx.send((done, total));
        })?;
        Ok(())
    });
    tokio::pin!(upload);
    let uploaded = loop {
        tokio::select! {
            result = &mut upload => break result,
            Some((done, total)) = rx.recv() => progress(done, total),
        }
    };
    while let Ok((done, total)) = rx.try_recv() {
        progress(done, total);
    }
    if let Err(err) = uploaded {
        return TaskOutcome::failed(format!("cannot upload the installer to {package}: {err}"));
    }
    let remote = package.clone();
    let remote_hash = match ctx.blocking(move |t| Ok(t.read_file(&remote)?)).await {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
        Err(err) => return TaskOutcome::failed(format!("cannot read back {package}: {err}")),
    };
    if remote_hash != local_hash {
        return TaskOutcome::failed(format!(
            "the uploaded installer at {package} has SHA-256 {remote_hash}, expected {local_hash}"
        ));
    }

    // msiexec, waited for; 1618 (another installation in progress) is retried with backoff.
    let mut busy_retries = 0;
    let code = loop {
        let cmd = RemoteCommand {
            program: "msiexec".into(),
            args: vec![
                "/i".into(),
                package.to_string(),
                "/qn".into(),
                "/norestart".into(),
                "/l*v".into(),
                log.to_string(),
            ],
            wait_gui: true,
        };
        let out = match ctx.blocking(move |t| Ok(t.exec(&cmd)?)).await {
            Ok(out) => out,
            Err(err) => return TaskOutcome::failed(format!("cannot run msiexec: {err}")),
        };
        if out.exit_code == 1618 && busy_retries < args.max_busy_retries {
            busy_retries += 1;
            tracing::info!(host = %ctx.host, attempt = busy_retries, "msiexec 1618: another installation is in progress, retrying");
            tokio::time::sleep(backoff(args.busy_delay, busy_retries)).await;
            continue;
        }
        break out.exit_code;
    };

    let reboot_required = match code {
        0 => false,
        3010 | 1641 => true,
        _ => {
            let tail = log_tail(ctx, &log).await;
            return TaskOutcome::failed(format!(
                "msiexec exited with {code} ({}){}",
                msi_meaning(code),
                tail.map(|t| format!("; last lines of {log}: {t}"))
                    .unwrap_or_default()
            ));
        }
    };

    // Trust the marks, not the exit code.
    let deadline = tokio::time::Instant::now() + MARKS_GRACE;
    loop {
        match cors_module_installed(ctx).await {
            Ok(true) => break,
            Ok(false) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Ok(false) => {
                return TaskOutcome::failed(format!(
                    "msiexec exited with {code} but the IIS CORS module is not installed after {}s (dll, schema and applicationHost.config registration checked)",
                    MARKS_GRACE.as_secs()
                ));
            }
            Err(message) => return TaskOutcome::failed(message),
        }
    }
    {
        let mut facts = ctx.facts();
        facts.changed_anything = true;
        facts.reboot_required |= reboot_required;
    }
    let mut outcome = TaskOutcome::changed(if reboot_required {
        format!(
            "installed the IIS CORS module (msiexec {code}: a reboot is required; corsfleet never reboots)"
        )
    } else {
        "installed the IIS CORS module".to_string()
    });
    outcome.reboot_required = reboot_required;
    outcome
}

/// Exponential backoff from `base`, capped at 8× base.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1 << attempt.saturating_sub(1).min(3))
}

/// Microsoft's meaning of the MSI exit codes users meet most.
pub(crate) fn msi_meaning(code: i32) -> &'static str {
    match code {
        0 => "success",
        3010 => "success, reboot required",
        1641 => "success, reboot initiated",
        1602 => "user cancelled",
        1603 => "fatal error during installation",
        1618 => "another installation is already in progress",
        1619 => "installation package could not be opened",
        1620 => "installation package could not be opened: not a valid package",
        1638 => "another version of this product is already installed",
        _ => "see Microsoft's MsiExec error codes",
    }
}

/// The last few non-empty lines of the MSI log (UTF-16LE with BOM on Windows, or UTF-8).
async fn log_tail(ctx: &HostContext, log: &WinPath) -> Option<String> {
    let log = log.clone();
    let bytes = ctx.blocking(move |t| Ok(t.read_file(&log)?)).await.ok()?;
    let text = decode_log(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(5);
    Some(lines[start..].join(" | "))
}

pub(crate) fn decode_log(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).into_owned()
}

async fn sha256_file(path: &Path) -> std::io::Result<String> {
    let bytes = tokio::fs::read(path).await?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msi_logs_in_utf16_and_utf8_decode() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "MSI (s) done\r\n"
                    .encode_utf16()
                    .flat_map(|u| u.to_le_bytes()),
            )
            .collect();
        assert_eq!(decode_log(&utf16), "MSI (s) done\r\n");
        assert_eq!(decode_log(b"\xEF\xBB\xBFplain"), "plain");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 1), Duration::from_secs(1));
        assert_eq!(backoff(base, 2), Duration::from_secs(2));
        assert_eq!(backoff(base, 4), Duration::from_secs(8));
        assert_eq!(backoff(base, 40), Duration::from_secs(8));
    }
}
