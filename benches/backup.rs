//! Backup benchmark: `pi-manage backup create`, `backup verify` and `backup restore` against
//! privacyIDEA's own pipeline in the same run (docs/benchmarks.md, "Backups").
//!
//! ```text
//! cargo bench --bench backup -- [--audit-rows N] [--only sqlite,postgresql,mysql]
//! ```
//!
//! For each database (SQLite always; PostgreSQL and MariaDB/MySQL when
//! `PIM_TEST_POSTGRES_URL` / `PIM_TEST_MYSQL_URL` name an admin connection, as for the tests)
//! it creates a privacyIDEA schema with `pi-manage setup create_tables`, fills `pidea_audit`
//! with N privacyIDEA-shaped rows (each with a 512-hex-digit signature, as privacyIDEA signs
//! them, so the data is not unrealistically compressible), and then times, one after the other:
//!
//! * create — pi-manage's default (`.tar.zst`), `--format tar.xz` (the default before) and
//!   `--format tgz`; baseline: privacyIDEA's `backup create` pipeline (reference §11.1): the
//!   dump into a file (`cp` of the SQLite file as `shutil.copyfile`, `pg_dump --file`,
//!   `mariadb-dump -r`), then `tar` with gzip level 9 (Python's `tarfile` "x:gz" level), then
//!   the dump removed;
//! * verify — `pi-manage backup verify` of the `.tar.zst` and of the `.tar.xz` archive;
//! * restore — `pi-manage backup restore --yes` (checks the whole archive first) of both;
//!   baseline: privacyIDEA's restore pipeline: `tar xzf`, then `psql -f` / `mariadb <` / the
//!   extracted SQLite file.
//!
//! Wall time and peak RSS (`wait4`, children included) per run; every restore must leave N
//! audit rows. The load average is printed with every run. The result is a Markdown table on
//! stdout.

// Test and benchmark programs print their own results (the program itself never does; see
// clippy.toml).
#![allow(clippy::disallowed_macros)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pi_manage::db::{self, OpenOptions};
use pi_manage::dburl::{Backend, DbUrl};

#[path = "common/server_db.rs"]
mod server_db;
use server_db::{client_args, count, fill, server_target, Target};

struct Args {
    audit_rows: u64,
    only: Option<Vec<String>>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench backup -- [--audit-rows N (default 1000000)] \
         [--only sqlite,postgresql,mysql]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        audit_rows: 1_000_000,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--bench" => {}
            "--audit-rows" => a.audit_rows = value().parse().unwrap_or_else(|_| usage()),
            "--only" => a.only = Some(value().split(',').map(str::to_string).collect()),
            _ => usage(),
        }
    }
    a
}

/// One measured child process: wall time, peak RSS in KiB (the largest of the process tree it
/// waited for), and success.
struct Run {
    wall: Duration,
    rss_kib: i64,
}

fn measure(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let child = cmd.stdin(Stdio::null()).spawn().expect("spawn");
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
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed (wait status {status})"
    );
    Run {
        wall,
        rss_kib: ru.ru_maxrss,
    }
}

fn sh(script: &str, env: &[(&str, String)]) -> Run {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    for (k, v) in env {
        c.env(k, v);
    }
    measure(&mut c)
}

struct Line {
    db: &'static str,
    op: &'static str,
    what: String,
    run: Run,
    /// Archive size in bytes (create).
    size: Option<u64>,
    /// The baseline's row of the same database and operation, for the ratio.
    baseline: bool,
    load: String,
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

fn mib(kib: i64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn bench_one(bin: &Path, t: &Target, rows: u64, work: &Path) -> Vec<Line> {
    let label = t.backend.name();
    let dir = work.join(label);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    let cfg = dir.join("etc/pi.cfg");
    std::fs::write(
        &cfg,
        format!("SQLALCHEMY_DATABASE_URI = '{}'\n", t.url_text),
    )
    .unwrap();
    let pim = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.arg("--picfg").arg(&cfg).arg("--quiet").args(args);
        c
    };
    assert!(pim(&["setup", "create_tables"]).status().unwrap().success());
    eprintln!("{label}: filling {rows} audit rows …");
    let started = Instant::now();
    {
        let mut c = db::open(&t.url, &OpenOptions::default()).unwrap();
        fill(c.as_mut(), t.backend, rows);
    }
    assert_eq!(count(&t.url), rows as i64);
    eprintln!(
        "{label}: filled in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let etc = dir.join("etc").display().to_string();
    let mut lines = Vec::new();
    let mut line = |op: &'static str, what: &str, run: Run, size: Option<u64>, baseline: bool| {
        let load = loadavg();
        eprintln!(
            "{label}: {op} {what}: {:.1} s, {} MiB peak RSS{}, load {load}",
            run.wall.as_secs_f64(),
            mib(run.rss_kib),
            size.map(|s| format!(", {:.0} MiB", s as f64 / 1048576.0))
                .unwrap_or_default()
        );
        lines.push(Line {
            db: label,
            op,
            what: what.to_string(),
            run,
            size,
            baseline,
            load,
        });
    };

    // create: privacyIDEA's pipeline first, then ours in each format.
    let (conn_args, env) = client_args(t);
    let base_dir = dir.join("pi");
    std::fs::create_dir_all(&base_dir).unwrap();
    let (dump_file, dump_cmd) = match t.backend {
        Backend::Sqlite => {
            let f = base_dir.join("dbdump.sqlite");
            let cmd = format!(
                "cp '{}' '{}'",
                t.url.database.as_deref().unwrap(),
                f.display()
            );
            (f, cmd)
        }
        Backend::Postgres => {
            let f = base_dir.join("dbdump.pgsql");
            let cmd = format!(
                "pg_dump --format=plain --clean --if-exists --no-owner --no-privileges --no-comments {conn_args} --dbname {} --file '{}'",
                t.name,
                f.display()
            );
            (f, cmd)
        }
        Backend::Mysql => {
            let f = base_dir.join("dbdump.sql");
            let cmd = format!(
                "mariadb-dump {conn_args} --single-transaction --skip-lock-tables -B {} -r '{}'",
                t.name,
                f.display()
            );
            (f, cmd)
        }
    };
    let tgz = base_dir.join("privacyidea-backup.tgz");
    eprintln!("{label}: privacyIDEA pipeline: dump, then tar + gzip -9 …");
    let run = sh(
        &format!(
            "{dump_cmd} && tar -I 'gzip -9' -cf '{}' -C / '{}' '{}' && rm '{}'",
            tgz.display(),
            dump_file.display().to_string().trim_start_matches('/'),
            etc.trim_start_matches('/'),
            dump_file.display()
        ),
        &env,
    );
    let size = std::fs::metadata(&tgz).unwrap().len();
    line(
        "create",
        "privacyIDEA pipeline (dump, then tar czf -9)",
        run,
        Some(size),
        true,
    );

    let mut archives = Vec::new();
    for (format, what) in [
        ("tar.zst", "pi-manage, default .tar.zst"),
        ("tar.xz", "pi-manage --format tar.xz (the default before)"),
        ("tgz", "pi-manage --format tgz"),
    ] {
        let bk = dir.join(format!("bk-{format}"));
        std::fs::create_dir_all(&bk).unwrap();
        let args = [
            "backup",
            "create",
            "-d",
            bk.to_str().unwrap(),
            "-c",
            &etc,
            "--format",
            format,
        ];
        eprintln!("{label}: {what} …");
        let run = measure(&mut pim(&args));
        let archive = std::fs::read_dir(&bk)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(format))
            .expect("archive");
        let size = std::fs::metadata(&archive).unwrap().len();
        line("create", what, run, Some(size), false);
        if format != "tgz" {
            archives.push((format, archive));
        } else {
            let _ = std::fs::remove_file(&archive);
        }
    }

    // verify
    for (format, archive) in &archives {
        let a = archive.display().to_string();
        let run = measure(&mut pim(&["backup", "verify", &a]));
        line("verify", &format!("pi-manage, .{format}"), run, None, false);
    }

    // restore: privacyIDEA's pipeline, then ours.
    let extract = dir.join("extract");
    std::fs::create_dir_all(&extract).unwrap();
    let inner = dump_file.display().to_string();
    let inner = inner.trim_start_matches('/');
    let untar = format!(
        "tar -xzf '{}' -C '{}' '{inner}'",
        tgz.display(),
        extract.display()
    );
    let extracted = extract.join(inner);
    let restore_cmd = match t.backend {
        Backend::Sqlite => untar,
        Backend::Postgres => format!(
            "{untar} && psql --quiet --no-psqlrc --set ON_ERROR_STOP=on --output=/dev/null {conn_args} --dbname {} -f '{}'",
            t.name,
            extracted.display()
        ),
        Backend::Mysql => format!(
            "{untar} && mariadb --batch {conn_args} {} < '{}'",
            t.name,
            extracted.display()
        ),
    };
    eprintln!("{label}: privacyIDEA restore pipeline …");
    let run = sh(&restore_cmd, &env);
    let base_url = match t.backend {
        Backend::Sqlite => DbUrl::parse(&format!("sqlite:///{}", extracted.display())).unwrap(),
        _ => t.url.clone(),
    };
    assert_eq!(
        count(&base_url),
        rows as i64,
        "{label}: the baseline restore lost rows"
    );
    line(
        "restore",
        "privacyIDEA pipeline (tar xzf, then the client)",
        run,
        None,
        true,
    );
    let _ = std::fs::remove_dir_all(&extract);

    for (format, archive) in &archives {
        let target = dir.join(format!("restored-{format}"));
        let mut rargs: Vec<String> = vec![
            "backup".into(),
            "restore".into(),
            archive.display().to_string(),
            "--yes".into(),
        ];
        if t.backend == Backend::Sqlite {
            rargs.extend(["--target-dir".into(), target.display().to_string()]);
        }
        let rargs: Vec<&str> = rargs.iter().map(String::as_str).collect();
        eprintln!("{label}: pi-manage backup restore .{format} …");
        let run = measure(&mut pim(&rargs));
        let restored_url = match t.backend {
            Backend::Sqlite => {
                let p = t.url.database.as_deref().unwrap();
                DbUrl::parse(&format!(
                    "sqlite:///{}",
                    target.join(p.trim_start_matches('/')).display()
                ))
                .unwrap()
            }
            _ => t.url.clone(),
        };
        assert_eq!(
            count(&restored_url),
            rows as i64,
            "{label}: our restore lost rows"
        );
        line(
            "restore",
            &format!("pi-manage, .{format}"),
            run,
            None,
            false,
        );
        let _ = std::fs::remove_dir_all(&target);
    }
    let _ = std::fs::remove_dir_all(&dir);
    lines
}

fn main() {
    let args = parse_args();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_pi-manage"));
    let work = tempfile::Builder::new()
        .prefix("pim-bench-backup")
        .tempdir_in(std::env::var("PIM_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
        .expect("scratch directory");
    let wanted = |n: &str| args.only.as_ref().is_none_or(|o| o.iter().any(|x| x == n));
    let mut targets = Vec::new();
    if wanted("sqlite") {
        let p = work.path().join("pi.sqlite");
        targets.push(Target {
            backend: Backend::Sqlite,
            url_text: format!("sqlite:///{}", p.display()),
            url: DbUrl::parse(&format!("sqlite:///{}", p.display())).unwrap(),
            admin: None,
            name: String::new(),
        });
    }
    if wanted("postgresql") {
        targets.extend(server_target("PIM_TEST_POSTGRES_URL", "backup"));
    }
    if wanted("mysql") {
        targets.extend(server_target("PIM_TEST_MYSQL_URL", "backup"));
    }
    let load_start = loadavg();
    let mut lines = Vec::new();
    for t in &targets {
        lines.extend(bench_one(&bin, t, args.audit_rows, work.path()));
    }
    let mut out = format!(
        "`cargo bench --bench backup -- --audit-rows {}` ({} audit rows; {} cores; load average at start {load_start}, at end {})\n\n\
         | database | operation | what | time (s) | × privacyIDEA's time | archive (MiB) | × privacyIDEA's size | peak RSS (MiB) | load (1/5/15) |\n\
         |---|---|---|---:|---:|---:|---:|---:|---|\n",
        args.audit_rows,
        args.audit_rows,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg()
    );
    for l in &lines {
        let base = lines
            .iter()
            .find(|b| b.baseline && b.db == l.db && b.op == l.op);
        let time_ratio = match base {
            Some(b) if !l.baseline => {
                format!("{:.2}", l.run.wall.as_secs_f64() / b.run.wall.as_secs_f64())
            }
            _ => "–".into(),
        };
        let size_ratio = match (base.and_then(|b| b.size), l.size) {
            (Some(b), Some(s)) if !l.baseline => format!("{:.2}", s as f64 / b as f64),
            _ => "–".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            l.db,
            l.op,
            l.what,
            secs(l.run.wall),
            time_ratio,
            l.size
                .map(|s| format!("{:.0}", s as f64 / 1048576.0))
                .unwrap_or_else(|| "–".into()),
            size_ratio,
            mib(l.run.rss_kib),
            l.load
        ));
    }
    print!("{out}");
}
