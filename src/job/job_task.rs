//! One entry of a job file's `tasks` list: a task of some kind plus the fields every kind
//! shares that are about *when* it runs rather than *what* it does — today its own `schedule`.
//!
//! The kinds' parameter structs refuse unknown fields, so the shared field is taken out of the
//! mapping before the rest is read as the kind's [`TaskSpec`]; the schema gets the field in
//! every kind's branch from `schema_editor` (see [`schedule_property`]).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::tasks::TaskSpec;

/// A task as a job file lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobTask {
    /// When the scheduler runs this task, if not on the job's `schedule`.
    pub schedule: Option<String>,
    /// What the task does.
    pub spec: TaskSpec,
}

impl JobTask {
    /// A task that runs on the job's schedule.
    pub fn new(spec: TaskSpec) -> JobTask {
        JobTask {
            schedule: None,
            spec,
        }
    }
}

impl From<TaskSpec> for JobTask {
    fn from(spec: TaskSpec) -> JobTask {
        JobTask::new(spec)
    }
}

impl std::ops::Deref for JobTask {
    type Target = TaskSpec;
    fn deref(&self) -> &TaskSpec {
        &self.spec
    }
}

/// The field's description in the schema (and so in editors).
pub const SCHEDULE_DESCRIPTION: &str = "When `pi-manage schedule` runs this task, if not on the job's `schedule`: a cron expression in the same syntax, read in the job's `timezone` (with a seconds field when `schedule_seconds` is true). The job runs at every time one of its schedules names; each run runs, in file order, the tasks whose schedule names that time. Ignored by `pi-manage run`, which runs every task.";

/// The `schedule` property every task kind takes (inserted into each kind's branch of the
/// schema, after the kind's own fields).
pub fn schedule_property() -> Value {
    json!({
        "description": SCHEDULE_DESCRIPTION,
        "type": "string",
        "pattern": super::schema_editor::CRON_PATTERN,
        "patternErrorMessage": super::schema_editor::CRON_MESSAGE,
    })
}

impl<'de> Deserialize<'de> for JobTask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JobTask, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let schedule = match map.remove("schedule") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "a task's schedule must be a string, found {other}"
                )))
            }
        };
        let spec = TaskSpec::deserialize(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(JobTask { schedule, spec })
    }
}

impl Serialize for JobTask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            #[serde(flatten)]
            spec: &'a TaskSpec,
            #[serde(skip_serializing_if = "Option::is_none")]
            schedule: &'a Option<String>,
        }
        Flat {
            spec: &self.spec,
            schedule: &self.schedule,
        }
        .serialize(s)
    }
}

/// The schema is the kinds' (`TaskSpec`); `schema_editor` adds `schedule` to every kind.
impl JsonSchema for JobTask {
    fn schema_name() -> Cow<'static, str> {
        "JobTask".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<TaskSpec>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_taken_out_before_the_kind_reads_its_fields() {
        let t: JobTask = serde_json::from_value(json!({
            "kind": "challenge_cleanup",
            "schedule": "0 3 * * *",
            "chunksize": 10,
        }))
        .unwrap();
        assert_eq!(t.schedule.as_deref(), Some("0 3 * * *"));
        assert_eq!(t.kind(), "challenge_cleanup");
        let back = serde_json::to_value(&t).unwrap();
        assert_eq!(back["schedule"], json!("0 3 * * *"));
        assert_eq!(back["chunksize"], json!(10));
        let again: JobTask = serde_json::from_value(back).unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn a_kind_still_refuses_fields_it_does_not_take() {
        let e = serde_json::from_value::<JobTask>(json!({
            "kind": "challenge_cleanup",
            "schedule": "0 3 * * *",
            "chunk_size": 10,
        }))
        .unwrap_err();
        assert!(e.to_string().contains("chunk_size"), "{e}");
    }
}
