//! The periodic tasks as privacyIDEA stores them, and the one write privacyidea-cron makes
//! to them: a node's last run (`periodictasklastrun`, naive UTC, one row per task and node).

use chrono::NaiveDateTime;

use crate::db::{Connection, DbError, DbResult, Value};

pub const TASKS: &str = "periodictask";
pub const OPTIONS: &str = "periodictaskoption";
pub const LAST_RUNS: &str = "periodictasklastrun";
const LAST_RUN_SEQUENCE: &str = "periodictasklastrun_seq";

/// One row of `periodictask` with its options and last runs (privacyIDEA's `PeriodicTask.get()`).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodicTask {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub retry_if_failed: bool,
    /// The cron expression, as stored.
    pub interval: String,
    /// `nodes` split at commas and stripped, as privacyIDEA reads it.
    pub nodes: Vec<String>,
    pub taskmodule: String,
    pub ordering: i64,
    /// Naive UTC.
    pub last_update: NaiveDateTime,
    /// `(key, value)` in key order (the database's order of the unique index
    /// `(periodictask_id, key)`, which privacyIDEA's unordered query reads on SQLite and
    /// PostgreSQL); values are strings or NULL.
    pub options: Vec<(String, Option<String>)>,
    /// `(node, timestamp)`, naive UTC.
    pub last_runs: Vec<(String, NaiveDateTime)>,
}

impl PeriodicTask {
    /// The option's value (`params.get(key)`).
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    /// When the task last ran on `node`, if it did.
    pub fn last_run(&self, node: &str) -> Option<NaiveDateTime> {
        self.last_runs
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, t)| *t)
    }

    pub fn runs_on(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n == node)
    }
}

fn datetime(v: &Value, what: &str) -> DbResult<NaiveDateTime> {
    v.as_datetime()
        .ok_or_else(|| DbError::other(format!("{what} is not a timestamp: {v:?}")))
}

fn flag(v: &Value) -> bool {
    v.as_i64().is_some_and(|i| i != 0)
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_default()
}

/// Every periodic task ordered by `ordering` (ties by id), or only the one named `name`.
pub fn load(conn: &mut dyn Connection, name: Option<&str>) -> DbResult<Vec<PeriodicTask>> {
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let mut sql = format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {}",
        q("id"),
        q("name"),
        q("active"),
        q("retry_if_failed"),
        q("interval"),
        q("nodes"),
        q("taskmodule"),
        q("ordering"),
        q("last_update"),
        q(TASKS)
    );
    let mut params = Vec::new();
    if let Some(n) = name {
        sql.push_str(&format!(" WHERE {} = ?", q("name")));
        params.push(Value::Text(n.to_string()));
    }
    sql.push_str(&format!(" ORDER BY {}, {}", q("ordering"), q("id")));
    let mut tasks = Vec::new();
    for r in conn.query_rows(&sql, &params)? {
        tasks.push(PeriodicTask {
            id: r.get(0).as_i64().unwrap_or_default(),
            name: text(r.get(1)),
            active: flag(r.get(2)),
            retry_if_failed: flag(r.get(3)),
            interval: text(r.get(4)),
            nodes: text(r.get(5))
                .split(',')
                .map(|n| n.trim().to_string())
                .collect(),
            taskmodule: text(r.get(6)),
            ordering: r.get(7).as_i64().unwrap_or_default(),
            last_update: datetime(r.get(8), "periodictask.last_update")?,
            options: Vec::new(),
            last_runs: Vec::new(),
        });
    }
    if tasks.is_empty() {
        return Ok(tasks);
    }
    // privacyIDEA reads a task's options without ORDER BY; the databases answer that from
    // the unique index ptoix_1 (periodictask_id, key), so `list` prints them in key order
    // (checked against privacyIDEA 3.14: tests/fixtures/periodic/).
    let options = conn.query_rows(
        &format!(
            "SELECT {}, {}, {} FROM {} ORDER BY {}, {}",
            q("periodictask_id"),
            q("key"),
            q("value"),
            q(OPTIONS),
            q("periodictask_id"),
            q("key")
        ),
        &[],
    )?;
    let runs = conn.query_rows(
        &format!(
            "SELECT {}, {}, {} FROM {} ORDER BY {}",
            q("periodictask_id"),
            q("node"),
            q("timestamp"),
            q(LAST_RUNS),
            q("id")
        ),
        &[],
    )?;
    for t in &mut tasks {
        for o in options.iter().filter(|o| o.get(0).as_i64() == Some(t.id)) {
            t.options
                .push((text(o.get(1)), o.get(2).as_str().map(str::to_string)));
        }
        for r in runs.iter().filter(|r| r.get(0).as_i64() == Some(t.id)) {
            t.last_runs.push((
                text(r.get(1)),
                datetime(r.get(2), "periodictasklastrun.timestamp")?,
            ));
        }
    }
    Ok(tasks)
}

/// Note that `task_id` ran on `node` at `at` (naive UTC): update the node's row or insert one
/// with an id from `periodictasklastrun_seq`, and commit (`set_periodic_task_last_run`).
pub fn record_last_run(
    conn: &mut dyn Connection,
    task_id: i64,
    node: &str,
    at: NaiveDateTime,
) -> DbResult<()> {
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let id_expr = conn.next_id_sql(LAST_RUN_SEQUENCE)?;
    conn.begin()?;
    let result = (|| {
        let updated = conn.execute(
            &format!(
                "UPDATE {} SET {} = ? WHERE {} = ? AND {} = ?",
                q(LAST_RUNS),
                q("timestamp"),
                q("periodictask_id"),
                q("node")
            ),
            &[
                Value::DateTime(at),
                Value::Int(task_id),
                Value::Text(node.into()),
            ],
        )?;
        // MySQL counts changed rows, so an update to the same timestamp reports 0: look
        // before inserting.
        let exists = updated > 0
            || conn
                .query_i64(
                    &format!(
                        "SELECT count(*) FROM {} WHERE {} = ? AND {} = ?",
                        q(LAST_RUNS),
                        q("periodictask_id"),
                        q("node")
                    ),
                    &[Value::Int(task_id), Value::Text(node.into())],
                )?
                .unwrap_or(0)
                > 0;
        if !exists {
            let (id_col, id_val) = match &id_expr {
                Some(e) => (format!("{}, ", q("id")), format!("{e}, ")),
                None => (String::new(), String::new()),
            };
            conn.execute(
                &format!(
                    "INSERT INTO {} ({id_col}{}, {}, {}) VALUES ({id_val}?, ?, ?)",
                    q(LAST_RUNS),
                    q("periodictask_id"),
                    q("node"),
                    q("timestamp")
                ),
                &[
                    Value::Int(task_id),
                    Value::Text(node.into()),
                    Value::DateTime(at),
                ],
            )?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.commit(),
        Err(e) => {
            let _ = conn.rollback();
            Err(e)
        }
    }
}
