//! The scheduler when its database goes away and comes back (a private server the test stops
//! and starts by pid), and several nodes starting at once on a fresh database. Everything here
//! waits for events (a log line, a ledger row) with generous deadlines; nothing assumes how
//! fast the machine is.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};

use chrono::{DateTime, TimeDelta, Utc};
use pi_manage::dburl::DbUrl;
use pi_manage::scheduler::ledger::{Ledger, RunRecord};

use crate::harness::*;
use crate::outage_servers::{Kind, Restartable};

/// A `pi-manage schedule` process, killed if the test fails before stopping it.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Node {
    fn start(jobs: &Path, name: &str, log: &Path) -> Node {
        Node(
            Command::new(env!("CARGO_BIN_EXE_pi-manage"))
                .args(["schedule", jobs.to_str().unwrap(), "--node", name])
                .args(["--lease", "3s", "--grace", "20s", "--log-format", "json"])
                .stdout(std::fs::File::create(log).unwrap())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        )
    }

    fn stop(mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let status = self.0.wait().unwrap();
        assert_eq!(status.code(), Some(0), "the node exits cleanly on SIGTERM");
    }
}

/// The JSON log lines a node wrote so far.
fn events(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn field<'a>(e: &'a serde_json::Value, name: &str) -> &'a str {
    e.get(name).and_then(|v| v.as_str()).unwrap_or_default()
}

fn history(url: &DbUrl, job: &str) -> Vec<RunRecord> {
    let Ok(conn) = pi_manage::db::open(url, &Default::default()) else {
        return Vec::new();
    };
    Ledger::existing(conn, "check")
        .ok()
        .flatten()
        .and_then(|mut l| l.history(Some(job), 10_000).ok())
        .unwrap_or_default()
}

fn at(slot: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(slot)
        .unwrap()
        .with_timezone(&Utc)
}

fn write_job(dir: &Path, name: &str, url: &str, max_lateness: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "version: 1\nname: {name}\nconnection:\n  database: '{url}'\nschedule: '*/2 * * * * *'\nschedule_seconds: true\ntimezone: UTC\nmax_lateness: {max_lateness}\ntasks:\n  - kind: challenge_cleanup\n"
        ),
    )
    .unwrap();
    path
}

/// Consecutive slots of a job's rows are one schedule step (2 s) apart: no slot in between
/// went unrecorded, whatever happened to it.
fn assert_no_gaps(label: &str, job: &str, rows: &[RunRecord]) {
    let mut slots: Vec<DateTime<Utc>> = rows.iter().map(|r| at(&r.slot)).collect();
    slots.sort();
    for w in slots.windows(2) {
        assert_eq!(
            w[1] - w[0],
            TimeDelta::seconds(2),
            "{label}/{job}: a slot is missing between {} and {}: {rows:#?}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn postgres_outage_claims_are_retried_and_unrunnable_slots_recorded() {
    outage(Kind::Postgres);
}

#[test]
fn mariadb_outage_claims_are_retried_and_unrunnable_slots_recorded() {
    outage(Kind::Mariadb);
}

/// One node with two jobs every 2 s on a private server: `patient` (max_lateness 10m) and
/// `hasty` (max_lateness 1s). The server is stopped once both ran; `patient`'s claims are
/// retried until the server is back and then run, `hasty`'s slots are given up during the
/// outage and recorded `missed` once the server is back. No slot of either job is without
/// a row.
fn outage(kind: Kind) {
    let Some(mut server) = Restartable::new(kind) else {
        return;
    };
    let label = format!("{kind:?}");
    let db = database_on(DbUrl::parse(&server.admin_url()).unwrap());
    create_privacyidea_schema(&db);
    let url = db.url_text();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    write_job(&jobs, "patient", &url, "10m");
    write_job(&jobs, "hasty", &url, "1s");
    let log = dir.path().join("node.log");
    let node = Node::start(&jobs, "n1", &log);

    wait_for("both jobs to run once", || {
        let ok = |job| history(&db.url, job).iter().any(|r| r.status == "ok");
        (ok("patient") && ok("hasty")).then_some(())
    });
    server.stop();
    let stopped = Utc::now();
    // The outage as the node saw it: a claim of `patient` retried, a slot of `hasty` given up.
    let (retried, missed) = wait_for("a retried claim and a missed slot", || {
        let ev = events(&log);
        let find = |event: &str, job: &str| {
            ev.iter()
                .filter(|e| field(e, "event") == event && field(e, "job") == job)
                .map(|e| field(e, "slot").to_string())
                .find(|s| at(s) > stopped)
        };
        Some((
            find("claim_retry", "patient")?,
            find("slot_missed", "hasty")?,
        ))
    });
    server.start();
    let back = Utc::now();
    let patient = wait_for("the retried slot and a later one to be recorded", || {
        let rows = history(&db.url, "patient");
        let recorded = rows
            .iter()
            .any(|r| r.slot == retried && r.status != "running");
        let resumed = rows.iter().any(|r| at(&r.slot) > back && r.status == "ok");
        (recorded && resumed).then_some(rows)
    });
    let hasty = wait_for("the missed slot to be recorded", || {
        let rows = history(&db.url, "hasty");
        rows.iter().any(|r| r.slot == missed).then_some(rows)
    });
    node.stop();
    let patient_after = history(&db.url, "patient");
    let hasty_after = history(&db.url, "hasty");

    // A slot that came due while the server was down ran once it was back.
    assert!(
        patient
            .iter()
            .any(|r| at(&r.slot) > stopped && at(&r.slot) < back && r.status == "ok"),
        "{label}: no slot from the outage ran after it: {patient:#?}"
    );
    let m = hasty.iter().find(|r| r.slot == missed).unwrap();
    assert_eq!(m.status, "missed", "{label}: {m:?}");
    assert!(
        m.error
            .as_deref()
            .unwrap_or_default()
            .contains("could not be reached"),
        "{label}: {m:?}"
    );
    for (job, rows) in [("patient", &patient_after), ("hasty", &hasty_after)] {
        assert_no_gaps(&label, job, rows);
        for r in rows.iter() {
            assert!(
                ["ok", "skipped", "missed", "interrupted", "running"].contains(&r.status.as_str()),
                "{label}/{job}: {r:?}"
            );
        }
    }
}

/// Several nodes creating the ledger at once on a fresh database: every one of them gets a
/// working ledger (PostgreSQL used to fail all but one with a duplicate key in pg_type).
#[test]
fn a_concurrent_first_start_creates_the_ledger_once_on_every_backend() {
    for db in databases() {
        for round in 0..3 {
            let nodes = 6;
            let barrier = Arc::new(Barrier::new(nodes));
            let handles: Vec<_> = (0..nodes)
                .map(|i| {
                    let conn = db.connect();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        Ledger::new(conn, &format!("n{i}")).map(|_| ())
                    })
                })
                .collect();
            for h in handles {
                let r = h.join().unwrap();
                assert!(r.is_ok(), "{} round {round}: {r:?}", db.label());
            }
            let mut c = db.connect();
            let q = |s: &str| c.dialect().quote(s);
            let drop_sql = format!(
                "DROP TABLE {}; DROP TABLE {}",
                q("pim_job_run"),
                q("pim_job_lease")
            );
            c.execute_batch(&drop_sql).unwrap();
        }
    }
}

/// Three `schedule` processes started at once on a fresh database: none of them reports a
/// failure to read or create the ledger, and the job runs.
#[test]
fn three_nodes_starting_at_once_on_a_fresh_database_all_work() {
    for db in privacyidea_databases() {
        let label = db.label();
        let dir = tempfile::tempdir().unwrap();
        let jobs = dir.path().join("jobs");
        std::fs::create_dir(&jobs).unwrap();
        write_job(&jobs, "fresh", &db.url_text(), "10m");
        let logs: Vec<PathBuf> = (1..=3)
            .map(|i| dir.path().join(format!("n{i}.log")))
            .collect();
        let nodes: Vec<Node> = logs
            .iter()
            .enumerate()
            .map(|(i, log)| Node::start(&jobs, &format!("n{}", i + 1), log))
            .collect();
        wait_for("a run on the fresh database", || {
            history(&db.url, "fresh")
                .iter()
                .any(|r| r.status == "ok")
                .then_some(())
        });
        for n in nodes {
            n.stop();
        }
        for log in &logs {
            for e in events(log) {
                assert!(
                    !field(&e, "message").contains("cannot read the run ledger")
                        && !["claim_failed", "record_failed"].contains(&field(&e, "event")),
                    "{label}: {e}"
                );
            }
        }
    }
}
