//! Audit signature checks on every core: `pi-manage audit verify` against itself with
//! `--threads 1` (one signature after the other, the way it worked before) in the same run
//! (docs/benchmarks.md, "Audit verification").
//!
//! ```text
//! cargo bench --bench verify -- [--audit-rows N (default 1000000)] [--repeat K (default 3)]
//! ```
//!
//! It builds a SQLite audit table of N rows with a fresh RSA-2048 audit key, each row's
//! signature costing a full check (`benches/common/signed_audit.rs`). The run checks that
//! pi-manage reports exactly 1000 verified and N − 1000 failed entries with either thread
//! count.
//!
//! Reports wall time, rows per second and peak RSS (`wait4`) per run, medians of K runs, the
//! speed-up of the default over `--threads 1`, and the load average around every run.

// A benchmark reports on a terminal; the closed-output rule is for the tool itself.
#![allow(clippy::disallowed_macros)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pi_manage::crypto::audit_sign::{generate_audit_keys, AuditSigner};

#[path = "common/signed_audit.rs"]
mod signed_audit;
use signed_audit::POOL;

struct Args {
    audit_rows: i64,
    repeat: usize,
}

fn usage() -> ! {
    eprintln!("usage: cargo bench --bench verify -- [--audit-rows N] [--repeat K]");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        audit_rows: 1_000_000,
        repeat: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--bench" => {}
            "--audit-rows" => a.audit_rows = value().parse().unwrap_or_else(|_| usage()),
            "--repeat" => a.repeat = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    assert!(a.audit_rows >= POOL, "--audit-rows must be at least {POOL}");
    a
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn build(db: &Path, rows: i64, signer: &AuditSigner) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(include_str!("../src/db/ddl/sqlite_full.sql"))
        .unwrap();
    c.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;")
        .unwrap();
    signed_audit::fill(&c, rows, signer).unwrap();
    c.execute_batch("COMMIT").unwrap();
}

struct Run {
    wall: Duration,
    rss_kib: i64,
    stdout: String,
}

fn measure(cmd: &mut Command) -> Run {
    let out = tempfile::tempfile().unwrap();
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
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
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
    }
    let wall = started.elapsed();
    drop(child);
    use std::io::{Read, Seek};
    let mut out = out;
    out.rewind().unwrap();
    let mut stdout = String::new();
    out.read_to_string(&mut stdout).unwrap();
    Run {
        wall,
        rss_kib: ru.ru_maxrss,
        stdout,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args = parse_args();
    let bin = env!("CARGO_BIN_EXE_pi-manage");
    if cfg!(debug_assertions) {
        eprintln!("run through `cargo bench` so the binary is optimised");
        std::process::exit(2);
    }
    let dir = tempfile::Builder::new()
        .prefix("pim-bench-verify")
        .tempdir()
        .unwrap();
    let (private, public) = generate_audit_keys(2048).unwrap();
    let signer = AuditSigner::from_private_pem(&private).unwrap();
    let pem = dir.path().join("public.pem");
    std::fs::write(&pem, public).unwrap();
    let db = dir.path().join("pi.sqlite");
    eprintln!("building {} signed audit rows …", args.audit_rows);
    let started = Instant::now();
    build(&db, args.audit_rows, &signer);
    eprintln!("  built in {:.1} s", started.elapsed().as_secs_f64());
    let cfg = dir.path().join("pi.cfg");
    std::fs::write(
        &cfg,
        format!("SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\n", db.display()),
    )
    .unwrap();
    let expected = format!(
        "Checked {n} audit entries: {POOL} verified, {} failed.",
        args.audit_rows - POOL,
        n = args.audit_rows
    );
    let load_start = loadavg();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results = Vec::new();
    for (label, threads) in [("--threads 1", "1"), ("default (every core)", "0")] {
        let mut walls = Vec::new();
        let mut rss = 0;
        let mut loads = Vec::new();
        for _ in 0..args.repeat {
            let run = measure(
                Command::new(bin)
                    .arg("--picfg")
                    .arg(&cfg)
                    .args(["audit", "verify", "--threads", threads, "--public-key"])
                    .arg(&pem),
            );
            assert!(
                run.stdout.lines().next() == Some(expected.as_str()),
                "{label}: unexpected report {:?}",
                run.stdout
            );
            let load = loadavg();
            eprintln!(
                "{label}: {:.2} s, {:.0} MiB peak RSS, load {load}",
                run.wall.as_secs_f64(),
                run.rss_kib as f64 / 1024.0
            );
            walls.push(run.wall.as_secs_f64());
            rss = rss.max(run.rss_kib);
            loads.push(load);
        }
        results.push((label, median(walls.clone()), walls, rss, loads));
    }
    println!(
        "`cargo bench --bench verify -- --audit-rows {} --repeat {}` (SQLite, RSA-2048; {cores} cores; load average at start {load_start}, at end {})\n",
        args.audit_rows,
        args.repeat,
        loadavg()
    );
    println!("| audit verify | median (s) | rows/s | speed-up | peak RSS (MiB) | runs (s) | load after each run |");
    println!("|---|---:|---:|---:|---:|---|---|");
    let single = results[0].1;
    for (label, med, walls, rss, loads) in &results {
        println!(
            "| {label} | {med:.2} | {:.0} | {:.2}× | {:.1} | {} | {} |",
            args.audit_rows as f64 / med,
            single / med,
            *rss as f64 / 1024.0,
            walls
                .iter()
                .map(|w| format!("{w:.2}"))
                .collect::<Vec<_>>()
                .join(" / "),
            loads.join(" · ")
        );
    }
}
