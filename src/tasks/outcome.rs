//! What a task reports: its status, the lines it printed, the counts it measured.

use serde::Serialize;

use crate::db::delete::DeleteFailed;
use crate::db::{DbError, DbErrorKind};

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Ran and changed what it had to (possibly nothing).
    Done,
    /// Created what it ensures (a key, an administrator, a token file).
    Created,
    /// Changed something that existed (an email, a password, a renewed token).
    Updated,
    /// Ran as a dry run: computed, changed nothing.
    DryRun,
    /// Found nothing to do (e.g. the tables already exist).
    Unchanged,
    /// Stopped by a signal after a committed chunk; a re-run continues.
    Interrupted,
    Failed,
    /// Not run because an earlier task failed or the run was interrupted.
    Skipped,
}

/// The result of one task, for the text and JSON reports.
#[derive(Debug, Clone, Serialize)]
pub struct TaskOutcome {
    pub name: String,
    pub kind: &'static str,
    pub status: TaskStatus,
    /// The database the task worked on (never with a password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Rows the task found to delete (dry runs, and chunked runs on a terminal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<u64>,
    /// Rows deleted and committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<u64>,
    /// The condition rows were selected by, e.g. `id < 16` or `date < 2026-05-26 12:00:00`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    /// The lines the task printed, in privacyIDEA's wording where it has one.
    pub messages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Task-specific facts for machines (counts, file paths, expiry dates); never secrets.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
    pub duration_ms: u64,
}

impl TaskOutcome {
    pub fn new(name: &str, kind: &'static str) -> Self {
        TaskOutcome {
            name: name.to_string(),
            kind,
            status: TaskStatus::Done,
            database: None,
            matched: None,
            deleted: None,
            cutoff: None,
            messages: Vec::new(),
            error: None,
            signal: None,
            details: serde_json::Map::new(),
            duration_ms: 0,
        }
    }

    /// Print a warning now (stderr on terminals) and keep it for the report.
    pub fn warn(&mut self, output: &mut dyn super::TaskOutput, line: String) {
        output.warning(&line);
        self.messages.push(line);
    }

    /// Print a line of task output now and keep it for the report.
    pub fn say(&mut self, output: &mut dyn super::TaskOutput, line: String) {
        output.message(&line);
        self.messages.push(line);
    }
}

/// Why a task failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    #[error("{0}")]
    Db(#[from] DbError),
    /// The database is not what the task needs (no privacyIDEA tables, a missing column …).
    #[error("{0}")]
    Database(String),
    #[error("{0}")]
    Io(String),
    /// The task refuses to act (an existing key it must not overwrite, a missing secret …).
    #[error("{0}")]
    Refused(String),
}

impl TaskError {
    /// Whether the failure is about reaching the database at all (exit code 3).
    pub fn is_connect(&self) -> bool {
        matches!(self, TaskError::Db(e) if matches!(e.kind, DbErrorKind::Connect | DbErrorKind::Auth))
    }
}

impl From<crate::crypto::CryptoError> for TaskError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        TaskError::Io(e.to_string())
    }
}

impl From<crate::secret_input::SecretInputError> for TaskError {
    fn from(e: crate::secret_input::SecretInputError) -> Self {
        TaskError::Refused(e.to_string())
    }
}

impl From<DeleteFailed> for TaskError {
    fn from(e: DeleteFailed) -> Self {
        TaskError::Db(DbError::new(e.error.kind, e.to_string()))
    }
}

/// A failed task with whatever it reported before failing (rows already deleted count).
#[derive(Debug, Clone)]
pub struct TaskFailure {
    pub outcome: Box<TaskOutcome>,
    pub error: TaskError,
}

impl TaskFailure {
    pub fn new(mut outcome: TaskOutcome, error: impl Into<TaskError>) -> Self {
        let error = error.into();
        outcome.status = TaskStatus::Failed;
        outcome.error = Some(error.to_string());
        TaskFailure {
            outcome: Box::new(outcome),
            error,
        }
    }
}

/// Run a task body: time it, and turn an error into a failure that keeps everything the task
/// reported before it failed (lines, rows already deleted).
pub fn timed(
    name: &str,
    kind: &'static str,
    body: impl FnOnce(&mut TaskOutcome) -> Result<(), TaskError>,
) -> Result<TaskOutcome, TaskFailure> {
    let started = std::time::Instant::now();
    let mut out = TaskOutcome::new(name, kind);
    let result = body(&mut out);
    out.duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => Ok(out),
        Err(e) => Err(TaskFailure::new(out, e)),
    }
}
