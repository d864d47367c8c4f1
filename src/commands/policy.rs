//! privacyIDEA's policy commands: `config policy list|enable|disable|delete|create`,
//! `config export -t policy` and `config import -t policy` (plus the hidden aliases
//! `policy …`, `config exporter`, `config importer`). Changes run as one-task jobs through
//! the executor (task kind `policies`); `list` and `export` only read.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::cli::{
    ConfigExportArgs, ConfigFormatArg, ConfigImportArgs, PolicyCommand, PolicyCreateArgs,
};
use crate::commands::context::{AppError, Globals};
use crate::db::OpenOptions;
use crate::job::diagnostic::Diagnostic;
use crate::job::source::Pos;
use crate::policy::document::{parse_entries, Invalid, PolicyDocument, VersionCheck};
use crate::policy::entry::{parse_entry, Semantics};
use crate::policy::export::{by_priority, export_document, render, ExportFormat};
use crate::policy::rows;
use crate::report;
use crate::tasks::policies::{import_failure_lines, ApplyOp, PoliciesTask, PolicyOp, Voice};
use crate::tasks::{Databases, Task, TaskError};

/// `config policy …` (and the hidden top-level `policy …`).
pub fn policy(globals: &Globals, cmd: &PolicyCommand) -> Result<i32, AppError> {
    match cmd {
        PolicyCommand::List => list(globals),
        PolicyCommand::Enable(a) => set_active(globals, &a.name, true),
        PolicyCommand::Disable(a) => set_active(globals, &a.name, false),
        PolicyCommand::Delete(a) => {
            let task = PoliciesTask {
                name: "config policy delete".into(),
                op: PolicyOp::Delete {
                    policy: a.name.clone(),
                },
            };
            super::run_task(globals, "config policy delete", Task::new(task), false)
        }
        PolicyCommand::Create(a) => create(globals, a),
    }
}

fn set_active(globals: &Globals, name: &str, active: bool) -> Result<i32, AppError> {
    let job = if active {
        "config policy enable"
    } else {
        "config policy disable"
    };
    let task = PoliciesTask {
        name: job.into(),
        op: PolicyOp::SetActive {
            policy: name.to_string(),
            active,
        },
    };
    super::run_task(globals, job, Task::new(task), false)
}

/// Read every stored policy, or the exit code for why not (3: no connection).
fn load_policies(globals: &Globals) -> Result<Result<Vec<rows::ExistingPolicy>, i32>, AppError> {
    let settings = super::installation(globals)?;
    let mut dbs = Databases::new(settings.database.clone(), None, OpenOptions::default());
    let loaded = dbs.main().map_err(TaskError::from).and_then(|conn| {
        crate::tasks::require_tables(conn, rows::TABLES)?;
        Ok(rows::load(conn)?)
    });
    Ok(loaded.map_err(|e| {
        report::print_error(&e.to_string());
        if e.is_connect() {
            3
        } else {
            1
        }
    }))
}

/// `config policy list`: privacyIDEA's table, by priority.
fn list(globals: &Globals) -> Result<i32, AppError> {
    let policies = match load_policies(globals)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let stored: Vec<_> = policies.into_iter().map(|e| e.policy).collect();
    if globals.format == report::Format::Json {
        let list: Vec<Value> = by_priority(&stored)
            .into_iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "scope": p.scope,
                    "active": p.active,
                    "priority": p.priority,
                })
            })
            .collect();
        report::out_line(&serde_json::to_string_pretty(&list).unwrap_or_default());
        return Ok(0);
    }
    if globals.quiet {
        return Ok(0);
    }
    report::print_line(&format!("Active   Name {}Scope", " ".repeat(16)));
    report::print_line(&"=".repeat(40));
    for p in by_priority(&stored) {
        // Python's repr of the `active` column: True, False or None.
        let active = match p.active {
            Some(true) => "True",
            Some(false) => "False",
            None => "None",
        };
        report::print_line(&format!("{active:8} {:20} {}", p.name, p.scope));
    }
    Ok(0)
}

/// The types pi-manage can export/import; anything else is refused rather than silently
/// left out (privacyIDEA's default is every type).
fn check_types(types: &[String], verb: &str) -> Result<(), AppError> {
    if types.is_empty() {
        return Err(AppError::Usage(format!(
            "config {verb}: pi-manage {verb}s policies only; add -t policy"
        )));
    }
    let other: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !t.eq_ignore_ascii_case("policy"))
        .collect();
    if !other.is_empty() {
        return Err(AppError::Usage(format!(
            "config {verb}: pi-manage {verb}s policies only (-t policy); not supported: {}",
            other.join(", ")
        )));
    }
    Ok(())
}

/// `config export -t policy [-f json|yaml] [-o FILE] [-n NAME]`: privacyIDEA's export, byte
/// for byte.
pub fn export(globals: &Globals, args: &ConfigExportArgs) -> Result<i32, AppError> {
    check_types(&args.types, "export")?;
    let policies = match load_policies(globals)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let stored: Vec<_> = policies.into_iter().map(|e| e.policy).collect();
    let doc = export_document(&stored, args.name.as_deref());
    let format = match args.format {
        ConfigFormatArg::Json => ExportFormat::Json,
        ConfigFormatArg::Yaml => ExportFormat::Yaml,
    };
    let text = render(&doc, format);
    if args.censor {
        report::print_error("Secrets have been replaced with '__CENSORED__'. This export can only be re-imported on the same instance.");
    }
    match args.outfile.as_deref().filter(|p| p != &Path::new("-")) {
        None => {
            return Ok(report::product_exit_code(
                "config export",
                report::write_stdout(&text),
            ))
        }
        Some(path) => {
            if let Err(e) = write_file(path, &text) {
                report::print_error(&format!("cannot write {}: {e}", path.display()));
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// Write through a temporary file and rename it, so no half-written export is left under the
/// final name.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `config import -t policy [-i FILE] [-n NAME] [--skip-invalid]`: all or nothing, in one
/// transaction, unless `--skip-invalid`.
pub fn import(globals: &Globals, args: &ConfigImportArgs) -> Result<i32, AppError> {
    check_types(&args.types, "import")?;
    let (path, text) = match &args.input {
        Some(p) if p != Path::new("-") => {
            match crate::input_file::read_text(p, crate::input_file::MAX_DOCUMENT) {
                Ok(t) => (p.clone(), t),
                Err(e) => {
                    let (line, column) = e.line_column();
                    return Err(AppError::Usage(format!(
                        "{}:{line}:{column}: cannot read the policy file: {e}",
                        p.display()
                    )));
                }
            }
        }
        _ => match crate::input_file::read_stdin_text(crate::input_file::MAX_DOCUMENT) {
            Ok(t) => (PathBuf::from("<stdin>"), t),
            Err(e) => {
                let (line, column) = e.line_column();
                return Err(AppError::Usage(format!(
                    "<stdin>:{line}:{column}: cannot read standard input: {e}"
                )));
            }
        },
    };
    let unreadable = |d: Option<Diagnostic>| -> Result<i32, AppError> {
        report::print_line("Could not determine input format! ");
        report::print_line("Accepted formats are: json, yaml, python.");
        if let Some(d) = d {
            report::print_diagnostics(&[d]);
        }
        Ok(2)
    };
    let doc = match PolicyDocument::parse(&path, &text) {
        Ok(d) => d,
        Err(d) => return unreadable(Some(d)),
    };
    // privacyIDEA refuses "falsy" data (an empty file, {}, [], "", 0, null).
    let falsy = match &doc.value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    };
    if falsy {
        let what = match &doc.value {
            Value::Null if text.trim().is_empty() => "the file is empty",
            Value::Null => "the file holds only null",
            Value::Bool(_) => "the file holds only false",
            Value::Number(_) => "the file holds only 0",
            Value::String(_) => "the file holds only an empty string",
            Value::Array(_) => "the file holds only an empty list",
            Value::Object(_) => "the file holds only an empty mapping",
        };
        return unreadable(Some(
            doc.error("", format!("{what}: there are no policies to import"))
                .with_hint("privacyIDEA's export (pi-manage config export -t policy) or a YAML list of policies"),
        ));
    }
    let version_warning = |first: String| {
        report::print_line(&first);
        report::print_line("Please make sure that the imported configuration works as expected.");
    };
    match doc.version() {
        VersionCheck::Missing => {
            version_warning("Unable to determine the version of exported data.".into())
        }
        VersionCheck::Differs(v) => version_warning(format!(
            "Version of export ({v}) does not match current privacyIDEA version ({}).",
            crate::policy::document::PRIVACYIDEA_VERSION
        )),
        VersionCheck::Matches | VersionCheck::NotAnExport => {}
    }
    match &doc.value {
        // privacyIDEA reads a bare YAML scalar as data without any type: nothing to import.
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            if doc.version() == VersionCheck::NotAnExport {
                version_warning("Unable to determine the version of exported data.".into());
            }
            return Ok(0);
        }
        Value::Object(m) if !m.contains_key("policy") && !m.contains_key("policies") => {
            // Nothing of the selected type in the file.
            return Ok(0);
        }
        _ => {}
    }
    let list = match doc.policy_list() {
        Ok(l) => l,
        Err(d) => {
            report::print_diagnostics(&[d]);
            return Ok(2);
        }
    };
    let (mut entries, mut invalid) =
        parse_entries(list.items, &list.pointer, false, &doc.path, &|p| doc.pos(p));
    if let Some(name) = &args.name {
        entries.retain(|e| &e.name == name);
        invalid.retain(|i| i.name.as_deref() == Some(name));
    }
    // A name given twice would be applied twice; the second is refused.
    let mut seen: Map<String, Value> = Map::new();
    entries.retain(|e| match seen.get(&e.name) {
        Some(first) => {
            invalid.push(Invalid {
                name: Some(e.name.clone()),
                at: e.at.clone(),
                diagnostics: vec![Diagnostic::error(
                    "",
                    Pos { line: 1, column: 1 },
                    "",
                    format!(
                        "{}: policy '{}' is given twice (first at {})",
                        e.at,
                        e.name,
                        first.as_str().unwrap_or_default()
                    ),
                )],
            });
            false
        }
        None => {
            seen.insert(e.name.clone(), e.at.clone().into());
            true
        }
    });
    if !invalid.is_empty() && !args.skip_invalid {
        report::print_line("Importing configuration type 'policy'.");
        for i in &invalid {
            report::print_diagnostics(&i.diagnostics);
        }
        let total = entries.len() + invalid.len();
        for line in import_failure_lines(&format!(
            "{} of {total} policies {} invalid; nothing was imported",
            invalid.len(),
            if invalid.len() == 1 { "is" } else { "are" }
        )) {
            report::print_line(&line);
        }
        return Ok(2);
    }
    let task = PoliciesTask {
        name: "config import".into(),
        op: PolicyOp::Apply(ApplyOp {
            entries,
            semantics: Semantics::Upsert,
            prune: false,
            skip_invalid: args.skip_invalid,
            skipped: invalid,
            voice: Voice::Import,
        }),
    };
    super::run_task(globals, "config import", Task::new(task), args.dryrun)
}

/// `config policy create NAME SCOPE ACTION [-f FILE]`: privacyIDEA's `set_policy`; a Python
/// dict in FILE takes precedence over the arguments (with privacyIDEA's messages saying so).
fn create(globals: &Globals, args: &PolicyCreateArgs) -> Result<i32, AppError> {
    let mut fields = Map::new();
    let (file, pos): (PathBuf, Option<PolicyDocument>) = match &args.file {
        None => {
            fields.insert("name".into(), args.name.clone().into());
            fields.insert("scope".into(), args.scope.clone().into());
            fields.insert("action".into(), args.action.clone().into());
            (PathBuf::new(), None)
        }
        Some(path) => {
            let failed = |why: String| -> Result<i32, AppError> {
                report::print_error(&format!(
                    "Could not create the policy from the file {}: {why}",
                    path.display()
                ));
                Ok(2)
            };
            let doc = match PolicyDocument::read(path) {
                Ok(d) => d,
                Err(d) => return failed(d.to_string()),
            };
            let Value::Object(map) = &doc.value else {
                return failed("the file must hold a dictionary".into());
            };
            fields = map.clone();
            for (key, cli) in [
                ("name", &args.name),
                ("scope", &args.scope),
                ("action", &args.action),
            ] {
                match fields.get(key).filter(|v| truthy(v)) {
                    Some(v) if v.as_str() != Some(cli.as_str()) => {
                        let shown = match v {
                            Value::String(s) => s.clone(),
                            other => py_repr(other),
                        };
                        report::print_line(&if key == "action" {
                            format!("Found action in file: '{shown}', will use that instead of: '{cli}'.")
                        } else {
                            format!(
                                "Found {key} '{shown}' in file, will use that instead of '{cli}'."
                            )
                        });
                    }
                    _ => {
                        report::print_line(&format!(
                            "{key} not defined in file, will use the cli value {cli}."
                        ));
                        fields.insert(key.into(), cli.clone().into());
                    }
                }
            }
            // privacyIDEA passes these two with their defaults when the file has none.
            fields.entry("active").or_insert(Value::Bool(true));
            fields
                .entry("check_all_resolvers")
                .or_insert(Value::Bool(false));
            (path.clone(), Some(doc))
        }
    };
    let value = Value::Object(fields);
    let pos_of = |p: &str| {
        pos.as_ref()
            .map(|d| d.pos(p))
            .unwrap_or(Pos { line: 1, column: 1 })
    };
    let locate = |p: &str| match &args.file {
        Some(f) => {
            let at = pos_of(p);
            format!("{}:{}:{}", f.display(), at.line, at.column)
        }
        None => "the command line".to_string(),
    };
    let entry = match parse_entry(&value, false, &locate) {
        Ok(e) => e,
        Err(problems) => {
            let diags: Vec<Diagnostic> = problems
                .into_iter()
                .map(|p| {
                    let mut d = Diagnostic::error(&file, pos_of(&p.pointer), &p.pointer, p.message);
                    d.hint = p.hint;
                    d
                })
                .collect();
            report::print_diagnostics(&diags);
            if let Some(path) = &args.file {
                report::print_error(&format!(
                    "Could not create the policy from the file {}: the policy is invalid",
                    path.display()
                ));
            }
            return Ok(2);
        }
    };
    let entries = vec![entry];
    let task = PoliciesTask {
        name: "config policy create".into(),
        op: PolicyOp::Apply(ApplyOp {
            entries,
            semantics: Semantics::Upsert,
            prune: false,
            skip_invalid: false,
            skipped: Vec::new(),
            voice: Voice::Create,
        }),
    };
    super::run_task(globals, "config policy create", Task::new(task), false)
}

/// Python's truth value of a literal.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `repr` of a literal, for privacyIDEA's "Found action in file" message.
fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) if n.is_f64() => crate::pytext::float_repr(n.as_f64().unwrap_or_default()),
        Value::Number(n) => n.to_string(),
        Value::String(s) => crate::pytext::str_repr(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_repr() {
        assert_eq!(
            py_repr(&json!({"enable": true, "n": 3, "s": "it's", "l": [null, false]})),
            r#"{'enable': True, 'n': 3, 's': "it's", 'l': [None, False]}"#
        );
    }
}
