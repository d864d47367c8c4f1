//! Which periodic tasks are due on a node (privacyIDEA's `get_scheduled_periodic_tasks`): the
//! active tasks that list the node, in `ordering`, whose next run — croniter's `get_next` after
//! the node's last run, or after `last_update` when the task never ran there — is not later
//! than now. The interval is read in the privacyIDEA server's local time zone.
//!
//! The expression is parsed by the scheduler's cron parser (`scheduler::cron`), which has
//! croniter's dialect for 5-field expressions (numbers, names, ranges, steps, lists, 0 and 7
//! for Sunday, the `@` macros) and its strictly-after `next`. One rule differs and is set
//! here: croniter ORs the two day fields whenever neither expands to its full range, so
//! `*/2` in a day field counts as a restriction (Vixie cron treats it as `*`). croniter's
//! extensions (`L`, `W`, `#`, `H`, a seconds or year field) do not parse; privacyIDEA would
//! run such a task, pi-manage skips it as malformed (docs/compatibility.md).

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::store::PeriodicTask;
use crate::scheduler::cron::{CronError, CronExpr};

/// Days 1–31 of the day-of-month field.
const ALL_DAYS_OF_MONTH: u32 = 0xFFFF_FFFE;
/// Sunday (0) to Saturday (6) of the day-of-week field.
const ALL_DAYS_OF_WEEK: u8 = 0x7F;

/// A periodic task's `interval`, with croniter's day-field rule.
#[derive(Debug, Clone)]
pub struct Interval(CronExpr);

impl Interval {
    pub fn parse(text: &str) -> Result<Interval, CronError> {
        let mut expr = CronExpr::parse(text)?;
        expr.dom_restricted = expr.days_of_month != ALL_DAYS_OF_MONTH;
        expr.dow_restricted = expr.days_of_week != ALL_DAYS_OF_WEEK;
        Ok(Interval(expr))
    }

    /// The first slot strictly after `after`, evaluated in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.0.next_after(after, tz)
    }
}

/// Why a task is left out of a run although it is active on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub task: String,
    pub reason: String,
}

/// The next run of `task` on `node` (`calculate_next_timestamp`).
pub fn next_run(task: &PeriodicTask, node: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let start: NaiveDateTime = task.last_run(node).unwrap_or(task.last_update);
    let interval = Interval::parse(&task.interval).map_err(|e| e.to_string())?;
    interval
        .next_after(start.and_utc(), tz)
        .ok_or_else(|| format!("the interval {:?} names no time", task.interval))
}

/// The tasks due on `node` at `now`, in their order, and the active tasks of the node that
/// were ignored because their interval is malformed.
pub fn scheduled<'a>(
    tasks: &'a [PeriodicTask],
    node: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> (Vec<&'a PeriodicTask>, Vec<Ignored>) {
    let mut due = Vec::new();
    let mut ignored = Vec::new();
    for t in tasks.iter().filter(|t| t.active && t.runs_on(node)) {
        match next_run(t, node, tz) {
            Ok(next) if next <= now => due.push(t),
            Ok(_) => {}
            Err(reason) => ignored.push(Ignored {
                task: t.name.clone(),
                reason,
            }),
        }
    }
    (due, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    fn task(interval: &str, last_update: &str, runs: &[(&str, &str)]) -> PeriodicTask {
        PeriodicTask {
            id: 1,
            name: "t".into(),
            active: true,
            retry_if_failed: true,
            interval: interval.into(),
            nodes: vec!["n1".into(), "n2".into()],
            taskmodule: "SimpleStats".into(),
            ordering: 0,
            last_update: at(last_update),
            options: vec![],
            last_runs: runs.iter().map(|(n, t)| (n.to_string(), at(t))).collect(),
        }
    }

    #[test]
    fn next_run_is_strictly_after_the_nodes_last_run_or_the_last_update() {
        let t = task(
            "*/5 * * * *",
            "2026-11-22 10:02:00",
            &[("n1", "2026-11-22 11:05:00.000000")],
        );
        let next = |node| next_run(&t, node, Tz::UTC).unwrap().naive_utc();
        // exactly on a slot: the next slot
        assert_eq!(next("n1"), at("2026-11-22 11:10:00"));
        // never ran on n2: after last_update
        assert_eq!(next("n2"), at("2026-11-22 10:05:00"));
        let t = task("*/5 * * * *", "2026-11-22 10:05:00.000001", &[]);
        assert_eq!(
            next_run(&t, "n1", Tz::UTC).unwrap().naive_utc(),
            at("2026-11-22 10:10:00")
        );
    }

    #[test]
    fn the_interval_is_local_time() {
        // 03:00 in Berlin (UTC+1 in November) is 02:00 UTC.
        let t = task("0 3 * * *", "2026-11-22 12:00:00", &[]);
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            next_run(&t, "n1", berlin).unwrap().naive_utc(),
            at("2026-11-23 02:00:00")
        );
        assert_eq!(
            next_run(&t, "n1", Tz::UTC).unwrap().naive_utc(),
            at("2026-11-23 03:00:00")
        );
    }

    #[test]
    fn dst_transitions_in_local_time() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let next = |last: &str| {
            let t = task("30 2 * * *", last, &[]);
            next_run(&t, "n1", berlin).unwrap().naive_utc()
        };
        // 02:30 does not exist on 2026-03-29: the end of the gap, 03:00 CEST (croniter 7.0.0,
        // which privacyIDEA 3.14 installs, gives the same).
        assert_eq!(next("2026-03-28 12:00:00"), at("2026-03-29 01:00:00"));
        // 02:30 happens twice on 2026-10-25: once, at the first (croniter 7.0.0 runs again
        // at 01:30 UTC; docs/compatibility.md).
        assert_eq!(next("2026-10-24 12:00:00"), at("2026-10-25 00:30:00"));
        assert_eq!(next("2026-10-25 00:30:00"), at("2026-10-26 01:30:00"));
    }

    #[test]
    fn day_fields_are_ored_when_neither_is_full_as_croniter_does() {
        // 2026-11-22 is a Sunday. Odd days OR Tuesdays: the 23rd. (Vixie cron, reading `*/2`
        // as `*`, would AND them: Tuesday the 1st of December.)
        let t = task("0 0 */2 * 2", "2026-11-22 12:00:00", &[]);
        assert_eq!(
            next_run(&t, "n1", Tz::UTC).unwrap().naive_utc(),
            NaiveDate::from_ymd_opt(2026, 11, 23)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        );
        // Full day-of-month: only the weekday restricts.
        let t = task("0 0 * * 3", "2026-11-22 12:00:00", &[]);
        assert_eq!(
            next_run(&t, "n1", Tz::UTC).unwrap().naive_utc(),
            at("2026-11-25 00:00:00")
        );
    }

    #[test]
    fn scheduling_filters_active_nodes_and_malformed_intervals() {
        let now = at("2026-11-22 12:00:00").and_utc();
        let mut a = task("*/5 * * * *", "2026-11-22 11:00:00", &[]);
        a.name = "a".into();
        let mut inactive = a.clone();
        inactive.name = "inactive".into();
        inactive.active = false;
        let mut other = a.clone();
        other.name = "other".into();
        other.nodes = vec!["n3".into()];
        let mut bad = a.clone();
        bad.name = "bad".into();
        bad.interval = "0 0 L * *".into();
        let mut later = a.clone();
        later.name = "later".into();
        later.last_runs = vec![("n1".into(), at("2026-11-22 12:00:00"))];
        let tasks = vec![a, inactive, other, bad, later];
        let (due, ignored) = scheduled(&tasks, "n1", now, Tz::UTC);
        let names: Vec<&str> = due.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a"]);
        assert_eq!(ignored.len(), 1);
        assert_eq!(ignored[0].task, "bad");
        // `later` is due on n2, where it never ran.
        let (due, _) = scheduled(&tasks, "n2", now, Tz::UTC);
        let names: Vec<&str> = due.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "later"]);
    }
}
