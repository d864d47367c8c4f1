//! Task kinds: one file each. A [`TaskSpec`] from a job file (or from an imperative command
//! such as `audit rotate`) is *prepared* into a [`Task`] — every semantic check done, every
//! referenced file read, every regex compiled — and only then run by the executor.
//!
//! Every kind implements [`KindSpec`] (its job-file parameters) and [`TaskKind`] (the prepared
//! task); `registry.rs` lists the kinds once. To add a kind: a new file here with both impls,
//! its `pub mod` line below, and its line in `registry.rs`.

pub mod admin;
pub mod api_token;
pub mod audit_dump;
pub mod audit_keys;
pub mod audit_rotate;
pub mod audit_verify;
pub mod authcache_cleanup;
pub mod authlog_cleanup;
pub mod backup;
pub mod backup_verify;
pub mod challenge_cleanup;
pub mod cleanup;
pub mod conditional_access_purge;
mod context;
pub mod create_tables;
pub mod enckey;
mod kind;
pub mod metrics_cleanup;
mod outcome;
pub mod periodic_tasks;
pub mod policies;
mod registry;
pub mod remembered_device_cleanup;
mod require;
pub mod usercache_cleanup;

use std::path::{Path, PathBuf};

pub use context::{Databases, TaskContext, TaskOutput};
pub(crate) use kind::task_kind;
pub use kind::{KindSpec, Task, TaskKind};
pub use outcome::{timed, TaskError, TaskFailure, TaskOutcome, TaskStatus};
pub use registry::TaskSpec;
pub use require::require_tables;

use crate::job::diagnostic::Diagnostic;
use crate::job::source::{Pos, Source};

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

    /// Whether the task comes from command-line flags (hints then name the flag, not the
    /// job-file field).
    pub fn is_command_line(&self) -> bool {
        self.source.is_none()
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
    spec.prepare(site, diags)
}
