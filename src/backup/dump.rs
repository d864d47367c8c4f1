//! A consistent dump of a live privacyIDEA database into one file, with the row counts and
//! schema revision of exactly that state where the database allows it.
//!
//! * SQLite: SQLite's online backup API copies the pages of a consistent snapshot while the
//!   server keeps working (privacyIDEA copies the file byte by byte, which can tear). When
//!   writers keep restarting the copy, the last attempt copies in one step under a read lock.
//!   The copy is checked with `PRAGMA quick_check` and counted.
//! * PostgreSQL: `pg_dump` plain SQL (privacyIDEA's options, so its `psql` restore path works)
//!   inside a snapshot we export and count rows in, so counts and dump agree exactly.
//! * MySQL/MariaDB: `mariadb-dump`/`mysqldump --single-transaction` with sequences, routines
//!   left out; the dump names no database (no `-B`), so it restores into the database of the
//!   restore's URI. Counts come from a consistent snapshot taken just before.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::OpenFlags;
use sha2::{Digest, Sha256};

use super::clients::{self, ClientCommand};
use super::inventory::{self, Inventory};
use super::spool::{self, Store};
use super::{BackupError, DumpKind, ErrorKind};
use crate::db::{self, OpenOptions};
use crate::dburl::DbUrl;
use crate::interrupt::Interrupt;

/// Pages copied per online-backup step (with 4 KiB pages, 4 MiB).
const STEP_PAGES: i32 = 1024;
/// After this many restarts caused by concurrent writers, copy in one step.
const MAX_RESTARTS: u32 = 3;

/// A finished dump.
#[derive(Debug)]
pub struct Dump {
    /// The dump as `store` keeps it.
    pub path: PathBuf,
    pub store: Store,
    /// Size and SHA-256 of the dump itself (uncompressed).
    pub size: u64,
    pub sha256: [u8; 32],
    pub inventory: Inventory,
    /// `snapshot` or `before_dump` (see the manifest).
    pub row_counts: &'static str,
    /// Lines to show the operator (privacyIDEA's notices).
    pub notices: Vec<String>,
}

/// Dump the database `url` names into the new file `dest`, kept as `store` says.
pub fn dump(
    url: &DbUrl,
    kind: DumpKind,
    open: &OpenOptions,
    dest: &Path,
    store: Store,
    interrupt: &Interrupt,
    observe: &mut dyn FnMut(u64),
) -> Result<Dump, BackupError> {
    match kind {
        DumpKind::Sqlite => {
            let src = url
                .sqlite_path(&open.base_dir)
                .ok_or_else(check_in_memory)?;
            sqlite(&src, dest, store, open, interrupt, observe)
        }
        DumpKind::Postgres => postgres(url, open, dest, store, interrupt, observe),
        DumpKind::Mysql => mysql(url, open, dest, store, interrupt, observe),
    }
}

fn check_in_memory() -> BackupError {
    BackupError::invalid("An in-memory database cannot be backed up or restored.")
}

fn interrupted(sig: i32) -> BackupError {
    BackupError {
        kind: ErrorKind::Interrupted(sig),
        message: "interrupted".into(),
    }
}

fn sqlite_err(what: &str, e: rusqlite::Error) -> BackupError {
    BackupError::failed(format!("{what}: {e}"))
}

/// The online backup of a SQLite file. SQLite copies into a file of its own; with
/// [`Store::Zstd`] that copy is a sibling of `dest`, compressed into `dest` and removed.
pub fn sqlite(
    src_path: &Path,
    dest: &Path,
    store: Store,
    open: &OpenOptions,
    interrupt: &Interrupt,
    observe: &mut dyn FnMut(u64),
) -> Result<Dump, BackupError> {
    let copy = match store {
        Store::Plain => dest.to_path_buf(),
        Store::Zstd { .. } => {
            let mut name = dest.as_os_str().to_owned();
            name.push(".copy");
            PathBuf::from(name)
        }
    };
    if !src_path.is_file() {
        return Err(BackupError::connect(format!(
            "sqlite database {} does not exist",
            src_path.display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // Read-write (without create) so a WAL database can be read; read-only as a fallback for a
    // backup user without write permission.
    let src =
        rusqlite::Connection::open_with_flags(src_path, flags | OpenFlags::SQLITE_OPEN_READ_WRITE)
            .or_else(|_| {
                rusqlite::Connection::open_with_flags(
                    src_path,
                    flags | OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
            })
            .map_err(|e| {
                BackupError::connect(format!("sqlite database {}: {e}", src_path.display()))
            })?;
    src.busy_timeout(open.lock_timeout)
        .map_err(|e| sqlite_err("sqlite", e))?;
    let dest_final = dest;
    let dest = copy.as_path();
    {
        // Created 0600 before SQLite opens it (SQLite would create it by the umask; its
        // journal takes the main file's mode).
        drop(
            super::leftovers::create_private(dest)
                .map_err(|e| BackupError::io(dest.display(), e))?,
        );
        let mut dst = rusqlite::Connection::open(dest)
            .map_err(|e| sqlite_err(&dest.display().to_string(), e))?;
        // The copy is a private staging file that is read once into the archive (which is
        // synced) and then removed: syncing it too only made the backup wait for the disk to
        // write the whole database once more (docs/benchmarks.md, "Backups").
        dst.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF")
            .map_err(|e| sqlite_err(&dest.display().to_string(), e))?;
        let page_size: i64 = src
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(|e| {
                BackupError::connect(format!("sqlite database {}: {e}", src_path.display()))
            })?;
        let backup = Backup::new(&src, &mut dst).map_err(|e| sqlite_err("sqlite backup", e))?;
        let mut restarts = 0u32;
        let mut last_remaining = i32::MAX;
        let mut busy_since: Option<std::time::Instant> = None;
        loop {
            if let Some(sig) = interrupt.requested() {
                return Err(interrupted(sig));
            }
            let pages = if restarts >= MAX_RESTARTS {
                -1
            } else {
                STEP_PAGES
            };
            let step = backup
                .step(pages)
                .map_err(|e| sqlite_err("sqlite online backup", e))?;
            let p = backup.progress();
            // A concurrent write restarts the copy: the remaining count jumps back up.
            if p.remaining > last_remaining {
                restarts += 1;
            }
            last_remaining = p.remaining;
            observe(((p.pagecount - p.remaining).max(0) as u64) * page_size as u64);
            match step {
                StepResult::Done => break,
                StepResult::More => busy_since = None,
                StepResult::Busy | StepResult::Locked => {
                    let since = *busy_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() > open.lock_timeout {
                        return Err(BackupError::failed(format!(
                            "sqlite database {} stayed locked for {} s; no backup was written",
                            src_path.display(),
                            open.lock_timeout.as_secs()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {}
            }
        }
    }
    drop(src);
    // Checking and counting read the copy through SQLite on this thread while another
    // thread hashes it, or compresses and hashes it into `dest`: the two passes over the
    // file run at the same time instead of one after the other.
    let (checked, stored) = std::thread::scope(|s| {
        let storing = s.spawn(|| store_copy(dest, dest_final, store, interrupt));
        let checked = check_and_count(dest, open);
        let stored = storing.join().unwrap_or_else(|_| {
            Err(BackupError::failed(
                "storing the SQLite copy failed unexpectedly",
            ))
        });
        (checked, stored)
    });
    let inventory = checked?;
    let (size, sha256) = stored?;
    if dest != dest_final {
        std::fs::remove_file(dest).map_err(|e| BackupError::io(dest.display(), e))?;
    }
    Ok(Dump {
        path: dest_final.to_path_buf(),
        store,
        size,
        sha256,
        inventory,
        row_counts: "snapshot",
        notices: Vec::new(),
    })
}

/// The copy must be a sound database before it goes into an archive; then its row counts.
fn check_and_count(copy: &Path, open: &OpenOptions) -> Result<Inventory, BackupError> {
    let check = rusqlite::Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)))
        .map_err(|e| sqlite_err("checking the SQLite copy", e))?;
    if check != "ok" {
        return Err(BackupError::failed(format!(
            "the SQLite copy failed its integrity check: {check}"
        )));
    }
    let mut conn = db::sqlite::SqliteConnection::open_path(copy, open)?;
    Ok(inventory::take(&mut conn)?)
}

/// Size and SHA-256 of the SQLite copy; with [`Store::Zstd`] also compressed into `dest`.
fn store_copy(
    copy: &Path,
    dest: &Path,
    store: Store,
    interrupt: &Interrupt,
) -> Result<(u64, [u8; 32]), BackupError> {
    if store == Store::Plain {
        return hash_file(copy);
    }
    let mut from = File::open(copy).map_err(|e| BackupError::io(copy.display(), e))?;
    let mut w = spool::create(dest, store).map_err(|e| BackupError::io(dest.display(), e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if let Some(sig) = interrupt.requested() {
            return Err(interrupted(sig));
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BackupError::io(copy.display(), e)),
        };
        w.write_all(&buf[..n])
            .map_err(|e| BackupError::io(dest.display(), e))?;
    }
    spool::finish(w).map_err(|e| BackupError::io(dest.display(), e))
}

/// SHA-256 and size of a file.
pub fn hash_file(path: &Path) -> Result<(u64, [u8; 32]), BackupError> {
    let mut f = File::open(path).map_err(|e| BackupError::io(path.display(), e))?;
    let mut h = HashWriter::new(io::sink());
    io::copy(&mut f, &mut h).map_err(|e| BackupError::io(path.display(), e))?;
    Ok((h.count, h.hasher.finalize().into()))
}

/// A writer that hashes and counts what passes through.
pub struct HashWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes written, their SHA-256, and the inner writer.
    pub fn finish(self) -> (u64, [u8; 32], W) {
        (self.count, self.hasher.finalize().into(), self.inner)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Run a dump tool into `dest`, hashing (and with [`Store::Zstd`] compressing) as it is
/// written.
fn run_tool(
    cmd: &ClientCommand,
    dest: &Path,
    store: Store,
    interrupt: &Interrupt,
    observe: &mut dyn FnMut(u64),
) -> Result<(u64, [u8; 32]), BackupError> {
    let mut w = spool::create(dest, store).map_err(|e| BackupError::io(dest.display(), e))?;
    clients::run_to(cmd, &mut w, interrupt, observe)?;
    spool::finish(w).map_err(|e| BackupError::io(dest.display(), e))
}

fn find(kind: DumpKind, mariadb: bool) -> Result<PathBuf, BackupError> {
    let names = clients::candidates(kind, true, mariadb);
    clients::find_program(names).ok_or_else(|| clients::missing_program(names[0], kind))
}

fn postgres(
    url: &DbUrl,
    open: &OpenOptions,
    dest: &Path,
    store: Store,
    interrupt: &Interrupt,
    observe: &mut dyn FnMut(u64),
) -> Result<Dump, BackupError> {
    let program = find(DumpKind::Postgres, false)?;
    let mut conn = db::open(url, open)?;
    // Export our snapshot and hand it to pg_dump: the row counts describe exactly the dump.
    conn.execute_batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    let snapshot = conn
        .query_rows("SELECT pg_export_snapshot()", &[])?
        .first()
        .and_then(|r| r.get(0).as_str().map(str::to_string))
        .ok_or_else(|| BackupError::failed("PostgreSQL returned no snapshot id"))?;
    let inventory = inventory::take(conn.as_mut())?;
    let snap_arg = format!("--snapshot={snapshot}");
    let (cmd, ignored) = clients::postgres(
        program,
        url,
        &[
            "--format=plain",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--no-comments",
            &snap_arg,
        ],
    );
    let mut notices = Vec::new();
    if !ignored.is_empty() {
        notices.push(format!(
            "The following connection parameters of the database URI are not applied when dumping or restoring the database: {}",
            ignored.join(", ")
        ));
    }
    let result = run_tool(&cmd, dest, store, interrupt, observe);
    let _ = conn.execute_batch("COMMIT");
    let (size, sha256) = result.map_err(|mut e| {
        if e.kind == ErrorKind::Failed && e.message.starts_with("Database dump failed") {
            e.message.push_str(
                "; no backup file was written. pg_dump has to be at least as new as the PostgreSQL server it dumps.",
            );
        }
        e
    })?;
    Ok(Dump {
        path: dest.to_path_buf(),
        store,
        size,
        sha256,
        inventory,
        row_counts: "snapshot",
        notices,
    })
}

/// Whether a MySQL-protocol server is MariaDB.
pub fn is_mariadb(conn: &mut dyn db::Connection) -> Result<bool, BackupError> {
    Ok(conn
        .query_rows("SELECT VERSION()", &[])?
        .first()
        .and_then(|r| {
            r.get(0)
                .as_str()
                .map(|v| v.to_ascii_lowercase().contains("mariadb"))
        })
        .unwrap_or(false))
}

fn mysql(
    url: &DbUrl,
    open: &OpenOptions,
    dest: &Path,
    store: Store,
    interrupt: &Interrupt,
    observe: &mut dyn FnMut(u64),
) -> Result<Dump, BackupError> {
    let mut conn = db::open(url, open)?;
    let mariadb = is_mariadb(conn.as_mut())?;
    let program = find(DumpKind::Mysql, mariadb)?;
    conn.execute_batch("START TRANSACTION WITH CONSISTENT SNAPSHOT")?;
    let inventory = inventory::take(conn.as_mut())?;
    let _ = conn.execute_batch("COMMIT");
    drop(conn);
    let cmd = clients::mysql(
        program,
        url,
        &[
            "--single-transaction",
            "--skip-lock-tables",
            "--no-tablespaces",
            "--hex-blob",
            "--triggers",
        ],
    )?;
    let (size, sha256) = run_tool(&cmd, dest, store, interrupt, observe).map_err(|mut e| {
        if e.kind == ErrorKind::Failed && e.message.starts_with("Database dump failed") {
            e.message.push_str("; no backup file was written.");
        }
        e
    })?;
    Ok(Dump {
        path: dest.to_path_buf(),
        store,
        size,
        sha256,
        inventory,
        row_counts: "before_dump",
        notices: Vec::new(),
    })
}

/// Whether the text dump in `r` looks complete: the tool's header at the start and its
/// completion line at the end (both tools write one; a dump cut short has none).
pub fn text_dump_complete(kind: DumpKind, head: &[u8], tail: &[u8]) -> Result<(), String> {
    let head = String::from_utf8_lossy(head);
    let tail = String::from_utf8_lossy(tail);
    let (start, end): (&[&str], &str) = match kind {
        DumpKind::Postgres => (
            &["-- PostgreSQL database dump"],
            "-- PostgreSQL database dump complete",
        ),
        DumpKind::Mysql => (
            &["-- MySQL dump", "-- MariaDB dump", "/*M!999999"],
            "-- Dump completed",
        ),
        DumpKind::Sqlite => return Ok(()),
    };
    if !start.iter().any(|s| head.contains(s)) {
        return Err(format!("it does not start like a {} dump", kind.label()));
    }
    if !tail.contains(end) {
        return Err(format!(
            "it does not end with '{end}': the dump is incomplete"
        ));
    }
    Ok(())
}

/// Read the first and last 4 KiB of a stream.
pub fn head_and_tail(r: &mut dyn Read) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if head.len() < 4096 {
            let k = (4096 - head.len()).min(n);
            head.extend_from_slice(&buf[..k]);
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 8192 {
            tail.drain(..tail.len() - 4096);
        }
    }
    Ok((head, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_backup_of_a_file_gives_a_checked_counted_copy() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("pi.sqlite");
        let c = rusqlite::Connection::open(&src).unwrap();
        c.execute_batch(
            "CREATE TABLE admin (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO admin VALUES (1, 'a'), (2, 'b');",
        )
        .unwrap();
        let dest = dir.path().join("copy.sqlite");
        let mut seen = 0;
        let d = sqlite(
            &src,
            &dest,
            Store::Plain,
            &OpenOptions::default(),
            &Interrupt::new(),
            &mut |n| seen = n,
        )
        .unwrap();
        assert_eq!(d.inventory.tables["admin"], 2);
        assert!(seen > 0);
        assert_eq!(d.size, std::fs::metadata(&dest).unwrap().len());
        let e = sqlite(
            &dir.path().join("missing.sqlite"),
            &dir.path().join("x"),
            Store::Plain,
            &OpenOptions::default(),
            &Interrupt::new(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Connect);

        // Compressed while stored: the same size and SHA-256 (of the database itself), the
        // frames decompress to the plain copy, and SQLite's own copy is gone.
        let zst = dir.path().join("copy.sqlite.zst");
        let z = sqlite(
            &src,
            &zst,
            Store::Zstd {
                level: 1,
                threads: 2,
            },
            &OpenOptions::default(),
            &Interrupt::new(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((z.size, z.sha256), (d.size, d.sha256));
        assert_eq!(z.inventory.tables["admin"], 2);
        let mut plain = Vec::new();
        zstd::stream::read::Decoder::new(File::open(&zst).unwrap())
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert!(plain == std::fs::read(&dest).unwrap());
        assert!(!dir.path().join("copy.sqlite.zst.copy").exists());
    }

    #[test]
    fn text_dumps_must_be_complete() {
        let pg_head = b"--\n-- PostgreSQL database dump\n--\n";
        assert!(text_dump_complete(
            DumpKind::Postgres,
            pg_head,
            b"\n--\n-- PostgreSQL database dump complete\n--\n"
        )
        .is_ok());
        let e = text_dump_complete(DumpKind::Postgres, pg_head, b"INSERT INTO x").unwrap_err();
        assert!(e.contains("incomplete"), "{e}");
        assert!(text_dump_complete(
            DumpKind::Mysql,
            b"-- MariaDB dump 10.19",
            b"-- Dump completed on 2026"
        )
        .is_ok());
        assert!(text_dump_complete(DumpKind::Mysql, b"garbage", b"-- Dump completed").is_err());
    }
}
