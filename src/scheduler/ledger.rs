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
    /// What else history should show: a takeover (from which node), a run that completed after
    /// losing its lease, what a node that lost the slot did before it stopped.
    pub note: Option<String>,
    /// The tasks the run ran, in order (from its report; empty while it runs and for slots
    /// that did not run). With per-task schedules, a slot runs only the tasks due then.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
}

/// The task names of a run's report (the executor's JSON list of task outcomes).
fn report_tasks(report: Option<&str>) -> Vec<String> {
    let Some(list) = report.and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok()) else {
        return Vec::new();
    };
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect()
}

/// How a run ended, as recorded in its row.
#[derive(Debug, Clone, Default)]
pub struct Outcome<'a> {
    pub status: &'a str,
    pub finished: DateTime<Utc>,
    pub duration_ms: i64,
    pub rows: Option<i64>,
    pub error: Option<&'a str>,
    pub report: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// The ledger of one installation, seen from one node.
pub struct Ledger {
    conn: Box<dyn Connection>,
    node: String,
    /// Whether `pim_job_run` has the `note` column (a ledger created by an older version and
    /// only read, never written, by this one may lack it).
    has_note: bool,
}

impl Ledger {
    /// Use `conn` as the ledger's connection, creating the tables if they are missing.
    pub fn new(mut conn: Box<dyn Connection>, node: &str) -> DbResult<Ledger> {
        ensure_tables(conn.as_mut())?;
        Ok(Ledger {
            conn,
            node: node.to_string(),
            has_note: true,
        })
    }

    /// Use `conn` as the ledger's connection for reading only: `None` when the ledger tables
    /// do not exist (no run was ever recorded), and nothing is created.
    pub fn existing(mut conn: Box<dyn Connection>, node: &str) -> DbResult<Option<Ledger>> {
        if !conn.table_exists(RUN_TABLE)? {
            return Ok(None);
        }
        let has_note = has_column(conn.as_mut(), RUN_TABLE, "note")?;
        Ok(Some(Ledger {
            conn,
            node: node.to_string(),
            has_note,
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
            // A lock error alone proves nothing (a busy SQLite file, a deadlock with some other
            // statement): only an existing row does, so without one the error is returned and
            // the caller tries again.
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
                let Some(r) = row.first() else {
                    return Err(e);
                };
                let r = Some(r);
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
        let before = format!(
            "SELECT {}, {} FROM {} WHERE {} = ? AND {} = ?",
            self.q("node"),
            self.q("attempt"),
            self.q(RUN_TABLE),
            self.q("job"),
            self.q("slot"),
        );
        let rows = self.conn.query_rows(
            &before,
            &[Value::Text(job.into()), Value::Text(slot.into())],
        )?;
        let (from, attempt) = rows
            .first()
            .map(|r| {
                (
                    r.get(0).as_str().unwrap_or("?").to_string(),
                    r.get(1).as_i64().unwrap_or(1),
                )
            })
            .unwrap_or_else(|| ("?".into(), 1));
        let note = format!(
            "taken over from node {from} (attempt {attempt}): its lease expired while the run was going"
        );
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
        // Added to what the row said (e.g. that the first node was fenced), not replacing it.
        self.append_note(job, slot, &note)?;
        Ok(Some(lease))
    }

    /// Record how this node's run of a slot ended. Returns how many rows changed: 0 when the
    /// slot's row belongs to another node now (it took the slot over), and then nothing is
    /// written — see [`Ledger::append_note`].
    pub fn record_outcome(&mut self, job: &str, slot: &str, o: &Outcome) -> DbResult<u64> {
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
        let text = |v: Option<&str>| v.map(|t| Value::Text(t.into())).unwrap_or(Value::Null);
        let n = self.conn.execute(
            &sql,
            &[
                Value::Text(o.status.into()),
                Value::Text(slot_key(o.finished)),
                Value::Int(o.duration_ms),
                o.rows.map(Value::Int).unwrap_or(Value::Null),
                text(o.error),
                text(o.report),
                Value::Text(job.into()),
                Value::Text(slot.into()),
                Value::Text(self.node.clone()),
            ],
        )?;
        // A note adds to what the row says already (a takeover's note stays).
        if let (true, Some(note)) = (n > 0, o.note) {
            self.append_note(job, slot, note)?;
        }
        Ok(n)
    }

    /// Add `text` to the note of a slot's row (whichever node it belongs to now), keeping what
    /// the note said: how a node that lost the slot to a takeover tells what it did.
    pub fn append_note(&mut self, job: &str, slot: &str, text: &str) -> DbResult<()> {
        if !self.has_note {
            return Ok(());
        }
        let keys = [Value::Text(job.into()), Value::Text(slot.into())];
        let read = format!(
            "SELECT {} FROM {} WHERE {} = ? AND {} = ?",
            self.q("note"),
            self.q(RUN_TABLE),
            self.q("job"),
            self.q("slot"),
        );
        let old = self
            .conn
            .query_rows(&read, &keys)?
            .first()
            .and_then(|r| r.get(0).as_str().map(str::to_string));
        let note = match old {
            Some(old) if !old.is_empty() => format!("{old}; {text}"),
            _ => text.to_string(),
        };
        let write = format!(
            "UPDATE {} SET {} = ? WHERE {} = ? AND {} = ?",
            self.q(RUN_TABLE),
            self.q("note"),
            self.q("job"),
            self.q("slot"),
        );
        let [j, s] = keys;
        self.conn.execute(&write, &[Value::Text(note), j, s])?;
        Ok(())
    }

    /// Record a slot that was never run — `status` `missed` (no node could reach the database
    /// before it was too late) or `skipped` — unless some node recorded the slot already.
    /// `true` when this call wrote the row. A row this node's own claim left `running` without
    /// ever holding the lease for the slot (the database went away between the claim and the
    /// lease, or before the `skipped` could be written) is closed with this status: nothing
    /// else would ever finish it, since no lease names the slot for a takeover.
    pub fn record_not_run(
        &mut self,
        job: &str,
        slot: &str,
        trigger: Trigger,
        status: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let sql = format!(
            "INSERT INTO {} ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}) VALUES (?, ?, ?, ?, ?, 1, ?, ?, 0, ?)",
            self.q(RUN_TABLE),
            self.q("job"),
            self.q("slot"),
            self.q("node"),
            self.q("run_trigger"),
            self.q("status"),
            self.q("attempt"),
            self.q("started_at"),
            self.q("finished_at"),
            self.q("duration_ms"),
            self.q("error"),
        );
        let params = [
            Value::Text(job.into()),
            Value::Text(slot.into()),
            Value::Text(self.node.clone()),
            Value::Text(trigger.as_str().into()),
            Value::Text(status.into()),
            Value::Text(slot_key(now)),
            Value::Text(slot_key(now)),
            Value::Text(reason.into()),
        ];
        match self.conn.execute(&sql, &params) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind, DbErrorKind::Constraint | DbErrorKind::Locked) => {
                // Recorded already (by a node that ran it, or reported it first)?
                let sql = format!(
                    "SELECT 1 FROM {} WHERE {} = ? AND {} = ?",
                    self.q(RUN_TABLE),
                    self.q("job"),
                    self.q("slot")
                );
                let found = self
                    .conn
                    .query_rows(&sql, &[Value::Text(job.into()), Value::Text(slot.into())])?;
                if found.is_empty() {
                    return Err(e);
                }
                let close = format!(
                    "UPDATE {run} SET {status} = ?, {finished} = ?, {duration} = 0, {error} = ? \
                     WHERE {job} = ? AND {slot} = ? AND {node} = ? AND {status} = 'running' \
                     AND NOT EXISTS (SELECT 1 FROM {lease} WHERE {job} = ? AND {slot} = ?)",
                    run = self.q(RUN_TABLE),
                    lease = self.q(LEASE_TABLE),
                    status = self.q("status"),
                    finished = self.q("finished_at"),
                    duration = self.q("duration_ms"),
                    error = self.q("error"),
                    job = self.q("job"),
                    slot = self.q("slot"),
                    node = self.q("node"),
                );
                let closed = self.conn.execute(
                    &close,
                    &[
                        Value::Text(status.into()),
                        Value::Text(slot_key(now)),
                        Value::Text(reason.into()),
                        Value::Text(job.into()),
                        Value::Text(slot.into()),
                        Value::Text(self.node.clone()),
                        Value::Text(job.into()),
                        Value::Text(slot.into()),
                    ],
                )?;
                Ok(closed > 0)
            }
            Err(e) => Err(e),
        }
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
        self.record_outcome(
            job,
            slot,
            &Outcome {
                status,
                finished,
                duration_ms,
                rows,
                error,
                report,
                note: None,
            },
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
            "note",
            "report",
        ];
        let mut select: Vec<String> = cols.iter().map(|c| self.q(c)).collect();
        if !self.has_note {
            select[11] = "NULL".into();
        }
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
                note: text(r.get(11)),
                tasks: report_tasks(r.get(12).as_str()),
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

/// How often creating the tables is tried again after losing a race with another node.
const CREATE_RETRIES: u32 = 6;

/// Create the ledger tables (and columns added since) when they are missing. Safe when several
/// nodes start at once on a fresh database: PostgreSQL lets all but one concurrent
/// `CREATE TABLE IF NOT EXISTS` fail on its own catalog (`duplicate key value violates unique
/// constraint "pg_type_typname_nsp_index"`), SQLite may answer "busy", a concurrent
/// `ADD COLUMN` fails as a duplicate column. Each such failure is followed by a fresh look,
/// which then sees the winner's tables.
pub fn ensure_tables(conn: &mut dyn Connection) -> DbResult<()> {
    let mut attempt = 0u32;
    loop {
        match try_ensure_tables(conn) {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt < CREATE_RETRIES
                    && !matches!(e.kind, DbErrorKind::Connect | DbErrorKind::Auth) =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(25 << attempt));
            }
            Err(e) => return Err(e),
        }
    }
}

fn try_ensure_tables(conn: &mut dyn Connection) -> DbResult<()> {
    let d = conn.dialect();
    let q = |s: &str| d.quote(s);
    if !conn.table_exists(RUN_TABLE)? {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({} VARCHAR(200) NOT NULL, {} VARCHAR(40) NOT NULL, {} VARCHAR(200) NOT NULL, {} VARCHAR(20) NOT NULL, {} VARCHAR(20) NOT NULL, {} INTEGER NOT NULL, {} VARCHAR(40), {} VARCHAR(40), {} BIGINT, {} BIGINT, {} BIGINT, {} TEXT, {} TEXT, {} TEXT, PRIMARY KEY ({}, {}))",
            q(RUN_TABLE), q("job"), q("slot"), q("node"), q("run_trigger"), q("status"), q("attempt"),
            q("started_at"), q("finished_at"), q("heartbeat_ms"), q("duration_ms"), q("rows_affected"),
            q("error"), q("report"), q("note"), q("job"), q("slot")
        ))?;
    }
    // Ledgers created before the `note` column existed get it added.
    if !has_column(conn, RUN_TABLE, "note")? {
        conn.execute_batch(&format!(
            "ALTER TABLE {} ADD COLUMN {} TEXT",
            q(RUN_TABLE),
            q("note")
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

fn has_column(conn: &mut dyn Connection, table: &str, column: &str) -> DbResult<bool> {
    Ok(conn
        .table_columns(table)?
        .iter()
        .any(|c| c.eq_ignore_ascii_case(column)))
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
    fn a_takeover_keeps_what_the_fenced_run_recorded() {
        let (_d, mut a, mut b) = ledgers();
        a.claim("j", "s1", Trigger::Schedule, Utc::now()).unwrap();
        let la = a.acquire("j", "s1", 60_000).unwrap().unwrap();
        let fenced = Outcome {
            status: "lease_lost",
            rows: Some(40),
            note: Some("stopped after its current chunk (fencing)"),
            ..Default::default()
        };
        assert_eq!(a.record_outcome("j", "s1", &fenced).unwrap(), 1);
        assert!(a.renew(&la, "s1", -1).unwrap(), "expires now");
        b.take_over("j", "s1", 60_000).unwrap().expect("expired");
        let r = b.history(Some("j"), 10).unwrap().remove(0);
        assert_eq!(
            (r.node.as_str(), r.status.as_str(), r.attempt),
            ("node-b", "running", 2)
        );
        assert_eq!(
            r.note.as_deref(),
            Some("stopped after its current chunk (fencing); taken over from node node-a (attempt 1): its lease expired while the run was going")
        );
        // The first node's late outcome no longer lands on the row that is node-b's now.
        assert_eq!(a.record_outcome("j", "s1", &fenced).unwrap(), 0);
    }

    /// A slot this node claimed but never ran — the database went away between the claim and
    /// the lease (or before the `skipped` was written) until the slot was too late — is closed
    /// by the deferred record instead of staying `running` for ever (no lease names it, so no
    /// takeover would ever finish it). Another node's claim, and a claim whose lease names the
    /// slot (a run going, or one to take over), are left alone.
    #[test]
    fn a_not_run_record_closes_this_nodes_own_unleased_claim() {
        let (_d, mut a, mut b) = ledgers();
        let t = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let status = |l: &mut Ledger, slot: &str| {
            let r = l
                .history(Some("j"), 10)
                .unwrap()
                .into_iter()
                .find(|r| r.slot == slot)
                .expect("a row");
            (r.status, r.error.unwrap_or_default())
        };
        a.claim("j", "s1", Trigger::Schedule, t).unwrap();
        assert!(!b
            .record_not_run("j", "s1", Trigger::Schedule, "missed", "b's view", t)
            .unwrap());
        assert_eq!(status(&mut a, "s1"), ("running".into(), String::new()));
        assert!(a
            .record_not_run("j", "s1", Trigger::Schedule, "missed", "unreachable", t)
            .unwrap());
        assert_eq!(
            status(&mut a, "s1"),
            ("missed".into(), "unreachable".into())
        );
        assert!(!a
            .record_not_run("j", "s1", Trigger::Schedule, "skipped", "again", t)
            .unwrap());
        assert_eq!(
            status(&mut a, "s1"),
            ("missed".into(), "unreachable".into())
        );
        // The lease names the slot: a run is going (or its node died and a takeover is due).
        a.claim("j", "s2", Trigger::Schedule, t).unwrap();
        a.acquire("j", "s2", 60_000).unwrap().expect("free lease");
        assert!(!a
            .record_not_run("j", "s2", Trigger::Schedule, "missed", "no", t)
            .unwrap());
        assert_eq!(status(&mut a, "s2").0, "running");
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
}
