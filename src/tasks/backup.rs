//! `kind: backup` / `pi-manage backup create`: one archive of the database and configuration
//! (see [`crate::backup::create`]), then — only when that backup succeeded — the retention
//! rule over the backup directory (see [`crate::backup::retention`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::TimeDelta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{TaskContext, TaskError, TaskFailure, TaskOutcome, TaskOutput, TaskSite, TaskStatus};
use crate::archive::Format;
use crate::backup::create::{self, CreateEnv, CreateOptions};
use crate::backup::retention::{self, Policy};
use crate::backup::{self, BackupError, ByteProgress, ErrorKind, Report};
use crate::db::{DbError, DbErrorKind, OpenOptions};
use crate::job::diagnostic::Diagnostic;
use crate::job::model::Duration;

/// The `kind` string of job files.
pub const KIND: &str = "backup";

/// Back up the installation (as `pi-manage backup create`): a consistent dump of the database
/// and the configuration directory in one archive with a manifest of SHA-256 checksums,
/// written atomically with mode 0600; then, if the backup succeeded, prune old archives by
/// `retention`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Where archives are written (created if missing). Default: `/var/lib/privacyidea/backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<PathBuf>,
    /// The configuration directory to archive (must contain pi.cfg). Default: the directory of
    /// the pi.cfg in use (`/etc/privacyidea` on a standard installation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<PathBuf>,
    /// A FreeRADIUS configuration directory to archive as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_dir: Option<PathBuf>,
    /// Include the encryption key (`PI_ENCFILE`, and passphrase-encrypted copies of it). Without
    /// it, an archive alone cannot decrypt token seeds: keep the key somewhere else, safely.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_enckey: bool,
    /// `tar.zst` (default: pi-manage's archive), `tar.xz` (pi-manage's archive before zstd:
    /// slower, no smaller) or `tgz` (an archive privacyIDEA's own `pi-manage backup restore`
    /// reads).
    #[serde(default, skip_serializing_if = "is_default_format")]
    pub format: ArchiveFormat,
    /// Compression level: zstd 1–19 (default 1), xz 0–9 (default 0), gzip 1–9 (default 9).
    /// The defaults are the fastest that are no larger on audit signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 19))]
    pub compression_level: Option<u32>,
    /// Which archives in `directory` to keep after a successful backup. Only files named like
    /// pi-manage's or privacyIDEA's archives are considered; the new backup is always kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
}

/// The archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
pub enum ArchiveFormat {
    /// pi-manage's archive: tar + zstd, with a manifest of checksums.
    #[default]
    #[serde(rename = "tar.zst")]
    TarZst,
    /// pi-manage's archive before zstd: tar + xz, with a manifest of checksums.
    #[serde(rename = "tar.xz")]
    TarXz,
    /// privacyIDEA's archive format (tar + gzip), which its own `backup restore` reads.
    #[serde(rename = "tgz")]
    Tgz,
}

fn is_default_format(f: &ArchiveFormat) -> bool {
    *f == ArchiveFormat::TarZst
}

impl From<ArchiveFormat> for Format {
    fn from(f: ArchiveFormat) -> Format {
        match f {
            ArchiveFormat::TarZst => Format::TarZst,
            ArchiveFormat::TarXz => Format::TarXz,
            ArchiveFormat::Tgz => Format::Tgz,
        }
    }
}

/// Grandfather-father-son retention by archive creation time (local time, from the archive
/// name). An archive is kept when any `keep_*` rule keeps it; `max_age` removes older ones
/// regardless.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep the newest N archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_last: Option<u32>,
    /// Keep the newest archive of each of the newest N days that have archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_daily: Option<u32>,
    /// Keep the newest archive of each of the newest N ISO weeks that have archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_weekly: Option<u32>,
    /// Keep the newest archive of each of the newest N months that have archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_monthly: Option<u32>,
    /// Remove archives older than this even when a `keep_*` rule would keep them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
}

impl Retention {
    pub fn policy(&self) -> Policy {
        Policy {
            keep_last: self.keep_last,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            max_age: self.max_age.map(|d| TimeDelta::seconds(d.as_secs() as i64)),
        }
    }
}

/// A prepared backup task.
#[derive(Debug)]
pub struct BackupTask {
    pub name: String,
    pub directory: PathBuf,
    /// `None`: the directory of the pi.cfg in use.
    pub config_dir: Option<PathBuf>,
    pub radius_dir: Option<PathBuf>,
    pub include_enckey: bool,
    pub format: Format,
    pub level: Option<u32>,
    pub retention: Option<Policy>,
}

impl BackupTask {
    /// Check a job file's (or the command line's) spec.
    pub fn prepare(
        name: String,
        s: &Backup,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<BackupTask> {
        let before = diags.len();
        for (field, dir) in [
            ("/config_dir", &s.config_dir),
            ("/radius_dir", &s.radius_dir),
        ] {
            if let Some(d) = dir {
                let p = site.resolve(d);
                if !p.is_dir() {
                    diags.push(site.error(field, format!("directory not found: {}", p.display())));
                }
            }
        }
        if let Some(r) = &s.retention {
            if r.policy().is_empty() {
                diags.push(
                    site.error("/retention", "retention names no rule")
                        .with_hint("give at least one of keep_last, keep_daily, keep_weekly, keep_monthly, max_age"),
                );
            }
        }
        if let Some(l) = s.compression_level {
            let (low, high, what) = match s.format {
                ArchiveFormat::TarZst => (1, 19, "zstd 1-19"),
                ArchiveFormat::TarXz => (0, 9, "xz 0-9"),
                ArchiveFormat::Tgz => (1, 9, "gzip 1-9"),
            };
            if !(low..=high).contains(&l) {
                diags.push(site.error(
                    "/compression_level",
                    format!("compression_level {l} is out of range ({what})"),
                ));
            }
        }
        if diags.len() > before {
            return None;
        }
        Some(BackupTask {
            name,
            directory: site.resolve(
                s.directory
                    .as_deref()
                    .unwrap_or(Path::new(backup::DEFAULT_DIRECTORY)),
            ),
            config_dir: s.config_dir.as_deref().map(|p| site.resolve(p)),
            radius_dir: s.radius_dir.as_deref().map(|p| site.resolve(p)),
            include_enckey: s.include_enckey,
            format: s.format.into(),
            level: s.compression_level,
            retention: s.retention.as_ref().map(Retention::policy),
        })
    }

    fn run_inner(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
    ) -> Result<(), BackupError> {
        let config_dir = self.config_dir.clone().unwrap_or_else(|| {
            ctx.settings
                .picfg_path
                .as_deref()
                .and_then(Path::parent)
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(backup::DEFAULT_CONFIG_DIR))
        });
        let opts = CreateOptions {
            directory: self.directory.clone(),
            config_dir,
            radius_dir: self.radius_dir.clone(),
            include_enckey: self.include_enckey,
            format: self.format,
            level: self.level,
        };
        let env = CreateEnv {
            url: &ctx.settings.database,
            encfile: ctx.settings.encfile.as_deref(),
            open: OpenOptions::default(),
            clock: ctx.clock,
            interrupt: ctx.interrupt,
            dry_run: ctx.dry_run,
        };
        let created = {
            let mut report = TaskReport {
                out: &mut *out,
                output: &mut *ctx.output,
            };
            create::create(&opts, &env, &mut report)?
        };
        let m = &created.manifest;
        let d = &mut out.details;
        d.insert(
            "archive".into(),
            created.archive.display().to_string().into(),
        );
        d.insert("size".into(), created.size.into());
        d.insert("members".into(), m.members.len().into());
        d.insert("contains_enckey".into(), m.contains_enckey.into());
        d.insert("database_kind".into(), m.database.kind.clone().into());
        if let Some(r) = &m.database.alembic_revision {
            d.insert("alembic_revision".into(), r.clone().into());
        }
        d.insert("tables".into(), m.database.tables.len().into());
        d.insert(
            "rows".into(),
            m.database.tables.values().sum::<u64>().into(),
        );
        if !created.excluded.is_empty() {
            d.insert(
                "excluded".into(),
                created
                    .excluded
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        out.status = if ctx.dry_run {
            TaskStatus::DryRun
        } else {
            TaskStatus::Created
        };
        if let Some(policy) = &self.retention {
            self.prune(ctx, out, policy, &created.archive)?;
        }
        Ok(())
    }

    /// Apply the retention rule to the backup directory; `just_made` is never removed.
    fn prune(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
        policy: &Policy,
        just_made: &Path,
    ) -> Result<(), BackupError> {
        let dir = just_made.parent().unwrap_or(Path::new("."));
        let made = just_made
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut archives = list_archives(dir)?;
        if ctx.dry_run && !archives.iter().any(|a| a.name == made) {
            if let Some((created, _)) = backup::parse_archive_name(&made) {
                archives.push(retention::Archive {
                    name: made.clone(),
                    created,
                });
            }
        }
        let decisions = retention::decide(&archives, ctx.clock.now_local(), policy, Some(&made));
        let (mut kept, mut removed) = (Vec::new(), Vec::new());
        for dec in &decisions {
            let why = dec.reasons.join(", ");
            if dec.keep {
                out.say(
                    ctx.output,
                    format!(
                        "{} {} ({why})",
                        if ctx.dry_run { "Would keep" } else { "Keep" },
                        dec.name
                    ),
                );
                kept.push(dec.name.clone());
                continue;
            }
            if ctx.dry_run {
                out.say(ctx.output, format!("Would remove {} ({why})", dec.name));
            } else {
                let p = dir.join(&dec.name);
                // Checked again right before removing: only a regular file of that name.
                match fs::symlink_metadata(&p) {
                    Ok(m) if m.file_type().is_file() => {}
                    _ => continue,
                }
                fs::remove_file(&p).map_err(|e| {
                    BackupError::io(format!("retention: cannot remove {}", p.display()), e)
                })?;
                out.say(ctx.output, format!("Removed {} ({why})", dec.name));
            }
            removed.push(dec.name.clone());
        }
        if !ctx.dry_run && !removed.is_empty() {
            backup::staged::sync_dir(dir);
        }
        out.details.insert("kept".into(), kept.into());
        out.details.insert("removed".into(), removed.into());
        Ok(())
    }
}

impl super::TaskKind for BackupTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn run(&self, ctx: &mut TaskContext<'_>) -> Result<TaskOutcome, TaskFailure> {
        let started = Instant::now();
        let mut out = TaskOutcome::new(&self.name, KIND);
        out.database = Some(ctx.settings.database.redacted());
        let result = self.run_inner(ctx, &mut out);
        out.duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(()) => Ok(out),
            Err(e) => finish_with(out, e),
        }
    }
}

/// The regular files in `dir` named like pi-manage's or privacyIDEA's archives.
pub fn list_archives(dir: &Path) -> Result<Vec<retention::Archive>, BackupError> {
    let mut v = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| BackupError::io(dir.display(), e))?;
    for e in entries.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some((created, _)) = backup::parse_archive_name(&name) else {
            continue;
        };
        if e.file_type().is_ok_and(|t| t.is_file()) {
            v.push(retention::Archive { name, created });
        }
    }
    Ok(v)
}

/// A backup error as a task result: interrupted runs report `interrupted`, connection
/// problems keep exit code 3.
pub(crate) fn finish_with(
    mut out: TaskOutcome,
    e: BackupError,
) -> Result<TaskOutcome, TaskFailure> {
    match e.kind {
        ErrorKind::Interrupted(sig) => {
            out.status = TaskStatus::Interrupted;
            out.signal = Some(sig);
            out.error = Some(e.message);
            Ok(out)
        }
        ErrorKind::Connect => Err(TaskFailure::new(
            out,
            TaskError::Db(DbError::new(DbErrorKind::Connect, e.message)),
        )),
        ErrorKind::Invalid => Err(TaskFailure::new(out, TaskError::Refused(e.message))),
        ErrorKind::Failed => Err(TaskFailure::new(out, TaskError::Io(e.message))),
    }
}

/// A task's output as the backup module's [`Report`].
pub(crate) struct TaskReport<'a> {
    pub out: &'a mut TaskOutcome,
    pub output: &'a mut dyn TaskOutput,
}

impl Report for TaskReport<'_> {
    fn say(&mut self, line: String) {
        self.out.say(self.output, line);
    }
    fn progress(&mut self, label: &str, total: Option<u64>) -> Box<dyn ByteProgress> {
        self.output.byte_progress(label, total)
    }
}

impl super::KindSpec for Backup {
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
        BackupTask::prepare(name, self, site, diags).map(super::Task::new)
    }
}
