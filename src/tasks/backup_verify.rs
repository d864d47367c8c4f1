//! `kind: backup_verify` / `pi-manage backup verify FILE`: check an archive (the newest in a
//! backup directory, or a named one) without changing anything; see [`crate::backup::verify`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::{finish_with, list_archives, TaskReport};
use super::{TaskContext, TaskFailure, TaskOutcome, TaskSite, TaskStatus};
use crate::backup::{self, retention, verify, BackupError};
use crate::job::diagnostic::Diagnostic;

/// The `kind` string of job files.
pub const KIND: &str = "backup_verify";

/// Verify a backup archive: the manifest and every checksum, `pi.cfg` and the dump present,
/// and the dump readable. Give `file`, or `directory` to check its newest archive (default:
/// the newest in `/var/lib/privacyidea/backup`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupVerify {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// The archive to verify (relative to the job file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Verify the newest archive in this directory (by the time in its name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<PathBuf>,
}

/// Which archive to verify.
#[derive(Debug, Clone)]
pub enum Target {
    File(PathBuf),
    NewestIn(PathBuf),
}

#[derive(Debug)]
pub struct BackupVerifyTask {
    pub name: String,
    pub target: Target,
}

impl BackupVerifyTask {
    pub fn prepare(
        name: String,
        s: &BackupVerify,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<BackupVerifyTask> {
        let target = match (&s.file, &s.directory) {
            (Some(_), Some(_)) => {
                diags.push(site.error("/directory", "give either file or directory, not both"));
                return None;
            }
            (Some(f), None) => Target::File(site.resolve(f)),
            (None, Some(d)) => Target::NewestIn(site.resolve(d)),
            (None, None) => Target::NewestIn(PathBuf::from(backup::DEFAULT_DIRECTORY)),
        };
        Some(BackupVerifyTask { name, target })
    }

    fn run_inner(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
    ) -> Result<(), BackupError> {
        let file = match &self.target {
            Target::File(f) => f.clone(),
            Target::NewestIn(dir) => newest(dir)?,
        };
        out.details
            .insert("archive".into(), file.display().to_string().into());
        let verified = {
            let mut report = TaskReport {
                out: &mut *out,
                output: &mut *ctx.output,
            };
            verify::verify(&file, ctx.interrupt, &mut report)?
        };
        let d = &mut out.details;
        d.insert("format".into(), verified.format.extension().into());
        d.insert("members".into(), verified.members.into());
        d.insert("manifest".into(), verified.manifest.is_some().into());
        d.insert("dump".into(), verified.dump_member.clone().into());
        d.insert("database_kind".into(), verified.dump_kind.id().into());
        d.insert(
            "contains_enckey".into(),
            (!verified.key_members.is_empty()).into(),
        );
        out.status = TaskStatus::Done;
        Ok(())
    }
}

impl super::TaskKind for BackupVerifyTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn run(&self, ctx: &mut TaskContext<'_>) -> Result<TaskOutcome, TaskFailure> {
        let started = Instant::now();
        let mut out = TaskOutcome::new(&self.name, KIND);
        let result = self.run_inner(ctx, &mut out);
        out.duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(()) => Ok(out),
            Err(e) => finish_with(out, e),
        }
    }
}

/// The newest archive in `dir`, by the time its name records.
fn newest(dir: &Path) -> Result<PathBuf, BackupError> {
    let mut all = list_archives(dir)?;
    all.sort_by(|a, b| retention::newer_first(&a.created, &a.name, &b.created, &b.name));
    all.first()
        .map(|a| dir.join(&a.name))
        .ok_or_else(|| BackupError::invalid(format!("{} holds no backup archive", dir.display())))
}

impl super::KindSpec for BackupVerify {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &super::TaskSite<'_>,
        diags: &mut Vec<crate::job::diagnostic::Diagnostic>,
    ) -> Option<super::Task> {
        BackupVerifyTask::prepare(name, self, site, diags).map(super::Task::new)
    }
}
