//! The job-file model: the serde types job files deserialise into, and the source of the
//! JSON Schema (`schemas/job.schema.json` is generated from the doc comments here).
//!
//! Every task kind is one variant of [`TaskSpec`], tagged by `kind`, with its parameters in
//! a struct named after it; `kind: audit_rotate` ↔ [`AuditRotate`] ↔ `src/tasks/audit_rotate.rs`.
//! The structs of the first kinds live here; newer kinds keep theirs in their task file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::duration::Duration;
pub use super::job_task::JobTask;

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
    /// When `pi-manage schedule` runs this plan's tasks: a 5-field cron expression
    /// (`minute hour day-of-month month day-of-week`, e.g. `30 2 * * *`) or one of
    /// `@hourly`, `@daily`, `@weekly`, `@monthly`. A task with a `schedule` of its own runs on
    /// that one instead; when every task has its own, this may be left out. Ignored by
    /// `pi-manage run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The IANA time zone the schedules are read in (e.g. `Europe/Berlin`). Default: the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The schedules (the job's and the tasks') have a leading seconds field (6 fields:
    /// `*/10 * * * * *`). Off by default, so a 6-field line copied from another tool is an
    /// error rather than a surprise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub schedule_seconds: bool,
    /// After downtime: `once` (default) runs the most recent missed slot once, if it is not
    /// older than `max_lateness`; `skip` runs nothing until the next slot. Skipped slots are
    /// logged either way.
    #[serde(default, skip_serializing_if = "CatchUp::is_default")]
    pub catch_up: CatchUp,
    /// A slot later than this is not run any more (catch-up, retries, takeover). Default 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lateness: Option<Duration>,
    /// Stop a scheduled run that takes longer than this (after its current chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Compute and report what every task would do, and change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dryrun: bool,
    /// The tasks, run in this order. A failing task stops the plan. A task may carry its own
    /// `schedule`; a scheduled run runs the tasks due at its time.
    #[schemars(length(min = 1))]
    pub tasks: Vec<JobTask>,
}

/// What the scheduler does with slots missed while no node was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run nothing for the missed slots; wait for the next one.
    Skip,
    /// Run the most recent missed slot once, if it is not older than `max_lateness` (the default).
    #[default]
    Once,
}

impl CatchUp {
    fn is_default(&self) -> bool {
        *self == CatchUp::Once
    }
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

/// One maintenance task, selected by `kind` (generated from the list in
/// `src/tasks/registry.rs`).
pub use crate::tasks::TaskSpec;

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

/// Delete expired challenges from the `challenge` table (as `pi-manage config challenge
/// cleanup`), or with `older_than` those created longer ago.
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

/// Ensure the encryption key file exists (as `pi-manage setup create_enckey`): created with
/// 96 random bytes, exclusively and with mode 0400, only if there is none. An existing file is
/// never touched; it is checked to be a valid plain or passphrase-encrypted key.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Enckey {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// The key file. Default: `PI_ENCFILE` from pi.cfg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// Ensure the audit signing keys exist (as `pi-manage setup create_audit_keys`): an RSA key
/// pair in privacyIDEA's PEM forms, the private key with mode 0400. Existing keys are kept; a
/// missing public key is derived from an existing private key.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditKeys {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// RSA key size in bits for a new key pair.
    #[serde(default = "default_keysize")]
    #[schemars(range(min = 2048, max = 8192))]
    pub keysize: usize,
    /// The private key file. Default: `PI_AUDIT_KEY_PRIVATE` from pi.cfg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PathBuf>,
    /// The public key file. Default: `PI_AUDIT_KEY_PUBLIC` from pi.cfg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PathBuf>,
}

fn default_keysize() -> usize {
    2048
}

impl Default for AuditKeys {
    fn default() -> Self {
        AuditKeys {
            name: None,
            keysize: default_keysize(),
            private_key: None,
            public_key: None,
        }
    }
}

/// Whether something should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// It must exist: created (or updated) when it does not (the default).
    #[default]
    Present,
    /// It must not exist: deleted when it does.
    Absent,
}

/// Ensure a privacyIDEA administrator (table `admin`) exists — or, with `state: absent`, does
/// not. The password is read from a file or an environment variable, never written in the
/// job file; it is hashed as privacyIDEA does (argon2id over `PI_PEPPER` + password).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// The administrator's login name.
    #[schemars(length(min = 1, max = 120))]
    pub username: String,
    /// `present` (default) or `absent`.
    #[serde(default, skip_serializing_if = "is_present")]
    pub state: Presence,
    /// The email address to set. Left as it is when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A file whose content (without a trailing newline) is the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Also set the password of an existing administrator when it differs (default: only
    /// new administrators get the password).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub update_password: bool,
}

fn is_present(p: &Presence) -> bool {
    *p == Presence::Present
}

/// The role of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiTokenRole {
    /// An administrator's token, for privacyIDEA's admin API (the default).
    #[default]
    Admin,
    /// A token for the `/validate` endpoints only.
    Validate,
}

/// Keep an API token (as `pi-manage api createtoken`: HS256 over `SECRET_KEY`) in a file
/// with mode 0600. The file is rewritten only when it is missing, does not verify, is for
/// another user/realm/role, or expires within `renew_before`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// The user name in the token (for admin tokens, an existing administrator).
    #[schemars(length(min = 1))]
    pub username: String,
    /// The realm in the token.
    #[serde(default = "default_api_realm")]
    pub realm: String,
    /// `admin` (default) or `validate`.
    #[serde(default)]
    pub role: ApiTokenRole,
    /// How long a new token is valid.
    #[serde(default = "default_validity")]
    pub validity: Duration,
    /// Renew the token when it expires within this time.
    #[serde(default = "default_renew_before")]
    pub renew_before: Duration,
    /// The file the token is kept in (relative to the job file).
    pub file: PathBuf,
}

fn default_api_realm() -> String {
    "API".to_string()
}
fn default_validity() -> Duration {
    Duration::from_days(365)
}
fn default_renew_before() -> Duration {
    Duration::from_days(30)
}

/// Verify the signature of every audit entry (or of those newer than `since`) with
/// `PI_AUDIT_KEY_PUBLIC`, and fail when any does not verify — run it before `audit_rotate`
/// to check the evidence before it is deleted.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditVerify {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Only entries whose `date` is newer than this (local time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Duration>,
    /// The public key file. Default: `PI_AUDIT_KEY_PUBLIC` from pi.cfg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PathBuf>,
    /// Accept entries without a signature (installations with `PI_AUDIT_NO_SIGN`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unsigned: bool,
}
