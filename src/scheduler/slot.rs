//! One slot of one job on this node: claim it (retrying while the database is unreachable and
//! the slot is not too late), take the job's lease, run the job while a heartbeat renews the
//! lease, and record honestly what happened — also when the run panicked, when it lost its
//! lease, and when another node took the slot over in the meantime.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};

use super::daemon::{fmt_delta, ScheduleOptions, Scheduled};
use super::deferred::{Deferred, NotRun};
use super::ledger::{slot_key, Claim, Lease, Ledger, Outcome, Trigger};
use crate::clock::SystemClock;
use crate::db::{self, DbError, DbErrorKind, DbResult};
use crate::executor::{self, JobStatus, RunOptions, Runtime};
use crate::interrupt::{Interrupt, LEASE_LOST, TIMED_OUT};
use crate::schedule_log::{Event, SchedulerLog};

/// Everything a slot's run needs from the scheduler.
#[derive(Clone)]
pub struct SlotContext {
    pub sched: Arc<Scheduled>,
    pub opts: Arc<ScheduleOptions>,
    pub log: SchedulerLog,
    pub global: Interrupt,
    pub deferred: Deferred,
}

/// What a run did, in the words the ledger records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// `ok`, `failed`, `timeout`, `interrupted` or `lease_lost`.
    pub status: &'static str,
    pub rows: Option<i64>,
    pub error: Option<String>,
    /// The JSON report of the tasks.
    pub summary: Option<String>,
}

/// The work of a run, given the run's stop flag. The scheduler's is [`execute_job`]; tests
/// pass their own (one that panics, one that stalls past its lease).
pub type Body<'a> = &'a (dyn Fn(&SlotContext, DateTime<Utc>, &str, &Interrupt) -> RunResult + Sync);

/// Run `slot` of the context's job on a thread of its own.
pub fn spawn(ctx: SlotContext, slot: DateTime<Utc>, trigger: Trigger) -> JoinHandle<()> {
    std::thread::spawn(move || run_slot(&ctx, slot, trigger, &execute_job))
}

/// Claim, lease, run and record one slot.
pub fn run_slot(ctx: &SlotContext, slot: DateTime<Utc>, trigger: Trigger, body: Body) {
    let key = slot_key(slot);
    let Some((ledger, lease)) = start(ctx, slot, &key, trigger) else {
        return;
    };
    let run_id = format!("{}@{key}#{}", ctx.sched.name(), lease.token);
    ctx.log.log(crate::schedule_log::Event {
        level: "info",
        event: "run_started",
        job: Some(ctx.sched.name().to_string()),
        slot: Some(key.clone()),
        run_id: Some(run_id.clone()),
        trigger: Some(trigger.as_str()),
        message: format!("run {run_id} started ({})", trigger.as_str()),
        ..Default::default()
    });
    let started = Instant::now();
    let (result, lost) = run_leased(ctx, slot, &key, &run_id, &lease, body);
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    record(
        ctx,
        ledger,
        &lease,
        &key,
        &run_id,
        &result,
        lost,
        duration_ms,
    );
}

/// The first retry of an unreachable database after 1 s, doubling up to 30 s.
pub fn backoff(attempt: u32) -> StdDuration {
    StdDuration::from_secs((1u64 << attempt.min(5)).min(30))
}

/// Errors that say the database could not be reached (or was too busy to answer), as opposed
/// to errors it answered with: worth waiting for.
pub fn unreachable(e: &DbError) -> bool {
    matches!(
        e.kind,
        DbErrorKind::Connect | DbErrorKind::Timeout | DbErrorKind::Locked
    )
}

/// Sleep `d` in short steps; `false` when `interrupt` asked to stop meanwhile.
fn sleep_unless(interrupt: &Interrupt, d: StdDuration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if interrupt.requested().is_some() {
            return false;
        }
        std::thread::sleep(StdDuration::from_millis(50).min(until - Instant::now()));
    }
    interrupt.requested().is_none()
}

fn open_ledger(ctx: &SlotContext) -> DbResult<Ledger> {
    let conn = db::open(&ctx.sched.settings.database, &ctx.opts.open)?;
    Ledger::new(conn, &ctx.opts.node)
}

/// Claim the slot and take the lease, retrying with backoff while the database cannot be
/// reached and the slot is within `max_lateness`. A slot that could not be claimed in time
/// is queued to be recorded as `missed` once a node reaches the database.
fn start(
    ctx: &SlotContext,
    slot: DateTime<Utc>,
    key: &str,
    trigger: Trigger,
) -> Option<(Ledger, Lease)> {
    let name = ctx.sched.name();
    let mut attempt = 0u32;
    loop {
        let e = match try_start(ctx, key, trigger, attempt > 0) {
            Ok(started) => return started,
            Err(e) if unreachable(&e) => e,
            Err(e) => {
                ctx.log
                    .warn("claim_failed", Some(name), Some(key), e.to_string());
                return None;
            }
        };
        let wait = backoff(attempt);
        attempt += 1;
        let too_late = chrono::TimeDelta::from_std(wait)
            .ok()
            .and_then(|w| Utc::now().checked_add_signed(w))
            .is_none_or(|then| then - slot > ctx.sched.max_lateness);
        if too_late {
            let reason = format!(
                "not run: the database could not be reached before the slot was more than max_lateness ({}) late ({} attempts; last error: {e})",
                fmt_delta(ctx.sched.max_lateness),
                attempt
            );
            ctx.log
                .warn("slot_missed", Some(name), Some(key), reason.clone());
            ctx.deferred.push(
                NotRun {
                    database: ctx.sched.settings.database.clone(),
                    job: name.to_string(),
                    slot: key.to_string(),
                    trigger,
                    status: "missed",
                    reason,
                },
                &ctx.log,
            );
            return None;
        }
        ctx.log.warn(
            "claim_retry",
            Some(name),
            Some(key),
            format!(
                "cannot reach the run ledger ({e}); retrying in {}s",
                wait.as_secs()
            ),
        );
        if !sleep_unless(&ctx.global, wait) {
            ctx.log.info(
                "claim_abandoned",
                Some(name),
                Some(key),
                "stopping: the slot was never claimed by this node".into(),
            );
            return None;
        }
    }
}

/// One attempt at claiming and leasing. `Ok(None)`: nothing to run here (another node has the
/// slot, or the job is still running elsewhere and the slot is recorded `skipped`).
fn try_start(
    ctx: &SlotContext,
    key: &str,
    trigger: Trigger,
    retrying: bool,
) -> DbResult<Option<(Ledger, Lease)>> {
    let name = ctx.sched.name();
    let ttl_ms = i64::try_from(ctx.opts.lease_ttl.as_millis()).unwrap_or(i64::MAX);
    let mut ledger = open_ledger(ctx)?;
    if trigger == Trigger::Takeover {
        return Ok(ledger.take_over(name, key, ttl_ms)?.map(|l| (ledger, l)));
    }
    match ledger.claim(name, key, trigger, Utc::now())? {
        Claim::Won => {}
        // An earlier attempt's insert went through although its answer was lost.
        Claim::Taken { node, status }
            if retrying && node == ctx.opts.node && status == "running" => {}
        Claim::Taken { node, .. } => {
            ctx.log.info(
                "slot_claimed_elsewhere",
                Some(name),
                Some(key),
                format!("claimed by node {node}"),
            );
            return Ok(None);
        }
    }
    match ledger.acquire(name, key, ttl_ms) {
        Ok(Some(lease)) => Ok(Some((ledger, lease))),
        Ok(None) => {
            let reason = "overlap: the previous run of this job is still going";
            if ledger.skip(name, key, reason, Utc::now()).is_err() {
                // The claim would stay `running` for ever: record it once the database answers.
                ctx.deferred.push(
                    NotRun {
                        database: ctx.sched.settings.database.clone(),
                        job: name.to_string(),
                        slot: key.to_string(),
                        trigger,
                        status: "skipped",
                        reason: reason.to_string(),
                    },
                    &ctx.log,
                );
            }
            ctx.log.warn(
                "slot_skipped",
                Some(name),
                Some(key),
                format!("skipped: {reason}"),
            );
            Ok(None)
        }
        Err(e) if unreachable(&e) => Err(e),
        Err(e) => {
            let _ = ledger.finish(
                name,
                key,
                "failed",
                Utc::now(),
                0,
                None,
                Some(&e.to_string()),
                None,
            );
            ctx.log
                .warn("claim_failed", Some(name), Some(key), e.to_string());
            Ok(None)
        }
    }
}

/// Sets its flag when dropped — also when the run panicked — so the heartbeat and the timer
/// stop with the run instead of renewing the lease forever.
struct DoneOnDrop(Arc<AtomicBool>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Run `body` under the lease: a heartbeat renews it, fencing stops destructive work once it
/// may have expired, the job's `timeout` stops it, and a panic becomes a `failed` result.
/// Returns the result and whether the lease was lost (another node owns the job now, or it
/// expired unrenewed).
fn run_leased(
    ctx: &SlotContext,
    slot: DateTime<Utc>,
    key: &str,
    run_id: &str,
    lease: &Lease,
    body: Body,
) -> (RunResult, bool) {
    let ttl = ctx.opts.lease_ttl;
    // Destructive work stops once the lease may have expired without a renewal.
    let run_interrupt = ctx.global.child(Some(Instant::now() + ttl - ttl / 4));
    let done = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = heartbeat(ctx, key, lease, &run_interrupt, &done, &lost);
    let timer = timer(ctx, &run_interrupt, &done);
    let result = {
        let _done = DoneOnDrop(done);
        catch_unwind(AssertUnwindSafe(|| body(ctx, slot, run_id, &run_interrupt)))
            .unwrap_or_else(|panic| panicked(&*panic))
    };
    let _ = heartbeat.join();
    if let Some(t) = timer {
        let _ = t.join();
    }
    // A run that ran past its lease without a renewal lost it, whether or not another node
    // has taken it yet.
    let lost = lost.load(Ordering::SeqCst) || result.status == "lease_lost";
    (result, lost)
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> RunResult {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    RunResult {
        status: "failed",
        rows: None,
        error: Some(format!(
            "internal error: the run panicked ({what}); this is a bug in pi-manage"
        )),
        summary: None,
    }
}

/// Renew the lease every third of its lifetime until `done`. A renewal the database refuses
/// (the lease expired, or another node holds it now) sets `lost` and stops the run after its
/// current chunk; a renewal that cannot reach the database is tried again on a fresh
/// connection, and fencing stops the run if that does not succeed in time.
fn heartbeat(
    ctx: &SlotContext,
    key: &str,
    lease: &Lease,
    run_interrupt: &Interrupt,
    done: &Arc<AtomicBool>,
    lost: &Arc<AtomicBool>,
) -> JoinHandle<()> {
    let (ctx, key, lease) = (ctx.clone(), key.to_string(), lease.clone());
    let (run_interrupt, done, lost) = (run_interrupt.clone(), done.clone(), lost.clone());
    std::thread::spawn(move || {
        let ttl = ctx.opts.lease_ttl;
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let mut hb: Option<Ledger> = None;
        let mut last = Instant::now();
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(StdDuration::from_millis(50));
            if last.elapsed() < ttl / 3 {
                continue;
            }
            last = Instant::now();
            let ledger = match hb.as_mut() {
                Some(l) => l,
                None => match open_ledger(&ctx) {
                    Ok(l) => hb.insert(l),
                    Err(_) => continue,
                },
            };
            match ledger.renew(&lease, &key, ttl_ms) {
                Ok(true) => run_interrupt.extend(Instant::now() + ttl - ttl / 4),
                Ok(false) => {
                    lost.store(true, Ordering::SeqCst);
                    run_interrupt.trigger(LEASE_LOST);
                    ctx.log.warn(
                        "lease_lost",
                        Some(ctx.sched.name()),
                        Some(&key),
                        "lost the lease (it expired before it could be renewed, or another node owns this job now); stopping after the current chunk".into(),
                    );
                    break;
                }
                Err(e) => {
                    ctx.log.warn(
                        "lease_renew_failed",
                        Some(ctx.sched.name()),
                        Some(&key),
                        format!("could not renew the lease: {e}"),
                    );
                    hb = None;
                }
            }
        }
    })
}

/// Stop the run after the job's `timeout`.
fn timer(
    ctx: &SlotContext,
    run_interrupt: &Interrupt,
    done: &Arc<AtomicBool>,
) -> Option<JoinHandle<()>> {
    let t = ctx.sched.job.file.timeout?;
    let (done, run_interrupt) = (done.clone(), run_interrupt.clone());
    let limit = Instant::now() + StdDuration::from_secs(t.as_secs());
    Some(std::thread::spawn(move || {
        while !done.load(Ordering::SeqCst) {
            if Instant::now() >= limit {
                run_interrupt.trigger(TIMED_OUT);
                break;
            }
            std::thread::sleep(StdDuration::from_millis(50));
        }
    }))
}

/// The scheduler's work for a slot: the job's tasks due at `slot` (all of them unless tasks
/// have schedules of their own) through the executor, retried (up to three times, 10 s, 20 s,
/// 40 s apart) while the database cannot be reached and the slot is within `max_lateness`.
pub fn execute_job(
    ctx: &SlotContext,
    slot: DateTime<Utc>,
    run_id: &str,
    interrupt: &Interrupt,
) -> RunResult {
    let sched = &ctx.sched;
    let name = sched.name();
    let key = slot_key(slot);
    let due = sched.expr.tasks_at(slot, sched.tz);
    if due.is_empty() {
        // A slot taken over from a node that ran other job files (changed schedules).
        ctx.log.warn(
            "no_task_due",
            Some(name),
            Some(&key),
            "no task of this job is due at this slot (its schedules have changed?); nothing to run"
                .into(),
        );
    }
    let mut attempt = 0;
    let report = loop {
        attempt += 1;
        let mut out = ctx.log.for_run(name, &key, run_id);
        let rt = Runtime {
            clock: &SystemClock,
            interrupt,
            open: ctx.opts.open.clone(),
        };
        let ropts = RunOptions {
            dry_run: sched.job.file.dryrun,
            only_task: None,
        };
        let report = executor::run_tasks(
            name,
            &sched.job.path.display().to_string(),
            due.iter().filter_map(|&i| sched.job.tasks.get(i)),
            &sched.settings,
            &ropts,
            &rt,
            &mut out,
        );
        let retry = report.status == JobStatus::ConnectFailed
            && attempt < 4
            && Utc::now() - slot < sched.max_lateness
            && interrupt.requested().is_none();
        if !retry {
            break report;
        }
        let wait = StdDuration::from_secs(5 << attempt);
        ctx.log.warn(
            "retry",
            Some(name),
            Some(&key),
            format!("database unreachable; retrying in {}s", wait.as_secs()),
        );
        sleep_unless(interrupt, wait);
    };
    let status = match report.status {
        JobStatus::Ok => "ok",
        JobStatus::Failed | JobStatus::ConnectFailed => "failed",
        JobStatus::Interrupted => match report.signal {
            Some(LEASE_LOST) => "lease_lost",
            Some(TIMED_OUT) => "timeout",
            _ => "interrupted",
        },
    };
    RunResult {
        status,
        rows: report
            .tasks
            .iter()
            .filter_map(|t| t.deleted)
            .map(|d| i64::try_from(d).unwrap_or(i64::MAX))
            .reduce(|a, b| a.saturating_add(b)),
        error: report.tasks.iter().find_map(|t| t.error.clone()),
        summary: serde_json::to_string(&report.tasks).ok(),
    }
}

/// What the run did, in a few words for a note: `ok, 120 rows`.
fn describe(r: &RunResult) -> String {
    let mut s = r.status.to_string();
    if let Some(n) = r.rows {
        s.push_str(&format!(", {n} rows"));
    }
    if let Some(e) = &r.error {
        s.push_str(&format!(", {e}"));
    }
    s
}

/// Record the run. The row is this node's unless another node took the slot over: then that
/// node records its own run, and this one adds what it did to the row's note. The lease is
/// released unless the run was fenced (then another node may take over what is left).
#[allow(clippy::too_many_arguments)]
fn record(
    ctx: &SlotContext,
    ledger: Ledger,
    lease: &Lease,
    key: &str,
    run_id: &str,
    r: &RunResult,
    lost: bool,
    duration_ms: i64,
) {
    let name = ctx.sched.name();
    let note = lost.then(|| match r.status {
        "ok" => "completed after losing its lease".to_string(),
        "lease_lost" => {
            "stopped after its current chunk: its lease could not be renewed in time (fencing)"
                .to_string()
        }
        other => format!("ended ({other}) after losing its lease"),
    });
    let outcome = Outcome {
        status: r.status,
        finished: Utc::now(),
        duration_ms,
        rows: r.rows,
        error: r.error.as_deref(),
        report: r.summary.as_deref(),
        note: note.as_deref(),
    };
    let elsewhere = format!(
        "node {} also ran this slot until it lost its lease: {}",
        ctx.opts.node,
        describe(r)
    );
    let mut ledger = Some(ledger);
    let written = with_ledger(ctx, &mut ledger, |l| {
        let n = l.record_outcome(name, key, &outcome)?;
        if n == 0 {
            l.append_note(name, key, &elsewhere)?;
        }
        Ok(n)
    });
    match written {
        Ok(0) => ctx.log.warn(
            "taken_over",
            Some(name),
            Some(key),
            format!("another node took this slot over while run {run_id} was going; its row notes what this run did ({})", describe(r)),
        ),
        Ok(_) => {}
        Err(e) => ctx.log.warn(
            "record_failed",
            Some(name),
            Some(key),
            format!("could not record the run: {e}"),
        ),
    }
    if r.status != "lease_lost" {
        let _ = with_ledger(ctx, &mut ledger, |l| l.release(lease));
    }
    if let Some(before) = Utc::now().checked_sub_signed(ctx.opts.history_retention) {
        let _ = with_ledger(ctx, &mut ledger, |l| l.prune(before));
    }
    let status = match &note {
        Some(n) => format!("{} ({n})", r.status),
        None => r.status.to_string(),
    };
    ctx.log.log(Event {
        level: if r.status == "ok" && !lost {
            "info"
        } else {
            "warn"
        },
        event: "run_finished",
        job: Some(name.to_string()),
        slot: Some(key.to_string()),
        run_id: Some(run_id.to_string()),
        status: Some(r.status.to_string()),
        duration_ms: u64::try_from(duration_ms).ok(),
        rows: r.rows.and_then(|n| u64::try_from(n).ok()),
        message: format!(
            "run {run_id} finished: {status}{}",
            r.error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ),
        ..Default::default()
    });
}

/// Do `f` on the ledger, reopening the connection and retrying with backoff while the
/// database cannot be reached — for up to the job's `max_lateness` (at least a minute), or
/// until shutdown.
fn with_ledger<T>(
    ctx: &SlotContext,
    ledger: &mut Option<Ledger>,
    mut f: impl FnMut(&mut Ledger) -> DbResult<T>,
) -> DbResult<T> {
    let patience = ctx
        .sched
        .max_lateness
        .to_std()
        .unwrap_or_default()
        .max(StdDuration::from_secs(60));
    let deadline = Instant::now() + patience;
    let mut attempt = 0u32;
    loop {
        let result = match ledger.as_mut() {
            Some(l) => f(l),
            None => open_ledger(ctx).and_then(|l| f(ledger.insert(l))),
        };
        match result {
            Err(e) if unreachable(&e) => {
                *ledger = None;
                let wait = backoff(attempt);
                attempt += 1;
                if Instant::now() + wait > deadline || !sleep_unless(&ctx.global, wait) {
                    return Err(e);
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Connection, OpenOptions, Value};
    use crate::dburl::DbUrl;
    use crate::schedule_log::LogFormat;
    use crate::scheduler::daemon::load;

    const SLOT: &str = "2026-01-01T00:00:00.000000Z";

    /// A job `j` on a fresh SQLite database in `dir`, run as node `n1`.
    fn context(dir: &std::path::Path, lease_ttl: StdDuration) -> SlotContext {
        let db = dir.join("pi.sqlite");
        let job = dir.join("j.yaml");
        std::fs::write(
            &job,
            format!(
                "version: 1\nname: j\nconnection:\n  database: 'sqlite:///{}'\nschedule: '* * * * *'\ntimezone: UTC\nmax_lateness: 10m\ntasks:\n  - kind: challenge_cleanup\n",
                db.display()
            ),
        )
        .unwrap();
        let open = OpenOptions {
            create: true,
            ..Default::default()
        };
        drop(db::open(&sqlite_url(dir), &open).unwrap());
        let (mut jobs, _) = load(&[job], None, None).unwrap_or_else(|e| panic!("{e:?}"));
        SlotContext {
            sched: Arc::new(jobs.remove(0)),
            opts: Arc::new(ScheduleOptions {
                node: "n1".into(),
                lease_ttl,
                grace: StdDuration::from_secs(5),
                history_retention: chrono::TimeDelta::days(90),
                open,
                picfg: None,
                picfg_python: None,
                metrics: Arc::new(crate::scheduler::metrics::SchedulerMetrics::new(
                    "n1",
                    StdDuration::from_secs(60),
                )),
            }),
            log: SchedulerLog::new(LogFormat::Json, "n1"),
            global: Interrupt::new(),
            deferred: Deferred::default(),
        }
    }

    fn sqlite_url(dir: &std::path::Path) -> DbUrl {
        DbUrl::parse(&format!("sqlite:///{}/pi.sqlite", dir.display())).unwrap()
    }

    fn conn(dir: &std::path::Path) -> Box<dyn Connection> {
        db::open(&sqlite_url(dir), &OpenOptions::default()).unwrap()
    }

    fn slot() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(SLOT)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ok() -> RunResult {
        RunResult {
            status: "ok",
            rows: Some(7),
            error: None,
            summary: None,
        }
    }

    /// What a node stalled past its lease looks like to the others: the lease expired.
    fn expire_lease(dir: &std::path::Path) {
        conn(dir)
            .execute(
                "UPDATE pim_job_lease SET expires_ms = 0 WHERE job = ?",
                &[Value::Text("j".into())],
            )
            .unwrap();
    }

    /// Wait (without a time limit that depends on speed, but never forever) until the run's
    /// heartbeat found the lease lost.
    fn wait_until_fenced(interrupt: &Interrupt) {
        let deadline = Instant::now() + StdDuration::from_secs(120);
        while interrupt.requested() != Some(LEASE_LOST) {
            assert!(Instant::now() < deadline, "the heartbeat never noticed");
            std::thread::sleep(StdDuration::from_millis(20));
        }
    }

    fn row(dir: &std::path::Path) -> crate::scheduler::ledger::RunRecord {
        Ledger::new(conn(dir), "check")
            .unwrap()
            .history(Some("j"), 10)
            .unwrap()
            .into_iter()
            .find(|r| r.slot == SLOT)
            .expect("the slot has a row")
    }

    #[test]
    fn a_panicking_run_is_recorded_failed_and_its_lease_released() {
        let dir = tempfile::tempdir().unwrap();
        // A lease far longer than the test: only a release frees it.
        let ctx = context(dir.path(), StdDuration::from_secs(3600));
        let body = |_: &SlotContext, _: DateTime<Utc>, _: &str, _: &Interrupt| -> RunResult {
            panic!("boom in a task")
        };
        run_slot(&ctx, slot(), Trigger::Schedule, &body);
        let r = row(dir.path());
        assert_eq!(r.status, "failed", "{r:?}");
        assert!(
            r.error
                .as_deref()
                .unwrap_or_default()
                .contains("boom in a task"),
            "{r:?}"
        );
        // The lease is free at once (released), not renewed by a heartbeat left running.
        let mut other = Ledger::new(conn(dir.path()), "n2").unwrap();
        assert!(other.acquire("j", "next", 60_000).unwrap().is_some());
        assert_eq!(other.orphaned_slot("j").unwrap(), None);
    }

    #[test]
    fn a_run_that_completes_after_losing_its_lease_says_so_even_when_abandoned() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), StdDuration::from_millis(900));
        let d = dir.path().to_path_buf();
        let body = move |_: &SlotContext, _: DateTime<Utc>, _: &str, i: &Interrupt| {
            // Stalled past the lease; another node gave the slot up as abandoned.
            expire_lease(&d);
            Ledger::new(conn(&d), "n2")
                .unwrap()
                .abandon("j", SLOT, "too late")
                .unwrap();
            wait_until_fenced(i);
            ok()
        };
        run_slot(&ctx, slot(), Trigger::Schedule, &body);
        let r = row(dir.path());
        assert_eq!(
            (r.node.as_str(), r.status.as_str(), r.rows_affected),
            ("n1", "ok", Some(7)),
            "{r:?}"
        );
        assert_eq!(
            r.note.as_deref(),
            Some("completed after losing its lease"),
            "{r:?}"
        );
    }

    #[test]
    fn a_takeover_shows_as_such_and_the_first_node_adds_what_it_did() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), StdDuration::from_millis(900));
        let d = dir.path().to_path_buf();
        let body = move |_: &SlotContext, _: DateTime<Utc>, _: &str, i: &Interrupt| {
            expire_lease(&d);
            let mut n2 = Ledger::new(conn(&d), "n2").unwrap();
            let lease = n2.take_over("j", SLOT, 60_000).unwrap().expect("expired");
            wait_until_fenced(i);
            n2.finish("j", SLOT, "ok", Utc::now(), 1, Some(3), None, None)
                .unwrap();
            n2.release(&lease).unwrap();
            ok()
        };
        run_slot(&ctx, slot(), Trigger::Schedule, &body);
        let r = row(dir.path());
        assert_eq!(
            (
                r.node.as_str(),
                r.trigger.as_str(),
                r.attempt,
                r.status.as_str()
            ),
            ("n2", "takeover", 2, "ok"),
            "{r:?}"
        );
        let note = r.note.unwrap_or_default();
        assert!(
            note.starts_with("taken over from node n1 (attempt 1)"),
            "{note}"
        );
        assert!(
            note.contains("node n1 also ran this slot until it lost its lease: ok, 7 rows"),
            "{note}"
        );
    }
}
