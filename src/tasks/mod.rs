//! Task kinds: one file each. A [`TaskSpec`] from a job file (or from an imperative command
//! such as `audit rotate`) is *prepared* into a [`Task`] — every semantic check done, every
//! referenced file read, every regex compiled — and only then run by the executor.

pub mod admin;
pub mod api_token;
pub mod audit_dump;
pub mod audit_keys;
pub mod audit_rotate;
pub mod audit_verify;
pub mod backup;
pub mod backup_verify;
pub mod challenge_cleanup;
pub mod cleanup;
mod context;
pub mod create_tables;
pub mod enckey;
mod outcome;
pub mod policies;
mod require;

use std::path::{Path, PathBuf};

pub use context::{Databases, TaskContext, TaskOutput};
pub use outcome::{timed, TaskError, TaskFailure, TaskOutcome, TaskStatus};
pub use require::require_tables;

use crate::job::diagnostic::Diagnostic;
use crate::job::model::TaskSpec;
use crate::job::source::{Pos, Source};

/// A task ready to run: checked and with everything it reads from files loaded.
#[derive(Debug)]
pub enum Task {
    AuditRotate(audit_rotate::AuditRotateTask),
    ChallengeCleanup(challenge_cleanup::ChallengeCleanupTask),
    CreateTables(create_tables::CreateTablesTask),
    Enckey(enckey::EnckeyTask),
    AuditKeys(audit_keys::AuditKeysTask),
    Admin(admin::AdminTask),
    ApiToken(api_token::ApiTokenTask),
    AuditVerify(audit_verify::AuditVerifyTask),
    Policies(policies::PoliciesTask),
    Backup(backup::BackupTask),
    BackupVerify(backup_verify::BackupVerifyTask),
    AuditDump(audit_dump::AuditDumpTask),
}

impl Task {
    pub fn name(&self) -> &str {
        match self {
            Task::AuditRotate(t) => &t.name,
            Task::ChallengeCleanup(t) => &t.name,
            Task::CreateTables(t) => &t.name,
            Task::Enckey(t) => &t.name,
            Task::AuditKeys(t) => &t.name,
            Task::Admin(t) => &t.name,
            Task::ApiToken(t) => &t.name,
            Task::AuditVerify(t) => &t.name,
            Task::Policies(t) => &t.name,
            Task::Backup(t) => &t.name,
            Task::BackupVerify(t) => &t.name,
            Task::AuditDump(t) => &t.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Task::AuditRotate(_) => "audit_rotate",
            Task::ChallengeCleanup(_) => "challenge_cleanup",
            Task::CreateTables(_) => "create_tables",
            Task::Enckey(_) => "enckey",
            Task::AuditKeys(_) => "audit_keys",
            Task::Admin(_) => "admin",
            Task::ApiToken(_) => "api_token",
            Task::AuditVerify(_) => "audit_verify",
            Task::Policies(_) => policies::KIND,
            Task::Backup(_) => "backup",
            Task::BackupVerify(_) => "backup_verify",
            Task::AuditDump(_) => audit_dump::KIND,
        }
    }

    /// Run the task. `ctx.dry_run` tasks compute and report, and change nothing.
    pub fn run(&self, ctx: &mut TaskContext<'_>) -> Result<TaskOutcome, TaskFailure> {
        match self {
            Task::AuditRotate(t) => t.run(ctx),
            Task::ChallengeCleanup(t) => t.run(ctx),
            Task::CreateTables(t) => t.run(ctx),
            Task::Enckey(t) => t.run(ctx),
            Task::AuditKeys(t) => t.run(ctx),
            Task::Admin(t) => t.run(ctx),
            Task::ApiToken(t) => t.run(ctx),
            Task::AuditVerify(t) => t.run(ctx),
            Task::Policies(t) => t.run(ctx),
            Task::Backup(t) => t.run(ctx),
            Task::BackupVerify(t) => t.run(ctx),
            Task::AuditDump(t) => t.run(ctx),
        }
    }
}

/// Where a task spec came from, so preparation can resolve relative paths and report
/// problems at the right `file:line:column`.
pub struct TaskSite<'a> {
    /// The job file's parsed source; `None` for tasks built from command-line flags.
    pub source: Option<&'a Source>,
    /// The file problems are reported against (the job file; empty for command-line flags).
    pub file: PathBuf,
    /// JSON pointer of the task in the job file (`/tasks/3`).
    pub pointer: String,
    /// Directory relative paths in the task are resolved against.
    pub base_dir: PathBuf,
}

impl TaskSite<'_> {
    /// A site for a task built from command-line flags.
    pub fn command_line(base_dir: &Path) -> TaskSite<'static> {
        TaskSite {
            source: None,
            file: PathBuf::new(),
            pointer: String::new(),
            base_dir: base_dir.to_path_buf(),
        }
    }

    /// Position of a field of this task (`rel` like `/rules/0/match/user`).
    pub fn pos(&self, rel: &str) -> Pos {
        match self.source {
            Some(s) => s.pos(&format!("{}{rel}", self.pointer)),
            None => Pos { line: 1, column: 1 },
        }
    }

    pub fn key_pos(&self, rel: &str) -> Pos {
        match self.source {
            Some(s) => s.key_pos(&format!("{}{rel}", self.pointer)),
            None => Pos { line: 1, column: 1 },
        }
    }

    pub fn error(&self, rel: &str, message: impl Into<String>) -> Diagnostic {
        let pointer = if self.source.is_some() {
            format!("{}{rel}", self.pointer)
        } else {
            String::new()
        };
        Diagnostic::error(&self.file, self.pos(rel), &pointer, message)
    }

    pub fn warning(&self, rel: &str, message: impl Into<String>) -> Diagnostic {
        let mut d = self.error(rel, message);
        d.severity = crate::job::diagnostic::Severity::Warning;
        d
    }

    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// Check a task spec and turn it into a runnable [`Task`]; problems (errors and warnings)
/// go to `diags`. Returns `None` when there was an error.
pub fn prepare(spec: &TaskSpec, site: &TaskSite<'_>, diags: &mut Vec<Diagnostic>) -> Option<Task> {
    let name = spec.name().to_string();
    match spec {
        TaskSpec::AuditRotate(s) => {
            audit_rotate::AuditRotateTask::prepare(name, s, site, diags).map(Task::AuditRotate)
        }
        TaskSpec::ChallengeCleanup(s) => {
            challenge_cleanup::ChallengeCleanupTask::prepare(name, s, site, diags)
                .map(Task::ChallengeCleanup)
        }
        TaskSpec::CreateTables(_) => {
            Some(Task::CreateTables(create_tables::CreateTablesTask { name }))
        }
        TaskSpec::Enckey(s) => Some(Task::Enckey(enckey::EnckeyTask {
            name,
            path: s.path.as_deref().map(|p| site.resolve(p)),
            key: enckey::KeySource::Random,
            fail_if_exists: false,
            passphrase: None,
        })),
        TaskSpec::AuditKeys(s) => Some(Task::AuditKeys(audit_keys::AuditKeysTask {
            name,
            keysize: s.keysize,
            private_key: s.private_key.as_deref().map(|p| site.resolve(p)),
            public_key: s.public_key.as_deref().map(|p| site.resolve(p)),
            fail_if_exists: false,
        })),
        TaskSpec::Admin(s) => prepare_admin(name, s, site, diags).map(Task::Admin),
        TaskSpec::ApiToken(s) => prepare_api_token(name, s, site, diags).map(Task::ApiToken),
        TaskSpec::AuditVerify(s) => Some(Task::AuditVerify(audit_verify::AuditVerifyTask {
            name,
            since: s.since,
            public_key: s.public_key.as_deref().map(|p| site.resolve(p)),
            allow_unsigned: s.allow_unsigned,
        })),
        TaskSpec::Policies(s) => policies::prepare(name, s, site, diags).map(Task::Policies),
        TaskSpec::Backup(s) => backup::BackupTask::prepare(name, s, site, diags).map(Task::Backup),
        TaskSpec::BackupVerify(s) => {
            backup_verify::BackupVerifyTask::prepare(name, s, site, diags).map(Task::BackupVerify)
        }
        TaskSpec::AuditDump(s) => {
            audit_dump::AuditDumpTask::prepare(name, s, site, diags).map(Task::AuditDump)
        }
    }
}

fn prepare_admin(
    name: String,
    s: &crate::job::model::Admin,
    site: &TaskSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<admin::AdminTask> {
    use crate::secret_input::SecretSource;
    let password = match (&s.password_file, &s.password_env) {
        (Some(_), Some(_)) => {
            diags.push(site.error(
                "/password_env",
                "give either password_file or password_env, not both",
            ));
            return None;
        }
        (Some(f), None) => {
            let path = site.resolve(f);
            if !path.exists() {
                diags.push(site.error(
                    "/password_file",
                    format!("password file not found: {}", path.display()),
                ));
                return None;
            }
            Some(SecretSource::File(path))
        }
        (None, Some(var)) => Some(SecretSource::Env(var.clone())),
        (None, None) => None,
    };
    if s.update_password && password.is_none() {
        diags.push(site.error(
            "/update_password",
            "update_password needs password_file or password_env",
        ));
        return None;
    }
    Some(admin::AdminTask {
        name,
        username: s.username.clone(),
        state: s.state,
        email: s.email.clone(),
        password,
        update_password: s.update_password,
        command: admin::AdminCommand::Plan,
    })
}

fn prepare_api_token(
    name: String,
    s: &crate::job::model::ApiToken,
    site: &TaskSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<api_token::ApiTokenTask> {
    let before = diags.len();
    if s.validity.as_secs() < 86_400 || s.validity.as_secs() % 86_400 != 0 {
        diags.push(
            site.error(
                "/validity",
                format!(
                    "validity must be a whole number of days (at least 1d), found {}",
                    s.validity
                ),
            )
            .with_hint("privacyIDEA's tokens are valid for whole days, e.g. '365d'"),
        );
    }
    if s.renew_before >= s.validity {
        diags.push(site.error("/renew_before", format!(
            "renew_before ({}) must be shorter than validity ({}), or the token would be renewed on every run",
            s.renew_before, s.validity
        )));
    }
    if diags.len() > before {
        return None;
    }
    Some(api_token::ApiTokenTask {
        name,
        username: s.username.clone(),
        realm: s.realm.clone(),
        role: match s.role {
            crate::job::model::ApiTokenRole::Admin => crate::crypto::jwt::ApiRole::Admin,
            crate::job::model::ApiTokenRole::Validate => crate::crypto::jwt::ApiRole::Validate,
        },
        validity: s.validity,
        renew_before: s.renew_before,
        file: Some(site.resolve(&s.file)),
    })
}
