//! Maintenance benchmark: `pi-manage` against the raw SQL its tasks issue (DESIGN.md §6,
//! docs/benchmarks.md).
//!
//! ```text
//! cargo bench --bench maintenance -- [--audit-rows N] [--challenge-rows N] [--only NAME[,NAME…]] [--repeat K]
//! ```
//!
//! Builds one privacyIDEA-shaped SQLite database (schema `src/db/ddl/sqlite_full.sql`, a
//! `pidea_audit` of N rows over the last 400 days and a `challenge` table of M rows), then for
//! every scenario copies it twice and runs, in the same process and one after the other:
//!
//! * the **baseline**: the plain SQL that does the same work, through rusqlite in this process
//!   (open the file, one statement, commit, close), and
//! * **ours**: the `pi-manage` binary of this build, as a child process with a `pi.cfg` that
//!   points at the second copy, timed end to end; its peak RSS comes from `wait4(2)`.
//!
//! Both copies must end with the same rows (count and sum of ids), or the benchmark stops
//! instead of reporting numbers for runs that did different work. The result is a Markdown
//! table on stdout; progress goes to stderr.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Local, NaiveDateTime, TimeDelta, Utc};
use rusqlite::{params, Connection};

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
/// The same rules as one plain SQL condition (first matching rule decides).
const RULES_SQL: &str = "DELETE FROM pidea_audit WHERE \
     (\"user\" = 'nagiosuser' AND date < ?1) \
     OR (\"user\" <> 'nagiosuser' AND action GLOB 'GET /token*' AND date < ?2) \
     OR (\"user\" <> 'nagiosuser' AND NOT (action GLOB 'GET /token*') AND date < ?3)";

const SCENARIOS: [&str; 6] = [
    "watermark",
    "age",
    "age_chunked",
    "rules",
    "challenge",
    "version",
];

struct Args {
    audit_rows: u64,
    challenge_rows: u64,
    only: Option<Vec<String>>,
    repeat: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench maintenance -- [--audit-rows N (default 1000000)] \
         [--challenge-rows N (default 100000)] [--only NAME[,NAME…]] [--repeat K (default 1)]\n\
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
        repeat: 1,
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
    const FIRST: [&str; 20] = [
        "anna", "ben", "clara", "david", "eva", "felix", "greta", "hans", "ida", "jonas", "karin",
        "lukas", "maria", "niklas", "olga", "paul", "quirin", "rosa", "stefan", "tina",
    ];
    const LAST: [&str; 100] = [
        "mueller",
        "schmidt",
        "schneider",
        "fischer",
        "weber",
        "meyer",
        "wagner",
        "becker",
        "schulz",
        "hoffmann",
        "koch",
        "richter",
        "klein",
        "wolf",
        "schroeder",
        "neumann",
        "schwarz",
        "braun",
        "hofmann",
        "zimmermann",
        "schmitt",
        "hartmann",
        "krueger",
        "werner",
        "lange",
        "schmitz",
        "krause",
        "meier",
        "lehmann",
        "huber",
        "mayer",
        "herrmann",
        "koehler",
        "walter",
        "koenig",
        "schulze",
        "fuchs",
        "kaiser",
        "lang",
        "weiss",
        "peters",
        "scholz",
        "jung",
        "moeller",
        "hahn",
        "keller",
        "vogel",
        "schubert",
        "roth",
        "frank",
        "friedrich",
        "beck",
        "guenther",
        "berger",
        "winkler",
        "lorenz",
        "baumann",
        "schuster",
        "kraus",
        "boehm",
        "simon",
        "franke",
        "albrecht",
        "winter",
        "ludwig",
        "martin",
        "kraemer",
        "schumacher",
        "vogt",
        "jaeger",
        "otto",
        "sommer",
        "stein",
        "gross",
        "seidel",
        "heinrich",
        "brandt",
        "haas",
        "schreiber",
        "graf",
        "dietrich",
        "ziegler",
        "kuhn",
        "pohl",
        "engel",
        "horn",
        "busch",
        "bergmann",
        "thomas",
        "voigt",
        "sauer",
        "arnold",
        "wolff",
        "pfeiffer",
        "ernst",
        "fink",
        "kuehn",
        "lindner",
        "kurz",
        "marx",
    ];
    let mut users = vec!["nagiosuser".into(), "admin".into(), "helpdesk".into()];
    'outer: for l in LAST {
        for f in FIRST {
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
        rng.hex(&mut signature, 600 - signature.len());

        let ui = rng.below(users.len() as u64) as usize;
        let p = rng.percent();
        let (serial, ttype) = serial_of(ui);
        let realm = if ui % 7 == 0 { "partners" } else { "company" };
        let resolver = if ui % 7 == 0 {
            "partners_ldap"
        } else {
            "corp_ldap"
        };
        let ok = rng.percent() < 92;
        // action, user, realm, resolver, administrator, serial, token_type, info, action_detail
        #[allow(clippy::type_complexity)]
        let (action, user, realm, resolver, admin, serial, ttype, info, detail): (
            String,
            &str,
            &str,
            &str,
            &str,
            String,
            &str,
            &str,
            &str,
        ) = if p < 70 {
            // 10% of the authentications are the monitoring check.
            let (user, realm, resolver, serial, ttype) = if rng.percent() < 10 {
                (
                    "nagiosuser",
                    "company",
                    "corp_ldap",
                    "OATH0000NAG1".into(),
                    "hotp",
                )
            } else {
                (users[ui].as_str(), realm, resolver, serial, ttype)
            };
            let info = if ok {
                "matching 1 tokens"
            } else {
                "wrong otp value"
            };
            (
                "POST /validate/check".into(),
                user,
                realm,
                resolver,
                "",
                serial,
                ttype,
                info,
                "",
            )
        } else if p < 82 {
            (
                "GET /token/".into(),
                "",
                "",
                "",
                "admin",
                String::new(),
                "",
                "",
                "",
            )
        } else if p < 88 {
            let (user, realm) = if rng.percent() < 70 {
                ("admin", "")
            } else {
                (users[ui].as_str(), realm)
            };
            let info = if ok { "" } else { "Wrong credentials" };
            (
                "POST /auth".into(),
                user,
                realm,
                "",
                "",
                String::new(),
                "",
                info,
                "",
            )
        } else if p < 94 {
            let user = users[ui].as_str();
            (
                "POST /token/init".into(),
                user,
                realm,
                resolver,
                "admin",
                serial,
                ttype,
                "",
                "",
            )
        } else {
            let user = users[ui].as_str();
            (
                format!("DELETE /token/{serial}"),
                user,
                realm,
                resolver,
                "admin",
                serial,
                ttype,
                "",
                "",
            )
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
            detail,
            info,
            server,
            client,
            "privacyidea-cp",
            "2.0",
            "default",
            "default",
            thread_id,
            "",
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
    stdout: String,
}

/// Run `bin args…` with stdout/stderr into files, wall-clock timed, and its own rusage from
/// `wait4` (so peak RSS is this child's, not the max over all children so far).
fn run_child(bin: &Path, args: &[&str], scratch: &Path) -> ChildRun {
    let out_path = scratch.join("child.stdout");
    let err_path = scratch.join("child.stderr");
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PRIVACYIDEA_") || k == "DATABASE_URL" || k.starts_with("PI_") {
            cmd.env_remove(k);
        }
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn pi-manage");
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
        wall,
        max_rss_kb: ru.ru_maxrss,
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
    /// All timings, when repeated.
    detail: String,
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
    t0_utc: NaiveDateTime,
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

    fn scenario(&self, name: &str, table: &str, base: Baseline, args: &[&str]) -> Row {
        let a = self.dir.join("baseline.sqlite");
        let b = self.dir.join("pimanage.sqlite");
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
        let (mut tb, mut to, mut rss) = (Vec::new(), Vec::new(), 0i64);
        let mut deleted = None;
        let mut last_stdout = String::new();
        for rep in 0..self.repeat {
            self.check_clock();
            std::fs::copy(&self.template, &a).expect("copy template");
            std::fs::copy(&self.template, &b).expect("copy template");
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
            detail: if self.repeat > 1 {
                format!("baseline {tb:.3?}, pi-manage {to:.3?}")
            } else {
                String::new()
            },
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
            detail: "median of 20 runs".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Report

fn machine_facts() -> Vec<(String, String)> {
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
    ]
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
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
                    "rules: {:.1} s for {} rows, ratio {:.2}× (target: seconds at 10^6 rows; no ratio target): {}",
                    r.ours_s,
                    fmt_count(audit_rows),
                    r.ratio().unwrap(),
                    verdict(r.ours_s < 10.0 || audit_rows > 1_000_000)
                ));
                out.push(format!(
                    "rules: peak RSS {:.1} MB (target < 50 MB): {}",
                    r.peak_rss_mb,
                    verdict(r.peak_rss_mb < 50.0)
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

    let needs_audit = ["watermark", "age", "age_chunked", "rules"]
        .iter()
        .any(|s| wanted(s));
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
    }
    std::fs::write(tmp.path().join("rules.yaml"), RULES_YAML).unwrap();
    let rules_path = tmp.path().join("rules.yaml").display().to_string();
    let bench = Bench {
        bin,
        dir: tmp.path().to_path_buf(),
        template,
        t0_local,
        t0_utc,
        repeat: args.repeat,
    };
    let _ = bench.t0_utc;
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
            ),
            "age" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::AuditAge(200),
                &["audit", "rotate", "--age", "200"],
            ),
            "age_chunked" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::AuditAge(200),
                &["audit", "rotate", "--age", "200", "--chunksize", "10000"],
            ),
            "rules" => bench.scenario(
                s,
                "pidea_audit",
                Baseline::Rules,
                &["audit", "rotate", "--config", &rules_path],
            ),
            "challenge" => bench.scenario(
                s,
                "challenge",
                Baseline::ChallengeExpired,
                &["config", "challenge", "cleanup"],
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
        "`cargo bench --bench maintenance -- --audit-rows {} --challenge-rows {}{}` (SQLite)\n",
        args.audit_rows,
        args.challenge_rows,
        if args.repeat > 1 {
            format!(" --repeat {} (medians)", args.repeat)
        } else {
            String::new()
        }
    );
    print!("{}", table(&rows));
    println!();
    for (k, v) in machine_facts() {
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
        if !r.detail.is_empty() {
            println!("* {}: {}", r.scenario, r.detail);
        }
    }
    println!("\nTargets:\n");
    for t in targets(&rows, args.audit_rows) {
        println!("* {t}");
    }
}
