//! `kind: authlog_cleanup` / `pi-manage authlog cleanup`: delete authentication-log entries
//! (`authentication_log.timestamp`, naive UTC) older than the age, with their child rows
//! (reference §6a). The children (`conditional_access_outcome`, then
//! `authentication_log_reason`) go first and the parents last, so no child is ever left
//! without its parent (SQLite does not enforce the foreign keys).
//!
//! Without a chunk size these are privacyIDEA's three statements. With one, each transaction
//! takes the next `chunksize` old parents by id and deletes their children and then them:
//! privacyIDEA's per-table chunks (`… WHERE auth_log_id IN (SELECT id FROM authentication_log
//! WHERE timestamp < ?) LIMIT n`) rebuild the set of every old parent for each chunk of each
//! child table, 4.6× the plain statements at 10^6 parents on SQLite (docs/benchmarks.md), and
//! an interruption leaves whole entries, never parents that lost some of their children.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KindSpec, Task, TaskContext, TaskError, TaskOutcome, TaskSite, TaskStatus};
use crate::db::delete::{self, DeletePlan};
use crate::db::Value;
use crate::job::diagnostic::Diagnostic;
use crate::job::model::Duration;
use crate::pytext::datetime_str;

/// The `kind` string of job files.
pub const KIND: &str = "authlog_cleanup";
pub const PARENT: &str = "authentication_log";
/// The child tables, in the order they are emptied (privacyIDEA's order).
pub const CHILDREN: [&str; 2] = ["conditional_access_outcome", "authentication_log_reason"];

/// Delete authentication-log entries (`authentication_log`, one row per authentication
/// request, never pruned by privacyIDEA itself) older than `older_than`, with their reasons
/// and conditional-access outcomes, as `pi-manage authlog cleanup`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthlogCleanup {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Delete entries whose `timestamp` (UTC) is older than this, e.g. `90d`.
    pub older_than: Duration,
    /// Delete in chunks of this many entries, each committed on its own with its children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub chunksize: Option<u64>,
}

#[derive(Debug)]
pub struct AuthlogCleanupTask {
    pub name: String,
    pub older_than: Duration,
    pub chunksize: Option<u64>,
}

impl KindSpec for AuthlogCleanup {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Task> {
        if self.older_than.is_zero() {
            // A cut-off of "now" selects every row: the whole log would go.
            let hint = if site.is_command_line() {
                "give a positive number of days, e.g. --age 90"
            } else {
                "give a positive age such as '90d'"
            };
            diags.push(
                site.error(
                    "/older_than",
                    "an age of 0 would delete the entire authentication log",
                )
                .with_hint(hint),
            );
            return None;
        }
        Some(Task::new(AuthlogCleanupTask {
            name,
            older_than: self.older_than,
            chunksize: self.chunksize,
        }))
    }
}

super::task_kind!(AuthlogCleanupTask);

impl AuthlogCleanupTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let cutoff = self.older_than.before(ctx.clock.now_utc());
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        super::require_tables(conn, &[PARENT, CHILDREN[0], CHILDREN[1]])?;
        let d = conn.dialect();
        let old_parents = format!("{} < ?", d.quote("timestamp"));
        let params = vec![Value::DateTime(cutoff)];
        out.cutoff = Some(format!("timestamp < {}", datetime_str(&cutoff)));
        let age = super::cleanup::age_words(self.older_than, 86_400, "days");
        let parent_plan = DeletePlan {
            table: PARENT,
            pk: "id",
            filter: old_parents.clone(),
            params: params.clone(),
            chunksize: self.chunksize,
        };
        if ctx.dry_run {
            let n = delete::count_matching(conn, &parent_plan)?;
            out.matched = Some(n);
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!("Would delete {n} authentication log entries older than {age}."),
            );
            return Ok(());
        }
        let outcome = match self.chunksize {
            None => delete_table_by_table(ctx, out, &params, &old_parents, parent_plan)?,
            Some(chunk) => delete_entry_batches(ctx, out, &params, &old_parents, chunk)?,
        };
        if let Some(sig) = outcome {
            // Children went before their parents in every committed step, so what is left
            // is consistent and a re-run continues.
            out.status = TaskStatus::Interrupted;
            out.signal = Some(sig);
            out.deleted.get_or_insert(0);
            return Ok(());
        }
        out.say(
            ctx.output,
            format!(
                "Deleted {} authentication log entries older than {age}.",
                out.deleted.unwrap_or(0)
            ),
        );
        Ok(())
    }
}

/// Deleted rows of (outcomes, reasons, parents), in the order they are deleted.
const TABLES: [&str; 3] = [CHILDREN[0], CHILDREN[1], PARENT];

/// privacyIDEA's three statements, each committed: the children of every old parent, then
/// the parents. The signal that stopped it, if one did.
fn delete_table_by_table(
    ctx: &mut TaskContext<'_>,
    out: &mut TaskOutcome,
    params: &[Value],
    old_parents: &str,
    parent_plan: DeletePlan<'_>,
) -> Result<Option<i32>, TaskError> {
    let d = ctx.databases.main()?.dialect();
    let child_filter = format!(
        "{} IN (SELECT {} FROM {} WHERE {old_parents})",
        d.quote("auth_log_id"),
        d.quote("id"),
        d.quote(PARENT)
    );
    let mut plans: Vec<DeletePlan<'_>> = CHILDREN
        .iter()
        .map(|child| DeletePlan {
            table: child,
            pk: "id",
            filter: child_filter.clone(),
            params: params.to_vec(),
            chunksize: None,
        })
        .collect();
    plans.push(parent_plan);
    let interrupt = ctx.interrupt.clone();
    for plan in &plans {
        let mut observer = ctx
            .output
            .progress(&format!("deleting from {}", plan.table), None);
        let result =
            delete::delete_matching(ctx.databases.main()?, plan, observer.as_mut(), &interrupt);
        drop(observer);
        let done = result?;
        out.details
            .insert(plan.table.to_string(), done.deleted.into());
        if plan.table == PARENT {
            out.deleted = Some(done.deleted);
        }
        if let Some(sig) = done.interrupted {
            return Ok(Some(sig));
        }
    }
    Ok(None)
}

/// Ids per `DELETE … IN (…)` statement.
const ID_SLICE: usize = 1000;

/// Batches of `chunk` old parents, each deleted with its children in one transaction. The
/// signal that stopped it (after a committed batch), if one did.
fn delete_entry_batches(
    ctx: &mut TaskContext<'_>,
    out: &mut TaskOutcome,
    params: &[Value],
    old_parents: &str,
    chunk: u64,
) -> Result<Option<i32>, TaskError> {
    let conn = ctx.databases.main()?;
    let d = conn.dialect();
    let next_batch = format!(
        "SELECT {id} FROM {t} WHERE {old_parents} ORDER BY {ts} LIMIT {chunk}",
        id = d.quote("id"),
        t = d.quote(PARENT),
        ts = d.quote("timestamp"),
    );
    // In timestamp order, so every batch starts at the index's low end, where the old
    // entries are, instead of passing over the young ones again.
    let mut totals = [0u64; 3];
    let mut observer = ctx
        .output
        .progress("deleting authentication log entries", None);
    let conn = ctx.databases.main()?;
    let mut stopped = None;
    let failed = loop {
        let batch = delete::in_transaction_with_retry(conn, |c| {
            let ids: Vec<i64> = c
                .query_rows(&next_batch, params)?
                .iter()
                .filter_map(|r| r.get(0).as_i64())
                .collect();
            let mut n = [0u64; 3];
            for (i, table) in TABLES.iter().enumerate() {
                let column = if *table == PARENT {
                    "id"
                } else {
                    "auth_log_id"
                };
                n[i] = delete::delete_ids_in(c, table, column, &ids, ID_SLICE)?;
            }
            Ok((ids.len() as u64, n))
        });
        let (taken, n) = match batch {
            Ok(b) => b,
            Err(e) => break Some(e),
        };
        for (t, k) in totals.iter_mut().zip(n) {
            *t += k;
        }
        observer.chunk_committed(totals[2]);
        if taken < chunk {
            break None;
        }
        if let Some(sig) = ctx.interrupt.requested() {
            stopped = Some(sig);
            break None;
        }
    };
    drop(observer);
    for (table, n) in TABLES.iter().zip(totals) {
        out.details.insert(table.to_string(), n.into());
    }
    out.deleted = Some(totals[2]);
    match failed {
        Some(error) => Err(delete::DeleteFailed {
            error,
            deleted: totals[2],
        }
        .into()),
        None => Ok(stopped),
    }
}
