//! `pi-manage run JOB.yaml…`: validate every file and resolve every installation first,
//! then run the jobs in order. Nothing runs if anything is invalid.

use crate::cli::RunArgs;
use crate::clock::SystemClock;
use crate::commands::context::{AppError, Globals};
use crate::db::OpenOptions;
use crate::executor::{self, JobStatus, RunOptions, Runtime};
use crate::interrupt::Interrupt;
use crate::job::check::{load_job, ValidJob};
use crate::report::{self, Reporter, Style};
use crate::settings::{process_env, Settings};

pub fn run(globals: &Globals, args: &RunArgs) -> Result<i32, AppError> {
    let mut jobs: Vec<ValidJob> = Vec::new();
    let mut problems = 0;
    for path in &args.jobs {
        match load_job(path) {
            Ok(job) => {
                report::print_diagnostics(&job.warnings);
                jobs.push(job);
            }
            Err(diags) => {
                problems += diags.iter().filter(|d| d.is_error()).count();
                report::print_diagnostics(&diags);
            }
        }
    }
    if problems > 0 {
        return Err(AppError::Invalid(format!(
            "{problems} problem{} found; nothing was run",
            if problems == 1 { "" } else { "s" }
        )));
    }
    if let Some(name) = &args.task {
        if !jobs
            .iter()
            .any(|j| j.tasks.iter().any(|t| t.name() == name))
        {
            let known: Vec<&str> = jobs
                .iter()
                .flat_map(|j| j.tasks.iter().map(|t| t.name()))
                .collect();
            return Err(AppError::Usage(format!(
                "no task named '{name}' (tasks: {})",
                known.join(", ")
            )));
        }
    }
    // Resolve every installation before running anything.
    let mut resolved = Vec::new();
    for job in &jobs {
        let mut req = job.settings_request(globals.picfg.as_deref());
        req.picfg_python = globals.picfg_python.clone();
        let settings = Settings::resolve(&req, &process_env)
            .map_err(|e| AppError::Invalid(format!("{}: {e}", job.path.display())))?;
        super::print_notes(&settings);
        resolved.push(settings);
    }
    let mut reporter = Reporter::new(globals.format, Style::Plan, globals.quiet);
    let interrupt = Interrupt::global();
    let rt = Runtime {
        clock: &SystemClock,
        interrupt: &interrupt,
        open: OpenOptions::default(),
    };
    for (job, settings) in jobs.iter().zip(&resolved) {
        let opts = RunOptions {
            dry_run: args.dry_run || job.file.dryrun,
            only_task: args.task.clone(),
        };
        let started = chrono::Utc::now();
        let report = executor::run_tasks(
            &job.file.name,
            &job.path.display().to_string(),
            &job.tasks,
            settings,
            &opts,
            &rt,
            &mut reporter,
        );
        if !opts.dry_run {
            record_manual_run(settings, &rt.open, &report, started);
        }
        if report.status == JobStatus::Interrupted {
            break;
        }
    }
    reporter.finish();
    Ok(executor::exit_code(&reporter.reports))
}

/// Record a manual run in the installation's run ledger (trigger `manual`), so `history`
/// shows it next to scheduled runs. A ledger that cannot be written only warns: the run
/// itself already happened.
fn record_manual_run(
    settings: &Settings,
    open: &OpenOptions,
    report: &executor::JobReport,
    started: chrono::DateTime<chrono::Utc>,
) {
    use crate::scheduler::ledger::{slot_key, Claim, Ledger, Trigger};
    if report.status == JobStatus::ConnectFailed {
        return;
    }
    let node = crate::scheduler::ledger::host_name();
    let result = crate::db::open(&settings.database, open)
        .and_then(|c| Ledger::new(c, &node))
        .and_then(|mut l| {
            let key = slot_key(started);
            if l.claim(&report.job, &key, Trigger::Manual, started)? != Claim::Won {
                return Ok(());
            }
            let status = match report.status {
                JobStatus::Ok => "ok",
                JobStatus::Interrupted => "interrupted",
                _ => "failed",
            };
            let rows = report
                .tasks
                .iter()
                .filter_map(|t| t.deleted)
                .map(|d| d as i64)
                .reduce(|a, b| a + b);
            let error = report.tasks.iter().find_map(|t| t.error.clone());
            l.finish(
                &report.job,
                &key,
                status,
                chrono::Utc::now(),
                report.duration_ms as i64,
                rows,
                error.as_deref(),
                serde_json::to_string(&report.tasks).ok().as_deref(),
            )
        });
    if let Err(e) = result {
        report::print_error(&format!(
            "warning: could not record the run in the run history: {e}"
        ));
    }
}
