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

use super::deferred::{Deferred, NotRun};
use super::job_schedule::JobSchedule;
use super::ledger::{slot_key, Ledger, Trigger};
use super::metrics::{JobTick, SchedulerMetrics};
use super::slot::{self, SlotContext};
use super::systemd::SystemdNotifier;
use crate::db::{self, OpenOptions};
use crate::dburl::DbUrl;
use crate::interrupt::Interrupt;
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
    /// What `/metrics` and `/healthz` report; the log feeds it the run events.
    pub metrics: Arc<SchedulerMetrics>,
}

/// A job file ready to be scheduled.
pub struct Scheduled {
    pub job: ValidJob,
    pub settings: Settings,
    /// The job's schedule and its tasks' own: when it runs, and which tasks each slot runs.
    pub expr: JobSchedule,
    pub tz: Tz,
    pub max_lateness: TimeDelta,
}

impl Scheduled {
    pub fn name(&self) -> &str {
        &self.job.file.name
    }

    /// The names of the tasks `slot` runs, in file order.
    pub fn task_names_at(&self, slot: DateTime<Utc>) -> Vec<&str> {
        self.expr
            .tasks_at(slot, self.tz)
            .into_iter()
            .filter_map(|i| self.job.tasks.get(i).map(|t| t.name()))
            .collect()
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
        let expr = match JobSchedule::of_job(&job.file) {
            Ok(Some(e)) => e,
            Ok(None) => {
                warnings.push(Diagnostic::warning(
                    &f,
                    crate::job::source::Pos { line: 1, column: 1 },
                    "",
                    "no schedule: the scheduler ignores this job file",
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        if let Some(other) = names.insert(job.file.name.clone(), f.clone()) {
            problems.push(format!("{}: job name '{}' is also used by {}; job names must be unique (the run ledger is keyed by them)", f.display(), job.file.name, other.display()));
            continue;
        }
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
                    let at = n.with_timezone(&s.tz).to_rfc3339();
                    // A job whose tasks have schedules of their own: which tasks each slot runs.
                    if s.expr.is_single() {
                        lines.push(format!("  {at}"));
                    } else {
                        lines.push(format!("  {at}  {}", s.task_names_at(n).join(", ")));
                    }
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

/// At most this many run threads of one job on one node: a node whose loop fell behind (or
/// whose runs are stuck waiting for the database) records further slots as skipped instead of
/// piling up threads.
const MAX_LOCAL_RUNS: usize = 3;

struct JobState {
    sched: Arc<Scheduled>,
    next: Option<DateTime<Utc>>,
    /// Run threads of this job on this node (claims in progress, runs, recording).
    running: Vec<JoinHandle<()>>,
    /// When the catch-up decision could not be made at start (the ledger was unreachable):
    /// the start instant, so the decision is made as soon as the ledger can be read.
    catch_up_pending: Option<DateTime<Utc>>,
}

impl JobState {
    /// Whether a run thread of this job is alive (finished ones are reaped).
    fn busy(&mut self) -> bool {
        let (done, alive): (Vec<_>, Vec<_>) = self.running.drain(..).partition(|h| h.is_finished());
        for h in done {
            let _ = h.join();
        }
        self.running = alive;
        !self.running.is_empty()
    }
}

/// What every slot's run shares with the loop.
struct Shared {
    opts: Arc<ScheduleOptions>,
    log: SchedulerLog,
    interrupt: Interrupt,
    deferred: Deferred,
}

impl Shared {
    fn slot_context(&self, sched: &Arc<Scheduled>) -> SlotContext {
        SlotContext {
            sched: sched.clone(),
            opts: self.opts.clone(),
            log: self.log.clone(),
            global: self.interrupt.clone(),
            deferred: self.deferred.clone(),
        }
    }

    fn spawn(&self, st: &mut JobState, slot: DateTime<Utc>, trigger: Trigger) {
        st.running
            .push(slot::spawn(self.slot_context(&st.sched), slot, trigger));
    }

    /// Queue a slot that will not run here to be recorded, unless a node records it first.
    fn not_run(&self, sched: &Scheduled, slot: &str, status: &'static str, reason: String) {
        self.deferred.push(
            NotRun {
                database: sched.settings.database.clone(),
                job: sched.name().to_string(),
                slot: slot.to_string(),
                trigger: Trigger::Schedule,
                status,
                reason,
            },
            &self.log,
        );
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
    let shared = Shared {
        opts: Arc::new(opts),
        log,
        interrupt,
        deferred: Deferred::default(),
    };
    let mut states = start(jobs, &shared);
    shared.log.info(
        "started",
        None,
        None,
        format!(
            "scheduling {} job(s) as node {}",
            states.len(),
            shared.opts.node
        ),
    );
    let probe_every = shared.opts.lease_ttl / 2;
    let mut last_probe = Instant::now() - probe_every;
    let mut ledgers: HashMap<String, Ledger> = HashMap::new();
    let mut systemd = SystemdNotifier::from_env();
    while shared.interrupt.requested().is_none() {
        if hup.swap(false, Ordering::SeqCst) {
            states = reload(paths, states, &shared);
        }
        let now = Utc::now();
        for st in &mut states {
            start_due_slots(st, now, &shared);
        }
        if last_probe.elapsed() >= probe_every {
            last_probe = Instant::now();
            retry_catch_ups(&mut states, &shared);
            probe_orphans(&mut states, &mut ledgers, &shared);
            probe_ledgers(&states, &mut ledgers, &shared.opts);
            shared
                .deferred
                .flush(&|url| open_ledger_at(url, &shared.opts), &shared.log);
        }
        shared.opts.metrics.tick(states.iter().map(|s| JobTick {
            name: s.sched.name(),
            next: s.next,
            expr: &s.sched.expr,
            tz: s.sched.tz,
        }));
        systemd.tick(&shared.opts.metrics);
        // Sleep in short steps: signals are noticed quickly, and the wall clock is re-read
        // after every step (a sleep computed once would drift over suspend or clock changes).
        let next_due = states.iter().filter_map(|s| s.next).min();
        let wait = next_due
            .map(|n| (n - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(StdDuration::from_secs(1))
            .min(StdDuration::from_millis(200));
        std::thread::sleep(wait.max(StdDuration::from_millis(10)));
    }
    shared.opts.metrics.stopping();
    systemd.stopping();
    shutdown(&mut states, &shared);
    0
}

/// SIGHUP: load the job files again; running jobs keep running.
fn reload(paths: &[PathBuf], mut states: Vec<JobState>, shared: &Shared) -> Vec<JobState> {
    let opts = &shared.opts;
    match load(paths, opts.picfg.as_deref(), opts.picfg_python.as_deref()) {
        Ok((new, _)) => {
            let mut running: HashMap<String, Vec<JoinHandle<()>>> = states
                .drain(..)
                .map(|mut s| (s.sched.name().to_string(), std::mem::take(&mut s.running)))
                .collect();
            let mut states = start(new, shared);
            // Running jobs keep running; their handles are joined when they end.
            for s in &mut states {
                if let Some(h) = running.remove(s.sched.name()) {
                    s.running.extend(h);
                }
            }
            shared.log.info(
                "reloaded",
                None,
                None,
                format!("reloaded: {} job(s)", states.len()),
            );
            states
        }
        Err(problems) => {
            for p in &problems {
                shared.log.warn("reload_failed", None, None, p.clone());
            }
            shared.log.warn(
                "reload_failed",
                None,
                None,
                "the new job files do not validate; keeping the running set".into(),
            );
            states
        }
    }
}

/// Start a run for every slot of `st` that is due at `now`. Every due slot gets a claim —
/// also while this node still runs an earlier slot of the job: the lease then makes the claim
/// end as `skipped` (overlap), so the slot has a row whichever node was free or busy. A slot
/// too late to start, or one beyond [`MAX_LOCAL_RUNS`], is queued to be recorded instead.
fn start_due_slots(st: &mut JobState, now: DateTime<Utc>, shared: &Shared) {
    st.busy();
    while let Some(slot) = st.next.filter(|s| *s <= now) {
        st.next = st.sched.expr.next_after(slot, st.sched.tz);
        let key = slot_key(slot);
        if now - slot > st.sched.max_lateness {
            let reason = format!(
                "not run: this scheduler could not start it within max_lateness ({})",
                fmt_delta(st.sched.max_lateness)
            );
            shared.log.warn(
                "slot_skipped",
                Some(st.sched.name()),
                Some(&key),
                reason.clone(),
            );
            shared.not_run(&st.sched, &key, "missed", reason);
        } else if st.running.len() >= MAX_LOCAL_RUNS {
            let reason = format!("not started: this node already has {MAX_LOCAL_RUNS} runs of this job going (running, or waiting for the database)");
            shared.log.warn(
                "slot_skipped",
                Some(st.sched.name()),
                Some(&key),
                reason.clone(),
            );
            shared.not_run(&st.sched, &key, "skipped", reason);
        } else {
            shared.spawn(st, slot, Trigger::Schedule);
        }
    }
}

/// Stop: no new runs; running jobs get `--grace` to finish their current chunk.
fn shutdown(states: &mut [JobState], shared: &Shared) {
    let log = &shared.log;
    log.info("stopping", None, None, format!("stopping: no new runs; waiting up to {}s for running jobs to finish their current chunk", shared.opts.grace.as_secs()));
    let deadline = Instant::now() + shared.opts.grace;
    for st in states.iter_mut() {
        for h in std::mem::take(&mut st.running) {
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
    let unrecorded = shared.deferred.len();
    if unrecorded > 0 {
        shared
            .deferred
            .flush(&|url| open_ledger_at(url, &shared.opts), log);
        let left = shared.deferred.len();
        if left > 0 {
            log.warn(
                "shutdown",
                None,
                None,
                format!("{left} slot(s) that did not run could not be recorded: the database is unreachable (see the slot_missed/slot_skipped lines above)"),
            );
        }
    }
    log.info("stopped", None, None, "stopped".into());
}

/// Initial state: next slots, and the catch-up decision for slots missed while down.
fn start(jobs: Vec<Scheduled>, shared: &Shared) -> Vec<JobState> {
    let now = Utc::now();
    let mut states = Vec::new();
    for sched in jobs {
        let sched = Arc::new(sched);
        let mut st = JobState {
            next: sched.expr.next_after(now, sched.tz),
            sched,
            running: Vec::new(),
            catch_up_pending: Some(now),
        };
        catch_up(&mut st, shared, true);
        states.push(st);
    }
    states
}

/// Try the pending catch-up decisions again (the ledger was unreachable when they were due).
fn retry_catch_ups(states: &mut [JobState], shared: &Shared) {
    for st in states.iter_mut().filter(|s| s.catch_up_pending.is_some()) {
        catch_up(st, shared, false);
    }
}

/// Decide what to do about slots missed while no scheduler ran (from the last recorded slot
/// up to this node's start): run the latest once (`catch_up: once`), within `max_lateness`.
/// When the ledger cannot be read the decision stays pending and is retried.
fn catch_up(st: &mut JobState, shared: &Shared, first: bool) {
    let Some(started) = st.catch_up_pending else {
        return;
    };
    let sched = st.sched.clone();
    let log = &shared.log;
    let last = open_ledger(&sched, &shared.opts)
        .and_then(|mut l| l.last_slot(sched.name()).map_err(|e| e.to_string()));
    let last = match last {
        Err(e) => {
            if first {
                log.warn(
                    "catch_up",
                    Some(sched.name()),
                    None,
                    format!("cannot read the run ledger ({e}); deciding about missed slots once it can be read"),
                );
            }
            return;
        }
        Ok(last) => last,
    };
    st.catch_up_pending = None;
    let Some(last) = last else {
        return;
    };
    let now = Utc::now();
    let missed = sched.expr.slots_between(last, started, sched.tz, 10_000);
    let Some((latest, older)) = missed.split_last() else {
        return;
    };
    for s in older {
        log.warn(
            "slot_skipped",
            Some(sched.name()),
            Some(&slot_key(*s)),
            "skipped: missed while no scheduler was running (catch_up runs only the latest)".into(),
        );
    }
    let key = slot_key(*latest);
    if sched.job.file.catch_up == CatchUp::Skip {
        log.warn(
            "slot_skipped",
            Some(sched.name()),
            Some(&key),
            "skipped: missed while no scheduler was running (catch_up: skip)".into(),
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
        shared.spawn(st, *latest, Trigger::CatchUp);
    }
}

/// Take over slots whose runner stopped renewing its lease (it died).
fn probe_orphans(states: &mut [JobState], ledgers: &mut HashMap<String, Ledger>, shared: &Shared) {
    for st in states.iter_mut() {
        if st.busy() {
            continue;
        }
        let key = st.sched.settings.database.redacted();
        if !ledgers.contains_key(&key) {
            match open_ledger(&st.sched, &shared.opts) {
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
                        shared.log.warn(
                            "slot_abandoned",
                            Some(st.sched.name()),
                            Some(&slot),
                            format!("abandoned: {reason}"),
                        );
                    }
                    continue;
                }
                shared.log.info(
                    "takeover",
                    Some(st.sched.name()),
                    Some(&slot),
                    "the node running this slot stopped renewing its lease; taking it over".into(),
                );
                shared.spawn(st, at, Trigger::Takeover);
            }
            Ok(None) => {}
            Err(_) => {
                // A broken connection: open a fresh one next time.
                ledgers.remove(&key);
            }
        }
    }
}

/// Reach every job's run ledger (one connection per database, kept between probes) and
/// report its last runs to the metrics; what `/healthz` and `READY=1` judge reachability by.
fn probe_ledgers(
    states: &[JobState],
    ledgers: &mut HashMap<String, Ledger>,
    opts: &ScheduleOptions,
) {
    let mut unreachable: HashMap<String, String> = HashMap::new();
    for st in states {
        let (name, key) = (st.sched.name(), st.sched.settings.database.redacted());
        if let Some(e) = unreachable.get(&key) {
            // One connect timeout per database and probe, not one per job.
            opts.metrics.ledger_unreachable(name, e);
            continue;
        }
        let ledger = match ledgers.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match open_ledger(&st.sched, opts) {
                Ok(l) => v.insert(l),
                Err(e) => {
                    opts.metrics.ledger_unreachable(name, &e);
                    unreachable.insert(key, e);
                    continue;
                }
            },
        };
        match ledger.latest_runs(name) {
            Ok(latest) => opts.metrics.ledger_reached(name, latest),
            Err(e) => {
                opts.metrics.ledger_unreachable(name, &e.to_string());
                ledgers.remove(&key);
            }
        }
    }
}

fn open_ledger(sched: &Scheduled, opts: &ScheduleOptions) -> Result<Ledger, String> {
    open_ledger_at(&sched.settings.database, opts)
}

fn open_ledger_at(url: &DbUrl, opts: &ScheduleOptions) -> Result<Ledger, String> {
    let conn = db::open(url, &opts.open).map_err(|e| e.to_string())?;
    Ledger::new(conn, &opts.node).map_err(|e| e.to_string())
}

/// A duration as job files write it (`1h`, `90s`).
pub fn fmt_delta(d: TimeDelta) -> String {
    crate::job::model::Duration::from_secs(u64::try_from(d.num_seconds()).unwrap_or(0)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule_log::LogFormat;
    use chrono::DurationRound;

    /// A loop that woke late finds several slots due at once (a loaded machine): every one of
    /// them gets a ledger row — run, skipped for overlap, or deferred and recorded — none is
    /// dropped without a trace (the cause of the old "a slot is missing" flake).
    #[test]
    fn every_due_slot_gets_a_row_when_several_are_due_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pi.sqlite");
        let open = OpenOptions {
            create: true,
            ..Default::default()
        };
        let url = DbUrl::parse(&format!("sqlite:///{}", db.display())).unwrap();
        db::open(&url, &open)
            .unwrap()
            .execute_batch(include_str!("../db/ddl/sqlite_full.sql"))
            .unwrap();
        let job = dir.path().join("j.yaml");
        std::fs::write(
            &job,
            format!(
                "version: 1\nname: j\nconnection:\n  database: 'sqlite:///{}'\nschedule: '* * * * * *'\nschedule_seconds: true\ntimezone: UTC\nmax_lateness: 10m\ntasks:\n  - kind: challenge_cleanup\n",
                db.display()
            ),
        )
        .unwrap();
        let (mut jobs, _) = load(&[job], None, None).unwrap_or_else(|e| panic!("{e:?}"));
        let shared = Shared {
            opts: Arc::new(ScheduleOptions {
                node: "n1".into(),
                lease_ttl: StdDuration::from_secs(60),
                grace: StdDuration::from_secs(5),
                history_retention: TimeDelta::days(90),
                open,
                picfg: None,
                picfg_python: None,
                metrics: Arc::new(crate::scheduler::metrics::SchedulerMetrics::new(
                    "n1",
                    StdDuration::from_secs(60),
                )),
            }),
            log: SchedulerLog::new(LogFormat::Json, "n1"),
            interrupt: Interrupt::new(),
            deferred: Deferred::default(),
        };
        let now = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap();
        let first = now - TimeDelta::seconds(4);
        let mut st = JobState {
            sched: Arc::new(jobs.remove(0)),
            next: Some(first),
            running: Vec::new(),
            catch_up_pending: None,
        };
        start_due_slots(&mut st, now, &shared);
        assert_eq!(st.running.len(), MAX_LOCAL_RUNS);
        for h in std::mem::take(&mut st.running) {
            h.join().unwrap();
        }
        shared
            .deferred
            .flush(&|u| open_ledger_at(u, &shared.opts), &shared.log);
        assert!(shared.deferred.is_empty());
        let mut rows = open_ledger(&st.sched, &shared.opts)
            .unwrap()
            .history(Some("j"), 100)
            .unwrap();
        rows.sort_by(|a, b| a.slot.cmp(&b.slot));
        let slots: Vec<String> = rows.iter().map(|r| r.slot.clone()).collect();
        let want: Vec<String> = (0..=4)
            .map(|i| slot_key(first + TimeDelta::seconds(i)))
            .collect();
        assert_eq!(slots, want, "{rows:#?}");
        assert!(
            rows.iter()
                .all(|r| ["ok", "skipped"].contains(&r.status.as_str())),
            "{rows:#?}"
        );
        assert!(rows.iter().any(|r| r.status == "ok"), "{rows:#?}");
    }
}
