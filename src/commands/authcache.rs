//! `pi-manage config authcache cleanup [-m MINUTES]` (and the hidden old spelling
//! `pi-manage authcache cleanup`), built into one `authcache_cleanup` task. Without `-m` the
//! task derives the age from the active `auth_cache` policies.

use crate::app::{AppError, Globals};
use crate::cli::AuthcacheCleanupArgs;
use crate::job::model::{Duration, TaskSpec};
use crate::tasks::authcache_cleanup::AuthcacheCleanup;

pub fn cleanup(globals: &Globals, args: &AuthcacheCleanupArgs) -> Result<i32, AppError> {
    let spec = AuthcacheCleanup {
        name: Some("authcache cleanup".into()),
        unused_for: args
            .minutes
            .map(|m| Duration::from_minutes(m.max(0) as u64)),
    };
    super::run_single_task(
        globals,
        "authcache cleanup",
        TaskSpec::AuthcacheCleanup(spec),
        false,
    )
}
