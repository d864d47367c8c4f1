//! `kind: audit_dump`: `pi-manage audit dump` into a dump directory — privacyIDEA's CSV in a
//! new file named with the local date and time (`pidea-audit-YYYYmmdd-HHMMSS.csv[.gz|.xz]`),
//! written atomically with mode 0600, then older dumps beyond `keep` removed (the backup
//! retention's `keep_last`). A dry run reports the exact number of entries and the file it
//! would write, and what it would remove.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::NaiveDateTime;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kind::{KindSpec, Task};
use super::{TaskContext, TaskError, TaskOutcome, TaskSite, TaskStatus};
use crate::audit_dump::output::{self, Commit, Compression};
use crate::audit_dump::{self as dump, DumpError, DumpOptions, ROUND_ROWS};
use crate::backup::retention::{self, Policy};
use crate::backup::staged;
use crate::crypto::audit_sign::AuditVerifier;
use crate::job::diagnostic::Diagnostic;
use crate::job::model::Duration;

pub const KIND: &str = "audit_dump";

/// Dump the audit log as `pi-manage audit dump` does (privacyIDEA's CSV with the signature
/// and missing-line checks) into a new file in `directory`, named with the date, written
/// atomically with mode 0600; then remove older dumps beyond `keep`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditDump {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// The directory the dumps are written to (relative to the job file; created with mode
    /// 0700 when missing). Files are named `pidea-audit-YYYYmmdd-HHMMSS.csv[.gz|.xz]`.
    pub directory: PathBuf,
    /// Only the entries of this last period (privacyIDEA's `--timelimit`), e.g. `1d`, `12h`.
    /// Default: every entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timelimit: Option<Duration>,
    /// `none` (default), `gzip` or `xz`.
    #[serde(default, skip_serializing_if = "DumpCompression::is_none")]
    pub compress: DumpCompression,
    /// Keep this many of the newest dumps in the directory, the new one included, and remove
    /// older ones. Only files named like this task's dumps are considered. Default: keep all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep: Option<u32>,
    /// The public key the signatures are checked with. Default: `PI_AUDIT_KEY_PUBLIC` from
    /// pi.cfg (not needed with `PI_AUDIT_NO_SIGN`, where every `sig_check` is `FAIL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PathBuf>,
}

/// How a dump file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DumpCompression {
    /// Plain CSV (the default).
    #[default]
    None,
    /// gzip (`.gz`).
    Gzip,
    /// xz (`.xz`).
    Xz,
}

impl DumpCompression {
    fn is_none(&self) -> bool {
        *self == DumpCompression::None
    }
}

#[derive(Debug)]
pub struct AuditDumpTask {
    pub name: String,
    pub directory: PathBuf,
    pub timelimit: Option<Duration>,
    pub compression: Compression,
    pub keep: Option<u32>,
    pub public_key: Option<PathBuf>,
}

fn name_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^pidea-audit-(\d{8}-\d{6})(?:-([1-9]\d{0,3}))?\.csv(?:\.gz|\.xz)?$")
            .expect("static regex")
    })
}

/// The file name for a dump started at `local`; `-N` when that second already has one.
pub fn dump_file_name(local: &NaiveDateTime, compression: Compression, n: u32) -> String {
    let stamp = local.format("%Y%m%d-%H%M%S");
    let n = if n == 0 {
        String::new()
    } else {
        format!("-{n}")
    };
    format!("pidea-audit-{stamp}{n}.csv{}", compression.suffix())
}

/// The time a dump file name records; `None` for any other file.
pub fn parse_dump_file_name(name: &str) -> Option<NaiveDateTime> {
    let c = name_regex().captures(name)?;
    NaiveDateTime::parse_from_str(&c[1], "%Y%m%d-%H%M%S").ok()
}

/// The regular files in `dir` named like dumps (an absent directory has none).
fn list_dumps(dir: &Path) -> Result<Vec<retention::Archive>, TaskError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TaskError::Io(format!("cannot list {}: {e}", dir.display()))),
    };
    let mut v = Vec::new();
    for e in entries.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let Some(created) = parse_dump_file_name(&name) {
            if e.file_type().is_ok_and(|t| t.is_file()) {
                v.push(retention::Archive { name, created });
            }
        }
    }
    Ok(v)
}

impl From<DumpError> for TaskError {
    fn from(e: DumpError) -> Self {
        match e {
            DumpError::Db(d) => TaskError::Db(d),
            DumpError::Write(w) => TaskError::Io(w.to_string()),
            DumpError::NoTable(_) => TaskError::Database(e.to_string()),
        }
    }
}

impl KindSpec for AuditDump {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Task> {
        if self.directory.as_os_str().is_empty() {
            diags.push(site.error("/directory", "directory must not be empty"));
            return None;
        }
        if self.keep == Some(0) {
            diags.push(site.error("/keep", "keep must be at least 1 (the new dump)"));
            return None;
        }
        Some(Task::new(AuditDumpTask {
            name,
            directory: site.resolve(&self.directory),
            timelimit: self.timelimit,
            compression: match self.compress {
                DumpCompression::None => Compression::None,
                DumpCompression::Gzip => Compression::Gzip,
                DumpCompression::Xz => Compression::Xz,
            },
            keep: self.keep,
            public_key: self.public_key.as_deref().map(|p| site.resolve(p)),
        }))
    }
}

super::task_kind!(AuditDumpTask);

impl AuditDumpTask {
    fn verifier(&self, ctx: &TaskContext<'_>) -> Result<Option<AuditVerifier>, TaskError> {
        let path = match (&self.public_key, ctx.settings.audit_no_sign) {
            (Some(p), _) => p.clone(),
            (None, true) => return Ok(None),
            (None, false) => ctx.settings.audit_key_public.clone().ok_or_else(|| {
                TaskError::Refused(
                    "pi.cfg sets no PI_AUDIT_KEY_PUBLIC, and the task names no public key".into(),
                )
            })?,
        };
        let pem =
            crate::input_file::read_text(&path, crate::input_file::MAX_SECRET).map_err(|e| {
                TaskError::Io(format!(
                    "cannot read the public audit key {}: {e}",
                    path.display()
                ))
            })?;
        Ok(Some(AuditVerifier::from_public_pem(&pem)?))
    }

    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let verifier = self.verifier(ctx)?;
        let now = ctx.clock.now_local();
        // privacyIDEA's `if timelimit:`: a zero period filters nothing.
        let since = self
            .timelimit
            .filter(|t| !t.is_zero())
            .map(|t| t.before(now));
        let existing = list_dumps(&self.directory)?;
        let file_name = (0..10_000)
            .map(|n| dump_file_name(&now, self.compression, n))
            .find(|n| {
                // One dump per second and number, whatever its compression.
                let base = n.trim_end_matches(self.compression.suffix());
                [Compression::None, Compression::Gzip, Compression::Xz]
                    .iter()
                    .all(|c| {
                        !self
                            .directory
                            .join(format!("{base}{}", c.suffix()))
                            .exists()
                    })
            })
            .ok_or_else(|| TaskError::Refused("too many dumps in the same second".into()))?;
        let path = self.directory.join(&file_name);
        out.details
            .insert("file".into(), path.display().to_string().into());
        let conn = ctx.databases.audit()?;
        out.database = Some(conn.target());
        if let Some(s) = since {
            out.cutoff = Some(format!("date >= {}", crate::pytext::datetime_str(&s)));
        }
        if ctx.dry_run {
            let n = dump::count(conn, since)?;
            out.matched = Some(n);
            out.details.insert("entries".into(), n.into());
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!("Would dump {n} audit entries to {}.", path.display()),
            );
            return self.prune(ctx, out, existing, &file_name);
        }
        if !self.directory.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.directory)
                .map_err(|e| {
                    TaskError::Io(format!("cannot create {}: {e}", self.directory.display()))
                })?;
        }
        let opts = DumpOptions {
            since,
            verifier,
            round_rows: ROUND_ROWS,
        };
        let interrupt = ctx.interrupt;
        let written = output::write_file(&path, self.compression, Commit::New, |w| {
            dump::dump(conn, &opts, interrupt, w)
        })?;
        let s = &written.stats;
        out.details.insert("entries".into(), s.entries.into());
        out.details
            .insert("signature_failed".into(), s.signature_failed.into());
        out.details
            .insert("missing_line_failed".into(), s.missing_line_failed.into());
        if let Some(sig) = s.interrupted {
            out.status = TaskStatus::Interrupted;
            out.signal = Some(sig);
            out.details.remove("file");
            out.say(ctx.output, "Interrupted: no dump file was written.".into());
            return Ok(());
        }
        out.say(
            ctx.output,
            format!(
                "Dumped {} audit entries to {} ({} failed the signature check, {} the missing-line check).",
                s.entries,
                path.display(),
                s.signature_failed,
                s.missing_line_failed
            ),
        );
        let mut existing = existing;
        existing.push(retention::Archive {
            name: file_name.clone(),
            created: now,
        });
        self.prune(ctx, out, existing, &file_name)
    }

    /// Remove the dumps beyond `keep` (newest first by the time in their names; the new one
    /// is always kept).
    fn prune(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
        mut dumps: Vec<retention::Archive>,
        made: &str,
    ) -> Result<(), TaskError> {
        let Some(keep) = self.keep else {
            return Ok(());
        };
        if !dumps.iter().any(|a| a.name == made) {
            if let Some(created) = parse_dump_file_name(made) {
                dumps.push(retention::Archive {
                    name: made.to_string(),
                    created,
                });
            }
        }
        let policy = Policy {
            keep_last: Some(keep),
            ..Policy::default()
        };
        let mut removed = Vec::new();
        for dec in retention::decide(&dumps, ctx.clock.now_local(), &policy, Some(made)) {
            if dec.keep {
                continue;
            }
            if ctx.dry_run {
                out.say(ctx.output, format!("Would remove {}", dec.name));
            } else {
                let p = self.directory.join(&dec.name);
                // Checked again right before removing: only a regular file of that name.
                match fs::symlink_metadata(&p) {
                    Ok(m) if m.file_type().is_file() => {}
                    _ => continue,
                }
                fs::remove_file(&p)
                    .map_err(|e| TaskError::Io(format!("cannot remove {}: {e}", p.display())))?;
                out.say(ctx.output, format!("Removed {}", dec.name));
            }
            removed.push(dec.name);
        }
        if !ctx.dry_run && !removed.is_empty() {
            staged::sync_dir(&self.directory);
        }
        out.details.insert("removed".into(), removed.into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        let t = crate::db::Value::Text("2026-11-22 12:30:05".into())
            .as_datetime()
            .unwrap();
        let n = dump_file_name(&t, Compression::Xz, 0);
        assert_eq!(n, "pidea-audit-20261122-123005.csv.xz");
        assert_eq!(parse_dump_file_name(&n), Some(t));
        assert_eq!(
            dump_file_name(&t, Compression::None, 2),
            "pidea-audit-20261122-123005-2.csv"
        );
        assert_eq!(
            parse_dump_file_name("pidea-audit-20261122-123005-2.csv.gz"),
            Some(t)
        );
        for other in [
            "pidea-audit-20261122-123005.csv.bz2",
            "x.csv",
            "pidea-audit-2026.csv",
        ] {
            assert_eq!(parse_dump_file_name(other), None, "{other}");
        }
    }
}
