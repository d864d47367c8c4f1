//! Reading and writing privacyIDEA's policy tables (`policy`, `policycondition`,
//! `description`) and the config-change timestamp, on every backend.
//!
//! privacyIDEA has no database cascades for these tables, so conditions and descriptions are
//! deleted explicitly; new ids come from the named sequences where the database has them
//! (PostgreSQL, MariaDB); and every change bumps `config.__timestamp__`, which makes running
//! privacyIDEA nodes reload their policies. Callers run these in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::model::{StoredCondition, StoredPolicy};
use super::validate::Known;
use crate::db::{Connection, DbError, DbResult, Dialect, Row, Value};

pub const POLICY: &str = "policy";
pub const CONDITION: &str = "policycondition";
pub const DESCRIPTION: &str = "description";
pub const CONFIG: &str = "config";
/// `description.object_type` of policy descriptions.
const OBJECT_TYPE: &str = "policy";
const TIMESTAMP_KEY: &str = "__timestamp__";
const TIMESTAMP_DESCRIPTION: &str = "config timestamp. last changed.";

const POLICY_COLUMNS: [&str; 16] = [
    "active",
    "check_all_resolvers",
    "name",
    "user_case_insensitive",
    "scope",
    "action",
    "realm",
    "adminrealm",
    "adminuser",
    "resolver",
    "pinode",
    "user",
    "client",
    "time",
    "user_agents",
    "priority",
];

/// A stored policy with the ids its rows have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingPolicy {
    pub id: i64,
    /// The id of its `description` row, if it has one.
    pub description_id: Option<i64>,
    pub policy: StoredPolicy,
}

/// The tables a policy change needs (the config table for privacyIDEA's change timestamp).
pub const TABLES: &[&str] = &[POLICY, CONDITION, DESCRIPTION, CONFIG];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(t) => Some(t.clone()),
        other => Some(match other {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => String::new(),
        }),
    }
}

fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        other => other.as_i64().map(|i| i != 0),
    }
}

/// Every policy with its conditions and description, in id order.
pub fn load(conn: &mut dyn Connection) -> DbResult<Vec<ExistingPolicy>> {
    let d = conn.dialect();
    let cols: Vec<String> = POLICY_COLUMNS.iter().map(|c| d.quote(c)).collect();
    let rows = conn.query_rows(
        &format!(
            "SELECT {}, {} FROM {} ORDER BY {}",
            d.quote("id"),
            cols.join(", "),
            d.quote(POLICY),
            d.quote("id")
        ),
        &[],
    )?;
    let mut conditions: HashMap<i64, Vec<StoredCondition>> = HashMap::new();
    for r in conn.query_rows(
        &format!(
            "SELECT {}, {}, {}, {}, {}, {}, {} FROM {} ORDER BY {}",
            d.quote("policy_id"),
            d.quote("section"),
            d.quote("Key"),
            d.quote("comparator"),
            d.quote("Value"),
            d.quote("active"),
            d.quote("handle_missing_data"),
            d.quote(CONDITION),
            d.quote("id")
        ),
        &[],
    )? {
        let Some(pid) = r.get(0).as_i64() else {
            continue;
        };
        conditions.entry(pid).or_default().push(StoredCondition {
            section: text(r.get(1)).unwrap_or_default(),
            key: text(r.get(2)).unwrap_or_default(),
            comparator: text(r.get(3)).unwrap_or_default(),
            value: text(r.get(4)).unwrap_or_default(),
            active: flag(r.get(5)).unwrap_or(false),
            handle_missing_data: text(r.get(6)),
        });
    }
    // privacyIDEA shows the first description row of a policy.
    let mut descriptions: HashMap<i64, (i64, Option<String>)> = HashMap::new();
    for r in conn.query_rows(
        &format!(
            "SELECT {}, {}, {} FROM {} WHERE {} = ? ORDER BY {}",
            d.quote("object_id"),
            d.quote("id"),
            d.quote("description"),
            d.quote(DESCRIPTION),
            d.quote("object_type"),
            d.quote("id")
        ),
        &[Value::Text(OBJECT_TYPE.into())],
    )? {
        let (Some(oid), Some(id)) = (r.get(0).as_i64(), r.get(1).as_i64()) else {
            continue;
        };
        descriptions.entry(oid).or_insert((id, text(r.get(2))));
    }
    Ok(rows
        .iter()
        .map(|r: &Row| {
            let id = r.get(0).as_i64().unwrap_or_default();
            let c = |i: usize| r.get(i + 1);
            let (description_id, description) = match descriptions.remove(&id) {
                Some((did, text)) => (Some(did), text),
                None => (None, None),
            };
            ExistingPolicy {
                id,
                description_id,
                policy: StoredPolicy {
                    active: flag(c(0)),
                    check_all_resolvers: flag(c(1)),
                    name: text(c(2)).unwrap_or_default(),
                    user_case_insensitive: flag(c(3)),
                    scope: text(c(4)).unwrap_or_default(),
                    action: text(c(5)),
                    realm: text(c(6)),
                    adminrealm: text(c(7)),
                    adminuser: text(c(8)),
                    resolver: text(c(9)),
                    pinode: text(c(10)),
                    user: text(c(11)),
                    client: text(c(12)),
                    time: text(c(13)),
                    user_agents: text(c(14)),
                    priority: c(15).as_i64().unwrap_or(1),
                    conditions: conditions.remove(&id).unwrap_or_default(),
                    description,
                },
            }
        })
        .collect())
}

/// The realms, resolvers and nodes of the installation (a missing table gives `None`).
pub fn known(conn: &mut dyn Connection) -> DbResult<Known> {
    let d = conn.dialect();
    let names = |conn: &mut dyn Connection,
                 table: &str,
                 lower: bool|
     -> DbResult<Option<HashSet<String>>> {
        if !conn.table_exists(table)? {
            return Ok(None);
        }
        Ok(Some(
            conn.query_rows(
                &format!("SELECT {} FROM {}", d.quote("name"), d.quote(table)),
                &[],
            )?
            .iter()
            .filter_map(|r| text(r.get(0)))
            .map(|n| if lower { n.to_lowercase() } else { n })
            .collect(),
        ))
    };
    Ok(Known {
        realms: names(conn, "realm", true)?,
        resolvers: names(conn, "resolver", true)?,
        nodes: names(conn, "nodename", false)?,
    })
}

/// Ids for new rows: the sequence expression per table, looked up once.
#[derive(Debug, Default)]
pub struct Ids {
    sequences: HashMap<&'static str, Option<String>>,
}

impl Ids {
    fn expr(&mut self, conn: &mut dyn Connection, seq: &'static str) -> DbResult<Option<String>> {
        if let Some(e) = self.sequences.get(seq) {
            return Ok(e.clone());
        }
        let e = conn.next_id_sql(seq)?;
        self.sequences.insert(seq, e.clone());
        Ok(e)
    }
}

/// `INSERT INTO t (id?, cols…) VALUES (nextval?, ?…)`: the id column only where a sequence
/// supplies it; elsewhere the database does (rowid, AUTO_INCREMENT).
fn insert_sql(d: Dialect, table: &str, id_expr: Option<&str>, cols: &[&str]) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    if let Some(e) = id_expr {
        names.push(d.quote("id"));
        values.push(e.to_string());
    }
    for c in cols {
        names.push(d.quote(c));
        values.push("?".into());
    }
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        d.quote(table),
        names.join(", "),
        values.join(", ")
    )
}

fn opt_text(v: &Option<String>) -> Value {
    v.clone().map(Value::Text).unwrap_or(Value::Null)
}

fn opt_bool(v: Option<bool>) -> Value {
    v.map(Value::Bool).unwrap_or(Value::Null)
}

fn policy_params(p: &StoredPolicy) -> Vec<Value> {
    vec![
        opt_bool(p.active),
        opt_bool(p.check_all_resolvers),
        Value::Text(p.name.clone()),
        opt_bool(p.user_case_insensitive),
        Value::Text(p.scope.clone()),
        opt_text(&p.action),
        opt_text(&p.realm),
        opt_text(&p.adminrealm),
        opt_text(&p.adminuser),
        opt_text(&p.resolver),
        opt_text(&p.pinode),
        opt_text(&p.user),
        opt_text(&p.client),
        opt_text(&p.time),
        opt_text(&p.user_agents),
        Value::Int(p.priority),
    ]
}

/// Insert a new policy with its conditions and its description row (privacyIDEA creates one
/// even without a description text). Returns the new id.
pub fn insert(
    conn: &mut dyn Connection,
    ids: &mut Ids,
    p: &StoredPolicy,
    now_local: NaiveDateTime,
) -> DbResult<i64> {
    let d = conn.dialect();
    let id = match ids.expr(conn, "policy_seq")? {
        Some(expr) => {
            // The id is needed for the child rows: take it from the sequence first.
            let id = conn
                .query_i64(&format!("SELECT {expr}"), &[])?
                .ok_or_else(|| DbError::other("the policy sequence returned no id"))?;
            let mut params = vec![Value::Int(id)];
            params.extend(policy_params(p));
            conn.execute(&insert_sql(d, POLICY, Some("?"), &POLICY_COLUMNS), &params)?;
            id
        }
        None => {
            conn.execute(
                &insert_sql(d, POLICY, None, &POLICY_COLUMNS),
                &policy_params(p),
            )?;
            conn.query_i64(
                &format!(
                    "SELECT {} FROM {} WHERE {} = ?",
                    d.quote("id"),
                    d.quote(POLICY),
                    d.quote("name")
                ),
                &[Value::Text(p.name.clone())],
            )?
            .ok_or_else(|| DbError::other(format!("policy '{}' vanished after insert", p.name)))?
        }
    };
    insert_conditions(conn, ids, id, &p.conditions)?;
    insert_description(conn, ids, id, &p.description, now_local)?;
    Ok(id)
}

fn insert_conditions(
    conn: &mut dyn Connection,
    ids: &mut Ids,
    policy_id: i64,
    conditions: &[StoredCondition],
) -> DbResult<()> {
    if conditions.is_empty() {
        return Ok(());
    }
    let d = conn.dialect();
    let expr = ids.expr(conn, "policycondition_seq")?;
    let sql = insert_sql(
        d,
        CONDITION,
        expr.as_deref(),
        &[
            "policy_id",
            "section",
            "Key",
            "comparator",
            "Value",
            "active",
            "handle_missing_data",
        ],
    );
    for c in conditions {
        conn.execute(
            &sql,
            &[
                Value::Int(policy_id),
                Value::Text(c.section.clone()),
                Value::Text(c.key.clone()),
                Value::Text(c.comparator.clone()),
                Value::Text(c.value.clone()),
                Value::Bool(c.active),
                opt_text(&c.handle_missing_data),
            ],
        )?;
    }
    Ok(())
}

fn insert_description(
    conn: &mut dyn Connection,
    ids: &mut Ids,
    policy_id: i64,
    description: &Option<String>,
    now_local: NaiveDateTime,
) -> DbResult<()> {
    let d = conn.dialect();
    let expr = ids.expr(conn, "description_seq")?;
    conn.execute(
        &insert_sql(
            d,
            DESCRIPTION,
            expr.as_deref(),
            &["object_id", "object_type", "last_update", "description"],
        ),
        &[
            Value::Int(policy_id),
            Value::Text(OBJECT_TYPE.into()),
            // privacyIDEA sets it from datetime.now(): local time.
            Value::DateTime(now_local),
            opt_text(description),
        ],
    )?;
    Ok(())
}

fn delete_children(
    conn: &mut dyn Connection,
    policy_id: i64,
    conditions_only: bool,
) -> DbResult<()> {
    let d = conn.dialect();
    conn.execute(
        &format!(
            "DELETE FROM {} WHERE {} = ?",
            d.quote(CONDITION),
            d.quote("policy_id")
        ),
        &[Value::Int(policy_id)],
    )?;
    if !conditions_only {
        conn.execute(
            &format!(
                "DELETE FROM {} WHERE {} = ? AND {} = ?",
                d.quote(DESCRIPTION),
                d.quote("object_id"),
                d.quote("object_type")
            ),
            &[Value::Int(policy_id), Value::Text(OBJECT_TYPE.into())],
        )?;
    }
    Ok(())
}

/// Update a stored policy to `after`: the policy row, its conditions (replaced when they
/// differ) and its description (updated in place, as privacyIDEA does, without touching
/// `last_update`; created when missing).
pub fn update(
    conn: &mut dyn Connection,
    ids: &mut Ids,
    before: &ExistingPolicy,
    after: &StoredPolicy,
    now_local: NaiveDateTime,
) -> DbResult<()> {
    let d = conn.dialect();
    let sets: Vec<String> = POLICY_COLUMNS
        .iter()
        .map(|c| format!("{} = ?", d.quote(c)))
        .collect();
    let mut params = policy_params(after);
    params.push(Value::Int(before.id));
    conn.execute(
        &format!(
            "UPDATE {} SET {} WHERE {} = ?",
            d.quote(POLICY),
            sets.join(", "),
            d.quote("id")
        ),
        &params,
    )?;
    if before.policy.conditions != after.conditions {
        delete_children(conn, before.id, true)?;
        insert_conditions(conn, ids, before.id, &after.conditions)?;
    }
    if before.policy.description != after.description || before.description_id.is_none() {
        match before.description_id {
            Some(did) => {
                conn.execute(
                    &format!(
                        "UPDATE {} SET {} = ? WHERE {} = ?",
                        d.quote(DESCRIPTION),
                        d.quote("description"),
                        d.quote("id")
                    ),
                    &[opt_text(&after.description), Value::Int(did)],
                )?;
            }
            None => insert_description(conn, ids, before.id, &after.description, now_local)?,
        }
    }
    Ok(())
}

/// Set only `active` (privacyIDEA's `enable_policy`).
pub fn set_active(conn: &mut dyn Connection, policy_id: i64, active: bool) -> DbResult<()> {
    let d = conn.dialect();
    conn.execute(
        &format!(
            "UPDATE {} SET {} = ? WHERE {} = ?",
            d.quote(POLICY),
            d.quote("active"),
            d.quote("id")
        ),
        &[Value::Bool(active), Value::Int(policy_id)],
    )?;
    Ok(())
}

/// Delete a policy with its conditions and descriptions.
pub fn delete(conn: &mut dyn Connection, policy_id: i64) -> DbResult<()> {
    delete_children(conn, policy_id, false)?;
    let d = conn.dialect();
    conn.execute(
        &format!(
            "DELETE FROM {} WHERE {} = ?",
            d.quote(POLICY),
            d.quote("id")
        ),
        &[Value::Int(policy_id)],
    )?;
    Ok(())
}

/// privacyIDEA's `str(datetime.now().timestamp())`: epoch seconds plus the microseconds as a
/// fraction, in Python's float `repr` (`1795352435.57765`).
pub fn timestamp_value(now_utc: NaiveDateTime) -> String {
    let t = now_utc.and_utc();
    let seconds = t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6;
    crate::pytext::float_repr(seconds)
}

/// Upsert `config.__timestamp__` so that running privacyIDEA nodes reload their
/// configuration (reference §0.6). Returns the value written.
pub fn bump_timestamp(conn: &mut dyn Connection, now_utc: NaiveDateTime) -> DbResult<String> {
    let d = conn.dialect();
    let value = timestamp_value(now_utc);
    let (t, k, v, ty, desc) = (
        d.quote(CONFIG),
        d.quote("Key"),
        d.quote("Value"),
        d.quote("Type"),
        d.quote("Description"),
    );
    // Counted rather than relying on UPDATE's row count: MySQL reports 0 for an UPDATE that
    // changes nothing.
    let exists = conn
        .query_i64(
            &format!("SELECT COUNT(*) FROM {t} WHERE {k} = ?"),
            &[Value::Text(TIMESTAMP_KEY.into())],
        )?
        .unwrap_or(0)
        > 0;
    let params = [
        Value::Text(value.clone()),
        Value::Text(String::new()),
        Value::Text(TIMESTAMP_DESCRIPTION.into()),
        Value::Text(TIMESTAMP_KEY.into()),
    ];
    if exists {
        conn.execute(
            &format!("UPDATE {t} SET {v} = ?, {ty} = ?, {desc} = ? WHERE {k} = ?"),
            &params,
        )?;
    } else {
        conn.execute(
            &format!("INSERT INTO {t} ({v}, {ty}, {desc}, {k}) VALUES (?, ?, ?, ?)"),
            &params,
        )?;
    }
    Ok(value)
}

/// The current timestamp value, if any (tests and reports).
pub fn read_timestamp(conn: &mut dyn Connection) -> DbResult<Option<String>> {
    let d = conn.dialect();
    Ok(conn
        .query_rows(
            &format!(
                "SELECT {} FROM {} WHERE {} = ?",
                d.quote("Value"),
                d.quote(CONFIG),
                d.quote("Key")
            ),
            &[Value::Text(TIMESTAMP_KEY.into())],
        )?
        .first()
        .and_then(|r| text(r.get(0))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_pythons_float_repr() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(
            timestamp_value(t("2026-11-22 13:00:35.577650")),
            "1795352435.57765"
        );
        assert_eq!(
            timestamp_value(t("2026-11-22 13:00:24.596015")),
            "1795352424.596015"
        );
        assert_eq!(timestamp_value(t("2026-11-22 13:00:24")), "1795352424.0");
    }
}
