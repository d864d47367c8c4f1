//! Command-line types (clap derive) only: no logic, no I/O. `normalize_args` rewrites
//! privacyIDEA's two-letter short options (`-hw`, `-lw`), which clap cannot express.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The help heading of the options every command accepts, so each command's help lists its own
/// options apart from them.
pub const GLOBAL_OPTIONS: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "pi-manage",
    version,
    about = "Maintenance for privacyIDEA databases: declarative YAML plans and privacyIDEA's own pi-manage commands",
    after_help = "Exit codes: 0 ok, 1 a task failed, 2 invalid input or usage, 3 could not connect to a database, 4 dry run with pending changes, 130/143 interrupted.\nDocs: README.md and docs/ in the pi-manage repository."
)]
pub struct Cli {
    /// privacyIDEA's configuration file [default: $PRIVACYIDEA_CONFIGFILE, else /etc/privacyidea/pi.cfg]
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, value_name = "PATH")]
    pub picfg: Option<PathBuf>,
    /// Let this Python interpreter (e.g. privacyIDEA's venv python) execute pi.cfg, for files beyond the Python subset pi-manage reads itself
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, value_name = "PATH", env = "PIM_PICFG_PYTHON")]
    pub picfg_python: Option<PathBuf>,
    /// Print only errors.
    #[arg(short, long, global = true, help_heading = GLOBAL_OPTIONS)]
    pub quiet: bool,
    /// Report format: human-readable text, or one JSON document for machines.
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// File holding the passphrase of a passphrase-encrypted enckey (PI_ENCFILE).
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, value_name = "FILE")]
    pub enckey_passphrase_file: Option<PathBuf>,
    /// Environment variable holding the passphrase of a passphrase-encrypted enckey.
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, value_name = "VAR")]
    pub enckey_passphrase_env: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate job files, then run their tasks in order.
    Run(RunArgs),
    /// Check job files without touching any database.
    Validate(ValidateArgs),
    /// Print the JSON Schema of job files.
    Schema,
    /// Audit log commands.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// privacyIDEA configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Set up a privacyIDEA installation.
    #[command(subcommand)]
    Setup(SetupCommand),
    /// Manage privacyIDEA's database administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// API tokens.
    #[command(subcommand)]
    Api(ApiCommand),
    /// Run job files on their schedules, replacing cron; safe on several nodes at once.
    Schedule(ScheduleArgs),
    /// Show the run history recorded by `schedule` and `run`.
    History(HistoryArgs),
    /// The database schema's revision and completeness (privacyIDEA's `db` spellings).
    #[command(subcommand)]
    Db(DbCommand),
    /// Deprecated alias of `pi-manage audit rotate`.
    #[command(name = "rotate_audit", hide = true)]
    RotateAudit(AuditRotateArgs),
    /// Deprecated alias of `pi-manage setup create_tables`.
    #[command(name = "create_tables", alias = "createdb", hide = true)]
    CreateTables(CreateTablesArgs),
    /// Deprecated alias of `pi-manage setup drop_tables`.
    #[command(name = "drop_tables", alias = "dropdb", hide = true)]
    DropTables(DropTablesArgs),
    /// Deprecated alias of `pi-manage setup create_enckey`.
    #[command(name = "create_enckey", hide = true)]
    CreateEnckey(CreateEnckeyArgs),
    /// Deprecated alias of `pi-manage setup encrypt_enckey`.
    #[command(name = "encrypt_enckey", hide = true)]
    EncryptEnckey(EncryptEnckeyArgs),
    /// Deprecated alias of `pi-manage setup create_audit_keys`.
    #[command(name = "create_audit_keys", hide = true)]
    CreateAuditKeys(CreateAuditKeysArgs),
    /// Deprecated alias of `pi-manage config policy`.
    #[command(subcommand, hide = true)]
    Policy(PolicyCommand),
    /// Back up, verify and restore the database and configuration.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Manage authentication log data.
    #[command(subcommand)]
    Authlog(AuthlogCommand),
    /// Conditional access: expired IP blocks and user locks.
    #[command(subcommand, name = "conditionalaccess")]
    Conditionalaccess(ConditionalAccessCommand),
    /// The user cache (privacyidea-usercache-cleanup).
    #[command(subcommand)]
    Usercache(UsercacheCommand),
    /// Deprecated alias of `pi-manage config authcache`.
    #[command(subcommand, hide = true)]
    Authcache(AuthcacheCommand),
    /// privacyIDEA's periodic tasks (privacyidea-cron).
    #[command(subcommand)]
    Periodic(PeriodicCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page of pi-manage, or write one page per command into a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for, e.g. `pi-manage completions bash > /etc/bash_completion.d/pi-manage`.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write pi-manage.1 and one page per subcommand (pi-manage-audit-rotate.1, …) into DIR,
    /// created if missing, instead of printing the top page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PeriodicCommand {
    /// Show a list of available tasks that could be run.
    List,
    /// Execute all periodic tasks that are scheduled to run.
    #[command(name = "run_scheduled")]
    RunScheduled(PeriodicRunScheduledArgs),
    /// Manually run a periodic task. This does not check whether the task is active, or whether it should run on the given node at all.
    #[command(name = "run_manually")]
    RunManually(PeriodicRunManuallyArgs),
}

#[derive(Debug, Args)]
pub struct PeriodicRunScheduledArgs {
    /// Do not run any tasks, only show what would be done.
    #[arg(short = 'd', long)]
    pub dryrun: bool,
    /// Override the node name (read from privacyIDEA config by default).
    #[arg(short = 'n', long, value_name = "NODE")]
    pub node: Option<String>,
    /// Run in 'cron mode', i.e. do not write to stdout, but write errors to stderr.
    #[arg(short = 'c', long = "cron")]
    pub cron: bool,
}

#[derive(Debug, Args)]
pub struct PeriodicRunManuallyArgs {
    /// Override the node name (read from privacyIDEA config by default).
    #[arg(short = 'n', long, value_name = "NODE")]
    pub node: Option<String>,
    /// Run the specified task.
    #[arg(short = 't', long, value_name = "NAME", required = true)]
    pub task: String,
}

#[derive(Debug, Subcommand)]
pub enum AuthlogCommand {
    /// Clean up old authentication log entries.
    Cleanup(AuthlogCleanupArgs),
}

#[derive(Debug, Args)]
pub struct AuthlogCleanupArgs {
    /// Delete authentication log entries older than this number of days.
    #[arg(long, value_name = "DAYS", required = true, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(0..))]
    pub age: i64,
    /// Delete entries in chunks of the given size to avoid deadlocks.
    #[arg(long, value_name = "INT", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunksize: Option<u64>,
    /// Do not actually delete, only show what would be done.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuthcacheCommand {
    /// Remove entries from the authcache (by default those no active auth_cache policy accepts any more).
    Cleanup(AuthcacheCleanupArgs),
}

#[derive(Debug, Args)]
pub struct AuthcacheCleanupArgs {
    /// Clean up authcache entries not used for this number of minutes. By default the entries
    /// are removed that no active auth_cache policy accepts any more.
    #[arg(short = 'm', long, value_name = "INT", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(0..))]
    pub minutes: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Delete metric rows older than the given number of hours.
    Cleanup(MetricsCleanupArgs),
}

#[derive(Debug, Args)]
pub struct MetricsCleanupArgs {
    /// Delete metric rows whose 5-minute window started more than this many hours ago.
    #[arg(long, value_name = "INT", default_value_t = 24, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub older_than_hours: i64,
    /// Do not actually delete, only show what would be done.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Subcommand)]
pub enum RememberedDeviceCommand {
    /// Delete all expired remembered devices from the database.
    Cleanup(RememberedDeviceCleanupArgs),
}

#[derive(Debug, Args)]
pub struct RememberedDeviceCleanupArgs {
    /// Delete entries in chunks of the given size to avoid deadlocks.
    #[arg(long, value_name = "INT", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunksize: Option<u64>,
    /// Do not actually delete, only show what would be done.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConditionalAccessCommand {
    /// List the currently blocked IPs.
    #[command(name = "list-blocked-ips")]
    ListBlockedIps,
    /// Remove only stale IP blocks (expired or lifted); keep the ones still in force.
    #[command(name = "purge-expired-blocks")]
    PurgeExpiredBlocks,
    /// List the currently locked users.
    #[command(name = "list-locked-users")]
    ListLockedUsers,
    /// Remove only stale user locks (expired or unlocked); keep the ones still in force.
    #[command(name = "purge-expired-locks")]
    PurgeExpiredLocks,
}

#[derive(Debug, Subcommand)]
pub enum UsercacheCommand {
    /// Delete user-cache entries older than the UserCacheExpiration setting.
    Cleanup(UsercacheCleanupArgs),
}

#[derive(Debug, Args)]
pub struct UsercacheCleanupArgs {
    /// List the expired entries, delete nothing.
    #[arg(short = 'n', long)]
    pub noaction: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job files to run, in order.
    #[arg(required = true, value_name = "JOB.yaml")]
    pub jobs: Vec<PathBuf>,
    /// Compute and report what would be done; change nothing.
    /// Exits with 4 when policy changes are pending.
    #[arg(long, alias = "dryrun")]
    pub dry_run: bool,
    /// Run only the task with this name.
    #[arg(long, value_name = "NAME")]
    pub task: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Job files, or directories of them.
    #[arg(value_name = "PATH", default_value = "/etc/privacyidea/jobs/")]
    pub paths: Vec<PathBuf>,
    /// This node's name in the run ledger [default: the host name].
    #[arg(long)]
    pub node: Option<String>,
    /// Print each job's next fire times and exit.
    #[arg(long)]
    pub list: bool,
    /// How many fire times --list prints per job.
    #[arg(long, default_value_t = 5)]
    pub count: usize,
    /// Log format: human-readable text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub log_format: OutputFormat,
    /// How long a node's claim on a running job lasts without renewal.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub lease: String,
    /// How long running jobs get to finish their current chunk on SIGTERM/SIGINT.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub grace: String,
    /// How long run history is kept.
    #[arg(long, default_value = "90d", value_name = "DURATION")]
    pub history_retention: String,
    /// Serve Prometheus metrics at /metrics and a health check at /healthz on this address
    /// (for example 127.0.0.1:9464; port 0 picks a free port). Off unless given.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this job.
    #[arg(long)]
    pub job: Option<String>,
    /// At most this many runs, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Output format (same as the global --output).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Job files to check.
    #[arg(required = true, value_name = "JOB.yaml")]
    pub jobs: Vec<PathBuf>,
    /// Result format (same as the global --output).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Delete old audit entries, by watermarks (default), by age or by a rules file.
    Rotate(AuditRotateArgs),
    /// Check the signature of every audit entry with the public audit key.
    Verify(AuditVerifyArgs),
    /// Dump the audit log in csv format (privacyIDEA's format, no header).
    Dump(AuditDumpArgs),
}

#[derive(Debug, Args)]
pub struct AuditDumpArgs {
    /// Only the entries of the last DELTA, e.g. '5d' or '3h' (units s, m, h, d, y) [default: all].
    #[arg(short = 't', long, value_name = "DELTA", allow_hyphen_values = true)]
    pub timelimit: Option<String>,
    /// Write the dump into this file (atomically, mode 0600) instead of stdout; '-' is stdout.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub filename: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Only entries newer than this (e.g. 30d, 12h).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// The public key [default: PI_AUDIT_KEY_PUBLIC from pi.cfg].
    #[arg(long, value_name = "PEM")]
    pub public_key: Option<PathBuf>,
    /// Accept entries without a signature (PI_AUDIT_NO_SIGN installations).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Threads that check signatures [default: 0, one per core].
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct AuditRotateArgs {
    /// Rotate when the audit log has more than this many entries (also -hw).
    #[arg(long, default_value_t = 10_000, value_name = "INT")]
    pub highwatermark: u64,
    /// Keep this many of the newest entries (also -lw).
    #[arg(long, default_value_t = 5_000, value_name = "INT")]
    pub lowwatermark: u64,
    /// Delete entries older than this many days instead of using the watermarks.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub age: i64,
    /// A privacyIDEA rules file (YAML list of `rotate: DAYS` plus column regexes); wins over --age.
    #[arg(long, value_name = "RULES.yaml")]
    pub config: Option<PathBuf>,
    /// Only report what would be deleted.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
    /// Delete in chunks of this many rows, each committed on its own.
    #[arg(long, value_name = "INT", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunksize: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Challenge commands.
    #[command(subcommand)]
    Challenge(ChallengeCommand),
    /// Manage policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Export the policies in privacyIDEA's format (JSON or YAML).
    #[command(alias = "exporter")]
    Export(ConfigExportArgs),
    /// Import policies from privacyIDEA's export format (JSON, YAML or a Python literal).
    #[command(alias = "importer")]
    Import(ConfigImportArgs),
    /// Manage authentication cache.
    #[command(subcommand)]
    Authcache(AuthcacheCommand),
    /// Manage the internal metrics.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Manage remembered devices.
    #[command(subcommand, name = "remembered_device")]
    RememberedDevice(RememberedDeviceCommand),
}

#[derive(Debug, Subcommand)]
pub enum ChallengeCommand {
    /// Delete expired challenges (or, with --age, challenges older than that).
    Cleanup(ChallengeCleanupArgs),
}

#[derive(Debug, Args)]
pub struct ChallengeCleanupArgs {
    /// Delete challenges created more than this many minutes ago, expired or not.
    #[arg(long, value_name = "MINUTES")]
    pub age: Option<u64>,
    /// Delete in chunks of this many rows, each committed on its own.
    #[arg(long, value_name = "INT", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunksize: Option<u64>,
    /// Only report what would be deleted.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the policies (active, name, scope), by priority.
    List,
    /// Enable the policy NAME.
    Enable(PolicyNameArgs),
    /// Disable the policy NAME.
    Disable(PolicyNameArgs),
    /// Delete the policy NAME (with its conditions and description).
    Delete(PolicyNameArgs),
    /// Create or update a policy. A Python dict in FILE (-f) takes precedence over NAME, SCOPE and ACTION.
    Create(PolicyCreateArgs),
}

#[derive(Debug, Args)]
pub struct PolicyNameArgs {
    /// The policy's name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PolicyCreateArgs {
    /// The policy's name; an existing policy of that name is updated.
    pub name: String,
    /// The policy's scope: admin, user, authentication, authorization, enrollment, webui, …
    pub scope: String,
    /// privacyIDEA's action string, e.g. 'enable, otppin=userstore'.
    pub action: String,
    /// A file with a Python dict of policy fields (name, scope, action, realm, …).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormatArg {
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ConfigExportArgs {
    /// Write to FILE instead of standard output ('-' is standard output). privacyIDEA's
    /// spelling --output works after `config export` too.
    #[arg(short = 'o', long = "outfile", value_name = "FILE")]
    pub outfile: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = ConfigFormatArg::Json)]
    pub format: ConfigFormatArg,
    /// Configuration types to export (pi-manage exports 'policy').
    #[arg(short = 't', long = "types", value_name = "TYPE", num_args = 1.., action = clap::ArgAction::Append)]
    pub types: Vec<String>,
    /// Export only the policy of this name.
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,
    /// Accepted for privacyIDEA compatibility; policies hold no secrets.
    #[arg(long)]
    pub censor: bool,
}

#[derive(Debug, Args)]
pub struct ConfigImportArgs {
    /// The file to import [default: standard input].
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Configuration types to import (pi-manage imports 'policy').
    #[arg(short = 't', long = "types", value_name = "TYPE", num_args = 1.., action = clap::ArgAction::Append)]
    pub types: Vec<String>,
    /// Import only the policy of this name.
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,
    /// Skip invalid policies and import the rest (default: import nothing if any is invalid).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Print what would change and change nothing (exit code 4 when changes are pending).
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Subcommand)]
pub enum SetupCommand {
    /// Create privacyIDEA's tables in an empty database and stamp the schema revision.
    #[command(name = "create_tables")]
    CreateTables(CreateTablesArgs),
    /// Drop all of privacyIDEA's tables (and sequences). All data will be lost!
    #[command(name = "drop_tables")]
    DropTables(DropTablesArgs),
    /// Create the encryption key file PI_ENCFILE (96 bytes, mode 0400); never overwrites.
    #[command(name = "create_enckey")]
    CreateEnckey(CreateEnckeyArgs),
    /// Write a passphrase-encrypted copy of a 96 byte binary encryption key.
    #[command(name = "encrypt_enckey")]
    EncryptEnckey(EncryptEnckeyArgs),
    /// Create the RSA key pair that signs the audit log (PI_AUDIT_KEY_PRIVATE/PUBLIC).
    #[command(name = "create_audit_keys")]
    CreateAuditKeys(CreateAuditKeysArgs),
}

#[derive(Debug, Args)]
pub struct DropTablesArgs {
    /// If you are sure to drop the tables, pass the parameter "yes".
    #[arg(short = 'd', long = "dropit", value_name = "TEXT")]
    pub dropit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Print the schema revision the database is stamped with (`b7c1e4d2a9f3 (head)`).
    Current,
    /// Check that every table, column, index, foreign key and sequence of the stamped
    /// revision exists; list what is missing (exit 1).
    Check,
}

#[derive(Debug, Args)]
pub struct CreateEnckeyArgs {
    /// Use this base64-encoded 96-byte key instead of a random one.
    #[arg(short = 'e', long = "enckey_b64", value_name = "B64")]
    pub enckey_b64: Option<String>,
    /// Only report what would be created.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Args)]
pub struct EncryptEnckeyArgs {
    /// The key file to encrypt (plain, or passphrase-encrypted with --enckey-passphrase-*).
    #[arg(value_name = "ENCFILE")]
    pub encfile: PathBuf,
    /// Write here (created exclusively, mode 0400) instead of to standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub outfile: Option<PathBuf>,
    /// The new passphrase (visible in the process list: prefer --password-file or a prompt).
    #[arg(long)]
    pub password: Option<String>,
    /// File holding the new passphrase.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the new passphrase.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateAuditKeysArgs {
    /// RSA key size in bits.
    #[arg(short = 'k', long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1024..=16384))]
    pub keysize: u64,
    /// Only report what would be created.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add an administrator, or update an existing one (email/password only when given).
    Add(AdminAddArgs),
    /// Change an administrator's email and/or password.
    Change(AdminChangeArgs),
    /// List the administrators.
    List,
    /// Delete an administrator.
    Delete(AdminDeleteArgs),
}

#[derive(Debug, Args)]
pub struct AdminPasswordArgs {
    /// File holding the password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct AdminAddArgs {
    /// The administrator's login name.
    pub username: String,
    /// The administrator's email address.
    #[arg(short = 'e', long)]
    pub email: Option<String>,
    /// The password (visible in the process list: prefer --password-file, --password-env or the prompt).
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    #[command(flatten)]
    pub source: AdminPasswordArgs,
}

#[derive(Debug, Args)]
pub struct AdminChangeArgs {
    /// The login name of the administrator to change.
    pub username: String,
    /// A new email address.
    #[arg(short = 'e', long)]
    pub email: Option<String>,
    /// A new password (visible in the process list: prefer --password-file, --password-env or --prompt).
    #[arg(long)]
    pub password: Option<String>,
    #[command(flatten)]
    pub source: AdminPasswordArgs,
    /// Ask for a new password on the terminal.
    #[arg(long)]
    pub prompt: bool,
}

#[derive(Debug, Args)]
pub struct AdminDeleteArgs {
    /// The login name of the administrator to delete.
    pub username: String,
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Create an API token (HS256 over SECRET_KEY) and print it.
    Createtoken(CreateTokenArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiRoleArg {
    Admin,
    Validate,
}

#[derive(Debug, Args)]
pub struct CreateTokenArgs {
    /// The user name in the token.
    #[arg(short = 'u', long, required = true)]
    pub username: String,
    /// What the token may do: call the admin API, or only /validate.
    #[arg(short = 'r', long, value_enum, default_value_t = ApiRoleArg::Admin)]
    pub role: ApiRoleArg,
    /// Validity in days.
    #[arg(short = 'd', long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..))]
    pub days: u64,
    /// The realm of the user in the token.
    #[arg(short = 'R', long, default_value = "API")]
    pub realm: String,
}

#[derive(Debug, Args)]
pub struct CreateTablesArgs {
    /// Only report what would be created.
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Dump the database and archive it with the configuration directory (mode 0600).
    Create(BackupCreateArgs),
    /// Check an archive (manifest, checksums, pi.cfg, a readable dump); changes nothing.
    Verify(BackupVerifyArgs),
    /// Restore an archive (pi-manage .tar.zst/.tar.xz or privacyIDEA .tgz): files and database.
    Restore(BackupRestoreArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackupFormatArg {
    /// pi-manage's archive: tar + zstd, with a manifest of checksums.
    #[value(name = "tar.zst", alias = "zst")]
    TarZst,
    /// pi-manage's archive as before zstd: tar + xz, with a manifest of checksums.
    #[value(name = "tar.xz", alias = "xz")]
    TarXz,
    /// An archive privacyIDEA's own `pi-manage backup restore` reads.
    Tgz,
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    /// Where the archive is written.
    #[arg(
        short = 'd',
        long,
        default_value = "/var/lib/privacyidea/backup/",
        value_name = "DIR"
    )]
    pub directory: std::path::PathBuf,
    /// The configuration directory to archive [default: the directory of pi.cfg, /etc/privacyidea/]
    #[arg(
        short = 'c',
        long = "config_dir",
        alias = "config-dir",
        value_name = "DIR"
    )]
    pub config_dir: Option<std::path::PathBuf>,
    /// A FreeRADIUS configuration directory to archive too.
    #[arg(
        short = 'r',
        long = "radius_dir",
        alias = "radius-dir",
        value_name = "DIR"
    )]
    pub radius_dir: Option<std::path::PathBuf>,
    /// Include the encryption key (PI_ENCFILE and passphrase-encrypted copies of it).
    #[arg(short = 'e', long)]
    pub enckey: bool,
    /// Archive format.
    #[arg(long, value_enum, default_value_t = BackupFormatArg::TarZst)]
    pub format: BackupFormatArg,
    /// Compression level (zstd 1-19, default 1; xz 0-9, default 0; gzip 1-9, default 9).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=19))]
    pub level: Option<u32>,
    /// Only report what would be archived.
    #[arg(long, alias = "dryrun")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BackupVerifyArgs {
    /// The archive.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupRestoreArgs {
    /// The archive (.tar.zst, .tar.xz or privacyIDEA's .tgz).
    #[arg(value_name = "BACKUP_FILE")]
    pub file: std::path::PathBuf,
    /// Keep the database URI of the pi.cfg at the restore's destination.
    #[arg(long = "keep-db-uri", alias = "keep_db_uri")]
    pub keep_db_uri: bool,
    /// Restore the files (and a SQLite database) below DIR instead of /.
    #[arg(long = "target-dir", value_name = "DIR")]
    pub target_dir: Option<std::path::PathBuf>,
    /// Confirm overwriting the live configuration and database.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// Rewrite privacyIDEA's `-hw N` / `-lw N` (and `-hw=N`) into the long options.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    export_output_alias(args)
        .into_iter()
        .map(|a| {
            let Some(s) = a.to_str() else { return a };
            for (short, long) in [("-hw", "--highwatermark"), ("-lw", "--lowwatermark")] {
                if s == short {
                    return OsString::from(long);
                }
                if let Some(v) = s.strip_prefix(short).and_then(|r| r.strip_prefix('=')) {
                    return OsString::from(format!("{long}={v}"));
                }
            }
            a
        })
        .collect()
}

/// privacyIDEA's `config export --output FILE` (also `-o`): our global `--output` is the
/// report format, so after `config export`/`exporter` the long option is read as `--outfile`.
fn export_output_alias(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut seen_config = false;
    let mut in_export = false;
    args.into_iter()
        .map(|a| {
            let Some(s) = a.to_str() else { return a };
            if in_export {
                if s == "--output" {
                    return OsString::from("--outfile");
                }
                if let Some(v) = s.strip_prefix("--output=") {
                    return OsString::from(format!("--outfile={v}"));
                }
            } else if seen_config && (s == "export" || s == "exporter") {
                in_export = true;
            } else if s == "config" {
                seen_config = true;
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn privacyidea_short_watermarks() {
        let args = normalize_args(
            ["pi-manage", "audit", "rotate", "-hw", "20", "-lw=5"].map(OsString::from),
        );
        let cli = Cli::parse_from(args);
        let Command::Audit(AuditCommand::Rotate(a)) = cli.command else {
            panic!()
        };
        assert_eq!((a.highwatermark, a.lowwatermark), (20, 5));
    }
}
