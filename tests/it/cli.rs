//! The built binary: privacyIDEA's command spellings and output lines, exit codes, JSON
//! reports, and that secrets never reach the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Local, TimeDelta, Utc};
use pi_manage::db::{self, Connection, OpenOptions};
use pi_manage::dburl::DbUrl;

use crate::harness::{ids, insert_audit, insert_challenges, wait_for};

struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    /// A SQLite installation with privacyIDEA's schema, `audit` rows 1..=n (row i is i hours
    /// minus 30 minutes old, so no row sits on a whole-day boundary) and a pi.cfg naming it.
    fn new(n: i64) -> Install {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pi.sqlite");
        std::fs::write(
            dir.path().join("pi.cfg"),
            format!("SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\nSECRET_KEY = 'top-secret-key-value'\nPI_PEPPER = \"pepper-value\"\n", db.display()),
        )
        .unwrap();
        let i = Install { dir };
        let mut c = i.conn_create();
        c.execute_batch(include_str!("../../src/db/ddl/sqlite_full.sql"))
            .unwrap();
        let now = Local::now().naive_local();
        let rows: Vec<_> = (1..=n)
            .map(|k| {
                (
                    k,
                    now - TimeDelta::hours(k) + TimeDelta::minutes(30),
                    "POST /validate/check",
                    "u",
                )
            })
            .collect();
        insert_audit(c.as_mut(), &rows);
        i
    }

    fn picfg(&self) -> PathBuf {
        self.dir.path().join("pi.cfg")
    }

    fn url(&self) -> DbUrl {
        DbUrl::parse(&format!(
            "sqlite:///{}",
            self.dir.path().join("pi.sqlite").display()
        ))
        .unwrap()
    }

    fn conn_create(&self) -> Box<dyn Connection> {
        db::open(
            &self.url(),
            &OpenOptions {
                create: true,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn conn(&self) -> Box<dyn Connection> {
        db::open(&self.url(), &OpenOptions::default()).unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        pi_manage(
            self.dir.path(),
            &[&["--picfg", self.picfg().to_str().unwrap()], args].concat(),
        )
    }
}

fn pi_manage(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args(args)
        .current_dir(cwd)
        .env_remove("PRIVACYIDEA_CONFIGFILE")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_and_help() {
    let o = pi_manage(Path::new("."), &["--version"]);
    assert_eq!(
        stdout(&o),
        format!("pi-manage {}\n", env!("CARGO_PKG_VERSION"))
    );
    let o = pi_manage(Path::new("."), &["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains(
        "Exit codes: 0 ok, 1 a task failed, 2 invalid input or usage, 3 could not connect"
    ));
}

#[test]
fn audit_rotate_prints_privacyideas_lines() {
    let i = Install::new(20);
    let o = i.run(&["audit", "rotate", "-hw", "10", "-lw", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Cleaning up with high: 10, low: 5.\nThe log audit log has 20 entries, the last one is 20\nMore than 10 entries, deleting...\nDeleting entries smaller than 16\n15 entries deleted.\n"
    );
    // The newest by id are kept, whatever their dates.
    assert_eq!(
        ids(i.conn().as_mut(), "pidea_audit"),
        vec![16, 17, 18, 19, 20]
    );
}

#[test]
fn rotate_audit_alias_dryrun_and_age() {
    let i = Install::new(48);
    let o = i.run(&["rotate_audit", "--age", "1", "--dryrun"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Cleaning up with age: 1.");
    assert!(lines[1].starts_with("Deleting entries older than "));
    assert_eq!(lines[2], "Would delete 24 entries.");
    assert_eq!(ids(i.conn().as_mut(), "pidea_audit").len(), 48);
    let o = i.run(&["audit", "rotate", "--age", "1", "--chunksize", "5"]);
    assert!(
        stdout(&o).ends_with("24 entries deleted.\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn audit_rotate_with_a_privacyidea_rules_file() {
    let i = Install::new(30);
    let rules = i.dir.path().join("rules.yaml");
    std::fs::write(&rules, "- rotate: 1\n  action: validate\n").unwrap();
    let o = i.run(&[
        "audit",
        "rotate",
        "--config",
        rules.to_str().unwrap(),
        "--age",
        "100",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Cleaning up with config file.\nRule {'rotate': 1, 'action': 'validate'} matched 6 times.\nCleaning up 6 entries.\n"
    );
    // A rules file privacyIDEA would crash on is a clear error with its position.
    std::fs::write(&rules, "- user: x\n").unwrap();
    let o = i.run(&["audit", "rotate", "--config", rules.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("{}:1:3: rule has no 'rotate'", rules.display())),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_exit_2() {
    let i = Install::new(3);
    for args in [
        &["audit", "rotate", "-lw", "-1"][..],
        &["audit", "rotate", "--chunksize", "0"],
        &["audit", "rotate", "--age", "-1"],
        &["config", "challenge", "cleanup", "--chunksize", "0"],
        &["config", "challenge", "cleanup", "--age", "0"],
        &["no-such-command"],
    ] {
        let o = i.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = i.run(&["config", "challenge", "cleanup", "--age", "0"]);
    assert!(
        stderr(&o).contains("an age of 0 would delete every challenge"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        ids(i.conn().as_mut(), "pidea_audit").len(),
        3,
        "nothing touched"
    );
}

#[test]
fn challenge_cleanup_command() {
    let i = Install::new(0);
    let now = Utc::now().naive_utc();
    insert_challenges(
        i.conn().as_mut(),
        &[
            (1, now - TimeDelta::hours(3), now - TimeDelta::hours(2)),
            (2, now, now + TimeDelta::hours(1)),
        ],
    );
    let o = i.run(&["config", "challenge", "cleanup", "--dryrun"]);
    assert_eq!(
        stdout(&o),
        "Deleting expired challenges.\nWould delete 1 challenge entries.\n"
    );
    let o = i.run(&["config", "challenge", "cleanup", "--chunksize", "1"]);
    assert_eq!(
        stdout(&o),
        "Deleting expired challenges.\n1 entries deleted.\n"
    );
    let o = i.run(&["config", "challenge", "cleanup", "--age", "60"]);
    assert!(
        stdout(&o).starts_with("Deleting challenges older than "),
        "{}",
        stdout(&o)
    );
    assert_eq!(ids(i.conn().as_mut(), "challenge"), vec![2]);
}

#[test]
fn configuration_problems() {
    let dir = tempfile::tempdir().unwrap();
    // Missing pi.cfg: exit 2 with the path.
    let o = pi_manage(
        dir.path(),
        &["--picfg", "/nonexistent/pi.cfg", "audit", "rotate"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("pi.cfg not found at /nonexistent/pi.cfg"),
        "{}",
        stderr(&o)
    );
    // pi.cfg beyond what pi-manage evaluates: exit 2 with line and column, never executed.
    let cfg = dir.path().join("pi.cfg");
    std::fs::write(
        &cfg,
        "import os\nSQLALCHEMY_DATABASE_URI = os.popen('id').read()\n",
    )
    .unwrap();
    let o = pi_manage(
        dir.path(),
        &["--picfg", cfg.to_str().unwrap(), "audit", "rotate"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("{}:2:30: calling 'os.popen'", cfg.display())),
        "{}",
        stderr(&o)
    );
    // A database file that does not exist: could not connect, exit 3; nothing is created.
    std::fs::write(
        &cfg,
        "SQLALCHEMY_DATABASE_URI = 'sqlite:////nonexistent/dir/pi.sqlite'\n",
    )
    .unwrap();
    let o = pi_manage(
        dir.path(),
        &["--picfg", cfg.to_str().unwrap(), "audit", "rotate"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/nonexistent/dir/pi.sqlite does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unreachable_server_exits_3_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pi.cfg");
    for url in [
        "postgresql+psycopg2://pi:Sup3r%40Secret@127.0.0.1:1/pi",
        "mysql+pymysql://pi:Sup3r%40Secret@127.0.0.1:1/pi",
    ] {
        std::fs::write(&cfg, format!("SQLALCHEMY_DATABASE_URI = '{url}'\n")).unwrap();
        let o = pi_manage(
            dir.path(),
            &[
                "--picfg",
                cfg.to_str().unwrap(),
                "config",
                "challenge",
                "cleanup",
            ],
        );
        assert_eq!(o.status.code(), Some(3), "{url}: {}", stderr(&o));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("Sup3r") && !all.contains("Secret"), "{all}");
    }
}

#[test]
fn run_reports_json_and_selects_tasks() {
    let i = Install::new(20);
    let job = i.dir.path().join("job.yaml");
    std::fs::write(
        &job,
        format!(
            "version: 1\nname: json\nconnection:\n  picfg: {}\ntasks:\n  - name: keep-five\n    kind: audit_rotate\n    watermark: {{high: 10, low: 5}}\n  - kind: challenge_cleanup\n",
            i.picfg().display()
        ),
    )
    .unwrap();
    let o = pi_manage(
        i.dir.path(),
        &[
            "--output",
            "json",
            "run",
            job.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["jobs"][0]["dry_run"], true);
    assert_eq!(v["jobs"][0]["tasks"][0]["matched"], 15);
    assert_eq!(v["jobs"][0]["tasks"][0]["status"], "dry_run");
    assert_eq!(v["jobs"][0]["tasks"][0]["cutoff"], "id < 16");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("top-secret-key-value") && !text.contains("pepper-value"));
    assert_eq!(ids(i.conn().as_mut(), "pidea_audit").len(), 20);
    // --task runs only that task; an unknown one is a usage error.
    let o = pi_manage(
        i.dir.path(),
        &["run", job.to_str().unwrap(), "--task", "keep-five"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("- keep-five [audit_rotate]") && !out.contains("challenge_cleanup"),
        "{out}"
    );
    assert!(out.contains("done: deleted 15 rows (id < 16)"), "{out}");
    let o = pi_manage(
        i.dir.path(),
        &["run", job.to_str().unwrap(), "--task", "nope"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no task named 'nope'"));
}

#[test]
fn nothing_runs_when_any_file_is_invalid() {
    let i = Install::new(20);
    let good = i.dir.path().join("good.yaml");
    let bad = i.dir.path().join("bad.yaml");
    std::fs::write(&good, format!("version: 1\nname: g\nconnection:\n  picfg: {}\ntasks:\n  - kind: audit_rotate\n    watermark: {{high: 1, low: 1}}\n", i.picfg().display())).unwrap();
    std::fs::write(
        &bad,
        "version: 1\nname: b\ntasks:\n  - kind: audit_rotate\n    older_than: 30\n",
    )
    .unwrap();
    let o = pi_manage(
        i.dir.path(),
        &["run", good.to_str().unwrap(), bad.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("{}:5:17: a duration needs a unit", bad.display())),
        "{}",
        stderr(&o)
    );
    assert_eq!(ids(i.conn().as_mut(), "pidea_audit").len(), 20);
    let o = pi_manage(
        i.dir.path(),
        &[
            "validate",
            "--format",
            "json",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[1]["valid"], false);
    assert_eq!(v[1]["diagnostics"][0]["line"], 5);
    assert_eq!(v[1]["diagnostics"][0]["pointer"], "/tasks/0/older_than");
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let o = pi_manage(Path::new("."), &["schema"]);
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/job.schema.json"
    ))
    .unwrap();
    assert_eq!(stdout(&o), committed);
}

#[test]
fn create_tables_command_and_alias() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pi.cfg");
    std::fs::write(&cfg, "SQLALCHEMY_DATABASE_URI = 'sqlite:///new.sqlite'\n").unwrap();
    let o = pi_manage(
        dir.path(),
        &["--picfg", cfg.to_str().unwrap(), "setup", "create_tables"],
    );
    assert_eq!(
        stdout(&o),
        "Created 68 tables, stamped with revision b7c1e4d2a9f3.\n",
        "{}",
        stderr(&o)
    );
    assert!(
        dir.path().join("new.sqlite").exists(),
        "relative sqlite paths resolve against the current directory"
    );
    let o = pi_manage(dir.path(), &["--picfg", cfg.to_str().unwrap(), "createdb"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Nothing was created."));
}

#[test]
fn sigint_finishes_the_chunk_reports_and_a_rerun_continues() {
    let i = Install::new(0);
    {
        // Old rows, deleted one per transaction: slow enough to interrupt.
        let now = Local::now().naive_local();
        let rows: Vec<_> = (1..=20_000)
            .map(|k| (k, now - TimeDelta::days(400), "POST /validate/check", "u"))
            .collect();
        insert_audit(i.conn().as_mut(), &rows);
    }
    let child = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args([
            "--picfg",
            i.picfg().to_str().unwrap(),
            "audit",
            "rotate",
            "--age",
            "30",
            "--chunksize",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The interrupt must land while rows are being deleted: wait until the first deletes
    // are committed (an event, not a delay), then send SIGINT as Ctrl-C would. 20,000 rows one
    // per transaction leave far more deleting to do than it takes to deliver a signal.
    let mut watch = i.conn();
    let count_sql = "SELECT count(*) FROM pidea_audit";
    let mut child = child;
    wait_for("the first committed delete", || {
        let left = watch
            .query_i64(count_sql, &[])
            .ok()
            .flatten()
            .unwrap_or(20_000);
        assert!(
            left < 20_000 || matches!(child.try_wait(), Ok(None)),
            "the rotation ended before any delete was seen"
        );
        (left < 20_000).then_some(())
    });
    // SAFETY: signalling our own child by its pid.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let out = child.wait_with_output().unwrap();
    let left = ids(i.conn().as_mut(), "pidea_audit").len();
    assert_ne!(
        out.status.code(),
        Some(0),
        "the deletes finished before the interrupt landed, so the interrupt path was not exercised (use more rows): {}",
        stdout(&out)
    );
    assert!(left > 0, "the interrupt stopped the deletes midway");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted;"), "{}", stderr(&out));
    let deleted: usize = stdout(&out)
        .lines()
        .find_map(|l| {
            l.strip_suffix(" entries deleted.")
                .map(|n| n.parse().unwrap())
        })
        .expect("the deleted count is printed");
    assert_eq!(
        left,
        20_000 - deleted,
        "what is reported as deleted is exactly what is gone"
    );
    let o = i.run(&["audit", "rotate", "--age", "30", "--chunksize", "1000"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(ids(i.conn().as_mut(), "pidea_audit").len(), 0);
}
