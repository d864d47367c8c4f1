//! A chunked rotation while privacyIDEA keeps writing: the rotation finishes, deletes exactly
//! the rows it should, and every row inserted meanwhile survives. That inserts really happen
//! *during* the rotation is made sure of, not hoped for: after its first chunk the rotation
//! waits (through its progress observer) until the writer has committed another row.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use pi_manage::clock::Clock;
use pi_manage::db::delete::DeleteObserver;
use pi_manage::db::Value;
use pi_manage::executor::RunOutput;
use pi_manage::job::model::{AuditRotate, Duration, TaskSpec};
use pi_manage::tasks::{self, TaskOutput, TaskSite};

use crate::harness::*;

/// The rotation's output: after each committed chunk it notes how many rows the writer had
/// committed; after the first chunk it notes the count, waits until the writer commits one
/// more, and notes it again.
struct Interleave {
    inserted: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<usize>>>,
}

impl TaskOutput for Interleave {
    fn message(&mut self, _: &str) {}
    fn progress(&mut self, _: &str, _: Option<u64>) -> Box<dyn DeleteObserver> {
        Box::new(Interleave {
            inserted: self.inserted.clone(),
            seen: self.seen.clone(),
        })
    }
}
impl RunOutput for Interleave {}

impl DeleteObserver for Interleave {
    fn chunk_committed(&mut self, _: u64) {
        let mut seen = self.seen.lock().unwrap();
        if seen.is_empty() {
            // Noted before the wait: whether the writer gets the SQLite lock again between
            // later chunks is up to the busy handler's timing, so only this wait is certain.
            let before = self.inserted.load(Ordering::SeqCst);
            seen.push(before);
            assert!(
                wait_until(|| self.inserted.load(Ordering::SeqCst) > before),
                "the writer committed nothing while the rotation waited"
            );
        }
        seen.push(self.inserted.load(Ordering::SeqCst));
    }
}

#[test]
fn rotation_with_concurrent_inserts() {
    let clock = clock_utc();
    let now = clock.now_local();
    for db in privacyidea_databases() {
        let mut c = db.connect();
        let old = 3000i64;
        let rows: Vec<_> = (1..=old)
            .map(|i| {
                (
                    i,
                    now - TimeDelta::days(100) + TimeDelta::seconds(i),
                    "POST /validate/check",
                    "u",
                )
            })
            .collect();
        insert_audit(c.as_mut(), &rows);

        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicUsize::new(0));
        let writer = {
            let stop = Arc::clone(&stop);
            let counter = Arc::clone(&committed);
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut w = pi_manage::db::open(&url, &Default::default()).unwrap();
                let d = w.dialect();
                let sql = format!(
                    "INSERT INTO {} ({}, {}, {}) VALUES (?, ?, ?)",
                    d.quote("pidea_audit"),
                    d.quote("id"),
                    d.quote("date"),
                    d.quote("action")
                );
                let mut next = 1_000_000i64;
                let mut inserted = Vec::new();
                let count = counter;
                // Keep writing until the rotation is done, and at least a few rows.
                while !stop.load(Ordering::SeqCst) || inserted.len() < 20 {
                    let r = w.execute(
                        &sql,
                        &[
                            Value::Int(next),
                            Value::DateTime(now),
                            Value::Text("POST /auth".into()),
                        ],
                    );
                    match r {
                        Ok(_) => {
                            inserted.push(next);
                            next += 1;
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        // A busy SQLite file: a live privacyIDEA would retry too.
                        Err(e) if e.is_transient() => {
                            std::thread::sleep(std::time::Duration::from_millis(5))
                        }
                        Err(e) => panic!("insert failed: {e}"),
                    }
                }
                inserted
            })
        };
        let spec = TaskSpec::AuditRotate(AuditRotate {
            older_than: Some(Duration::from_days(30)),
            chunksize: Some(100),
            ..Default::default()
        });
        // The writer is running before the rotation starts.
        assert!(wait_until(|| committed.load(Ordering::SeqCst) > 0));
        let site = TaskSite::command_line(std::path::Path::new("."));
        let mut diags = Vec::new();
        let task = tasks::prepare(&spec, &site, &mut diags).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut out = Interleave {
            inserted: committed.clone(),
            seen: seen.clone(),
        };
        let report = run_task_with_output(
            &db,
            task,
            false,
            &clock,
            &pi_manage::interrupt::Interrupt::new(),
            &db.settings(),
            &mut out,
        );
        stop.store(true, Ordering::SeqCst);
        let inserted = writer.join().unwrap();
        assert_eq!(
            report.tasks[0].deleted,
            Some(old as u64),
            "{}: {:?}",
            db.label(),
            report
        );
        let seen = seen.lock().unwrap().clone();
        assert!(
            // The first chunk is noted twice (around its wait); a later chunk at least once.
            seen.len() >= 3 && seen.last() > seen.first(),
            "{}: rows were inserted between the rotation's chunks: {seen:?}",
            db.label()
        );
        assert_eq!(ids(c.as_mut(), "pidea_audit"), inserted, "{}", db.label());
    }
}
