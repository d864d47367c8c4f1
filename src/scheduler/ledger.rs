//! The run ledger: two tables pi-manage keeps in the installation's database (prefixed
//! `pim_` so they never collide with privacyIDEA's) that make every scheduled run happen
//! exactly once across all nodes sharing the database.
//!
//! * `pim_job_run`, one row per (job, slot): inserting it *is* claiming the slot (the primary
//!   key makes the second node's insert fail), and it doubles as the run history.
//! * `pim_job_lease`, one row per job: who runs it now, with a fencing token and an expiry on
//!   the database's clock. A node renews it while the job runs; a node that dies stops
//!   renewing, and after expiry another node may take the slot over. Acquiring bumps the
//!   token, so a holder that lost its lease can tell.
//!
//! Only plain INSERT/UPDATE with unique keys are used — no advisory locks, no `GET_LOCK`
//! (node-local on Galera) — so it works on PostgreSQL, MariaDB/Galera and SQLite alike.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::db::{Connection, DbErrorKind, DbResult, Value};

pub const RUN_TABLE: &str = "pim_job_run";
pub const LEASE_TABLE: &str = "pim_job_lease";

/// How often `acquire` repeats an attempt that lost a race (a Galera certification conflict).
const ACQUIRE_RETRIES: u32 = 4;

/// How a run came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    CatchUp,
    Takeover,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch_up",
            Trigger::Takeover => "takeover",
            Trigger::Manual => "manual",
        }
    }
}

/// This machine's name, the default node name in the ledger.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localnode".into())
}

/// The text form of a slot: UTC with microseconds, which sorts like the instants it names.
pub fn slot_key(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The outcome of trying to claim a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Won,
    /// Another node claimed it first.
    Taken {
        node: String,
        status: String,
    },
}

/// A held lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job: String,
    pub token: i64,
}

/// One row of run history.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub job: String,
    pub slot: String,
    pub node: String,
    pub trigger: String,
    pub status: String,
    pub attempt: i64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub rows_affected: Option<i64>,
    pub error: Option<String>,
}

/// The ledger of one installation, seen from one node.
pub struct Ledger {
    conn: Box<dyn Connection>,
    node: String,
}

impl Ledger {
    /// Use `conn` as the ledger's connection, creating the tables if they are missing.
    pub fn new(mut conn: Box<dyn Connection>, node: &str) -> DbResult<Ledger> {
        ensure_tables(conn.as_mut())?;
        Ok(Ledger {
            conn,
            node: node.to_string(),
        })
    }

    /// Use `conn` as the ledger's connection for reading only: `None` when the ledger tables
    /// do not exist (no run was ever recorded), and nothing is created.
    pub fn existing(mut conn: Box<dyn Connection>, node: &str) -> DbResult<Option<Ledger>> {
        if !conn.table_exists(RUN_TABLE)? {
            return Ok(None);
        }
        Ok(Some(Ledger {
            conn,
            node: node.to_string(),
        }))
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    fn q(&self, ident: &str) -> String {
        self.conn.dialect().quote(ident)
    }

    /// The database's clock, in milliseconds since the epoch.
    pub fn now_ms(&mut self) -> DbResult<i64> {
        let sql = format!("SELECT {}", self.conn.dialect().now_ms_sql());
        Ok(self.conn.query_i64(&sql, &[])?.unwrap_or_default())
    }

    /// The latest slot any node recorded for `job` (scheduled, caught up or taken over).
    pub fn last_slot(&mut self, job: &str) -> DbResult<Option<DateTime<Utc>>> {
        let sql = format!(
            "SELECT max({}) FROM {} WHERE {} = ? AND {} <> 'manual'",
            self.q("slot"),
            self.q(RUN_TABLE),
            self.q("job"),
            self.q("run_trigger")
        );
        let rows = self.conn.query_rows(&sql, &[Value::Text(job.into())])?;
        Ok(rows
            .first()
            .and_then(|r| r.get(0).as_str().map(str::to_string))
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| d.with_timezone(&Utc)))
    }

    /// Claim a slot by inserting its run row. Exactly one node's insert succeeds.
    pub fn claim(
        &mut self,
        job: &str,
        slot: &str,
        trigger: Trigger,
        started: DateTime<Utc>,
    ) -> DbResult<Claim> {
        let now = self.conn.dialect().now_ms_sql();
        let sql = format!(
            "INSERT INTO {} ({}, {}, {}, {}, {}, {}, {}, {}) VALUES (?, ?, ?, ?, 'running', 1, ?, {now})",
            self.q(RUN_TABLE),
            self.q("job"),
            self.q("slot"),
            self.q("node"),
            self.q("run_trigger"),
            self.q("status"),
            self.q("attempt"),
            self.q("started_at"),
            self.q("heartbeat_ms"),
        );
        let params = [
            Value::Text(job.into()),
            Value::Text(slot.into()),
            Value::Text(self.node.clone()),
            Value::Text(trigger.as_str().into()),
            Value::Text(slot_key(started)),
        ];
        match self.conn.execute(&sql, &params) {
            Ok(_) => Ok(Claim::Won),
            // A duplicate key — or, on Galera, a certification conflict — means another node won.
            Err(e) if matches!(e.kind, DbErrorKind::Constraint | DbErrorKind::Locked) => {
                let sql = format!(
                    "SELECT {}, {} FROM {} WHERE {} = ? AND {} = ?",
                    self.q("node"),
                    self.q("status"),
                    self.q(RUN_TABLE),
                    self.q("job"),
                    self.q("slot")
                );
                let row = self
                    .conn
                    .query_rows(&sql, &[Value::Text(job.into()), Value::Text(slot.into())])?;
                let r = row.first();
                Ok(Claim::Taken {
                    node: r.and_then(|r| r.get(0).as_str()).unwrap_or("?").to_string(),
                    status: r.and_then(|r| r.get(1).as_str()).unwrap_or("?").to_string(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Acquire the job's lease for `slot` if nobody holds it (or the holder's expired).
    ///
    /// Two nodes taking an expired lease at once both update its row. On one server the second
    /// update waits for the first and then finds the lease taken; on Galera both run, and the
    /// one that loses certification fails with a deadlock error. That error means the row
    /// changed under us, so the attempt is simply repeated: it then sees the winner's lease.
    pub fn acquire(&mut self, job: &str, slot: &str, ttl_ms: i64) -> DbResult<Option<Lease>> {
        let mut attempt = 0u32;
        loop {
            match self.try_acquire(job, slot, ttl_ms) {
                Err(e) if e.kind == DbErrorKind::Locked && attempt < ACQUIRE_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
                }
                other => return other,
            }
        }
    }

    fn try_acquire(&mut self, job: &str, slot: &str, ttl_ms: i64) -> DbResult<Option<Lease>> {
        let now = self.conn.dialect().now_ms_sql();
        let (t, j, o, tok, s, e) = (
            self.q(LEASE_TABLE),
            self.q("job"),
            self.q("owner"),
            self.q("token"),
            self.q("slot"),
            self.q("expires_ms"),
        );
        // An expired lease that still names a slot belongs to a node that died mid-run: only a
        // takeover of *that* slot may acquire it (or the probe abandons it), so a newer slot
        // can never silently bury the dead node's run.
        let update = format!(
            "UPDATE {t} SET {o} = ?, {tok} = {tok} + 1, {s} = ?, {e} = {now} + ? WHERE {j} = ? AND {e} < {now} AND ({s} IS NULL OR {s} = ?)"
        );
        let n = self.conn.execute(
            &update,
            &[
                Value::Text(self.node.clone()),
                Value::Text(slot.into()),
                Value::Int(ttl_ms),
                Value::Text(job.into()),
                Value::Text(slot.into()),
            ],
        )?;
        if n == 0 {
            let insert = format!(
                "INSERT INTO {t} ({j}, {o}, {tok}, {s}, {e}) VALUES (?, ?, 1, ?, {now} + ?)"
            );
            match self.conn.execute(
                &insert,
                &[
                    Value::Text(job.into()),
                    Value::Text(self.node.clone()),
                    Value::Text(slot.into()),
                    Value::Int(ttl_ms),
                ],
            ) {
                Ok(_) => {}
                Err(e) if matches!(e.kind, DbErrorKind::Constraint | DbErrorKind::Locked) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
        let sql = format!("SELECT {tok}, {o} FROM {t} WHERE {j} = ?");
        let row = self.conn.query_rows(&sql, &[Value::Text(job.into())])?;
        let Some(r) = row.first() else {
            return Ok(None);
        };
        if r.get(1).as_str() != Some(self.node.as_str()) {
            return Ok(None);
        }
        Ok(Some(Lease {
            job: job.to_string(),
            token: r.get(0).as_i64().unwrap_or_default(),
        }))
    }

    /// Extend a held lease; `false` when it was lost (expired and taken by another node).
    pub fn renew(&mut self, lease: &Lease, slot: &str, ttl_ms: i64) -> DbResult<bool> {
        let now = self.conn.dialect().now_ms_sql();
        let sql = format!(
            "UPDATE {} SET {} = {now} + ? WHERE {} = ? AND {} = ? AND {} = ? AND {} >= {now}",
            self.q(LEASE_TABLE),
            self.q("expires_ms"),
            self.q("job"),
            self.q("owner"),
            self.q("token"),
            self.q("expires_ms"),
        );
        let n = self.conn.execute(
            &sql,
            &[
                Value::Int(ttl_ms),
                Value::Text(lease.job.clone()),
                Value::Text(self.node.clone()),
                Value::Int(lease.token),
            ],
        )?;
        if n == 1 {
            let hb = format!(
                "UPDATE {} SET {} = {now} WHERE {} = ? AND {} = ?",
                self.q(RUN_TABLE),
                self.q("heartbeat_ms"),
                self.q("job"),
                self.q("slot")
            );
            self.conn.execute(
                &hb,
                &[Value::Text(lease.job.clone()), Value::Text(slot.into())],
            )?;
        }
        Ok(n == 1)
    }

    /// Give a lease up (after the run is recorded).
    pub fn release(&mut self, lease: &Lease) -> DbResult<()> {
        let sql = format!(
            "UPDATE {} SET {} = 0, {} = NULL WHERE {} = ? AND {} = ? AND {} = ?",
            self.q(LEASE_TABLE),
            self.q("expires_ms"),
            self.q("slot"),
            self.q("job"),
            self.q("owner"),
            self.q("token"),
        );
        self.conn.execute(
            &sql,
            &[
                Value::Text(lease.job.clone()),
                Value::Text(self.node.clone()),
                Value::Int(lease.token),
            ],
        )?;
        Ok(())
    }

    /// A slot whose runner's lease expired while it was running (the node died).
    pub fn orphaned_slot(&mut self, job: &str) -> DbResult<Option<String>> {
        let now = self.conn.dialect().now_ms_sql();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = ? AND {} IS NOT NULL AND {} < {now}",
            self.q("slot"),
            self.q(LEASE_TABLE),
            self.q("job"),
            self.q("slot"),
            self.q("expires_ms"),
        );
        let rows = self.conn.query_rows(&sql, &[Value::Text(job.into())])?;
        Ok(rows
            .first()
            .and_then(|r| r.get(0).as_str().map(str::to_string)))
    }

    /// Give up an orphaned slot that is too late to run: the run is recorded `abandoned` and
    /// the lease is freed for later slots.
    pub fn abandon(&mut self, job: &str, slot: &str, reason: &str) -> DbResult<()> {
        let now = self.conn.dialect().now_ms_sql();
        let sql = format!(
            "UPDATE {} SET {} = NULL WHERE {} = ? AND {} = ? AND {} < {now}",
            self.q(LEASE_TABLE),
            self.q("slot"),
            self.q("job"),
            self.q("slot"),
            self.q("expires_ms"),
        );
        if self
            .conn
            .execute(&sql, &[Value::Text(job.into()), Value::Text(slot.into())])?
            == 1
        {
            let sql = format!(
                "UPDATE {} SET {} = 'abandoned', {} = ? WHERE {} = ? AND {} = ? AND {} = 'running'",
                self.q(RUN_TABLE),
                self.q("status"),
                self.q("error"),
                self.q("job"),
                self.q("slot"),
                self.q("status"),
            );
            self.conn.execute(
                &sql,
                &[
                    Value::Text(reason.into()),
                    Value::Text(job.into()),
                    Value::Text(slot.into()),
                ],
            )?;
        }
        Ok(())
    }

    /// Take over an orphaned slot: acquire the lease (only possible once it expired), then
    /// move the run row to this node.
    pub fn take_over(&mut self, job: &str, slot: &str, ttl_ms: i64) -> DbResult<Option<Lease>> {
        let Some(lease) = self.acquire(job, slot, ttl_ms)? else {
            return Ok(None);
        };
        let now = self.conn.dialect().now_ms_sql();
        let sql = format!(
            "UPDATE {} SET {} = ?, {} = 'running', {} = {} + 1, {} = ?, {} = {now} WHERE {} = ? AND {} = ?",
            self.q(RUN_TABLE),
            self.q("node"),
            self.q("status"),
            self.q("attempt"),
            self.q("attempt"),
            self.q("run_trigger"),
            self.q("heartbeat_ms"),
            self.q("job"),
            self.q("slot"),
        );
        self.conn.execute(
            &sql,
            &[
                Value::Text(self.node.clone()),
                Value::Text(Trigger::Takeover.as_str().into()),
                Value::Text(job.into()),
                Value::Text(slot.into()),
            ],
        )?;
        Ok(Some(lease))
    }

    /// Record how a claimed run ended.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &mut self,
        job: &str,
        slot: &str,
        status: &str,
        finished: DateTime<Utc>,
        duration_ms: i64,
        rows: Option<i64>,
        error: Option<&str>,
        report: Option<&str>,
    ) -> DbResult<()> {
        let sql = format!(
            "UPDATE {} SET {} = ?, {} = ?, {} = ?, {} = ?, {} = ?, {} = ? WHERE {} = ? AND {} = ? AND {} = ?",
            self.q(RUN_TABLE),
            self.q("status"),
            self.q("finished_at"),
            self.q("duration_ms"),
            self.q("rows_affected"),
            self.q("error"),
            self.q("report"),
            self.q("job"),
            self.q("slot"),
            self.q("node"),
        );
        self.conn.execute(
            &sql,
            &[
                Value::Text(status.into()),
                Value::Text(slot_key(finished)),
                Value::Int(duration_ms),
                rows.map(Value::Int).unwrap_or(Value::Null),
                error.map(|e| Value::Text(e.into())).unwrap_or(Value::Null),
                report.map(|r| Value::Text(r.into())).unwrap_or(Value::Null),
                Value::Text(job.into()),
                Value::Text(slot.into()),
                Value::Text(self.node.clone()),
            ],
        )?;
        Ok(())
    }

    /// Run history, newest first.
    pub fn history(&mut self, job: Option<&str>, limit: usize) -> DbResult<Vec<RunRecord>> {
        let filter = if job.is_some() {
            format!(" WHERE {} = ?", self.q("job"))
        } else {
            String::new()
        };
        let order = format!("{} DESC, {}", self.q("started_at"), self.q("job"));
        let params: Vec<Value> = job.map(|j| Value::Text(j.into())).into_iter().collect();
        self.select_runs(&filter, &params, &order, limit)
    }

    /// The run of `job` (any node, any trigger) that finished last, and the one that
    /// finished last with `ok`: what the scheduler's metrics report as the last run and the
    /// last success, the same on every node.
    pub fn latest_runs(&mut self, job: &str) -> DbResult<(Option<RunRecord>, Option<RunRecord>)> {
        let finished = format!(
            " WHERE {} = ? AND {} IS NOT NULL",
            self.q("job"),
            self.q("finished_at")
        );
        let order = format!("{} DESC", self.q("finished_at"));
        let params = [Value::Text(job.into())];
        let last = self.select_runs(&finished, &params, &order, 1)?.pop();
        let ok = format!("{finished} AND {} = 'ok'", self.q("status"));
        let last_ok = self.select_runs(&ok, &params, &order, 1)?.pop();
        Ok((last, last_ok))
    }

    fn select_runs(
        &mut self,
        filter: &str,
        params: &[Value],
        order: &str,
        limit: usize,
    ) -> DbResult<Vec<RunRecord>> {
        let cols = [
            "job",
            "slot",
            "node",
            "run_trigger",
            "status",
            "attempt",
            "started_at",
            "finished_at",
            "duration_ms",
            "rows_affected",
            "error",
        ];
        let select: Vec<String> = cols.iter().map(|c| self.q(c)).collect();
        let sql = format!(
            "SELECT {} FROM {}{filter} ORDER BY {order} LIMIT {limit}",
            select.join(", "),
            self.q(RUN_TABLE),
        );
        let text = |v: &Value| v.as_str().map(str::to_string);
        Ok(self
            .conn
            .query_rows(&sql, params)?
            .iter()
            .map(|r| RunRecord {
                job: text(r.get(0)).unwrap_or_default(),
                slot: text(r.get(1)).unwrap_or_default(),
                node: text(r.get(2)).unwrap_or_default(),
                trigger: text(r.get(3)).unwrap_or_default(),
                status: text(r.get(4)).unwrap_or_default(),
                attempt: r.get(5).as_i64().unwrap_or(1),
                started_at: text(r.get(6)),
                finished_at: text(r.get(7)),
                duration_ms: r.get(8).as_i64(),
                rows_affected: r.get(9).as_i64(),
                error: text(r.get(10)),
            })
            .collect())
    }

    /// Delete history rows started before `before` (retention).
    pub fn prune(&mut self, before: DateTime<Utc>) -> DbResult<u64> {
        let sql = format!(
            "DELETE FROM {} WHERE {} < ? AND {} <> 'running'",
            self.q(RUN_TABLE),
            self.q("started_at"),
            self.q("status")
        );
        self.conn.execute(&sql, &[Value::Text(slot_key(before))])
    }

    /// Mark a claimed slot as skipped (and why), without running it.
    pub fn skip(
        &mut self,
        job: &str,
        slot: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        self.finish(job, slot, "skipped", now, 0, None, Some(reason), None)
    }
}

/// Create the ledger tables when they are missing.
pub fn ensure_tables(conn: &mut dyn Connection) -> DbResult<()> {
    let d = conn.dialect();
    let q = |s: &str| d.quote(s);
    if !conn.table_exists(RUN_TABLE)? {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({} VARCHAR(200) NOT NULL, {} VARCHAR(40) NOT NULL, {} VARCHAR(200) NOT NULL, {} VARCHAR(20) NOT NULL, {} VARCHAR(20) NOT NULL, {} INTEGER NOT NULL, {} VARCHAR(40), {} VARCHAR(40), {} BIGINT, {} BIGINT, {} BIGINT, {} TEXT, {} TEXT, PRIMARY KEY ({}, {}))",
            q(RUN_TABLE), q("job"), q("slot"), q("node"), q("run_trigger"), q("status"), q("attempt"),
            q("started_at"), q("finished_at"), q("heartbeat_ms"), q("duration_ms"), q("rows_affected"),
            q("error"), q("report"), q("job"), q("slot")
        ))?;
    }
    if !conn.table_exists(LEASE_TABLE)? {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({} VARCHAR(200) NOT NULL PRIMARY KEY, {} VARCHAR(200) NOT NULL, {} BIGINT NOT NULL, {} VARCHAR(40), {} BIGINT NOT NULL)",
            q(LEASE_TABLE), q("job"), q("owner"), q("token"), q("slot"), q("expires_ms")
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sqlite::SqliteConnection;
    use crate::db::OpenOptions;
    use crate::dburl::DbUrl;

    fn ledgers() -> (tempfile::TempDir, Ledger, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(&format!("sqlite:///{}/l.sqlite", dir.path().display())).unwrap();
        let open = || {
            Box::new(
                SqliteConnection::open(
                    &url,
                    &OpenOptions {
                        create: true,
                        ..Default::default()
                    },
                )
                .unwrap(),
            ) as Box<dyn Connection>
        };
        let a = Ledger::new(open(), "node-a").unwrap();
        let b = Ledger::new(open(), "node-b").unwrap();
        (dir, a, b)
    }

    #[test]
    fn a_slot_is_claimed_once() {
        let (_d, mut a, mut b) = ledgers();
        let now = Utc::now();
        assert_eq!(
            a.claim("j", "s1", Trigger::Schedule, now).unwrap(),
            Claim::Won
        );
        assert_eq!(
            b.claim("j", "s1", Trigger::Schedule, now).unwrap(),
            Claim::Taken {
                node: "node-a".into(),
                status: "running".into()
            }
        );
        assert_eq!(
            b.claim("j", "s2", Trigger::Schedule, now).unwrap(),
            Claim::Won
        );
    }

    #[test]
    fn leases_exclude_expire_fence_and_can_be_taken_over() {
        let (_d, mut a, mut b) = ledgers();
        let la = a.acquire("j", "s1", 60_000).unwrap().expect("free lease");
        assert_eq!(b.acquire("j", "s2", 60_000).unwrap(), None, "held by a");
        assert!(a.renew(&la, "s1", 60_000).unwrap());
        assert_eq!(b.orphaned_slot("j").unwrap(), None);
        // a stops renewing (dies); with a short lease it expires.
        assert!(a.renew(&la, "s1", -1).unwrap());
        assert_eq!(b.orphaned_slot("j").unwrap().as_deref(), Some("s1"));
        a.claim("j", "s1", Trigger::Schedule, Utc::now()).unwrap();
        assert_eq!(
            b.acquire("j", "s2", 60_000).unwrap(),
            None,
            "a newer slot cannot bury the orphan"
        );
        let lb = b
            .take_over("j", "s1", 60_000)
            .unwrap()
            .expect("expired lease can be taken");
        assert!(lb.token > la.token, "the token fences the old holder");
        assert!(
            !a.renew(&la, "s1", 60_000).unwrap(),
            "a learns it lost the lease"
        );
        let h = b.history(Some("j"), 10).unwrap();
        assert_eq!(
            (h[0].node.as_str(), h[0].trigger.as_str(), h[0].attempt),
            ("node-b", "takeover", 2)
        );
        b.finish("j", "s1", "ok", Utc::now(), 5, Some(3), None, None)
            .unwrap();
        b.release(&lb).unwrap();
        let la3 = a
            .acquire("j", "s3", 60_000)
            .unwrap()
            .expect("released lease is free");
        // a dies running s3: its lease expires with s3 still in it.
        a.claim("j", "s3", Trigger::Schedule, Utc::now()).unwrap();
        assert!(a.renew(&la3, "s3", -1).unwrap());
        assert_eq!(
            b.acquire("j", "s4", 60_000).unwrap(),
            None,
            "s4 cannot take the lease while s3 is orphaned"
        );
        b.abandon("j", "s3", "too late").unwrap();
        assert!(
            b.acquire("j", "s4", 60_000).unwrap().is_some(),
            "abandoning frees the lease"
        );
        let s3 = b
            .history(Some("j"), 10)
            .unwrap()
            .into_iter()
            .find(|r| r.slot == "s3")
            .unwrap();
        assert_eq!(
            (s3.status.as_str(), s3.error.as_deref()),
            ("abandoned", Some("too late"))
        );
        assert_eq!(
            b.history(None, 10)
                .unwrap()
                .iter()
                .find(|r| r.slot == "s1")
                .unwrap()
                .status,
            "ok"
        );
        assert_eq!(
            a.last_slot("j").unwrap().map(slot_key),
            None,
            "slot keys in these tests are not timestamps"
        );
    }

    #[test]
    fn last_slot_is_the_latest_scheduled_one_not_manual_runs() {
        let (_d, mut a, mut b) = ledgers();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(a.last_slot("j").unwrap(), None);
        a.claim(
            "j",
            &slot_key(t("2026-11-22T02:30:00Z")),
            Trigger::Schedule,
            Utc::now(),
        )
        .unwrap();
        b.claim(
            "j",
            &slot_key(t("2026-11-23T02:30:00Z")),
            Trigger::CatchUp,
            Utc::now(),
        )
        .unwrap();
        a.claim(
            "j",
            &slot_key(t("2026-11-24T09:00:00Z")),
            Trigger::Manual,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(a.last_slot("j").unwrap(), Some(t("2026-11-23T02:30:00Z")));
        assert_eq!(a.last_slot("other").unwrap(), None);
    }

    #[test]
    fn database_clock_is_used() {
        let (_d, mut a, _b) = ledgers();
        let db = a.now_ms().unwrap();
        let local = Utc::now().timestamp_millis();
        assert!((db - local).abs() < 5_000, "{db} vs {local}");
    }
}
