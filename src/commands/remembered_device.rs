//! `pi-manage config remembered_device cleanup [--chunksize N] [--dryrun]`, built into one
//! `remembered_device_cleanup` task.

use crate::cli::RememberedDeviceCleanupArgs;
use crate::commands::context::{AppError, Globals};
use crate::job::model::TaskSpec;
use crate::tasks::remembered_device_cleanup::RememberedDeviceCleanup;

pub fn cleanup(globals: &Globals, args: &RememberedDeviceCleanupArgs) -> Result<i32, AppError> {
    let spec = RememberedDeviceCleanup {
        name: Some("remembered_device cleanup".into()),
        chunksize: args.chunksize,
    };
    super::run_single_task(
        globals,
        "remembered_device cleanup",
        TaskSpec::RememberedDeviceCleanup(spec),
        args.dryrun,
    )
}
