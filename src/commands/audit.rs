//! `pi-manage audit rotate` (and the hidden `rotate_audit`): privacyIDEA's flags, built into
//! one `audit_rotate` task. Mode precedence as privacyIDEA: `--config`, then `--age`, then
//! the watermarks.

use crate::app::{AppError, Globals};
use crate::cli::{AuditRotateArgs, AuditVerifyArgs};
use crate::job::model::{AuditRotate, Duration, TaskSpec, Watermark};
use crate::tasks::audit_verify::AuditVerifyTask;
use crate::tasks::Task;

pub fn rotate(globals: &Globals, args: &AuditRotateArgs) -> Result<i32, AppError> {
    let mut spec = AuditRotate {
        name: Some("audit rotate".into()),
        chunksize: args.chunksize,
        ..Default::default()
    };
    if let Some(rules) = &args.config {
        spec.rules_file = Some(rules.clone());
    } else if args.age > 0 {
        spec.older_than = Some(Duration::from_days(args.age));
    } else {
        spec.watermark = Some(Watermark {
            high: args.highwatermark,
            low: args.lowwatermark,
        });
    }
    super::run_single_task(
        globals,
        "audit rotate",
        TaskSpec::AuditRotate(spec),
        args.dryrun,
    )
}

/// `audit verify [--since DURATION]`: check every entry's signature.
pub fn verify(globals: &Globals, args: &AuditVerifyArgs) -> Result<i32, AppError> {
    let since = match &args.since {
        Some(text) => {
            Some(Duration::parse(text).map_err(|e| AppError::Usage(format!("--since: {e}")))?)
        }
        None => None,
    };
    let task = Task::new(AuditVerifyTask {
        name: "audit verify".into(),
        since,
        public_key: args.public_key.clone(),
        allow_unsigned: args.allow_unsigned,
    });
    super::run_task(globals, "audit verify", task, false)
}
