//! `pi-manage config metrics cleanup [--older-than-hours N] [--dryrun]`, built into one
//! `metrics_cleanup` task.

use crate::cli::MetricsCleanupArgs;
use crate::commands::context::{AppError, Globals};
use crate::job::model::{Duration, TaskSpec};
use crate::tasks::metrics_cleanup::MetricsCleanup;

pub fn cleanup(globals: &Globals, args: &MetricsCleanupArgs) -> Result<i32, AppError> {
    let hours = args.older_than_hours.max(1) as u64;
    let spec = MetricsCleanup {
        name: Some("metrics cleanup".into()),
        older_than: Duration::from_secs(hours * 3600),
    };
    super::run_single_task(
        globals,
        "metrics cleanup",
        TaskSpec::MetricsCleanup(spec),
        args.dryrun,
    )
}
