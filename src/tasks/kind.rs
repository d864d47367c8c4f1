//! The two interfaces every task kind implements, and the [`Task`] the executor runs.
//!
//! * [`TaskKind`]: a prepared task — its name, its `kind` string, and `run` (which computes
//!   and reports without changing anything when `ctx.dry_run` is set).
//! * [`KindSpec`]: the kind's job-file parameters (a serde + schemars struct) — its `kind`
//!   string, the `name` written in the file, and `prepare`, which checks the parameters and
//!   turns them into a runnable [`Task`].
//!
//! The list of kinds is kept once, in `src/tasks/registry.rs`; nothing else matches on kinds.

use std::fmt;

use super::{TaskContext, TaskFailure, TaskOutcome, TaskSite};
use crate::job::diagnostic::Diagnostic;

/// A task ready to run: checked, with everything it reads from files loaded.
pub trait TaskKind: fmt::Debug + Send + Sync {
    /// The task's name in reports and for `--task`.
    fn name(&self) -> &str;
    /// The `kind` string of job files (`challenge_cleanup`).
    fn kind(&self) -> &'static str;
    /// Run the task. With `ctx.dry_run` it computes and reports, and changes nothing.
    fn run(&self, ctx: &mut TaskContext<'_>) -> Result<TaskOutcome, TaskFailure>;
}

/// The [`TaskKind`] impl most kinds share: the task struct has a `name: String` field, its
/// module a `KIND` constant, and the work is an inherent
/// `fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError>`
/// that [`timed`](super::timed) times and turns into the outcome. Kinds that differ write the
/// impl by hand. `KIND` resolves where the macro is used (items are not hygienic).
macro_rules! task_kind {
    ($task:ty) => {
        impl $crate::tasks::TaskKind for $task {
            fn name(&self) -> &str {
                &self.name
            }

            fn kind(&self) -> &'static str {
                KIND
            }

            fn run(
                &self,
                ctx: &mut $crate::tasks::TaskContext<'_>,
            ) -> Result<$crate::tasks::TaskOutcome, $crate::tasks::TaskFailure> {
                $crate::tasks::timed(&self.name, KIND, |out| self.run_inner(ctx, out))
            }
        }
    };
}
pub(crate) use task_kind;

/// The parameters of one task kind as a job file writes them.
pub trait KindSpec {
    /// The `kind` string; must equal the serde tag the registry gives the variant (a unit test
    /// in `registry.rs` checks every kind).
    const KIND: &'static str;
    /// The `name` given in the file, if any.
    fn explicit_name(&self) -> Option<&str>;
    /// Check the parameters (errors and warnings go to `diags`, at `site`) and build the task
    /// named `name`. `None` when there was an error.
    fn prepare(
        &self,
        name: String,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Task>;
}

/// A prepared task of any kind.
pub struct Task(Box<dyn TaskKind>);

impl Task {
    pub fn new(task: impl TaskKind + 'static) -> Task {
        Task(Box::new(task))
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// Run the task. `ctx.dry_run` tasks compute and report, and change nothing.
    pub fn run(&self, ctx: &mut TaskContext<'_>) -> Result<TaskOutcome, TaskFailure> {
        self.0.run(ctx)
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
