//! `pi-manage config authcache cleanup [-m MINUTES]` (and the hidden old spelling
//! `pi-manage authcache cleanup`), built into one `authcache_cleanup` task. Without `-m` the
//! task derives the age from the active `auth_cache` policies.

use crate::cli::AuthcacheCleanupArgs;
use crate::commands::context::{AppError, Globals};
use crate::job::model::{Duration, TaskSpec};
use crate::tasks::authcache_cleanup::AuthcacheCleanup;

pub fn cleanup(globals: &Globals, args: &AuthcacheCleanupArgs) -> Result<i32, AppError> {
    let unused_for = args
        .minutes
        .map(|m| {
            Duration::try_from_minutes(m.unsigned_abs())
                .map_err(|e| AppError::Usage(format!("--minutes {m}: {e}")))
        })
        .transpose()?;
    let spec = AuthcacheCleanup {
        name: Some("authcache cleanup".into()),
        unused_for,
    };
    super::run_single_task(
        globals,
        "authcache cleanup",
        TaskSpec::AuthcacheCleanup(spec),
        false,
    )
}
