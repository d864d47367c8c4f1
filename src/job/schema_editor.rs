//! What the job-file schema carries for editors (yaml-language-server and the editors built on
//! it): a `$id`, a `markdownDescription` with an example on every field and every task kind,
//! `examples` and `default` values, `enumDescriptions` for enumerations, and messages in words
//! (`patternErrorMessage`, `errorMessage`) where a validator's own would show a regex or list
//! too little. Added to the schemars output by [`annotate`]; validators ignore these keywords,
//! and the executor's check (`super::schema`) reads `patternErrorMessage` for its own messages.

use serde_json::{json, Map, Value};

use crate::tasks::TaskSpec;

/// The schema's identifier (a URN: it names the schema, it is not fetched).
pub const SCHEMA_ID: &str = "urn:pi-manage:job-file:v1";

/// The words for a duration that does not match its pattern.
pub const DURATION_MESSAGE: &str = "A duration is a whole number and a unit, without a space: s (seconds), m (minutes), h (hours), d (days) or w (weeks) — for example 90s, 10m, 36h, 180d or 2w. Write '3 days' as 3d.";

/// What a `schedule` must look like (the cron parser checks the fields themselves).
pub const CRON_PATTERN: &str = r"^\s*(@[a-z]+|[0-9A-Za-z*/,?-]+(\s+[0-9A-Za-z*/,?-]+){4,5})\s*$";

/// The words for a schedule that does not match [`CRON_PATTERN`].
pub const CRON_MESSAGE: &str = "A schedule is a cron expression of 5 fields, 'minute hour day-of-month month day-of-week' (for example '30 2 * * *' for 02:30 every day, '*/15 * * * *' for every 15 minutes), 6 fields with a leading seconds field when schedule_seconds is true, or one of @hourly, @daily, @weekly, @monthly, @yearly.";

/// Example values by field name: the YAML written after `field: ` (indented lines follow for
/// lists and mappings).
fn example_yaml(field: &str) -> Option<&'static str> {
    Some(match field {
        "version" => "1",
        "name" => "nightly",
        "description" => "Nightly housekeeping: audit rotation and expired challenges",
        "connection" => "\n  picfg: /etc/privacyidea/pi.cfg",
        "picfg" => "/etc/privacyidea/pi.cfg",
        "database" => "postgresql://pi@db.example.org/pi",
        "audit_database" => "postgresql://pi@db.example.org/pi_audit",
        "schedule" => "'30 2 * * *'",
        "timezone" => "Europe/Berlin",
        "schedule_seconds" => "true",
        "catch_up" => "skip",
        "max_lateness" => "2h",
        "timeout" => "1h",
        "dryrun" => "true",
        "tasks" => "\n  - kind: challenge_cleanup\n    chunksize: 5000",
        "older_than" => "180d",
        "chunksize" => "10000",
        "watermark" => "\n  high: 10000\n  low: 5000",
        "high" => "10000",
        "low" => "5000",
        "rules" => "\n  - older_than: 30d\n    match:\n      action: ^POST /validate/check$",
        "rules_file" => "audit-rules/privacyidea-rules.yaml",
        "match" => "\n  action: ^POST /validate/check$\n  success: ^1$",
        "path" => "/etc/privacyidea/enckey",
        "keysize" => "4096",
        "private_key" => "/etc/privacyidea/private.pem",
        "public_key" => "/etc/privacyidea/public.pem",
        "username" => "admin",
        "state" => "absent",
        "email" => "admin@example.org",
        "password_file" => "/etc/privacyidea/admin.password",
        "password_env" => "PI_ADMIN_PASSWORD",
        "update_password" => "true",
        "realm" => "API",
        "role" => "validate",
        "validity" => "365d",
        "renew_before" => "30d",
        "file" => "/etc/privacyidea/api.token",
        "since" => "7d",
        "allow_unsigned" => "true",
        "directory" => "/var/backups/privacyidea",
        "format" => "tgz",
        "retention" => "\n  keep_daily: 7\n  keep_weekly: 4",
        "keep_last" => "3",
        "keep_daily" => "7",
        "keep_weekly" => "4",
        "keep_monthly" => "12",
        "max_age" => "365d",
        "include_enckey" => "true",
        "config_dir" => "/etc/privacyidea",
        "radius_dir" => "/etc/freeradius",
        "files" => "\n  - /etc/privacyidea/logging.cfg",
        "prune" => "true",
        "node" => "pi-node-1",
        "time_zone" => "Europe/Berlin",
        "keep" => "5",
        "unused_for" => "30d",
        "purge" => "locks",
        "compress" => "xz",
        "compression_level" => "6",
        "timelimit" => "5m",
        "mode" => "exact",
        "policies" => "\n  - name: helpdesk\n    scope: admin\n    action: [enable, disable]\n    realm: [helpdesk]",
        "scope" => "admin",
        "action" => "[enable, disable]",
        "active" => "false",
        "priority" => "2",
        "realm_list" => "[helpdesk]",
        "adminrealm" => "[helpdesk]",
        "adminuser" => "[alice]",
        "resolver" => "[ldap]",
        "user" => "[bob]",
        "pinode" => "[pi1]",
        "client" => "[10.0.0.0/8]",
        "user_agents" => "[privacyidea-cp]",
        "time" => "'Mon-Fri: 08:00-18:00'",
        "check_all_resolvers" => "true",
        "user_case_insensitive" => "true",
        "conditions" => "\n  - [userinfo, groups, contains, admins, true, raise_error]",
        "section" => "userinfo",
        "key" => "groups",
        "comparator" => "contains",
        "value" => "admins",
        "handle_missing_data" => "raise_error",
        _ => return None,
    })
}

/// Defaults the schemars output does not carry (they live in serde attributes or code).
fn known_default(field: &str) -> Option<Value> {
    Some(match field {
        "catch_up" => json!("once"),
        "max_lateness" => json!("1h"),
        "schedule_seconds" | "dryrun" | "update_password" | "allow_unsigned" => json!(false),
        "state" => json!("present"),
        _ => return None,
    })
}

/// Add the editor keywords to the generated schema (see the module header).
pub fn annotate(schema: &mut Value) {
    if let Some(root) = schema.as_object_mut() {
        // `$schema` first, then `$id`, as people read it.
        let rest = std::mem::take(root);
        for (k, v) in rest {
            let is_schema = k == "$schema";
            root.insert(k, v);
            if is_schema {
                root.insert("$id".into(), json!(SCHEMA_ID));
            }
        }
        if !root.contains_key("$id") {
            root.insert("$id".into(), json!(SCHEMA_ID));
        }
    }
    if let Some(d) = schema.pointer_mut("/definitions/Duration") {
        d["patternErrorMessage"] = json!(DURATION_MESSAGE);
        d["errorMessage"] = json!(DURATION_MESSAGE);
        d["markdownDescription"] = json!(format!(
            "{}\n\n```yaml\nolder_than: 180d\n```",
            d["description"].as_str().unwrap_or_default()
        ));
    }
    if let Some(s) = schema.pointer_mut("/properties/schedule") {
        s["pattern"] = json!(CRON_PATTERN);
        s["patternErrorMessage"] = json!(CRON_MESSAGE);
    }
    let definitions = schema["definitions"].clone();
    annotate_properties(schema, &definitions, "");
    if let Some(Value::Object(defs)) = schema.get_mut("definitions") {
        for (name, def) in defs.iter_mut() {
            if name == "TaskSpec" {
                continue;
            }
            enum_descriptions(def);
            annotate_properties(def, &definitions, "");
        }
    }
    if let Some(Value::Array(kinds)) = schema.pointer_mut("/definitions/TaskSpec/oneOf") {
        for kind in kinds.iter_mut() {
            // Every kind takes the fields of a job file's task entry (`JobTask`).
            if let Some(Value::Object(props)) = kind.get_mut("properties") {
                props.insert("schedule".into(), super::job_task::schedule_property());
            }
            annotate_kind(kind, &definitions);
        }
    }
    kind_enum(schema);
    discriminate_by_kind(schema);
}

/// schemars describes the tasks as a `oneOf` of one object per kind. A validator then tries
/// every kind against a task and reports the errors of the kinds that fit best — for a
/// misspelt `kind`, "must be one of" the few kinds that share the task's other fields. As
/// `if kind is K then K's fields` per kind, only the task's own kind applies, and a task whose
/// kind is unknown gets the one message that lists them all.
fn discriminate_by_kind(schema: &mut Value) {
    let Some(task) = schema.pointer_mut("/definitions/TaskSpec") else {
        return;
    };
    let Some(Value::Array(kinds)) = task.as_object_mut().and_then(|t| t.remove("oneOf")) else {
        return;
    };
    let branches: Vec<Value> = kinds
        .into_iter()
        .map(|kind| {
            let name = kind.pointer("/properties/kind/const").cloned();
            json!({
                "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                "then": kind,
            })
        })
        .collect();
    task["required"] = json!(["kind"]);
    task["allOf"] = Value::Array(branches);
}

/// Every kind, with its description: an editor completes `kind:` from it, and an unknown kind
/// is answered with the whole list (the executor words its own message, with a "did you mean").
fn kind_enum(schema: &mut Value) {
    let Some(task) = schema.pointer_mut("/definitions/TaskSpec") else {
        return;
    };
    let descriptions: Vec<Value> = task["oneOf"]
        .as_array()
        .map(|kinds| {
            kinds
                .iter()
                .map(|k| {
                    json!(k["description"]
                        .as_str()
                        .unwrap_or_default()
                        .replace('\n', " "))
                })
                .collect()
        })
        .unwrap_or_default();
    task["type"] = json!("object");
    task["properties"] = json!({
        "kind": {
            "description": "What the task does. Each kind takes its own fields.",
            "type": "string",
            "enum": TaskSpec::KINDS,
            "enumDescriptions": descriptions,
            "markdownEnumDescriptions": descriptions,
            "errorMessage": format!("Unknown task kind. The kinds are: {}.", TaskSpec::KINDS.join(", ")),
        }
    });
}

/// `markdownDescription` (with an example), `examples` and `default` on every property of
/// `node`; `indent` is where the example's key sits.
fn annotate_properties(node: &mut Value, definitions: &Value, indent: &str) {
    let Some(Value::Object(props)) = node.get_mut("properties") else {
        return;
    };
    for (field, prop) in props.iter_mut() {
        if field == "kind" {
            continue;
        }
        let Some(p) = prop.as_object_mut() else {
            continue;
        };
        let description = p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace('\n', " ");
        let example = example_yaml(field)
            .map(str::to_string)
            .or_else(|| fallback_example(p, definitions));
        if let Some(example) = &example {
            let sep = if example.starts_with('\n') { "" } else { " " };
            let snippet =
                format!("{indent}{field}:{sep}{example}").replace('\n', &format!("\n{indent}"));
            p.insert(
                "markdownDescription".into(),
                json!(format!(
                    "{description}\n\nExample:\n```yaml\n{snippet}\n```"
                )),
            );
            if !p.contains_key("examples") && !example.starts_with('\n') {
                if let Ok(v) = yaml_rust2::YamlLoader::load_from_str(example) {
                    if let Some(v) = v.first().and_then(yaml_to_json) {
                        p.insert("examples".into(), json!([v]));
                    }
                }
            }
        } else if !description.is_empty() {
            p.insert("markdownDescription".into(), json!(description));
        }
        if !p.contains_key("default") {
            if let Some(d) = known_default(field) {
                p.insert("default".into(), d);
            }
        }
        // Nested mappings and lists of mappings (watermark, rules, retention, policies).
        annotate_properties(prop, definitions, indent);
        if let Some(items) = prop.get_mut("items") {
            annotate_properties(items, definitions, indent);
        }
    }
}

/// An example for a field the table does not know, from its schema.
fn fallback_example(p: &Map<String, Value>, definitions: &Value) -> Option<String> {
    if let Some(e) = p.get("examples").and_then(|e| e.get(0)) {
        return Some(match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    let target = p
        .get("allOf")
        .and_then(|a| a.get(0))
        .and_then(|r| r.get("$ref"))
        .or_else(|| p.get("$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/definitions/"))
        .map(|name| &definitions[name]);
    if let Some(def) = target {
        if let Some(v) = def.get("enum").and_then(|e| e.get(0)) {
            return v.as_str().map(str::to_string);
        }
        if let Some(v) = def.pointer("/oneOf/0/const") {
            return v.as_str().map(str::to_string);
        }
        if let Some(v) = def.pointer("/examples/0") {
            return v.as_str().map(str::to_string);
        }
    }
    match p.get("type").and_then(Value::as_str) {
        Some("boolean") => Some("true".into()),
        Some("integer") => Some(
            p.get("minimum")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .to_string(),
        ),
        _ => None,
    }
}

/// A task kind: an example task in its `markdownDescription`, a description on its `kind`
/// (shown when completing the value), and, for a field it does not take, a message that lists
/// the fields it does.
fn annotate_kind(kind: &mut Value, definitions: &Value) {
    annotate_properties(kind, definitions, "");
    let Some(name) = kind
        .pointer("/properties/kind/const")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let description = kind["description"]
        .as_str()
        .unwrap_or_default()
        .replace('\n', " ");
    let required: Vec<String> = kind["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .filter(|f| *f != "kind")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let fields: Vec<String> = kind["properties"]
        .as_object()
        .map(|p| p.keys().filter(|k| *k != "kind").cloned().collect())
        .unwrap_or_default();
    // The example: the required fields, else the first of the kind's own fields.
    let shown: Vec<&String> = if required.is_empty() {
        fields
            .iter()
            .filter(|f| *f != "name" && *f != "schedule")
            .take(1)
            .collect()
    } else {
        required.iter().collect()
    };
    let mut example = format!("tasks:\n  - kind: {name}\n");
    for f in shown {
        let value = example_yaml(f)
            .map(str::to_string)
            .or_else(|| {
                kind["properties"][f.as_str()]
                    .as_object()
                    .and_then(|p| fallback_example(p, definitions))
            })
            .unwrap_or_else(|| "…".into());
        let sep = if value.starts_with('\n') { "" } else { " " };
        example.push_str(&format!("    {f}:{sep}{}\n", value.replace('\n', "\n    ")));
    }
    kind["markdownDescription"] = json!(format!(
        "**`kind: {name}`** — {description}\n\nExample:\n```yaml\n{example}```"
    ));
    let listed = fields
        .iter()
        .map(|f| {
            if required.contains(f) {
                format!("{f} (required)")
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let takes = if listed.is_empty() {
        "no other fields".to_string()
    } else {
        listed
    };
    kind["errorMessage"] = json!(format!(
        "A '{name}' task takes only these fields besides kind: {takes}. Check the spelling (e.g. 'chunksize', not 'chunk_size') or move the field to the task kind that takes it."
    ));
    if let Some(k) = kind.pointer_mut("/properties/kind") {
        k["description"] = json!(format!("The task kind: {description}"));
        k["markdownDescription"] = json!(format!("The task kind `{name}`: {description}"));
    }
}

/// String enumerations: the `oneOf` of documented constants schemars makes from documented
/// variants becomes an `enum` with `enumDescriptions`, which editors show when completing.
fn enum_descriptions(def: &mut Value) {
    let Some(Value::Array(alts)) = def.get("oneOf") else {
        return;
    };
    let consts: Option<Vec<(Value, String)>> = alts
        .iter()
        .map(|a| {
            let c = a.get("const").filter(|c| c.is_string())?.clone();
            let d = a
                .get("description")
                .and_then(Value::as_str)?
                .replace('\n', " ");
            Some((c, d))
        })
        .collect();
    let Some(consts) = consts else {
        return;
    };
    let Some(obj) = def.as_object_mut() else {
        return;
    };
    obj.remove("oneOf");
    obj.insert("type".into(), json!("string"));
    obj.insert(
        "enum".into(),
        Value::Array(consts.iter().map(|(c, _)| c.clone()).collect()),
    );
    obj.insert(
        "enumDescriptions".into(),
        Value::Array(consts.iter().map(|(_, d)| json!(d)).collect()),
    );
    obj.insert(
        "markdownEnumDescriptions".into(),
        Value::Array(consts.iter().map(|(_, d)| json!(d)).collect()),
    );
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Option<Value> {
    use yaml_rust2::Yaml;
    Some(match y {
        Yaml::String(s) => json!(s),
        Yaml::Integer(i) => json!(i),
        Yaml::Boolean(b) => json!(b),
        Yaml::Real(r) => json!(r.parse::<f64>().ok()?),
        Yaml::Array(a) => Value::Array(a.iter().filter_map(yaml_to_json).collect()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::schema::job_schema;

    /// Every property of every object in the schema, with its path.
    fn properties(node: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get("properties") {
                    for (k, v) in props {
                        out.push((format!("{path}/{k}"), v.clone()));
                    }
                }
                for (k, v) in map {
                    properties(v, &format!("{path}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    properties(v, &format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_field_has_an_example_that_validates() {
        let schema = job_schema();
        let mut props = Vec::new();
        properties(&schema, "", &mut props);
        assert!(props.len() > 100, "{}", props.len());
        for (path, prop) in props {
            if path.ends_with("/kind") {
                // The `if` that selects a kind's fields needs no words; the others have them.
                assert!(
                    path.contains("/if/") || prop.get("description").is_some(),
                    "{path}"
                );
                continue;
            }
            assert!(prop["description"].is_string(), "{path} has no description");
            let md = prop["markdownDescription"].as_str().unwrap_or_default();
            assert!(md.contains("Example:\n```yaml\n"), "{path}: {md}");
            let mut alone = prop.clone();
            alone["definitions"] = schema["definitions"].clone();
            let validator = jsonschema::draft7::new(&alone).unwrap();
            for example in prop["examples"].as_array().into_iter().flatten() {
                let errors: Vec<String> = validator
                    .iter_errors(example)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{path}: example {example}: {errors:?}");
            }
        }
    }

    #[test]
    fn every_kind_has_an_example_task_that_validates() {
        let schema = job_schema();
        let kinds = schema["definitions"]["TaskSpec"]["allOf"]
            .as_array()
            .unwrap();
        assert_eq!(kinds.len(), TaskSpec::KINDS.len());
        for (branch, name) in kinds.iter().zip(TaskSpec::KINDS) {
            assert_eq!(branch["if"]["properties"]["kind"]["const"], *name);
            let kind = &branch["then"];
            let md = kind["markdownDescription"].as_str().unwrap();
            let yaml = md
                .split("```yaml\n")
                .nth(1)
                .and_then(|s| s.split("```").next())
                .unwrap_or_else(|| panic!("{name}: no example in {md}"));
            let file = format!("version: 1\nname: example\n{yaml}");
            let source =
                crate::job::source::Source::parse(std::path::Path::new("e.yaml"), &file).unwrap();
            let problems = crate::job::schema::check_against_schema(&source);
            assert!(problems.is_empty(), "{name}:\n{file}\n{problems:?}");
            assert!(kind["errorMessage"].as_str().unwrap().contains(name));
        }
    }

    #[test]
    fn enumerations_describe_their_values() {
        let schema = job_schema();
        let catch_up = &schema["definitions"]["CatchUp"];
        assert_eq!(catch_up["enum"], json!(["skip", "once"]));
        let descriptions = catch_up["enumDescriptions"].as_array().unwrap();
        assert_eq!(descriptions.len(), 2);
        assert!(descriptions[1].as_str().unwrap().contains("max_lateness"));
        assert_eq!(schema["properties"]["catch_up"]["default"], "once");
        assert_eq!(schema["$id"], SCHEMA_ID);
        let kinds = &schema["definitions"]["TaskSpec"]["properties"]["kind"];
        assert_eq!(kinds["enum"], json!(TaskSpec::KINDS));
        assert_eq!(
            kinds["enumDescriptions"].as_array().unwrap().len(),
            TaskSpec::KINDS.len()
        );
    }

    #[test]
    fn the_cron_pattern_admits_what_the_parser_reads_and_rejects_wrong_field_counts() {
        let re = regex::Regex::new(CRON_PATTERN).unwrap();
        for ok in [
            "30 2 * * *",
            "*/15 * * * *",
            "0 8-18/2 * * mon-fri",
            "*/10 * * * * *",
            "@daily",
            "0 0 1,15 JAN,JUL ?",
        ] {
            assert!(re.is_match(ok), "{ok}");
        }
        for bad in ["30 2 * *", "", "every day", "1 2 3 4 5 6 7"] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
