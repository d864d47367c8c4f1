//! `backup create` and `backup restore` killed with SIGKILL at several moments: what they
//! leave is private (0700 directories, 0600 files), named as ours, in the target's own
//! directory — and the next clean run of the same command removes it, while the temporary
//! files of a process that is still running are left alone.
//!
//! The moments are events (a temporary entry appears, a staged dump grows), not delays: a
//! database of ~30 MB of incompressible rows makes each phase last long enough to be caught,
//! and a slower machine only makes the windows wider.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pi_manage::backup::leftovers;
use pi_manage::db::Value;

use crate::harness::*;

/// Every path below `dir` (links not followed).
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// Our temporary entries below `dir` (top-level ones: the contents of a staging directory
/// are not listed separately).
fn ours(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(leftovers::PREFIX))
        })
        .collect()
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

/// Every temporary entry is private: directories 0700, files (also inside them) 0600.
fn assert_private(label: &str, entries: &[PathBuf]) {
    for p in entries {
        if p.is_dir() {
            assert_eq!(mode(p), 0o700, "{label}: {}", p.display());
            for inner in tree(p) {
                assert_eq!(mode(&inner), 0o600, "{label}: {}", inner.display());
            }
        } else {
            assert_eq!(mode(p), 0o600, "{label}: {}", p.display());
        }
    }
}

/// A temporary file that belongs to a live process (this test), as a concurrent run's would.
fn live_bystander(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let p = dir.join(format!(
        "{}live.tmp",
        leftovers::name_prefix("someone-else")
    ));
    fs::write(&p, "in use").unwrap();
    p
}

struct Setup {
    dir: tempfile::TempDir,
    _db: TestDb,
}

impl Setup {
    /// An installation on SQLite with ~30 MB of random (incompressible) challenge data.
    fn new() -> Setup {
        let db = privacyidea_databases()
            .into_iter()
            .find(|d| d.label() == "sqlite")
            .unwrap();
        let mut c = db.connect();
        c.begin().unwrap();
        let d = c.dialect();
        let sql = format!(
            "INSERT INTO {} ({}, {}, {}, {}) VALUES (?, ?, ?, '')",
            d.quote("challenge"),
            d.quote("id"),
            d.quote("transaction_id"),
            d.quote("data"),
            d.quote("session")
        );
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..15_000 {
            let data: String = (0..128)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    format!("{seed:016x}")
                })
                .collect();
            c.execute(
                &sql,
                &[
                    Value::Int(i + 1),
                    Value::Text(format!("{i:020}")),
                    Value::Text(data),
                ],
            )
            .unwrap();
        }
        c.commit().unwrap();
        drop(c);
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        fs::create_dir(&etc).unwrap();
        fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crypto/enckey"),
            etc.join("enckey"),
        )
        .unwrap();
        fs::write(
            etc.join("pi.cfg"),
            format!(
                "SQLALCHEMY_DATABASE_URI = '{}'\nPI_ENCFILE = '{}'\n",
                db.url_text(),
                etc.join("enckey").display()
            ),
        )
        .unwrap();
        Setup { dir, _db: db }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pi-manage"));
        c.arg("--picfg")
            .arg(self.path("etc/pi.cfg"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn create_args(&self) -> Vec<String> {
        vec![
            "backup".into(),
            "create".into(),
            "-d".into(),
            self.path("backup").display().to_string(),
        ]
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A moment to kill at: what it is, and how to tell it has come.
type Moment<'a> = (&'static str, Box<dyn Fn() -> bool + 'a>);

/// Start `cmd`, and SIGKILL it the moment `moment` holds. `false` when the process ended on
/// its own first (the moment was missed; the caller tries again).
fn kill_at(cmd: &mut Command, moment: &dyn Fn() -> bool) -> bool {
    let mut child: Child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if moment() {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        assert!(Instant::now() < deadline, "the process never got there");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn kill_until_caught(label: &str, cmd: &mut dyn FnMut() -> Command, moment: &dyn Fn() -> bool) {
    for _ in 0..10 {
        if kill_at(&mut cmd(), moment) {
            return;
        }
    }
    panic!("{label}: the moment was never caught in 10 runs");
}

/// The size of our largest temporary file below `dir` (inside staging directories too).
fn largest_temp(dir: &Path) -> u64 {
    ours(dir)
        .iter()
        .flat_map(|p| if p.is_dir() { tree(p) } else { vec![p.clone()] })
        .filter_map(|p| {
            fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn killed_backups_leave_private_files_that_the_next_backup_removes() {
    let s = Setup::new();
    let backup_dir = s.path("backup");
    let bystander = live_bystander(&backup_dir);
    let archive_temp = |d: &Path| {
        ours(d).iter().any(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("privacyidea-backup-"))
        })
    };
    let moments: [Moment; 3] = [
        (
            "the staging directory was just made",
            Box::new(|| ours(&backup_dir).iter().any(|p| p.is_dir())),
        ),
        (
            "the dump is being written",
            Box::new(|| largest_temp(&backup_dir) > 1 << 20),
        ),
        (
            "the archive is being written",
            Box::new(|| archive_temp(&backup_dir)),
        ),
    ];
    let args = s.create_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for (label, moment) in &moments {
        kill_until_caught(label, &mut || s.command(&args), moment.as_ref());
        let left: Vec<PathBuf> = ours(&backup_dir)
            .into_iter()
            .filter(|p| *p != bystander)
            .collect();
        assert!(!left.is_empty(), "{label}: the kill left nothing to test");
        assert_private(label, &left);
        // Killed runs never leave a finished-looking archive.
        assert!(
            fs::read_dir(&backup_dir)
                .unwrap()
                .flatten()
                .all(|e| e.file_name().to_string_lossy().starts_with('.')),
            "{label}: {:?}",
            tree(&backup_dir)
        );
    }
    let o = s.command(&args).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("left by an earlier run that was killed"),
        "{}",
        text(&o)
    );
    assert_eq!(
        ours(&backup_dir),
        vec![bystander.clone()],
        "only the live process's file is left"
    );
}

#[test]
fn killed_restores_leave_private_files_that_the_next_restore_removes() {
    let s = Setup::new();
    let args = s.create_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = s.command(&args).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let archive = fs::read_dir(s.path("backup"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .expect("an archive");
    let target = s.path("target");
    let config = target.join(s.path("etc").strip_prefix("/").unwrap());
    let bystander = live_bystander(&config);
    let restore = || {
        let mut c = s.command(&["backup", "restore"]);
        c.arg(&archive).arg("--target-dir").arg(&target);
        c
    };
    let moments: [Moment; 2] = [
        (
            "the first file is being staged",
            Box::new(|| ours(&target).iter().any(|p| *p != bystander)),
        ),
        (
            "the dump is being staged",
            Box::new(|| largest_temp(&target) > 1 << 20),
        ),
    ];
    for (label, moment) in &moments {
        kill_until_caught(label, &mut || restore(), moment.as_ref());
        let left: Vec<PathBuf> = ours(&target)
            .into_iter()
            .filter(|p| *p != bystander)
            .collect();
        assert!(!left.is_empty(), "{label}: the kill left nothing to test");
        assert_private(label, &left);
    }
    let o = restore().output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("left by an earlier run that was killed"),
        "{}",
        text(&o)
    );
    assert_eq!(
        ours(&target),
        vec![bystander.clone()],
        "only the live process's file is left: {:?}",
        tree(&target)
    );
    assert!(
        !tree(&target)
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".tmp") && *p != bystander),
        "{:?}",
        tree(&target)
    );
}
