//! Slots that never ran and could not be recorded at the time — the database was unreachable
//! until the slot was too late, or the node could not even start a claim in time. Each node
//! keeps them in memory and writes them to the run ledger (status `missed` or `skipped`, with
//! the reason) as soon as it can reach the database again, unless some node recorded the slot
//! first. So a slot lost to an outage of the database shows in the history once any node can
//! reach it again, not only in the logs of the nodes that could not.

use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::ledger::{Ledger, Trigger};
use crate::dburl::DbUrl;
use crate::schedule_log::SchedulerLog;

/// At most this many slots wait to be recorded; older ones are dropped (and said so in the
/// log) — a node cut off from its database for weeks must not grow without bound.
pub const MAX_PENDING: usize = 10_000;

/// One slot waiting to be recorded.
#[derive(Clone)]
pub struct NotRun {
    pub database: DbUrl,
    pub job: String,
    pub slot: String,
    pub trigger: Trigger,
    /// `missed` or `skipped`.
    pub status: &'static str,
    pub reason: String,
}

/// The queue, shared by the scheduler loop and the run threads.
#[derive(Clone, Default)]
pub struct Deferred {
    pending: Arc<Mutex<Vec<NotRun>>>,
}

impl Deferred {
    pub fn push(&self, entry: NotRun, log: &SchedulerLog) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() >= MAX_PENDING {
            let dropped = pending.remove(0);
            log.warn(
                "record_dropped",
                Some(&dropped.job),
                Some(&dropped.slot),
                format!("more than {MAX_PENDING} unrecorded slots are waiting for the database; this one will not be recorded ({})", dropped.reason),
            );
        }
        pending.push(entry);
    }

    pub fn len(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Write every waiting slot whose database can be reached now; keep the others. `open`
    /// opens a ledger on a database.
    pub fn flush(&self, open: &dyn Fn(&DbUrl) -> Result<Ledger, String>, log: &SchedulerLog) {
        let taken: Vec<NotRun> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *pending)
        };
        if taken.is_empty() {
            return;
        }
        let mut keep = Vec::new();
        let mut ledgers: Vec<(String, Option<Ledger>)> = Vec::new();
        for entry in taken {
            let key = entry.database.redacted();
            let idx = match ledgers.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    ledgers.push((key, open(&entry.database).ok()));
                    ledgers.len() - 1
                }
            };
            let Some(ledger) = ledgers[idx].1.as_mut() else {
                keep.push(entry);
                continue;
            };
            match ledger.record_not_run(
                &entry.job,
                &entry.slot,
                entry.trigger,
                entry.status,
                &entry.reason,
                Utc::now(),
            ) {
                Ok(true) => log.warn(
                    "slot_recorded",
                    Some(&entry.job),
                    Some(&entry.slot),
                    format!("recorded as {}: {}", entry.status, entry.reason),
                ),
                // Some node recorded (or ran) it first.
                Ok(false) => {}
                Err(_) => {
                    // The connection broke: keep this and the rest for the next attempt.
                    ledgers[idx].1 = None;
                    keep.push(entry);
                }
            }
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        keep.append(&mut pending);
        *pending = keep;
    }
}
