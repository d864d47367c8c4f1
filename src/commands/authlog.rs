//! `pi-manage authlog cleanup --age DAYS [--chunksize N] [--dryrun]`: privacyIDEA's flags,
//! built into one `authlog_cleanup` task. A negative age (which makes privacyIDEA delete the
//! whole log) is refused by the argument parser.

use crate::cli::AuthlogCleanupArgs;
use crate::commands::context::{AppError, Globals};
use crate::job::model::{Duration, TaskSpec};
use crate::tasks::authlog_cleanup::AuthlogCleanup;

pub fn cleanup(globals: &Globals, args: &AuthlogCleanupArgs) -> Result<i32, AppError> {
    let older_than = Duration::try_from_days(args.age.unsigned_abs())
        .map_err(|e| AppError::Usage(format!("--age {}: {e}", args.age)))?;
    let spec = AuthlogCleanup {
        name: Some("authlog cleanup".into()),
        older_than,
        chunksize: args.chunksize,
    };
    super::run_single_task(
        globals,
        "authlog cleanup",
        TaskSpec::AuthlogCleanup(spec),
        args.dryrun,
    )
}
