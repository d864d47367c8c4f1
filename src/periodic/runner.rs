//! privacyidea-cron's three commands over one database connection: `list`, `run_scheduled`
//! and `run_manually`, each printing privacyidea-cron's lines through a [`CronSink`].
//!
//! A task's module runs between `Running 'name' ...` (no newline) and the verdict. Success
//! records the node's last run (the time the module finished, so schedules drift, as
//! privacyIDEA's do); failure records it only when `retry_if_failed` is false. A failing
//! task fails alone: the others still run.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::due::{scheduled, Ignored};
use super::lines;
use super::modules::{self, ModuleContext, ModuleReport};
use super::store::{self, PeriodicTask};
use crate::clock::Clock;
use crate::db::{Connection, DbResult};

/// Where privacyidea-cron's lines go: stdout lines and stderr lines.
pub trait CronSink {
    fn stdout(&mut self, line: &str);
    fn stderr(&mut self, line: &str);
}

/// privacyIDEA's `print_stdout`/`print_stderr`: cron mode silences stdout; a text printed
/// without a newline is joined to the next stdout line.
pub struct Printer<'a> {
    sink: &'a mut dyn CronSink,
    cron_mode: bool,
    partial: String,
}

impl<'a> Printer<'a> {
    pub fn new(sink: &'a mut dyn CronSink, cron_mode: bool) -> Self {
        Printer {
            sink,
            cron_mode,
            partial: String::new(),
        }
    }

    /// A line on stdout (unless in cron mode).
    pub fn out_line(&mut self, line: &str) {
        self.out(line)
    }

    fn out(&mut self, line: &str) {
        if self.cron_mode {
            return;
        }
        let line = std::mem::take(&mut self.partial) + line;
        self.sink.stdout(&line);
    }

    fn out_no_newline(&mut self, text: &str) {
        if !self.cron_mode {
            self.partial.push_str(text);
        }
    }

    fn err(&mut self, line: &str) {
        self.sink.stderr(line);
    }

    /// End the output: a pending partial line is printed (as a line of its own).
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.sink.stdout(&line);
        }
    }
}

/// How a run is done.
pub struct RunContext<'a> {
    pub node: String,
    /// The time zone the intervals are read in (the privacyIDEA server's local zone).
    pub tz: Tz,
    pub clock: &'a dyn Clock,
    pub node_uuid: Option<String>,
}

/// The result of one task run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRun {
    pub name: String,
    /// The module's report, or the `repr` of what it raised.
    pub result: Result<ModuleReport, String>,
    /// Whether the node's last run was written.
    pub recorded: bool,
}

impl TaskRun {
    pub fn succeeded(&self) -> bool {
        self.result.is_ok()
    }
}

/// What `run_scheduled` found and did.
#[derive(Debug, Clone, Default)]
pub struct ScheduledRun {
    pub due: Vec<String>,
    pub ignored: Vec<Ignored>,
    /// Empty on a dry run.
    pub runs: Vec<TaskRun>,
}

impl ScheduledRun {
    pub fn failed(&self) -> Vec<&str> {
        self.runs
            .iter()
            .filter(|r| !r.succeeded())
            .map(|r| r.name.as_str())
            .collect()
    }
}

/// `run_task_on_node`: run one task's module and do the bookkeeping.
pub fn run_task_on_node(
    conn: &mut dyn Connection,
    task: &PeriodicTask,
    ctx: &RunContext<'_>,
    p: &mut Printer<'_>,
) -> DbResult<TaskRun> {
    p.out_no_newline(&lines::running(&task.name));
    let mctx = ModuleContext {
        clock: ctx.clock,
        node_uuid: ctx.node_uuid.as_deref(),
    };
    let result = modules::execute(conn, task, &mctx).map_err(|e| e.repr);
    let mut recorded = false;
    match &result {
        Ok(_) => {
            p.out(&lines::succeeded(&task.name, &ctx.node));
            store::record_last_run(conn, task.id, &ctx.node, ctx.clock.now_utc())?;
            recorded = true;
        }
        Err(repr) => {
            p.err(&lines::caught(&task.name, repr));
            p.err(&lines::failed(&task.name, &ctx.node));
            if task.retry_if_failed {
                p.err(lines::NOT_RECORDED);
            } else {
                p.err(lines::RECORDED);
                store::record_last_run(conn, task.id, &ctx.node, ctx.clock.now_utc())?;
                recorded = true;
            }
        }
    }
    Ok(TaskRun {
        name: task.name.clone(),
        result,
        recorded,
    })
}

/// `run_scheduled`: the tasks due on the node now, run in order (or only listed, `dry_run`).
pub fn run_scheduled(
    conn: &mut dyn Connection,
    ctx: &RunContext<'_>,
    dry_run: bool,
    p: &mut Printer<'_>,
) -> DbResult<ScheduledRun> {
    let now: DateTime<Utc> = ctx.clock.now_utc().and_utc();
    let tasks = store::load(conn, None)?;
    let (due, ignored) = scheduled(&tasks, &ctx.node, now, ctx.tz);
    let mut run = ScheduledRun {
        due: due.iter().map(|t| t.name.clone()).collect(),
        ignored,
        runs: Vec::new(),
    };
    if due.is_empty() {
        p.out(&lines::nothing_scheduled(&ctx.node));
        return Ok(run);
    }
    p.out(&lines::scheduled_heading(&ctx.node));
    p.out("");
    for t in &due {
        p.out(&lines::scheduled_task(t));
    }
    p.out("");
    if dry_run {
        p.out(lines::DRY_RUN);
        return Ok(run);
    }
    for t in due {
        run.runs.push(run_task_on_node(conn, t, ctx, p)?);
    }
    if run.runs.iter().all(TaskRun::succeeded) {
        p.out(lines::ALL_OK);
    } else {
        p.err(lines::SOME_FAILED);
    }
    Ok(run)
}

/// `run_manually`: run the task named `name` whether or not it is active or lists the node.
/// `Ok(None)` when there is no such task.
pub fn run_manually(
    conn: &mut dyn Connection,
    name: &str,
    ctx: &RunContext<'_>,
    p: &mut Printer<'_>,
) -> DbResult<Option<TaskRun>> {
    let tasks = store::load(conn, Some(name))?;
    match tasks.as_slice() {
        [task] => Ok(Some(run_task_on_node(conn, task, ctx, p)?)),
        _ => Ok(None),
    }
}

/// privacyIDEA's message for `run_manually` with an unknown name.
pub fn no_such_task(name: &str) -> String {
    format!(
        "The periodic task with unique name {} does not exist",
        crate::pytext::str_repr(name)
    )
}

/// `list`: every task, in `ordering`.
pub fn list(conn: &mut dyn Connection, p: &mut Printer<'_>) -> DbResult<Vec<PeriodicTask>> {
    let tasks = store::load(conn, None)?;
    for line in lines::list_heading() {
        p.out(&line);
    }
    for t in &tasks {
        p.out(&lines::list_row(t));
    }
    Ok(tasks)
}
