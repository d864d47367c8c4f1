//! When a job runs, and which of its tasks each run runs: the union of the job's `schedule`
//! and its tasks' own schedules. The job fires at every instant one of them names (one slot,
//! claimed once across nodes, as for a job with one schedule); a slot runs, in file order,
//! exactly the tasks whose schedule names that instant.
//!
//! Every schedule is evaluated on its own with [`CronExpr::next_after`] (so DST rules are those
//! of each expression); the union is the earliest of their next instants.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::cron::CronExpr;
use crate::job::model::JobFile;

/// One distinct schedule of a job and the tasks that run on it.
#[derive(Debug, Clone)]
struct Entry {
    expr: CronExpr,
    /// Indices into the job's tasks, in file order.
    tasks: Vec<usize>,
    /// Their names, for `--list`.
    names: Vec<String>,
}

/// The schedules of one job.
#[derive(Debug, Clone)]
pub struct JobSchedule {
    entries: Vec<Entry>,
    task_count: usize,
}

impl JobSchedule {
    /// The schedules of `job`: `Ok(None)` when neither the job nor any task has one (the
    /// scheduler ignores such a file). Tasks whose expressions read the same share an entry.
    pub fn of_job(job: &JobFile) -> Result<Option<JobSchedule>, String> {
        let mut entries: Vec<(String, Entry)> = Vec::new();
        for (i, t) in job.tasks.iter().enumerate() {
            let Some(text) = t.schedule.as_ref().or(job.schedule.as_ref()) else {
                continue;
            };
            let key = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Some((_, e)) = entries.iter_mut().find(|(k, _)| *k == key) {
                e.tasks.push(i);
                e.names.push(t.name().to_string());
                continue;
            }
            let expr = if job.schedule_seconds {
                CronExpr::parse_with_seconds(text)
            } else {
                CronExpr::parse(text)
            }
            .map_err(|e| format!("task '{}': invalid schedule '{text}': {e}", t.name()))?;
            entries.push((
                key,
                Entry {
                    expr,
                    tasks: vec![i],
                    names: vec![t.name().to_string()],
                },
            ));
        }
        if entries.is_empty() {
            return Ok(None);
        }
        Ok(Some(JobSchedule {
            entries: entries.into_iter().map(|(_, e)| e).collect(),
            task_count: job.tasks.len(),
        }))
    }

    /// A job with one schedule for all of its `task_count` tasks.
    pub fn single(expr: CronExpr, task_count: usize) -> JobSchedule {
        JobSchedule {
            entries: vec![Entry {
                expr,
                tasks: (0..task_count).collect(),
                names: Vec::new(),
            }],
            task_count,
        }
    }

    /// Whether every task runs in every slot (one schedule for the whole job).
    pub fn is_single(&self) -> bool {
        self.entries.len() == 1 && self.entries[0].tasks.len() == self.task_count
    }

    /// The first slot strictly after `after`: the earliest next instant of any schedule.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.entries
            .iter()
            .filter_map(|e| e.expr.next_after(after, tz))
            .min()
    }

    /// The slots in `(after, until]`, at most `limit` of them, each once even where several
    /// schedules name it.
    pub fn slots_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        tz: Tz,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = after;
        while out.len() < limit {
            match self.next_after(t, tz) {
                Some(n) if n <= until => {
                    out.push(n);
                    t = n;
                }
                _ => break,
            }
        }
        out
    }

    /// The tasks due at `slot` (indices into the job's tasks, in file order): those whose
    /// schedule names that instant. Empty for an instant no schedule names (a slot recorded
    /// under job files that have changed since).
    pub fn tasks_at(&self, slot: DateTime<Utc>, tz: Tz) -> Vec<usize> {
        // Slots are whole seconds: the first instant after a moment before `slot` is `slot`
        // itself exactly when the schedule names it.
        let before = slot - TimeDelta::milliseconds(1);
        let mut due: Vec<usize> = self
            .entries
            .iter()
            .filter(|e| e.expr.next_after(before, tz) == Some(slot))
            .flat_map(|e| e.tasks.iter().copied())
            .collect();
        due.sort_unstable();
        due
    }

    /// Each schedule with the names of the tasks on it (`--list --output json`).
    pub fn parts(&self) -> Vec<(String, Vec<String>)> {
        self.entries
            .iter()
            .map(|e| (e.expr.to_string(), e.names.clone()))
            .collect()
    }
}

impl From<CronExpr> for JobSchedule {
    /// One schedule, for a job of one task (tests, metrics).
    fn from(expr: CronExpr) -> JobSchedule {
        JobSchedule::single(expr, 1)
    }
}

/// One schedule reads as itself; several as `EXPR (task, task); EXPR (task)`.
impl fmt::Display for JobSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            return write!(f, "{}", self.entries[0].expr);
        }
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{} ({})", e.expr, e.names.join(", ")))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock};
    use std::path::Path;

    fn job(yaml: &str) -> JobFile {
        let v = crate::job::source::Source::parse(Path::new("j.yaml"), yaml)
            .unwrap()
            .value;
        serde_json::from_value(v).unwrap()
    }

    /// A job shaped like the crontab's: one task every 5 minutes (on the job's schedule), one
    /// daily at 03:00 and one hourly at :30 of their own.
    const MIXED: &str = "version: 1\nname: m\nschedule: '*/5 * * * *'\ntasks:\n  - name: often\n    kind: challenge_cleanup\n  - name: daily\n    kind: create_tables\n    schedule: '0 3 * * *'\n  - name: hourly\n    kind: enckey\n    schedule: '30 * * * *'\n";

    /// "Now" from the injected clock, as an instant.
    fn at(rfc3339: &str) -> DateTime<Utc> {
        FixedClock::at(rfc3339).now_utc().and_utc()
    }

    #[test]
    fn slots_are_the_union_and_each_runs_only_the_tasks_due_then() {
        let s = JobSchedule::of_job(&job(MIXED)).unwrap().unwrap();
        assert!(!s.is_single());
        let tz = Tz::UTC;
        let slots = s.slots_between(
            at("2026-03-01T02:50:00Z"),
            at("2026-03-01T03:10:00Z"),
            tz,
            100,
        );
        let got: Vec<(String, Vec<usize>)> = slots
            .iter()
            .map(|t| (t.format("%H:%M").to_string(), s.tasks_at(*t, tz)))
            .collect();
        let want: Vec<(String, Vec<usize>)> = vec![
            ("02:55".into(), vec![0]),
            ("03:00".into(), vec![0, 1]),
            ("03:05".into(), vec![0]),
            ("03:10".into(), vec![0]),
        ];
        assert_eq!(got, want);
        // :30 is named by two schedules: one slot, both tasks, in file order.
        let half = at("2026-03-01T03:30:00Z");
        assert_eq!(
            s.next_after(at("2026-03-01T03:25:00Z"), tz),
            Some(half),
            "one slot at :30"
        );
        assert_eq!(s.tasks_at(half, tz), vec![0, 2]);
        assert_eq!(
            s.slots_between(at("2026-03-01T03:25:00Z"), half, tz, 10),
            vec![half]
        );
        // An instant no schedule names runs nothing.
        assert!(s.tasks_at(at("2026-03-01T03:31:00Z"), tz).is_empty());
    }

    #[test]
    fn task_schedules_are_read_in_the_job_zone() {
        let yaml = MIXED.replace("name: m\n", "name: m\ntimezone: Europe/Berlin\n");
        let s = JobSchedule::of_job(&job(&yaml)).unwrap().unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // 03:00 in Berlin (UTC+1 in March before the switch) is 02:00 UTC.
        let three = at("2026-03-01T03:00:00+01:00");
        assert_eq!(s.tasks_at(three, tz), vec![0, 1]);
        assert_eq!(s.tasks_at(at("2026-03-01T03:00:00Z"), tz), vec![0]);
    }

    #[test]
    fn without_a_job_schedule_only_the_task_schedules_fire() {
        let yaml = "version: 1\nname: m\ntasks:\n  - name: a\n    kind: challenge_cleanup\n    schedule: '0 3 * * *'\n  - name: b\n    kind: create_tables\n    schedule: '0  4 * * *'\n  - name: c\n    kind: enckey\n    schedule: '0 4 * * *'\n";
        let s = JobSchedule::of_job(&job(yaml)).unwrap().unwrap();
        let tz = Tz::UTC;
        let slots = s.slots_between(
            at("2026-03-01T00:00:00Z"),
            at("2026-03-02T00:00:00Z"),
            tz,
            100,
        );
        assert_eq!(
            slots,
            vec![at("2026-03-01T03:00:00Z"), at("2026-03-01T04:00:00Z")]
        );
        assert_eq!(s.tasks_at(slots[0], tz), vec![0]);
        // The same expression written with other spacing is one schedule.
        assert_eq!(s.tasks_at(slots[1], tz), vec![1, 2]);
        assert_eq!(s.to_string(), "0 3 * * * (a); 0  4 * * * (b, c)");
    }

    #[test]
    fn one_schedule_runs_every_task_in_every_slot() {
        let yaml = "version: 1\nname: m\nschedule: '*/5 * * * *'\ntasks:\n  - kind: challenge_cleanup\n  - kind: create_tables\n";
        let s = JobSchedule::of_job(&job(yaml)).unwrap().unwrap();
        assert!(s.is_single());
        assert_eq!(s.to_string(), "*/5 * * * *");
        let t = at("2026-03-01T03:05:00Z");
        assert_eq!(s.tasks_at(t, Tz::UTC), vec![0, 1]);
        let none = "version: 1\nname: m\ntasks:\n  - kind: challenge_cleanup\n";
        assert!(JobSchedule::of_job(&job(none)).unwrap().is_none());
    }

    #[test]
    fn seconds_mode_applies_to_task_schedules() {
        let yaml = "version: 1\nname: m\nschedule: '*/10 * * * * *'\nschedule_seconds: true\ntasks:\n  - name: a\n    kind: challenge_cleanup\n  - name: b\n    kind: create_tables\n    schedule: '15 * * * * *'\n";
        let s = JobSchedule::of_job(&job(yaml)).unwrap().unwrap();
        let tz = Tz::UTC;
        let slots = s.slots_between(
            at("2026-03-01T00:00:00Z"),
            at("2026-03-01T00:00:20Z"),
            tz,
            100,
        );
        let got: Vec<(u32, Vec<usize>)> = slots
            .iter()
            .map(|t| (chrono::Timelike::second(t), s.tasks_at(*t, tz)))
            .collect();
        assert_eq!(got, vec![(10, vec![0]), (15, vec![1]), (20, vec![0])]);
    }
}
