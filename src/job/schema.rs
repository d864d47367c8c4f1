//! The JSON Schema of job files, generated from [`super::model`] with schemars (draft-07, so
//! editors using yaml-language-server understand it), and the check of a parsed file against it.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::model::JobFile;

/// The job-file schema as JSON.
pub fn job_schema() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<JobFile>();
    let mut value = serde_json::to_value(schema).expect("schema serialises");
    strip_nullable(&mut value);
    super::schema_editor::annotate(&mut value);
    value
}

/// schemars describes every `Option` field as "this or null". Job files have no reason to
/// write an explicit null, and the alternatives make validators' messages vague ("not valid
/// under any of the schemas listed in anyOf"), so the null alternative is removed: the field
/// is simply optional. `$ref` is wrapped in `allOf` because draft-07 ignores its siblings
/// (the description).
fn strip_nullable(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let rest: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if rest.len() == 1 {
                    map.insert("type".into(), rest[0].clone());
                } else if rest.len() != types.len() {
                    map.insert("type".into(), Value::Array(rest));
                }
            }
            if let Some(Value::Array(alts)) = map.get("anyOf") {
                let non_null: Vec<Value> = alts
                    .iter()
                    .filter(|a| a.get("type").and_then(|t| t.as_str()) != Some("null"))
                    .cloned()
                    .collect();
                if non_null.len() == 1 && alts.len() == 2 {
                    map.remove("anyOf");
                    map.insert("allOf".into(), Value::Array(non_null));
                }
            }
            for v in map.values_mut() {
                strip_nullable(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nullable),
        _ => {}
    }
}

/// The schema as the pretty-printed text committed in `schemas/job.schema.json`.
pub fn job_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&job_schema()).expect("schema serialises");
    s.push('\n');
    s
}

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::ValidationError;

use super::diagnostic::{did_you_mean, Diagnostic};
use super::duration::{Duration, DURATION_PATTERN};
use super::model::TaskSpec;
use super::schema_editor::{CRON_MESSAGE, CRON_PATTERN};
use super::source::{escape_segment, Source};

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| jsonschema::draft7::new(&job_schema()).expect("generated schema is valid"))
}

/// Check a parsed job file against the schema; every violation becomes a [`Diagnostic`].
pub fn check_against_schema(source: &Source) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for err in validator().iter_errors(&source.value) {
        report(source, &err, &mut out);
    }
    out.sort_by_key(|d| (d.line, d.column));
    out.dedup();
    out
}

fn report(source: &Source, err: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let pointer = err.instance_path().as_str().to_string();
    let schema_path = err.schema_path().as_str().to_string();
    let instance = err.instance();
    let at = |msg: String| Diagnostic::error(&source.path, source.pos(&pointer), &pointer, msg);
    match err.kind() {
        // A task's kind: unknown, missing, or the task is no mapping at all. (The schema picks
        // the fields to check by kind, so these come alone, not with every kind's errors.)
        ValidationErrorKind::Enum { .. }
            if pointer.strip_suffix("/kind").is_some_and(is_task_pointer) =>
        {
            let task = pointer.strip_suffix("/kind").unwrap_or_default();
            let value = source.value.pointer(task).unwrap_or(instance);
            report_kind(source, task, value, out);
        }
        ValidationErrorKind::Required { property }
            if is_task_pointer(&pointer) && property.as_str() == Some("kind") =>
        {
            report_kind(source, &pointer, instance, out);
        }
        ValidationErrorKind::Type { .. } if is_task_pointer(&pointer) => {
            report_kind(source, &pointer, instance, out);
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_properties(&schema_path, instance);
            for key in unexpected {
                let p = format!("{pointer}/{}", escape_segment(key));
                let mut d = Diagnostic::error(
                    &source.path,
                    source.key_pos(&p),
                    &p,
                    format!("unknown field '{key}'"),
                );
                if let Some(s) = did_you_mean(key, allowed.iter().map(String::as_str)) {
                    d = d.with_hint(format!("did you mean '{s}'?"));
                } else if !allowed.is_empty() {
                    d = d.with_hint(format!("allowed here: {}", allowed.join(", ")));
                }
                out.push(d);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(at(format!("missing required field '{name}'")));
        }
        ValidationErrorKind::Type { .. } if schema_path.contains("Duration") => {
            out.push(duration_problem(at, instance));
        }
        ValidationErrorKind::Pattern { pattern } if pattern == DURATION_PATTERN => {
            out.push(duration_problem(at, instance));
        }
        ValidationErrorKind::Pattern { pattern } if pattern == CRON_PATTERN => {
            out.push(at(format!("not a cron expression: {CRON_MESSAGE}")));
        }
        ValidationErrorKind::Type { kind } => {
            let expected = format!("{kind:?}")
                .replace("Single(", "")
                .replace("Multiple(", "")
                .replace(')', "")
                .to_lowercase();
            out.push(at(format!(
                "expected {}, found {}",
                expected.replace(" | null", "").replace("null | ", ""),
                json_type(instance)
            )));
        }
        ValidationErrorKind::Minimum { limit } => {
            out.push(at(format!("{instance} is too small (minimum {limit})")));
        }
        ValidationErrorKind::Maximum { limit } => {
            out.push(at(format!("{instance} is too large (maximum {limit})")));
        }
        ValidationErrorKind::MinItems { .. } => out.push(at("must not be empty".into())),
        ValidationErrorKind::MinLength { .. } => out.push(at("must not be empty".into())),
        ValidationErrorKind::MaxLength { limit } => {
            out.push(at(format!("is longer than {limit} characters")))
        }
        ValidationErrorKind::MinProperties { .. } => {
            out.push(at("needs at least one entry".into()))
        }
        _ => out.push(at(err.to_string())),
    }
}

fn duration_problem(at: impl Fn(String) -> Diagnostic, instance: &serde_json::Value) -> Diagnostic {
    let text = match instance {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match Duration::parse(&text) {
        Err(e) => at(e.to_string()),
        Ok(_) => at(format!(
            "expected a duration string such as '180d', found {}",
            json_type(instance)
        )),
    }
}

fn is_task_pointer(pointer: &str) -> bool {
    pointer
        .strip_prefix("/tasks/")
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
}

/// What is wrong with a task's `kind` (or with the task, when it is not a mapping).
fn report_kind(
    source: &Source,
    pointer: &str,
    task: &serde_json::Value,
    out: &mut Vec<Diagnostic>,
) {
    let kinds = TaskSpec::KINDS;
    let kind = task.get("kind");
    let Some(kind_str) = kind.and_then(|k| k.as_str()) else {
        let msg = if task.is_object() {
            if kind.is_some() {
                "'kind' must be a string".to_string()
            } else {
                "task has no 'kind'".to_string()
            }
        } else {
            format!("a task must be a mapping, found {}", json_type(task))
        };
        out.push(
            Diagnostic::error(&source.path, source.pos(pointer), pointer, msg)
                .with_hint(format!("kind is one of: {}", kinds.join(", "))),
        );
        return;
    };
    let p = format!("{pointer}/kind");
    let mut d = Diagnostic::error(
        &source.path,
        source.pos(&p),
        &p,
        format!("unknown task kind '{kind_str}'"),
    );
    d = match did_you_mean(kind_str, kinds.iter().copied()) {
        Some(s) => d.with_hint(format!("did you mean '{s}'?")),
        None => d.with_hint(format!("kind is one of: {}", kinds.join(", "))),
    };
    out.push(d);
}

/// The property names the schema allows at the object an `additionalProperties` error is
/// about (for "did you mean" hints).
fn allowed_properties(schema_path: &str, instance: &serde_json::Value) -> Vec<String> {
    let schema = job_schema();
    let obj_path = schema_path
        .strip_suffix("/additionalProperties")
        .unwrap_or(schema_path);
    let mut node = &schema;
    for seg in obj_path.split('/').filter(|s| !s.is_empty()) {
        if seg == "$ref" {
            // The path went through a reference: continue in the definition it names.
            let name = node
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.strip_prefix("#/definitions/"))
                .unwrap_or_default();
            node = &schema["definitions"][name];
            continue;
        }
        node = match node {
            serde_json::Value::Object(m) => m.get(seg).unwrap_or(&serde_json::Value::Null),
            serde_json::Value::Array(a) => seg
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .unwrap_or(&serde_json::Value::Null),
            _ => &serde_json::Value::Null,
        };
    }
    // Follow a $ref if the path ended on one.
    if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
        let name = r.trim_start_matches("#/definitions/");
        node = &schema["definitions"][name];
        let props = names_of(node);
        return props;
    }
    let mut props = names_of(node);
    if props.is_empty() {
        if let Some(obj) = instance.as_object() {
            props = obj.keys().cloned().collect();
        }
    }
    props
}

fn names_of(node: &serde_json::Value) -> Vec<String> {
    node.get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().filter(|k| *k != "kind").cloned().collect())
        .unwrap_or_default()
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn diags(yaml: &str) -> Vec<String> {
        let s = Source::parse(Path::new("j.yaml"), yaml).unwrap();
        check_against_schema(&s)
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn valid_file_has_no_errors() {
        let d = diags("version: 1\nname: n\ntasks:\n  - kind: audit_rotate\n    older_than: 180d\n    chunksize: 1000\n  - kind: challenge_cleanup\n");
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn unknown_field_in_task_points_at_the_key_with_a_suggestion() {
        let d = diags("version: 1\nname: n\ntasks:\n  - kind: audit_rotate\n    chunksze: 10\n");
        assert_eq!(
            d,
            vec!["j.yaml:5:5: unknown field 'chunksze' (at /tasks/0/chunksze)\n  hint: did you mean 'chunksize'?"]
        );
    }

    #[test]
    fn bare_number_duration() {
        let d =
            diags("version: 1\nname: n\ntasks:\n  - kind: challenge_cleanup\n    older_than: 30\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("j.yaml:5:17: a duration needs a unit: write e.g. '30d'"),
            "{d:?}"
        );
        assert!(d[0].ends_with("(at /tasks/0/older_than)"), "{d:?}");
    }

    #[test]
    fn unknown_kind_and_missing_fields() {
        let d = diags("version: 2\ntasks:\n  - kind: audit_rotat\n  - name: x\n");
        assert!(
            d.iter()
                .any(|m| m.starts_with("j.yaml:1:10: 2 is too large (maximum 1)")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|m| m.contains("missing required field 'name'")),
            "{d:?}"
        );
        assert!(
            d.iter().any(
                |m| m.starts_with("j.yaml:3:11: unknown task kind 'audit_rotat'")
                    && m.contains("did you mean 'audit_rotate'")
            ),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|m| m.starts_with("j.yaml:4:5: task has no 'kind'")),
            "{d:?}"
        );
    }

    #[test]
    fn chunksize_zero_and_wrong_type() {
        let d = diags("version: 1\nname: n\ntasks:\n  - kind: audit_rotate\n    chunksize: 0\n    watermark: {high: many}\n");
        assert!(
            d.iter().any(|m| m
                .starts_with("j.yaml:5:16: 0 is too small (minimum 1) (at /tasks/0/chunksize)")),
            "{d:?}"
        );
        assert!(
            d.iter().any(
                |m| m.contains("expected integer, found a string (at /tasks/0/watermark/high)")
            ),
            "{d:?}"
        );
    }
}
