//! `report.md`: ready to paste into a change ticket: summary, per-host table, what failed,
//! and the diffs.
//!
//! Every piece of text from the events is escaped for CommonMark/GFM: table cells escape `|`
//! and fold newlines; inline text backslash-escapes the punctuation that would start markup
//! or raw HTML (`<`, `>`, `&`, `*`, `_`, `` ` ``, `[`, `]`, `~`, `#`, `|`, `!`, `\`). Diffs go
//! into ```` ```diff ```` fences longer than any backtick run inside them, so a diff can never
//! close its fence early.

use std::fmt::Write as _;

use crate::model::{RunMode, RunReport, TaskStatus};
use crate::text;

/// Renders the Markdown report.
pub fn render_markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let t = &report.totals;
    let title = match report.mode {
        RunMode::Run => "corsfleet run report",
        RunMode::Verify => "corsfleet verify report",
    };
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(out, "- **Outcome:** {}", outcome(report));
    let _ = writeln!(out, "- **Mode:** {}", text::mode(report));
    let _ = writeln!(out, "- **Playbook:** `{}`", code(&report.playbook));
    if !report.inventory.is_empty() {
        let inv: Vec<String> = report
            .inventory
            .iter()
            .map(|i| format!("`{}`", code(i)))
            .collect();
        let _ = writeln!(out, "- **Inventory:** {}", inv.join(", "));
    }
    if let Some(limit) = &report.limit {
        let _ = writeln!(out, "- **Limit:** `{}`", code(limit));
    }
    let _ = writeln!(out, "- **Run id:** `{}`", code(&report.run_id));
    let _ = writeln!(
        out,
        "- **corsfleet version:** {}",
        inline(&report.corsfleet_version)
    );
    let _ = writeln!(out, "- **Started:** {}", text::time(report.started_at));
    match report.finished_at {
        Some(end) => {
            let dur = text::duration(text::millis_between(report.started_at, end));
            let _ = writeln!(out, "- **Finished:** {} ({dur})", text::time(end));
        }
        None => {
            let _ = writeln!(out, "- **Finished:** never (the run was cut off)");
        }
    }
    if let Some(reason) = &report.aborted {
        let _ = writeln!(out, "- **Aborted:** {}", inline(&text::abort(reason)));
    }
    let _ = writeln!(out, "- **Hosts:** {}", text::host_counts(report));
    let _ = writeln!(
        out,
        "- **Tasks:** {} (ok={} changed={} failed={} skipped={} ignored={} unreachable={})",
        t.tasks,
        t.recap.ok,
        t.recap.changed,
        t.recap.failed,
        t.recap.skipped,
        t.recap.ignored,
        t.recap.unreachable
    );
    if t.reboot_required > 0 {
        let _ = writeln!(out, "- **Reboot required:** {} host(s)", t.reboot_required);
    }
    if t.rolled_back > 0 {
        let _ = writeln!(out, "- **Rolled back:** {} task(s)", t.rolled_back);
    }

    let _ = writeln!(out, "\n## Hosts\n");
    let _ = writeln!(
        out,
        "| Host | Status | ok | changed | unreachable | failed | skipped | ignored | Note |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|---|");
    for h in &report.hosts {
        let r = &h.recap;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&h.name),
            text::host_status(h.status),
            r.ok,
            r.changed,
            r.unreachable,
            r.failed,
            r.skipped,
            r.ignored,
            cell(&host_note(h)),
        );
    }

    let problems: Vec<_> = report
        .hosts
        .iter()
        .flat_map(|h| h.tasks.iter().map(move |t| (h, t)))
        .filter(|(_, t)| {
            matches!(t.status, TaskStatus::Failed | TaskStatus::Interrupted) || !t.drift.is_empty()
        })
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "\n## Problems\n");
        let _ = writeln!(out, "| Host | Task | Status | Message |");
        let _ = writeln!(out, "|---|---|---|---|");
        for (h, task) in &problems {
            let mut status = if report.mode == RunMode::Verify && !task.drift.is_empty() {
                "drifted".to_owned()
            } else {
                text::task_status(task.status).to_owned()
            };
            if task.ignored {
                status.push_str(" (ignored)");
            }
            if task.rolled_back {
                status.push_str(", rolled back");
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&h.name),
                cell(&task.name),
                status,
                cell(&task.message)
            );
        }
        let drifts: Vec<_> = problems
            .iter()
            .filter(|(_, t)| !t.drift.is_empty())
            .collect();
        if !drifts.is_empty() {
            let _ = writeln!(out, "\n### Drift\n");
            let _ = writeln!(out, "| Host | Property | Expected | Actual |");
            let _ = writeln!(out, "|---|---|---|---|");
            for (h, task) in drifts {
                for d in &task.drift {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} |",
                        cell(&h.name),
                        cell(&d.property),
                        cell(&d.expected),
                        cell(&d.actual)
                    );
                }
            }
        }
    }

    let diffs: Vec<_> = report
        .hosts
        .iter()
        .flat_map(|h| h.tasks.iter().map(move |t| (h, t)))
        .filter_map(|(h, t)| t.diff.as_deref().map(|d| (h, t, d)))
        .collect();
    if !diffs.is_empty() {
        let _ = writeln!(out, "\n## Diffs\n");
        for (h, task, diff) in diffs {
            let note = if task.rolled_back {
                " (rolled back)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "### {}: {}{}\n",
                inline(&h.name),
                inline(&task.name),
                note
            );
            let fence = "`".repeat(longest_backtick_run(diff).max(2) + 1);
            let _ = writeln!(out, "{fence}diff");
            out.push_str(diff);
            if !diff.ends_with('\n') {
                out.push('\n');
            }
            let _ = writeln!(out, "{fence}\n");
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn outcome(report: &RunReport) -> &'static str {
    match crate::model::exit_class(report) {
        crate::model::ExitClass::Success => "success",
        crate::model::ExitClass::Failed => match report.mode {
            RunMode::Run => "failed",
            RunMode::Verify => "drifted or failed",
        },
        crate::model::ExitClass::Unreachable => "unreachable hosts",
        crate::model::ExitClass::Aborted => "aborted",
        crate::model::ExitClass::Interrupted => "interrupted",
    }
}

fn host_note(h: &crate::model::HostReport) -> String {
    let mut notes = Vec::new();
    if let Some(m) = &h.message {
        notes.push(m.clone());
    }
    if h.tasks.iter().any(|t| t.reboot_required) {
        notes.push("reboot required".to_owned());
    }
    if h.tasks.iter().any(|t| t.rolled_back) {
        notes.push("rolled back".to_owned());
    }
    notes.join("; ")
}

/// Escapes text for inline Markdown: no markup, no raw HTML, no entity.
pub(crate) fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A table cell: inline escaping already covers `|`; newlines become `<br>`-free spaces.
fn cell(s: &str) -> String {
    let escaped = inline(s.trim());
    if escaped.is_empty() {
        " ".to_owned()
    } else {
        escaped
    }
}

/// Text inside a code span: backslashes are literal there, so only backticks and newlines
/// need care; a backtick becomes `'` rather than breaking the span.
fn code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

fn longest_backtick_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_escapes_markup_html_and_pipes() {
        assert_eq!(inline("a|b"), r"a\|b");
        assert_eq!(inline("<b>&"), r"\<b\>\&");
        assert_eq!(
            inline("*x* _y_ `z` [l](u) ~s~ #h !i"),
            r"\*x\* \_y\_ \`z\` \[l\](u) \~s\~ \#h \!i"
        );
        assert_eq!(inline(r"back\slash"), r"back\\slash");
        assert_eq!(inline("two\nlines\r\n"), "two lines ");
        assert_eq!(inline("bell\u{7}"), "bell");
        assert_eq!(
            inline("web.config 1.0"),
            "web.config 1.0",
            "plain text stays readable"
        );
    }

    #[test]
    fn fences_outgrow_backtick_runs() {
        assert_eq!(longest_backtick_run("no ticks"), 0);
        assert_eq!(longest_backtick_run("a ``` b ` c ````"), 4);
    }

    #[test]
    fn code_spans_cannot_be_closed_early() {
        assert_eq!(code("a`b\nc"), "a'b c");
    }
}
