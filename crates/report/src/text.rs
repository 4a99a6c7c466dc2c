//! Small formatting helpers shared by the renderers, so every format spells statuses,
//! durations, times and abort reasons the same way.

use crate::model::{AbortReason, HostStatus, RunMode, RunReport, TaskStatus};

pub fn host_status(s: HostStatus) -> &'static str {
    s.as_str()
}

pub fn task_status(s: TaskStatus) -> &'static str {
    s.as_str()
}

/// "4 (3 ok, 1 changed)": the host count with its non-zero statuses.
pub fn host_counts(report: &RunReport) -> String {
    let t = &report.totals;
    let parts: Vec<String> = [
        ("ok", t.ok),
        ("changed", t.changed),
        ("compliant", t.compliant),
        ("drifted", t.drifted),
        ("failed", t.failed),
        ("unreachable", t.unreachable),
        ("skipped", t.skipped),
        ("interrupted", t.interrupted),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| format!("{n} {k}"))
    .collect();
    if parts.is_empty() {
        format!("{}", t.hosts)
    } else {
        format!("{} ({})", t.hosts, parts.join(", "))
    }
}

pub fn mode(report: &RunReport) -> &'static str {
    match (report.mode, report.check) {
        (RunMode::Run, false) => "run",
        (RunMode::Run, true) => "run (check mode: nothing was changed)",
        (RunMode::Verify, _) => "verify (read-only audit)",
    }
}

/// UTC, second precision: what a change ticket needs.
pub fn time(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `350ms`, `4.2s`, `3m 07s`, `1h 02m`.
pub fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{}s", ms / 1_000, (ms % 1_000) / 100)
    } else if ms < 3_600_000 {
        format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1_000)
    } else {
        format!("{}h {:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

pub fn millis_between(start: jiff::Timestamp, end: jiff::Timestamp) -> u64 {
    u64::try_from(end.duration_since(start).as_millis().max(0)).unwrap_or(u64::MAX)
}

/// Wall time of the run, when it finished.
pub fn run_duration(report: &RunReport) -> Option<u64> {
    report
        .finished_at
        .map(|end| millis_between(report.started_at, end))
}

pub fn abort(reason: &AbortReason) -> String {
    match reason {
        AbortReason::MaxFailPercentage {
            play,
            failed,
            of,
            limit,
        } => format!(
            "max_fail_percentage exceeded in play \"{play}\": {failed} of {of} hosts failed \
             (limit {limit}%)"
        ),
        AbortReason::AnyErrorsFatal { play, host } => {
            format!("any_errors_fatal in play \"{play}\": host {host} failed")
        }
        AbortReason::Interrupted => "interrupted (Ctrl-C)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(999), "999ms");
        assert_eq!(duration(1_000), "1.0s");
        assert_eq!(duration(22_850), "22.8s");
        assert_eq!(duration(187_000), "3m 07s");
        assert_eq!(duration(3_720_000), "1h 02m");
    }

    #[test]
    fn negative_spans_clamp_to_zero() {
        let t = jiff::Timestamp::UNIX_EPOCH;
        let later = t + jiff::SignedDuration::from_millis(5);
        assert_eq!(millis_between(t, later), 5);
        assert_eq!(millis_between(later, t), 0);
    }

    #[test]
    fn time_is_utc_to_the_second() {
        let t: jiff::Timestamp = "2026-12-04T15:40:00.987654321+01:00".parse().expect("ts");
        assert_eq!(time(t), "2026-12-04 14:40:00Z");
    }
}
