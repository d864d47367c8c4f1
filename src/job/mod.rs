//! Job files: YAML maintenance plans. A file goes through [`source`] (YAML with positions),
//! [`schema`] (the JSON Schema generated from [`model`]), serde into the model, and
//! [`check`] (semantic checks) before anything may run.

pub mod check;
pub mod diagnostic;
pub mod duration;
pub mod job_task;
pub mod model;
pub mod schema;
pub mod schema_editor;
pub mod source;
