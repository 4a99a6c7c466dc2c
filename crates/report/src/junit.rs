//! `junit.xml` for CI: one testcase per host × task, so a CI's test view shows which task
//! failed on which host.
//!
//! Unlike Ansible's junit callback, an unreachable host is not dropped: it becomes one errored
//! testcase `HOST: connect`, because a host nobody could reach is exactly what CI must see.
//! One testsuite per play when the events named plays, else one for the whole run. In a
//! `verify` run a task that found drift is a failure (type `drift`): the audit's finding.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::error::ReportError;
use crate::model::{HostReport, HostStatus, RunMode, RunReport, TaskReport, TaskStatus};
use crate::text;

/// Renders the JUnit XML document.
pub fn render_junit(report: &RunReport) -> Result<String, ReportError> {
    let mut junit = Report::new(format!("corsfleet {}", report.playbook));
    if let Some(ms) = text::run_duration(report) {
        junit.set_time(Duration::from_millis(ms));
    }

    // Suite keys: the play index, or None for tasks whose play is unknown.
    let mut keys: Vec<Option<usize>> = (0..report.plays.len()).map(Some).collect();
    if report.plays.is_empty()
        || report
            .hosts
            .iter()
            .flat_map(|h| &h.tasks)
            .any(|t| t.play.is_none())
    {
        keys.push(None);
    }

    for (n, key) in keys.iter().enumerate() {
        let name = match key.and_then(|i| report.plays.get(i)) {
            Some(play) if !play.is_empty() => play.clone(),
            Some(_) => format!("play {}", key.unwrap_or_default() + 1),
            None => report.playbook.clone(),
        };
        let mut suite = TestSuite::new(name);
        suite.add_property(("run_id", report.run_id.as_str()));
        suite.add_property(("mode", text::mode(report)));
        for host in &report.hosts {
            // Connection problems are reported once, in the first suite.
            if n == 0
                && let Some(case) = connect_case(host)
            {
                suite.add_test_case(case);
            }
            if n == 0 && host.status == HostStatus::Interrupted && host.tasks.is_empty() {
                suite.add_test_case(not_started_case(host));
            }
            for task in host.tasks.iter().filter(|t| t.play == *key) {
                suite.add_test_case(task_case(report.mode, host, task));
            }
        }
        junit.add_test_suite(suite);
    }
    Ok(junit.to_string()?)
}

fn connect_case(host: &HostReport) -> Option<TestCase> {
    if host.status != HostStatus::Unreachable && host.recap.unreachable == 0 {
        return None;
    }
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_type("unreachable");
    status.set_message(
        host.message
            .clone()
            .unwrap_or_else(|| "host unreachable".to_owned()),
    );
    let mut case = TestCase::new(format!("{}: connect", host.name), status);
    case.set_classname(host.name.as_str());
    Some(case)
}

/// A host the run never got to: CI should see it was not checked, not silently pass it.
fn not_started_case(host: &HostReport) -> TestCase {
    let mut status = TestCaseStatus::skipped();
    status.set_message("interrupted before this host started");
    let mut case = TestCase::new(format!("{}: not started", host.name), status);
    case.set_classname(host.name.as_str());
    case
}

fn task_case(mode: RunMode, host: &HostReport, task: &TaskReport) -> TestCase {
    let status = match task.status {
        // In an audit, drift is the finding CI must fail on; in check mode it is the plan.
        TaskStatus::Ok | TaskStatus::Changed
            if mode == RunMode::Verify && !task.drift.is_empty() =>
        {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("drift");
            s.set_message(format!(
                "drifted: {} propert{} differ{} from the playbook",
                task.drift.len(),
                if task.drift.len() == 1 { "y" } else { "ies" },
                if task.drift.len() == 1 { "s" } else { "" },
            ));
            s
        }
        TaskStatus::Ok | TaskStatus::Changed => TestCaseStatus::success(),
        TaskStatus::Failed if task.ignored => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("failure ignored (ignore_errors): {}", task.message));
            s
        }
        TaskStatus::Failed => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(task.module.as_str());
            s.set_message(task.message.as_str());
            if task.rolled_back {
                s.set_description("the change was rolled back");
            }
            s
        }
        TaskStatus::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(task.message.as_str());
            s
        }
        TaskStatus::Interrupted => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(if task.message.is_empty() {
                "interrupted before the task finished".to_owned()
            } else {
                format!("interrupted: {}", task.message)
            });
            s
        }
    };
    let mut case = TestCase::new(format!("{}: {}", host.name, task.name), status);
    case.set_classname(host.name.as_str());
    case.set_time(Duration::from_millis(task.duration_ms));
    let mut out = String::new();
    if !task.message.is_empty() {
        out.push_str(&task.message);
        out.push('\n');
    }
    for d in &task.drift {
        out.push_str(&format!(
            "drift: {} expected {:?}, actual {:?}\n",
            d.property, d.expected, d.actual
        ));
    }
    if let Some(diff) = &task.diff {
        out.push_str(diff);
        if !diff.ends_with('\n') {
            out.push('\n');
        }
    }
    if !out.is_empty() {
        case.set_system_out(out);
    }
    case
}
