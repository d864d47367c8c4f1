//! `audit dump` and `kind: audit_dump` on every backend, compared byte for byte with the CSV
//! the real privacyIDEA 3.14 wrote for the same rows (tests/fixtures/audit_dump/README.md):
//! a tampered row, an id gap, quotes, commas, line breaks, formula-looking values, NULLs,
//! negative and zero durations, equal dates.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::NaiveDateTime;
use pi_manage::audit_dump::{self, DumpOptions, DumpStats, Timelimit};
use pi_manage::crypto::audit_sign::AuditVerifier;
use pi_manage::db::{Connection, Value};
use pi_manage::dburl::Backend;
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{Duration, TaskSpec};
use pi_manage::tasks::audit_dump::{AuditDump, DumpCompression};
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

const EXPECTED: &str = include_str!("../fixtures/audit_dump/expected.csv");
const ROWS: &str = include_str!("../fixtures/audit_dump/rows.json");

fn public_key_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit_verify/public.pem")
}

fn verifier() -> AuditVerifier {
    AuditVerifier::from_public_pem(&std::fs::read_to_string(public_key_path()).unwrap()).unwrap()
}

fn dt(text: &str) -> NaiveDateTime {
    Value::Text(text.into()).as_datetime().unwrap()
}

/// Store the fixture rows (as privacyIDEA's SQLite held them) the way each backend holds them.
fn insert_fixture(c: &mut dyn Connection, backend: Backend) {
    let v: serde_json::Value = serde_json::from_str(ROWS).unwrap();
    let cols: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let d = c.dialect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        d.quote("pidea_audit"),
        cols.iter()
            .map(|c| d.quote(c))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; cols.len()].join(", ")
    );
    for r in v["rows"].as_array().unwrap() {
        let row = &r["row"];
        let params: Vec<Value> = cols
            .iter()
            .map(|col| match (&row[*col], *col) {
                (serde_json::Value::Null, _) => Value::Null,
                (x, "id" | "success") => Value::Int(x.as_i64().unwrap()),
                (x, "date" | "startdate") => Value::DateTime(dt(x.as_str().unwrap())),
                (x, "duration") => {
                    let text = x.as_str().unwrap();
                    let micros = (dt(text) - chrono::DateTime::UNIX_EPOCH.naive_utc())
                        .num_microseconds()
                        .unwrap();
                    match backend {
                        Backend::Postgres => Value::Text(format!("{micros} microseconds")),
                        Backend::Sqlite => Value::Text(text.into()),
                        Backend::Mysql => Value::DateTime(dt(text)),
                    }
                }
                (x, _) => Value::Text(x.as_str().unwrap().to_string()),
            })
            .collect();
        c.execute(&sql, &params).unwrap();
    }
}

fn opts(round_rows: usize, since: Option<NaiveDateTime>) -> DumpOptions {
    DumpOptions {
        since,
        verifier: Some(verifier()),
        round_rows,
    }
}

fn dump_to_string(c: &mut dyn Connection, o: &DumpOptions) -> (String, DumpStats) {
    let mut out = Vec::new();
    let stats = audit_dump::dump(c, o, &Interrupt::new(), &mut out).unwrap();
    (String::from_utf8(out).unwrap(), stats)
}

/// The expected CSV without the entries of the given ids.
fn expected_without(ids: &[&str]) -> String {
    let mut out = String::new();
    let mut skip = false;
    // A record starts where a line starts with "<id>,2026-"; continuation lines of quoted
    // line breaks belong to the record before.
    for line in EXPECTED.split_inclusive('\n') {
        if let Some((id, rest)) = line.split_once(',') {
            if rest.starts_with("2026-") && id.parse::<i64>().is_ok() {
                skip = ids.contains(&id);
            }
        }
        if !skip {
            out.push_str(line);
        }
    }
    out
}

#[test]
fn dump_is_privacyideas_csv_byte_for_byte_in_every_round_size() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_fixture(c.as_mut(), db.backend);
        for round_rows in [500, 1, 2, 3] {
            let (csv, stats) = dump_to_string(c.as_mut(), &opts(round_rows, None));
            assert_eq!(csv, EXPECTED, "{} round {round_rows}", db.label());
            assert_eq!(
                stats,
                DumpStats {
                    entries: 9,
                    signature_failed: 2,
                    missing_line_failed: 4,
                    upper_id: Some(10),
                    interrupted: None,
                },
                "{}",
                db.label()
            );
        }
        // PI_AUDIT_NO_SIGN: no key, every sig_check FAIL.
        let mut o = opts(500, None);
        o.verifier = None;
        let (csv, stats) = dump_to_string(c.as_mut(), &o);
        assert_eq!(stats.signature_failed, 9);
        assert_eq!(
            csv,
            EXPECTED
                .replace(",OK,OK,", ",FAIL,OK,")
                .replace(",OK,FAIL,", ",FAIL,FAIL,")
        );
    }
}

#[test]
fn timelimit_keeps_only_recent_entries() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_fixture(c.as_mut(), db.backend);
        let now = dt("2026-11-22 12:00:08");
        let since = Timelimit::parse("1m").unwrap().cutoff(now).unwrap();
        let (csv, stats) = dump_to_string(c.as_mut(), &opts(2, since));
        assert_eq!(csv, expected_without(&["7"]), "{}", db.label());
        assert_eq!(stats.entries, 8);
        let since = Timelimit::parse("5s").unwrap().cutoff(now).unwrap();
        let (csv, _) = dump_to_string(c.as_mut(), &opts(500, since));
        assert_eq!(csv, expected_without(&["1", "2", "7"]), "{}", db.label());
        // A zero delta filters nothing (privacyIDEA's `if timelimit:`), a negative one all.
        let zero = Timelimit::parse("0d").unwrap().cutoff(now).unwrap();
        assert_eq!(dump_to_string(c.as_mut(), &opts(500, zero)).0, EXPECTED);
        let future = Timelimit::parse("-1d").unwrap().cutoff(now).unwrap();
        assert_eq!(dump_to_string(c.as_mut(), &opts(500, future)).0, "");
        assert_eq!(audit_dump::count(c.as_mut(), future).unwrap(), 0);
    }
}

/// A sink that writes audit entries through another connection when the first round arrives.
struct WritesDuringDump<'a> {
    other: &'a mut dyn Connection,
    out: Vec<u8>,
    done: bool,
}

impl Write for WritesDuringDump<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.done {
            self.done = true;
            insert_audit(
                self.other,
                &[
                    (11, dt("2026-11-22 12:00:11"), "POST /new", "late"),
                    (12, dt("2026-11-22 11:00:00"), "POST /new", "late"),
                ],
            );
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn entries_written_during_the_dump_are_left_out() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_fixture(c.as_mut(), db.backend);
        let mut other = db.connect();
        let mut sink = WritesDuringDump {
            other: other.as_mut(),
            out: Vec::new(),
            done: false,
        };
        let stats =
            audit_dump::dump(c.as_mut(), &opts(2, None), &Interrupt::new(), &mut sink).unwrap();
        assert_eq!(stats.entries, 9, "{}", db.label());
        assert_eq!(stats.upper_id, Some(10));
        // Entry 10's neighbour 11 exists by the time its round is checked: privacyIDEA's
        // neighbour lookup is not limited to the snapshot either.
        let want = EXPECTED.replace(
            "10,2026-11-22T12:00:10,FAIL,FAIL,",
            "10,2026-11-22T12:00:10,FAIL,OK,",
        );
        assert_eq!(String::from_utf8(sink.out).unwrap(), want, "{}", db.label());
    }
}

/// Many entries sharing a date, across round boundaries and out of id order: every entry
/// once, in `(date, id)` order, in every round size (each round reads the rest of the last
/// date first, then the later dates).
#[test]
fn entries_sharing_a_date_are_read_once_in_date_and_id_order() {
    let dates = [
        "2026-11-22T12:00:02",
        "2026-11-22T12:00:01",
        "2026-11-22T12:00:03",
    ];
    // 1–20 on the second date, 21–30 on the first, 31–40 on the third and first.
    let rows: Vec<(i64, NaiveDateTime, &str, &str)> = (1..=40i64)
        .map(|id| {
            let date = match id {
                1..=20 => dates[0],
                21..=30 => dates[1],
                _ if id % 2 == 0 => dates[2],
                _ => dates[1],
            };
            (id, dt(date), "GET /", "")
        })
        .collect();
    let mut want: Vec<(String, i64)> = rows
        .iter()
        .map(|(id, date, _, _)| (date.format("%Y-%m-%dT%H:%M:%S").to_string(), *id))
        .collect();
    want.sort();
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_audit(c.as_mut(), &rows);
        for round_rows in [1, 3, 7, 20, 500] {
            let mut o = opts(round_rows, None);
            o.verifier = None;
            let (csv, stats) = dump_to_string(c.as_mut(), &o);
            let got: Vec<(String, i64)> = csv
                .lines()
                .map(|l| {
                    let mut f = l.split(',');
                    let id = f.next().unwrap().parse().unwrap();
                    (f.next().unwrap().to_string(), id)
                })
                .collect();
            assert_eq!(got, want, "{} round {round_rows}", db.label());
            assert_eq!(stats.entries, 40, "{} round {round_rows}", db.label());
        }
    }
}

#[test]
fn interrupted_dump_stops_between_rounds() {
    let db = privacyidea_databases().remove(0);
    let mut c = db.connect();
    insert_fixture(c.as_mut(), db.backend);
    let interrupt = Interrupt::new();
    interrupt.trigger(15);
    let mut out = Vec::new();
    let stats = audit_dump::dump(c.as_mut(), &opts(2, None), &interrupt, &mut out).unwrap();
    assert_eq!(stats.interrupted, Some(15));
    assert_eq!(stats.entries, 2);
}

/// A dump leaves the connection as it found it, whether it ran to the end or was interrupted
/// with PostgreSQL's cursor open: no transaction (SQLite refuses a nested `BEGIN`; another
/// PostgreSQL session sees it idle, not idle in a transaction) and no cursor.
#[test]
fn the_dump_leaves_no_transaction_or_cursor_open() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_fixture(c.as_mut(), db.backend);
        for interrupted in [false, true] {
            let interrupt = Interrupt::new();
            if interrupted {
                interrupt.trigger(15);
            }
            let mut out = Vec::new();
            let stats = audit_dump::dump(c.as_mut(), &opts(2, None), &interrupt, &mut out).unwrap();
            assert_eq!(stats.interrupted.is_some(), interrupted, "{}", db.label());
            if db.backend == Backend::Postgres {
                let cursors = c
                    .query_i64("SELECT count(*) FROM pg_cursors WHERE name <> ''", &[])
                    .unwrap();
                assert_eq!(cursors, Some(0), "interrupted: {interrupted}");
                // Seen from another session: idle, not idle in a transaction.
                let pid = c
                    .query_i64("SELECT pg_backend_pid()", &[])
                    .unwrap()
                    .unwrap();
                let state = db
                    .connect()
                    .query_rows(
                        "SELECT state FROM pg_stat_activity WHERE pid = ?",
                        &[Value::Int(pid)],
                    )
                    .unwrap();
                assert_eq!(
                    state[0].get(0).as_str(),
                    Some("idle"),
                    "interrupted: {interrupted}"
                );
            }
            // Last: on PostgreSQL a `ROLLBACK` would end a transaction the dump left open.
            c.begin().unwrap_or_else(|e| panic!("{}: {e}", db.label()));
            c.rollback().unwrap();
        }
    }
}

fn dump_spec(dir: &Path, compress: DumpCompression, keep: Option<u32>) -> TaskSpec {
    TaskSpec::AuditDump(AuditDump {
        directory: dir.to_path_buf(),
        compress,
        keep,
        public_key: Some(public_key_path()),
        ..Default::default()
    })
}

fn read_dump(path: &Path) -> String {
    let raw = std::fs::read(path).unwrap();
    let mut text = String::new();
    match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => {
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .unwrap();
        }
        Some("xz") => {
            xz2::read::XzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .unwrap();
        }
        _ => text = String::from_utf8(raw).unwrap(),
    }
    text
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn task_writes_dated_compressed_dumps_and_keeps_the_newest() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_fixture(c.as_mut(), db.backend);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        std::fs::create_dir(&dir).unwrap();
        for old in [
            "pidea-audit-20261120-120000.csv.xz",
            "pidea-audit-20261121-120000.csv",
            "pidea-audit-20261121-130000.csv.gz",
            "notes.csv",
        ] {
            std::fs::write(dir.join(old), "old").unwrap();
        }
        let clock = clock_at("2026-11-22T12:30:05+01:00");

        let dry = run_spec(
            &db,
            dump_spec(&dir, DumpCompression::Xz, Some(2)),
            true,
            &clock,
        );
        let file = dir.join("pidea-audit-20261122-123005.csv.xz");
        assert_eq!(dry.outcome().status, TaskStatus::DryRun, "{:?}", dry.lines);
        assert_eq!(
            dry.lines,
            [
                format!("Would dump 9 audit entries to {}.", file.display()),
                "Would remove pidea-audit-20261121-120000.csv".to_string(),
                "Would remove pidea-audit-20261120-120000.csv.xz".to_string(),
            ],
            "{}",
            db.label()
        );
        assert!(!file.exists());

        let run = run_spec(
            &db,
            dump_spec(&dir, DumpCompression::Xz, Some(2)),
            false,
            &clock,
        );
        assert_eq!(run.outcome().status, TaskStatus::Done, "{:?}", run.report);
        assert_eq!(
            run.lines,
            [
                format!(
                    "Dumped 9 audit entries to {} (2 failed the signature check, 4 the missing-line check).",
                    file.display()
                ),
                "Removed pidea-audit-20261121-120000.csv".to_string(),
                "Removed pidea-audit-20261120-120000.csv.xz".to_string(),
            ],
            "{}",
            db.label()
        );
        assert_eq!(
            names(&dir),
            [
                "notes.csv",
                "pidea-audit-20261121-130000.csv.gz",
                "pidea-audit-20261122-123005.csv.xz"
            ]
        );
        assert_eq!(read_dump(&file), EXPECTED, "{}", db.label());
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // The same second again: a new name, never an overwrite; gzip this time.
        let again = run_spec(
            &db,
            dump_spec(&dir, DumpCompression::Gzip, None),
            false,
            &clock,
        );
        let second = dir.join("pidea-audit-20261122-123005-1.csv.gz");
        assert_eq!(
            again.outcome().details["file"],
            second.display().to_string()
        );
        assert_eq!(read_dump(&second), EXPECTED);
    }
}

#[test]
fn task_timelimit_and_missing_directory() {
    let db = privacyidea_databases().remove(0);
    let mut c = db.connect();
    insert_fixture(c.as_mut(), db.backend);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/audit");
    let mut spec = AuditDump {
        directory: dir.clone(),
        timelimit: Some(Duration::parse("1m").unwrap()),
        public_key: Some(public_key_path()),
        ..Default::default()
    };
    let clock = clock_at("2026-11-22T12:00:08+00:00");
    let dry = run_spec(&db, TaskSpec::AuditDump(spec.clone()), true, &clock);
    assert!(
        dry.lines[0].starts_with("Would dump 8 audit entries to "),
        "{:?}",
        dry.lines
    );
    assert!(!dir.exists(), "a dry run creates nothing");
    let run = run_spec(&db, TaskSpec::AuditDump(spec.clone()), false, &clock);
    assert_eq!(run.outcome().status, TaskStatus::Done, "{:?}", run.report);
    let file = dir.join("pidea-audit-20261122-120008.csv");
    assert_eq!(read_dump(&file), expected_without(&["7"]));
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // No key anywhere and signing on: refused, nothing written.
    spec.public_key = None;
    let clock = clock_at("2026-11-22T12:00:09+00:00");
    let refused = run_spec(&db, TaskSpec::AuditDump(spec), false, &clock);
    assert_eq!(refused.outcome().status, TaskStatus::Failed);
    assert_eq!(names(&dir), ["pidea-audit-20261122-120008.csv"]);
}

/// An installation for the binary: a pi.cfg naming the SQLite test database and the key.
fn picfg_for(db: &TestDb, dir: &Path) -> PathBuf {
    let cfg = dir.join("pi.cfg");
    std::fs::write(
        &cfg,
        format!(
            "SQLALCHEMY_DATABASE_URI = '{}'\nPI_AUDIT_KEY_PUBLIC = '{}'\n",
            db.url_text(),
            public_key_path().display()
        ),
    )
    .unwrap();
    cfg
}

fn pi_manage(cfg: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pi-manage"));
    c.arg("--picfg").arg(cfg).args(args);
    c
}

#[test]
fn command_writes_stdout_or_a_private_file() {
    let db = privacyidea_databases().remove(0);
    assert_eq!(db.backend, Backend::Sqlite);
    let mut c = db.connect();
    insert_fixture(c.as_mut(), db.backend);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = picfg_for(&db, tmp.path());

    let out = pi_manage(&cfg, &["audit", "dump"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), EXPECTED);
    assert!(out.stderr.is_empty());

    let file = tmp.path().join("dump.csv");
    std::fs::write(&file, "previous").unwrap();
    let out = pi_manage(&cfg, &["audit", "dump", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), EXPECTED);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Nothing matches: like privacyIDEA's lazily opened file, none is written.
    let none = tmp.path().join("none.csv");
    let out = pi_manage(
        &cfg,
        &[
            "audit",
            "dump",
            "-t",
            "-1d",
            "--filename",
            none.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!none.exists());

    let out = pi_manage(&cfg, &["audit", "dump", "-t", "3x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "pi-manage: Invalid value for '-t' / '--timelimit': Could not parse timelimit (3x): Unsupported timedelta '3x'\n"
    );
    assert!(out.stdout.is_empty());

    // A file in a directory that does not exist: an error, exit 1, nothing half written.
    let out = pi_manage(&cfg, &["audit", "dump", "-f", "/nonexistent/dir/x.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir/x.csv"));
}

#[test]
fn command_survives_a_closed_stdout() {
    let db = privacyidea_databases().remove(0);
    let mut c = db.connect();
    let rows: Vec<(i64, NaiveDateTime, String)> = (1..=3000)
        .map(|i| {
            (
                i,
                dt("2026-11-22 12:00:00") + chrono::TimeDelta::seconds(i),
                format!("POST /validate/check/{i}"),
            )
        })
        .collect();
    let rows: Vec<(i64, NaiveDateTime, &str, &str)> = rows
        .iter()
        .map(|(i, d, a)| (*i, *d, a.as_str(), "u"))
        .collect();
    insert_audit(c.as_mut(), &rows);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = picfg_for(&db, tmp.path());
    let mut child = pi_manage(&cfg, &["audit", "dump"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
