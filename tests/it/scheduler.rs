//! The scheduler on every backend: the run ledger's claims and leases, and three
//! `pi-manage schedule` processes sharing one database, one of them killed mid-run.

use std::process::{Child, Command, Stdio};

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

/// A slot a node claimed but never ran (the database went away between claim and lease) is
/// closed by that node's deferred `missed` record, on every backend; another node's record,
/// and a claim whose lease names the slot, leave the row alone.
#[test]
fn a_not_run_record_closes_only_the_nodes_own_unleased_claim_on_every_backend() {
    for db in privacyidea_databases() {
        let label = db.label();
        let mut a = Ledger::new(db.connect(), "a").unwrap();
        let mut b = Ledger::new(db.connect(), "b").unwrap();
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (s1, s2) = ("2026-11-22T12:00:00.000000Z", "2026-11-22T12:01:00.000000Z");
        let status = |l: &mut Ledger, slot: &str| {
            l.history(Some("job"), 10)
                .unwrap()
                .into_iter()
                .find(|r| r.slot == slot)
                .map(|r| r.status)
        };
        a.claim("job", s1, Trigger::Schedule, t).unwrap();
        assert!(
            !b.record_not_run("job", s1, Trigger::Schedule, "missed", "b", t)
                .unwrap(),
            "{label}"
        );
        assert!(
            a.record_not_run("job", s1, Trigger::Schedule, "missed", "unreachable", t)
                .unwrap(),
            "{label}"
        );
        assert_eq!(status(&mut a, s1).as_deref(), Some("missed"), "{label}");
        a.claim("job", s2, Trigger::Schedule, t).unwrap();
        a.acquire("job", s2, 60_000).unwrap().expect("free lease");
        assert!(
            !a.record_not_run("job", s2, Trigger::Schedule, "missed", "no", t)
                .unwrap(),
            "{label}"
        );
        assert_eq!(status(&mut a, s2).as_deref(), Some("running"), "{label}");
    }
}

/// The ledger's clock is the database's: `now_ms` and lease expiries are computed by the server
/// in UTC milliseconds, whatever the session's time zone. Each connection here runs in a zone
/// 13–14 hours from UTC (and from this machine's zone), so an expression that mixed in local
/// wall-clock time would be off by hours and fail; on SQLite the zone cannot be set, and the
/// expression is checked the same way.
#[test]
fn database_clock_is_used_on_every_backend() {
    for db in databases() {
        let label = db.label();
        let mut conn = db.connect();
        match db.backend {
            pi_manage::dburl::Backend::Postgres => conn
                .execute_batch("SET TIME ZONE 'Pacific/Kiritimati'")
                .unwrap(),
            pi_manage::dburl::Backend::Mysql => {
                conn.execute_batch("SET time_zone = '+13:00'").unwrap()
            }
            pi_manage::dburl::Backend::Sqlite => {}
        }
        let mut l = Ledger::new(conn, "clock").unwrap();
        let before = Utc::now().timestamp_millis();
        let db_now = l.now_ms().unwrap();
        let after = Utc::now().timestamp_millis();
        assert!(
            db_now >= before - 5_000 && db_now <= after + 5_000,
            "{label}: the database clock reads {db_now}, this machine {before}..{after}"
        );
        // A lease expires by the database's clock: now (there) + ttl.
        l.acquire("clock", "s", 60_000).unwrap().unwrap();
        let mut c = db.connect();
        let d = c.dialect();
        let expires = c
            .query_i64(
                &format!(
                    "SELECT {} FROM {}",
                    d.quote("expires_ms"),
                    d.quote("pim_job_lease")
                ),
                &[],
            )
            .unwrap()
            .unwrap();
        let db_after = l.now_ms().unwrap();
        assert!(
            expires >= db_now + 60_000 && expires <= db_after + 60_000,
            "{label}: lease expiry {expires} is not the database's now + 60 s ({db_now}..{db_after})"
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
                    "version: 1\nname: cleanup\nconnection:\n  database: '{url}'\nschedule: '*/4 * * * * *'\nschedule_seconds: true\ntimezone: UTC\ntimeout: 2s\nmax_lateness: 10m\ntasks:\n  - kind: challenge_cleanup\n    chunksize: 1\n",
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
    // Kill the node running a slot, without warning. Whether the run was still going at the
    // kill is read from the ledger afterwards (a dead node writes nothing more): if it had
    // finished just before, the dead node is replaced by a fresh one and another run is tried.
    // No timing is assumed.
    let mut c = connect();
    let d = c.dialect();
    let running_lease = format!(
        "SELECT {}, {} FROM {} WHERE {} IS NOT NULL AND {} > {}",
        d.quote("owner"),
        d.quote("slot"),
        d.quote("pim_job_lease"),
        d.quote("slot"),
        d.quote("expires_ms"),
        d.now_ms_sql()
    );
    let slot_row = |slot: &str| {
        Ledger::new(connect(), "check")
            .unwrap()
            .history(Some("cleanup"), 1000)
            .unwrap()
            .into_iter()
            .find(|h| h.slot == slot)
    };
    let mut spare = 0;
    let (victim, victim_slot) = loop {
        let (i, owner, slot) = wait_for(&format!("{label}: a run in progress"), || {
            // (No ledger yet while the nodes start.)
            let rows = c.query_rows(&running_lease, &[]).ok()?;
            let r = rows.first()?;
            let owner = r.get(0).as_str().unwrap().to_string();
            // A node killed in an earlier attempt may still hold an unexpired lease: wait for
            // a run of a live node.
            let i = nodes.0.iter().position(|(n, _)| *n == owner)?;
            Some((i, owner, r.get(1).as_str().unwrap().to_string()))
        });
        let (_, mut child) = nodes.0.remove(i);
        child.kill().unwrap();
        child.wait().unwrap();
        let row = slot_row(&slot);
        if row.is_some_and(|r| r.status == "running" && r.node == owner) {
            break (owner, slot);
        }
        // The run ended before the kill: start a replacement node and try again.
        spare += 1;
        assert!(spare < 20, "{label}: never caught a run in progress");
        let n = format!("spare{spare}");
        let jobs = dir.path().join("jobs1");
        let child = node(&jobs, &n, &dir.path().join(format!("{n}.log")));
        nodes.0.push((n, child));
    };
    // Another node takes the killed node's slot over, and the schedule goes on.
    wait_for(
        &format!("{label}: the killed node's slot to be taken over and finish"),
        || {
            slot_row(&victim_slot).filter(|r| {
                r.node != victim && !["running", "lease_lost"].contains(&r.status.as_str())
            })
        },
    );
    wait_for(
        &format!("{label}: three more slots after the takeover"),
        || {
            let later = Ledger::new(connect(), "check")
                .unwrap()
                .history(Some("cleanup"), 1000)
                .unwrap()
                .into_iter()
                .filter(|h| h.slot > victim_slot && h.status != "running")
                .count();
            (later >= 3).then_some(())
        },
    );
    for (name, child) in nodes.0.iter_mut() {
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
        // `interrupted`: the run in progress when the nodes got SIGTERM at the end;
        // `lease_lost`: a run a loaded machine could not renew in time, stopped (fencing).
        assert!(
            ["timeout", "ok", "skipped", "interrupted", "lease_lost"].contains(&r.status.as_str()),
            "{}: {r:?}",
            label
        );
        if r.status == "skipped" {
            // The lease said the previous run still went (on any node), or this node already
            // had its limit of runs of the job going.
            let why = r.error.as_deref().unwrap_or_default();
            assert!(
                why.contains("overlap") || why.contains("runs of this job going"),
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
    assert!(
        taken.trigger == "takeover" && taken.attempt >= 2,
        "{}: {taken:?}",
        label
    );
    assert!(
        taken
            .note
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("taken over from node {victim}")),
        "{}: the history says whose slot was taken over: {taken:?}",
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
