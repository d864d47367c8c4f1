//! What `pi-manage schedule` tells monitoring: `--metrics-listen` (`/metrics` in the Prometheus
//! text format, `/healthz` turning 503 with a reason once the run ledger is unreachable) and
//! systemd's notify protocol (`READY=1`, `WATCHDOG=1`, `STATUS=`, `STOPPING=1`) on a socket the
//! test binds. SQLite only: what is tested is the reporting, not the backends. Every wait polls
//! with a generous deadline; nothing asserts on how long anything took.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pi_manage::scheduler::ledger::Ledger;

use crate::harness::*;

/// A `pi-manage schedule` process, killed if the test fails before it stops it.
struct Node {
    child: Child,
    log: PathBuf,
}

impl Node {
    fn start(jobs: &Path, log: PathBuf, extra: &[&str], env: &[(&str, &str)]) -> Node {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pi-manage"));
        cmd.args([
            "schedule",
            jobs.to_str().unwrap(),
            "--node",
            "mon1",
            "--lease",
            "3s",
            "--grace",
            "10s",
            "--log-format",
            "json",
        ])
        .args(extra)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit());
        Node {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    /// The address `--metrics-listen …:0` bound, from the `metrics_listening` log line.
    fn metrics_addr(&mut self) -> SocketAddr {
        wait_for("the metrics_listening log line", || {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let listening = log
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["event"] == "metrics_listening");
            if let Some(v) = listening {
                let msg = v["message"].as_str().unwrap();
                return Some(msg.rsplit("http://").next().unwrap().parse().unwrap());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("schedule exited ({status}) before listening:\n{log}");
            }
            None
        })
    }

    /// SIGTERM, and the exit code.
    fn stop(&mut self) -> Option<i32> {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().unwrap().code()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 GET: status code, Content-Type, body.
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        })
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    (code, content_type, body.to_string())
}

/// A parsed scrape: samples keyed by name and sorted labels; families by name with their type.
#[derive(Debug, Default)]
struct Scrape {
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parse the text format strictly: every sample follows its family's HELP and TYPE lines,
    /// label values are unescaped, and no sample appears twice.
    fn parse(text: &str) -> Scrape {
        let mut s = Scrape::default();
        let mut helped = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP name text");
                assert!(!help.is_empty(), "{name} has an empty HELP");
                helped = Some(name.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(helped.as_deref(), Some(name), "TYPE without HELP: {line}");
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                assert!(name.starts_with("pi_manage_"), "{line}");
                assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
                s.types.insert(name.into(), kind.into());
            } else {
                let (name, labels, value) = parse_sample(line);
                assert!(
                    s.types.contains_key(&name),
                    "sample before its TYPE: {line}"
                );
                let key = (name, labels);
                assert!(!s.samples.contains_key(&key), "duplicate sample: {line}");
                s.samples.insert(key, value);
            }
        }
        s
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.sort();
        self.samples.get(&(name.to_string(), l)).copied()
    }

    fn job(&self, name: &str) -> Option<f64> {
        self.get(name, &[("job_name", "tick")])
    }
}

fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let name_end = line.find(['{', ' ']).expect("a sample");
    let name = line[..name_end].to_string();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices();
        let mut key = String::new();
        loop {
            let (_, c) = chars.next().expect("unterminated labels");
            match c {
                '}' => break,
                ',' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().expect("unterminated value").1 {
                            '\\' => match chars.next().unwrap().1 {
                                'n' => value.push('\n'),
                                c @ ('\\' | '"') => value.push(c),
                                c => panic!("bad escape \\{c} in {line}"),
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                c => key.push(c),
            }
        }
        let consumed = chars.next().map(|(i, _)| i).unwrap_or(r.len());
        rest = &r[consumed..];
    }
    let value = rest.trim().parse().unwrap_or_else(|_| panic!("{line}"));
    labels.sort();
    (name, labels, value)
}

fn job_dir(dir: &Path, db: &TestDb, schedule: &str) -> PathBuf {
    let jobs = dir.join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    std::fs::write(
        jobs.join("tick.yaml"),
        format!(
            "version: 1\nname: tick\nconnection:\n  database: '{}'\nschedule: '{schedule}'\nschedule_seconds: true\ntimezone: UTC\nmax_lateness: 30s\ntasks:\n  - kind: challenge_cleanup\n",
            db.url_text()
        ),
    )
    .unwrap();
    jobs
}

const COUNTERS: &[&str] = &[
    "pi_manage_job_runs_total",
    "pi_manage_job_takeovers_total",
    "pi_manage_job_ledger_errors_total",
];
const GAUGES: &[&str] = &[
    "pi_manage_job_last_run_status",
    "pi_manage_job_last_run_end_timestamp_seconds",
    "pi_manage_job_last_run_duration_seconds",
    "pi_manage_job_last_run_rows_affected",
    "pi_manage_job_last_success_timestamp_seconds",
    "pi_manage_job_next_run_timestamp_seconds",
    "pi_manage_job_interval_seconds",
    "pi_manage_job_lease_held",
    "pi_manage_scheduler_last_tick_timestamp_seconds",
    "pi_manage_scheduler_healthy",
];

#[test]
fn schedule_serves_metrics_and_health_and_reports_an_unreachable_ledger() {
    let db = privacyidea_sqlite();
    let old = Utc::now().naive_utc() - TimeDelta::days(1);
    let expired: Vec<_> = (1..=5).map(|i| (i, old, old)).collect();
    insert_challenges(db.connect().as_mut(), &expired);
    let dir = tempfile::tempdir().unwrap();
    let jobs = job_dir(dir.path(), &db, "*/2 * * * * *");
    let mut node = Node::start(
        &jobs,
        dir.path().join("node.log"),
        &["--metrics-listen", "127.0.0.1:0"],
        &[],
    );
    let addr = node.metrics_addr();

    let health = wait_for("/healthz 200", || {
        let (code, _, body) = get(addr, "/healthz");
        (code == 200).then_some(body)
    });
    assert!(health.starts_with("ok: "), "{health}");

    let (code, content_type, _) = get(addr, "/metrics");
    assert_eq!(code, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    wait_for("a successful run in /metrics", || {
        let s = Scrape::parse(&get(addr, "/metrics").2);
        (s.get(
            "pi_manage_job_runs_total",
            &[("job_name", "tick"), ("status", "ok")],
        )? >= 1.0)
            .then_some(())
    });
    // The first run deleted the five expired challenges.
    let history = Ledger::new(db.connect(), "check")
        .unwrap()
        .history(Some("tick"), 1000)
        .unwrap();
    assert!(
        history
            .iter()
            .any(|r| r.status == "ok" && r.rows_affected == Some(5)),
        "{history:?}"
    );

    // The last run in /metrics is the ledger's; runs keep finishing, so compare a scrape with
    // the ledger read right after it, until both saw the same run.
    let (scrape, last) = wait_for("a scrape that matches the ledger", || {
        let text = get(addr, "/metrics").2;
        let s = Scrape::parse(&text);
        let (last, last_ok) = Ledger::new(db.connect(), "check")
            .unwrap()
            .latest_runs("tick")
            .unwrap();
        let (last, last_ok) = (last?, last_ok?);
        let end = |r: &pi_manage::scheduler::ledger::RunRecord| {
            chrono::DateTime::parse_from_rfc3339(r.finished_at.as_deref().unwrap())
                .unwrap()
                .timestamp_millis() as f64
                / 1000.0
        };
        let same = s.job("pi_manage_job_last_run_end_timestamp_seconds") == Some(end(&last))
            && s.job("pi_manage_job_last_success_timestamp_seconds") == Some(end(&last_ok));
        same.then_some((s, last))
    });
    for name in COUNTERS {
        assert_eq!(scrape.types.get(*name).map(String::as_str), Some("counter"));
    }
    for name in GAUGES {
        assert_eq!(scrape.types.get(*name).map(String::as_str), Some("gauge"));
    }
    let status = |s: &str| {
        scrape.get(
            "pi_manage_job_last_run_status",
            &[("job_name", "tick"), ("status", s)],
        )
    };
    assert_eq!(status(&last.status), Some(1.0), "{last:?}");
    let ones = ["ok", "failed", "timeout", "interrupted", "skipped"]
        .iter()
        .filter(|s| status(s) == Some(1.0))
        .count();
    assert_eq!(ones, 1, "exactly one last status");
    assert_eq!(
        scrape.job("pi_manage_job_last_run_duration_seconds"),
        last.duration_ms.map(|ms| ms as f64 / 1000.0)
    );
    assert_eq!(
        scrape.job("pi_manage_job_last_run_rows_affected"),
        last.rows_affected.map(|r| r as f64)
    );
    assert_eq!(scrape.job("pi_manage_job_interval_seconds"), Some(2.0));
    let next = scrape
        .job("pi_manage_job_next_run_timestamp_seconds")
        .unwrap();
    assert_eq!(next % 2.0, 0.0, "a */2 slot: {next}");
    assert!([0.0, 1.0].contains(&scrape.job("pi_manage_job_lease_held").unwrap()));
    assert_eq!(scrape.job("pi_manage_job_takeovers_total"), Some(0.0));
    assert_eq!(scrape.job("pi_manage_job_ledger_errors_total"), Some(0.0));
    assert!(scrape
        .get(
            "pi_manage_scheduler_last_tick_timestamp_seconds",
            &[("node", "mon1")]
        )
        .is_some_and(|t| t > 1.7e9));
    assert_eq!(
        scrape.get("pi_manage_scheduler_healthy", &[("node", "mon1")]),
        Some(1.0)
    );
    assert_eq!(get(addr, "/nothing-here").0, 404);

    // Make the ledger unreachable: garbage over the SQLite file, in place (never an empty file,
    // which SQLite would take for a new database).
    let path = db.url.database.clone().unwrap();
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all(&b"not a database. ".repeat(len / 16 + 1)[..len])
        .unwrap();
    f.sync_all().unwrap();
    drop(f);
    let reason = wait_for("/healthz 503", || {
        let (code, _, body) = get(addr, "/healthz");
        (code == 503).then_some(body)
    });
    assert!(
        reason.starts_with("the run ledger of job 'tick' "),
        "{reason}"
    );
    assert!(reason.contains("not a database"), "{reason}");
    assert_eq!(reason.trim_end().lines().count(), 1, "one line: {reason}");
    let scrape = Scrape::parse(&get(addr, "/metrics").2);
    assert!(scrape.job("pi_manage_job_ledger_errors_total").unwrap() >= 1.0);
    assert_eq!(
        scrape.get("pi_manage_scheduler_healthy", &[("node", "mon1")]),
        Some(0.0)
    );
    assert_eq!(node.stop(), Some(0), "exits cleanly on SIGTERM");
}

#[test]
fn schedule_notifies_systemd_ready_watchdog_and_status() {
    let db = privacyidea_sqlite();
    let dir = tempfile::tempdir().unwrap();
    // Due at 03:00:00 UTC only: nothing runs during the test.
    let jobs = job_dir(dir.path(), &db, "0 0 3 * * *");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut node = Node::start(
        &jobs,
        dir.path().join("node.log"),
        &[],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    let mut seen: Vec<String> = Vec::new();
    let receive = |seen: &mut Vec<String>| {
        let mut buf = [0u8; 4096];
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            seen.extend(text.lines().map(str::to_string));
        }
    };
    wait_for(
        "READY=1, two WATCHDOG=1 and a STATUS naming the next job",
        || {
            receive(&mut seen);
            let ready = seen.iter().position(|l| l == "READY=1")?;
            let watchdogs = seen.iter().filter(|l| *l == "WATCHDOG=1").count();
            let status = seen[ready..]
                .iter()
                .any(|l| l.starts_with("STATUS=next: tick at ") && l.ends_with("T03:00:00Z"));
            (watchdogs >= 2 && status).then_some(())
        },
    );
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(node.child.id() as libc::pid_t, libc::SIGTERM) };
    wait_for("STOPPING=1", || {
        receive(&mut seen);
        seen.iter().any(|l| l == "STOPPING=1").then_some(())
    });
    assert_eq!(node.child.wait().unwrap().code(), Some(0), "{seen:?}");
}

#[test]
fn a_bad_metrics_address_is_refused_before_scheduling() {
    let db = privacyidea_sqlite();
    let dir = tempfile::tempdir().unwrap();
    let jobs = job_dir(dir.path(), &db, "0 0 3 * * *");
    let out = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args(["schedule", jobs.to_str().unwrap()])
        .args(["--metrics-listen", "no-such-host.invalid:nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--metrics-listen no-such-host.invalid:nope"),
        "{stderr}"
    );
}

#[test]
fn schedule_is_not_ready_for_systemd_while_the_ledger_is_unreachable() {
    let db = privacyidea_sqlite();
    let dir = tempfile::tempdir().unwrap();
    let jobs = job_dir(dir.path(), &db, "0 0 3 * * *");
    // A database file that is not one: the job files load, the ledger cannot be reached.
    let path = db.url.database.clone().unwrap();
    std::fs::write(&path, b"not a database. ".repeat(256)).unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut node = Node::start(
        &jobs,
        dir.path().join("node.log"),
        &[],
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    let mut seen: Vec<String> = Vec::new();
    // READY=1 would come before the status line of the same turn of the loop.
    wait_for("the 'waiting for the run ledger' status", || {
        let mut buf = [0u8; 4096];
        if let Ok(n) = socket.recv(&mut buf) {
            seen.extend(
                String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .map(str::to_string),
            );
        }
        seen.iter()
            .any(|l| l.starts_with("STATUS=waiting for the run ledger; next: tick at "))
            .then_some(())
    });
    assert!(!seen.iter().any(|l| l == "READY=1"), "{seen:?}");
    assert_eq!(node.stop(), Some(0), "{seen:?}");
}

/// The ledger query behind the "last run" metrics, on every backend: the run that finished
/// last (whatever its status, any node) and the last `ok` one; running rows are not runs yet.
#[test]
fn ledger_latest_runs_on_every_backend() {
    for db in privacyidea_databases() {
        let mut a = Ledger::new(db.connect(), "a").unwrap();
        let mut b = Ledger::new(db.connect(), "b").unwrap();
        let (none, none_ok) = a.latest_runs("job").unwrap();
        assert!(none.is_none() && none_ok.is_none(), "{}", db.label());
        let t = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&Utc)
        };
        let slots = [
            (
                "2026-01-01T00:00:00.000000Z",
                "ok",
                "2026-01-01T00:00:05.000000Z",
            ),
            (
                "2026-01-01T01:00:00.000000Z",
                "failed",
                "2026-01-01T01:00:07.500000Z",
            ),
        ];
        for (i, (slot, status, end)) in slots.iter().enumerate() {
            let l = if i == 0 { &mut a } else { &mut b };
            l.claim(
                "job",
                slot,
                pi_manage::scheduler::ledger::Trigger::Schedule,
                t(slot),
            )
            .unwrap();
            l.finish(
                "job",
                slot,
                status,
                t(end),
                1500 + i as i64,
                Some(7),
                None,
                None,
            )
            .unwrap();
        }
        // A run still going, and another job's run: neither counts.
        a.claim(
            "job",
            "2026-01-01T02:00:00.000000Z",
            pi_manage::scheduler::ledger::Trigger::Schedule,
            t("2026-01-01T02:00:00.000000Z"),
        )
        .unwrap();
        b.claim(
            "other",
            "2026-01-01T03:00:00.000000Z",
            pi_manage::scheduler::ledger::Trigger::Schedule,
            t("2026-01-01T03:00:00.000000Z"),
        )
        .unwrap();
        b.finish(
            "other",
            "2026-01-01T03:00:00.000000Z",
            "ok",
            t("2026-01-01T03:00:01.000000Z"),
            1,
            None,
            None,
            None,
        )
        .unwrap();
        let (last, last_ok) = a.latest_runs("job").unwrap();
        let (last, last_ok) = (last.unwrap(), last_ok.unwrap());
        assert_eq!(
            (last.status.as_str(), last.node.as_str(), last.duration_ms),
            ("failed", "b", Some(1501)),
            "{}",
            db.label()
        );
        assert_eq!(
            last.finished_at.as_deref(),
            Some("2026-01-01T01:00:07.500000Z"),
            "{}",
            db.label()
        );
        assert_eq!(last.rows_affected, Some(7), "{}", db.label());
        assert_eq!(
            (last_ok.status.as_str(), last_ok.slot.as_str()),
            ("ok", "2026-01-01T00:00:00.000000Z"),
            "{}",
            db.label()
        );
    }
}
