//! The one executor: runs prepared tasks in order against an installation, for job files
//! and for the imperative commands alike. A failing task stops the plan (later tasks are
//! reported as skipped); an interrupted task stops it too, after its last committed chunk.

use std::time::Instant;

use serde::Serialize;

use crate::clock::Clock;
use crate::db::OpenOptions;
use crate::interrupt::{self, Interrupt};
use crate::settings::Settings;
use crate::tasks::{Databases, Task, TaskContext, TaskOutcome, TaskOutput, TaskStatus};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// Run only the task with this name.
    pub only_task: Option<String>,
}

/// How a whole job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Ok,
    Failed,
    /// A task could not reach its database (exit code 3).
    ConnectFailed,
    Interrupted,
}

/// What a job run did, task by task.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub job: String,
    pub file: String,
    pub dry_run: bool,
    pub status: JobStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub tasks: Vec<TaskOutcome>,
    pub duration_ms: u64,
}

/// Hooks the report layer uses to show a run as it happens.
pub trait RunOutput: TaskOutput {
    fn job_started(&mut self, _job: &str, _file: &str, _dry_run: bool) {}
    fn task_started(&mut self, _task: &Task) {}
    fn task_finished(&mut self, _outcome: &TaskOutcome) {}
    fn job_finished(&mut self, _report: &JobReport) {}
}

/// Everything the executor needs besides the tasks.
pub struct Runtime<'a> {
    pub clock: &'a dyn Clock,
    pub interrupt: &'a Interrupt,
    pub open: OpenOptions,
}

/// Run `tasks` of the job `job` against the installation `settings` describes: all of a job's
/// tasks (`&job.tasks`), or those of a scheduled slot (an iterator over some of them).
pub fn run_tasks<'t>(
    job: &str,
    file: &str,
    tasks: impl IntoIterator<Item = &'t Task>,
    settings: &Settings,
    opts: &RunOptions,
    rt: &Runtime<'_>,
    out: &mut dyn RunOutput,
) -> JobReport {
    let mut databases = Databases::new(
        settings.database.clone(),
        settings.audit_database.clone(),
        rt.open.clone(),
    );
    run_with_databases(job, file, tasks, settings, &mut databases, opts, rt, out)
}

/// Like [`run_tasks`], with databases supplied by the caller (tests, benchmarks).
#[allow(clippy::too_many_arguments)]
pub fn run_with_databases<'t>(
    job: &str,
    file: &str,
    tasks: impl IntoIterator<Item = &'t Task>,
    settings: &Settings,
    databases: &mut Databases,
    opts: &RunOptions,
    rt: &Runtime<'_>,
    out: &mut dyn RunOutput,
) -> JobReport {
    let started = Instant::now();
    out.job_started(job, file, opts.dry_run);
    let mut report = JobReport {
        job: job.to_string(),
        file: file.to_string(),
        dry_run: opts.dry_run,
        status: JobStatus::Ok,
        signal: None,
        tasks: Vec::new(),
        duration_ms: 0,
    };
    for task in tasks {
        if opts.only_task.as_deref().is_some_and(|n| n != task.name()) {
            continue;
        }
        if report.status != JobStatus::Ok {
            let mut skipped = TaskOutcome::new(task.name(), task.kind());
            skipped.status = TaskStatus::Skipped;
            report.tasks.push(skipped);
            continue;
        }
        if let Some(sig) = rt.interrupt.requested() {
            report.status = JobStatus::Interrupted;
            report.signal = Some(sig);
            let mut skipped = TaskOutcome::new(task.name(), task.kind());
            skipped.status = TaskStatus::Skipped;
            report.tasks.push(skipped);
            continue;
        }
        out.task_started(task);
        let mut ctx = TaskContext {
            dry_run: opts.dry_run,
            settings,
            clock: rt.clock,
            interrupt: rt.interrupt,
            databases,
            output: out,
        };
        let outcome = match task.run(&mut ctx) {
            Ok(o) => {
                if o.status == TaskStatus::Interrupted {
                    report.status = JobStatus::Interrupted;
                    report.signal = o.signal;
                }
                o
            }
            Err(f) => {
                report.status = if f.error.is_connect() {
                    JobStatus::ConnectFailed
                } else {
                    JobStatus::Failed
                };
                *f.outcome
            }
        };
        out.task_finished(&outcome);
        report.tasks.push(outcome);
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    out.job_finished(&report);
    report
}

/// The process exit code for a set of job reports (DESIGN.md §5): 0 ok, 1 a task failed,
/// 3 a database could not be reached, 4 a dry run found pending changes, 130/143 interrupted.
pub fn exit_code(reports: &[JobReport]) -> i32 {
    if let Some(sig) = reports.iter().find_map(|r| r.signal) {
        return interrupt::exit_code(sig);
    }
    if reports.iter().any(|r| r.status == JobStatus::ConnectFailed) {
        return 3;
    }
    if reports.iter().any(|r| r.status == JobStatus::Failed) {
        return 1;
    }
    // 4: a dry run found changes it would make (tasks mark them `details.pending`).
    let pending =
        |t: &TaskOutcome| t.details.get("pending") == Some(&serde_json::Value::Bool(true));
    if reports
        .iter()
        .any(|r| r.dry_run && r.tasks.iter().any(pending))
    {
        return DRY_RUN_PENDING;
    }
    0
}

/// The exit code of a dry run that found pending changes (policy diffs).
pub const DRY_RUN_PENDING: i32 = 4;
