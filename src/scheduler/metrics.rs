//! The scheduler's metrics registry: what `/metrics` reports and what `/healthz` and systemd's
//! readiness judge. The loop feeds it through a few calls ([`SchedulerMetrics::tick`], the
//! ledger probe's [`SchedulerMetrics::ledger_reached`] / [`SchedulerMetrics::ledger_unreachable`])
//! and it folds the scheduler's log events ([`SchedulerMetrics::observe`]), so the runs it
//! counts are exactly the runs the log reports.
//!
//! Two views, on purpose: counters (runs by status, takeovers, ledger errors, the lease held)
//! are this node's; the last run and the last success come from the run ledger (read at every
//! ledger probe, each half lease period), so every node reports the same cluster-wide values
//! and an alert works whichever node is scraped.
//!
//! The job's label is `job_name`, not `job`: Prometheus sets `job` on every scraped series
//! itself (the scrape job) and would rename ours to `exported_job`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::exposition::{Exposition, Kind};
use super::job_schedule::JobSchedule;
use super::ledger::RunRecord;
use crate::schedule_log::Event;

/// The statuses a run ends with (the ledger's, plus `lease_lost`, which only the log knows).
/// Every job's run counter starts at 0 for each, so `increase()` sees the first run.
pub const RUN_STATUSES: &[&str] = &[
    "ok",
    "failed",
    "timeout",
    "interrupted",
    "lease_lost",
    "skipped",
    "abandoned",
];

/// The last run of a job as the ledger (or this node's own run) recorded it.
#[derive(Debug, Clone, PartialEq)]
struct LastRun {
    status: String,
    end: DateTime<Utc>,
    duration_seconds: Option<f64>,
    rows: Option<i64>,
}

impl LastRun {
    fn from_record(r: &RunRecord) -> Option<LastRun> {
        let end = r
            .finished_at
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())?
            .with_timezone(&Utc);
        Some(LastRun {
            status: r.status.clone(),
            end,
            duration_seconds: r.duration_ms.map(|ms| ms as f64 / 1000.0),
            rows: r.rows_affected,
        })
    }
}

#[derive(Debug, Default)]
struct JobMetrics {
    runs: BTreeMap<String, u64>,
    last_run: Option<LastRun>,
    last_success: Option<DateTime<Utc>>,
    next_fire: Option<DateTime<Utc>>,
    interval_seconds: Option<f64>,
    lease_held: bool,
    takeovers: u64,
    ledger_errors: u64,
    ledger_reached: Option<Instant>,
    ledger_error: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    jobs: BTreeMap<String, JobMetrics>,
    last_tick: Option<(Instant, DateTime<Utc>)>,
    stopping: bool,
}

/// Shared by the loop, the run threads (through the log) and the HTTP server.
#[derive(Debug)]
pub struct SchedulerMetrics {
    node: String,
    lease: Duration,
    state: Mutex<State>,
}

/// One scheduled job as the loop sees it on a tick.
pub struct JobTick<'a> {
    pub name: &'a str,
    pub next: Option<DateTime<Utc>>,
    pub expr: &'a JobSchedule,
    pub tz: Tz,
}

impl SchedulerMetrics {
    /// `lease` is the scheduler's lease period: the loop and the ledger must have been seen
    /// within it for the node to be healthy.
    pub fn new(node: &str, lease: Duration) -> SchedulerMetrics {
        SchedulerMetrics {
            node: node.to_string(),
            lease,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking holder leaves plain numbers behind; they are still worth reporting.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The loop ran: the current job set and each job's next fire time. Jobs that left the
    /// set (a reload) are dropped unless a run of theirs still holds the lease.
    pub fn tick<'a>(&self, jobs: impl IntoIterator<Item = JobTick<'a>>) {
        let mut st = self.state();
        st.last_tick = Some((Instant::now(), Utc::now()));
        let mut seen = Vec::new();
        for j in jobs {
            seen.push(j.name.to_string());
            let m = st.jobs.entry(j.name.to_string()).or_default();
            if m.next_fire != j.next || m.interval_seconds.is_none() {
                m.next_fire = j.next;
                // The gap between the next two fire times: what "twice its interval" means
                // in an alert, for any cron expression.
                m.interval_seconds = j.next.and_then(|n| {
                    j.expr
                        .next_after(n, j.tz)
                        .map(|f| (f - n).num_milliseconds() as f64 / 1000.0)
                });
            }
        }
        st.jobs
            .retain(|name, m| m.lease_held || seen.iter().any(|s| s == name));
    }

    /// The ledger probe reached `job`'s run ledger; `latest` is its last finished run and its
    /// last successful one (any node).
    pub fn ledger_reached(&self, job: &str, latest: (Option<RunRecord>, Option<RunRecord>)) {
        let mut st = self.state();
        let m = st.jobs.entry(job.to_string()).or_default();
        m.ledger_reached = Some(Instant::now());
        m.ledger_error = None;
        if let Some(last) = latest.0.as_ref().and_then(LastRun::from_record) {
            m.last_run = Some(last);
        }
        if let Some(ok) = latest.1.as_ref().and_then(LastRun::from_record) {
            m.last_success = Some(ok.end);
        }
    }

    /// The ledger probe could not reach `job`'s run ledger.
    pub fn ledger_unreachable(&self, job: &str, error: &str) {
        let mut st = self.state();
        let m = st.jobs.entry(job.to_string()).or_default();
        m.ledger_errors += 1;
        m.ledger_error = Some(one_line(error));
    }

    /// The loop stopped taking new work (shutdown): the node is no longer healthy.
    pub fn stopping(&self) {
        self.state().stopping = true;
    }

    /// Fold one scheduler log event into the counters.
    pub fn observe(&self, e: &Event) {
        let Some(job) = e.job.as_deref() else {
            return;
        };
        let mut st = self.state();
        let m = st.jobs.entry(job.to_string()).or_default();
        match e.event {
            "run_started" => {
                m.lease_held = true;
                if e.trigger == Some("takeover") {
                    m.takeovers += 1;
                }
            }
            "run_finished" => {
                m.lease_held = false;
                let status = e.status.clone().unwrap_or_else(|| "failed".into());
                *m.runs.entry(status).or_default() += 1;
            }
            "slot_skipped" => *m.runs.entry("skipped".into()).or_default() += 1,
            "slot_abandoned" => *m.runs.entry("abandoned".into()).or_default() += 1,
            "claim_failed" | "record_failed" | "lease_renew_failed" => m.ledger_errors += 1,
            _ => {}
        }
    }

    /// True once every job's run ledger has been reached (systemd's `READY=1`).
    pub fn ledgers_reached(&self) -> bool {
        self.state()
            .jobs
            .values()
            .all(|m| m.ledger_reached.is_some())
    }

    /// The job due next and when.
    pub fn next_due(&self) -> Option<(String, DateTime<Utc>)> {
        self.state()
            .jobs
            .iter()
            .filter_map(|(name, m)| m.next_fire.map(|n| (name.clone(), n)))
            .min_by_key(|(_, n)| *n)
    }

    /// `Ok(summary)` while the loop ticked and every job's run ledger was reached within the
    /// lease period; otherwise `Err(reason)`, one line.
    pub fn health(&self) -> Result<String, String> {
        let st = self.state();
        if st.stopping {
            return Err("shutting down: the scheduler takes no new work".into());
        }
        let Some((tick, _)) = st.last_tick else {
            return Err("starting: the scheduler loop has not run yet".into());
        };
        if tick.elapsed() > self.lease {
            return Err(format!(
                "the scheduler loop has not run for {}s (lease period {}s)",
                tick.elapsed().as_secs(),
                self.lease.as_secs()
            ));
        }
        for (name, m) in &st.jobs {
            let error = m
                .ledger_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            match m.ledger_reached {
                None => {
                    return Err(format!(
                        "the run ledger of job '{name}' has not been reached yet{error}"
                    ))
                }
                Some(t) if t.elapsed() > self.lease => {
                    return Err(format!(
                        "the run ledger of job '{name}' was last reached {}s ago (lease period {}s){error}",
                        t.elapsed().as_secs(),
                        self.lease.as_secs()
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(format!(
            "ok: the scheduler loop is running {} job(s) and their run ledger is reachable",
            st.jobs.len()
        ))
    }

    /// The scrape answer, in the Prometheus text format.
    pub fn render(&self) -> String {
        let st = self.state();
        let mut e = Exposition::default();
        let jobs = &st.jobs;
        let per_job = |e: &mut Exposition,
                       name: &str,
                       kind: Kind,
                       help: &str,
                       value: &dyn Fn(&JobMetrics) -> Option<f64>| {
            e.family(name, kind, help);
            for (job, m) in jobs {
                if let Some(v) = value(m) {
                    e.sample(name, &[("job_name", job)], v);
                }
            }
        };

        let name = "pi_manage_job_runs_total";
        e.family(
            name,
            Kind::Counter,
            "Runs of the job this node finished, by status (skipped and abandoned slots included).",
        );
        for (job, m) in jobs {
            let mut statuses: Vec<&str> = RUN_STATUSES.to_vec();
            statuses.extend(m.runs.keys().map(String::as_str));
            statuses.sort_unstable();
            statuses.dedup();
            for s in statuses {
                let n = m.runs.get(s).copied().unwrap_or(0);
                e.sample(name, &[("job_name", job), ("status", s)], n as f64);
            }
        }

        let name = "pi_manage_job_last_run_status";
        e.family(name, Kind::Gauge, "The status of the job's last finished run on any node (1 for its status, 0 for the others).");
        for (job, m) in jobs {
            let Some(last) = &m.last_run else { continue };
            let mut statuses: Vec<&str> = RUN_STATUSES.to_vec();
            if !statuses.contains(&last.status.as_str()) {
                statuses.push(&last.status);
            }
            for s in statuses {
                let v = if s == last.status { 1.0 } else { 0.0 };
                e.sample(name, &[("job_name", job), ("status", s)], v);
            }
        }

        per_job(
            &mut e,
            "pi_manage_job_last_run_end_timestamp_seconds",
            Kind::Gauge,
            "When the job's last run ended (any node), in seconds since the epoch.",
            &|m| m.last_run.as_ref().map(|l| epoch_seconds(l.end)),
        );
        per_job(
            &mut e,
            "pi_manage_job_last_run_duration_seconds",
            Kind::Gauge,
            "How long the job's last run took (any node).",
            &|m| m.last_run.as_ref().and_then(|l| l.duration_seconds),
        );
        per_job(
            &mut e,
            "pi_manage_job_last_run_rows_affected",
            Kind::Gauge,
            "Rows the job's last run deleted or changed (any node); absent when it reported none.",
            &|m| m.last_run.as_ref().and_then(|l| l.rows).map(|r| r as f64),
        );
        per_job(
            &mut e,
            "pi_manage_job_last_success_timestamp_seconds",
            Kind::Gauge,
            "When the job's last successful run ended (any node), in seconds since the epoch.",
            &|m| m.last_success.map(epoch_seconds),
        );
        per_job(
            &mut e,
            "pi_manage_job_next_run_timestamp_seconds",
            Kind::Gauge,
            "The job's next fire time, in seconds since the epoch.",
            &|m| m.next_fire.map(epoch_seconds),
        );
        per_job(
            &mut e,
            "pi_manage_job_interval_seconds",
            Kind::Gauge,
            "The gap between the job's next two fire times.",
            &|m| m.interval_seconds,
        );
        per_job(
            &mut e,
            "pi_manage_job_lease_held",
            Kind::Gauge,
            "1 while this node holds the job's lease (runs it), else 0.",
            &|m| Some(if m.lease_held { 1.0 } else { 0.0 }),
        );
        per_job(
            &mut e,
            "pi_manage_job_takeovers_total",
            Kind::Counter,
            "Slots of the job this node took over from a node that stopped renewing its lease.",
            &|m| Some(m.takeovers as f64),
        );
        per_job(
            &mut e,
            "pi_manage_job_ledger_errors_total",
            Kind::Counter,
            "Failed operations on the job's run ledger (claims, lease renewals, records, probes).",
            &|m| Some(m.ledger_errors as f64),
        );

        let name = "pi_manage_scheduler_last_tick_timestamp_seconds";
        e.family(
            name,
            Kind::Gauge,
            "When this node's scheduler loop last ran, in seconds since the epoch.",
        );
        if let Some((_, at)) = st.last_tick {
            e.sample(name, &[("node", &self.node)], epoch_seconds(at));
        }
        let name = "pi_manage_scheduler_healthy";
        e.family(
            name,
            Kind::Gauge,
            "1 while /healthz answers 200 (loop running, run ledger reached within the lease period), else 0.",
        );
        drop(st);
        let healthy = if self.health().is_ok() { 1.0 } else { 0.0 };
        e.sample(name, &[("node", &self.node)], healthy);
        e.finish()
    }
}

fn epoch_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::cron::CronExpr;

    fn event(event: &'static str, job: &str) -> Event {
        Event {
            level: "info",
            event,
            job: Some(job.into()),
            ..Default::default()
        }
    }

    fn tick(m: &SchedulerMetrics, expr: &CronExpr) {
        let expr = &JobSchedule::from(expr.clone());
        let next = expr.next_after(Utc::now(), Tz::UTC);
        m.tick([JobTick {
            name: "nightly",
            next,
            expr,
            tz: Tz::UTC,
        }]);
    }

    #[test]
    fn events_fold_into_counters_and_the_last_run() {
        let m = SchedulerMetrics::new("n1", Duration::from_secs(30));
        let expr = CronExpr::parse("30 2 * * *").unwrap();
        tick(&m, &expr);
        let mut started = event("run_started", "nightly");
        started.trigger = Some("takeover");
        m.observe(&started);
        assert!(m
            .render()
            .contains("pi_manage_job_lease_held{job_name=\"nightly\"} 1\n"));
        let mut finished = event("run_finished", "nightly");
        finished.status = Some("ok".into());
        m.observe(&finished);
        let record = |status: &str, finished: &str| RunRecord {
            job: "nightly".into(),
            slot: "2026-12-04T02:30:00.000000Z".into(),
            node: "n2".into(),
            trigger: "schedule".into(),
            status: status.into(),
            attempt: 1,
            started_at: Some("2026-12-04T02:30:00.000000Z".into()),
            finished_at: Some(finished.into()),
            duration_ms: Some(1500),
            rows_affected: Some(42),
            error: None,
            note: None,
            tasks: Vec::new(),
        };
        m.ledger_reached(
            "nightly",
            (
                Some(record("failed", "2026-12-04T02:30:01.500000Z")),
                Some(record("ok", "2026-12-03T02:30:01.000000Z")),
            ),
        );
        m.observe(&event("slot_skipped", "nightly"));
        m.observe(&event("claim_failed", "nightly"));
        let text = m.render();
        for line in [
            "pi_manage_job_runs_total{job_name=\"nightly\",status=\"ok\"} 1\n",
            "pi_manage_job_runs_total{job_name=\"nightly\",status=\"skipped\"} 1\n",
            "pi_manage_job_runs_total{job_name=\"nightly\",status=\"failed\"} 0\n",
            "pi_manage_job_last_run_status{job_name=\"nightly\",status=\"failed\"} 1\n",
            "pi_manage_job_last_run_status{job_name=\"nightly\",status=\"ok\"} 0\n",
            "pi_manage_job_last_run_end_timestamp_seconds{job_name=\"nightly\"} 1796351401.5\n",
            "pi_manage_job_last_success_timestamp_seconds{job_name=\"nightly\"} 1796265001\n",
            "pi_manage_job_last_run_duration_seconds{job_name=\"nightly\"} 1.5\n",
            "pi_manage_job_last_run_rows_affected{job_name=\"nightly\"} 42\n",
            "pi_manage_job_interval_seconds{job_name=\"nightly\"} 86400\n",
            "pi_manage_job_lease_held{job_name=\"nightly\"} 0\n",
            "pi_manage_job_takeovers_total{job_name=\"nightly\"} 1\n",
            "pi_manage_job_ledger_errors_total{job_name=\"nightly\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
        assert!(text.contains("pi_manage_scheduler_last_tick_timestamp_seconds{node=\"n1\"} "));
    }

    #[test]
    fn health_needs_a_tick_and_a_reachable_ledger() {
        let m = SchedulerMetrics::new("n1", Duration::from_secs(30));
        assert!(m.health().unwrap_err().contains("not run yet"));
        let expr = CronExpr::parse("*/5 * * * *").unwrap();
        tick(&m, &expr);
        m.ledger_unreachable("nightly", "connection refused\n(port 5432)");
        let reason = m.health().unwrap_err();
        assert_eq!(
            reason,
            "the run ledger of job 'nightly' has not been reached yet: connection refused (port 5432)"
        );
        assert!(!m.ledgers_reached());
        m.ledger_reached("nightly", (None, None));
        assert!(m.ledgers_reached());
        assert!(m.health().is_ok(), "{:?}", m.health());
        m.stopping();
        assert!(m.health().unwrap_err().starts_with("shutting down"));
    }

    #[test]
    fn a_reload_drops_jobs_that_left_unless_they_still_run() {
        let m = SchedulerMetrics::new("n1", Duration::from_secs(30));
        let expr = CronExpr::parse("*/5 * * * *").unwrap();
        m.observe(&event("run_started", "old"));
        m.observe(&event("slot_skipped", "gone"));
        tick(&m, &expr);
        let text = m.render();
        assert!(text.contains("job_name=\"old\""));
        assert!(!text.contains("job_name=\"gone\""));
    }
}
