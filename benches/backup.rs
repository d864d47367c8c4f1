//! Backup benchmark: `pi-manage backup create` and `backup restore` against the raw dump tool
//! piped to `xz` in the same run (docs/benchmarks.md, "Backups").
//!
//! ```text
//! cargo bench --bench backup -- [--audit-rows N] [--only sqlite,postgresql,mysql] [--level L]
//! ```
//!
//! For each database (SQLite always; PostgreSQL and MariaDB/MySQL when
//! `PIM_TEST_POSTGRES_URL` / `PIM_TEST_MYSQL_URL` name an admin connection, as for the tests)
//! it creates a privacyIDEA schema with `pi-manage setup create_tables`, fills `pidea_audit`
//! with N privacyIDEA-shaped rows (each with a 512-hex-digit signature, as privacyIDEA signs
//! them, so the data is not unrealistically compressible), and then times, one after the other:
//!
//! * create — ours: `pi-manage backup create` (dump + xz archive + manifest, fsynced);
//!   baseline: `sqlite3 DB ".backup F" && xz -L F`, `pg_dump … | xz -L`, `mariadb-dump … | xz -L`
//!   at pi-manage's preset L (single-threaded, xz's default), and the same with `xz -T0`;
//! * restore — ours: `pi-manage backup restore --yes` (checks the whole archive first);
//!   baseline: `xz -dc | psql --single-transaction`, `xz -dc | mariadb`, `xz -dc > DB`.
//!
//! Wall time and peak RSS (`wait4`, children included) per run; both restores must leave N
//! audit rows. The result is a Markdown table on stdout.

// Test and benchmark programs print their own results (the program itself never does; see
// clippy.toml).
#![allow(clippy::disallowed_macros)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pi_manage::db::{self, Connection, OpenOptions};
use pi_manage::dburl::{Backend, DbUrl};

struct Args {
    audit_rows: u64,
    only: Option<Vec<String>>,
    level: Option<u32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench backup -- [--audit-rows N (default 1000000)] \
         [--only sqlite,postgresql,mysql] [--level 0-9]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        audit_rows: 1_000_000,
        only: None,
        level: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--bench" => {}
            "--audit-rows" => a.audit_rows = value().parse().unwrap_or_else(|_| usage()),
            "--level" => a.level = Some(value().parse().unwrap_or_else(|_| usage())),
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

/// A database for one dialect, with pi.cfg text.
struct Target {
    backend: Backend,
    url_text: String,
    url: DbUrl,
    admin: Option<DbUrl>,
    name: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin {
            if let Ok(mut c) = db::open(admin, &OpenOptions::default()) {
                let q = c.dialect().quote(&self.name);
                let _ = c.execute_batch(&format!("DROP DATABASE IF EXISTS {q}"));
            }
        }
    }
}

fn server_target(var: &str) -> Option<Target> {
    let text = std::env::var(var).ok()?;
    let admin = DbUrl::parse(&text).expect("admin URL");
    let name = format!("pim_bench_backup_{}", std::process::id());
    let mut c = db::open(&admin, &OpenOptions::default()).expect("connect");
    let q = c.dialect().quote(&name);
    c.execute_batch(&format!("DROP DATABASE IF EXISTS {q}"))
        .unwrap();
    c.execute_batch(&format!("CREATE DATABASE {q}")).unwrap();
    let mut url = admin.clone();
    url.database = Some(name.clone());
    let auth = match (&admin.user, &admin.password) {
        (Some(u), Some(p)) => format!("{u}:{}@", p.expose()),
        (Some(u), None) => format!("{u}@"),
        _ => String::new(),
    };
    let host = admin.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = admin.port.map(|p| format!(":{p}")).unwrap_or_default();
    Some(Target {
        backend: admin.backend,
        url_text: format!("{}://{auth}{host}{port}/{name}", admin.scheme),
        url,
        admin: Some(admin),
        name,
    })
}

/// Fill `pidea_audit` with `n` rows on the server side (fast, and no client memory).
fn fill(conn: &mut dyn Connection, backend: Backend, n: u64) {
    let sql = match backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
             INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, serial, token_type, \"user\", realm, administrator, action_detail, info, privacyidea_server, client, loglevel, clearance_level, policies) \
             SELECT x, datetime('now', '-' || (x % 400) || ' days'), datetime('now', '-' || (x % 400) || ' days'), '1970-01-01 00:00:00.012000', \
             'rsa_sha256_pss:' || lower(hex(randomblob(256))), 'POST /validate/check', x % 2, 'HOTP' || (x % 5000), 'hotp', 'user' || (x % 1000), 'realm1', '', '', 'wrong otp value', 'vecnode', '10.0.' || (x % 250) || '.1', 'default', 'default', 'policy1' FROM c"
        ),
        Backend::Postgres => format!(
            "INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, serial, token_type, \"user\", realm, administrator, action_detail, info, privacyidea_server, client, loglevel, clearance_level, policies) \
             SELECT x, now() - (x % 400) * interval '1 day', now() - (x % 400) * interval '1 day', interval '12 milliseconds', \
             'rsa_sha256_pss:' || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) \
             || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text), \
             'POST /validate/check', x % 2, 'HOTP' || (x % 5000), 'hotp', 'user' || (x % 1000), 'realm1', '', '', 'wrong otp value', 'vecnode', '10.0.' || (x % 250) || '.1', 'default', 'default', 'policy1' \
             FROM generate_series(1, {n}) AS x"
        ),
        Backend::Mysql => format!(
            "INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, serial, token_type, `user`, realm, administrator, action_detail, info, privacyidea_server, client, loglevel, clearance_level, policies) \
             SELECT seq, NOW() - INTERVAL (seq % 400) DAY, NOW() - INTERVAL (seq % 400) DAY, '1970-01-01 00:00:00.012000', \
             CONCAT('rsa_sha256_pss:', SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512)), \
             'POST /validate/check', seq % 2, CONCAT('HOTP', seq % 5000), 'hotp', CONCAT('user', seq % 1000), 'realm1', '', '', 'wrong otp value', 'vecnode', CONCAT('10.0.', seq % 250, '.1'), 'default', 'default', 'policy1' \
             FROM seq_1_to_{n}"
        ),
    };
    conn.execute_batch(&sql).expect("fill pidea_audit");
}

fn count(url: &DbUrl) -> i64 {
    let mut c = db::open(url, &OpenOptions::default()).expect("connect");
    c.query_i64("SELECT count(*) FROM pidea_audit", &[])
        .unwrap()
        .unwrap()
}

struct Line {
    db: &'static str,
    op: &'static str,
    ours: Run,
    base: Run,
    base_mt: Option<Run>,
    note: String,
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

fn mib(kib: i64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

fn bench_one(bin: &Path, t: &Target, rows: u64, level: Option<u32>, work: &Path) -> Vec<Line> {
    let label = t.backend.name();
    let dir = work.join(label);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("bk")).unwrap();
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

    // create
    let bk = dir.join("bk");
    let lvl = level
        .unwrap_or(pi_manage::backup::create::DEFAULT_XZ_LEVEL)
        .to_string();
    let etc = dir.join("etc").display().to_string();
    let mut args: Vec<&str> = vec!["backup", "create", "-d", bk.to_str().unwrap(), "-c", &etc];
    if level.is_some() {
        args.extend(["--level", lvl.as_str()]);
    }
    eprintln!("{label}: pi-manage backup create …");
    let ours = measure(&mut pim(&args));
    let archive = std::fs::read_dir(&bk)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.xz"))
        .expect("archive");
    let size = std::fs::metadata(&archive).unwrap().len();
    let raw = dir.join("raw");
    let (dump, env): (String, Vec<(&str, String)>) = match t.backend {
        Backend::Sqlite => (
            format!(
                "sqlite3 '{}' \".backup '{}'\" && xz -{lvl} -T1 -c '{}'",
                t.url.database.as_deref().unwrap(),
                dir.join("copy.sqlite").display(),
                dir.join("copy.sqlite").display()
            ),
            vec![],
        ),
        Backend::Postgres => (
            format!(
                "pg_dump --format=plain --clean --if-exists --no-owner --no-privileges --no-comments --host {} --port {} --username {} --no-password --dbname {} | xz -{lvl} -T1",
                t.url.host.as_deref().unwrap_or("127.0.0.1"),
                t.url.port.unwrap_or(5432),
                t.url.user.as_deref().unwrap_or("postgres"),
                t.name
            ),
            t.url.password.iter().map(|p| ("PGPASSWORD", p.expose().to_string())).collect(),
        ),
        Backend::Mysql => (
            format!(
                "mariadb-dump --single-transaction --skip-lock-tables --no-tablespaces --hex-blob --host={} --port={} --user={} {} | xz -{lvl} -T1",
                t.url.host.as_deref().unwrap_or("127.0.0.1"),
                t.url.port.unwrap_or(3306),
                t.url.user.as_deref().unwrap_or("root"),
                t.name
            ),
            t.url.password.iter().map(|p| ("MYSQL_PWD", p.expose().to_string())).collect(),
        ),
    };
    eprintln!("{label}: baseline dump | xz …");
    let base = sh(&format!("{dump} > '{}.xz'", raw.display()), &env);
    let base_size = std::fs::metadata(format!("{}.xz", raw.display()))
        .unwrap()
        .len();
    eprintln!("{label}: baseline dump | xz -T0 …");
    let base_mt = sh(
        &format!("{} > '{}.mt.xz'", dump.replace("-T1", "-T0"), raw.display()),
        &env,
    );
    let _ = std::fs::remove_file(dir.join("copy.sqlite"));
    let mut lines = vec![Line {
        db: label,
        op: "create",
        ours,
        base,
        base_mt: Some(base_mt),
        note: format!(
            "archive {:.0} MiB (baseline .xz {:.0} MiB)",
            size as f64 / 1048576.0,
            base_size as f64 / 1048576.0
        ),
    }];

    // restore
    eprintln!("{label}: pi-manage backup restore …");
    let target = dir.join("restored");
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
    let ours = measure(&mut pim(&rargs));
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
    let restore_cmd = match t.backend {
        Backend::Sqlite => format!("xz -dc '{}.xz' > '{}'", raw.display(), dir.join("base.sqlite").display()),
        Backend::Postgres => format!(
            "xz -dc '{}.xz' | psql --quiet --no-psqlrc --set ON_ERROR_STOP=on --single-transaction --output=/dev/null --host {} --port {} --username {} --no-password --dbname {}",
            raw.display(),
            t.url.host.as_deref().unwrap_or("127.0.0.1"),
            t.url.port.unwrap_or(5432),
            t.url.user.as_deref().unwrap_or("postgres"),
            t.name
        ),
        Backend::Mysql => format!(
            "xz -dc '{}.xz' | mariadb --batch --host={} --port={} --user={} {}",
            raw.display(),
            t.url.host.as_deref().unwrap_or("127.0.0.1"),
            t.url.port.unwrap_or(3306),
            t.url.user.as_deref().unwrap_or("root"),
            t.name
        ),
    };
    eprintln!("{label}: baseline xz -dc | restore …");
    let base = sh(&restore_cmd, &env);
    let base_url = match t.backend {
        Backend::Sqlite => {
            DbUrl::parse(&format!("sqlite:///{}", dir.join("base.sqlite").display())).unwrap()
        }
        _ => t.url.clone(),
    };
    assert_eq!(
        count(&base_url),
        rows as i64,
        "{label}: the baseline restore lost rows"
    );
    lines.push(Line {
        db: label,
        op: "restore",
        ours,
        base,
        base_mt: None,
        note: "ours also checks every checksum first".into(),
    });
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
        targets.extend(server_target("PIM_TEST_POSTGRES_URL"));
    }
    if wanted("mysql") {
        targets.extend(server_target("PIM_TEST_MYSQL_URL"));
    }
    let mut lines = Vec::new();
    for t in &targets {
        lines.extend(bench_one(&bin, t, args.audit_rows, args.level, work.path()));
    }
    let mut out = format!(
        "`cargo bench --bench backup -- --audit-rows {}{}` ({} audit rows)\n\n\
         | database | operation | pi-manage (s) | baseline, xz (s) | ratio | baseline, xz -T0 (s) | pi-manage peak RSS (MiB) | baseline peak RSS (MiB) | notes |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---|\n",
        args.audit_rows,
        args.level.map(|l| format!(" --level {l}")).unwrap_or_default(),
        args.audit_rows
    );
    for l in &lines {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {} | {} | {} | {} |\n",
            l.db,
            l.op,
            secs(l.ours.wall),
            secs(l.base.wall),
            l.ours.wall.as_secs_f64() / l.base.wall.as_secs_f64(),
            l.base_mt
                .as_ref()
                .map(|r| secs(r.wall))
                .unwrap_or_else(|| "–".into()),
            mib(l.ours.rss_kib),
            mib(l.base.rss_kib),
            l.note
        ));
    }
    print!("{out}");
}
