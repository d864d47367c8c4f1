//! `pi-manage usercache cleanup [-n/--noaction]`: privacyIDEA's
//! `privacyidea-usercache-cleanup` (without its banner), built into one `usercache_cleanup`
//! task; `--noaction` is its dry run.

use crate::cli::UsercacheCleanupArgs;
use crate::commands::context::{AppError, Globals};
use crate::job::model::TaskSpec;
use crate::tasks::usercache_cleanup::UsercacheCleanup;

pub fn cleanup(globals: &Globals, args: &UsercacheCleanupArgs) -> Result<i32, AppError> {
    let spec = UsercacheCleanup {
        name: Some("usercache cleanup".into()),
    };
    super::run_single_task(
        globals,
        "usercache cleanup",
        TaskSpec::UsercacheCleanup(spec),
        args.noaction,
    )
}
