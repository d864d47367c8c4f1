//! Maintenance benchmark: `pi-manage` against the raw SQL its tasks issue (DESIGN.md §6,
//! docs/benchmarks.md).
//!
//! ```text
//! cargo bench --bench maintenance -- [--audit-rows N] [--challenge-rows N] [--only NAME[,NAME…]] [--repeat K] [--save-template PATH] [--server postgres|mysql | --database-url URL]
//! ```
//!
//! Builds one privacyIDEA-shaped SQLite database (schema `src/db/ddl/sqlite_full.sql`, a
//! `pidea_audit` of N rows over the last 400 days and a `challenge` table of M rows), then for
//! every scenario copies it twice and runs, in the same process and one after the other:
//!
//! * the **baseline**: the plain SQL that does the same work, through rusqlite in this process
//!   (open the file, one statement, commit, close), and
//! * **ours**: the `pi-manage` binary of this build, as a child process with a `pi.cfg` that
//!   points at the second copy, timed end to end (spawn to exit); its peak RSS comes from
//!   `wait4(2)`, spawned from a small helper process (see [`measure_child_main`]).
//!
//! Both copies must end with the same rows (count and sum of ids), or the benchmark stops
//! instead of reporting numbers for runs that did different work. Each scenario runs
//! `--repeat` times (default 3) on fresh copies, baseline first; the table shows medians. The
//! result is a Markdown table on stdout; progress goes to stderr.

// Test and benchmark programs print their own results (the program itself never does; see
// clippy.toml).
#![allow(clippy::disallowed_macros)]

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Local, NaiveDateTime, TimeDelta, Utc};
use rusqlite::{params, Connection};

/// `--only audit_dump,authlog_cleanup`: issue 11's scenarios, in a file of their own.
#[path = "maintenance/dump_authlog.rs"]
mod dump_authlog;

/// privacyIDEA's SQLite schema, as `pi-manage setup create_tables` creates it.
const SCHEMA: &str = include_str!("../src/db/ddl/sqlite_full.sql");
/// SQLAlchemy's text form of DATETIME in SQLite.
const SQLITE_DT: &str = "%Y-%m-%d %H:%M:%S%.6f";
/// No audit row is dated within this long after a rotation cut-off of the build time (and no
/// challenge expires within this long after the build), so baseline and pi-manage, which read
/// "now" a few seconds apart, select exactly the same rows as long as the whole benchmark
/// finishes within this time of the build.
const GAP: TimeDelta = TimeDelta::hours(2);
/// The ages (days) the audit scenarios rotate by: `--age 200` and the three rules.
const CUTOFF_DAYS: [i64; 3] = [200, 90, 30];
/// Audit history spread.
const HISTORY_DAYS: i64 = 400;
const RULES_YAML: &str =
    "- rotate: 30\n  user: nagiosuser\n- rotate: 90\n  action: ^GET /token\n- rotate: 200\n  action: .*\n";
/// The same rules as one plain SQL statement: the first rule that matches decides the cut-off.
const RULES_SQL: &str = "DELETE FROM pidea_audit WHERE date < CASE \
     WHEN \"user\" = 'nagiosuser' THEN ?1 \
     WHEN action GLOB 'GET /token*' THEN ?2 \
     ELSE ?3 END";

const SCENARIOS: [&str; 7] = [
    "watermark",
    "age",
    "age_chunked",
    "rules",
    "rules_chunked",
    "challenge",
    "version",
];

struct Args {
    audit_rows: u64,
    challenge_rows: u64,
    only: Option<Vec<String>>,
    repeat: usize,
    save_template: Option<PathBuf>,
    /// `--server` / `--database-url`: the server and its admin URL.
    server: Option<(Server, String)>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench maintenance -- [--audit-rows N (default 1000000)] \
         [--challenge-rows N (default 100000)] [--only NAME[,NAME…]] [--repeat K (default 3)] [--save-template PATH] \
         [--server postgres|mysql | --database-url URL]\n\
         scenarios: {}",
        SCENARIOS.join(", ")
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        audit_rows: 1_000_000,
        challenge_rows: 100_000,
        only: None,
        repeat: 3,
        save_template: None,
        server: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .unwrap_or_else(|| usage())
        };
        match key.as_str() {
            // cargo passes --bench to harness = false targets.
            "--bench" => {}
            "--audit-rows" => a.audit_rows = value().parse().unwrap_or_else(|_| usage()),
            "--challenge-rows" => a.challenge_rows = value().parse().unwrap_or_else(|_| usage()),
            "--repeat" => a.repeat = value().parse().unwrap_or_else(|_| usage()),
            "--save-template" => a.save_template = Some(PathBuf::from(value())),
            "--server" => {
                let s = Server::parse(&value()).unwrap_or_else(|| usage());
                a.server = Some((s, s.default_admin_url().to_string()));
            }
            "--database-url" => {
                let url = value();
                let scheme = url.split([':', '+']).next().unwrap_or_default();
                let s = Server::parse(scheme).unwrap_or_else(|| usage());
                a.server = Some((s, url));
            }
            "--only" => {
                let names: Vec<String> = value().split(',').map(|s| s.trim().to_string()).collect();
                if let Some(bad) = names.iter().find(|n| !SCENARIOS.contains(&n.as_str())) {
                    eprintln!("unknown scenario '{bad}'");
                    usage();
                }
                a.only = Some(names);
            }
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument '{other}'");
                usage();
            }
        }
    }
    if a.repeat == 0 {
        usage();
    }
    a
}

// ---------------------------------------------------------------------------------------------
// Data

/// SplitMix64: deterministic, fast, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn percent(&mut self) -> u64 {
        self.below(100)
    }
    fn hex(&mut self, out: &mut String, len: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut left = len;
        while left > 0 {
            let mut r = self.next();
            for _ in 0..left.min(16) {
                out.push(HEX[(r & 15) as usize] as char);
                r >>= 4;
            }
            left -= left.min(16);
        }
    }
}

fn fmt_dt(dt: &NaiveDateTime) -> String {
    dt.format(SQLITE_DT).to_string()
}

/// ~2000 user names: `nagiosuser`, `admin`, `helpdesk` and `first.last` combinations.
fn user_pool() -> Vec<String> {
    const FIRST: &str = "anna ben clara david eva felix greta hans ida jonas karin lukas maria \
         niklas olga paul quirin rosa stefan tina";
    const LAST: &str =
        "mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann koch \
         richter klein wolf schroeder neumann schwarz braun hofmann zimmermann schmitt \
         hartmann krueger werner lange schmitz krause meier lehmann huber mayer herrmann \
         koehler walter koenig schulze fuchs kaiser lang weiss peters scholz jung moeller \
         hahn keller vogel schubert roth frank friedrich beck guenther berger winkler lorenz \
         baumann schuster kraus boehm simon franke albrecht winter ludwig martin kraemer \
         schumacher vogt jaeger otto sommer stein gross seidel heinrich brandt haas schreiber \
         graf dietrich ziegler kuhn pohl engel horn busch bergmann thomas voigt sauer arnold \
         wolff pfeiffer ernst fink kuehn lindner kurz marx";
    let mut users = vec!["nagiosuser".into(), "admin".into(), "helpdesk".into()];
    'outer: for l in LAST.split_whitespace() {
        for f in FIRST.split_whitespace() {
            if users.len() >= 2000 {
                break 'outer;
            }
            users.push(format!("{f}.{l}"));
        }
    }
    users
}

/// A token serial of a user, like privacyIDEA's (`OATH0001A2B3`, `TOTP…`, `PIPU…`).
fn serial_of(user_index: usize) -> (String, &'static str) {
    let (prefix, ttype) = match user_index % 10 {
        0..=5 => ("OATH", "hotp"),
        6..=8 => ("TOTP", "totp"),
        _ => ("PIPU", "push"),
    };
    let h = (user_index as u64).wrapping_mul(0x9E37_79B1) & 0xFFFF_FFFF;
    (format!("{prefix}{h:08X}"), ttype)
}

/// Fill `pidea_audit` with `n` rows; returns the number inserted.
fn fill_audit(conn: &Connection, n: u64, t0: NaiveDateTime) -> rusqlite::Result<u64> {
    let users = user_pool();
    let start = t0 - TimeDelta::days(HISTORY_DAYS);
    let mut gaps: Vec<NaiveDateTime> = CUTOFF_DAYS
        .iter()
        .map(|d| t0 - TimeDelta::days(*d))
        .collect();
    gaps.sort();
    let gap_us = GAP.num_microseconds().unwrap() as i128;
    // The timeline without the gaps, and a minute of margin before t0.
    let span_us =
        (t0 - start).num_microseconds().unwrap() as i128 - gaps.len() as i128 * gap_us - 60_000_000;
    let mut rng = Rng(0x5EED_A0D1);
    let mut stmt = conn.prepare(
        "INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, \
         authentication, serial, token_type, container_serial, container_type, user, realm, \
         resolver, administrator, action_detail, info, privacyidea_server, client, user_agent, \
         user_agent_version, loglevel, clearance_level, thread_id, policies) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
    )?;
    let mut id: i64 = 0;
    let mut signature = String::with_capacity(600);
    let epoch = chrono::DateTime::UNIX_EPOCH.naive_utc();
    for i in 0..n {
        id += 1;
        if id % 997 == 0 {
            id += 1; // privacyIDEA's ids have gaps (rolled-back transactions, deletes).
        }
        let mut date =
            start + TimeDelta::microseconds((span_us * i as i128 / n.max(1) as i128) as i64);
        for g in &gaps {
            if date >= *g {
                date += GAP;
            }
        }
        let took = TimeDelta::microseconds(5_000 + rng.below(800_000) as i64);
        let startdate = date - took;
        let duration = epoch + took;
        signature.clear();
        signature.push_str("rsa_sha256_pss:");
        let rest = 600 - signature.len();
        rng.hex(&mut signature, rest);

        let ui = rng.below(users.len() as u64) as usize;
        let (user_serial, user_ttype) = serial_of(ui);
        let user_realm = if ui.is_multiple_of(7) {
            "partners"
        } else {
            "company"
        };
        let user_resolver = if ui.is_multiple_of(7) {
            "partners_ldap"
        } else {
            "corp_ldap"
        };
        let ok = rng.percent() < 92;
        // Columns an admin request leaves empty stay at these defaults.
        let (mut user, mut realm, mut resolver, mut admin) = ("", "", "", "");
        let (mut serial, mut ttype, mut info) = (String::new(), "", "");
        let action = match rng.percent() {
            0..=69 => {
                // One authentication in ten is the monitoring check.
                if rng.percent() < 10 {
                    (user, realm, resolver) = ("nagiosuser", "company", "corp_ldap");
                    (serial, ttype) = ("OATH0000NAG1".into(), "hotp");
                } else {
                    (user, realm, resolver) = (users[ui].as_str(), user_realm, user_resolver);
                    (serial, ttype) = (user_serial, user_ttype);
                }
                info = if ok {
                    "matching 1 tokens"
                } else {
                    "wrong otp value"
                };
                "POST /validate/check".to_string()
            }
            70..=81 => {
                admin = "admin";
                "GET /token/".to_string()
            }
            82..=87 => {
                (user, realm) = if rng.percent() < 70 {
                    ("admin", "")
                } else {
                    (users[ui].as_str(), user_realm)
                };
                info = if ok { "" } else { "Wrong credentials" };
                "POST /auth".to_string()
            }
            p => {
                (user, realm, resolver, admin) =
                    (users[ui].as_str(), user_realm, user_resolver, "admin");
                (serial, ttype) = (user_serial, user_ttype);
                if p < 94 {
                    "POST /token/init".to_string()
                } else {
                    format!("DELETE /token/{serial}")
                }
            }
        };
        let server = if i % 2 == 0 {
            "pi1.example.com"
        } else {
            "pi2.example.com"
        };
        let client = format!(
            "10.{}.{}.{}",
            rng.below(4),
            rng.below(256),
            1 + rng.below(254)
        );
        let policies = match rng.percent() {
            0..=59 => "",
            60..=89 => "auth-otppin",
            _ => "auth-otppin,webui-login",
        };
        let thread_id = format!("{}", 139_900_000_000_000u64 + rng.below(100_000_000_000));
        let authentication = if action == "POST /validate/check" {
            if ok {
                "ACCEPT"
            } else {
                "REJECT"
            }
        } else {
            ""
        };
        stmt.execute(params![
            id,
            fmt_dt(&date),
            fmt_dt(&startdate),
            fmt_dt(&duration),
            signature,
            action,
            ok as i64,
            authentication,
            serial,
            ttype,
            "",
            "",
            user,
            realm,
            resolver,
            admin,
            "",
            info,
            server,
            client,
            "privacyidea-cp",
            "2.0",
            "INFO",
            "default",
            thread_id,
            policies,
        ])?;
    }
    Ok(n)
}

/// Fill `challenge` with `m` rows over the last two days (naive UTC). 90% carry privacyIDEA's
/// default validity of 120 s and have expired; 10% have a long validity (e-mail, SMS,
/// enrollment) and expire after the benchmark.
fn fill_challenge(conn: &Connection, m: u64, t0_utc: NaiveDateTime) -> rusqlite::Result<u64> {
    let mut rng = Rng(0xC4A1_1E46);
    let mut stmt = conn.prepare(
        "INSERT INTO challenge (id, transaction_id, data, challenge, \"session\", serial, \
         timestamp, expiration, received_count, otp_valid) \
         VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, 0, 0)",
    )?;
    let two_days = TimeDelta::days(2).num_microseconds().unwrap() as u64;
    let mut data = String::with_capacity(64);
    for i in 0..m {
        let expired = rng.percent() < 90;
        let (ts, exp) = if expired {
            // Expired before t0: timestamp in [t0 - 2d, t0 - 121 s).
            let ts = t0_utc - TimeDelta::days(2)
                + TimeDelta::microseconds(rng.below(two_days - 121_000_000) as i64);
            (ts, ts + TimeDelta::seconds(120))
        } else {
            let ts = t0_utc - TimeDelta::microseconds(rng.below(two_days) as i64);
            let exp = t0_utc + GAP + TimeDelta::microseconds(rng.below(two_days) as i64);
            (ts, exp)
        };
        let txid = format!(
            "{:010}{:010}",
            rng.below(10_000_000_000),
            rng.below(10_000_000_000)
        );
        data.clear();
        rng.hex(&mut data, 64);
        let (serial, ttype) = serial_of(rng.below(2000) as usize);
        let challenge = if ttype == "push" {
            "Please confirm the authentication on your mobile device!"
        } else {
            ""
        };
        stmt.execute(params![
            i as i64 + 1,
            txid,
            data,
            challenge,
            serial,
            fmt_dt(&ts),
            fmt_dt(&exp)
        ])?;
    }
    Ok(m)
}

fn build_template(
    path: &Path,
    audit_rows: u64,
    challenge_rows: u64,
    t0_local: NaiveDateTime,
    t0_utc: NaiveDateTime,
) -> rusqlite::Result<()> {
    let mut conn = Connection::open(path)?;
    // Build only: journal_mode=OFF is not persistent, so the copies use SQLite's defaults.
    conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")?;
    conn.execute_batch(SCHEMA)?;
    let tx = conn.transaction()?;
    fill_audit(&tx, audit_rows, t0_local)?;
    fill_challenge(&tx, challenge_rows, t0_utc)?;
    tx.commit()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// The chunked delete as pi-manage issues it on SQLite (src/db/dialect.rs), run raw: each
/// chunk `DELETE … WHERE id IN (SELECT id … WHERE filter LIMIT n)` in its own transaction.
fn raw_chunks(path: &Path, plain_delete: &str, params: &[String], limit: u64) -> Duration {
    let filter = plain_delete
        .split_once(" WHERE ")
        .map(|(_, f)| f)
        .expect("plain DELETE … WHERE");
    let table = plain_delete
        .strip_prefix("DELETE FROM ")
        .and_then(|r| r.split_whitespace().next())
        .expect("DELETE FROM table");
    let sql = format!(
        "DELETE FROM \"{table}\" WHERE \"id\" IN (SELECT \"id\" FROM \"{table}\" WHERE {filter} LIMIT {limit})"
    );
    let started = Instant::now();
    let conn = Connection::open(path).expect("open chunk copy");
    loop {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let n = conn
            .execute(&sql, rusqlite::params_from_iter(params.iter()))
            .expect("chunk statement") as u64;
        conn.execute_batch("COMMIT").unwrap();
        if n < limit {
            break;
        }
    }
    conn.close().expect("close");
    started.elapsed()
}

/// Rows of a table and the sum of their ids: two copies that did the same work agree on both.
fn fingerprint(path: &Path, table: &str) -> (u64, i64) {
    let conn = Connection::open(path).expect("open copy");
    conn.query_row(
        &format!("SELECT count(*), coalesce(sum(id), 0) FROM {table}"),
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?)),
    )
    .expect("count rows")
}

/// Run the baseline: open the file, run the statement (autocommit: its own transaction), close.
fn baseline(path: &Path, sql: &str, params: &[String]) -> (Duration, u64) {
    let started = Instant::now();
    let conn = Connection::open(path).expect("open baseline copy");
    let n = conn
        .execute(sql, rusqlite::params_from_iter(params.iter()))
        .expect("baseline statement");
    conn.close().expect("close");
    (started.elapsed(), n as u64)
}

struct ChildRun {
    wall: Duration,
    max_rss_kb: i64,
    /// Bytes the child sent to storage (`ru_oublock`, the kernel's `write_bytes` / 512, as
    /// `/usr/bin/time` reports it).
    written_bytes: u64,
    stdout: String,
}

/// Spawn `bin args…`, wait for it with `wait4`, and return (wall time, its own peak RSS in
/// KiB, its `ru_oublock` in 512-byte blocks, wait status).
fn spawn_and_wait(bin: &Path, args: &[String]) -> (Duration, i64, i64, libc::c_int) {
    let started = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn pi-manage");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            panic!("wait4: {e}");
        }
    }
    let wall = started.elapsed();
    // Reaped by wait4 already; dropping the handle does not wait again.
    drop(child);
    (wall, ru.ru_maxrss, ru.ru_oublock, status)
}

/// `maintenance --measure-child RESULT BIN ARGS…`: the helper [`run_child`] starts. Linux
/// starts an exec'd child's `ru_maxrss` at the peak RSS of the process that spawned it, so
/// pi-manage is spawned from this small, fresh process rather than from the benchmark (whose
/// peak includes building the data); the helper's own few MB are a floor below pi-manage's.
fn measure_child_main(args: &[String]) -> ! {
    let [result, bin, rest @ ..] = args else {
        eprintln!("usage: maintenance --measure-child RESULT BIN ARGS…");
        std::process::exit(2);
    };
    let (wall, rss, blocks, status) = spawn_and_wait(Path::new(bin), rest);
    std::fs::write(
        result,
        format!("{} {rss} {blocks} {status}\n", wall.as_nanos()),
    )
    .expect("write result");
    std::process::exit(0);
}

/// Run `bin args…` through the measuring helper, stdout/stderr into files: wall-clock time
/// from spawn to exit, and the peak RSS of pi-manage alone.
fn run_child(bin: &Path, args: &[&str], scratch: &Path) -> ChildRun {
    let out_path = scratch.join("child.stdout");
    let err_path = scratch.join("child.stderr");
    let result_path = scratch.join("child.result");
    let _ = std::fs::remove_file(&result_path);
    let me = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(me);
    cmd.arg("--measure-child")
        .arg(&result_path)
        .arg(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PRIVACYIDEA_") || k == "DATABASE_URL" || k.starts_with("PI_") {
            cmd.env_remove(k);
        }
    }
    let helper = cmd.status().expect("run measuring helper");
    assert!(helper.success(), "measuring helper failed: {helper}");
    let result = std::fs::read_to_string(&result_path).expect("helper result");
    let mut f = result.split_whitespace().map(|x| x.parse::<i64>().unwrap());
    let (wall_ns, max_rss_kb, blocks, status) = (
        f.next().unwrap(),
        f.next().unwrap(),
        f.next().unwrap(),
        f.next().unwrap() as libc::c_int,
    );
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        panic!(
            "pi-manage {} failed (wait status {status}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            args.join(" ")
        );
    }
    ChildRun {
        wall: Duration::from_nanos(wall_ns as u64),
        max_rss_kb,
        written_bytes: blocks as u64 * 512,
        stdout,
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

struct Row {
    scenario: String,
    rows_before: Option<u64>,
    rows_deleted: Option<u64>,
    baseline_s: Option<f64>,
    ours_s: f64,
    peak_rss_mb: f64,
    /// What else was measured (all runs when repeated, the raw chunk loop).
    notes: Vec<String>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.baseline_s.map(|b| self.ours_s / b)
    }
}

struct Bench {
    bin: PathBuf,
    dir: PathBuf,
    template: PathBuf,
    t0_local: NaiveDateTime,
    repeat: usize,
}

enum Baseline {
    /// `now_local - days` in SQLAlchemy text.
    AuditAge(i64),
    Watermark(u64),
    Rules,
    ChallengeExpired,
}

impl Bench {
    fn check_clock(&self) {
        let drift = Local::now().naive_local() - self.t0_local;
        assert!(
            drift < GAP,
            "the benchmark ran longer than {GAP} after building its data; cut-offs would no \
             longer fall into the empty windows and the two runs could select different rows"
        );
    }

    fn baseline_sql(&self, b: &Baseline) -> (String, Vec<String>) {
        match b {
            Baseline::AuditAge(days) => (
                "DELETE FROM pidea_audit WHERE date < ?1".into(),
                vec![fmt_dt(
                    &(Local::now().naive_local() - TimeDelta::days(*days)),
                )],
            ),
            Baseline::Watermark(low) => (
                "DELETE FROM pidea_audit WHERE id < \
                 (SELECT id FROM pidea_audit ORDER BY id DESC LIMIT 1 OFFSET ?1)"
                    .into(),
                vec![(low - 1).to_string()],
            ),
            Baseline::Rules => {
                let now = Local::now().naive_local();
                (
                    RULES_SQL.into(),
                    [30, 90, 200]
                        .iter()
                        .map(|d| fmt_dt(&(now - TimeDelta::days(*d))))
                        .collect(),
                )
            }
            Baseline::ChallengeExpired => (
                "DELETE FROM challenge WHERE expiration < ?1".into(),
                vec![fmt_dt(&Utc::now().naive_utc())],
            ),
        }
    }

    /// Measure one scenario. With `chunk_reference`, also time the chunk statements pi-manage
    /// issues, run raw through rusqlite on a third copy (a diagnostic, not the baseline).
    fn scenario(
        &self,
        name: &str,
        table: &str,
        base: Baseline,
        args: &[&str],
        chunk_reference: Option<u64>,
    ) -> Row {
        let a = self.dir.join("baseline.sqlite");
        let b = self.dir.join("pimanage.sqlite");
        let c = self.dir.join("chunks.sqlite");
        let cfg = self.dir.join("pi.cfg");
        std::fs::write(
            &cfg,
            format!(
                "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\nSECRET_KEY = 'benchmark'\nPI_PEPPER = 'benchmark'\n",
                b.display()
            ),
        )
        .unwrap();
        let cfg_s = cfg.display().to_string();
        let mut full: Vec<&str> = vec!["--picfg", &cfg_s];
        full.extend_from_slice(args);
        let (before, _) = fingerprint(&self.template, table);
        let (mut tb, mut to, mut tc, mut rss) = (Vec::new(), Vec::new(), Vec::new(), 0i64);
        let mut deleted = None;
        let mut last_stdout = String::new();
        for rep in 0..self.repeat {
            self.check_clock();
            // Fresh copies, flushed to disk, so neither run pays for the other's writeback.
            let copies: &[&PathBuf] = if chunk_reference.is_some() && rep == 0 {
                &[&a, &b, &c]
            } else {
                &[&a, &b]
            };
            for copy in copies {
                std::fs::copy(&self.template, copy).expect("copy template");
                File::open(copy)
                    .and_then(|f| f.sync_all())
                    .expect("sync copy");
            }
            let (sql, params) = self.baseline_sql(&base);
            let (t_base, n_base) = baseline(&a, &sql, &params);
            let run = run_child(&self.bin, &full, &self.dir);
            let fa = fingerprint(&a, table);
            let fb = fingerprint(&b, table);
            assert_eq!(
                fa, fb,
                "{name}: baseline and pi-manage left different rows (count, sum of ids): \
                 refusing to report numbers for runs that did different work"
            );
            if let Some(limit) = chunk_reference.filter(|_| rep == 0) {
                let (sql, params) = self.baseline_sql(&base);
                let t = raw_chunks(&c, &sql, &params, limit);
                assert_eq!(
                    fingerprint(&c, table),
                    fa,
                    "{name}: raw chunk loop did other work"
                );
                eprintln!(
                    "  {name} #{}: the same chunk statements raw: {:.3} s",
                    rep + 1,
                    t.as_secs_f64()
                );
                tc.push(t.as_secs_f64());
            }
            let d = before - fa.0;
            assert_eq!(d, n_base, "{name}: baseline statement count");
            assert!(
                d > 0,
                "{name}: nothing was deleted; the scenario measures nothing"
            );
            if let Some(prev) = deleted {
                assert_eq!(prev, d, "{name}: repetitions deleted different row counts");
            }
            deleted = Some(d);
            eprintln!(
                "  {name} #{}: baseline {:.3} s, pi-manage {:.3} s, {} rows deleted, peak RSS {:.1} MB",
                rep + 1,
                t_base.as_secs_f64(),
                run.wall.as_secs_f64(),
                d,
                run.max_rss_kb as f64 / 1024.0
            );
            tb.push(t_base.as_secs_f64());
            to.push(run.wall.as_secs_f64());
            rss = rss.max(run.max_rss_kb);
            last_stdout = run.stdout;
        }
        let _ = std::fs::remove_file(&a);
        let _ = std::fs::remove_file(&b);
        let _ = std::fs::remove_file(&c);
        let mut notes = Vec::new();
        if self.repeat > 1 {
            notes.push(format!("runs: baseline {tb:.3?}, pi-manage {to:.3?}"));
        }
        if !tc.is_empty() {
            let m = median(&tc);
            notes.push(format!(
                "the chunk statements pi-manage issues, run raw through rusqlite \
                 (`BEGIN IMMEDIATE`, one chunk, `COMMIT`, repeated): {m:.3} s, \
                 so pi-manage / raw chunk loop = {:.2}×{}",
                median(&to) / m,
                if tc.len() > 1 {
                    format!(" (runs {tc:.3?})")
                } else {
                    String::new()
                }
            ));
        }
        eprintln!(
            "  pi-manage said: {}",
            last_stdout.trim().replace('\n', " | ")
        );
        Row {
            scenario: name.into(),
            rows_before: Some(before),
            rows_deleted: deleted,
            baseline_s: Some(median(&tb)),
            ours_s: median(&to),
            peak_rss_mb: rss as f64 / 1024.0,
            notes,
        }
    }

    fn version(&self) -> Row {
        let mut times = Vec::new();
        let mut rss = 0;
        // One warm-up run (page cache), then 20 measured.
        run_child(&self.bin, &["--version"], &self.dir);
        for _ in 0..20 {
            let r = run_child(&self.bin, &["--version"], &self.dir);
            times.push(r.wall.as_secs_f64());
            rss = rss.max(r.max_rss_kb);
        }
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        eprintln!(
            "  version: median {:.2} ms, min {:.2} ms, max {:.2} ms",
            median(&times) * 1e3,
            sorted[0] * 1e3,
            sorted[sorted.len() - 1] * 1e3
        );
        Row {
            scenario: "version".into(),
            rows_before: None,
            rows_deleted: None,
            baseline_s: None,
            ours_s: median(&times),
            peak_rss_mb: rss as f64 / 1024.0,
            notes: vec![format!(
                "median of 20 runs (min {:.2} ms, max {:.2} ms)",
                sorted[0] * 1e3,
                sorted[sorted.len() - 1] * 1e3
            )],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL and MariaDB

/// A database server measured instead of SQLite (`--server`, `--database-url`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Postgres,
    Mysql,
}

impl Server {
    fn parse(s: &str) -> Option<Server> {
        match s {
            "postgres" | "postgresql" => Some(Server::Postgres),
            "mysql" | "mariadb" => Some(Server::Mysql),
            _ => None,
        }
    }

    fn default_admin_url(self) -> &'static str {
        match self {
            Server::Postgres => "postgresql://postgres@127.0.0.1:5432/postgres",
            Server::Mysql => "mysql+pymysql://root@127.0.0.1:3306/test",
        }
    }

    /// privacyIDEA's DDL for this server, as `pi-manage setup create_tables` issues it.
    fn ddl(self) -> &'static str {
        match self {
            Server::Postgres => include_str!("../src/db/ddl/postgres.sql"),
            Server::Mysql => include_str!("../src/db/ddl/mariadb.sql"),
        }
    }

    fn quote_ident(self, name: &str) -> String {
        match self {
            Server::Postgres => format!("\"{name}\""),
            Server::Mysql => format!("`{name}`"),
        }
    }

    /// A string literal; MariaDB also treats backslashes as escapes.
    fn quote_text(self, s: &str, out: &mut String) {
        out.push('\'');
        for c in s.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' if self == Server::Mysql => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        out.push('\'');
    }

    fn drop_database(self, name: &str) -> String {
        match self {
            Server::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            Server::Mysql => format!("DROP DATABASE IF EXISTS {name}"),
        }
    }
}

/// The admin URL with its database replaced by `db`.
fn url_with_db(admin_url: &str, db: &str) -> String {
    let (base, rest) = admin_url
        .rsplit_once('/')
        .expect("URL with a database path");
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}"));
    format!("{base}/{db}{}", query.unwrap_or_default())
}

fn server_open(url: &str) -> Box<dyn pi_manage::db::Connection> {
    let parsed = pi_manage::dburl::DbUrl::parse(url).expect("database URL");
    pi_manage::db::open(&parsed, &pi_manage::db::OpenOptions::default())
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// The databases a server run creates; all are dropped when this goes out of scope, also
/// when the benchmark panics.
struct ServerDbs {
    server: Server,
    admin_url: String,
    prefix: String,
}

impl ServerDbs {
    fn name(&self, what: &str) -> String {
        format!("{}_{what}", self.prefix)
    }
    fn url(&self, what: &str) -> String {
        url_with_db(&self.admin_url, &self.name(what))
    }
    fn admin(&self, sql: &str) {
        server_open(&self.admin_url)
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    fn drop_db(&self, what: &str) {
        self.admin(&self.server.drop_database(&self.name(what)));
    }
}

impl Drop for ServerDbs {
    fn drop(&mut self) {
        for what in ["tmpl", "base", "ours", "chunks"] {
            let sql = self.server.drop_database(&self.name(what));
            let dropped = pi_manage::dburl::DbUrl::parse(&self.admin_url)
                .ok()
                .and_then(|u| pi_manage::db::open(&u, &Default::default()).ok())
                .map(|mut c| c.execute_batch(&sql));
            if !matches!(dropped, Some(Ok(()))) {
                eprintln!("warning: could not run {sql}");
            }
        }
    }
}

const AUDIT_COLUMNS: [&str; 26] = [
    "id",
    "date",
    "startdate",
    "duration",
    "signature",
    "action",
    "success",
    "authentication",
    "serial",
    "token_type",
    "container_serial",
    "container_type",
    "user",
    "realm",
    "resolver",
    "administrator",
    "action_detail",
    "info",
    "privacyidea_server",
    "client",
    "user_agent",
    "user_agent_version",
    "loglevel",
    "clearance_level",
    "thread_id",
    "policies",
];
const CHALLENGE_COLUMNS: [&str; 10] = [
    "id",
    "transaction_id",
    "data",
    "challenge",
    "session",
    "serial",
    "timestamp",
    "expiration",
    "received_count",
    "otp_valid",
];

/// Copy one table of the SQLite template into the server, in multi-row INSERTs of 1000 rows
/// inside one transaction. The rows are exactly the SQLite template's; only `duration` (an
/// INTERVAL on PostgreSQL) and `otp_valid` (a BOOLEAN there) change their notation.
fn load_table(
    server: Server,
    conn: &mut dyn pi_manage::db::Connection,
    sqlite: &Connection,
    table: &str,
    columns: &[&str],
) -> u64 {
    let select: Vec<String> = columns
        .iter()
        .map(|c| match (server, *c) {
            // '1970-01-01 00:00:00.123456' -> '00:00:00.123456', an interval literal.
            (Server::Postgres, "duration") => "substr(duration, 12)".to_string(),
            (Server::Postgres, "otp_valid") => {
                "CASE WHEN otp_valid THEN 'true' ELSE 'false' END".to_string()
            }
            _ => format!("\"{c}\""),
        })
        .collect();
    let mut stmt = sqlite
        .prepare(&format!(
            "SELECT {} FROM {table} ORDER BY id",
            select.join(", ")
        ))
        .expect("select template rows");
    let head = format!(
        "INSERT INTO {table} ({}) VALUES ",
        columns
            .iter()
            .map(|c| server.quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut sql = head.clone();
    let mut in_batch = 0;
    let mut total = 0u64;
    let flush = |sql: &mut String, conn: &mut dyn pi_manage::db::Connection| {
        conn.execute(sql, &[]).expect("bulk INSERT");
        sql.clear();
        sql.push_str(&head);
    };
    conn.execute_batch("BEGIN").unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        if in_batch > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for i in 0..columns.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            match row.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => sql.push_str("NULL"),
                rusqlite::types::ValueRef::Integer(n) => {
                    let _ = write!(sql, "{n}");
                }
                rusqlite::types::ValueRef::Text(t) => {
                    server.quote_text(std::str::from_utf8(t).unwrap(), &mut sql)
                }
                other => panic!("unexpected value in the template: {other:?}"),
            }
        }
        sql.push(')');
        in_batch += 1;
        total += 1;
        if in_batch == 1000 {
            flush(&mut sql, conn);
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        flush(&mut sql, conn);
    }
    conn.execute_batch("COMMIT").unwrap();
    total
}

/// Rows of a table on the server and the sum of their ids.
fn server_fingerprint(server: Server, url: &str, table: &str) -> (u64, i64) {
    let mut conn = server_open(url);
    let int = match server {
        Server::Postgres => "BIGINT",
        Server::Mysql => "SIGNED",
    };
    let n = conn
        .query_i64(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .unwrap();
    let s = conn
        .query_i64(
            &format!("SELECT CAST(coalesce(sum(id), 0) AS {int}) FROM {table}"),
            &[],
        )
        .unwrap()
        .unwrap();
    (n as u64, s)
}

fn server_version(server: Server, url: &str) -> String {
    let mut conn = server_open(url);
    let rows = conn
        .query_rows(
            match server {
                Server::Postgres => "SHOW server_version",
                Server::Mysql => "SELECT version()",
            },
            &[],
        )
        .unwrap();
    rows.first()
        .and_then(|r| r.get(0).as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

struct ServerBench<'a> {
    bench: &'a Bench,
    dbs: ServerDbs,
}

impl ServerBench<'_> {
    /// The plain statement, with its values written in (the same on both servers but for
    /// MariaDB's rule that a DELETE may not read its own table in a subquery, hence the
    /// derived table).
    fn baseline_sql(&self, b: &Baseline) -> String {
        let mut lit = String::new();
        match b {
            Baseline::AuditAge(days) => {
                self.dbs.server.quote_text(
                    &fmt_dt(&(Local::now().naive_local() - TimeDelta::days(*days))),
                    &mut lit,
                );
                format!("DELETE FROM pidea_audit WHERE date < {lit}")
            }
            Baseline::Watermark(low) => match self.dbs.server {
                Server::Postgres => format!(
                    "DELETE FROM pidea_audit WHERE id < \
                     (SELECT id FROM pidea_audit ORDER BY id DESC LIMIT 1 OFFSET {})",
                    low - 1
                ),
                Server::Mysql => format!(
                    "DELETE FROM pidea_audit WHERE id < (SELECT id FROM \
                     (SELECT id FROM pidea_audit ORDER BY id DESC LIMIT 1 OFFSET {}) AS w)",
                    low - 1
                ),
            },
            Baseline::ChallengeExpired => {
                self.dbs
                    .server
                    .quote_text(&fmt_dt(&Utc::now().naive_utc()), &mut lit);
                format!("DELETE FROM challenge WHERE expiration < {lit}")
            }
            Baseline::Rules => unreachable!("rules are measured on SQLite only"),
        }
    }

    /// Wait for the server's background work: a `CHECKPOINT` on PostgreSQL; on MariaDB until
    /// InnoDB's purge has caught up (history list under 1000, at most 60 s).
    fn settle(&self) {
        match self.dbs.server {
            Server::Postgres => self.dbs.admin("CHECKPOINT"),
            Server::Mysql => {
                let mut conn = server_open(&self.dbs.admin_url);
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(60) {
                    let h = conn
                        .query_i64(
                            "SELECT CAST(count AS SIGNED) FROM information_schema.INNODB_METRICS \
                             WHERE name = 'trx_rseg_history_len'",
                            &[],
                        )
                        .ok()
                        .flatten()
                        .unwrap_or(0);
                    if h < 1000 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// A fresh copy of the template (or of one table of it) as database `what`.
    fn copy(&self, what: &str, table: &str) {
        let (server, name, tmpl) = (self.dbs.server, self.dbs.name(what), self.dbs.name("tmpl"));
        self.dbs.drop_db(what);
        match server {
            Server::Postgres => {
                self.dbs
                    .admin(&format!("CREATE DATABASE {name} TEMPLATE {tmpl}"));
                // Write the copy out now, so neither run pays for the other's write-back.
                self.dbs.admin("CHECKPOINT");
            }
            Server::Mysql => {
                self.dbs.admin(&format!("CREATE DATABASE {name}"));
                let mut conn = server_open(&self.dbs.url(what));
                conn.execute_batch(server.ddl()).expect("DDL");
                conn.execute(
                    &format!("INSERT INTO {table} SELECT * FROM {tmpl}.{table}"),
                    &[],
                )
                .expect("copy table");
            }
        }
    }

    /// The chunked delete as pi-manage issues it on this server (`Dialect::chunk_delete_sql`),
    /// run raw on database `what`: each chunk in its own transaction, until a chunk comes back
    /// short. A diagnostic, not the baseline.
    fn raw_chunks(&self, what: &str, plain_delete: &str, limit: u64) -> Duration {
        let (table, filter) = plain_delete
            .strip_prefix("DELETE FROM ")
            .and_then(|r| r.split_once(" WHERE "))
            .expect("plain DELETE FROM table WHERE filter");
        let dialect = match self.dbs.server {
            Server::Postgres => pi_manage::db::Dialect::Postgres,
            Server::Mysql => pi_manage::db::Dialect::Mysql,
        };
        let sql = dialect.chunk_delete_sql(table, "id", filter, limit);
        let started = Instant::now();
        let mut conn = server_open(&self.dbs.url(what));
        loop {
            conn.execute_batch("BEGIN").unwrap();
            let n = conn.execute(&sql, &[]).expect("chunk statement");
            conn.execute_batch("COMMIT").unwrap();
            if n < limit {
                break;
            }
        }
        drop(conn);
        started.elapsed()
    }

    fn scenario(
        &self,
        name: &str,
        table: &str,
        base: Baseline,
        args: &[&str],
        chunk_reference: Option<u64>,
    ) -> Row {
        let (server, dir) = (self.dbs.server, &self.bench.dir);
        let cfg = dir.join("pi.cfg");
        std::fs::write(
            &cfg,
            format!(
                "SQLALCHEMY_DATABASE_URI = '{}'\nSECRET_KEY = 'benchmark'\nPI_PEPPER = 'benchmark'\n",
                self.dbs.url("ours")
            ),
        )
        .unwrap();
        let cfg_s = cfg.display().to_string();
        let mut full: Vec<&str> = vec!["--picfg", &cfg_s];
        full.extend_from_slice(args);
        let (before, _) = server_fingerprint(server, &self.dbs.url("tmpl"), table);
        let (mut tb, mut to, mut tc, mut rss) = (Vec::new(), Vec::new(), Vec::new(), 0i64);
        let mut deleted = None;
        let mut last_stdout = String::new();
        for rep in 0..self.bench.repeat {
            self.bench.check_clock();
            self.copy("base", table);
            self.copy("ours", table);
            self.settle();
            let sql = self.baseline_sql(&base);
            let started = Instant::now();
            let mut conn = server_open(&self.dbs.url("base"));
            let n_base = conn.execute(&sql, &[]).expect("baseline statement");
            drop(conn);
            let t_base = started.elapsed();
            let fa = server_fingerprint(server, &self.dbs.url("base"), table);
            // The server's clean-up of the baseline's delete (checkpoint, autovacuum, InnoDB
            // purge) must not run while pi-manage is timed: drop that copy and let it settle.
            self.dbs.drop_db("base");
            self.settle();
            let run = run_child(&self.bench.bin, &full, dir);
            let fb = server_fingerprint(server, &self.dbs.url("ours"), table);
            assert_eq!(
                fa, fb,
                "{name}: baseline and pi-manage left different rows (count, sum of ids): \
                 refusing to report numbers for runs that did different work"
            );
            let d = before - fa.0;
            assert_eq!(d, n_base, "{name}: baseline statement count");
            assert!(d > 0, "{name}: nothing was deleted");
            if let Some(limit) = chunk_reference.filter(|_| rep == 0) {
                self.copy("chunks", table);
                let t = self.raw_chunks("chunks", &sql, limit);
                assert_eq!(
                    server_fingerprint(server, &self.dbs.url("chunks"), table),
                    fa,
                    "{name}: raw chunk loop did other work"
                );
                self.dbs.drop_db("chunks");
                eprintln!(
                    "  {name} #{}: the same chunk statements raw: {:.3} s",
                    rep + 1,
                    t.as_secs_f64()
                );
                tc.push(t.as_secs_f64());
            }
            if let Some(prev) = deleted {
                assert_eq!(prev, d, "{name}: repetitions deleted different row counts");
            }
            deleted = Some(d);
            eprintln!(
                "  {name} #{}: baseline {:.3} s, pi-manage {:.3} s, {} rows deleted, peak RSS {:.1} MB",
                rep + 1,
                t_base.as_secs_f64(),
                run.wall.as_secs_f64(),
                d,
                run.max_rss_kb as f64 / 1024.0
            );
            tb.push(t_base.as_secs_f64());
            to.push(run.wall.as_secs_f64());
            rss = rss.max(run.max_rss_kb);
            last_stdout = run.stdout;
        }
        self.dbs.drop_db("base");
        self.dbs.drop_db("ours");
        eprintln!(
            "  pi-manage said: {}",
            last_stdout.trim().replace('\n', " | ")
        );
        let mut notes = Vec::new();
        if self.bench.repeat > 1 {
            notes.push(format!("runs: baseline {tb:.3?}, pi-manage {to:.3?}"));
        }
        if !tc.is_empty() {
            let m = median(&tc);
            notes.push(format!(
                "the chunk statements pi-manage issues, run raw through the same driver \
                 (`BEGIN`, one chunk, `COMMIT`, repeated): {m:.3} s, \
                 so pi-manage / raw chunk loop = {:.2}×",
                median(&to) / m
            ));
        }
        Row {
            scenario: name.into(),
            rows_before: Some(before),
            rows_deleted: deleted,
            baseline_s: Some(median(&tb)),
            ours_s: median(&to),
            peak_rss_mb: rss as f64 / 1024.0,
            notes,
        }
    }
}

/// `--server`: build the SQLite template as usual, load it into a template database on the
/// server, and measure the scenarios that have a plain-SQL baseline there.
fn run_server(args: &Args, server: Server, admin_url: &str, bench: &Bench, audit_rows: u64) {
    let dbs = ServerDbs {
        server,
        admin_url: admin_url.to_string(),
        prefix: format!("pi_bench_{}", std::process::id()),
    };
    let version = server_version(server, admin_url);
    let load_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let started = Instant::now();
    dbs.drop_db("tmpl");
    dbs.admin(&format!("CREATE DATABASE {}", dbs.name("tmpl")));
    {
        let mut conn = server_open(&dbs.url("tmpl"));
        conn.execute_batch(server.ddl()).expect("privacyIDEA DDL");
        let sqlite = Connection::open(&bench.template).expect("open template");
        let a = load_table(server, &mut *conn, &sqlite, "pidea_audit", &AUDIT_COLUMNS);
        let c = load_table(server, &mut *conn, &sqlite, "challenge", &CHALLENGE_COLUMNS);
        conn.execute_batch(match server {
            Server::Postgres => "ANALYZE",
            Server::Mysql => "ANALYZE TABLE pidea_audit, challenge",
        })
        .expect("ANALYZE");
        eprintln!(
            "  loaded {} audit rows and {} challenges into {} in {:.1} s",
            fmt_count(a),
            fmt_count(c),
            dbs.name("tmpl"),
            started.elapsed().as_secs_f64()
        );
    }
    let sb = ServerBench { bench, dbs };
    let wanted = |s: &str| args.only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let hw = (audit_rows / 2).to_string();
    let lw = (audit_rows / 4).max(1);
    let lw_s = lw.to_string();
    let mut rows = Vec::new();
    for s in SCENARIOS {
        if !wanted(s) {
            continue;
        }
        if matches!(s, "rules" | "rules_chunked" | "version") {
            eprintln!("scenario {s}: measured on SQLite only, skipped");
            continue;
        }
        eprintln!("scenario {s}");
        rows.push(match s {
            "watermark" => sb.scenario(
                s,
                "pidea_audit",
                Baseline::Watermark(lw),
                &["audit", "rotate", "-hw", &hw, "-lw", &lw_s],
                None,
            ),
            "age" => sb.scenario(
                s,
                "pidea_audit",
                Baseline::AuditAge(200),
                &["audit", "rotate", "--age", "200"],
                None,
            ),
            "age_chunked" => sb.scenario(
                s,
                "pidea_audit",
                Baseline::AuditAge(200),
                &["audit", "rotate", "--age", "200", "--chunksize", "10000"],
                Some(10_000),
            ),
            "challenge" => sb.scenario(
                s,
                "challenge",
                Baseline::ChallengeExpired,
                &["config", "challenge", "cleanup"],
                None,
            ),
            _ => unreachable!(),
        });
    }
    let load_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    drop(sb);
    println!(
        "## pi-manage maintenance benchmark, {}, {version}\n",
        Local::now().format("%Y-%m-%d %H:%M %Z")
    );
    println!(
        "`cargo bench --bench maintenance -- --server {} --audit-rows {} --challenge-rows {} --repeat {}` \
         (times are {})\n",
        match server {
            Server::Postgres => "postgres",
            Server::Mysql => "mysql",
        },
        args.audit_rows,
        args.challenge_rows,
        args.repeat,
        if args.repeat > 1 {
            format!("medians of {} runs, ratio = median / median", args.repeat)
        } else {
            "single runs".to_string()
        }
    );
    print!("{}", table(&rows));
    println!();
    println!("* server: {version} at {admin_url}");
    println!(
        "* load average (1/5/15 min) at start: {}; at end: {}",
        load_start
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_end
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for r in &rows {
        for n in &r.notes {
            println!("* {}: {n}", r.scenario);
        }
    }
    println!("\nTargets:\n");
    for t in targets(&rows, args.audit_rows) {
        println!("* {t}");
    }
}

// ---------------------------------------------------------------------------------------------
// Report

fn machine_facts(dir: &Path) -> Vec<(String, String)> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let mem = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    vec![
        (
            "cores".into(),
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "?".into()),
        ),
        ("CPU".into(), cpu),
        ("memory".into(), mem),
        (
            "kernel (uname -r)".into(),
            read("/proc/sys/kernel/osrelease").trim().to_string(),
        ),
        (
            "SQLite (rusqlite, bundled)".into(),
            rusqlite::version().into(),
        ),
        (
            "fsync latency in the temp dir (4 KiB write + fsync, median of 20)".into(),
            format!("{:.2} ms", fsync_latency_ms(dir)),
        ),
    ]
}

/// Median latency of a 4 KiB write plus `fsync` in `dir`: what every committed transaction
/// pays at least once on SQLite's default rollback journal, so chunked deletes depend on it.
fn fsync_latency_ms(dir: &Path) -> f64 {
    use std::io::{Seek, SeekFrom, Write};
    let path = dir.join("fsync.probe");
    let mut f = File::create(&path).expect("fsync probe");
    let block = [0x5au8; 4096];
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(&block).unwrap();
        f.sync_all().unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let _ = std::fs::remove_file(&path);
    median(&times)
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| scenario | rows before | rows deleted | baseline (s) | pi-manage (s) | ratio | peak RSS (MB) |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let dash = || "–".to_string();
        let ours = if r.scenario == "version" {
            format!("{:.4}", r.ours_s)
        } else {
            format!("{:.3}", r.ours_s)
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {:.1} |",
            r.scenario,
            r.rows_before.map(fmt_count).unwrap_or_else(dash),
            r.rows_deleted.map(fmt_count).unwrap_or_else(dash),
            r.baseline_s.map(|b| format!("{b:.3}")).unwrap_or_else(dash),
            ours,
            r.ratio().map(|x| format!("{x:.2}×")).unwrap_or_else(dash),
            r.peak_rss_mb
        );
    }
    t
}

/// The targets of docs/benchmarks.md, checked against the measured rows.
fn targets(rows: &[Row], audit_rows: u64) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        match r.scenario.as_str() {
            "watermark" | "age" | "challenge" => {
                let x = r.ratio().unwrap();
                out.push(format!(
                    "{}: ratio {x:.2}× (target ≤ 1.2×): {}",
                    r.scenario,
                    verdict(x <= 1.2)
                ));
            }
            "age_chunked" => {
                let x = r.ratio().unwrap();
                out.push(format!(
                    "age_chunked: ratio {x:.2}× (target ≤ 2×): {}",
                    verdict(x <= 2.0)
                ));
            }
            "rules" => {
                out.push(format!(
                    "rules: {:.1} s for {} rows (target: 10^6 rows in seconds, read as under a minute): {}",
                    r.ours_s,
                    fmt_count(audit_rows),
                    if audit_rows > 1_000_000 {
                        "not applicable at this size"
                    } else {
                        verdict(r.ours_s < 60.0)
                    }
                ));
                let x = r.ratio().unwrap();
                out.push(format!(
                    "rules: {x:.2}× the single raw DELETE … WHERE date < CASE … (target ≤ 1.3×): {}",
                    verdict(x <= 1.3)
                ));
                out.push(format!(
                    "rules: peak RSS {:.1} MB (target < 50 MB): {}",
                    r.peak_rss_mb,
                    verdict(r.peak_rss_mb < 50.0)
                ));
            }
            "rules_chunked" => {
                let x = r.ratio().unwrap();
                let unchunked = rows.iter().find(|u| u.scenario == "rules");
                out.push(format!(
                    "rules_chunked: {x:.2}× the single raw DELETE; rules without a chunk size must not be slower: {}",
                    match unchunked {
                        Some(u) => format!(
                            "{:.2} s unchunked against {:.2} s chunked: {}",
                            u.ours_s,
                            r.ours_s,
                            verdict(u.ours_s <= r.ours_s)
                        ),
                        None => "rules not run".into(),
                    }
                ));
            }
            "version" => out.push(format!(
                "version: median {:.2} ms (target < 10 ms): {}",
                r.ours_s * 1e3,
                verdict(r.ours_s < 0.010)
            )),
            _ => {}
        }
    }
    out
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--measure-child") {
        measure_child_main(&argv[2..]);
    }
    if dump_authlog::handles(&argv) {
        return dump_authlog::run(&argv);
    }
    let args = parse_args();
    let wanted = |s: &str| args.only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let original_bin = PathBuf::from(env!("CARGO_BIN_EXE_pi-manage"));
    let tmp = tempfile::Builder::new()
        .prefix("pi-manage-bench-")
        .tempdir()
        .expect("temp dir");
    // Run a private copy: a concurrent `cargo build` must not swap the binary mid-benchmark.
    let bin = tmp.path().join("pi-manage");
    std::fs::copy(&original_bin, &bin).expect("copy pi-manage binary");
    let optimised = !cfg!(debug_assertions)
        && original_bin
            .components()
            .any(|c| c.as_os_str() == "release");
    eprintln!(
        "pi-manage binary: {} ({}), run from a copy in {}",
        original_bin.display(),
        if optimised {
            "release/bench profile, optimised"
        } else {
            "NOT an optimised build"
        },
        tmp.path().display()
    );
    assert!(
        optimised,
        "run through `cargo bench` so the binary is built with the optimised bench profile"
    );

    let on_server =
        |s: &str| args.server.is_none() || !matches!(s, "rules" | "rules_chunked" | "version");
    let needs_audit = ["watermark", "age", "age_chunked", "rules", "rules_chunked"]
        .iter()
        .any(|s| on_server(s) && wanted(s));
    let needs_challenge = wanted("challenge");
    let audit_rows = if needs_audit { args.audit_rows } else { 0 };
    let challenge_rows = if needs_challenge {
        args.challenge_rows
    } else {
        0
    };
    let t0_local = Local::now().naive_local();
    let t0_utc = Utc::now().naive_utc();
    let template = tmp.path().join("template.sqlite");
    let load_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    if needs_audit || needs_challenge {
        let started = Instant::now();
        eprintln!(
            "building template: {} audit rows, {} challenges…",
            fmt_count(audit_rows),
            fmt_count(challenge_rows)
        );
        build_template(&template, audit_rows, challenge_rows, t0_local, t0_utc)
            .expect("build template database");
        eprintln!(
            "  built in {:.1} s, {:.0} MB",
            started.elapsed().as_secs_f64(),
            std::fs::metadata(&template).unwrap().len() as f64 / 1e6
        );
        if let Some(keep) = &args.save_template {
            std::fs::copy(&template, keep).expect("save template");
            eprintln!("  saved a copy to {}", keep.display());
        }
    }
    std::fs::write(tmp.path().join("rules.yaml"), RULES_YAML).unwrap();
    let rules_path = tmp.path().join("rules.yaml").display().to_string();
    let bench = Bench {
        bin,
        dir: tmp.path().to_path_buf(),
        template,
        t0_local,
        repeat: args.repeat,
    };
    if let Some((server, admin_url)) = &args.server {
        run_server(&args, *server, admin_url, &bench, audit_rows);
        return;
    }
    let hw = (audit_rows / 2).to_string();
    let lw = (audit_rows / 4).max(1);
    let lw_s = lw.to_string();

    let mut rows = Vec::new();
    for s in SCENARIOS {
        if !wanted(s) {
            continue;
        }
        eprintln!("scenario {s}");
        let row = match s {
            "watermark" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::Watermark(lw),
                &["audit", "rotate", "-hw", &hw, "-lw", &lw_s],
                None,
            ),
            "age" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::AuditAge(200),
                &["audit", "rotate", "--age", "200"],
                None,
            ),
            "age_chunked" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::AuditAge(200),
                &["audit", "rotate", "--age", "200", "--chunksize", "10000"],
                Some(10_000),
            ),
            "rules" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::Rules,
                &["audit", "rotate", "--config", &rules_path],
                None,
            ),
            "rules_chunked" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::Rules,
                &[
                    "audit",
                    "rotate",
                    "--config",
                    &rules_path,
                    "--chunksize",
                    "10000",
                ],
                None,
            ),
            "challenge" => bench.scenario(
                s,
                "challenge",
                Baseline::ChallengeExpired,
                &["config", "challenge", "cleanup"],
                None,
            ),
            "version" => bench.version(),
            _ => unreachable!(),
        };
        rows.push(row);
    }
    let load_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    println!(
        "## pi-manage maintenance benchmark, {}\n",
        Local::now().format("%Y-%m-%d %H:%M %Z")
    );
    println!(
        "`cargo bench --bench maintenance -- --audit-rows {} --challenge-rows {} --repeat {}` \
         (SQLite; times are {})\n",
        args.audit_rows,
        args.challenge_rows,
        args.repeat,
        if args.repeat > 1 {
            format!("medians of {} runs, ratio = median / median", args.repeat)
        } else {
            "single runs".to_string()
        }
    );
    print!("{}", table(&rows));
    println!();
    for (k, v) in machine_facts(tmp.path()) {
        println!("* {k}: {v}");
    }
    println!(
        "* load average (1/5/15 min) at start: {}; at end: {}",
        load_start
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_end
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("* binary: {}", original_bin.display());
    for r in &rows {
        for n in &r.notes {
            println!("* {}: {n}", r.scenario);
        }
    }
    println!("\nTargets:\n");
    for t in targets(&rows, args.audit_rows) {
        println!("* {t}");
    }
}
