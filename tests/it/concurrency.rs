//! A chunked rotation while privacyIDEA keeps writing: the rotation finishes, deletes exactly
//! the rows it should, and every row inserted meanwhile survives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::TimeDelta;
use pi_manage::clock::Clock;
use pi_manage::db::Value;
use pi_manage::job::model::{AuditRotate, Duration, TaskSpec};

use crate::harness::*;

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
        let writer = {
            let stop = Arc::clone(&stop);
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
        let r = run_spec(&db, spec, false, &clock);
        stop.store(true, Ordering::SeqCst);
        let inserted = writer.join().unwrap();
        assert_eq!(
            r.outcome().deleted,
            Some(old as u64),
            "{}: {:?}",
            db.label(),
            r.report
        );
        assert_eq!(ids(c.as_mut(), "pidea_audit"), inserted, "{}", db.label());
    }
}
