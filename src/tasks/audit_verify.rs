//! `kind: audit_verify` / `pi-manage audit verify`: stream `pidea_audit` in id order and check
//! every entry's signature with the public audit key, as privacyIDEA's `Sign.verify` does
//! (reference/schema.md §11). Entries that fail are listed by id; any failure fails the task,
//! so a plan can refuse to rotate evidence away that does not verify.
//!
//! Pages of rows are read in id order; each page's signatures are checked on every core
//! (`crypto::parallel_verify`) while the next page is read, so memory holds two pages and the
//! failures are reported in id order, exactly as a one-at-a-time check reports them.

use std::path::PathBuf;

use chrono::{NaiveDateTime, TimeDelta};

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::crypto::audit_sign::{AuditRecord, AuditVerifier};
use crate::crypto::parallel_verify;
use crate::db::{Dialect, Row, Value};
use crate::job::model::Duration;

/// The `kind` string of job files.
pub const KIND: &str = "audit_verify";

const TABLE: &str = "pidea_audit";
/// Rows read (and checked) per page.
pub const PAGE_ROWS: u64 = 2000;
/// How many failing ids the report lists (all of them are counted).
const LISTED_IDS: usize = 50;

/// The columns read, in this order. `container_*` are missing in tables from before 3.10.
const COLUMNS: &[&str] = &[
    "id",
    "date",
    "action",
    "success",
    "serial",
    "token_type",
    "user",
    "realm",
    "administrator",
    "action_detail",
    "info",
    "privacyidea_server",
    "client",
    "loglevel",
    "clearance_level",
    "startdate",
    "duration",
    "container_serial",
    "container_type",
    "signature",
];

#[derive(Debug)]
pub struct AuditVerifyTask {
    pub name: String,
    pub since: Option<Duration>,
    pub public_key: Option<PathBuf>,
    pub allow_unsigned: bool,
    /// Rows per page ([`PAGE_ROWS`]; smaller in tests, to cross page boundaries).
    pub page_rows: u64,
    /// Worker threads for the signature checks (0: every core; 1: one after the other).
    pub threads: usize,
}

/// A row read for checking.
struct Entry {
    record: AuditRecord,
    /// `None`: NULL or empty.
    signature: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(t) => Some(t.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::DateTime(d) => Some(d.to_string()),
    }
}

fn epoch() -> NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}

/// The interval in `duration` as stored: an epoch-based datetime (SQLite, MySQL), or seconds
/// (PostgreSQL, selected as `EXTRACT(EPOCH FROM duration)`).
fn duration(v: &Value) -> Option<TimeDelta> {
    match v {
        Value::Null => None,
        Value::Float(secs) => Some(TimeDelta::microseconds((secs * 1e6).round() as i64)),
        Value::Int(secs) => Some(TimeDelta::seconds(*secs)),
        other => other.as_datetime().map(|d| d - epoch()),
    }
}

fn record(row: &Row, index: &[Option<usize>]) -> AuditRecord {
    let col = |name: &str| -> &Value {
        const NULL: Value = Value::Null;
        let i = COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|p| index[p]);
        i.map(|i| row.get(i)).unwrap_or(&NULL)
    };
    AuditRecord {
        id: col("id").as_i64().unwrap_or_default(),
        date: col("date").as_datetime(),
        action: text(col("action")),
        success: col("success").as_i64(),
        serial: text(col("serial")),
        token_type: text(col("token_type")),
        user: text(col("user")),
        realm: text(col("realm")),
        administrator: text(col("administrator")),
        action_detail: text(col("action_detail")),
        info: text(col("info")),
        privacyidea_server: text(col("privacyidea_server")),
        client: text(col("client")),
        loglevel: text(col("loglevel")),
        clearance_level: text(col("clearance_level")),
        startdate: col("startdate").as_datetime(),
        duration: duration(col("duration")),
        container_serial: text(col("container_serial")),
        container_type: text(col("container_type")),
    }
}

impl AuditVerifyTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let path = self
            .public_key
            .clone()
            .or_else(|| ctx.settings.audit_key_public.clone())
            .ok_or_else(|| {
                TaskError::Refused(
                    "pi.cfg sets no PI_AUDIT_KEY_PUBLIC, and the task names no public key".into(),
                )
            })?;
        let pem =
            crate::input_file::read_text(&path, crate::input_file::MAX_SECRET).map_err(|e| {
                TaskError::Io(format!(
                    "cannot read the public audit key {}: {e}",
                    path.display()
                ))
            })?;
        let verifier = AuditVerifier::from_public_pem(&pem)?;
        let since = self.since.map(|s| s.before(ctx.clock.now_local()));
        let conn = ctx.databases.audit()?;
        out.database = Some(conn.target());
        if !conn.table_exists(TABLE)? {
            return Err(TaskError::Database(format!(
                "{} has no table {TABLE}",
                conn.target()
            )));
        }
        let d = conn.dialect();
        let present = conn.table_columns(TABLE)?;
        let mut select = Vec::new();
        let mut index = Vec::new();
        for c in COLUMNS {
            if present.iter().any(|p| p == c) {
                index.push(Some(select.len()));
                select.push(if *c == "duration" && d == Dialect::Postgres {
                    format!("EXTRACT(EPOCH FROM {})", d.quote(c))
                } else {
                    d.quote(c)
                });
            } else {
                index.push(None);
            }
        }
        let sig_index = index[COLUMNS.len() - 1]
            .ok_or_else(|| TaskError::Database(format!("{TABLE} has no signature column")))?;
        let (id, date) = (d.quote("id"), d.quote("date"));
        let since_filter = if since.is_some() {
            format!(" AND {date} >= ?")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {} FROM {} WHERE {id} > ?{since_filter} ORDER BY {id}",
            select.join(", "),
            d.quote(TABLE)
        );
        let page_rows = self.page_rows.max(1);
        let sql = format!("{sql} LIMIT {page_rows}");
        let read_page = |ctx: &mut TaskContext<'_>, after: i64| -> Result<Vec<Entry>, TaskError> {
            let mut params = vec![Value::Int(after)];
            if let Some(s) = since {
                params.push(Value::DateTime(s));
            }
            let mut page = Vec::with_capacity(page_rows as usize);
            ctx.databases
                .audit()?
                .for_each_row(&sql, &params, &mut |row| {
                    let signature = row
                        .get(sig_index)
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_string);
                    page.push(Entry {
                        record: record(row, &index),
                        signature,
                    });
                    Ok(())
                })?;
            Ok(page)
        };
        let (mut checked, mut unsigned, mut failed_total) = (0u64, 0u64, 0u64);
        let mut failed: Vec<i64> = Vec::new();
        let mut page = read_page(ctx, i64::MIN)?;
        while !page.is_empty() {
            let more = page.len() as u64 == page_rows && ctx.interrupt.requested().is_none();
            let after = page.last().map_or(i64::MAX, |e| e.record.id);
            // This page is checked on the worker threads while the next one is read.
            let (verified, next) = parallel_verify::overlapped(
                || {
                    parallel_verify::verify_batch(&verifier, &page, self.threads, |e| {
                        (&e.record, e.signature.as_deref())
                    })
                },
                || {
                    if more {
                        read_page(ctx, after)
                    } else {
                        Ok(Vec::new())
                    }
                },
            );
            for (e, ok) in page.iter().zip(verified) {
                checked += 1;
                if e.signature.is_none() {
                    unsigned += 1;
                    if self.allow_unsigned {
                        continue;
                    }
                }
                if !ok {
                    failed_total += 1;
                    if failed.len() < LISTED_IDS {
                        failed.push(e.record.id);
                    }
                }
            }
            page = next?;
        }
        out.details.insert("checked".into(), checked.into());
        out.details.insert("failed".into(), failed_total.into());
        out.details.insert("unsigned".into(), unsigned.into());
        out.details
            .insert("failed_ids".into(), failed.clone().into());
        let scope = since.map(|s| format!(" since {s}")).unwrap_or_default();
        out.say(
            ctx.output,
            format!(
                "Checked {checked} audit entries{scope}: {} verified, {failed_total} failed{}.",
                checked - failed_total - if self.allow_unsigned { unsigned } else { 0 },
                if self.allow_unsigned {
                    format!(", {unsigned} unsigned (accepted)")
                } else if unsigned > 0 {
                    format!(" ({unsigned} of them unsigned)")
                } else {
                    String::new()
                }
            ),
        );
        if failed_total > 0 {
            let more = if failed_total as usize > failed.len() {
                format!(" (first {})", failed.len())
            } else {
                String::new()
            };
            let ids: Vec<String> = failed.iter().map(i64::to_string).collect();
            out.say(
                ctx.output,
                format!("Signature check failed for ids{more}: {}", ids.join(", ")),
            );
            return Err(TaskError::Refused(format!(
                "{failed_total} audit entries do not verify"
            )));
        }
        if let Some(sig) = ctx.interrupt.requested() {
            out.status = TaskStatus::Interrupted;
            out.signal = Some(sig);
        }
        Ok(())
    }
}

super::task_kind!(AuditVerifyTask);

impl super::KindSpec for crate::job::model::AuditVerify {
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
        let _ = diags;
        Some(super::Task::new(AuditVerifyTask {
            name,
            since: self.since,
            public_key: self.public_key.as_deref().map(|p| site.resolve(p)),
            allow_unsigned: self.allow_unsigned,
            page_rows: PAGE_ROWS,
            threads: 0,
        }))
    }
}
