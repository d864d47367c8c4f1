//! `pi-manage periodic list | run_scheduled [-d] [-n NODE] [-c] | run_manually -t NAME [-n NODE]`:
//! privacyidea-cron's commands, with its lines and exit codes (1 when a task failed), built
//! on the `periodic_tasks` task.

use crate::cli::PeriodicCommand;
use crate::commands::context::{AppError, Globals};
use crate::executor::JobReport;
use crate::tasks::periodic_tasks::{Action, PeriodicTasksTask};

pub fn run(globals: &Globals, cmd: PeriodicCommand) -> Result<i32, AppError> {
    let (job, action, node, cron, dry_run) = match cmd {
        PeriodicCommand::List => ("periodic list", Action::List, None, false, false),
        PeriodicCommand::RunScheduled(a) => (
            "periodic run_scheduled",
            Action::Scheduled,
            a.node,
            a.cron,
            a.dryrun,
        ),
        PeriodicCommand::RunManually(a) => (
            "periodic run_manually",
            Action::Manually(a.task),
            a.node,
            false,
            false,
        ),
    };
    let task = PeriodicTasksTask::command(job, action, node, cron);
    let reports = super::run_task_reports(globals, job, task, dry_run)?;
    Ok(exit_code(&reports))
}

/// privacyidea-cron's exit code: the executor's, and 1 when a privacyIDEA task failed.
fn exit_code(reports: &[JobReport]) -> i32 {
    let code = crate::executor::exit_code(reports);
    let task_failed = reports.iter().flat_map(|r| &r.tasks).any(|t| {
        t.details
            .get("failed")
            .and_then(|f| f.as_array())
            .is_some_and(|f| !f.is_empty())
    });
    if code == 0 && task_failed {
        1
    } else {
        code
    }
}
