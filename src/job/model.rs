//! The job-file model: the serde types job files deserialise into, and the source of the
//! JSON Schema (`schemas/job.schema.json` is generated from the doc comments here).
//!
//! Every task kind is one variant of [`TaskSpec`], tagged by `kind`, with its parameters in
//! a struct named after it; `kind: audit_rotate` ↔ [`AuditRotate`] ↔ `src/tasks/audit_rotate.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::duration::Duration;

/// A pi-manage job file: a maintenance plan for one privacyIDEA installation, run once with
/// `pi-manage run` or on its `schedule` by `pi-manage schedule`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pi-manage job file")]
pub struct JobFile {
    /// Version of the job-file format. Always `1`.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Name of the plan, shown in reports and in the scheduler's history.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// What this plan is for, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which privacyIDEA installation to work on. Without it, the `pi.cfg` named by
    /// `--picfg`, `PRIVACYIDEA_CONFIGFILE` or `/etc/privacyidea/pi.cfg` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionSpec>,
    /// When `pi-manage schedule` runs this plan: a 5-field cron expression
    /// (`minute hour day-of-month month day-of-week`, e.g. `30 2 * * *`) or one of
    /// `@hourly`, `@daily`, `@weekly`, `@monthly`. Ignored by `pi-manage run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The IANA time zone the schedule is read in (e.g. `Europe/Berlin`). Default: the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Compute and report what every task would do, and change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dryrun: bool,
    /// The tasks, run in this order. A failing task stops the plan.
    #[schemars(length(min = 1))]
    pub tasks: Vec<TaskSpec>,
}

/// Where the privacyIDEA installation is: its `pi.cfg`, or database URLs given directly.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSpec {
    /// Path of the installation's `pi.cfg` (relative paths are relative to this job file).
    /// Its `SQLALCHEMY_DATABASE_URI`, `PI_AUDIT_SQL_URI`, `PI_ENCFILE`, … are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picfg: Option<PathBuf>,
    /// A SQLAlchemy database URL used instead of `SQLALCHEMY_DATABASE_URI`, e.g.
    /// `sqlite:////var/lib/privacyidea/privacyidea.sqlite` or
    /// `postgresql://pi@db.example/pi`. Prefer `picfg` to keep passwords out of job files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// A SQLAlchemy URL of a separate audit database, used instead of `PI_AUDIT_SQL_URI`.
    /// Defaults to the main database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_database: Option<String>,
}

/// One maintenance task, selected by `kind`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskSpec {
    /// Delete old entries from the audit log (`pidea_audit`), by watermarks, by age, or by rules.
    AuditRotate(AuditRotate),
    /// Delete expired challenges from the `challenge` table.
    ChallengeCleanup(ChallengeCleanup),
    /// Create privacyIDEA's tables in an empty database and stamp the schema revision.
    CreateTables(CreateTables),
}

impl TaskSpec {
    /// The `kind` string of this task.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskSpec::AuditRotate(_) => "audit_rotate",
            TaskSpec::ChallengeCleanup(_) => "challenge_cleanup",
            TaskSpec::CreateTables(_) => "create_tables",
        }
    }

    /// Every `kind` a job file may use.
    pub const KINDS: &'static [&'static str] =
        &["audit_rotate", "challenge_cleanup", "create_tables"];

    /// The name given in the file, if any.
    pub fn explicit_name(&self) -> Option<&str> {
        match self {
            TaskSpec::AuditRotate(t) => t.name.as_deref(),
            TaskSpec::ChallengeCleanup(t) => t.name.as_deref(),
            TaskSpec::CreateTables(t) => t.name.as_deref(),
        }
    }

    /// The task's name: the one given, else its kind.
    pub fn name(&self) -> &str {
        self.explicit_name().unwrap_or(self.kind())
    }
}

/// Audit-log rotation, as `pi-manage audit rotate`. Give at most one of `watermark`,
/// `older_than`, `rules` and `rules_file`; with none, the watermark defaults apply
/// (keep the newest 5000 entries once there are more than 10000).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRotate {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Watermark mode: when the log has more than `high` entries, delete all but the `low`
    /// newest (by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
    /// Age mode: delete entries whose `date` is older than this (compared in the server's
    /// local time, as privacyIDEA writes audit dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<Duration>,
    /// Rules mode: for each entry the first rule whose conditions all match decides; the
    /// entry is deleted when it is older than that rule's `older_than`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub rules: Option<Vec<AuditRule>>,
    /// Rules mode with privacyIDEA's own rules file (a YAML list of `rotate: DAYS` plus
    /// column regexes, as for `pi-manage audit rotate --config`). Relative to this job file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_file: Option<PathBuf>,
    /// Delete in chunks of this many rows, each committed on its own, so a long rotation
    /// never holds a long lock and an interrupted run can simply be repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub chunksize: Option<u64>,
}

/// The two watermarks of watermark mode.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// Rotate only when the log holds more than this many entries.
    #[serde(default = "default_high")]
    pub high: u64,
    /// How many of the newest entries to keep when rotating.
    #[serde(default = "default_low")]
    pub low: u64,
}

fn default_high() -> u64 {
    10_000
}
fn default_low() -> u64 {
    5_000
}

impl Default for Watermark {
    fn default() -> Self {
        Watermark {
            high: default_high(),
            low: default_low(),
        }
    }
}

/// One rotation rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRule {
    /// Entries this rule matches are deleted once they are older than this.
    pub older_than: Duration,
    /// Conditions, all of which must hold: audit column name → regular expression, searched
    /// anywhere in the column's text (use `^…$` to anchor). A NULL column reads as `None`.
    #[serde(rename = "match")]
    #[schemars(length(min = 1))]
    pub matches: BTreeMap<String, String>,
}

/// Challenge cleanup, as `pi-manage config challenge cleanup`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeCleanup {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Delete challenges created longer ago than this (by `timestamp`, UTC), expired or not.
    /// Without it, only expired challenges (`expiration` before now, UTC) are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<Duration>,
    /// Delete in chunks of this many rows, each committed on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub chunksize: Option<u64>,
}

/// Create privacyIDEA's schema in an empty database (as `pi-manage setup create_tables`).
/// On a database that already has privacyIDEA's tables it does nothing.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTables {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
}
