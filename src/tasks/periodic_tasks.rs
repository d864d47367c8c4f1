//! `kind: periodic_tasks` / `pi-manage periodic …`: privacyIDEA's periodic tasks, run as
//! `privacyidea-cron run_scheduled` runs them for one node (`src/periodic/`). A privacyIDEA
//! task that fails (an unknown module such as the dev snapshot's `MetricsCleanup`, a database
//! error in its module) is that task's failure: it is reported and booked per
//! `retry_if_failed`, the other tasks run, and this task still succeeds.
//!
//! The commands `periodic list` and `periodic run_manually` are built on the same task.

use std::str::FromStr;

use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    KindSpec, Task, TaskContext, TaskError, TaskOutcome, TaskOutput, TaskSite, TaskStatus,
};
use crate::job::diagnostic::Diagnostic;
use crate::periodic::node::{node_name, node_uuid};
use crate::periodic::runner::{self, CronSink, Printer, RunContext, TaskRun};
use crate::periodic::store;
use crate::pytext::str_repr;

/// The `kind` string of job files.
pub const KIND: &str = "periodic_tasks";

/// Run privacyIDEA's periodic tasks that are due on this node, as `privacyidea-cron
/// run_scheduled` does (privacyIDEA's packaged crontab runs it every 5 minutes). Tasks are
/// due by their cron `interval` in the privacyIDEA server's time zone and their last run on
/// this node; after each run the node's last run is recorded (after a failure only when the
/// task's `retry_if_failed` is off).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodicTasks {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// The privacyIDEA node to run the tasks of. Default: pi.cfg's `PI_NODE`, else
    /// `PI_AUDIT_SERVERNAME`, else `localnode` (as privacyidea-cron).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub node: Option<String>,
    /// IANA time zone the tasks' intervals are read in: the privacyIDEA server's local zone.
    /// Default: this host's zone (`TZ`, else `/etc/localtime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// What the task does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `run_scheduled`: the due tasks.
    Scheduled,
    /// `run_manually -t NAME`: one task, due or not, active or not, on any node.
    Manually(String),
    /// `list`: print the tasks.
    List,
}

#[derive(Debug)]
pub struct PeriodicTasksTask {
    pub name: String,
    pub action: Action,
    pub node: Option<String>,
    pub tz: Option<Tz>,
    /// privacyidea-cron's `--cron`: nothing on stdout.
    pub cron_mode: bool,
    /// privacyidea-cron's exact output (the commands): lines it only logs stay in the report.
    pub peer_output: bool,
}

impl PeriodicTasksTask {
    /// A task for one of the `pi-manage periodic` commands.
    pub fn command(name: &str, action: Action, node: Option<String>, cron_mode: bool) -> Task {
        Task::new(PeriodicTasksTask {
            name: name.to_string(),
            action,
            node,
            tz: None,
            cron_mode,
            peer_output: true,
        })
    }
}

impl KindSpec for PeriodicTasks {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Task> {
        let tz = match &self.time_zone {
            None => None,
            Some(z) => match Tz::from_str(z) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    diags.push(site.error(
                        "/time_zone",
                        format!("unknown time zone {z:?} (use an IANA name like Europe/Berlin)"),
                    ));
                    return None;
                }
            },
        };
        Some(Task::new(PeriodicTasksTask {
            name,
            action: Action::Scheduled,
            node: self.node.clone(),
            tz,
            cron_mode: false,
            peer_output: false,
        }))
    }
}

super::task_kind!(PeriodicTasksTask);

/// privacyidea-cron's stdout and stderr lines, into the task's report.
struct Lines<'a> {
    out: &'a mut TaskOutcome,
    output: &'a mut dyn TaskOutput,
}

impl CronSink for Lines<'_> {
    fn stdout(&mut self, line: &str) {
        self.out.say(self.output, line.to_string());
    }
    fn stderr(&mut self, line: &str) {
        self.out.warn(self.output, line.to_string());
    }
}

fn run_json(r: &TaskRun) -> serde_json::Value {
    match &r.result {
        Ok(report) => json!({
            "task": r.name,
            "ok": true,
            "recorded": r.recorded,
            "written": report.written.iter().map(|(k, v)| json!({"stats_key": k, "stats_value": v})).collect::<Vec<_>>(),
            "notes": report.notes,
        }),
        Err(repr) => json!({"task": r.name, "ok": false, "recorded": r.recorded, "error": repr}),
    }
}

impl PeriodicTasksTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let node = node_name(self.node.as_deref(), &ctx.settings.node);
        let rctx = RunContext {
            node: node.clone(),
            tz: self
                .tz
                .unwrap_or_else(crate::scheduler::daemon::host_timezone),
            clock: ctx.clock,
            node_uuid: node_uuid(&ctx.settings.node),
        };
        let dry_run = ctx.dry_run;
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        super::require_tables(conn, &[store::TASKS, store::OPTIONS, store::LAST_RUNS])?;
        out.details.insert("node".into(), json!(node));
        let mut lines = Lines {
            out,
            output: &mut *ctx.output,
        };
        let mut p = Printer::new(&mut lines, self.cron_mode);
        let runs: Vec<TaskRun>;
        let mut notes: Vec<String> = Vec::new();
        match &self.action {
            Action::List => {
                let tasks = runner::list(conn, &mut p)?;
                p.finish();
                out.details.insert("tasks".into(), json!(tasks.len()));
                return Ok(());
            }
            Action::Manually(name) => {
                if dry_run {
                    p.out_line(&format!(
                        "Not running {} because of the dry run.",
                        str_repr(name)
                    ));
                    p.finish();
                    out.status = TaskStatus::DryRun;
                    return Ok(());
                }
                match runner::run_manually(conn, name, &rctx, &mut p)? {
                    Some(run) => runs = vec![run],
                    None => return Err(TaskError::Refused(runner::no_such_task(name))),
                }
                p.finish();
            }
            Action::Scheduled => {
                let run = runner::run_scheduled(conn, &rctx, dry_run, &mut p)?;
                p.finish();
                for i in &run.ignored {
                    notes.push(format!(
                        "Ignoring periodic task {}: {}",
                        str_repr(&i.task),
                        i.reason
                    ));
                }
                out.details.insert("due".into(), json!(run.due));
                runs = run.runs;
            }
        }
        for n in notes {
            if self.peer_output {
                // privacyidea-cron only logs this; it stays in the report.
                out.messages.push(n);
            } else {
                out.warn(ctx.output, n);
            }
        }
        if dry_run {
            out.status = TaskStatus::DryRun;
            return Ok(());
        }
        let failed: Vec<&str> = runs
            .iter()
            .filter(|r| !r.succeeded())
            .map(|r| r.name.as_str())
            .collect();
        out.details.insert("failed".into(), json!(failed));
        out.details.insert(
            "runs".into(),
            serde_json::Value::Array(runs.iter().map(run_json).collect()),
        );
        Ok(())
    }
}
