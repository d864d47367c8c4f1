//! `kind: remembered_device_cleanup` / `pi-manage config remembered_device cleanup`: delete
//! remembered devices whose `expires_at` (naive UTC) lies before now, chunked by the primary
//! key `series_id` when asked (reference §5, §0.8).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KindSpec, Task, TaskContext, TaskError, TaskOutcome, TaskSite};
use crate::db::delete::DeletePlan;
use crate::db::Value;
use crate::job::diagnostic::Diagnostic;
use crate::pytext::datetime_str;

/// The `kind` string of job files.
pub const KIND: &str = "remembered_device_cleanup";
pub const TABLE: &str = "remembered_devices";

/// Delete expired remembered devices (`expires_at` before now, UTC) from `remembered_devices`,
/// as `pi-manage config remembered_device cleanup`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RememberedDeviceCleanup {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Delete in chunks of this many rows (by `series_id`), each committed on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub chunksize: Option<u64>,
}

#[derive(Debug)]
pub struct RememberedDeviceCleanupTask {
    pub name: String,
    pub chunksize: Option<u64>,
}

impl KindSpec for RememberedDeviceCleanup {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(&self, name: String, _: &TaskSite<'_>, _: &mut Vec<Diagnostic>) -> Option<Task> {
        Some(Task::new(RememberedDeviceCleanupTask {
            name,
            chunksize: self.chunksize,
        }))
    }
}

super::task_kind!(RememberedDeviceCleanupTask);

impl RememberedDeviceCleanupTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let now = ctx.clock.now_utc();
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        super::require_tables(conn, &[TABLE])?;
        out.cutoff = Some(format!("expires_at < {}", datetime_str(&now)));
        let plan = DeletePlan {
            table: TABLE,
            pk: "series_id",
            filter: format!("{} < ?", conn.dialect().quote("expires_at")),
            params: vec![Value::DateTime(now)],
            chunksize: self.chunksize,
        };
        super::cleanup::delete_or_count(
            ctx,
            out,
            super::cleanup::Database::Main,
            &plan,
            "deleting remembered devices",
            "Would delete {} expired remembered-device entries.",
        )
    }
}
