//! Loading a job file all the way to a [`ValidJob`]: read, parse with positions, check
//! against the schema, deserialise, then the semantic checks the schema cannot express
//! (duplicate task names, one rotation mode per task, regexes, cron syntax, time zones,
//! database URLs, files that must exist). Every problem is collected; nothing runs unless
//! the list of errors is empty.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::diagnostic::{did_you_mean, Diagnostic};
use super::model::JobFile;
use super::schema::check_against_schema;
use super::source::{Pos, Source};
use crate::dburl::DbUrl;
use crate::scheduler::cron::CronExpr;
use crate::tasks::{self, Task, TaskSite};

/// A job file that passed every check, with its tasks prepared.
#[derive(Debug)]
pub struct ValidJob {
    pub path: PathBuf,
    pub file: JobFile,
    pub tasks: Vec<Task>,
    pub warnings: Vec<Diagnostic>,
    /// Directory of the job file; relative paths in it are resolved against it.
    pub base_dir: PathBuf,
}

impl ValidJob {
    /// What to read this job's installation settings from: its `connection` (a relative
    /// `picfg` is relative to the job file), else `fallback_picfg` (`--picfg`).
    pub fn settings_request(
        &self,
        fallback_picfg: Option<&Path>,
    ) -> crate::settings::SettingsRequest {
        let conn = self.file.connection.clone().unwrap_or_default();
        crate::settings::SettingsRequest {
            explicit_picfg: conn
                .picfg
                .map(|p| {
                    if p.is_absolute() {
                        p
                    } else {
                        self.base_dir.join(p)
                    }
                })
                .or_else(|| fallback_picfg.map(Path::to_path_buf)),
            database: conn.database,
            audit_database: conn.audit_database,
            picfg_python: None,
        }
    }
}

/// Load and check one job file. `Err` holds every problem found (warnings included).
pub fn load_job(path: &Path) -> Result<ValidJob, Vec<Diagnostic>> {
    let text =
        crate::input_file::read_text(path, crate::input_file::MAX_DOCUMENT).map_err(|e| {
            let (line, column) = e.line_column();
            vec![Diagnostic::error(
                path,
                Pos { line, column },
                "",
                format!("cannot read job file: {e}"),
            )]
        })?;
    check_job_text(path, &text)
}

/// Every duration-shaped string (`3000000d`) beyond the one range of ages, and every whole
/// number too large for 64 bits (YAML reads those as floats), with its place.
fn out_of_range_values(source: &Source) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let mut todo = vec![(String::new(), &source.value)];
    while let Some((pointer, value)) = todo.pop() {
        match value {
            serde_json::Value::String(s) => {
                if let Err(e @ super::duration::DurationError::TooLarge(_)) =
                    super::duration::Duration::parse(s)
                {
                    found.push(Diagnostic::error(
                        &source.path,
                        source.pos(&pointer),
                        &pointer,
                        e.to_string(),
                    ));
                }
            }
            serde_json::Value::Number(n)
                if n.is_f64()
                    && n.as_f64()
                        .is_some_and(|f| f.fract() == 0.0 && f.abs() >= 9.2e18) =>
            {
                found.push(Diagnostic::error(
                    &source.path,
                    source.pos(&pointer),
                    &pointer,
                    format!(
                        "the number {n} is out of range (allowed: up to {})",
                        i64::MAX
                    ),
                ));
            }
            serde_json::Value::Array(items) => todo.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{pointer}/{i}"), v)),
            ),
            serde_json::Value::Object(map) => todo.extend(
                map.iter()
                    .map(|(k, v)| (format!("{pointer}/{}", super::source::escape_segment(k)), v)),
            ),
            _ => {}
        }
    }
    found.sort_by_key(|d| (d.line, d.column));
    found
}

/// The cron expressions (the job's and each task's) and the time zone, read from the raw
/// document so that their errors are reported even when the schema check found others.
fn check_schedule(source: &Source, diags: &mut Vec<Diagnostic>) {
    let path = &source.path;
    let err = |ptr: &str, msg: String| Diagnostic::error(path, source.pos(ptr), ptr, msg);
    let with_seconds = source.value.get("schedule_seconds") == Some(&true.into());
    let mut pointers = vec!["/schedule".to_string()];
    if let Some(tasks) = source.value.get("tasks").and_then(|t| t.as_array()) {
        pointers.extend((0..tasks.len()).map(|i| format!("/tasks/{i}/schedule")));
    }
    for ptr in pointers {
        let Some(expr) = source.value.pointer(&ptr).and_then(|v| v.as_str()) else {
            continue;
        };
        let parsed = if with_seconds {
            CronExpr::parse_with_seconds(expr)
        } else {
            CronExpr::parse(expr)
        };
        if let Err(e) = parsed {
            let hint = if with_seconds {
                "write 6 fields (schedule_seconds is true), e.g. '0 30 2 * * *' for 02:30 every day"
            } else {
                "write 5 fields, e.g. '30 2 * * *' for 02:30 every day, or @daily"
            };
            diags.push(err(&ptr, format!("invalid schedule '{expr}': {e}")).with_hint(hint));
        }
    }
    if let Some(tz) = source.value.get("timezone").and_then(|v| v.as_str()) {
        if chrono_tz::Tz::from_str(tz).is_err() {
            let mut d = err("/timezone", format!("unknown time zone '{tz}'"));
            let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
            d = match did_you_mean(tz, names) {
                Some(s) => d.with_hint(format!("did you mean '{s}'?")),
                None => d.with_hint("use an IANA name such as Europe/Berlin or UTC"),
            };
            diags.push(d);
        }
    }
}

/// How the job's schedule and the tasks' fit together: when some tasks have a schedule of
/// their own, a task without one runs on the job's, so the job needs one (else the scheduler
/// would never run that task); a job schedule no task runs on is pointed out.
fn check_task_schedules(file: &JobFile, source: &Source, diags: &mut Vec<Diagnostic>) {
    let own = file.tasks.iter().filter(|t| t.schedule.is_some()).count();
    if own == 0 {
        return;
    }
    if file.schedule.is_none() {
        for (i, t) in file.tasks.iter().enumerate() {
            if t.schedule.is_none() {
                let ptr = format!("/tasks/{i}");
                diags.push(
                    Diagnostic::error(
                        &source.path,
                        source.pos(&ptr),
                        &ptr,
                        format!(
                            "task '{}' has no schedule, and the job has none for it to run on: `pi-manage schedule` would never run it",
                            t.name()
                        ),
                    )
                    .with_hint("give the task a 'schedule', or give the job one"),
                );
            }
        }
    } else if own == file.tasks.len() {
        diags.push(
            Diagnostic::warning(
                &source.path,
                source.pos("/schedule"),
                "/schedule",
                "every task has a schedule of its own, so no task runs on the job's schedule",
            )
            .with_hint(
                "remove the job's 'schedule', or the schedule of the tasks that should run on it",
            ),
        );
    }
}

/// Job and task names end up in reports, logs, the scheduler's ledger and file names:
/// control characters (NUL, newlines, escape sequences) are refused.
fn check_names(source: &Source, diags: &mut Vec<Diagnostic>) {
    let mut names = vec!["/name".to_string()];
    if let Some(tasks) = source.value.get("tasks").and_then(|t| t.as_array()) {
        names.extend((0..tasks.len()).map(|i| format!("/tasks/{i}/name")));
    }
    for ptr in names {
        let Some(name) = source.value.pointer(&ptr).and_then(|v| v.as_str()) else {
            continue;
        };
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            diags.push(
                Diagnostic::error(
                    &source.path,
                    source.pos(&ptr),
                    &ptr,
                    format!(
                        "the name contains the control character {:?}; names are shown in reports and logs",
                        c
                    ),
                )
                .with_hint("use letters, digits, spaces and punctuation"),
            );
        }
    }
}

/// Check a job file's text (`path` names it in messages and anchors relative paths).
pub fn check_job_text(path: &Path, text: &str) -> Result<ValidJob, Vec<Diagnostic>> {
    let source = Source::parse(path, text).map_err(|e| {
        vec![Diagnostic::error(
            path,
            e.pos,
            "",
            format!("YAML syntax error: {}", e.message),
        )]
    })?;
    let mut diags = check_against_schema(&source);
    let schema_failed = diags.iter().any(Diagnostic::is_error);
    // These read the raw document, so they are reported together with schema errors.
    check_schedule(&source, &mut diags);
    check_names(&source, &mut diags);
    if schema_failed {
        diags.sort_by_key(|d| (d.file.clone(), d.line, d.column));
        return Err(diags);
    }
    let file: JobFile = match serde_json::from_value(source.value.clone()) {
        Ok(f) => f,
        Err(e) => {
            // The schema passed, so what serde refused is a value the schema cannot bound:
            // an out-of-range duration or number. Point at it; else at the file.
            let located = out_of_range_values(&source);
            if located.is_empty() {
                diags.push(Diagnostic::error(
                    path,
                    Pos { line: 1, column: 1 },
                    "",
                    e.to_string(),
                ));
            }
            diags.extend(located);
            return Err(diags);
        }
    };
    let base_dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let err = |ptr: &str, msg: String| Diagnostic::error(path, source.pos(ptr), ptr, msg);

    if let Some(conn) = &file.connection {
        if let Some(p) = &conn.picfg {
            let full = if p.is_absolute() {
                p.clone()
            } else {
                base_dir.join(p)
            };
            if !full.exists() {
                diags.push(err(
                    "/connection/picfg",
                    format!("pi.cfg not found: {}", full.display()),
                ));
            }
        }
        for (key, url) in [
            ("database", &conn.database),
            ("audit_database", &conn.audit_database),
        ] {
            if let Some(u) = url {
                if let Err(e) = DbUrl::parse(u) {
                    diags.push(err(
                        &format!("/connection/{key}"),
                        format!("invalid database URL: {e}"),
                    ));
                }
            }
        }
    }

    check_task_schedules(&file, &source, &mut diags);

    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut prepared = Vec::new();
    for (i, spec) in file.tasks.iter().enumerate() {
        let name = spec.name();
        if let Some(first) = seen.insert(name, i) {
            let ptr = if spec.explicit_name().is_some() {
                format!("/tasks/{i}/name")
            } else {
                format!("/tasks/{i}")
            };
            diags.push(
                err(
                    &ptr,
                    format!(
                        "duplicate task name '{name}' (task {} has it too)",
                        first + 1
                    ),
                )
                .with_hint("give each task a unique 'name'"),
            );
        }
        let site = TaskSite {
            source: Some(&source),
            file: path.to_path_buf(),
            pointer: format!("/tasks/{i}"),
            base_dir: base_dir.clone(),
        };
        if let Some(t) = tasks::prepare(spec, &site, &mut diags) {
            prepared.push(t);
        }
    }

    if diags.iter().any(Diagnostic::is_error) {
        diags.sort_by_key(|d| (d.file.clone(), d.line, d.column));
        return Err(diags);
    }
    Ok(ValidJob {
        path: path.to_path_buf(),
        file,
        tasks: prepared,
        warnings: diags,
        base_dir,
    })
}
