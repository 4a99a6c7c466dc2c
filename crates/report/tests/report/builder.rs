//! Folding events: Ansible recap counting, host order, robustness to order and to streams cut
//! off, and the exit class precedence.

use corsfleet_report::{
    AbortReason, ExitClass, HostStatus, Recap, ReportBuilder, RunReport, TaskStatus, exit_class,
};
use corsfleet_runner::events::RunEvent;

use crate::fixtures::{self, Ev};

fn build(events: &[RunEvent]) -> RunReport {
    let mut b = ReportBuilder::new();
    for e in events {
        b.push(e);
    }
    b.finish()
}

fn host<'a>(r: &'a RunReport, name: &str) -> &'a corsfleet_report::HostReport {
    r.hosts
        .iter()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("no host {name}"))
}

#[test]
fn recap_counts_like_ansible() {
    let r = build(&fixtures::run_events().events);
    let recap = |n: &str| host(&r, n).recap;
    // changed tasks count as ok too
    assert_eq!(
        recap("logger-a"),
        Recap {
            ok: 4,
            changed: 2,
            unreachable: 0,
            failed: 0,
            skipped: 0,
            ignored: 0
        }
    );
    assert_eq!(
        recap("logger-b"),
        Recap {
            ok: 4,
            changed: 0,
            unreachable: 0,
            failed: 0,
            skipped: 0,
            ignored: 0
        }
    );
    // the ignored failure counts as ignored only, the real one as failed
    assert_eq!(
        recap("aw-1"),
        Recap {
            ok: 1,
            changed: 0,
            unreachable: 0,
            failed: 1,
            skipped: 1,
            ignored: 1
        }
    );
    assert_eq!(
        recap("aw-2"),
        Recap {
            ok: 0,
            changed: 0,
            unreachable: 1,
            failed: 0,
            skipped: 0,
            ignored: 0
        }
    );
    assert_eq!(
        recap("aw-3"),
        Recap {
            ok: 0,
            changed: 0,
            unreachable: 0,
            failed: 0,
            skipped: 1,
            ignored: 0
        }
    );
}

#[test]
fn totals_agree_with_hosts() {
    let r = build(&fixtures::run_events().events);
    let t = r.totals;
    assert_eq!(t.hosts, 5);
    assert_eq!(
        (t.ok, t.changed, t.failed, t.unreachable, t.skipped),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(t.tasks, 4 + 4 + 4 + 1);
    assert_eq!(t.reboot_required, 1);
    assert_eq!(t.rolled_back, 1);
    let mut sum = Recap::default();
    for h in &r.hosts {
        sum.add(&h.recap);
    }
    assert_eq!(t.recap, sum);
    assert_eq!(t.recap.ok, 9);
}

#[test]
fn run_metadata_and_task_details_are_kept() {
    let ev = fixtures::run_events();
    let r = build(&ev.events);
    assert_eq!(r.schema, 1);
    assert_eq!(r.run_id, fixtures::fresh_run_id(ev.base));
    assert_eq!(r.playbook, "playbooks/cors.yml");
    assert_eq!(r.limit.as_deref(), Some("ucce"));
    assert_eq!(r.started_at, ev.base);
    assert_eq!(r.finished_at, Some(ev.t(22_800)));
    assert_eq!(r.plays, vec!["Enable CORS for the Config API".to_owned()]);
    let names: Vec<&str> = r.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["logger-a", "logger-b", "aw-1", "aw-2", "aw-3"]);

    let a = host(&r, "logger-a");
    assert_eq!(a.status, HostStatus::Changed);
    let install = &a.tasks[1];
    assert_eq!(install.name, fixtures::INSTALL);
    assert_eq!(install.duration_ms, 20_500);
    assert!(install.changed && install.reboot_required && !install.rolled_back);
    assert_eq!(install.play, Some(0));
    assert_eq!(a.tasks[2].diff.as_deref(), Some(fixtures::CORS_DIFF));

    let aw1 = host(&r, "aw-1");
    assert!(aw1.tasks[2].rolled_back);
    assert_eq!(aw1.tasks[2].status, TaskStatus::Failed);
    assert!(!aw1.tasks[2].changed);

    let aw2 = host(&r, "aw-2");
    assert_eq!(aw2.status, HostStatus::Unreachable);
    assert_eq!(
        aw2.message.as_deref(),
        Some("ssh: connect to 10.0.0.42:22 timed out after 10s")
    );
    assert!(aw2.tasks.is_empty());
}

#[test]
fn any_event_order_gives_the_same_report() {
    let events = fixtures::run_events().events;
    let in_order = build(&events);
    let mut reversed = events.clone();
    reversed.reverse();
    assert_eq!(build(&reversed), in_order);
    // Interleave hosts differently: every host's events, host by host, from the back.
    let mut rotated = events.clone();
    rotated.rotate_left(events.len() / 2);
    assert_eq!(build(&rotated), in_order);
}

/// Deterministic Fisher–Yates with a small LCG: many orders, reproducible by seed.
fn shuffled(events: &[RunEvent], seed: u64) -> Vec<RunEvent> {
    let mut v = events.to_vec();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..v.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (state >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
    v
}

#[test]
fn shuffled_events_give_the_same_report() {
    for fixture in [fixtures::run_events(), fixtures::verify_events()] {
        let in_order = build(&fixture.events);
        for seed in 0..64 {
            let r = build(&shuffled(&fixture.events, seed));
            assert_eq!(r, in_order, "seed {seed}");
        }
    }
}

#[test]
fn hosts_follow_run_started_order_and_unknown_hosts_come_last() {
    let mut ev = Ev::new();
    ev.connected("stray", 5);
    ev.host_done("stray", HostStatus::Ok, 6);
    ev.start(corsfleet_report::RunMode::Run, false, &["b", "a"]);
    ev.host_done("a", HostStatus::Ok, 10);
    ev.host_done("b", HostStatus::Ok, 10);
    ev.finish(20);
    let r = build(&ev.events);
    let names: Vec<&str> = r.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["b", "a", "stray"]);
}

#[test]
fn cut_off_stream_leaves_interrupted_tasks_and_hosts() {
    let r = build(&fixtures::interrupted_events().events);
    assert_eq!(r.finished_at, None);
    assert_eq!(r.aborted, Some(AbortReason::Interrupted));
    assert!(r.check);
    let a = host(&r, "logger-a");
    assert_eq!(
        a.status,
        HostStatus::Interrupted,
        "no HostFinished → interrupted"
    );
    assert_eq!(a.tasks.len(), 2);
    assert_eq!(a.tasks[1].status, TaskStatus::Interrupted);
    assert_eq!(a.tasks[1].finished_at, None);
    assert_eq!(
        a.recap,
        Recap {
            ok: 1,
            ..Recap::default()
        }
    );
    let b = host(&r, "logger-b");
    assert_eq!(b.status, HostStatus::Interrupted);
    assert_eq!(r.totals.interrupted, 2);
    assert_eq!(exit_class(&r), ExitClass::Interrupted);
}

#[test]
fn unreachable_without_host_finished_stays_unreachable() {
    let mut ev = Ev::new();
    ev.start(corsfleet_report::RunMode::Run, false, &["x"]);
    ev.unreachable("x", 5, "connection refused");
    let r = build(&ev.events);
    assert_eq!(r.hosts[0].status, HostStatus::Unreachable);
    assert_eq!(r.hosts[0].recap.unreachable, 1);
}

#[test]
fn one_host_finished_per_play_keeps_the_most_serious() {
    let mut ev = Ev::new();
    ev.start(corsfleet_report::RunMode::Run, false, &["x", "y"]);
    ev.play(0, "one", &["x", "y"]);
    ev.host_done("x", HostStatus::Changed, 5);
    ev.host_done("y", HostStatus::Failed, 5);
    ev.play(1, "two", &["x", "y"]);
    ev.host_done("x", HostStatus::Ok, 9);
    ev.host_done("y", HostStatus::Skipped, 9);
    ev.finish(10);
    let r = build(&ev.events);
    assert_eq!(host(&r, "x").status, HostStatus::Changed);
    assert_eq!(host(&r, "y").status, HostStatus::Failed);
    assert_eq!(r.plays, ["one", "two"]);
}

#[test]
fn tasks_of_two_plays_with_the_same_index_stay_apart() {
    use crate::fixtures::Task;
    let mut ev = Ev::new();
    ev.start(corsfleet_report::RunMode::Run, false, &["x"]);
    ev.play(0, "one", &["x"]);
    ev.task(
        "x",
        Task::new(0, "first", "iis_facts", TaskStatus::Ok).at(0, 1),
    );
    ev.play(1, "two", &["x"]);
    ev.task(
        "x",
        Task::new(0, "second", "iis_facts", TaskStatus::Changed).at(2, 3),
    );
    ev.host_done("x", HostStatus::Changed, 4);
    ev.finish(5);
    let r = build(&ev.events);
    let tasks: Vec<(Option<usize>, &str)> = r.hosts[0]
        .tasks
        .iter()
        .map(|t| (t.play, t.name.as_str()))
        .collect();
    assert_eq!(tasks, [(Some(0), "first"), (Some(1), "second")]);
}

#[test]
fn verify_statuses_come_from_host_finished() {
    let r = build(&fixtures::verify_events().events);
    assert_eq!(host(&r, "logger-a").status, HostStatus::Compliant);
    assert_eq!(host(&r, "aw-1").status, HostStatus::Drifted);
    assert_eq!(host(&r, "aw-1").tasks[0].drift.len(), 2);
    assert_eq!((r.totals.compliant, r.totals.drifted), (1, 1));
    assert_eq!(exit_class(&r), ExitClass::Failed);
}

#[test]
fn exit_class_precedence() {
    let base = build(&fixtures::run_events().events);
    // the run fixture has a failed and an unreachable host: failed wins
    assert_eq!(exit_class(&base), ExitClass::Failed);

    let with = |f: &dyn Fn(&mut RunReport)| {
        let mut r = base.clone();
        f(&mut r);
        exit_class(&r)
    };
    let set = |r: &mut RunReport, name: &str, s: HostStatus| {
        for h in r.hosts.iter_mut().filter(|h| h.name == name) {
            h.status = s;
        }
    };
    // no failure left: unreachable
    assert_eq!(
        with(&|r| set(r, "aw-1", HostStatus::Ok)),
        ExitClass::Unreachable
    );
    // nothing wrong: success
    assert_eq!(
        with(&|r| {
            set(r, "aw-1", HostStatus::Ok);
            set(r, "aw-2", HostStatus::Ok);
        }),
        ExitClass::Success
    );
    // an abort outranks failures
    let max_fail = AbortReason::MaxFailPercentage {
        play: "p".to_owned(),
        failed: 1,
        of: 5,
        limit: 10,
    };
    assert_eq!(
        with(&|r| r.aborted = Some(max_fail.clone())),
        ExitClass::Aborted
    );
    // an interrupt outranks an abort
    assert_eq!(
        with(&|r| r.aborted = Some(AbortReason::Interrupted)),
        ExitClass::Interrupted
    );
    // a run that never finished is interrupted, whatever else happened
    assert_eq!(
        with(&|r| {
            r.aborted = Some(max_fail.clone());
            r.finished_at = None;
        }),
        ExitClass::Interrupted
    );
    // hosts left interrupted after a max-fail abort do not turn it into an interrupt
    assert_eq!(
        with(&|r| {
            r.aborted = Some(max_fail.clone());
            set(r, "aw-3", HostStatus::Interrupted);
        }),
        ExitClass::Aborted
    );
    assert_eq!(
        with(&|r| set(r, "aw-3", HostStatus::Interrupted)),
        ExitClass::Interrupted
    );
    // drifted counts as failed
    assert_eq!(
        with(&|r| {
            set(r, "aw-1", HostStatus::Drifted);
            set(r, "aw-2", HostStatus::Compliant);
        }),
        ExitClass::Failed
    );
}
