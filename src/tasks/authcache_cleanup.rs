//! `kind: authcache_cleanup` / `pi-manage config authcache cleanup`: delete authcache entries
//! whose `last_auth` (naive UTC) lies longer ago than an idle time — given, or, as
//! privacyIDEA 3.14 does without `-m`, the longest idle time an active `auth_cache` policy
//! accepts (reference §6). One `DELETE`, no chunking, as privacyIDEA.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KindSpec, Task, TaskContext, TaskError, TaskOutcome, TaskSite, TaskStatus};
use crate::db::delete::{self, DeletePlan, NoProgress};
use crate::db::{Connection, Value};
use crate::job::diagnostic::Diagnostic;
use crate::job::model::Duration;
use crate::policy::model::{parse_actions, py_strip};
use crate::pytext::datetime_str;

/// The `kind` string of job files.
pub const KIND: &str = "authcache_cleanup";
pub const TABLE: &str = "authcache";
const ACTION: &str = "auth_cache";
/// privacyIDEA's line after the count when `PI_REDIS_CACHE_AUTH` is on (reference §6).
pub const REDIS_NOTE: &str = "Cached authentications are kept in Redis, where they expire on their own. Any entries deleted here were written while Redis was unreachable.";

/// Delete cached authentications (`authcache`) not used for longer than `unused_for`, as
/// `pi-manage config authcache cleanup`. Without `unused_for`, entries are deleted once no
/// active `auth_cache` policy accepts them any more (all of them when there is no such policy).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthcacheCleanup {
    /// Name of this task in reports and for `--task`. Default: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Delete entries whose last use (`last_auth`, UTC) is longer ago than this. Default: the
    /// longest idle time the active `auth_cache` policies accept, rounded up to minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unused_for: Option<Duration>,
}

#[derive(Debug)]
pub struct AuthcacheCleanupTask {
    pub name: String,
    pub unused_for: Option<Duration>,
}

impl KindSpec for AuthcacheCleanup {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(&self, name: String, _: &TaskSite<'_>, _: &mut Vec<Diagnostic>) -> Option<Task> {
        Some(Task::new(AuthcacheCleanupTask {
            name,
            unused_for: self.unused_for,
        }))
    }
}

super::task_kind!(AuthcacheCleanupTask);

/// privacyIDEA's `parse_timedelta`: `[+-]N` with unit s, m, h, d or y (365 days), spaces
/// allowed around the parts; `None` when it does not parse.
pub fn parse_timedelta(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let rest = rest.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    let rest = rest[digits.len()..].trim_start();
    let mut chars = rest.chars();
    let unit = match chars.next()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'y' => 365 * 86_400,
        _ => return None,
    };
    if !chars.as_str().trim().is_empty() {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    n.checked_mul(unit)?.checked_mul(sign)
}

/// privacyIDEA's `get_idle_limit`: the seconds an entry may go unused under an `auth_cache`
/// value `first[/second]` — `first`, or the shorter of both when `second` is a period (an
/// all-digit `second` counts uses and does not limit time).
pub fn idle_limit(value: &str) -> Option<i64> {
    let parts: Vec<&str> = value.split('/').collect();
    let first = parse_timedelta(parts[0])?;
    if parts.len() == 2 {
        let second = parts[1];
        if !second.is_empty() && second.chars().all(|c| c.is_ascii_digit()) {
            return Some(first);
        }
        return Some(first.min(parse_timedelta(second)?));
    }
    Some(first)
}

/// What the active `auth_cache` policies allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAge {
    /// Minutes, rounded up; 0 when no policy accepts cached entries.
    pub minutes: i64,
    /// Values that did not parse, with the names of the policies that carry them.
    pub invalid: Vec<(String, Vec<String>)>,
}

/// The longest idle time of the active `auth_cache` policies (scope `authentication`, no
/// realm, user or client filtering), as `pi-manage config authcache cleanup` without `-m`.
pub fn policy_age(conn: &mut dyn Connection) -> Result<PolicyAge, TaskError> {
    let mut policies = crate::policy::rows::load(conn)?;
    // privacyIDEA lists policies by priority (a stable sort of its id-ordered list).
    policies.sort_by_key(|p| p.policy.priority);
    // Distinct values with their policies, in first-seen order (a Python dict).
    let mut values: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |value: String, policy: &str| match values.iter_mut().find(|(v, _)| *v == value) {
        Some((_, names)) => names.push(policy.to_string()),
        None => values.push((value, vec![policy.to_string()])),
    };
    let mut invalid = Vec::new();
    for p in &policies {
        let p = &p.policy;
        if p.active != Some(true) || p.scope != "authentication" {
            continue;
        }
        let actions = parse_actions(p.action.as_deref().unwrap_or(""));
        if actions.contains_key("!auth_cache") || actions.contains_key("-auth_cache") {
            continue;
        }
        match actions.get(ACTION) {
            Some(serde_json::Value::String(v)) => {
                if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
                    add(v[1..v.len() - 1].to_string(), &p.name);
                } else {
                    for part in v.split(crate::policy::model::py_isspace) {
                        if !py_strip(part).is_empty() {
                            add(part.to_string(), &p.name);
                        }
                    }
                }
            }
            // A bare `auth_cache` (no value) makes privacyIDEA's cleanup crash; it accepts
            // nothing, so it is reported like any other value that does not parse.
            Some(_) => invalid.push(("True".to_string(), vec![p.name.clone()])),
            None => {}
        }
    }
    let mut longest = 0i64;
    for (value, names) in values {
        match idle_limit(&value) {
            Some(secs) => longest = longest.max(secs),
            None => invalid.push((value, names)),
        }
    }
    Ok(PolicyAge {
        minutes: longest.saturating_add(59) / 60,
        invalid,
    })
}

impl AuthcacheCleanupTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let now = ctx.clock.now_utc();
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        let age = match self.unused_for {
            Some(d) => d.to_chrono(),
            None => {
                super::require_tables(conn, &[TABLE, "policy", "policycondition", "description"])?;
                let found = policy_age(conn)?;
                for (value, names) in &found.invalid {
                    out.warn(
                        ctx.output,
                        format!(
                            "Ignoring the invalid auth_cache value {} of the policies {}.",
                            crate::pytext::str_repr(value),
                            names.join(", ")
                        ),
                    );
                }
                if found.minutes > 0 {
                    out.say(ctx.output, format!("Removing authcache entries not used for {} minutes, the longest an active auth_cache policy accepts an unused entry.", found.minutes));
                } else {
                    out.say(
                        ctx.output,
                        "No active auth_cache policy accepts cached entries, removing all of them."
                            .into(),
                    );
                }
                // From the database's policies: checked, so a huge value cannot panic.
                chrono::TimeDelta::try_minutes(found.minutes).unwrap_or(chrono::TimeDelta::MAX)
            }
        };
        super::require_tables(conn, &[TABLE])?;
        let cutoff = now
            .checked_sub_signed(age)
            .unwrap_or(chrono::NaiveDateTime::MIN);
        out.cutoff = Some(format!("last_auth < {}", datetime_str(&cutoff)));
        let plan = DeletePlan {
            table: TABLE,
            pk: "id",
            filter: format!("{} < ?", conn.dialect().quote("last_auth")),
            params: vec![Value::DateTime(cutoff)],
            chunksize: None,
        };
        if ctx.dry_run {
            let n = delete::count_matching(conn, &plan)?;
            out.matched = Some(n);
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!("Would delete {n} entries from authcache"),
            );
            self.redis_note(ctx, out);
            return Ok(());
        }
        let done = delete::delete_matching(conn, &plan, &mut NoProgress, ctx.interrupt)?;
        out.deleted = Some(done.deleted);
        out.say(
            ctx.output,
            format!("{} entries deleted from authcache", done.deleted),
        );
        self.redis_note(ctx, out);
        Ok(())
    }

    /// With `PI_REDIS_CACHE_AUTH`, privacyIDEA 3.14 explains what the table still holds.
    fn redis_note(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) {
        if ctx.settings.redis_cache_auth {
            out.say(ctx.output, REDIS_NOTE.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timedeltas_and_idle_limits_like_privacyidea() {
        assert_eq!(parse_timedelta("4h"), Some(14_400));
        assert_eq!(parse_timedelta(" + 5 m "), Some(300));
        assert_eq!(parse_timedelta("-30s"), Some(-30));
        assert_eq!(parse_timedelta("2y"), Some(2 * 365 * 86_400));
        assert_eq!(parse_timedelta("4x"), None);
        assert_eq!(parse_timedelta("h"), None);
        assert_eq!(parse_timedelta("4h5m"), None);
        assert_eq!(idle_limit("4h/5m"), Some(300));
        assert_eq!(idle_limit("2h"), Some(7200));
        assert_eq!(idle_limit("90s/3"), Some(90));
        assert_eq!(idle_limit("5m/1h"), Some(300));
        assert_eq!(idle_limit("1h/x"), None);
        assert_eq!(idle_limit("1h/"), None);
        // privacyIDEA looks at the first two parts only when there are exactly two.
        assert_eq!(idle_limit("1h/5m/2"), Some(3600));
    }
}
