//! `pi-manage schedule` (the cron replacement) and `pi-manage history`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::cli::{HistoryArgs, OutputFormat, ScheduleArgs};
use crate::commands::context::{AppError, Globals};
use crate::db::{self, OpenOptions};
use crate::interrupt::Interrupt;
use crate::job::model::Duration;
use crate::report::{self, Format};
use crate::schedule_log::{LogFormat, SchedulerLog};
use crate::scheduler::daemon::{self, ScheduleOptions};
use crate::scheduler::ledger::Ledger;
use crate::scheduler::metrics::SchedulerMetrics;
use crate::scheduler::metrics_http;

fn duration(flag: &str, text: &str) -> Result<Duration, AppError> {
    Duration::parse(text).map_err(|e| AppError::Usage(format!("{flag}: {e}")))
}

/// `schedule --list --output json`: each job with its schedule and next fire times, its
/// schedules with the tasks on each, and which tasks each of those times runs.
fn upcoming_json(
    jobs: &[daemon::Scheduled],
    now: chrono::DateTime<chrono::Utc>,
    count: usize,
) -> String {
    let list: Vec<serde_json::Value> = jobs
        .iter()
        .map(|s| {
            let mut next = Vec::new();
            let mut runs = Vec::new();
            let mut t = now;
            for _ in 0..count {
                let Some(n) = s.expr.next_after(t, s.tz) else {
                    break;
                };
                let at = n.with_timezone(&s.tz).to_rfc3339();
                runs.push(serde_json::json!({"at": at, "tasks": s.task_names_at(n)}));
                next.push(at);
                t = n;
            }
            let schedules: Vec<serde_json::Value> = s
                .expr
                .parts()
                .into_iter()
                .map(|(expr, tasks)| serde_json::json!({"schedule": expr, "tasks": tasks}))
                .collect();
            serde_json::json!({
                "job": s.name(),
                "file": s.job.path.display().to_string(),
                "schedule": s.expr.to_string(),
                "timezone": s.tz.name(),
                "next": next,
                "schedules": schedules,
                "runs": runs,
            })
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

pub fn run(globals: &Globals, args: &ScheduleArgs) -> Result<i32, AppError> {
    // Flags first, so that --list also refuses an out-of-range value.
    let lease = duration("--lease", &args.lease)?;
    let grace = duration("--grace", &args.grace)?;
    let history_retention = duration("--history-retention", &args.history_retention)?;
    let (jobs, warnings) = daemon::load(
        &args.paths,
        globals.picfg.as_deref(),
        globals.picfg_python.as_deref(),
    )
    .map_err(|problems| {
        for p in &problems {
            report::print_error(p);
        }
        AppError::Invalid(format!(
            "{} problem(s) in the job files; the scheduler did not start",
            problems.len()
        ))
    })?;
    report::print_diagnostics(&warnings);
    if args.list {
        let now = chrono::Utc::now();
        match globals.format {
            Format::Json => report::out_line(&upcoming_json(&jobs, now, args.count)),
            Format::Text if globals.quiet => {}
            Format::Text => {
                for line in daemon::upcoming(&jobs, now, args.count) {
                    report::print_line(&line);
                }
            }
        }
        return Ok(0);
    }
    if lease.as_secs() < 3 {
        return Err(AppError::Usage("--lease must be at least 3s".into()));
    }
    let node = args
        .node
        .clone()
        .unwrap_or_else(crate::scheduler::ledger::host_name);
    let lease_ttl = std::time::Duration::from_secs(lease.as_secs());
    let metrics = Arc::new(SchedulerMetrics::new(&node, lease_ttl));
    let opts = ScheduleOptions {
        node: node.clone(),
        lease_ttl,
        grace: std::time::Duration::from_secs(grace.as_secs()),
        history_retention: history_retention.to_chrono(),
        open: OpenOptions::default(),
        picfg: globals.picfg.clone(),
        picfg_python: globals.picfg_python.clone(),
        metrics: metrics.clone(),
    };
    let log = SchedulerLog::new(
        match args.log_format {
            OutputFormat::Text => LogFormat::Text,
            OutputFormat::Json => LogFormat::Json,
        },
        &node,
    )
    .with_metrics(metrics.clone());
    if let Some(addr) = &args.metrics_listen {
        let bound = metrics_http::serve(addr, metrics).map_err(AppError::Usage)?;
        log.info(
            "metrics_listening",
            None,
            None,
            format!("serving /metrics and /healthz on http://{bound}"),
        );
    }
    let hup = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone());
    Ok(daemon::run(
        &args.paths,
        jobs,
        opts,
        log,
        Interrupt::global(),
        hup,
    ))
}

pub fn history(globals: &Globals, args: &HistoryArgs) -> Result<i32, AppError> {
    let settings = super::installation(globals)?;
    let format = match args.format {
        Some(OutputFormat::Json) => Format::Json,
        Some(OutputFormat::Text) => Format::Text,
        None => globals.format,
    };
    // Read-only: a database without the ledger has no history, and gets no ledger either.
    let records = db::open(&settings.database, &OpenOptions::default())
        .and_then(|c| Ledger::existing(c, "history"))
        .and_then(|l| match l {
            Some(mut l) => l.history(args.job.as_deref(), args.limit).map(Some),
            None => Ok(None),
        });
    let records = match records {
        Ok(Some(r)) => r,
        Ok(None) => {
            match format {
                Format::Json => report::print_raw("[]\n"),
                Format::Text => report::print_line(
                    "No run history: nothing has been run with 'pi-manage run' or 'pi-manage schedule' on this database yet.",
                ),
            }
            return Ok(0);
        }
        Err(e) => {
            report::print_error(&e.to_string());
            return Ok(
                if matches!(e.kind, db::DbErrorKind::Connect | db::DbErrorKind::Auth) {
                    3
                } else {
                    1
                },
            );
        }
    };
    match format {
        Format::Json => report::print_raw(&format!(
            "{}\n",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        )),
        Format::Text => {
            report::print_line(&format!(
                "{:<24} {:<28} {:<14} {:<10} {:<11} {:>9} {:>10}",
                "JOB", "SLOT", "NODE", "TRIGGER", "STATUS", "ROWS", "DURATION"
            ));
            for r in &records {
                report::print_line(&format!(
                    "{:<24} {:<28} {:<14} {:<10} {:<11} {:>9} {:>10}{}",
                    r.job,
                    r.slot,
                    r.node,
                    r.trigger,
                    r.status,
                    r.rows_affected
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.duration_ms
                        .map(|d| format!("{d} ms"))
                        .unwrap_or_else(|| "-".into()),
                    [
                        (!r.tasks.is_empty()).then(|| format!("tasks: {}", r.tasks.join(", "))),
                        r.error.clone(),
                        r.note.clone(),
                    ]
                    .into_iter()
                    .flatten()
                    .map(|t| format!("  {t}"))
                    .collect::<String>()
                ));
            }
        }
    }
    Ok(0)
}
