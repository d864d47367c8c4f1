//! Backups: create → verify → drop everything → restore gives identical rows on every
//! database (sequences included); privacyIDEA's own archives restore; every refusal leaves the
//! target untouched; retention keeps exactly the right archives; a live SQLite database is
//! copied consistently; failures leave nothing behind; the `.tgz` reads as privacyIDEA reads it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{NaiveDateTime, TimeDelta};
use pi_manage::backup::restore::{self, RestoreOptions};
use pi_manage::backup::{self, inventory, Lines};
use pi_manage::clock::{Clock, FixedClock};
use pi_manage::db::{Connection, OpenOptions, Value};
use pi_manage::dburl::{Backend, DbUrl};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{Duration, TaskSpec};
use pi_manage::settings::Settings;
use pi_manage::tasks::backup::{ArchiveFormat, Backup, Retention};
use pi_manage::tasks::backup_verify::BackupVerify;
use pi_manage::tasks::{self, TaskSite, TaskStatus};
use sha2::{Digest, Sha256};

use crate::harness::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/backup");
const VECTOR: &str = "privacyidea-backup-20261122-1300.tgz";

// ---------------------------------------------------------------------------------------------
// Helpers

/// A privacyIDEA installation in a temporary directory: `etc/pi.cfg` naming `url`, an enckey
/// and an audit key in `etc/`, backups in `backup/`.
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new(url: &str) -> Install {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        fs::create_dir(&etc).unwrap();
        fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crypto/enckey"),
            etc.join("enckey"),
        )
        .unwrap();
        fs::write(etc.join("private.pem"), "-----BEGIN RSA PRIVATE KEY-----\n").unwrap();
        fs::set_permissions(
            etc.join("private.pem"),
            std::os::unix::fs::PermissionsExt::from_mode(0o400),
        )
        .unwrap();
        fs::write(
            etc.join("pi.cfg"),
            format!(
                "SQLALCHEMY_DATABASE_URI = '{url}'\nPI_ENCFILE = '{}'\nSECRET_KEY = 'backup-test-secret'\n",
                etc.join("enckey").display()
            ),
        )
        .unwrap();
        Install { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn settings(&self, url: &DbUrl) -> Settings {
        let mut s = Settings::for_database(url.clone());
        s.picfg_path = Some(self.path("etc/pi.cfg"));
        s.encfile = Some(self.path("etc/enckey"));
        s
    }

    fn archives(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(self.path("backup"))
            .map(|r| r.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .arg("--picfg")
            .arg(self.path("etc/pi.cfg"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .unwrap()
    }
}

/// The database URL as pi.cfg text (with its password).
fn url_text(u: &DbUrl) -> String {
    if u.backend == Backend::Sqlite {
        return format!("sqlite:///{}", u.database.as_deref().unwrap_or_default());
    }
    let auth = match (&u.user, &u.password) {
        (Some(user), Some(pw)) => format!("{user}:{}@", pw.expose()),
        (Some(user), None) => format!("{user}@"),
        _ => String::new(),
    };
    let host = u.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = u.port.map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{auth}{host}{port}/{}",
        u.scheme,
        u.database.as_deref().unwrap_or_default()
    )
}

fn backup_spec(install: &Install) -> Backup {
    Backup {
        name: Some("backup".into()),
        directory: Some(install.path("backup")),
        config_dir: Some(install.path("etc")),
        ..Default::default()
    }
}

fn run_backup(
    db: &TestDb,
    install: &Install,
    spec: TaskSpec,
    dry_run: bool,
    clock: &dyn Clock,
) -> RunResult {
    let site = TaskSite::command_line(Path::new("."));
    let mut diags = Vec::new();
    let task = tasks::prepare(&spec, &site, &mut diags)
        .unwrap_or_else(|| panic!("invalid spec: {diags:?}"));
    run_task(
        db,
        task,
        dry_run,
        clock,
        &Interrupt::new(),
        &install.settings(&db.url),
    )
}

/// Every table's rows, as sorted text, so two databases can be compared exactly.
fn contents(conn: &mut dyn Connection) -> BTreeMap<String, Vec<String>> {
    let d = conn.dialect();
    let mut out = BTreeMap::new();
    for t in inventory::table_names(conn).unwrap() {
        let mut rows: Vec<String> = conn
            .query_rows(&format!("SELECT * FROM {}", d.quote(&t)), &[])
            .unwrap()
            .iter()
            .map(|r| format!("{:?}", r.0))
            .collect();
        rows.sort();
        out.insert(t, rows);
    }
    out
}

/// Take `n` ids from privacyIDEA's challenge sequence (where the database has one), inserting
/// a challenge for each, so the sequence's position is part of what must survive.
fn insert_challenges_from_sequence(conn: &mut dyn Connection, n: usize) -> Vec<i64> {
    let d = conn.dialect();
    let next = conn.next_id_sql("challenge_seq").unwrap();
    let now = clock_utc().now_utc();
    let mut ids = Vec::new();
    let first = conn
        .query_i64(
            &format!("SELECT count(*) FROM {}", d.quote("challenge")),
            &[],
        )
        .unwrap()
        .unwrap() as usize;
    for i in first..first + n {
        let (cols, vals, params) = match &next {
            Some(expr) => (
                format!("{}, ", d.quote("id")),
                format!("{expr}, "),
                Vec::new(),
            ),
            None => (String::new(), String::new(), Vec::new()),
        };
        let mut params: Vec<Value> = params;
        params.extend([
            Value::Text(format!("seq{i:017}")),
            Value::DateTime(now),
            Value::DateTime(now + TimeDelta::minutes(5)),
            Value::Text(String::new()),
            Value::Text(String::new()),
        ]);
        conn.execute(
            &format!(
                "INSERT INTO {} ({cols}{}, {}, {}, {}, {}) VALUES ({vals}?, ?, ?, ?, ?)",
                d.quote("challenge"),
                d.quote("transaction_id"),
                d.quote("timestamp"),
                d.quote("expiration"),
                d.quote("data"),
                d.quote("session"),
            ),
            &params,
        )
        .unwrap();
        let id = conn
            .query_i64(
                &format!(
                    "SELECT {} FROM {} WHERE {} = ?",
                    d.quote("id"),
                    d.quote("challenge"),
                    d.quote("transaction_id")
                ),
                &[Value::Text(format!("seq{i:017}"))],
            )
            .unwrap()
            .unwrap();
        ids.push(id);
    }
    ids
}

/// Remove every table (and sequence) of the database, or the SQLite file.
fn drop_everything(db: &TestDb) {
    match db.backend {
        Backend::Sqlite => {
            fs::remove_file(db.url.sqlite_path(Path::new("/")).unwrap()).unwrap();
        }
        Backend::Postgres => {
            db.connect()
                .execute_batch("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                .unwrap();
        }
        Backend::Mysql => {
            let mut c = db.connect();
            let d = c.dialect();
            let objects: Vec<(String, String)> = c
                .query_rows(
                    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE()",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get(0).as_str().unwrap().to_string(),
                        r.get(1).as_str().unwrap().to_string(),
                    )
                })
                .collect();
            c.execute_batch("SET FOREIGN_KEY_CHECKS = 0").unwrap();
            for (name, kind) in objects {
                let what = if kind == "SEQUENCE" {
                    "SEQUENCE"
                } else {
                    "TABLE"
                };
                c.execute_batch(&format!("DROP {what} {}", d.quote(&name)))
                    .unwrap();
            }
        }
    }
}

fn restore_opts<'a>(
    archive: &Path,
    target: Option<&Path>,
    yes: bool,
    interrupt: &'a Interrupt,
) -> RestoreOptions<'a> {
    RestoreOptions {
        archive: archive.to_path_buf(),
        keep_db_uri: false,
        target_dir: target.map(Path::to_path_buf),
        yes,
        confirm: None,
        open: OpenOptions::default(),
        interrupt,
    }
}

/// All paths below `dir` (files, directories), relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(base).unwrap().display().to_string());
                if p.is_dir() && !p.is_symlink() {
                    walk(base, &p, out);
                }
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(p).unwrap()))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn create_verify_drop_restore_gives_identical_rows_on_every_database() {
    let clock = clock_utc();
    let now = clock.now_local();
    for db in privacyidea_databases() {
        let label = db.label();
        let install = Install::new(&url_text(&db.url));
        {
            let mut c = db.connect();
            let rows: Vec<_> = (1..=300)
                .map(|i| {
                    (
                        i,
                        now - TimeDelta::hours(i),
                        "POST /validate/check",
                        "alice ü 🙂",
                    )
                })
                .collect();
            insert_audit(c.as_mut(), &rows);
            insert_challenges_from_sequence(c.as_mut(), 5);
        }
        let before = contents(db.connect().as_mut());

        let made = run_backup(
            &db,
            &install,
            TaskSpec::Backup(backup_spec(&install)),
            false,
            &clock,
        );
        assert_eq!(
            made.outcome().status,
            TaskStatus::Created,
            "{label}: {:?}",
            made.report
        );
        let archive = PathBuf::from(made.outcome().details["archive"].as_str().unwrap());
        assert_eq!(
            install.archives(),
            std::slice::from_ref(&archive),
            "{label}: only the archive is left"
        );
        assert_eq!(fs::metadata(&archive).unwrap().mode() & 0o777, 0o600);
        assert!(archive
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("privacyidea-backup-"));
        assert_eq!(made.outcome().details["contains_enckey"], false);
        assert!(made
            .lines
            .iter()
            .any(|l| l.starts_with("Not archived: ") && l.contains("enckey")));

        let verified = run_backup(
            &db,
            &install,
            TaskSpec::BackupVerify(BackupVerify {
                file: Some(archive.clone()),
                ..Default::default()
            }),
            false,
            &clock,
        );
        assert_eq!(
            verified.outcome().status,
            TaskStatus::Done,
            "{label}: {:?}",
            verified.lines
        );
        assert!(verified
            .lines
            .iter()
            .any(|l| l.starts_with("All ") && l.contains("match the manifest")));

        // Something the restore must undo, then nothing at all.
        fs::write(install.path("etc/pi.cfg"), "# overwritten\n").unwrap();
        drop_everything(&db);

        let interrupt = Interrupt::new();
        let mut lines = Lines::default();
        let restored = restore::restore(restore_opts(&archive, None, true, &interrupt), &mut lines)
            .unwrap_or_else(|e| panic!("{label}: {e}\n{:?}", lines.0));
        assert_eq!(
            lines.0[0],
            "NO FILE 'enckey' CONTAINED! BE SURE TO RESTORE THE ENCRYPTION KEY MANUALLY!"
        );
        assert!(lines.0.contains(&"=".repeat(60)));
        assert!(restored.enckey.is_empty());
        assert!(fs::read_to_string(install.path("etc/pi.cfg"))
            .unwrap()
            .starts_with("SQLALCHEMY_DATABASE_URI"));
        assert_eq!(
            fs::metadata(install.path("etc/private.pem"))
                .unwrap()
                .mode()
                & 0o777,
            0o400
        );

        let mut c = db.connect();
        let after = contents(c.as_mut());
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "{label}"
        );
        for (t, rows) in &before {
            assert_eq!(
                rows, &after[t],
                "{label}: table {t} differs after the restore"
            );
        }
        // The sequences kept their position: new ids continue after the old ones.
        let old_max = ids(c.as_mut(), "challenge").into_iter().max().unwrap();
        let new = insert_challenges_from_sequence(c.as_mut(), 1);
        assert!(
            new[0] > old_max,
            "{label}: id {} reused (max was {old_max})",
            new[0]
        );
        match db.backend {
            Backend::Postgres => {
                assert_eq!(
                    new[0],
                    old_max + 1,
                    "{label}: the sequence continues where it was"
                )
            }
            // MariaDB dumps a sequence at its next uncached value (as after a server restart),
            // so it may jump ahead by its cache size; it never goes back.
            Backend::Mysql => assert!(
                c.next_id_sql("challenge_seq").unwrap().is_some(),
                "{label}: the sequence object was restored"
            ),
            Backend::Sqlite => {}
        }
        // No temporary file anywhere in the installation.
        let leftovers: Vec<String> = tree(install.dir.path())
            .into_iter()
            .filter(|p| p.contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{label}: {leftovers:?}");
    }
}

/// The dump goes into a `.tar.zst` as the zstd frames it was compressed into while the dump
/// tool wrote it, between frames of the rest of the archive. The result must be one valid
/// zstd stream and tar archive for every reader: ours (`backup verify`, above and here), and
/// the standard `zstd` and `tar --zstd`, which must extract exactly the dump the manifest
/// describes.
#[test]
fn the_default_archive_splices_the_compressed_dump_and_reads_with_standard_tools() {
    let clock = clock_utc();
    let now = clock.now_local();
    let tools = Command::new("zstd").arg("--version").output().is_ok();
    if !tools {
        eprintln!("zstd is not installed: the standard-tool half of this test is skipped");
    }
    for db in privacyidea_databases() {
        let label = db.label();
        let install = Install::new(&url_text(&db.url));
        {
            let mut c = db.connect();
            let rows: Vec<_> = (1..=3000)
                .map(|i| {
                    (
                        i,
                        now - TimeDelta::minutes(i),
                        "POST /validate/check",
                        "bob",
                    )
                })
                .collect();
            insert_audit(c.as_mut(), &rows);
        }
        let made = run_backup(
            &db,
            &install,
            TaskSpec::Backup(backup_spec(&install)),
            false,
            &clock,
        );
        assert_eq!(
            made.outcome().status,
            TaskStatus::Created,
            "{label}: {:?}",
            made.report
        );
        let archive = PathBuf::from(made.outcome().details["archive"].as_str().unwrap());
        assert!(archive.to_string_lossy().ends_with(".tar.zst"), "{label}");

        // More than one frame: the first one alone ends inside the archive.
        let mut first = Vec::new();
        zstd::stream::read::Decoder::new(fs::File::open(&archive).unwrap())
            .unwrap()
            .single_frame()
            .read_to_end(&mut first)
            .unwrap();
        let mut whole = Vec::new();
        zstd::stream::read::Decoder::new(fs::File::open(&archive).unwrap())
            .unwrap()
            .read_to_end(&mut whole)
            .unwrap();
        assert!(
            first.len() < whole.len(),
            "{label}: one frame only ({} bytes)",
            whole.len()
        );

        // The dump member and its manifest entry, read with the tar crate over the whole stream.
        let mut manifest = None;
        let mut dump = None;
        let mut tar = tar::Archive::new(&whole[..]);
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.header().entry_type() == tar::EntryType::XGlobalHeader {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                manifest = Some(String::from_utf8(data).unwrap());
                continue;
            }
            let name = entry.path().unwrap().display().to_string();
            if name.contains("/dbdump-") {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).unwrap();
                dump = Some((name, data));
            }
        }
        let (dump_name, dump_data) = dump.unwrap_or_else(|| panic!("{label}: no dump member"));
        let manifest = manifest.unwrap();
        let sum = hex::encode(Sha256::digest(&dump_data));
        assert!(
            manifest.contains(&sum),
            "{label}: the dump's SHA-256 {sum} is not in the manifest"
        );
        assert!(
            dump_data.len() > 100_000,
            "{label}: {} bytes",
            dump_data.len()
        );

        let verified = install.run(&["backup", "verify", archive.to_str().unwrap()]);
        assert_eq!(
            verified.status.code(),
            Some(0),
            "{label}: {}{}",
            stdout(&verified),
            stderr(&verified)
        );

        if tools {
            let t = Command::new("zstd")
                .args(["-q", "-t"])
                .arg(&archive)
                .output()
                .unwrap();
            assert!(t.status.success(), "{label}: zstd -t: {}", stderr(&t));
            let x = Command::new("tar")
                .args(["--zstd", "-xOf"])
                .arg(&archive)
                .arg(&dump_name)
                .output()
                .unwrap();
            assert!(x.status.success(), "{label}: tar --zstd -x: {}", stderr(&x));
            assert!(
                x.stdout == dump_data,
                "{label}: tar extracted {} bytes that differ from the dump",
                x.stdout.len()
            );
        }
    }
}

#[test]
fn sqlite_restore_into_a_target_directory_touches_nothing_else() {
    for db in databases()
        .into_iter()
        .filter(|d| d.backend == Backend::Sqlite)
    {
        let install = Install::new(&url_text(&db.url));
        let clock = clock_utc();
        assert_eq!(
            run_spec(
                &db,
                TaskSpec::CreateTables(Default::default()),
                false,
                &clock
            )
            .report
            .status,
            pi_manage::executor::JobStatus::Ok
        );
        let mut spec = backup_spec(&install);
        spec.include_enckey = true;
        spec.format = ArchiveFormat::Tgz;
        let made = run_backup(&db, &install, TaskSpec::Backup(spec), false, &clock);
        assert_eq!(made.outcome().details["contains_enckey"], true);
        let archive = PathBuf::from(made.outcome().details["archive"].as_str().unwrap());
        assert!(archive.to_str().unwrap().ends_with(".tgz"));
        let live_db = db.url.sqlite_path(Path::new("/")).unwrap();
        let live_before = fs::read(&live_db).unwrap();

        let target = tempfile::tempdir().unwrap();
        let rel = |p: &Path| target.path().join(p.strip_prefix("/").unwrap());
        // A file the restore replaces keeps its owner (when we may set owners at all).
        let existing = rel(&install.path("etc/pi.cfg"));
        fs::create_dir_all(existing.parent().unwrap()).unwrap();
        fs::write(&existing, "old").unwrap();
        let as_root = std::os::unix::fs::chown(&existing, Some(4242), Some(4242)).is_ok();
        let interrupt = Interrupt::new();
        let mut lines = Lines::default();
        let r = restore::restore(
            restore_opts(&archive, Some(target.path()), false, &interrupt),
            &mut lines,
        )
        .unwrap();
        assert_eq!(
            fs::read(&existing).unwrap(),
            fs::read(install.path("etc/pi.cfg")).unwrap()
        );
        if as_root {
            assert_eq!(fs::metadata(&existing).unwrap().uid(), 4242);
        }
        assert_eq!(lines.0[0], "Also restoring the encryption key");
        assert_eq!(r.enckey, [rel(&install.path("etc/enckey"))]);
        assert_eq!(
            fs::read(rel(&install.path("etc/enckey"))).unwrap(),
            fs::read(install.path("etc/enckey")).unwrap()
        );
        let restored_db = rel(&live_db);
        let mut c = pi_manage::db::sqlite::SqliteConnection::open_path(
            &restored_db,
            &OpenOptions::default(),
        )
        .unwrap();
        assert!(c.table_exists("alembic_version").unwrap());
        assert_eq!(
            fs::read(&live_db).unwrap(),
            live_before,
            "the live database is untouched"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// privacyIDEA's archives

fn vector_sha(members_json: &str, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(members_json).unwrap();
    v["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn restores_privacyidea_archives_from_the_vectors() {
    for (dir, with_key) in [
        (FIXTURES.to_string(), false),
        (format!("{FIXTURES}/with-enckey"), true),
    ] {
        let archive = PathBuf::from(&dir).join(VECTOR);
        let members = fs::read_to_string(PathBuf::from(&dir).join("members.json")).unwrap();
        let target = tempfile::tempdir().unwrap();
        let t = target.path();
        let o = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .args(["backup", "restore"])
            .arg(&archive)
            .arg("--target-dir")
            .arg(t)
            .env("PRIVACYIDEA_CONFIGFILE", "/nonexistent/pi.cfg")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        // privacyIDEA's own output, with the target directory in front of its paths.
        let first = if with_key {
            "Also restoring the encryption key".to_string()
        } else {
            fs::read_to_string(format!("{FIXTURES}/restore-output.txt"))
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string()
        };
        let td = t.display();
        let want = format!(
            "{first}\nRestoring to {td}/etc/privacyidea/pi.cfg with data from {td}/var/lib/privacyidea/backup/dbdump-20261122-1300.sqlite\n{}\nRestore SQLite {td}/var/lib/privacyidea/privacyidea.sqlite\n",
            "=".repeat(60)
        );
        assert!(stdout(&o).starts_with(&want), "{}", stdout(&o));
        let db_file = t.join("var/lib/privacyidea/privacyidea.sqlite");
        assert_eq!(
            sha256_file(&db_file),
            vector_sha(
                &members,
                "var/lib/privacyidea/backup/dbdump-20261122-1300.sqlite"
            ),
            "the database is byte-identical to the dump member"
        );
        for f in ["pi.cfg", "private.pem", "public.pem"] {
            assert_eq!(
                sha256_file(&t.join("etc/privacyidea").join(f)),
                vector_sha(&members, &format!("etc/privacyidea/{f}"))
            );
        }
        assert_eq!(
            fs::metadata(t.join("etc/privacyidea/private.pem"))
                .unwrap()
                .mode()
                & 0o777,
            0o400
        );
        assert_eq!(t.join("etc/privacyidea/enckey").exists(), with_key);
        if with_key {
            assert_eq!(
                fs::read(t.join("etc/privacyidea/enckey")).unwrap(),
                fs::read(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/crypto/enckey"
                ))
                .unwrap()
            );
            assert!(stdout(&o).contains("The encryption key was restored:"));
        }
        // The dump was never left behind, nor any temporary file.
        assert!(
            !tree(t)
                .iter()
                .any(|p| p.contains("dbdump") || p.contains(".tmp")),
            "{:?}",
            tree(t)
        );
        // And it verifies, without a pi.cfg on this machine.
        let v = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .args(["backup", "verify"])
            .arg(&archive)
            .env("PRIVACYIDEA_CONFIGFILE", "/nonexistent/pi.cfg")
            .output()
            .unwrap();
        assert_eq!(v.status.code(), Some(0), "{}{}", stdout(&v), stderr(&v));
        assert!(stdout(&v).contains("No manifest (an archive written by privacyIDEA)"));
        assert!(
            stdout(&v).contains(&format!(
                "Encryption key: {}",
                if with_key {
                    "in the archive (etc/privacyidea/enckey)"
                } else {
                    "not in the archive"
                }
            )),
            "{}",
            stdout(&v)
        );
    }
}

#[test]
fn our_tgz_reads_as_privacyidea_reads_it() {
    let Ok(py) = Command::new("python3").arg("--version").output() else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "python3 is missing, and CI requires the tarfile compatibility check to run"
        );
        eprintln!("note: python3 not found; the tarfile compatibility check is skipped");
        return;
    };
    assert!(py.status.success());
    let db = databases().into_iter().next().unwrap();
    let install = Install::new(&url_text(&db.url));
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    let mut spec = backup_spec(&install);
    spec.format = ArchiveFormat::Tgz;
    let made = run_backup(&db, &install, TaskSpec::Backup(spec), false, &clock_utc());
    let archive = made.outcome().details["archive"]
        .as_str()
        .unwrap()
        .to_string();
    let out = tempfile::tempdir().unwrap();
    // privacyIDEA's first pass and extraction (reference §11.2), verbatim.
    let script = r#"
import re, sys, tarfile
config_file = sqlfile = None
with tarfile.open(sys.argv[1], "r:gz") as tar:
    for m in tar.getmembers():
        if re.search(r"/pi.cfg$", m.name): config_file = "/" + m.name
        elif re.search(r"dbdump-\d{8}-\d{4}(\.sqlite|\.pgsql|\.sql)$", m.name): sqlfile = "/" + m.name
    kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    tar.extractall(path=sys.argv[2], **kw)
    print(config_file, sqlfile, sorted(tar.pax_headers))
"#;
    let o = Command::new("python3")
        .args(["-c", script, &archive])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = install.path("etc/pi.cfg");
    let line = stdout(&o);
    assert!(
        line.starts_with(&format!(
            "{} {}/dbdump-",
            cfg.display(),
            install.path("backup").display()
        )),
        "{line}"
    );
    assert!(
        line.trim_end().ends_with(".sqlite ['PIMANAGE.manifest']"),
        "{line}"
    );
    assert_eq!(
        fs::read(out.path().join(cfg.strip_prefix("/").unwrap())).unwrap(),
        fs::read(&cfg).unwrap()
    );
    // The gzip header names the archive, as privacyIDEA's does.
    let gz = flate2::read::GzDecoder::new(fs::File::open(&archive).unwrap());
    assert_eq!(
        gz.header().unwrap().filename().unwrap(),
        Path::new(&archive)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .as_bytes()
    );
}

// ---------------------------------------------------------------------------------------------
// Refusals

/// A `.tgz` with the given members (name, data; `None` = directory), written by hand so that
/// unsafe names can be produced.
fn handmade_tgz(dir: &Path, members: &[(&str, Option<&[u8]>, tar::EntryType)]) -> PathBuf {
    handmade_tgz_with_mtime(dir, members, 0)
}

/// [`handmade_tgz`] with every member's header mtime set to `mtime` (base-256 when it does
/// not fit the octal field).
fn handmade_tgz_with_mtime(
    dir: &Path,
    members: &[(&str, Option<&[u8]>, tar::EntryType)],
    mtime: u64,
) -> PathBuf {
    let mut raw = Vec::new();
    {
        let mut b = tar::Builder::new(&mut raw);
        for (name, data, kind) in members {
            let mut h = tar::Header::new_old();
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_mtime(mtime);
            let d = data.unwrap_or(b"");
            h.set_size(if *kind == tar::EntryType::Regular {
                d.len() as u64
            } else {
                0
            });
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/shadow").unwrap();
            }
            h.set_cksum();
            b.append(
                &h,
                if *kind == tar::EntryType::Regular {
                    d
                } else {
                    &b""[..]
                },
            )
            .unwrap();
        }
        b.finish().unwrap();
    }
    let path = dir.join("handmade.tgz");
    let mut gz = flate2::write::GzEncoder::new(
        fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap();
    path
}

fn restore_cli(archive: &Path, target: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args(["backup", "restore"])
        .arg(archive)
        .arg("--target-dir")
        .arg(target)
        .args(extra)
        .env("PRIVACYIDEA_CONFIGFILE", "/nonexistent/pi.cfg")
        .output()
        .unwrap()
}

#[test]
fn every_refusal_changes_nothing() {
    use tar::EntryType::{Directory, Regular, Symlink};
    let work = tempfile::tempdir().unwrap();
    let cfg: &[u8] = b"SQLALCHEMY_DATABASE_URI = 'sqlite:////var/lib/pi.sqlite'\n";
    let vector = fs::read(format!("{FIXTURES}/{VECTOR}")).unwrap();
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        (
            "truncated",
            {
                let p = work.path().join("truncated.tgz");
                fs::write(&p, &vector[..vector.len() - 100]).unwrap();
                p
            },
            "Unable to open backup file",
        ),
        (
            "not an archive",
            {
                let p = work.path().join("notes.tgz");
                fs::write(&p, "hello").unwrap();
                p
            },
            "Unable to open backup file",
        ),
        (
            "missing dump",
            {
                let d = work.path().join("a");
                fs::create_dir(&d).unwrap();
                handmade_tgz(
                    &d,
                    &[
                        ("etc/pi/", None, Directory),
                        ("etc/pi/pi.cfg", Some(cfg), Regular),
                    ],
                )
            },
            "Missing database dump in backup file.",
        ),
        (
            "missing pi.cfg",
            {
                let d = work.path().join("b");
                fs::create_dir(&d).unwrap();
                handmade_tgz(
                    &d,
                    &[("var/bk/dbdump-20261122-1300.sqlite", Some(b"x"), Regular)],
                )
            },
            "Missing config file pi.cfg in backup file.",
        ),
        (
            "path traversal",
            {
                let d = work.path().join("c");
                fs::create_dir(&d).unwrap();
                handmade_tgz(
                    &d,
                    &[
                        ("etc/pi/pi.cfg", Some(cfg), Regular),
                        ("etc/pi/../../../evil", Some(b"x"), Regular),
                    ],
                )
            },
            "contains an unsafe member 'etc/pi/../../../evil': the path contains '..'",
        ),
        (
            "absolute path",
            {
                let d = work.path().join("d");
                fs::create_dir(&d).unwrap();
                handmade_tgz(&d, &[("/etc/cron.d/evil", Some(b"x"), Regular)])
            },
            "unsafe member '/etc/cron.d/evil': absolute path",
        ),
        (
            "symlink",
            {
                let d = work.path().join("e");
                fs::create_dir(&d).unwrap();
                handmade_tgz(&d, &[("etc/pi/pi.cfg", None, Symlink)])
            },
            "unsafe member 'etc/pi/pi.cfg': a symbolic link",
        ),
        (
            "duplicate member",
            {
                let d = work.path().join("f");
                fs::create_dir(&d).unwrap();
                handmade_tgz(
                    &d,
                    &[
                        ("etc/pi/pi.cfg", Some(cfg), Regular),
                        ("var/bk/dbdump-20261122-1300.sqlite", Some(b"x"), Regular),
                        (
                            "etc/pi/pi.cfg",
                            Some(b"SQLALCHEMY_DATABASE_URI = 'sqlite:////tmp/other.sqlite'\n"),
                            Regular,
                        ),
                    ],
                )
            },
            "contains the member 'etc/pi/pi.cfg' more than once",
        ),
        (
            "mtime out of range",
            {
                let d = work.path().join("g");
                fs::create_dir(&d).unwrap();
                handmade_tgz_with_mtime(
                    &d,
                    &[
                        ("etc/pi/pi.cfg", Some(cfg), Regular),
                        ("var/bk/dbdump-20261122-1300.sqlite", Some(b"x"), Regular),
                    ],
                    1 << 63,
                )
            },
            "modification time out of range",
        ),
        (
            "checksum mismatch",
            tampered_archive(work.path()),
            "is damaged: checksum mismatch for ",
        ),
    ];
    for (what, archive, message) in cases {
        let target = work
            .path()
            .join(format!("target-{}", what.replace(' ', "-")));
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep.txt"), "untouched").unwrap();
        let o = restore_cli(&archive, &target, &[]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{what}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stderr(&o).contains(message), "{what}: {}", stderr(&o));
        assert_eq!(tree(&target), ["keep.txt"], "{what}: the target changed");
    }
    // Without --yes and without --target-dir nothing is read or written.
    let o = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args(["backup", "restore", &format!("{FIXTURES}/{VECTOR}")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Run again with --yes to confirm"),
        "{}",
        stderr(&o)
    );
}

/// One of our own archives with one byte of pi.cfg changed (and the xz stream rebuilt, so
/// only the manifest can notice).
fn tampered_archive(dir: &Path) -> PathBuf {
    let db = databases().into_iter().next().unwrap();
    let install = Install::new(&url_text(&db.url));
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    let made = run_backup(
        &db,
        &install,
        TaskSpec::Backup(backup_spec(&install)),
        false,
        &clock_utc(),
    );
    let archive = PathBuf::from(made.outcome().details["archive"].as_str().unwrap());
    let mut raw = Vec::new();
    zstd::stream::read::Decoder::new(fs::File::open(&archive).unwrap())
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let needle = b"SECRET_KEY = 'backup-test-secret'";
    let at = raw.windows(needle.len()).position(|w| w == needle).unwrap();
    raw[at] = b'X';
    let out = dir.join("tampered.tar.zst");
    let mut enc = zstd::stream::write::Encoder::new(fs::File::create(&out).unwrap(), 1).unwrap();
    enc.include_checksum(true).unwrap();
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap();
    drop(install);
    out
}

#[test]
fn cross_engine_restore_is_refused_before_anything_changes() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("t");
    // The live pi.cfg at the destination points at PostgreSQL; the archive holds SQLite.
    fs::create_dir_all(target.join("etc/privacyidea")).unwrap();
    let live = "SQLALCHEMY_DATABASE_URI = 'postgresql://pi:secret@127.0.0.1/pi'\n";
    fs::write(target.join("etc/privacyidea/pi.cfg"), live).unwrap();
    let before = tree(&target);
    let o = restore_cli(
        &PathBuf::from(format!("{FIXTURES}/{VECTOR}")),
        &target,
        &["--keep-db-uri"],
    );
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("--keep-db-uri: using database URI from live config."));
    assert!(stderr(&o).contains(
        "The backup contains a SQLite dump, but the database URI points to PostgreSQL. Restoring across database engines is not supported. Nothing was restored."
    ), "{}", stderr(&o));
    assert_eq!(tree(&target), before);
    assert_eq!(
        fs::read_to_string(target.join("etc/privacyidea/pi.cfg")).unwrap(),
        live
    );
    assert!(!format!("{}{}", stdout(&o), stderr(&o)).contains("secret"));
}

// ---------------------------------------------------------------------------------------------
// Failures leave nothing behind

#[test]
fn a_failed_backup_leaves_no_archive_and_no_dump() {
    let work = tempfile::tempdir().unwrap();
    // A "database" that is not one: the online backup fails.
    let bogus = work.path().join("pi.sqlite");
    fs::write(&bogus, vec![b'x'; 8192]).unwrap();
    let install = Install::new(&format!("sqlite:///{}", bogus.display()));
    let o = install.run(&[
        "backup",
        "create",
        "-d",
        install.path("backup").to_str().unwrap(),
        "-c",
        install.path("etc").to_str().unwrap(),
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("task backup create failed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        install.archives(),
        Vec::<PathBuf>::new(),
        "nothing left in the backup directory"
    );

    // A configuration directory without pi.cfg cannot give a restorable archive.
    let db = databases().into_iter().next().unwrap();
    let install = Install::new(&url_text(&db.url));
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    fs::create_dir(install.path("empty")).unwrap();
    let mut spec = backup_spec(&install);
    spec.config_dir = Some(install.path("empty"));
    let r = run_backup(&db, &install, TaskSpec::Backup(spec), false, &clock_utc());
    assert_eq!(r.outcome().status, TaskStatus::Failed);
    assert!(r
        .outcome()
        .error
        .as_deref()
        .unwrap()
        .contains("holds no pi.cfg"));
    assert!(!install.path("backup").exists());
}

#[test]
fn a_missing_dump_tool_fails_cleanly() {
    for db in privacyidea_databases()
        .into_iter()
        .filter(|d| d.backend != Backend::Sqlite)
    {
        let install = Install::new(&url_text(&db.url));
        let o = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .arg("--picfg")
            .arg(install.path("etc/pi.cfg"))
            .args(["backup", "create", "-d"])
            .arg(install.path("backup"))
            .env("PATH", "/nonexistent")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
        let tool = if db.backend == Backend::Postgres {
            "pg_dump"
        } else {
            "mariadb-dump"
        };
        assert!(
            stderr(&o).contains(&format!("Could not find the '{tool}' command")),
            "{}",
            stderr(&o)
        );
        assert!(install.archives().is_empty(), "{:?}", install.archives());
    }
}

// ---------------------------------------------------------------------------------------------
// A live SQLite database

/// The output of a backup that, once the SQLite dump has copied its first step of pages (and
/// before it is done), waits until the writer commits another batch: a write overlaps the
/// dump for certain, not by luck of timing.
struct OverlapDump {
    committed: Arc<std::sync::atomic::AtomicUsize>,
    db_bytes: u64,
    overlapped: Arc<AtomicBool>,
}

impl pi_manage::tasks::TaskOutput for OverlapDump {
    fn message(&mut self, _: &str) {}
    fn progress(
        &mut self,
        _: &str,
        _: Option<u64>,
    ) -> Box<dyn pi_manage::db::delete::DeleteObserver> {
        Box::new(pi_manage::db::delete::NoProgress)
    }
    fn byte_progress(&mut self, label: &str, _: Option<u64>) -> Box<dyn backup::ByteProgress> {
        Box::new(OverlapDump {
            committed: if label == "dumping the database" {
                self.committed.clone()
            } else {
                Arc::default()
            },
            db_bytes: if label == "dumping the database" {
                self.db_bytes
            } else {
                0
            },
            overlapped: self.overlapped.clone(),
        })
    }
}
impl pi_manage::executor::RunOutput for OverlapDump {}

impl backup::ByteProgress for OverlapDump {
    fn set(&mut self, done: u64) {
        if done == 0 || done >= self.db_bytes || self.overlapped.load(Ordering::SeqCst) {
            return;
        }
        let before = self.committed.load(Ordering::SeqCst);
        assert!(
            wait_until(|| self.committed.load(Ordering::SeqCst) > before),
            "the writer committed nothing while the dump waited"
        );
        self.overlapped.store(true, Ordering::SeqCst);
    }
}

#[test]
fn sqlite_backup_while_another_connection_writes_is_consistent() {
    let db = databases().into_iter().next().unwrap();
    assert_eq!(db.backend, Backend::Sqlite);
    let clock = clock_utc();
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock,
    );
    let now = clock.now_local();
    {
        // Large enough (many SQLite backup steps) that the dump is still going after its first.
        let mut c = db.connect();
        let rows: Vec<_> = (1..=60_000)
            .map(|i| (i, now, "POST /validate/check", "a-user-with-a-longer-name"))
            .collect();
        insert_audit(c.as_mut(), &rows);
    }
    let db_bytes = fs::metadata(db.url.sqlite_path(Path::new("/")).unwrap())
        .unwrap()
        .len();
    let install = Install::new(&url_text(&db.url));
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let stop = Arc::clone(&stop);
        let committed = Arc::clone(&committed);
        let url = db.url.clone();
        std::thread::spawn(move || {
            let mut w = pi_manage::db::open(&url, &Default::default()).unwrap();
            let mut next = 100_000i64;
            // Batches of 50 rows, each one transaction: a consistent copy holds whole batches.
            while !stop.load(Ordering::SeqCst) {
                let rows: Vec<_> = (next..next + 50)
                    .map(|i| (i, now, "POST /auth", "writer"))
                    .collect();
                insert_audit(w.as_mut(), &rows);
                next += 50;
                committed.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    assert!(wait_until(|| committed.load(Ordering::SeqCst) > 0));
    let overlapped = Arc::new(AtomicBool::new(false));
    let site = TaskSite::command_line(Path::new("."));
    let mut diags = Vec::new();
    let task = tasks::prepare(&TaskSpec::Backup(backup_spec(&install)), &site, &mut diags).unwrap();
    let report = run_task_with_output(
        &db,
        task,
        false,
        &clock,
        &Interrupt::new(),
        &install.settings(&db.url),
        &mut OverlapDump {
            committed: committed.clone(),
            db_bytes,
            overlapped: overlapped.clone(),
        },
    );
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let made = RunResult {
        report,
        lines: Vec::new(),
    };
    assert_eq!(
        made.outcome().status,
        TaskStatus::Created,
        "{:?}",
        made.report
    );
    assert!(
        overlapped.load(Ordering::SeqCst),
        "a write was committed while the dump was in progress"
    );
    let archive = PathBuf::from(made.outcome().details["archive"].as_str().unwrap());
    let target = tempfile::tempdir().unwrap();
    let interrupt = Interrupt::new();
    restore::restore(
        restore_opts(&archive, Some(target.path()), false, &interrupt),
        &mut Lines::default(),
    )
    .unwrap();
    let live = db.url.sqlite_path(Path::new("/")).unwrap();
    let copy = target.path().join(live.strip_prefix("/").unwrap());
    let mut c =
        pi_manage::db::sqlite::SqliteConnection::open_path(&copy, &OpenOptions::default()).unwrap();
    let check = c.query_rows("PRAGMA integrity_check", &[]).unwrap();
    assert_eq!(check[0].get(0).as_str(), Some("ok"));
    let n = c
        .query_i64("SELECT count(*) FROM pidea_audit WHERE id >= 100000", &[])
        .unwrap()
        .unwrap();
    assert_eq!(
        n % 50,
        0,
        "the copy holds whole transactions only ({n} writer rows)"
    );
    let manifest_rows = made.outcome().details["rows"].as_u64().unwrap();
    let total: u64 = inventory::take(&mut c).unwrap().tables.values().sum();
    assert_eq!(
        total, manifest_rows,
        "the manifest counts exactly the archived state"
    );
}

// ---------------------------------------------------------------------------------------------
// Retention

/// Names of a directory's entries, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn retention_over_two_years_of_archives_keeps_exactly_the_right_ones() {
    let db = databases().into_iter().next().unwrap();
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    let install = Install::new(&url_text(&db.url));
    let dir = install.path("backup");
    fs::create_dir(&dir).unwrap();
    // Two years of nightly archives at 02:30 (privacyIDEA's minute names for the first year),
    // plus files retention must never touch.
    let last = NaiveDateTime::parse_from_str("2026-11-21 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
    for i in 0..730 {
        let t = last - TimeDelta::days(i);
        let name = if i >= 365 {
            format!("privacyidea-backup-{}.tgz", t.format("%Y%m%d-%H%M"))
        } else {
            format!("privacyidea-backup-{}.tar.xz", t.format("%Y%m%d-%H%M%S"))
        };
        fs::write(dir.join(name), "x").unwrap();
    }
    let bystanders = [
        "notes.txt",
        "privacyidea-backup-20200101-0000.tgz.part",
        "dbdump-20200101-0000.sqlite",
        ".privacyidea-backup-20200101-000000.tar.xz.123.tmp",
    ];
    for b in bystanders {
        fs::write(dir.join(b), "keep me").unwrap();
    }
    fs::create_dir(dir.join("privacyidea-backup-20200102-0000.tgz")).unwrap();
    std::os::unix::fs::symlink(
        "/etc/hostname",
        dir.join("privacyidea-backup-20200103-0000.tgz"),
    )
    .unwrap();

    let mut spec = backup_spec(&install);
    spec.retention = Some(Retention {
        keep_last: Some(3),
        keep_daily: Some(7),
        keep_weekly: Some(4),
        keep_monthly: Some(12),
        max_age: Some(Duration::from_days(400)),
    });
    // Today's backup, Sunday 2026-11-22 03:00 local (UTC+1).
    let clock = FixedClock::at("2026-11-22T03:00:00+01:00");
    let expected_new = "privacyidea-backup-20261122-030000.tar.zst".to_string();
    let survivors: Vec<String> = {
        let mut v: Vec<String> = [
            // keep_last 3 / daily 7: today and the six nights before
            "20261121-023000",
            "20261120-023000",
            "20261119-023000",
            "20261118-023000",
            "20261117-023000",
            "20261116-023000",
            // weekly: ISO weeks 46, 45, 44 (their Sundays)
            "20261115-023000",
            "20261108-023000",
            "20261101-023000",
            // monthly: the last of Oct 2026 back to Dec 2025
            "20261031-023000",
            "20260930-023000",
            "20260831-023000",
            "20260731-023000",
            "20260630-023000",
            "20260531-023000",
            "20260430-023000",
            "20260331-023000",
            "20260228-023000",
            "20260131-023000",
            "20251231-023000",
        ]
        .iter()
        .map(|s| format!("privacyidea-backup-{s}.tar.xz"))
        .collect();
        v.push(expected_new.clone());
        v
    };

    // A dry run lists and changes nothing.
    let dry = run_backup(&db, &install, TaskSpec::Backup(spec.clone()), true, &clock);
    assert_eq!(dry.outcome().status, TaskStatus::DryRun, "{:?}", dry.report);
    let before = names(&dir);
    assert_eq!(before.len(), 730 + bystanders.len() + 2);
    assert!(dry.lines.iter().any(|l| l == &format!("Would keep {expected_new} (keep_last (1 of 3), daily 2026-11-22, weekly 2026-W47, monthly 2026-11, the backup just made)")), "{:#?}", &dry.lines[..5]);
    assert!(dry
        .lines
        .iter()
        .any(|l| l
            == "Would remove privacyidea-backup-20261114-023000.tar.xz (not kept by any rule)"));
    assert!(dry
        .lines
        .iter()
        .any(|l| l == "Would remove privacyidea-backup-20251101-0230.tgz (not kept by any rule)"));
    assert!(dry
        .lines
        .iter()
        .any(|l| l
            == "Would remove privacyidea-backup-20251001-0230.tgz (older than max_age (400d))"));
    assert_eq!(
        dry.lines
            .iter()
            .filter(|l| l.starts_with("Would keep"))
            .count(),
        survivors.len()
    );

    let real = run_backup(&db, &install, TaskSpec::Backup(spec.clone()), false, &clock);
    assert_eq!(
        real.outcome().status,
        TaskStatus::Created,
        "{:?}",
        real.report
    );
    let mut want: Vec<String> = survivors.clone();
    want.extend(bystanders.iter().map(|s| s.to_string()));
    want.push("privacyidea-backup-20200102-0000.tgz".into());
    want.push("privacyidea-backup-20200103-0000.tgz".into());
    want.sort();
    assert_eq!(names(&dir), want);
    assert_eq!(
        real.outcome().details["removed"].as_array().unwrap().len(),
        730 - (survivors.len() - 1)
    );

    // When the backup fails, nothing is pruned.
    fs::write(dir.join("privacyidea-backup-20250101-0230.tgz"), "old").unwrap();
    let mut broken = spec.clone();
    broken.config_dir = Some(install.path("backup"));
    let failed = run_backup(&db, &install, TaskSpec::Backup(broken), false, &clock);
    assert_eq!(failed.outcome().status, TaskStatus::Failed);
    assert!(dir.join("privacyidea-backup-20250101-0230.tgz").exists());
}

// ---------------------------------------------------------------------------------------------
// The command line

#[test]
fn cli_create_and_verify_speak_privacyideas_lines() {
    let db = databases().into_iter().next().unwrap();
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    let install = Install::new(&url_text(&db.url));
    let live = db.url.sqlite_path(Path::new("/")).unwrap();
    let o = install.run(&[
        "backup",
        "create",
        "-d",
        install.path("backup").to_str().unwrap(),
        "-c",
        install.path("etc").to_str().unwrap(),
        "-e",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let archive = install.archives().pop().unwrap();
    assert!(
        out.starts_with(&format!(
            "Backup SQLite file {}\nIncluding encryption key in backup\n",
            live.display()
        )),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("Backup written to file {}\n", archive.display())),
        "{out}"
    );
    let v = install.run(&["backup", "verify", archive.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(
        stdout(&v).contains("Encryption key: in the archive ("),
        "{}",
        stdout(&v)
    );
    assert!(stdout(&v).ends_with(&format!("Backup {} is OK.\n", archive.display())));
    // JSON for machines, never with a secret.
    let j = install.run(&[
        "--output",
        "json",
        "backup",
        "verify",
        archive.to_str().unwrap(),
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(
        doc["jobs"][0]["tasks"][0]["details"]["database_kind"],
        "sqlite"
    );
    assert!(!String::from_utf8_lossy(&j.stdout).contains("backup-test-secret"));
    // A corrupt archive fails verification with exit code 1.
    let bad = install.path("backup/privacyidea-backup-20261122-000000.tar.xz");
    let bytes = fs::read(&archive).unwrap();
    fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let v = install.run(&["backup", "verify", bad.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        stderr(&v).contains("Unable to open backup file"),
        "{}",
        stderr(&v)
    );
    // Dry run: nothing written.
    let before = install.archives();
    let d = install.run(&[
        "backup",
        "create",
        "--dry-run",
        "-d",
        install.path("backup").to_str().unwrap(),
        "-c",
        install.path("etc").to_str().unwrap(),
    ]);
    assert_eq!(d.status.code(), Some(0));
    assert!(
        stdout(&d).contains("Would dump the SQLite database"),
        "{}",
        stdout(&d)
    );
    assert_eq!(install.archives(), before);
    let _ = backup::DEFAULT_DIRECTORY;
}

#[test]
fn a_relative_picfg_archives_the_directory_that_holds_it() {
    let db = databases().into_iter().next().unwrap();
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    let install = Install::new(&url_text(&db.url));
    let etc = install.path("etc");
    let backup_dir = install.path("backup");
    // `--picfg pi.cfg` from inside etc/, no --config-dir: etc/ is archived, not /etc/privacyidea.
    let create = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .args(["--picfg", "pi.cfg", "backup", "create", "-d"])
            .arg(&backup_dir)
            .args(extra)
            .current_dir(&etc)
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .unwrap()
    };
    let dry = create(&["--dry-run"]);
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{}{}",
        stdout(&dry),
        stderr(&dry)
    );
    assert!(
        stdout(&dry).contains(&format!(" members of {} to ", etc.display())),
        "{}",
        stdout(&dry)
    );
    let o = create(&[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let archive = install.archives().pop().unwrap();
    let mut names = Vec::new();
    let mut tar = tar::Archive::new(
        zstd::stream::read::Decoder::new(fs::File::open(&archive).unwrap()).unwrap(),
    );
    for entry in tar.entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    let want = etc.join("pi.cfg").display().to_string();
    assert!(
        names
            .iter()
            .any(|n| want.ends_with(n.as_str()) && n.ends_with("etc/pi.cfg")),
        "{want} not in {names:?}"
    );
}

#[test]
fn a_job_file_backs_up_prunes_and_verifies() {
    let db = databases().into_iter().next().unwrap();
    run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    let install = Install::new(&url_text(&db.url));
    fs::create_dir(install.path("backup")).unwrap();
    fs::write(
        install.path("backup/privacyidea-backup-20200101-0000.tgz"),
        "old",
    )
    .unwrap();
    fs::write(
        install.path("job.yaml"),
        "version: 1\nname: nightly-backup\nconnection:\n  picfg: etc/pi.cfg\ntasks:\n  - kind: backup\n    directory: backup\n    retention:\n      keep_last: 1\n  - kind: backup_verify\n    directory: backup\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .arg("run")
            .arg(install.path("job.yaml"))
            .args(extra)
            .current_dir(install.dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .unwrap()
    };
    let dry = run(&["--dry-run"]);
    assert_eq!(
        dry.status.code(),
        Some(1),
        "verify has nothing to check in a dry run: {}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry)
            .contains("Would remove privacyidea-backup-20200101-0000.tgz (not kept by any rule)"),
        "{}",
        stdout(&dry)
    );
    assert!(install
        .path("backup/privacyidea-backup-20200101-0000.tgz")
        .exists());
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Removed privacyidea-backup-20200101-0000.tgz (not kept by any rule)"),
        "{out}"
    );
    assert!(out.contains("is OK."), "{out}");
    let left = install.archives();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].to_str().unwrap().ends_with(".tar.zst"));
}
