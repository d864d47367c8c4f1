//! Two scenarios of their own (issue 11): `audit_dump` and `authlog_cleanup`, selected with
//! `--only audit_dump,authlog_cleanup` and run with the maintenance benchmark's measuring
//! helpers (a fresh child process per run, its peak RSS from `wait4`). All run on SQLite;
//! `audit_dump` also on PostgreSQL and MariaDB when `PIM_TEST_POSTGRES_URL` /
//! `PIM_TEST_MYSQL_URL` name an admin connection, as for the tests.
//!
//! ```text
//! cargo bench --bench maintenance -- --only audit_dump,audit_dump_signed,authlog_cleanup,authlog_cleanup_in_time_order [--rows N (default 1000000)] [--repeat K (default 1)] [--authlog-chunks none,N,… (default none,10000)]
//! ```
//!
//! * `audit_dump`: `pi-manage audit dump -f FILE` of an N-row `pidea_audit` (with the
//!   public audit key configured, so every row's signature is checked), against a plain
//!   `SELECT` of every column of the same rows in the dump's `(date, id)` order, each value
//!   read, in one rusqlite connection. The dump's line count must equal N. On a server: N
//!   rows of the backup benchmark's shape (`benches/common/server_db.rs`: 400 dates, 2,500
//!   rows each), their signatures given an odd number of hex digits as the SQLite rows have
//!   (every row `FAIL` without an RSA operation), against the same `SELECT` through the server's own
//!   client into `/dev/null`: `psql` with `COPY (SELECT …) TO STDOUT`, `mariadb --quick`.
//! * `audit_dump_signed`: the same with a fresh RSA-2048 audit key and every row's signature
//!   costing a full RSA check (`benches/common/signed_audit.rs`), so the time includes
//!   verifying each row as an operator's dump does; the dump must mark exactly the 1000 rows
//!   with a signature of their own `OK`.
//! * `authlog_cleanup`: `pi-manage authlog cleanup --age 30` (and `--chunksize 10000`) of N
//!   authentication-log parents, half of them older than 30 days, each with 0–2 reasons and
//!   every other one with a conditional-access outcome, against the three raw `DELETE`
//!   statements (outcomes, reasons, parents; each committed). All three tables must end
//!   with the same rows on both copies. Besides time and memory, the bytes each side sent
//!   to storage. `--authlog-chunks` picks the chunk sizes (`none` for the unchunked run).
//! * `authlog_cleanup_in_time_order`: the same with the parents' ids in timestamp order, as
//!   privacyIDEA writes the log (`authlog_cleanup` scatters the timestamps over the ids, the
//!   worst case for a chunked delete).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Local, NaiveDateTime, TimeDelta, Utc};
use pi_manage::crypto::audit_sign::{generate_audit_keys, AuditSigner};
use pi_manage::db::{self as pidb, OpenOptions};
use pi_manage::dburl::Backend;
use rusqlite::{params, Connection};

use super::{
    fill_audit, fingerprint, fmt_count, machine_facts, median, run_child, Rng, SCHEMA, SQLITE_DT,
};

#[path = "../common/signed_audit.rs"]
mod signed_audit;

#[path = "../common/server_db.rs"]
mod server_db;

const NAMES: [&str; 4] = [
    "audit_dump",
    "audit_dump_signed",
    "authlog_cleanup",
    "authlog_cleanup_in_time_order",
];
/// Authentication-log history (days) and the cleanup age; no parent lies within `GAP` of the
/// cut-off, so runs seconds apart select the same rows.
const AUTHLOG_DAYS: i64 = 60;
const AUTHLOG_AGE: i64 = 30;
const GAP: TimeDelta = TimeDelta::hours(2);

/// Whether the command line asks for these scenarios only (`--only` naming only them).
pub fn handles(argv: &[String]) -> bool {
    let only = argv.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--only=")
            .map(str::to_string)
            .or_else(|| (a == "--only").then(|| argv.get(i + 1).cloned().unwrap_or_default()))
    });
    only.is_some_and(|o| o.split(',').all(|s| NAMES.contains(&s)))
}

struct Args {
    rows: u64,
    repeat: usize,
    only: Vec<String>,
    /// The authlog scenarios' runs: without a chunk size (`None`) and with each size.
    authlog_chunks: Vec<Option<u64>>,
}

fn parse(argv: &[String]) -> Args {
    let mut a = Args {
        rows: 1_000_000,
        repeat: 1,
        only: Vec::new(),
        authlog_chunks: vec![None, Some(10_000)],
    };
    let mut it = argv.iter().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .unwrap_or_default()
        };
        match key.as_str() {
            "--bench" => {}
            "--rows" => a.rows = value().parse().expect("--rows N"),
            "--repeat" => a.repeat = value().parse().expect("--repeat K"),
            "--only" => a.only = value().split(',').map(str::to_string).collect(),
            "--authlog-chunks" => {
                a.authlog_chunks = value()
                    .split(',')
                    .map(|c| (c != "none").then(|| c.parse().expect("--authlog-chunks none,N,…")))
                    .collect()
            }
            other => panic!(
                "unknown argument {other} (these scenarios take --rows, --repeat, --only, --authlog-chunks)"
            ),
        }
    }
    a
}

struct Line {
    scenario: String,
    rows: u64,
    baseline: &'static str,
    baseline_s: f64,
    ours_s: f64,
    rss_mb: f64,
    note: String,
}

fn template(dir: &Path, name: &str, fill: impl FnOnce(&Connection)) -> PathBuf {
    let path = dir.join(format!("{name}.sqlite"));
    let conn = Connection::open(&path).expect("create template");
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF;")
        .unwrap();
    conn.execute_batch(SCHEMA).expect("schema");
    conn.execute_batch("BEGIN").unwrap();
    fill(&conn);
    conn.execute_batch("COMMIT").unwrap();
    conn.close().expect("close template");
    path
}

fn picfg(dir: &Path, db: &Path, extra: &str) -> String {
    let p = dir.join("pi.cfg");
    std::fs::write(
        &p,
        format!(
            "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\n{extra}",
            db.display()
        ),
    )
    .unwrap();
    p.display().to_string()
}

/// The audit data a dump scenario reads.
#[derive(Clone, Copy, PartialEq)]
enum Signatures {
    /// The rotation scenarios' rows: their signatures are rejected before any RSA operation.
    Unverifiable,
    /// Every row's signature costs a full RSA check; 1000 of them are valid.
    FullCost,
}

fn audit_dump(bin: &Path, dir: &Path, rows: u64, repeat: usize, sigs: Signatures) -> Line {
    let t0 = Local::now().naive_local();
    eprintln!("audit_dump: building {} audit rows…", fmt_count(rows));
    let started = Instant::now();
    let key = dir.join("public.pem");
    let db = match sigs {
        Signatures::Unverifiable => {
            std::fs::write(
                &key,
                include_str!("../../tests/fixtures/audit_verify/public.pem"),
            )
            .unwrap();
            template(dir, "audit", |c| {
                fill_audit(c, rows, t0).expect("fill audit");
            })
        }
        Signatures::FullCost => {
            let (private, public) = generate_audit_keys(2048).unwrap();
            let signer = AuditSigner::from_private_pem(&private).unwrap();
            std::fs::write(&key, public).unwrap();
            template(dir, "audit_signed", |c| {
                signed_audit::fill(c, rows as i64, &signer).expect("fill audit");
            })
        }
    };
    eprintln!("  built in {:.0} s", started.elapsed().as_secs_f64());
    let cfg = picfg(
        dir,
        &db,
        &format!("PI_AUDIT_KEY_PUBLIC = '{}'\n", key.display()),
    );
    let out = dir.join("dump.csv");
    let (mut base, mut ours, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        let conn = Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT * FROM pidea_audit ORDER BY date, id")
            .unwrap();
        let columns = stmt.column_count();
        let mut q = stmt.query([]).unwrap();
        let (mut n, mut len) = (0u64, 0usize);
        while let Some(r) = q.next().unwrap() {
            for i in 0..columns {
                if let rusqlite::types::ValueRef::Text(t) = r.get_ref(i).unwrap() {
                    len += t.len();
                }
            }
            n += 1;
        }
        drop(q);
        drop(stmt);
        conn.close().unwrap();
        base.push(started.elapsed().as_secs_f64());
        assert_eq!(n, rows, "baseline read every row ({len} bytes of text)");
        let (wall, rss_mb, text) = dump_once(bin, &cfg, &out, dir, rows);
        ours.push(wall);
        rss.push(rss_mb);
        bytes = text.len();
        if sigs == Signatures::FullCost {
            // id, date, sig_check, …: no value before the check has a comma.
            let ok = text
                .split(|b| *b == b'\n')
                .filter(|l| l.split(|b| *b == b',').nth(2) == Some(b"OK"))
                .count() as i64;
            assert_eq!(ok, signed_audit::POOL, "exactly the pool's rows verify");
        }
    }
    Line {
        scenario: match sigs {
            Signatures::Unverifiable => "audit dump",
            Signatures::FullCost => "audit dump, every signature checked",
        }
        .into(),
        rows,
        baseline: "`SELECT *` in dump order, every value read",
        baseline_s: median(&base),
        ours_s: median(&ours),
        rss_mb: rss.iter().cloned().fold(0.0, f64::max),
        note: runs_note(bytes, &ours, &base),
    }
}

/// One `pi-manage audit dump -f OUT` run: its wall time (s), peak RSS (MB) and the CSV, which
/// must have one line per row; the file is removed again.
fn dump_once(bin: &Path, cfg: &str, out: &Path, dir: &Path, rows: u64) -> (f64, f64, Vec<u8>) {
    let run = run_child(
        bin,
        &["--picfg", cfg, "audit", "dump", "-f", out.to_str().unwrap()],
        dir,
    );
    let text = std::fs::read(out).unwrap();
    std::fs::remove_file(out).unwrap();
    let lines = text.iter().filter(|b| **b == b'\n').count() as u64;
    assert_eq!(lines, rows, "the dump has one line per row");
    (run.wall.as_secs_f64(), run.max_rss_kb as f64 / 1024.0, text)
}

/// `audit_dump` on the server whose admin URL `var` names (`None` when it is not set).
fn audit_dump_on_server(
    bin: &Path,
    dir: &Path,
    rows: u64,
    repeat: usize,
    var: &str,
) -> Option<Line> {
    let t = server_db::server_target(var, "dump")?;
    let label = match t.backend {
        Backend::Postgres => "PostgreSQL",
        _ => "MariaDB",
    };
    let cfg = dir.join(format!("pi-{}.cfg", t.backend.name()));
    let key = dir.join("public.pem");
    std::fs::write(
        &key,
        include_str!("../../tests/fixtures/audit_verify/public.pem"),
    )
    .unwrap();
    std::fs::write(
        &cfg,
        format!(
            "SQLALCHEMY_DATABASE_URI = '{}'\nPI_AUDIT_KEY_PUBLIC = '{}'\n",
            t.url_text,
            key.display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let created = std::process::Command::new(bin)
        .args(["--picfg", &cfg, "--quiet", "setup", "create_tables"])
        .status()
        .unwrap();
    assert!(created.success(), "create_tables on {label}");
    eprintln!(
        "audit_dump ({label}): filling {} audit rows…",
        fmt_count(rows)
    );
    let started = Instant::now();
    {
        let mut c = pidb::open(&t.url, &OpenOptions::default()).expect("connect");
        server_db::fill(c.as_mut(), t.backend, rows);
        // An odd number of hex digits, as the SQLite rows have: rejected before any RSA
        // operation. Then fresh statistics, as a long-lived audit table has them.
        c.execute_batch(if t.backend == Backend::Postgres {
            "UPDATE pidea_audit SET signature = signature || '0'; ANALYZE pidea_audit"
        } else {
            "UPDATE pidea_audit SET signature = CONCAT(signature, '0'); ANALYZE TABLE pidea_audit"
        })
        .unwrap();
    }
    assert_eq!(server_db::count(&t.url), rows as i64);
    eprintln!("  filled in {:.0} s", started.elapsed().as_secs_f64());
    let (conn_args, env) = server_db::client_args(&t);
    let db_name = t.url.database.clone().unwrap();
    let select = "SELECT * FROM pidea_audit ORDER BY date, id";
    let baseline = match t.backend {
        Backend::Postgres => format!(
            "psql --quiet --no-psqlrc --set ON_ERROR_STOP=on {conn_args} --dbname {db_name} \
             -c 'COPY ({select}) TO STDOUT' > /dev/null"
        ),
        _ => format!("mariadb --quick --batch {conn_args} {db_name} -e '{select}' > /dev/null"),
    };
    let out = dir.join("dump.csv");
    let (mut base, mut ours, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        let status = std::process::Command::new("sh")
            .args(["-c", &baseline])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .status()
            .unwrap();
        assert!(status.success(), "baseline: {baseline}");
        base.push(started.elapsed().as_secs_f64());
        let (wall, rss_mb, text) = dump_once(bin, &cfg, &out, dir, rows);
        ours.push(wall);
        rss.push(rss_mb);
        bytes = text.len();
    }
    Some(Line {
        scenario: format!("audit dump ({label})"),
        rows,
        baseline: "the same `SELECT` through the server's client",
        baseline_s: median(&base),
        ours_s: median(&ours),
        rss_mb: rss.iter().cloned().fold(0.0, f64::max),
        note: runs_note(bytes, &ours, &base),
    })
}

/// Run times rounded to tenths of a second, for the notes under the table.
fn tenths(v: &[f64]) -> Vec<f64> {
    v.iter().map(|s| (s * 10.0).round() / 10.0).collect()
}

/// The CSV's size and every run's time, for the notes under the table.
fn runs_note(bytes: usize, ours: &[f64], base: &[f64]) -> String {
    format!(
        "CSV of {:.0} MB; runs: ours {:?} s, baseline {:?} s",
        bytes as f64 / 1e6,
        tenths(ours),
        tenths(base)
    )
}

/// This process's bytes sent to storage so far (`write_bytes` of `/proc/self/io`, the counter
/// behind a child's `ru_oublock`).
fn own_written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .expect("/proc/self/io")
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("write_bytes in /proc/self/io")
}

/// How the parents' timestamps lie over their ids.
#[derive(Clone, Copy, PartialEq)]
enum AuthlogOrder {
    /// Each parent a random timestamp in the history.
    Scattered,
    /// The same kind of timestamps, ascending with the id, as privacyIDEA writes the log.
    InTimeOrder,
}

fn fill_authlog(c: &Connection, rows: u64, now: NaiveDateTime, order: AuthlogOrder) {
    let mut rng = Rng(0xA07B_1096);
    let cutoff = now - TimeDelta::days(AUTHLOG_AGE);
    let span = (TimeDelta::days(AUTHLOG_DAYS) - GAP * 2).num_seconds() as u64;
    // In time order: the seconds back from now drawn up front, oldest (largest) first.
    let mut in_order: Vec<u64> = Vec::new();
    if order == AuthlogOrder::InTimeOrder {
        let mut draw = Rng(0x71AE_0DE2);
        in_order = (0..rows).map(|_| draw.below(span)).collect();
        in_order.sort_unstable_by(|a, b| b.cmp(a));
    }
    let mut parent = c
        .prepare(
            "INSERT INTO authentication_log (id, resolver, uid, realm, username, user_role, \
             event_type, timestamp, source_ip, endpoint) VALUES (?1, 'ldap', ?2, 'realm1', ?3, \
             'user', ?4, ?5, ?6, '/validate/check')",
        )
        .unwrap();
    let mut reason = c
        .prepare(
            "INSERT INTO authentication_log_reason (id, auth_log_id, reason) VALUES (?1, ?2, ?3)",
        )
        .unwrap();
    let mut outcome = c
        .prepare(
            "INSERT INTO conditional_access_outcome (id, auth_log_id, action_type, dry_run, \
             policy_name, threshold, event_count) VALUES (?1, ?2, 'block_ip', 0, 'p1', 5, ?3)",
        )
        .unwrap();
    let (mut rid, mut oid) = (0i64, 0i64);
    for id in 1..=rows as i64 {
        // Seconds back from now, skipping the gap around the cut-off.
        let mut back = match order {
            AuthlogOrder::Scattered => rng.below(span),
            AuthlogOrder::InTimeOrder => in_order[(id - 1) as usize],
        } as i64;
        let gap_start = (TimeDelta::days(AUTHLOG_AGE) - GAP).num_seconds();
        if back >= gap_start {
            back += 2 * GAP.num_seconds();
        }
        let ts = now - TimeDelta::seconds(back) - TimeDelta::minutes(1);
        debug_assert!((ts - cutoff).abs() >= GAP - TimeDelta::minutes(2));
        let user = rng.below(5000);
        parent
            .execute(params![
                id,
                format!("uid{user}"),
                format!("user{user}"),
                if rng.percent() < 80 {
                    "auth_success"
                } else {
                    "auth_failure"
                },
                ts.format(SQLITE_DT).to_string(),
                format!(
                    "10.{}.{}.{}",
                    rng.below(256),
                    rng.below(256),
                    rng.below(256)
                ),
            ])
            .unwrap();
        for _ in 0..(id % 3) {
            rid += 1;
            reason
                .execute(params![
                    rid,
                    id,
                    if rid % 2 == 0 {
                        "wrong_otp"
                    } else {
                        "wrong_pin"
                    }
                ])
                .unwrap();
        }
        if id % 2 == 0 {
            oid += 1;
            outcome
                .execute(params![oid, id, rng.below(10) as i64])
                .unwrap();
        }
    }
}

fn authlog_cleanup(
    bin: &Path,
    dir: &Path,
    rows: u64,
    repeat: usize,
    chunk: Option<u64>,
    order: AuthlogOrder,
) -> Line {
    let now = Utc::now().naive_utc();
    let name = match order {
        AuthlogOrder::Scattered => "authlog",
        AuthlogOrder::InTimeOrder => "authlog_in_time_order",
    };
    let db = dir.join(format!("{name}.sqlite"));
    if !db.exists() {
        eprintln!(
            "{name}: building {} parents with children…",
            fmt_count(rows)
        );
        let started = Instant::now();
        template(dir, name, |c| fill_authlog(c, rows, now, order));
        eprintln!("  built in {:.0} s", started.elapsed().as_secs_f64());
    }
    let cutoff = (Utc::now().naive_utc() - TimeDelta::days(AUTHLOG_AGE))
        .format(SQLITE_DT)
        .to_string();
    let tables = [
        "authentication_log",
        "authentication_log_reason",
        "conditional_access_outcome",
    ];
    let (mut base, mut ours, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut base_written, mut ours_written) = (Vec::new(), Vec::new());
    let mut deleted = 0;
    for _ in 0..repeat {
        let b = dir.join("authlog-baseline.sqlite");
        let o = dir.join("authlog-ours.sqlite");
        std::fs::copy(&db, &b).unwrap();
        std::fs::copy(&db, &o).unwrap();
        let written_before = own_written_bytes();
        let started = Instant::now();
        let conn = Connection::open(&b).unwrap();
        let sub = "SELECT id FROM authentication_log WHERE timestamp < ?1";
        conn.execute(
            &format!("DELETE FROM conditional_access_outcome WHERE auth_log_id IN ({sub})"),
            [&cutoff],
        )
        .unwrap();
        conn.execute(
            &format!("DELETE FROM authentication_log_reason WHERE auth_log_id IN ({sub})"),
            [&cutoff],
        )
        .unwrap();
        deleted = conn
            .execute(
                "DELETE FROM authentication_log WHERE timestamp < ?1",
                [&cutoff],
            )
            .unwrap();
        conn.close().unwrap();
        base.push(started.elapsed().as_secs_f64());
        base_written.push((own_written_bytes() - written_before) as f64);
        let cfg = picfg(dir, &o, "");
        let age = AUTHLOG_AGE.to_string();
        let chunk_s = chunk.map(|c| c.to_string());
        let mut args = vec!["--picfg", &cfg, "authlog", "cleanup", "--age", &age];
        if let Some(c) = &chunk_s {
            args.extend(["--chunksize", c]);
        }
        let run = run_child(bin, &args, dir);
        ours.push(run.wall.as_secs_f64());
        rss.push(run.max_rss_kb as f64 / 1024.0);
        ours_written.push(run.written_bytes as f64);
        for t in tables {
            assert_eq!(fingerprint(&b, t), fingerprint(&o, t), "{t} differs");
        }
    }
    let in_order = match order {
        AuthlogOrder::Scattered => "",
        AuthlogOrder::InTimeOrder => ", ids in time order",
    };
    Line {
        scenario: match chunk {
            Some(c) => format!("authlog cleanup --chunksize {c}{in_order}"),
            None => format!("authlog cleanup{in_order}"),
        },
        rows,
        baseline: "the 3 raw `DELETE`s (outcomes, reasons, parents)",
        baseline_s: median(&base),
        ours_s: median(&ours),
        rss_mb: rss.iter().cloned().fold(0.0, f64::max),
        note: format!(
            "{} parents deleted (with their children); runs: ours {:?} s, baseline {:?} s; \
             written to storage (median): ours {:.2} GB, baseline {:.2} GB",
            fmt_count(deleted as u64),
            tenths(&ours),
            tenths(&base),
            median(&ours_written) / 1e9,
            median(&base_written) / 1e9
        ),
    }
}

/// Run the scenarios `--only` names, from a private copy of this build's optimised binary,
/// and print their Markdown table.
pub fn run(argv: &[String]) {
    let original = PathBuf::from(env!("CARGO_BIN_EXE_pi-manage"));
    assert!(
        !cfg!(debug_assertions) && original.components().any(|c| c.as_os_str() == "release"),
        "run through `cargo bench` so the binary is built with the optimised bench profile"
    );
    let tmp = tempfile::Builder::new()
        .prefix("pi-manage-bench-")
        .tempdir()
        .expect("temp dir");
    let dir = tmp.path();
    let bin = dir.join("pi-manage");
    std::fs::copy(&original, &bin).expect("copy pi-manage binary");
    let bin = bin.as_path();
    let a = parse(argv);
    let load_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut lines = Vec::new();
    if a.only.iter().any(|s| s == "audit_dump") {
        lines.push(audit_dump(
            bin,
            dir,
            a.rows,
            a.repeat,
            Signatures::Unverifiable,
        ));
        for var in ["PIM_TEST_POSTGRES_URL", "PIM_TEST_MYSQL_URL"] {
            lines.extend(audit_dump_on_server(bin, dir, a.rows, a.repeat, var));
        }
    }
    if a.only.iter().any(|s| s == "audit_dump_signed") {
        lines.push(audit_dump(bin, dir, a.rows, a.repeat, Signatures::FullCost));
    }
    for (scenario, order) in [
        ("authlog_cleanup", AuthlogOrder::Scattered),
        ("authlog_cleanup_in_time_order", AuthlogOrder::InTimeOrder),
    ] {
        if a.only.iter().any(|s| s == scenario) {
            for &chunk in &a.authlog_chunks {
                lines.push(authlog_cleanup(bin, dir, a.rows, a.repeat, chunk, order));
            }
        }
    }
    let load_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "`cargo bench --bench maintenance -- --only {} --rows {} --repeat {}` (SQLite unless named)\n",
        a.only.join(","),
        a.rows,
        a.repeat
    );
    println!("| scenario | rows | baseline | baseline s | pi-manage s | ratio | peak RSS MB |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    for l in &lines {
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} |",
            l.scenario,
            fmt_count(l.rows),
            l.baseline,
            l.baseline_s,
            l.ours_s,
            l.ours_s / l.baseline_s,
            l.rss_mb
        );
    }
    println!();
    for (k, v) in machine_facts(dir) {
        println!("* {k}: {v}");
    }
    let three = |s: &str| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    println!(
        "* load average (1/5/15 min) at start: {}; at end: {}",
        three(&load_start),
        three(&load_end)
    );
    for l in &lines {
        println!("* {}: {}", l.scenario, l.note);
    }
}
