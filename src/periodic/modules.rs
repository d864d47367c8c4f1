//! privacyIDEA 3.14's task modules (`TASK_MODULES`): `SimpleStats` and `EventCounter`. Any
//! other name is the task's failure, as privacyIDEA's `ParameterError("Unknown task module: …")`
//! — the run goes on with the next task.

use super::store::PeriodicTask;
use super::{event_counter, simple_stats};
use crate::clock::Clock;
use crate::db::{Connection, DbError};
use crate::pytext::str_repr;

/// What a module needs besides the database.
pub struct ModuleContext<'a> {
    pub clock: &'a dyn Clock,
    /// The node's UUID, for node-specific realms (SimpleStats' token counts).
    pub node_uuid: Option<&'a str>,
}

/// What a module run reports.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModuleReport {
    /// `(stats_key, value)` written to `monitoringstats`.
    pub written: Vec<(String, i64)>,
    /// Things privacyIDEA only logs (a missing counter, a dropped row).
    pub notes: Vec<String>,
}

/// A module that raised: its Python-style `repr` for privacyidea-cron's
/// `Caught exception when running …: {e!r}` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleError {
    pub repr: String,
}

impl From<DbError> for ModuleError {
    fn from(e: DbError) -> Self {
        ModuleError {
            repr: format!("DatabaseError({})", str_repr(&e.to_string())),
        }
    }
}

/// privacyIDEA's `ParameterError(…)` for a module it does not know.
pub fn unknown_module(name: &str) -> ModuleError {
    let description = format!("Unknown task module: {}", str_repr(name));
    ModuleError {
        repr: format!(
            "ParameterError(description={}, id=905)",
            str_repr(&description)
        ),
    }
}

/// The module names the release knows.
pub const KNOWN: &[&str] = &[simple_stats::NAME, event_counter::NAME];

/// Run `task`'s module with its options (`execute_task`). `Ok` is a truthy result.
pub fn execute(
    conn: &mut dyn Connection,
    task: &PeriodicTask,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleReport, ModuleError> {
    match task.taskmodule.as_str() {
        simple_stats::NAME => simple_stats::run(conn, task, ctx),
        event_counter::NAME => event_counter::run(conn, task, ctx),
        other => Err(unknown_module(other)),
    }
}

/// privacyIDEA's `is_true` of an option value.
pub fn is_true(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "True" | "true" | "TRUE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_module_reprs_like_privacyidea() {
        assert_eq!(
            unknown_module("MetricsCleanup").repr,
            "ParameterError(description=\"Unknown task module: 'MetricsCleanup'\", id=905)"
        );
        assert!(is_true(Some("True")));
        assert!(!is_true(Some("yes")));
        assert!(!is_true(None));
    }
}
