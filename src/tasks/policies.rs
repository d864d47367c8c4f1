//! `kind: policies` and the policy commands (`config import`, `config policy
//! create|enable|disable|delete`): bring privacyIDEA's policy tables to what the input says,
//! in one transaction, with the config timestamp bumped so that running privacyIDEA nodes
//! reload. A dry run prints the diff and marks the outcome `pending` when there is one.
//!
//! What can be checked without the database (types, scopes, time ranges, client networks,
//! conditions) is checked when the task is prepared, so `pi-manage validate` reports it with
//! `file:line:column`; realms, resolvers and nodes are checked against the database when the
//! task runs, before anything is written.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::NaiveDateTime;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::{TaskContext, TaskError, TaskFailure, TaskOutcome, TaskSite, TaskStatus};
use crate::db::Connection;
use crate::job::diagnostic::Diagnostic;
use crate::job::source::Pos;
use crate::policy::diff::{Change, Plan};
use crate::policy::document::{parse_entries, Invalid, PolicyDocument, VersionCheck};
use crate::policy::entry::{PolicyEntry, Semantics};
use crate::policy::model::{StoredPolicy, SCOPES};
use crate::policy::rows;

pub const KIND: &str = "policies";

/// Apply privacyIDEA policies given in files (privacyIDEA's `config export` format or the
/// friendlier YAML form) and/or written here. Each listed policy is the whole truth about
/// that policy: fields left out take privacyIDEA's defaults. Runs in one transaction and
/// bumps the config timestamp; a dry run prints the diff (and `run --dry-run` exits with 4
/// when changes are pending). See docs/policies.md.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// `merge` (default): add and update the listed policies, leave all others alone.
    /// `exact`: also delete every policy that is not listed (needs `prune: true`).
    #[serde(default, skip_serializing_if = "PolicyMode::is_default")]
    pub mode: PolicyMode,
    /// Confirms that `mode: exact` deletes the policies that are not listed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
    /// Policy files, relative to this job file: privacyIDEA exports (JSON or YAML, e.g. from
    /// `pi-manage config export -t policy`) or YAML lists of policies. Applied in this order,
    /// before the policies written here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathBuf>,
    /// Policies written into the job file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<PolicyDoc>")]
    pub policies: Vec<serde_json::Value>,
}

/// How the listed policies relate to the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Create or update the listed policies; leave other stored policies alone (the default).
    #[default]
    Merge,
    /// The listed policies are all there is: stored policies not listed are deleted (needs
    /// `prune: true` to confirm).
    Exact,
}

impl PolicyMode {
    fn is_default(&self) -> bool {
        *self == PolicyMode::Merge
    }
}

/// One policy: privacyIDEA's export entry, or the friendlier form (lists may be
/// comma-separated strings, `action` a list, conditions mappings).
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // only describes the schema; entries are read by crate::policy::entry
struct PolicyDoc {
    /// The policy's unique name (at most 64 characters).
    #[schemars(length(min = 1, max = 64))]
    name: String,
    /// The scope: admin, user, authentication, authorization, enrollment, webui, register,
    /// container, token, hardening or conditional_access.
    #[schemars(schema_with = "scope_schema")]
    scope: String,
    /// What the policy allows or sets: a mapping (`enable: true`, `otppin: userstore`), a list
    /// (`[enable, otppin=userstore]`) or privacyIDEA's action string. Write `\,` for a comma
    /// inside a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "action_schema")]
    action: Option<serde_json::Value>,
    /// Realms the policy applies to (a list or a comma-separated string; empty: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    realm: Option<serde_json::Value>,
    /// Realms of the administrators it applies to (admin scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    adminrealm: Option<serde_json::Value>,
    /// Administrators it applies to (admin scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    adminuser: Option<serde_json::Value>,
    /// Resolvers it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    resolver: Option<serde_json::Value>,
    /// privacyIDEA nodes it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    pinode: Option<serde_json::Value>,
    /// Users it applies to (`!name` excludes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    user: Option<serde_json::Value>,
    /// Client IP addresses or networks (`10.0.0.0/8`; `!10.0.0.5` excludes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    client: Option<serde_json::Value>,
    /// User agents it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "list_schema")]
    user_agents: Option<serde_json::Value>,
    /// When it applies, e.g. `Mon-Fri: 08:00-18:00` (empty: always).
    time: Option<String>,
    /// Lower is more important. Default 1.
    #[schemars(range(min = 1, max = 2147483647))]
    priority: Option<u32>,
    /// Default true.
    active: Option<bool>,
    /// Default false.
    check_all_resolvers: Option<bool>,
    /// Default false.
    user_case_insensitive: Option<bool>,
    /// Extended conditions: `[section, key, comparator, value, active, handle_missing_data]`
    /// or mappings with those names (`active` defaults to true, `handle_missing_data` to
    /// `raise_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    conditions: Option<serde_json::Value>,
    /// A description, kept in privacyIDEA's `description` table.
    description: Option<String>,
}

fn scope_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": SCOPES})
}

fn action_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["object", "array", "string"],
        "additionalProperties": {"type": ["boolean", "string", "number"]},
        "items": {"type": "string"}
    })
}

fn list_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["array", "string"], "items": {"type": ["string", "number"]}})
}

fn conditions_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": ["array", "object"],
            "minItems": 5,
            "maxItems": 6,
            "properties": {
                "section": {"type": "string", "description": "Where the compared attribute comes from, as privacyIDEA names it (e.g. `userinfo`, `tokeninfo`, `HTTP Request header`)."},
                "key": {"type": "string", "description": "The attribute in that section (e.g. `groups`)."},
                "comparator": {"type": "string", "description": "How the attribute is compared with `value` (privacyIDEA's comparators, e.g. `equals`, `contains`, `matches`)."},
                "value": {"type": ["string", "number"], "description": "The value the attribute is compared with."},
                "active": {"type": "boolean", "description": "Whether the condition is checked. Default true."},
                "handle_missing_data": {"type": "string", "description": "What happens when the attribute is missing. Default `raise_error`."}
            },
            "required": ["section", "key", "comparator", "value"],
            "additionalProperties": false
        }
    })
}

/// How the task talks: the plan style of job files, or privacyIDEA's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// `pi-manage run`: the diff and a summary.
    Plan,
    /// `config import`: `Importing configuration type 'policy'.` (the diff in dry runs).
    Import,
    /// `config policy create`: silent on success, as privacyIDEA.
    Create,
}

/// What the task does.
#[derive(Debug, Clone)]
pub enum PolicyOp {
    /// Bring the listed policies into the database.
    Apply(ApplyOp),
    /// `config policy enable|disable NAME`.
    SetActive { policy: String, active: bool },
    /// `config policy delete NAME`.
    Delete { policy: String },
}

/// Bring a set of policies into the database (job files, `config import`, `config policy
/// create`).
#[derive(Debug, Clone)]
pub struct ApplyOp {
    pub entries: Vec<PolicyEntry>,
    pub semantics: Semantics,
    /// Delete stored policies that are not listed (`mode: exact`).
    pub prune: bool,
    /// Skip entries that are invalid instead of failing (`--skip-invalid`).
    pub skip_invalid: bool,
    /// Entries found invalid before the run (only with `skip_invalid`); reported.
    pub skipped: Vec<Invalid>,
    pub voice: Voice,
}

#[derive(Debug)]
pub struct PoliciesTask {
    pub name: String,
    pub op: PolicyOp,
}

/// Check a `policies` spec from a job file: read its files, check every entry. Problems go to
/// `diags` with `file:line:column` (in the job file or in the policy file).
pub fn prepare(
    name: String,
    spec: &Policies,
    site: &TaskSite<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<PoliciesTask> {
    let before = diags.iter().filter(|d| d.is_error()).count();
    if spec.mode == PolicyMode::Exact && !spec.prune {
        diags.push(
            site.error(
                "/mode",
                "mode: exact deletes every stored policy that is not listed; add 'prune: true' to confirm",
            )
            .with_hint("or use mode: merge to leave unlisted policies alone"),
        );
    }
    if spec.mode == PolicyMode::Merge && spec.prune {
        diags.push(site.warning(
            "/prune",
            "prune only applies to mode: exact; with mode: merge nothing is deleted",
        ));
    }
    if spec.files.is_empty() && spec.policies.is_empty() {
        diags.push(site.error("", "no policies given: add 'files' and/or 'policies'"));
    }
    let mut entries: Vec<PolicyEntry> = Vec::new();
    for (i, file) in spec.files.iter().enumerate() {
        let path = site.resolve(file);
        let rel = format!("/files/{i}");
        if !path.exists() {
            diags.push(site.error(&rel, format!("policy file not found: {}", path.display())));
            continue;
        }
        let doc = match PolicyDocument::read(&path) {
            Ok(d) => d,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let list = match doc.policy_list() {
            Ok(l) => l,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        if !list.other_types.is_empty() {
            diags.push(Diagnostic::warning(
                &doc.path,
                Pos { line: 1, column: 1 },
                "",
                format!(
                    "only the policies are applied; ignored: {}",
                    list.other_types.join(", ")
                ),
            ));
        }
        if let VersionCheck::Differs(v) = doc.version() {
            diags.push(Diagnostic::warning(
                &doc.path,
                doc.pos("/privacyIDEA_version"),
                "/privacyIDEA_version",
                format!("exported by privacyIDEA {v}; pi-manage knows the policies of 3.14"),
            ));
        }
        let (ok, invalid) =
            parse_entries(list.items, &list.pointer, true, &doc.path, &|p| doc.pos(p));
        diags.extend(invalid.into_iter().flat_map(|i| i.diagnostics));
        entries.extend(ok);
    }
    let base = format!("{}/policies", site.pointer);
    let pos = |p: &str| {
        site.source
            .map(|s| s.pos(p))
            .unwrap_or(Pos { line: 1, column: 1 })
    };
    let (ok, invalid) = parse_entries(&spec.policies, &base, true, &site.file, &pos);
    diags.extend(invalid.into_iter().flat_map(|i| i.diagnostics));
    entries.extend(ok);
    let mut first: HashMap<String, String> = HashMap::new();
    for e in &entries {
        if let Some(at) = first.insert(e.name.clone(), e.at.clone()) {
            diags.push(
                site.error(
                    "",
                    format!(
                        "policy '{}' is given twice: at {at} and at {}",
                        e.name, e.at
                    ),
                )
                .with_hint("each policy name may appear once per task"),
            );
        }
    }
    if diags.iter().filter(|d| d.is_error()).count() > before {
        return None;
    }
    Some(PoliciesTask {
        name,
        op: PolicyOp::Apply(ApplyOp {
            entries,
            semantics: Semantics::Declare,
            prune: spec.mode == PolicyMode::Exact,
            skip_invalid: false,
            skipped: Vec::new(),
            voice: Voice::Plan,
        }),
    })
}

impl super::TaskKind for PoliciesTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn run(&self, ctx: &mut TaskContext<'_>) -> Result<TaskOutcome, TaskFailure> {
        super::timed(&self.name, KIND, |out| match &self.op {
            PolicyOp::Apply(apply) => apply.run(ctx, out),
            PolicyOp::SetActive { policy, active } => set_active(ctx, out, policy, *active),
            PolicyOp::Delete { policy } => delete(ctx, out, policy),
        })
    }
}

/// Open the main database and check that it has the policy tables.
fn connect<'c>(
    ctx: &'c mut TaskContext<'_>,
    out: &mut TaskOutcome,
) -> Result<&'c mut dyn Connection, TaskError> {
    let conn = ctx.databases.main()?;
    out.database = Some(conn.target());
    super::require_tables(conn, rows::TABLES)?;
    Ok(conn)
}

/// Run `f` in a transaction (committed when it succeeds, rolled back otherwise), or
/// directly in a dry run, which writes nothing.
fn transaction<T>(
    conn: &mut dyn Connection,
    dry_run: bool,
    f: impl FnOnce(&mut dyn Connection) -> Result<T, TaskError>,
) -> Result<T, TaskError> {
    if dry_run {
        return f(conn);
    }
    conn.begin()?;
    match f(conn) {
        Ok(v) => {
            conn.commit()?;
            Ok(v)
        }
        Err(e) => {
            // The original error is what matters; a failed rollback leaves nothing committed.
            let _ = conn.rollback();
            Err(e)
        }
    }
}

impl ApplyOp {
    fn run(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        if self.voice == Voice::Import {
            out.say(ctx.output, "Importing configuration type 'policy'.".into());
        }
        let mut skipped_names: Vec<String> = Vec::new();
        for s in &self.skipped {
            let name = s.name.clone().unwrap_or_else(|| "(no name)".into());
            for d in &s.diagnostics {
                out.say(ctx.output, format!("Skipping invalid policy '{name}': {d}"));
            }
            skipped_names.push(name);
        }
        let dry_run = ctx.dry_run;
        let (now_utc, now_local) = (ctx.clock.now_utc(), ctx.clock.now_local());
        let mut lines: Vec<String> = Vec::new();
        let conn = connect(ctx, out)?;
        // Read, check and write inside one transaction, so that what is checked is what is
        // changed, and a failure anywhere leaves nothing behind.
        let result = transaction(conn, dry_run, |conn| {
            let existing = rows::load(conn)?;
            let known = rows::known(conn)?;
            let (desired, invalid) = self.resolve(&existing, &known);
            if !invalid.is_empty() {
                let verb = if self.skip_invalid {
                    "Skipping invalid"
                } else {
                    "Invalid"
                };
                for (name, reasons) in &invalid {
                    for r in reasons {
                        lines.push(format!("{verb} policy '{name}': {r}"));
                    }
                }
                if !self.skip_invalid {
                    let why = format!(
                        "{} of {} policies {} invalid; nothing was changed",
                        invalid.len(),
                        self.entries.len(),
                        if invalid.len() == 1 { "is" } else { "are" }
                    );
                    if self.voice == Voice::Import {
                        lines.extend(import_failure_lines(&why));
                    }
                    return Err(TaskError::Refused(why));
                }
            }
            skipped_names.extend(invalid.into_iter().map(|(n, _)| n));
            let plan = Plan::new(&existing, desired, self.prune);
            let stamp = if dry_run {
                None
            } else {
                write(conn, &plan, now_utc, now_local)?
            };
            Ok((plan, stamp))
        });
        for l in lines.drain(..) {
            out.say(ctx.output, l);
        }
        if !skipped_names.is_empty() {
            out.details
                .insert("skipped".into(), serde_json::json!(skipped_names));
        }
        let (plan, stamp) = result?;
        self.report(ctx, out, &plan, stamp);
        Ok(())
    }

    /// The policy each entry asks for, and the entries that cannot be applied with why: names
    /// of realms, resolvers or nodes that do not exist, a new policy without a scope.
    fn resolve(
        &self,
        existing: &[rows::ExistingPolicy],
        known: &crate::policy::validate::Known,
    ) -> (Vec<StoredPolicy>, Vec<Rejected>) {
        let mut desired = Vec::new();
        let mut invalid = Vec::new();
        for e in &self.entries {
            let mut reasons: Vec<String> =
                e.references.iter().filter_map(|r| known.check(r)).collect();
            let stored = existing.iter().find(|x| x.policy.name == e.name);
            match e.resolve(stored.map(|x| &x.policy), self.semantics) {
                Ok(p) if reasons.is_empty() => desired.push(p),
                Ok(_) => {}
                Err(why) => reasons.push(why),
            }
            if !reasons.is_empty() {
                invalid.push((e.name.clone(), reasons));
            }
        }
        (desired, invalid)
    }

    fn report(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
        plan: &Plan,
        stamp: Option<String>,
    ) {
        let names = |f: fn(&Change) -> bool| -> Vec<&str> {
            plan.changes
                .iter()
                .filter(|c| f(c))
                .map(Change::name)
                .collect()
        };
        out.details.insert(
            "added".into(),
            serde_json::json!(names(|c| matches!(c, Change::Add(_)))),
        );
        out.details.insert(
            "updated".into(),
            serde_json::json!(names(|c| matches!(c, Change::Update { .. }))),
        );
        out.details.insert(
            "deleted".into(),
            serde_json::json!(names(|c| matches!(c, Change::Delete(_)))),
        );
        out.details
            .insert("unchanged".into(), plan.unchanged.len().into());
        let pending = !plan.changes.is_empty();
        if ctx.dry_run {
            out.details.insert("pending".into(), pending.into());
        }
        if let Some(s) = &stamp {
            out.details.insert("timestamp".into(), s.clone().into());
        }
        let show_diff = self.voice == Voice::Plan || ctx.dry_run;
        if show_diff {
            for line in plan.render() {
                out.say(ctx.output, line);
            }
        }
        let (a, u, d, n) = (
            plan.added(),
            plan.updated(),
            plan.deleted(),
            plan.unchanged.len(),
        );
        let summary = if ctx.dry_run {
            if pending {
                format!("Would add {a}, update {u} and delete {d} policies; {n} unchanged.")
            } else {
                format!("No changes: all {n} policies are as they should be.")
            }
        } else if pending {
            format!(
                "Added {a}, updated {u} and deleted {d} policies; {n} unchanged. Config timestamp set to {}.",
                stamp.as_deref().unwrap_or("")
            )
        } else {
            format!("All {n} policies are as they should be.")
        };
        if show_diff {
            out.say(ctx.output, summary);
        }
        out.status = if ctx.dry_run {
            TaskStatus::DryRun
        } else if !pending {
            TaskStatus::Unchanged
        } else if a > 0 && u == 0 && d == 0 {
            TaskStatus::Created
        } else {
            TaskStatus::Updated
        };
    }
}

/// A policy that cannot be applied: its name and the reasons.
type Rejected = (String, Vec<String>);

/// Carry out a plan; bump the config timestamp when anything changed (returns its value).
fn write(
    conn: &mut dyn Connection,
    plan: &Plan,
    now_utc: NaiveDateTime,
    now_local: NaiveDateTime,
) -> Result<Option<String>, TaskError> {
    if plan.changes.is_empty() {
        return Ok(None);
    }
    let mut ids = rows::Ids::default();
    for change in &plan.changes {
        match change {
            Change::Add(p) => {
                rows::insert(conn, &mut ids, p, now_local)?;
            }
            Change::Update { before, after } => {
                rows::update(conn, &mut ids, before, after, now_local)?
            }
            Change::Delete(e) => rows::delete(conn, e.id)?,
        }
    }
    Ok(Some(rows::bump_timestamp(conn, now_utc)?))
}

/// privacyIDEA's closing lines for a policy import that failed.
pub fn import_failure_lines(why: &str) -> Vec<String> {
    vec![
        format!("Could not successfully import data of type policy: {why}"),
        "  Hint: some entries may use configuration not available in this privacyIDEA version. Re-run with '--skip-invalid' to skip them and import the rest.".into(),
        "Import finished with errors. Failed configuration types: policy.".into(),
    ]
}

/// `config policy enable|disable NAME` (privacyIDEA's `enable_policy`): only `active`.
fn set_active(
    ctx: &mut TaskContext<'_>,
    out: &mut TaskOutcome,
    name: &str,
    active: bool,
) -> Result<(), TaskError> {
    let verb = if active { "enable" } else { "disable" };
    let dry_run = ctx.dry_run;
    let now_utc = ctx.clock.now_utc();
    let conn = connect(ctx, out)?;
    let changed = transaction(conn, dry_run, |conn| {
        let existing = rows::load(conn)?;
        let Some(p) = existing.iter().find(|e| e.policy.name == name) else {
            return Err(TaskError::Refused(format!(
                "Could not {verb} policy {name}: The policy with name '{name}' does not exist"
            )));
        };
        if p.policy.active == Some(active) {
            return Ok(false);
        }
        if !dry_run {
            rows::set_active(conn, p.id, active)?;
            rows::bump_timestamp(conn, now_utc)?;
        }
        Ok(true)
    })?;
    finish_single(
        ctx,
        out,
        changed,
        format!("Successfully {verb}d policy '{name}'"),
    );
    Ok(())
}

/// `config policy delete NAME`: the policy with its conditions and description.
fn delete(ctx: &mut TaskContext<'_>, out: &mut TaskOutcome, name: &str) -> Result<(), TaskError> {
    let dry_run = ctx.dry_run;
    let now_utc = ctx.clock.now_utc();
    let conn = connect(ctx, out)?;
    transaction(conn, dry_run, |conn| {
        let existing = rows::load(conn)?;
        let Some(p) = existing.iter().find(|e| e.policy.name == name) else {
            return Err(TaskError::Refused(format!(
                "Could not delete policy {name}: The policy with name '{name}' does not exist"
            )));
        };
        if !dry_run {
            rows::delete(conn, p.id)?;
            rows::bump_timestamp(conn, now_utc)?;
        }
        Ok(())
    })?;
    finish_single(
        ctx,
        out,
        true,
        format!("Successfully deleted policy '{name}'"),
    );
    Ok(())
}

fn finish_single(ctx: &mut TaskContext<'_>, out: &mut TaskOutcome, changed: bool, message: String) {
    if ctx.dry_run {
        out.details.insert("pending".into(), changed.into());
        out.status = TaskStatus::DryRun;
        let msg = if changed {
            format!("Would do: {message}")
        } else {
            "Nothing to do.".to_string()
        };
        out.say(ctx.output, msg);
        return;
    }
    out.status = if changed {
        TaskStatus::Updated
    } else {
        TaskStatus::Unchanged
    };
    out.say(ctx.output, message);
}

impl super::KindSpec for Policies {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &super::TaskSite<'_>,
        diags: &mut Vec<crate::job::diagnostic::Diagnostic>,
    ) -> Option<super::Task> {
        prepare(name, self, site, diags).map(super::Task::new)
    }
}
