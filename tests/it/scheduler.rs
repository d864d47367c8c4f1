//! The scheduler on every backend: the run ledger's claims and leases, and three
//! `pi-manage schedule` processes sharing one database, one of them killed mid-run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use pi_manage::db::{Connection, Value};
use pi_manage::scheduler::ledger::{Claim, Ledger, Trigger};

use crate::harness::*;

#[test]
fn ledger_claims_once_and_leases_exclude_on_every_backend() {
    for db in privacyidea_databases() {
        let mut a = Ledger::new(db.connect(), "a").unwrap();
        let mut b = Ledger::new(db.connect(), "b").unwrap();
        let now = Utc::now();
        assert_eq!(
            a.claim("job", "2026-01-01T00:00:00.000000Z", Trigger::Schedule, now)
                .unwrap(),
            Claim::Won,
            "{}",
            db.label()
        );
        assert!(
            matches!(
                b.claim("job", "2026-01-01T00:00:00.000000Z", Trigger::Schedule, now)
                    .unwrap(),
                Claim::Taken { .. }
            ),
            "{}",
            db.label()
        );
        let la = a.acquire("job", "s", 60_000).unwrap().unwrap();
        assert_eq!(
            b.acquire("job", "s", 60_000).unwrap(),
            None,
            "{}",
            db.label()
        );
        assert!(a.renew(&la, "s", 60_000).unwrap());
        a.release(&la).unwrap();
        let lb = b.acquire("job", "s", 60_000).unwrap().expect("released");
        assert!(lb.token > la.token);
        assert!(
            !a.renew(&la, "s", 60_000).unwrap(),
            "{}: the old token is fenced off",
            db.label()
        );
        let skew = (a.now_ms().unwrap() - Utc::now().timestamp_millis()).abs();
        assert!(
            skew < 10_000,
            "{}: database clock off by {skew} ms",
            db.label()
        );
    }
}

fn insert_expired_challenges(c: &mut dyn Connection, n: i64) {
    let d = c.dialect();
    let old = Utc::now().naive_utc() - TimeDelta::days(1);
    c.begin().unwrap();
    for start in (0..n).step_by(500) {
        let rows: Vec<String> = (start..(start + 500).min(n))
            .map(|i| format!("({}, '{:020}', '', '')", i + 1, i))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}, {}, {}, {}) VALUES {}",
            d.quote("challenge"),
            d.quote("id"),
            d.quote("transaction_id"),
            d.quote("data"),
            d.quote("session"),
            rows.join(", ")
        );
        c.execute(&sql, &[]).unwrap();
    }
    c.execute(
        &format!(
            "UPDATE {} SET {} = ?, {} = ?",
            d.quote("challenge"),
            d.quote("timestamp"),
            d.quote("expiration")
        ),
        &[Value::DateTime(old), Value::DateTime(old)],
    )
    .unwrap();
    c.commit().unwrap();
}

fn node(job_dir: &std::path::Path, name: &str, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args([
            "schedule",
            job_dir.to_str().unwrap(),
            "--node",
            name,
            "--lease",
            "3s",
            "--grace",
            "10s",
            "--log-format",
            "json",
        ])
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The `schedule` processes of a test; any still running when the test ends (a failed
/// assertion) are killed, so none outlives it.
struct Nodes(Vec<(String, Child)>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

#[test]
fn three_nodes_run_every_slot_exactly_once_and_take_over_a_killed_nodes_slot() {
    for db in privacyidea_databases() {
        let url = db.url_text();
        three_nodes_exactly_once(db.label(), [&url, &url, &url], &|| db.connect());
    }
}

/// Three `pi-manage schedule` processes, node `n{i}` using `urls[i-1]` (one database, or one
/// Galera node each), run a 4-second cleanup job; the node running a fresh slot is killed.
/// Every slot runs exactly once, the killed node's slot is taken over. `connect` opens the
/// checking connection (on Galera one that waits for the cluster's writes: wsrep_sync_wait).
pub(crate) fn three_nodes_exactly_once(
    label: &str,
    urls: [&str; 3],
    connect: &dyn Fn() -> Box<dyn Connection>,
) {
    insert_expired_challenges(connect().as_mut(), 60_000);
    let dir = tempfile::tempdir().unwrap();
    // Each node its own job directory: the same job, each with its node's database URL.
    for (i, url) in urls.iter().enumerate() {
        let jobs = dir.path().join(format!("jobs{}", i + 1));
        std::fs::create_dir(&jobs).unwrap();
        // Every 4 s; each run deletes one row per transaction until its 2 s timeout.
        std::fs::write(
                jobs.join("cleanup.yaml"),
                format!(
                    "version: 1\nname: cleanup\nconnection:\n  database: '{url}'\nschedule: '*/4 * * * * *'\nschedule_seconds: true\ntimezone: UTC\ntimeout: 2s\nmax_lateness: 30s\ntasks:\n  - kind: challenge_cleanup\n    chunksize: 1\n",
                ),
            )
            .unwrap();
    }
    let t0 = Utc::now();
    let mut nodes = Nodes(
        (1..=3)
            .map(|i| {
                let n = format!("n{i}");
                let jobs = dir.path().join(format!("jobs{i}"));
                let child = node(&jobs, &n, &dir.path().join(format!("{n}.log")));
                (n, child)
            })
            .collect(),
    );
    // Wait for a run in progress, then kill its node without warning.
    std::thread::sleep(Duration::from_secs(9));
    let mut c = connect();
    let d = c.dialect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (victim, victim_slot) = loop {
        let rows = c
            .query_rows(
                &format!(
                    "SELECT {}, {} FROM {} WHERE {} IS NOT NULL AND {} > {}",
                    d.quote("owner"),
                    d.quote("slot"),
                    d.quote("pim_job_lease"),
                    d.quote("slot"),
                    d.quote("expires_ms"),
                    d.now_ms_sql()
                ),
                &[],
            )
            .unwrap();
        if let Some(r) = rows.first() {
            let (owner, slot) = (
                r.get(0).as_str().unwrap().to_string(),
                r.get(1).as_str().unwrap().to_string(),
            );
            // Kill only a run that has just started (runs last 2 s), so the kill cannot race
            // with the run finishing on its own.
            let started = Ledger::new(connect(), "check")
                .unwrap()
                .history(Some("cleanup"), 1000)
                .unwrap()
                .into_iter()
                .find(|h| h.slot == slot && h.status == "running")
                .and_then(|h| h.started_at);
            let fresh = started
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                .is_some_and(|s| Utc::now() - s.with_timezone(&Utc) < TimeDelta::milliseconds(800));
            if fresh {
                break (owner, slot);
            }
        }
        assert!(Instant::now() < deadline, "{}: no run ever started", label);
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, child) = nodes.0.iter_mut().find(|(n, _)| *n == victim).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_secs(20));
    for (name, child) in nodes.0.iter_mut().filter(|(n, _)| *n != victim) {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "{}: {name} exits cleanly on SIGTERM",
            label
        );
    }
    let t1 = Utc::now();

    let history = Ledger::new(connect(), "check")
        .unwrap()
        .history(Some("cleanup"), 1000)
        .unwrap();
    // Every slot in the window has exactly one row (the primary key allows no second),
    // and none was lost: each 4-second slot from the first to the last is there.
    let mut slots: Vec<&str> = history.iter().map(|r| r.slot.as_str()).collect();
    slots.sort();
    let parsed: Vec<chrono::DateTime<Utc>> = slots
        .iter()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect();
    assert!(
        parsed.len() >= 6,
        "{}: only {} slots ran: {history:?}",
        label,
        parsed.len()
    );
    for w in parsed.windows(2) {
        assert_eq!(
            w[1] - w[0],
            TimeDelta::seconds(4),
            "{}: a slot is missing between {} and {}",
            label,
            w[0],
            w[1]
        );
    }
    assert!(parsed[0] >= t0 - TimeDelta::seconds(1) && *parsed.last().unwrap() <= t1);
    let last_slot = slots.last().map(|s| s.to_string()).unwrap_or_default();
    for r in &history {
        // At the very end every node was stopped: the last slot may have been claimed as
        // the nodes shut down, and with nobody left to take it over it stays `running`.
        if r.status == "running" {
            assert_eq!(
                r.slot, last_slot,
                "{}: only the final slot may be left running: {r:?}",
                label
            );
            continue;
        }
        // `interrupted`: the run in progress when the nodes got SIGTERM at the end.
        assert!(
            ["timeout", "ok", "skipped", "interrupted"].contains(&r.status.as_str()),
            "{}: {r:?}",
            label
        );
        if r.status == "skipped" {
            assert!(
                r.error.as_deref().unwrap_or_default().contains("overlap"),
                "{r:?}"
            );
        }
    }
    let taken = history
        .iter()
        .find(|r| r.slot == victim_slot)
        .expect("the killed node's slot is recorded");
    assert_ne!(
        taken.node, victim,
        "{}: the killed node's slot was taken over: {taken:?}",
        label
    );
    assert_eq!(
        (taken.trigger.as_str(), taken.attempt),
        ("takeover", 2),
        "{}: {taken:?}",
        label
    );
    assert!(
        ["timeout", "ok"].contains(&taken.status.as_str()),
        "{taken:?}"
    );
    assert!(
        history
            .iter()
            .filter(|r| r.status != "skipped")
            .all(|r| r.node != victim || r.slot < victim_slot),
        "{}: the dead node ran nothing afterwards",
        label
    );
}
