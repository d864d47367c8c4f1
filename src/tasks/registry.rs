//! The one list of task kinds. Each line names a kind's variant and its parameter struct (a
//! [`KindSpec`]); the macro turns the list into the serde-tagged [`TaskSpec`] job files
//! deserialise into (and the JSON Schema is generated from), its list of `kind` strings, and
//! the dispatch from a spec to its `prepare`. Adding a kind is a file in `src/tasks/` (the
//! parameter struct with `impl KindSpec`, the task with `impl TaskKind`) and one line here.
//!
//! The variant name is the kind in CamelCase (`challenge_cleanup` ↔ `ChallengeCleanup`):
//! serde derives the `kind` tag from it, and a test checks it equals the struct's `KIND`.
//! The order of the list is the order of the schema's kinds and of the kinds in messages.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kind::{KindSpec, Task};
use super::TaskSite;
use crate::job::diagnostic::Diagnostic;
use crate::job::model;

macro_rules! task_kinds {
    ($($variant:ident($spec:ty),)+) => {
        /// One maintenance task, selected by `kind`.
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum TaskSpec {
            $($variant($spec),)+
        }

        impl TaskSpec {
            /// Every `kind` a job file may use, in the schema's order.
            pub const KINDS: &'static [&'static str] = &[$(<$spec as KindSpec>::KIND,)+];

            /// The `kind` string of this task.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(TaskSpec::$variant(_) => <$spec as KindSpec>::KIND,)+
                }
            }

            /// The name given in the file, if any.
            pub fn explicit_name(&self) -> Option<&str> {
                match self {
                    $(TaskSpec::$variant(s) => s.explicit_name(),)+
                }
            }

            /// Check this spec and turn it into a runnable [`Task`]; problems go to `diags`.
            pub fn prepare(&self, site: &TaskSite<'_>, diags: &mut Vec<Diagnostic>) -> Option<Task> {
                let name = self.name().to_string();
                match self {
                    $(TaskSpec::$variant(s) => s.prepare(name, site, diags),)+
                }
            }
        }
    };
}

task_kinds! {
    AuditRotate(model::AuditRotate),
    ChallengeCleanup(model::ChallengeCleanup),
    CreateTables(model::CreateTables),
    Enckey(model::Enckey),
    AuditKeys(model::AuditKeys),
    Admin(model::Admin),
    ApiToken(model::ApiToken),
    AuditVerify(model::AuditVerify),
    Policies(super::policies::Policies),
    Backup(super::backup::Backup),
    BackupVerify(super::backup_verify::BackupVerify),
    AuthlogCleanup(super::authlog_cleanup::AuthlogCleanup),
    AuthcacheCleanup(super::authcache_cleanup::AuthcacheCleanup),
    RememberedDeviceCleanup(super::remembered_device_cleanup::RememberedDeviceCleanup),
    MetricsCleanup(super::metrics_cleanup::MetricsCleanup),
    ConditionalAccessPurge(super::conditional_access_purge::ConditionalAccessPurge),
    UsercacheCleanup(super::usercache_cleanup::UsercacheCleanup),
    AuditDump(super::audit_dump::AuditDump),
    PeriodicTasks(super::periodic_tasks::PeriodicTasks),
}

impl TaskSpec {
    /// The task's name: the one given, else its kind.
    pub fn name(&self) -> &str {
        self.explicit_name().unwrap_or(self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's tag (from the variant name) and the struct's `KIND` must agree, or a job file's
    /// `kind` would deserialise into a task that reports under another name. The schema's
    /// `if kind … then …` branches carry serde's tags in list order.
    #[test]
    fn every_kind_string_is_the_serde_tag() {
        let schema = crate::job::schema::job_schema();
        let branches = schema["definitions"]["TaskSpec"]["allOf"]
            .as_array()
            .expect("TaskSpec is one `if kind … then …` per kind");
        let tags: Vec<&str> = branches
            .iter()
            .map(|v| {
                v["then"]["properties"]["kind"]["const"]
                    .as_str()
                    .expect("a const kind")
            })
            .collect();
        assert_eq!(tags, TaskSpec::KINDS);
        let mut unique = TaskSpec::KINDS.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), TaskSpec::KINDS.len());
    }
}
