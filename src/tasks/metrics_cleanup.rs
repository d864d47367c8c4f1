//! `kind: metrics_cleanup` / `pi-manage config metrics cleanup`: delete the rows of
//! `metric_aggregate` whose 5-minute window started before now (UTC) minus the age, in one
//! statement as privacyIDEA does (reference §6a).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KindSpec, Task, TaskContext, TaskError, TaskOutcome, TaskSite, TaskStatus};
use crate::db::delete::{self, DeletePlan, NoProgress};
use crate::db::Value;
use crate::job::diagnostic::Diagnostic;
use crate::job::model::Duration;
use crate::pytext::datetime_str;

/// The `kind` string of job files.
pub const KIND: &str = "metrics_cleanup";
pub const TABLE: &str = "metric_aggregate";

/// Delete metric rows (`metric_aggregate`, the data of the resolver-timing and notification
/// dashboard panels) whose window started longer ago than `older_than`, as `pi-manage config
/// metrics cleanup`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsCleanup {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Delete rows whose window started longer ago than this (by `window_start`, UTC). At
    /// least one hour, as privacyIDEA's `--older-than-hours`; the dashboard shows 24 hours.
    #[serde(default = "default_older_than")]
    pub older_than: Duration,
}

fn default_older_than() -> Duration {
    Duration::parse("24h").expect("static duration")
}

impl Default for MetricsCleanup {
    fn default() -> Self {
        MetricsCleanup {
            name: None,
            older_than: default_older_than(),
        }
    }
}

#[derive(Debug)]
pub struct MetricsCleanupTask {
    pub name: String,
    pub older_than: Duration,
}

impl KindSpec for MetricsCleanup {
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
        if self.older_than.as_secs() < 3600 {
            diags.push(
                site.error(
                    "/older_than",
                    format!("older_than must be at least 1h, found {}", self.older_than),
                )
                .with_hint("privacyIDEA's --older-than-hours is at least 1; the dashboard shows the last 24h"),
            );
            return None;
        }
        Some(Task::new(MetricsCleanupTask {
            name,
            older_than: self.older_than,
        }))
    }
}

super::task_kind!(MetricsCleanupTask);

impl MetricsCleanupTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let cutoff = self.older_than.before(ctx.clock.now_utc());
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        super::require_tables(conn, &[TABLE])?;
        out.cutoff = Some(format!("window_start < {}", datetime_str(&cutoff)));
        let plan = DeletePlan {
            table: TABLE,
            pk: "id",
            filter: format!("{} < ?", conn.dialect().quote("window_start")),
            params: vec![Value::DateTime(cutoff)],
            chunksize: None,
        };
        let age = super::cleanup::age_words(self.older_than, 3600, "hours");
        if ctx.dry_run {
            let n = delete::count_matching(conn, &plan)?;
            out.matched = Some(n);
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!("Would delete {n} metric rows older than {age}."),
            );
            return Ok(());
        }
        let done = delete::delete_matching(conn, &plan, &mut NoProgress, ctx.interrupt)?;
        out.deleted = Some(done.deleted);
        out.say(
            ctx.output,
            format!("Deleted {} metric rows older than {age}.", done.deleted),
        );
        Ok(())
    }
}
