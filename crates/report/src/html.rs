//! `report.html`: one self-contained file for people: summary, per-host table with status
//! colours, collapsible diffs (`<details>`) and, per host, a timeline of its tasks as inline
//! SVG.
//!
//! Self-contained means no external scripts, fonts, stylesheets or images: the file is
//! attached to change tickets and opened offline, and must not phone home. All styling is one
//! inline `<style>` block; there is no JavaScript at all.
//!
//! The template (`templates/report.html`) is askama, which HTML-escapes every `{{ }}`
//! expression; this module therefore hands it plain strings and numbers only (a view model),
//! never pre-built markup.

use askama::Template;

use crate::error::ReportError;
use crate::model::{ExitClass, HostReport, RunMode, RunReport, TaskReport, exit_class};
use crate::text;

/// Width of the timeline's bar area in SVG user units.
const BAR_AREA: f64 = 560.0;
/// Left column of the timeline, for task names.
const LABEL_W: f64 = 220.0;
const ROW_H: f64 = 20.0;
const AXIS_H: f64 = 18.0;

#[derive(Template)]
#[template(path = "report.html")]
struct Page {
    title: String,
    outcome: &'static str,
    outcome_class: &'static str,
    summary: Vec<(&'static str, String)>,
    hosts: Vec<HostView>,
    svg_width: String,
}

struct HostView {
    anchor: String,
    name: String,
    status: &'static str,
    ok: u64,
    changed: u64,
    unreachable: u64,
    failed: u64,
    skipped: u64,
    ignored: u64,
    note: String,
    tasks: Vec<TaskView>,
    timeline: Timeline,
}

struct TaskView {
    name: String,
    module: String,
    status: &'static str,
    duration: String,
    message: String,
    flags: String,
    drift: Vec<(String, String, String)>,
    diff: Option<Vec<DiffLine>>,
}

struct DiffLine {
    class: &'static str,
    text: String,
}

struct Timeline {
    height: String,
    rows: Vec<Bar>,
    ticks: Vec<Tick>,
    axis_y: String,
}

struct Bar {
    label: String,
    label_y: String,
    x: String,
    y: String,
    w: String,
    class: &'static str,
    title: String,
}

struct Tick {
    x: String,
    label: String,
}

/// Renders the HTML report.
pub fn render_html(report: &RunReport) -> Result<String, ReportError> {
    let span_ms = timeline_span(report);
    let hosts = report
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| host_view(report, h, i, span_ms))
        .collect();
    let (outcome, outcome_class) = match exit_class(report) {
        ExitClass::Success => ("success", "ok"),
        ExitClass::Failed => (
            match report.mode {
                RunMode::Run => "failed",
                RunMode::Verify => "drifted or failed",
            },
            "failed",
        ),
        ExitClass::Unreachable => ("unreachable hosts", "unreachable"),
        ExitClass::Aborted => ("aborted", "failed"),
        ExitClass::Interrupted => ("interrupted", "interrupted"),
    };
    let page = Page {
        title: format!(
            "corsfleet {} report: {}",
            match report.mode {
                RunMode::Run => "run",
                RunMode::Verify => "verify",
            },
            report.playbook
        ),
        outcome,
        outcome_class,
        summary: summary(report),
        hosts,
        // Room on the right for the last tick's centred label.
        svg_width: num(LABEL_W + BAR_AREA + 40.0),
    };
    Ok(page.render()?)
}

fn summary(report: &RunReport) -> Vec<(&'static str, String)> {
    let t = &report.totals;
    let mut rows = vec![
        ("Mode", text::mode(report).to_owned()),
        ("Playbook", report.playbook.clone()),
        ("Inventory", report.inventory.join(", ")),
    ];
    if let Some(limit) = &report.limit {
        rows.push(("Limit", limit.clone()));
    }
    rows.push(("Run id", report.run_id.clone()));
    rows.push(("corsfleet version", report.corsfleet_version.clone()));
    rows.push(("Started", text::time(report.started_at)));
    rows.push((
        "Finished",
        match report.finished_at {
            Some(end) => format!(
                "{} ({})",
                text::time(end),
                text::duration(text::millis_between(report.started_at, end))
            ),
            None => "never (the run was cut off)".to_owned(),
        },
    ));
    if let Some(reason) = &report.aborted {
        rows.push(("Aborted", text::abort(reason)));
    }
    rows.push(("Hosts", text::host_counts(report)));
    rows.push((
        "Tasks",
        format!(
            "{} (ok={} changed={} failed={} skipped={} ignored={} unreachable={})",
            t.tasks,
            t.recap.ok,
            t.recap.changed,
            t.recap.failed,
            t.recap.skipped,
            t.recap.ignored,
            t.recap.unreachable
        ),
    ));
    if t.reboot_required > 0 {
        rows.push(("Reboot required", format!("{} host(s)", t.reboot_required)));
    }
    if t.rolled_back > 0 {
        rows.push(("Rolled back", format!("{} task(s)", t.rolled_back)));
    }
    rows
}

fn host_view(report: &RunReport, h: &HostReport, i: usize, span_ms: u64) -> HostView {
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
    HostView {
        anchor: format!("host-{i}"),
        name: h.name.clone(),
        status: text::host_status(h.status),
        ok: h.recap.ok,
        changed: h.recap.changed,
        unreachable: h.recap.unreachable,
        failed: h.recap.failed,
        skipped: h.recap.skipped,
        ignored: h.recap.ignored,
        note: notes.join("; "),
        tasks: h.tasks.iter().map(|t| task_view(report.mode, t)).collect(),
        timeline: timeline(report, h, span_ms),
    }
}

fn task_view(mode: RunMode, t: &TaskReport) -> TaskView {
    let mut flags = Vec::new();
    if t.ignored {
        flags.push("ignored".to_owned());
    }
    if t.rolled_back {
        flags.push("rolled back".to_owned());
    }
    if t.reboot_required {
        flags.push("reboot required".to_owned());
    }
    if t.attempts > 1 {
        flags.push(format!("{} attempts", t.attempts));
    }
    TaskView {
        name: t.name.clone(),
        module: t.module.clone(),
        // In an audit, a task that found drift reports drift, whatever status it returned.
        status: if mode == RunMode::Verify && !t.drift.is_empty() {
            "drifted"
        } else {
            text::task_status(t.status)
        },
        duration: text::duration(t.duration_ms),
        message: t.message.clone(),
        flags: flags.join(", "),
        drift: t
            .drift
            .iter()
            .map(|d| (d.property.clone(), d.expected.clone(), d.actual.clone()))
            .collect(),
        diff: t.diff.as_deref().map(diff_lines),
    }
}

fn diff_lines(diff: &str) -> Vec<DiffLine> {
    diff.lines()
        .map(|line| DiffLine {
            class: if line.starts_with("+++") || line.starts_with("---") {
                "file"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else if line.starts_with("@@") {
                "hunk"
            } else {
                "ctx"
            },
            text: line.to_owned(),
        })
        .collect()
}

/// Milliseconds from run start to the last known instant: the scale shared by every host's
/// timeline, so bars of different hosts line up.
fn timeline_span(report: &RunReport) -> u64 {
    let last_task = report
        .hosts
        .iter()
        .flat_map(|h| &h.tasks)
        .map(|t| t.finished_at.unwrap_or(t.started_at))
        .max();
    let end = match (report.finished_at, last_task) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b).unwrap_or(report.started_at),
    };
    text::millis_between(report.started_at, end).max(1)
}

fn timeline(report: &RunReport, h: &HostReport, span_ms: u64) -> Timeline {
    let scale = BAR_AREA / span_ms as f64;
    let run_end = report.started_at + jiff::SignedDuration::from_millis(span_ms as i64);
    let rows = h
        .tasks
        .iter()
        .enumerate()
        .map(|(row, t)| {
            let start = text::millis_between(report.started_at, t.started_at) as f64;
            let end = text::millis_between(report.started_at, t.finished_at.unwrap_or(run_end));
            let x = LABEL_W + start * scale;
            // A 1-unit minimum keeps instant tasks visible.
            let w = ((end as f64 - start) * scale).max(1.0);
            let y = AXIS_H + row as f64 * ROW_H;
            Bar {
                label: shorten(&t.name, 32),
                label_y: num(y + ROW_H * 0.7),
                x: num(x),
                y: num(y + 3.0),
                w: num(w),
                class: text::task_status(t.status),
                title: format!(
                    "{}: {} after +{}, took {}",
                    t.name,
                    text::task_status(t.status),
                    text::duration(start as u64),
                    text::duration(t.duration_ms)
                ),
            }
        })
        .collect::<Vec<_>>();
    let ticks = (0..=4)
        .map(|i| {
            let ms = span_ms * i / 4;
            Tick {
                x: num(LABEL_W + ms as f64 * scale),
                label: format!("+{}", text::duration(ms)),
            }
        })
        .collect();
    Timeline {
        height: num(AXIS_H + rows.len() as f64 * ROW_H + 4.0),
        axis_y: num(AXIS_H - 6.0),
        rows,
        ticks,
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// SVG numbers with one decimal, so output is stable and compact.
fn num(v: f64) -> String {
    format!("{v:.1}")
}
