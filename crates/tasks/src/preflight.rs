//! `cors_preflight`: prove, the way a browser would, that every Finesse origin passes CORS
//! for the gadget's request and that an unlisted origin is refused.
//!
//! IIS re-reads a changed web.config on the next request, but not always on the very first
//! one, so a failed check is retried (`attempts`, `delay`) before it counts. When the check
//! still fails and `web_config_cors` changed the file earlier in this run, the backup is put
//! back atomically and the task reports `rolled_back`.
//!
//! In check mode the preflight runs only when nothing on the host would change; otherwise it
//! would test the old state and report a failure that the run would have fixed.

use std::time::Duration;

use corsfleet_playbook::CorsPreflightArgs;
use corsfleet_preflight::{Expectation, Probe, Verdict, Verifier};
use corsfleet_webconfig::PropertyDiff;

use crate::webconfig::roll_back;
use crate::{HostContext, Mode, TaskOutcome};

pub(crate) async fn run(ctx: &HostContext, args: &CorsPreflightArgs) -> TaskOutcome {
    if ctx.mode == Mode::Check && ctx.facts().changed_anything {
        return TaskOutcome::skipped(
            "skipped in check mode: earlier tasks would change this host, so the server's current answer proves nothing",
        );
    }
    let url = args.url.clone().unwrap_or_else(|| {
        format!(
            "https://{}:{}/unifiedconfig/config/agent",
            ctx.preflight.address, ctx.preflight.https_port
        )
    });
    let verifier = match Verifier::new(&ctx.preflight.tls, ctx.preflight.timeouts) {
        Ok(verifier) => verifier,
        Err(err) => return TaskOutcome::failed(format!("cannot set up the verifier: {err}")),
    };

    let mut checks: Vec<(String, Expectation)> = args
        .origins
        .iter()
        .map(|origin| (origin.clone(), Expectation::Allowed))
        .collect();
    if let Some(deny) = &args.deny_origin {
        checks.push((deny.clone(), Expectation::Denied));
    }

    let attempts = args.attempts.max(1);
    let mut last_problems: Vec<(String, PropertyDiff)> = Vec::new();
    for attempt in 1..=attempts {
        last_problems.clear();
        for (origin, expectation) in &checks {
            let probe = Probe {
                url: url.clone(),
                origin: origin.clone(),
                method: args.method.clone(),
                headers: args.headers.clone(),
                credentials: args.credentials,
            };
            match verifier.check(&probe).await {
                Ok(verdict) if verdict.meets(*expectation) => {}
                Ok(verdict) => last_problems.push(describe(origin, *expectation, &verdict)),
                Err(err) => last_problems.push((
                    format!("{origin}: {err}"),
                    drift(origin, *expectation, &format!("error: {err}")),
                )),
            }
        }
        if last_problems.is_empty() {
            let denied = if args.deny_origin.is_some() {
                " and the unlisted origin is refused"
            } else {
                ""
            };
            return TaskOutcome::ok(format!(
                "{} {} preflight{} to {url} allowed as a browser would{denied}",
                args.origins.len(),
                args.method,
                if args.origins.len() == 1 { "" } else { "s" },
            ));
        }
        if attempt < attempts {
            tracing::debug!(host = %ctx.host, attempt, "preflight not yet as expected, retrying");
            tokio::time::sleep(args.delay.max(Duration::from_millis(50))).await;
        }
    }

    let (messages, drift): (Vec<String>, Vec<PropertyDiff>) = last_problems.into_iter().unzip();
    let summary = format!(
        "CORS verification failed after {attempts} attempt{}: {}",
        if attempts == 1 { "" } else { "s" },
        messages.join("; ")
    );
    if ctx.mode == Mode::Verify {
        // In an audit, a browser-visible difference is drift from the desired state.
        return TaskOutcome::changed(summary).with_drift(drift);
    }
    let mut outcome = TaskOutcome::failed(summary).with_drift(drift);
    if ctx.mode == Mode::Apply && ctx.rollback {
        match roll_back(ctx).await {
            Ok(Some(note)) => {
                outcome.rolled_back = true;
                outcome.message.push_str(&format!("; rolled back: {note}"));
            }
            Ok(None) => {}
            Err(err) => outcome.message.push_str(&format!("; {err}")),
        }
    }
    outcome
}

/// One line for people (the browser's first complaint, as Chromium's console shows one) and
/// the drift item for reports.
fn describe(origin: &str, expectation: Expectation, verdict: &Verdict) -> (String, PropertyDiff) {
    match expectation {
        Expectation::Allowed => {
            let reason = verdict
                .failures
                .first()
                .map(|f| f.message.as_str())
                .unwrap_or("no reason given");
            (
                format!("{origin} should be allowed but a browser would block it: {reason}"),
                drift(origin, expectation, &format!("blocked: {reason}")),
            )
        }
        Expectation::Denied => (
            format!("{origin} should be refused but a browser would allow it"),
            drift(origin, expectation, "allowed"),
        ),
    }
}

fn drift(origin: &str, expectation: Expectation, actual: &str) -> PropertyDiff {
    PropertyDiff {
        property: format!("preflight[{origin}]"),
        expected: match expectation {
            Expectation::Allowed => "allowed".to_string(),
            Expectation::Denied => "refused".to_string(),
        },
        actual: actual.to_string(),
    }
}
