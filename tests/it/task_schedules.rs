//! Tasks with schedules of their own: how job files state them (and the errors, with their
//! positions), and the scheduler's slots on every backend — a job fires at the union of its
//! schedules, each slot is claimed once across two nodes, and runs only the tasks due then.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use pi_manage::clock::Clock;
use pi_manage::db::OpenOptions;
use pi_manage::interrupt::Interrupt;
use pi_manage::job::check::check_job_text;
use pi_manage::schedule_log::{LogFormat, SchedulerLog};
use pi_manage::scheduler::daemon::{self, ScheduleOptions, Scheduled};
use pi_manage::scheduler::deferred::Deferred;
use pi_manage::scheduler::ledger::{slot_key, Ledger, Trigger};
use pi_manage::scheduler::metrics::SchedulerMetrics;
use pi_manage::scheduler::slot::{self, SlotContext};

use crate::harness::*;

fn problems(yaml: &str) -> Vec<String> {
    match check_job_text(Path::new("job.yaml"), yaml) {
        Ok(j) => j.warnings.iter().map(|d| d.to_string()).collect(),
        Err(d) => d.iter().map(|d| d.to_string()).collect(),
    }
}

#[test]
fn a_task_schedule_validates_like_the_job_schedule() {
    let ok = "version: 1\nname: t\nschedule: '*/5 * * * *'\ntasks:\n  - kind: challenge_cleanup\n  - kind: create_tables\n    schedule: '0 3 * * *'\n";
    assert_eq!(problems(ok), Vec::<String>::new());
    // The job may leave its schedule out when every task has its own.
    let own = "version: 1\nname: t\ntasks:\n  - kind: challenge_cleanup\n    schedule: '@hourly'\n  - kind: create_tables\n    schedule: '0 3 * * *'\n";
    assert_eq!(problems(own), Vec::<String>::new());
}

#[test]
fn a_bad_task_schedule_is_reported_at_its_value() {
    // Cron syntax the parser refuses: at the value, with the job's wording.
    let e = problems("version: 1\nname: t\nschedule: '*/5 * * * *'\ntasks:\n  - kind: challenge_cleanup\n  - kind: create_tables\n    schedule: '0 25 * * *'\n");
    assert_eq!(
        e,
        ["job.yaml:7:15: invalid schedule '0 25 * * *': hour 25 is out of range 0-23 (at /tasks/1/schedule)\n  hint: write 5 fields, e.g. '30 2 * * *' for 02:30 every day, or @daily"]
    );
    // The wrong number of fields: the schema's pattern and the parser both point at it.
    let e = problems(
        "version: 1\nname: t\ntasks:\n  - kind: challenge_cleanup\n    schedule: '0 3 * *'\n",
    );
    assert!(e.iter().all(|m| m.starts_with("job.yaml:5:15: ")), "{e:?}");
    assert!(
        e.iter().any(|m| m.contains("not a cron expression")),
        "{e:?}"
    );
    // Not a string.
    let e = problems("version: 1\nname: t\ntasks:\n  - kind: challenge_cleanup\n    schedule: 5\n");
    assert_eq!(
        e,
        ["job.yaml:5:15: expected string, found an integer (at /tasks/0/schedule)"]
    );
    // schedule_seconds applies to the tasks' schedules too.
    let e = problems("version: 1\nname: t\nschedule_seconds: true\nschedule: '0 */5 * * * *'\ntasks:\n  - kind: create_tables\n  - kind: challenge_cleanup\n    schedule: '0 3 * * *'\n");
    assert_eq!(
        e,
        ["job.yaml:8:15: invalid schedule '0 3 * * *': with schedule_seconds, a cron expression has 6 fields (second minute hour day-of-month month day-of-week), found 5 (at /tasks/1/schedule)\n  hint: write 6 fields (schedule_seconds is true), e.g. '0 30 2 * * *' for 02:30 every day"]
    );
}

#[test]
fn a_task_without_a_schedule_needs_the_jobs() {
    let e = problems("version: 1\nname: t\ntasks:\n  - kind: challenge_cleanup\n    schedule: '0 3 * * *'\n  - name: never\n    kind: create_tables\n");
    assert_eq!(
        e,
        ["job.yaml:6:5: task 'never' has no schedule, and the job has none for it to run on: `pi-manage schedule` would never run it (at /tasks/1)\n  hint: give the task a 'schedule', or give the job one"]
    );
    // A job schedule no task runs on is pointed out, and the file stays valid.
    let w = problems("version: 1\nname: t\nschedule: '@daily'\ntasks:\n  - kind: challenge_cleanup\n    schedule: '0 3 * * *'\n");
    assert_eq!(
        w,
        ["job.yaml:3:11: warning: every task has a schedule of its own, so no task runs on the job's schedule (at /schedule)\n  hint: remove the job's 'schedule', or the schedule of the tasks that should run on it"]
    );
}

#[test]
fn an_unknown_task_field_still_lists_schedule_among_the_allowed() {
    let e =
        problems("version: 1\nname: t\ntasks:\n  - kind: create_tables\n    schedul: '@daily'\n");
    assert_eq!(
        e,
        ["job.yaml:5:5: unknown field 'schedul' (at /tasks/0/schedul)\n  hint: did you mean 'schedule'?"]
    );
}

/// The scheduler's view of node `node` on `sched`'s database.
fn node(sched: &Arc<Scheduled>, node: &str) -> SlotContext {
    SlotContext {
        sched: sched.clone(),
        opts: Arc::new(ScheduleOptions {
            node: node.into(),
            lease_ttl: StdDuration::from_secs(60),
            grace: StdDuration::from_secs(5),
            history_retention: TimeDelta::days(3650),
            open: OpenOptions::default(),
            picfg: None,
            picfg_python: None,
            metrics: Arc::new(SchedulerMetrics::new(node, StdDuration::from_secs(60))),
        }),
        log: SchedulerLog::new(LogFormat::Json, node),
        global: Interrupt::new(),
        deferred: Deferred::default(),
    }
}

/// A job like the crontab's: challenge cleanup on the job's `*/5`, audit rotation on its own
/// daily 03:00. Two nodes run each slot the slot machinery computes from an injected "now"
/// (02:52): every slot has one ledger row, by one node, that ran only the tasks due then —
/// which the rows the tasks deleted show too.
#[test]
fn each_slot_runs_only_its_due_tasks_and_is_claimed_once_across_two_nodes() {
    for db in privacyidea_databases() {
        let label = db.label();
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("crontab.yaml");
        std::fs::write(
            &job,
            format!(
                "version: 1\nname: mixed\nconnection:\n  database: '{}'\nschedule: '*/5 * * * *'\ntimezone: UTC\ntasks:\n  - name: often\n    kind: challenge_cleanup\n  - name: daily\n    kind: audit_rotate\n    older_than: 1d\n    schedule: '0 3 * * *'\n",
                db.url_text()
            ),
        )
        .unwrap();
        let (mut jobs, _) =
            daemon::load(&[job], None, None).unwrap_or_else(|e| panic!("{label}: {e:?}"));
        let sched = Arc::new(jobs.remove(0));
        let (n1, n2) = (node(&sched, "n1"), node(&sched, "n2"));

        let now: DateTime<Utc> = clock_at("2026-03-01T02:52:00+00:00").now_utc().and_utc();
        let slots = sched
            .expr
            .slots_between(now, now + TimeDelta::minutes(15), sched.tz, 10);
        let keys: Vec<String> = slots.iter().map(|s| slot_key(*s)).collect();
        assert_eq!(
            keys,
            [
                "2026-03-01T02:55:00.000000Z",
                "2026-03-01T03:00:00.000000Z",
                "2026-03-01T03:05:00.000000Z"
            ],
            "{label}"
        );

        // Far in the past, so both tasks find them due whatever the real date is.
        let old = NaiveDate::from_ymd_opt(2020, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let mut conn = db.connect();
        let mut deleted = Vec::new();
        for (i, s) in slots.iter().enumerate() {
            let id = i as i64 + 1;
            insert_challenges(conn.as_mut(), &[(id, old, old)]);
            insert_audit(conn.as_mut(), &[(id, old, "POST /validate/check", "")]);
            // Both nodes reach the slot at once; the ledger lets one of them run it.
            std::thread::scope(|scope| {
                for ctx in [&n1, &n2] {
                    scope.spawn(move || {
                        slot::run_slot(ctx, *s, Trigger::Schedule, &slot::execute_job)
                    });
                }
            });
            deleted.push((
                ids(conn.as_mut(), "challenge"),
                ids(conn.as_mut(), "pidea_audit"),
            ));
        }
        // The challenge cleanup ran in every slot; the audit rotation only at 03:00, so the
        // entry of 02:55 stayed until then and the one of 03:05 stays.
        assert_eq!(
            deleted,
            [(vec![], vec![1]), (vec![], vec![]), (vec![], vec![3]),],
            "{label}"
        );

        let mut rows = Ledger::new(db.connect(), "check")
            .unwrap()
            .history(Some("mixed"), 100)
            .unwrap();
        rows.sort_by(|a, b| a.slot.cmp(&b.slot));
        let got: Vec<(String, String, Vec<String>)> = rows
            .iter()
            .map(|r| (r.slot.clone(), r.status.clone(), r.tasks.clone()))
            .collect();
        let want: Vec<(String, String, Vec<String>)> = vec![
            (keys[0].clone(), "ok".into(), vec!["often".into()]),
            (
                keys[1].clone(),
                "ok".into(),
                vec!["often".into(), "daily".into()],
            ),
            (keys[2].clone(), "ok".into(), vec!["often".into()]),
        ];
        assert_eq!(got, want, "{label}: {rows:#?}");
        assert!(
            rows.iter().all(|r| r.node == "n1" || r.node == "n2"),
            "{label}: {rows:#?}"
        );
        // What `schedule --list` shows for those slots.
        let names: Vec<Vec<&str>> = slots.iter().map(|s| sched.task_names_at(*s)).collect();
        assert_eq!(
            names,
            [vec!["often"], vec!["often", "daily"], vec!["often"]],
            "{label}"
        );
    }
}

/// `jobs/privacyidea-crontab.yaml` runs each task as often as its crontab line did: over one
/// day, the periodic tasks in each of the 288 five-minute slots, the challenge cleanup hourly,
/// every other task once, at its line's time.
#[test]
fn the_crontab_job_runs_each_task_on_its_lines_schedule() {
    use pi_manage::scheduler::job_schedule::JobSchedule;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/privacyidea-crontab.yaml");
    let job = pi_manage::job::check::load_job(Path::new(path)).unwrap_or_else(|d| panic!("{d:#?}"));
    assert!(job.warnings.is_empty(), "{:?}", job.warnings);
    let sched = JobSchedule::of_job(&job.file).unwrap().expect("scheduled");
    let tz = chrono_tz::Tz::UTC;
    let day: DateTime<Utc> = clock_at("2026-03-01T00:00:00+00:00").now_utc().and_utc();
    let slots = sched.slots_between(
        day - TimeDelta::seconds(1),
        day + TimeDelta::hours(24) - TimeDelta::seconds(1),
        tz,
        10_000,
    );
    assert_eq!(slots.len(), 288);
    let mut runs: Vec<(String, Vec<String>)> = job
        .tasks
        .iter()
        .map(|t| (t.name().to_string(), Vec::new()))
        .collect();
    for s in &slots {
        for i in sched.tasks_at(*s, tz) {
            runs[i].1.push(s.format("%H:%M").to_string());
        }
    }
    let count = |name: &str| {
        runs.iter()
            .find(|r| r.0 == name)
            .map(|r| r.1.len())
            .unwrap()
    };
    assert_eq!(count("periodic-tasks"), 288);
    assert_eq!(count("expired-challenges"), 24);
    let once: Vec<(&str, &[String])> = runs
        .iter()
        .filter(|r| r.1.len() == 1)
        .map(|r| (r.0.as_str(), r.1.as_slice()))
        .collect();
    let at = |t: &str| vec![t.to_string()];
    assert_eq!(
        once,
        [
            ("expired-remembered-devices", at("00:00").as_slice()),
            ("audit-watermarks", at("02:00").as_slice()),
            ("expired-user-cache", at("04:00").as_slice()),
            ("old-metrics", at("03:00").as_slice()),
            ("unused-authcache", at("03:00").as_slice()),
            ("expired-conditional-access", at("03:00").as_slice()),
        ]
    );
    // The 02:00 slot runs its three tasks in file order.
    let two = clock_at("2026-03-01T02:00:00+00:00").now_utc().and_utc();
    let names: Vec<&str> = sched
        .tasks_at(two, tz)
        .into_iter()
        .map(|i| job.tasks[i].name())
        .collect();
    assert_eq!(
        names,
        ["periodic-tasks", "expired-challenges", "audit-watermarks"]
    );
}
