//! One file per command group. Commands turn their arguments into tasks and hand them to the
//! executor; they hold no task logic.

pub mod admin;
pub mod api;
pub mod audit;
pub mod authcache;
pub mod authlog;
pub mod backup;
pub mod challenge;
pub mod conditional_access;
pub mod context;
pub mod db;
pub mod metrics;
pub mod periodic;
pub mod policy;
pub mod remembered_device;
pub mod run;
pub mod schedule;
pub mod schema;
pub mod setup;
pub mod usercache;
pub mod validate;

use std::path::Path;

use crate::clock::SystemClock;
use crate::db::OpenOptions;
use crate::executor::{self, RunOptions, Runtime};
use crate::interrupt::Interrupt;
use crate::job::diagnostic::Diagnostic;
use crate::job::model::TaskSpec;
use crate::report::{self, Reporter, Style};
use crate::settings::{process_env, Settings, SettingsRequest};
use crate::tasks::{self, TaskSite};
pub use context::{AppError, Globals};

/// Run one task built from command-line flags (the privacyIDEA-style commands), printing
/// privacyIDEA's lines.
pub(crate) fn run_single_task(
    globals: &Globals,
    job: &str,
    spec: TaskSpec,
    dry_run: bool,
) -> Result<i32, AppError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_path_buf());
    let site = TaskSite::command_line(&cwd);
    let mut diags: Vec<Diagnostic> = Vec::new();
    let task = tasks::prepare(&spec, &site, &mut diags);
    report::print_diagnostics(&diags);
    let Some(task) = task else {
        return Err(AppError::Invalid(format!("{job}: nothing was run")));
    };
    run_task(globals, job, task, dry_run)
}

/// The settings of the installation `--picfg` (or privacyIDEA's default) describes.
pub(crate) fn installation(globals: &Globals) -> Result<Settings, AppError> {
    let settings = Settings::resolve(
        &SettingsRequest {
            explicit_picfg: globals.picfg.clone(),
            picfg_python: globals.picfg_python.clone(),
            ..Default::default()
        },
        &process_env,
    )?;
    print_notes(&settings);
    Ok(settings)
}

/// Notes about reading pi.cfg (settings `--picfg-python` left out), on stderr.
pub(crate) fn print_notes(settings: &Settings) {
    for note in &settings.notes {
        report::print_error(&format!("note: {note}"));
    }
}

/// Run one prepared task with privacyIDEA-style output.
pub(crate) fn run_task(
    globals: &Globals,
    job: &str,
    task: tasks::Task,
    dry_run: bool,
) -> Result<i32, AppError> {
    let reports = run_task_reports(globals, job, task, dry_run)?;
    Ok(executor::exit_code(&reports))
}

/// [`run_task`], returning the job's report for a command that decides its own exit code.
pub(crate) fn run_task_reports(
    globals: &Globals,
    job: &str,
    task: tasks::Task,
    dry_run: bool,
) -> Result<Vec<executor::JobReport>, AppError> {
    let settings = installation(globals)?;
    let mut reporter = Reporter::new(globals.format, Style::Peer, globals.quiet);
    let rt = Runtime {
        clock: &SystemClock,
        interrupt: &Interrupt::global(),
        open: OpenOptions::default(),
    };
    let opts = RunOptions {
        dry_run,
        only_task: None,
    };
    let file = settings
        .picfg_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    executor::run_tasks(job, &file, &[task], &settings, &opts, &rt, &mut reporter);
    reporter.finish();
    Ok(reporter.reports)
}
