//! `kind: conditional_access_purge` / `pi-manage conditionalaccess purge-expired-blocks` and
//! `purge-expired-locks`: delete IP blocks (`block_list`) and user locks (`user_lock_state`)
//! whose timed restriction has run out (`*_expires_at <= now`, naive UTC). Permanent ones
//! (NULL expiry) and those still in force are kept. One `DELETE` per table, as privacyIDEA.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KindSpec, Task, TaskContext, TaskError, TaskOutcome, TaskSite, TaskStatus};
use crate::db::delete::{self, DeletePlan, NoProgress};
use crate::db::Value;
use crate::job::diagnostic::Diagnostic;
use crate::pytext::datetime_str;

/// The `kind` string of job files.
pub const KIND: &str = "conditional_access_purge";
pub const BLOCKS: &str = "block_list";
pub const LOCKS: &str = "user_lock_state";

/// Which stale conditional-access restrictions to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purge {
    /// Expired IP blocks (`block_list`).
    Blocks,
    /// Expired user locks (`user_lock_state`).
    Locks,
    /// Both (blocks first).
    #[default]
    Both,
}

/// Delete conditional-access IP blocks and user locks whose time has run out, as
/// `pi-manage conditionalaccess purge-expired-blocks` / `purge-expired-locks`. Permanent
/// restrictions and those still in force are kept.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionalAccessPurge {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// `blocks`, `locks` or `both` (default).
    #[serde(default)]
    pub purge: Purge,
}

#[derive(Debug)]
pub struct ConditionalAccessPurgeTask {
    pub name: String,
    pub purge: Purge,
}

impl KindSpec for ConditionalAccessPurge {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(&self, name: String, _: &TaskSite<'_>, _: &mut Vec<Diagnostic>) -> Option<Task> {
        Some(Task::new(ConditionalAccessPurgeTask {
            name,
            purge: self.purge,
        }))
    }
}

super::task_kind!(ConditionalAccessPurgeTask);

impl ConditionalAccessPurgeTask {
    fn tables(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        // (table, expiry column, what privacyIDEA calls the rows)
        let blocks = (BLOCKS, "block_expires_at", "stale IP block(s)");
        let locks = (LOCKS, "lock_expires_at", "stale user lock(s)");
        match self.purge {
            Purge::Blocks => vec![blocks],
            Purge::Locks => vec![locks],
            Purge::Both => vec![blocks, locks],
        }
    }

    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let now = ctx.clock.now_utc();
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        let tables = self.tables();
        let names: Vec<&str> = tables.iter().map(|t| t.0).collect();
        super::require_tables(conn, &names)?;
        out.cutoff = Some(format!("expires_at <= {}", datetime_str(&now)));
        let d = conn.dialect();
        let mut total = 0;
        for (table, column, noun) in tables {
            let col = d.quote(column);
            let plan = DeletePlan {
                table,
                pk: "",
                filter: format!("{col} IS NOT NULL AND {col} <= ?"),
                params: vec![Value::DateTime(now)],
                chunksize: None,
            };
            if ctx.dry_run {
                let n = delete::count_matching(conn, &plan)?;
                total += n;
                out.details.insert(table.to_string(), n.into());
                out.say(ctx.output, format!("Would remove {n} {noun}."));
            } else {
                let n =
                    delete::delete_matching(conn, &plan, &mut NoProgress, ctx.interrupt)?.deleted;
                total += n;
                out.details.insert(table.to_string(), n.into());
                out.say(ctx.output, format!("Removed {n} {noun}."));
            }
        }
        if ctx.dry_run {
            out.matched = Some(total);
            out.status = TaskStatus::DryRun;
        } else {
            out.deleted = Some(total);
        }
        Ok(())
    }
}

/// A restriction still in force, as the `list-*` commands show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRestriction {
    /// `(label, value)` pairs in privacyIDEA's order, NULL as `None`; the expiry last but one
    /// (`permanent` or Python's `isoformat()`), the cause last.
    pub fields: Vec<(&'static str, String)>,
}

/// IP blocks (`ip`, expiry, cause) or user locks (`resolver`, `uid`, `realm`, `role`,
/// expiry, cause) still in force at `now` (permanent, or expiring after `now`), newest first
/// as privacyIDEA lists them (by `blocked_at` / `locked_at`), ties by the key ascending.
pub fn list_in_force(
    conn: &mut dyn crate::db::Connection,
    purge: Purge,
    now: chrono::NaiveDateTime,
) -> Result<Vec<ActiveRestriction>, TaskError> {
    let (table, cols, labels, expiry, order): (_, &[&str], &[&'static str], _, &[&str]) =
        match purge {
            Purge::Locks => (
                LOCKS,
                &[
                    "resolver",
                    "uid",
                    "realm",
                    "user_role",
                    "lock_expires_at",
                    "lock_cause",
                ],
                &["resolver", "uid", "realm", "role", "expires", "cause"],
                "lock_expires_at",
                &["locked_at", "resolver", "uid", "realm"],
            ),
            _ => (
                BLOCKS,
                &["ip", "block_expires_at", "block_cause"],
                &["", "expires", "cause"],
                "block_expires_at",
                &["blocked_at", "ip"],
            ),
        };
    super::require_tables(conn, &[table])?;
    let d = conn.dialect();
    let select: Vec<String> = cols.iter().map(|c| d.quote(c)).collect();
    // Newest first as privacyIDEA orders them; ties (privacyIDEA leaves them to the database)
    // by the primary key ascending, the order of MariaDB's clustered index and, for rows
    // written in key order, of SQLite's and PostgreSQL's scans (checked against privacyIDEA
    // 3.14: tests/fixtures/cleanups/).
    let order: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} {}", d.quote(c), if i == 0 { "DESC" } else { "ASC" }))
        .collect();
    let e = d.quote(expiry);
    let rows = conn.query_rows(
        &format!(
            "SELECT {} FROM {} WHERE {e} IS NULL OR {e} > ? ORDER BY {}",
            select.join(", "),
            d.quote(table),
            order.join(", ")
        ),
        &[Value::DateTime(now)],
    )?;
    Ok(rows
        .iter()
        .map(|r| ActiveRestriction {
            fields: labels
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    let v = r.get(i);
                    let text = if *label == "expires" {
                        match v.as_datetime() {
                            Some(t) => crate::pytext::isoformat(&t),
                            None => "permanent".to_string(),
                        }
                    } else {
                        match v {
                            Value::Null => "None".to_string(),
                            other => other.as_str().map(str::to_string).unwrap_or_else(|| {
                                other.as_i64().map(|i| i.to_string()).unwrap_or_default()
                            }),
                        }
                    };
                    (*label, text)
                })
                .collect(),
        })
        .collect())
}
