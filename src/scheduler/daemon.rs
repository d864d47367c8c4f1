//! `pi-manage schedule`: the long-running loop that replaces a crontab.
//!
//! Every node runs the same job files. For each due slot a node *claims* it in the run ledger
//! (only one node's claim succeeds), takes the job's lease (so a job never overlaps itself,
//! across nodes), runs it through the same executor as `pi-manage run`, renews the lease
//! while it runs, and records the outcome. A node that dies stops renewing; once its lease
//! has expired, another node takes the slot over. A node whose lease could not be renewed in
//! time stops its destructive work after the current chunk (fencing).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::cron::CronExpr;
use super::ledger::{slot_key, Claim, Ledger, Trigger};
use crate::clock::SystemClock;
use crate::db::{self, OpenOptions};
use crate::executor::{self, JobStatus, RunOptions, Runtime};
use crate::interrupt::{Interrupt, LEASE_LOST, TIMED_OUT};
use crate::job::check::{load_job, ValidJob};
use crate::job::diagnostic::Diagnostic;
use crate::job::model::CatchUp;
use crate::schedule_log::SchedulerLog;
use crate::settings::{process_env, Settings};

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    pub node: String,
    /// How long a lease lasts without renewal; renewed every third of it.
    pub lease_ttl: StdDuration,
    /// How long running jobs get to finish their current chunk on shutdown.
    pub grace: StdDuration,
    /// Run history older than this is deleted.
    pub history_retention: TimeDelta,
    pub open: OpenOptions,
    /// The `--picfg` for job files that name no connection.
    pub picfg: Option<PathBuf>,
    /// `--picfg-python`.
    pub picfg_python: Option<PathBuf>,
}

/// A job file ready to be scheduled.
pub struct Scheduled {
    pub job: ValidJob,
    pub settings: Settings,
    pub expr: CronExpr,
    pub tz: Tz,
    pub max_lateness: TimeDelta,
}

impl Scheduled {
    pub fn name(&self) -> &str {
        &self.job.file.name
    }
}

/// The host's IANA time zone: `TZ`, else the `/etc/localtime` link, else `/etc/timezone`, else UTC.
pub fn host_timezone() -> Tz {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|t| t.trim_start_matches(':').to_string());
    let from_link = std::fs::read_link("/etc/localtime").ok().and_then(|p| {
        p.to_str()
            .and_then(|s| s.split("zoneinfo/").nth(1))
            .map(str::to_string)
    });
    let from_file = std::fs::read_to_string("/etc/timezone")
        .ok()
        .map(|s| s.trim().to_string());
    [from_env, from_link, from_file]
        .into_iter()
        .flatten()
        .find_map(|name| Tz::from_str(&name).ok())
        .unwrap_or(Tz::UTC)
}

/// The job files under `paths` (files, or directories whose `*.yaml`/`*.yml` files are read).
pub fn job_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            out.extend(found);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

/// Load and check every job file; any problem in any file refuses the whole set.
pub fn load(
    paths: &[PathBuf],
    picfg: Option<&Path>,
    picfg_python: Option<&Path>,
) -> Result<(Vec<Scheduled>, Vec<Diagnostic>), Vec<String>> {
    let files = job_files(paths).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut jobs = Vec::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for f in files {
        let job = match load_job(&f) {
            Ok(j) => j,
            Err(d) => {
                problems.extend(d.iter().map(|d| d.to_string()));
                continue;
            }
        };
        warnings.extend(job.warnings.clone());
        let Some(text) = job.file.schedule.clone() else {
            warnings.push(Diagnostic::warning(
                &f,
                crate::job::source::Pos { line: 1, column: 1 },
                "",
                "no schedule: the scheduler ignores this job file",
            ));
            continue;
        };
        if let Some(other) = names.insert(job.file.name.clone(), f.clone()) {
            problems.push(format!("{}: job name '{}' is also used by {}; job names must be unique (the run ledger is keyed by them)", f.display(), job.file.name, other.display()));
            continue;
        }
        let expr = if job.file.schedule_seconds {
            CronExpr::parse_with_seconds(&text)
        } else {
            CronExpr::parse(&text)
        };
        let expr = match expr {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        let tz = match &job.file.timezone {
            Some(name) => Tz::from_str(name).unwrap_or(Tz::UTC),
            None => host_timezone(),
        };
        let mut req = job.settings_request(picfg);
        req.picfg_python = picfg_python.map(Path::to_path_buf);
        let settings = match Settings::resolve(&req, &process_env) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        let max_lateness = job
            .file
            .max_lateness
            .map(|d| d.to_chrono())
            .unwrap_or(TimeDelta::hours(1));
        jobs.push(Scheduled {
            job,
            settings,
            expr,
            tz,
            max_lateness,
        });
    }
    if problems.is_empty() {
        Ok((jobs, warnings))
    } else {
        Err(problems)
    }
}

/// `schedule --list`: the next `count` slots of every job, in its zone.
pub fn upcoming(jobs: &[Scheduled], now: DateTime<Utc>, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for s in jobs {
        lines.push(format!(
            "{} ({}): {} [{}]",
            s.name(),
            s.job.path.display(),
            s.expr,
            s.tz.name()
        ));
        let mut t = now;
        for _ in 0..count {
            match s.expr.next_after(t, s.tz) {
                Some(n) => {
                    lines.push(format!("  {}", n.with_timezone(&s.tz).to_rfc3339()));
                    t = n;
                }
                None => {
                    lines.push("  (never)".into());
                    break;
                }
            }
        }
    }
    lines
}

struct JobState {
    sched: Arc<Scheduled>,
    next: Option<DateTime<Utc>>,
    running: Option<JoinHandle<()>>,
}

impl JobState {
    fn busy(&mut self) -> bool {
        if self.running.as_ref().is_some_and(|h| h.is_finished()) {
            if let Some(h) = self.running.take() {
                let _ = h.join();
            }
        }
        self.running.is_some()
    }
}

/// Run the scheduler until SIGINT/SIGTERM. SIGHUP reloads the job files (keeping the old set
/// if the new one does not validate). Returns the exit code (0 after a clean shutdown).
pub fn run(
    paths: &[PathBuf],
    jobs: Vec<Scheduled>,
    opts: ScheduleOptions,
    log: SchedulerLog,
    interrupt: Interrupt,
    hup: Arc<AtomicBool>,
) -> i32 {
    let opts = Arc::new(opts);
    let mut states = start(jobs, &opts, &log);
    log.info(
        "started",
        None,
        None,
        format!("scheduling {} job(s) as node {}", states.len(), opts.node),
    );
    let probe_every = opts.lease_ttl / 2;
    let mut last_probe = Instant::now() - probe_every;
    let mut ledgers: HashMap<String, Ledger> = HashMap::new();
    while interrupt.requested().is_none() {
        if hup.swap(false, Ordering::SeqCst) {
            match load(paths, opts.picfg.as_deref(), opts.picfg_python.as_deref()) {
                Ok((new, _)) => {
                    let running: HashMap<String, JoinHandle<()>> = states
                        .drain(..)
                        .filter_map(|mut s| {
                            s.running.take().map(|h| (s.sched.name().to_string(), h))
                        })
                        .collect();
                    states = start(new, &opts, &log);
                    // Running jobs keep running; their handles are joined when they end.
                    for (name, h) in running {
                        match states.iter_mut().find(|s| s.sched.name() == name) {
                            Some(s) => s.running = Some(h),
                            None => drop(h),
                        }
                    }
                    log.info(
                        "reloaded",
                        None,
                        None,
                        format!("reloaded: {} job(s)", states.len()),
                    );
                }
                Err(problems) => {
                    for p in &problems {
                        log.warn("reload_failed", None, None, p.clone());
                    }
                    log.warn(
                        "reload_failed",
                        None,
                        None,
                        "the new job files do not validate; keeping the running set".into(),
                    );
                }
            }
        }
        let now = Utc::now();
        for st in &mut states {
            let busy = st.busy();
            while let Some(slot) = st.next.filter(|s| *s <= now) {
                st.next = st.sched.expr.next_after(slot, st.sched.tz);
                let key = slot_key(slot);
                if now - slot > st.sched.max_lateness {
                    log.warn(
                        "slot_skipped",
                        Some(st.sched.name()),
                        Some(&key),
                        format!(
                            "skipped: more than {} late",
                            fmt_delta(st.sched.max_lateness)
                        ),
                    );
                } else if busy || st.running.is_some() {
                    log.warn(
                        "slot_skipped",
                        Some(st.sched.name()),
                        Some(&key),
                        "skipped: the previous run of this job is still going".into(),
                    );
                } else {
                    st.running = Some(spawn_run(
                        st.sched.clone(),
                        slot,
                        Trigger::Schedule,
                        &opts,
                        &log,
                        &interrupt,
                    ));
                }
            }
        }
        if last_probe.elapsed() >= probe_every {
            last_probe = Instant::now();
            probe_orphans(&mut states, &mut ledgers, &opts, &log, &interrupt);
        }
        // Sleep in short steps: signals are noticed quickly, and the wall clock is re-read
        // after every step (a sleep computed once would drift over suspend or clock changes).
        let next_due = states.iter().filter_map(|s| s.next).min();
        let wait = next_due
            .map(|n| (n - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(StdDuration::from_secs(1))
            .min(StdDuration::from_millis(200));
        std::thread::sleep(wait.max(StdDuration::from_millis(10)));
    }
    log.info("stopping", None, None, format!("stopping: no new runs; waiting up to {}s for running jobs to finish their current chunk", opts.grace.as_secs()));
    let deadline = Instant::now() + opts.grace;
    for st in &mut states {
        if let Some(h) = st.running.take() {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(StdDuration::from_millis(50));
            }
            if h.is_finished() {
                let _ = h.join();
            } else {
                log.warn(
                    "shutdown",
                    Some(st.sched.name()),
                    None,
                    "still running after the grace period; exiting anyway (its lease will expire)"
                        .into(),
                );
            }
        }
    }
    log.info("stopped", None, None, "stopped".into());
    0
}

/// Initial state: next slots, and the catch-up decision for slots missed while down.
fn start(jobs: Vec<Scheduled>, opts: &Arc<ScheduleOptions>, log: &SchedulerLog) -> Vec<JobState> {
    let now = Utc::now();
    let mut states = Vec::new();
    for sched in jobs {
        let sched = Arc::new(sched);
        let mut st = JobState {
            next: sched.expr.next_after(now, sched.tz),
            sched: sched.clone(),
            running: None,
        };
        let last = open_ledger(&sched, opts)
            .and_then(|mut l| l.last_slot(sched.name()).map_err(|e| e.to_string()));
        match last {
            Err(e) => log.warn(
                "catch_up",
                Some(sched.name()),
                None,
                format!("cannot read the run ledger ({e}); not catching up"),
            ),
            Ok(None) => {}
            Ok(Some(last)) => {
                let missed = sched.expr.slots_between(last, now, sched.tz, 10_000);
                if let Some((latest, older)) = missed.split_last() {
                    for s in older {
                        log.warn("slot_skipped", Some(sched.name()), Some(&slot_key(*s)), "skipped: missed while no scheduler was running (catch_up runs only the latest)".into());
                    }
                    let key = slot_key(*latest);
                    if sched.job.file.catch_up == CatchUp::Skip {
                        log.warn(
                            "slot_skipped",
                            Some(sched.name()),
                            Some(&key),
                            "skipped: missed while no scheduler was running (catch_up: skip)"
                                .into(),
                        );
                    } else if now - *latest > sched.max_lateness {
                        log.warn(
                            "slot_skipped",
                            Some(sched.name()),
                            Some(&key),
                            format!(
                                "skipped: missed, and more than max_lateness ({}) ago",
                                fmt_delta(sched.max_lateness)
                            ),
                        );
                    } else {
                        log.info(
                            "catch_up",
                            Some(sched.name()),
                            Some(&key),
                            "running a missed slot once (catch_up: once)".into(),
                        );
                        st.running = Some(spawn_run(
                            sched.clone(),
                            *latest,
                            Trigger::CatchUp,
                            opts,
                            log,
                            &Interrupt::global(),
                        ));
                    }
                }
            }
        }
        states.push(st);
    }
    states
}

/// Take over slots whose runner stopped renewing its lease (it died).
fn probe_orphans(
    states: &mut [JobState],
    ledgers: &mut HashMap<String, Ledger>,
    opts: &Arc<ScheduleOptions>,
    log: &SchedulerLog,
    interrupt: &Interrupt,
) {
    for st in states.iter_mut() {
        if st.busy() {
            continue;
        }
        let key = st.sched.settings.database.redacted();
        if !ledgers.contains_key(&key) {
            match open_ledger(&st.sched, opts) {
                Ok(l) => {
                    ledgers.insert(key.clone(), l);
                }
                Err(_) => continue,
            }
        }
        let Some(ledger) = ledgers.get_mut(&key) else {
            continue;
        };
        match ledger.orphaned_slot(st.sched.name()) {
            Ok(Some(slot)) => {
                let Ok(at) = DateTime::parse_from_rfc3339(&slot).map(|d| d.with_timezone(&Utc))
                else {
                    continue;
                };
                if Utc::now() - at > st.sched.max_lateness {
                    let reason = format!("the node running it stopped renewing its lease, and it is more than max_lateness ({}) late", fmt_delta(st.sched.max_lateness));
                    if ledger.abandon(st.sched.name(), &slot, &reason).is_ok() {
                        log.warn(
                            "slot_abandoned",
                            Some(st.sched.name()),
                            Some(&slot),
                            format!("abandoned: {reason}"),
                        );
                    }
                    continue;
                }
                log.info(
                    "takeover",
                    Some(st.sched.name()),
                    Some(&slot),
                    "the node running this slot stopped renewing its lease; taking it over".into(),
                );
                st.running = Some(spawn_run(
                    st.sched.clone(),
                    at,
                    Trigger::Takeover,
                    opts,
                    log,
                    interrupt,
                ));
            }
            Ok(None) => {}
            Err(_) => {
                // A broken connection: open a fresh one next time.
                ledgers.remove(&key);
            }
        }
    }
}

fn open_ledger(sched: &Scheduled, opts: &ScheduleOptions) -> Result<Ledger, String> {
    let conn = db::open(&sched.settings.database, &opts.open).map_err(|e| e.to_string())?;
    Ledger::new(conn, &opts.node).map_err(|e| e.to_string())
}

fn fmt_delta(d: TimeDelta) -> String {
    crate::job::model::Duration::from_secs(d.num_seconds().max(0) as u64).to_string()
}

fn spawn_run(
    sched: Arc<Scheduled>,
    slot: DateTime<Utc>,
    trigger: Trigger,
    opts: &Arc<ScheduleOptions>,
    log: &SchedulerLog,
    interrupt: &Interrupt,
) -> JoinHandle<()> {
    let (opts, log, interrupt) = (opts.clone(), log.clone(), interrupt.clone());
    std::thread::spawn(move || run_slot(&sched, slot, trigger, &opts, &log, &interrupt))
}

/// Claim, lease, run and record one slot.
fn run_slot(
    sched: &Scheduled,
    slot: DateTime<Utc>,
    trigger: Trigger,
    opts: &ScheduleOptions,
    log: &SchedulerLog,
    global: &Interrupt,
) {
    let name = sched.name();
    let key = slot_key(slot);
    let ttl_ms = opts.lease_ttl.as_millis() as i64;
    let mut ledger = match open_ledger(sched, opts) {
        Ok(l) => l,
        Err(e) => {
            log.warn(
                "claim_failed",
                Some(name),
                Some(&key),
                format!("cannot reach the run ledger: {e}"),
            );
            return;
        }
    };
    let lease = if trigger == Trigger::Takeover {
        match ledger.take_over(name, &key, ttl_ms) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                log.warn("claim_failed", Some(name), Some(&key), e.to_string());
                return;
            }
        }
    } else {
        match ledger.claim(name, &key, trigger, Utc::now()) {
            Ok(Claim::Won) => {}
            Ok(Claim::Taken { node, .. }) => {
                log.info(
                    "slot_claimed_elsewhere",
                    Some(name),
                    Some(&key),
                    format!("claimed by node {node}"),
                );
                return;
            }
            Err(e) => {
                log.warn("claim_failed", Some(name), Some(&key), e.to_string());
                return;
            }
        }
        match ledger.acquire(name, &key, ttl_ms) {
            Ok(Some(l)) => l,
            Ok(None) => {
                let _ = ledger.skip(
                    name,
                    &key,
                    "overlap: the previous run of this job is still going on another node",
                    Utc::now(),
                );
                log.warn(
                    "slot_skipped",
                    Some(name),
                    Some(&key),
                    "skipped: the previous run of this job is still going on another node".into(),
                );
                return;
            }
            Err(e) => {
                let _ = ledger.finish(
                    name,
                    &key,
                    "failed",
                    Utc::now(),
                    0,
                    None,
                    Some(&e.to_string()),
                    None,
                );
                log.warn("claim_failed", Some(name), Some(&key), e.to_string());
                return;
            }
        }
    };
    let run_id = format!("{name}@{key}#{}", lease.token);
    log.info(
        "run_started",
        Some(name),
        Some(&key),
        format!("run {run_id} started ({})", trigger.as_str()),
    );
    // Destructive work stops once the lease may have expired without a renewal.
    let margin = opts.lease_ttl / 4;
    let run_interrupt = global.child(Some(Instant::now() + opts.lease_ttl - margin));
    let done = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let (done, run_interrupt, lease, key) = (
            done.clone(),
            run_interrupt.clone(),
            lease.clone(),
            key.clone(),
        );
        let conn = db::open(&sched.settings.database, &opts.open);
        let (ttl, node, log, name) = (
            opts.lease_ttl,
            opts.node.clone(),
            log.clone(),
            name.to_string(),
        );
        std::thread::spawn(move || {
            let Ok(conn) = conn else { return };
            let Ok(mut hb) = Ledger::new(conn, &node) else {
                return;
            };
            let mut last = Instant::now();
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(StdDuration::from_millis(50));
                if last.elapsed() < ttl / 3 {
                    continue;
                }
                last = Instant::now();
                match hb.renew(&lease, &key, ttl.as_millis() as i64) {
                    Ok(true) => run_interrupt.extend(Instant::now() + ttl - ttl / 4),
                    Ok(false) => {
                        log.warn("lease_lost", Some(&name), Some(&key), "lost the lease: another node owns this job now; stopping after the current chunk".into());
                        break;
                    }
                    Err(_) => {}
                }
            }
        })
    };
    let timer = sched.job.file.timeout.map(|t| {
        let (done, run_interrupt) = (done.clone(), run_interrupt.clone());
        let limit = Instant::now() + StdDuration::from_secs(t.as_secs());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if Instant::now() >= limit {
                    run_interrupt.trigger(TIMED_OUT);
                    break;
                }
                std::thread::sleep(StdDuration::from_millis(50));
            }
        })
    });
    let started = Instant::now();
    let mut attempt = 0;
    let report = loop {
        attempt += 1;
        let mut out = log.for_run(name, &key, &run_id);
        let rt = Runtime {
            clock: &SystemClock,
            interrupt: &run_interrupt,
            open: opts.open.clone(),
        };
        let ropts = RunOptions {
            dry_run: sched.job.file.dryrun,
            only_task: None,
        };
        let report = executor::run_tasks(
            name,
            &sched.job.path.display().to_string(),
            &sched.job.tasks,
            &sched.settings,
            &ropts,
            &rt,
            &mut out,
        );
        // Retry only when the database could not be reached, with backoff, while the slot is
        // not too late and nobody asked us to stop.
        let retry = report.status == JobStatus::ConnectFailed
            && attempt < 4
            && Utc::now() - slot < sched.max_lateness
            && run_interrupt.requested().is_none();
        if !retry {
            break report;
        }
        let backoff = StdDuration::from_secs(5 << attempt);
        log.warn(
            "retry",
            Some(name),
            Some(&key),
            format!("database unreachable; retrying in {}s", backoff.as_secs()),
        );
        let until = Instant::now() + backoff;
        while Instant::now() < until && run_interrupt.requested().is_none() {
            std::thread::sleep(StdDuration::from_millis(100));
        }
    };
    done.store(true, Ordering::SeqCst);
    let _ = heartbeat.join();
    if let Some(t) = timer {
        let _ = t.join();
    }
    let status = match report.status {
        JobStatus::Ok => "ok",
        JobStatus::Failed | JobStatus::ConnectFailed => "failed",
        JobStatus::Interrupted => match report.signal {
            Some(LEASE_LOST) => "lease_lost",
            Some(TIMED_OUT) => "timeout",
            _ => "interrupted",
        },
    };
    let rows: Option<i64> = report
        .tasks
        .iter()
        .filter_map(|t| t.deleted)
        .map(|d| d as i64)
        .reduce(|a, b| a + b);
    let error = report.tasks.iter().find_map(|t| t.error.clone());
    let summary = serde_json::to_string(&report.tasks).ok();
    let duration_ms = started.elapsed().as_millis() as i64;
    if status == "lease_lost" {
        // Another node owns the slot now and records it; do not overwrite its row.
        log.warn(
            "run_finished",
            Some(name),
            Some(&key),
            format!("run {run_id} stopped: lease lost"),
        );
        return;
    }
    if let Err(e) = ledger.finish(
        name,
        &key,
        status,
        Utc::now(),
        duration_ms,
        rows,
        error.as_deref(),
        summary.as_deref(),
    ) {
        log.warn(
            "record_failed",
            Some(name),
            Some(&key),
            format!("could not record the run: {e}"),
        );
    }
    let _ = ledger.release(&lease);
    if let Some(before) = Utc::now().checked_sub_signed(opts.history_retention) {
        let _ = ledger.prune(before);
    }
    log.log(crate::schedule_log::Event {
        level: if status == "ok" { "info" } else { "warn" },
        event: "run_finished",
        job: Some(name.to_string()),
        slot: Some(key.clone()),
        run_id: Some(run_id.clone()),
        status: Some(status.to_string()),
        duration_ms: Some(duration_ms as u64),
        rows: rows.map(|r| r as u64),
        message: format!(
            "run {run_id} finished: {status}{}",
            error.map(|e| format!(" ({e})")).unwrap_or_default()
        ),
        ..Default::default()
    });
}
