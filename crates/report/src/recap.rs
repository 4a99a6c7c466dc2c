//! The console recap printed at the end of `run`/`verify`, in the shape of Ansible's
//! PLAY RECAP so admins (and their grep scripts) recognise it at a glance.
//!
//! Colour is the caller's decision (TTY and no `NO_COLOR`); this module only obeys the flag.
//! Colours follow Ansible's defaults: the host name is red with failures or unreachable (and,
//! for `verify`, when drifted),
//! yellow with changes, green otherwise; a counter is coloured only when non-zero.

use std::fmt::Write as _;

use crate::model::{HostReport, HostStatus, RunMode, RunReport};
use crate::text;

const GREEN: &str = "\x1b[0;32m";
const YELLOW: &str = "\x1b[0;33m";
const RED: &str = "\x1b[0;31m";
const BRIGHT_RED: &str = "\x1b[1;31m";
const CYAN: &str = "\x1b[0;36m";
const MAGENTA: &str = "\x1b[0;35m";
const RESET: &str = "\x1b[0m";

/// Width of the banner line, as Ansible draws it on an 80-column terminal.
const BANNER_WIDTH: usize = 80;
/// Ansible pads host names to 26 columns.
const HOST_WIDTH: usize = 26;

/// `PLAY RECAP ****...` then one line per host; a verify or aborted run gets one more line.
pub fn render_recap(report: &RunReport, color: bool) -> String {
    let mut out = String::new();
    let title = "PLAY RECAP";
    let stars = "*".repeat(BANNER_WIDTH.saturating_sub(title.len() + 1).max(3));
    let _ = writeln!(out, "{title} {stars}");
    for host in &report.hosts {
        let _ = writeln!(out, "{}", host_line(host, color));
    }
    if report.mode == RunMode::Verify {
        let t = &report.totals;
        let _ = writeln!(
            out,
            "\nverify: {} compliant, {} drifted, {} failed, {} unreachable (of {} hosts)",
            t.compliant, t.drifted, t.failed, t.unreachable, t.hosts
        );
    }
    if let Some(reason) = &report.aborted {
        let line = format!("run aborted: {}", text::abort(reason));
        let _ = writeln!(out, "\n{}", paint(&line, RED, color));
    }
    out
}

fn host_line(host: &HostReport, color: bool) -> String {
    let r = &host.recap;
    let bad = matches!(
        host.status,
        HostStatus::Failed | HostStatus::Drifted | HostStatus::Unreachable
    );
    let name_color = if bad || r.failed > 0 || r.unreachable > 0 {
        RED
    } else if r.changed > 0 {
        YELLOW
    } else {
        GREEN
    };
    let name = format!("{:<HOST_WIDTH$}", host.name);
    format!(
        "{} : {} {} {} {} {} {} {}",
        paint(&name, name_color, color),
        counter("ok", r.ok, GREEN, color),
        counter("changed", r.changed, YELLOW, color),
        counter("unreachable", r.unreachable, BRIGHT_RED, color),
        counter("failed", r.failed, RED, color),
        counter("skipped", r.skipped, CYAN, color),
        // corsfleet has no block/rescue; the column stays so Ansible-shaped parsers still work.
        counter("rescued", 0, GREEN, color),
        counter("ignored", r.ignored, MAGENTA, color),
    )
}

fn counter(label: &str, n: u64, code: &str, color: bool) -> String {
    let s = format!("{label}={n:<4}");
    if n == 0 { s } else { paint(&s, code, color) }
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("{code}{s}{RESET}")
    } else {
        s.to_owned()
    }
}
