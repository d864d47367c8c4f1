//! `pi-manage config challenge cleanup`: privacyIDEA's flags, built into one
//! `challenge_cleanup` task (`--age` is in minutes there).

use crate::cli::ChallengeCleanupArgs;
use crate::commands::context::{AppError, Globals};
use crate::job::model::{ChallengeCleanup, Duration, TaskSpec};

pub fn cleanup(globals: &Globals, args: &ChallengeCleanupArgs) -> Result<i32, AppError> {
    let older_than = args
        .age
        .map(|m| {
            Duration::try_from_minutes(m)
                .map_err(|e| AppError::Usage(format!("--age {m} (minutes): {e}")))
        })
        .transpose()?;
    let spec = ChallengeCleanup {
        name: Some("challenge cleanup".into()),
        older_than,
        chunksize: args.chunksize,
    };
    super::run_single_task(
        globals,
        "challenge cleanup",
        TaskSpec::ChallengeCleanup(spec),
        args.dryrun,
    )
}
