//! `kind: usercache_cleanup` / `pi-manage usercache cleanup` (privacyIDEA's
//! `privacyidea-usercache-cleanup`): delete user-cache entries older than the
//! `UserCacheExpiration` setting (seconds, in the `config` table; 0 or unset disables the
//! cache and nothing is deleted). `usercache.timestamp` is local time (reference/schema.md),
//! so the cutoff is the local now minus the expiration. privacyIDEA's lines, without its banner.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KindSpec, Task, TaskContext, TaskError, TaskOutcome, TaskSite, TaskStatus};
use crate::db::delete::delete_ids;
use crate::db::{Connection, Value};
use crate::job::diagnostic::Diagnostic;
use crate::pytext::{datetime_str, isoformat};

/// The `kind` string of job files.
pub const KIND: &str = "usercache_cleanup";
pub const TABLE: &str = "usercache";
/// The `config` key privacyIDEA keeps the cache lifetime (seconds) in.
pub const EXPIRATION_KEY: &str = "UserCacheExpiration";

/// Delete expired user-cache entries (`usercache`, older than the `UserCacheExpiration`
/// setting), as `privacyidea-usercache-cleanup`. Does nothing when the user cache is disabled.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsercacheCleanup {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
}

#[derive(Debug)]
pub struct UsercacheCleanupTask {
    pub name: String,
}

impl KindSpec for UsercacheCleanup {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(&self, name: String, _: &TaskSite<'_>, _: &mut Vec<Diagnostic>) -> Option<Task> {
        Some(Task::new(UsercacheCleanupTask { name }))
    }
}

super::task_kind!(UsercacheCleanupTask);

/// The cache lifetime in seconds as privacyIDEA's `get_cache_time` reads it: Python's `int()`
/// of the stored text (surrounding whitespace allowed), 0 when missing or not an integer.
pub fn cache_seconds(conn: &mut dyn Connection) -> Result<i64, TaskError> {
    let d = conn.dialect();
    let rows = conn.query_rows(
        &format!(
            "SELECT {} FROM {} WHERE {} = ?",
            d.quote("Value"),
            d.quote("config"),
            d.quote("Key")
        ),
        &[Value::Text(EXPIRATION_KEY.into())],
    )?;
    let text = rows
        .first()
        .and_then(|r| r.get(0).as_str().map(str::to_string))
        .unwrap_or_else(|| "0".into());
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    Ok(t.parse::<i64>().unwrap_or(0))
}

/// privacyIDEA's `'{:<5} {:<10} {:<10} {:<30} {:<10}'` (a NULL shows as `None`).
fn list_line(cols: [&str; 5]) -> String {
    format!(
        "{:<5} {:<10} {:<10} {:<30} {:<10}",
        cols[0], cols[1], cols[2], cols[3], cols[4]
    )
}

impl UsercacheCleanupTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let now = ctx.clock.now_local();
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        super::require_tables(conn, &[TABLE, "config"])?;
        let seconds = cache_seconds(conn)?;
        if seconds == 0 {
            out.say(
                ctx.output,
                "User cache is disabled, not doing anything.".into(),
            );
            if ctx.dry_run {
                out.status = TaskStatus::DryRun;
                out.matched = Some(0);
            } else {
                out.deleted = Some(0);
            }
            return Ok(());
        }
        // The expiration comes from the database: checked, so a huge value cannot panic.
        let cutoff = chrono::TimeDelta::try_seconds(seconds)
            .and_then(|age| now.checked_sub_signed(age))
            .ok_or_else(|| {
                TaskError::Refused(format!(
                    "the user cache expiration {seconds} (config {EXPIRATION_KEY}) is out of range"
                ))
            })?;
        out.cutoff = Some(format!("timestamp < {}", datetime_str(&cutoff)));
        out.say(ctx.output, "Expired entries:".into());
        let d = conn.dialect();
        let q = |c: &str| d.quote(c);
        let rows = conn.query_rows(
            &format!(
                "SELECT {}, {}, {}, {}, {} FROM {} WHERE {} < ? ORDER BY {} DESC, {}",
                q("id"),
                q("username"),
                q("resolver"),
                q("timestamp"),
                q("user_id"),
                q(TABLE),
                q("timestamp"),
                q("timestamp"),
                q("id"),
            ),
            &[Value::DateTime(cutoff)],
        )?;
        let text = |v: &Value| match v {
            Value::Null => "None".to_string(),
            Value::DateTime(t) => isoformat(t),
            other => other
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| other.as_i64().map(|i| i.to_string()).unwrap_or_default()),
        };
        let mut ids = Vec::with_capacity(rows.len());
        if !rows.is_empty() {
            out.say(
                ctx.output,
                list_line(["id", "username", "resolver", "timestamp", "user id"]),
            );
        }
        for r in &rows {
            let id = r.get(0).as_i64().unwrap_or_default();
            ids.push(id);
            let ts = match r.get(3) {
                Value::Null => "None".to_string(),
                v => v
                    .as_datetime()
                    .map(|t| isoformat(&t))
                    .unwrap_or_else(|| text(v)),
            };
            out.say(
                ctx.output,
                list_line([
                    &id.to_string(),
                    &text(r.get(1)),
                    &text(r.get(2)),
                    &ts,
                    &text(r.get(4)),
                ]),
            );
        }
        out.say(ctx.output, format!("{} entries", rows.len()));
        if ctx.dry_run {
            out.matched = Some(rows.len() as u64);
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                "'--noaction' was passed, not doing anything.".into(),
            );
            return Ok(());
        }
        for id in &ids {
            out.say(ctx.output, format!("Deleting entry with id={id} ..."));
        }
        // By id: exactly the entries listed, whatever was written since. 1000 ids per
        // statement, all in one transaction (privacyIDEA commits per entry; one transaction
        // is all or nothing instead).
        let n = delete_ids(conn, TABLE, "id", &ids, 1000, ids.len())?;
        out.deleted = Some(n);
        out.say(
            ctx.output,
            format!("Deleted {} expired entries.", ids.len()),
        );
        Ok(())
    }
}
