//! Backups of a privacyIDEA installation: create (database dump + configuration directory in
//! one archive), verify, restore, and the retention rule that prunes old archives.
//!
//! Compatible with privacyIDEA's `pi-manage backup` in both directions (reference §11): the
//! member layout is privacyIDEA's (the dump `…/dbdump-YYYYmmdd-HHMM.{sqlite|sql|pgsql}` first,
//! then the FreeRADIUS and configuration directories under their absolute paths without the
//! leading `/`), `--format tgz` writes the gzip archive privacyIDEA's `backup restore` reads, and
//! privacyIDEA's own `.tgz` archives are restored here. What is ours: zstd compression (or xz), a
//! manifest with checksums (a pax global header, which privacyIDEA and tar ignore), consistent
//! dumps of live databases, and restores that check everything before they change anything.
//!
//! Files: `naming` here (archive and dump names), [`manifest`], [`staged`] (atomic file
//! writes), [`inventory`] (tables, row counts, schema revision), [`clients`] (running
//! `pg_dump`/`psql`/`mariadb-dump`/`mariadb` with credentials), [`dump`], [`create`], [`scan`]
//! (reading an archive once, checking every member), [`verify`], [`restore`], [`retention`].

pub mod clients;
pub mod create;
pub mod dump;
pub mod inventory;
pub mod leftovers;
pub mod manifest;
pub mod restore;
pub mod retention;
pub mod scan;
pub mod spool;
pub mod staged;
pub mod verify;

use std::sync::OnceLock;

use chrono::NaiveDateTime;
use regex::Regex;

use crate::archive::Format;
use crate::dburl::{Backend, DbUrl};

/// privacyIDEA's default backup directory (`backup create -d`).
pub const DEFAULT_DIRECTORY: &str = "/var/lib/privacyidea/backup";
/// privacyIDEA's default configuration directory (`backup create -c`).
pub const DEFAULT_CONFIG_DIR: &str = "/etc/privacyidea";

/// The kind of database dump an archive holds; the dump's file suffix records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// A consistent copy of the SQLite file (`.sqlite`).
    Sqlite,
    /// `mysqldump`/`mariadb-dump` SQL (`.sql`).
    Mysql,
    /// `pg_dump` plain SQL (`.pgsql`).
    Postgres,
}

impl DumpKind {
    pub fn for_backend(b: Backend) -> DumpKind {
        match b {
            Backend::Sqlite => DumpKind::Sqlite,
            Backend::Mysql => DumpKind::Mysql,
            Backend::Postgres => DumpKind::Postgres,
        }
    }

    /// The dump file suffix, with the dot.
    pub fn suffix(self) -> &'static str {
        match self {
            DumpKind::Sqlite => ".sqlite",
            DumpKind::Mysql => ".sql",
            DumpKind::Postgres => ".pgsql",
        }
    }

    pub fn from_suffix(s: &str) -> Option<DumpKind> {
        match s {
            ".sqlite" => Some(DumpKind::Sqlite),
            ".sql" => Some(DumpKind::Mysql),
            ".pgsql" => Some(DumpKind::Postgres),
            _ => None,
        }
    }

    /// privacyIDEA's name of the engine in messages.
    pub fn label(self) -> &'static str {
        match self {
            DumpKind::Sqlite => "SQLite",
            DumpKind::Mysql => "MySQL/MariaDB",
            DumpKind::Postgres => "PostgreSQL",
        }
    }

    /// The manifest's name of the database kind.
    pub fn id(self) -> &'static str {
        match self {
            DumpKind::Sqlite => "sqlite",
            DumpKind::Mysql => "mysql",
            DumpKind::Postgres => "postgresql",
        }
    }

    pub fn from_id(s: &str) -> Option<DumpKind> {
        match s {
            "sqlite" => Some(DumpKind::Sqlite),
            "mysql" => Some(DumpKind::Mysql),
            "postgresql" => Some(DumpKind::Postgres),
            _ => None,
        }
    }
}

/// How a backup operation failed; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is unusable or the operation is refused before anything changed (exit 2):
    /// a broken or incomplete archive, a missing tool, an unsupported database.
    Invalid,
    /// The operation failed while running (exit 1): a dump tool failed, the disk is full.
    Failed,
    /// The database server could not be reached (exit 3).
    Connect,
    /// Stopped by a signal; nothing was left behind.
    Interrupted(i32),
}

/// A backup error: its kind and a message that never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BackupError {
    pub kind: ErrorKind,
    pub message: String,
}

impl BackupError {
    pub fn invalid(message: impl Into<String>) -> Self {
        BackupError {
            kind: ErrorKind::Invalid,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        BackupError {
            kind: ErrorKind::Failed,
            message: message.into(),
        }
    }

    pub fn connect(message: impl Into<String>) -> Self {
        BackupError {
            kind: ErrorKind::Connect,
            message: message.into(),
        }
    }

    /// The process exit code for this error (README: 0 ok, 1 failed, 2 invalid, 3 connect).
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Invalid => 2,
            ErrorKind::Failed => 1,
            ErrorKind::Connect => 3,
            ErrorKind::Interrupted(sig) => crate::interrupt::exit_code(sig),
        }
    }

    /// An I/O failure on `what`.
    pub fn io(what: impl std::fmt::Display, e: std::io::Error) -> Self {
        BackupError::failed(format!("{what}: {e}"))
    }
}

impl From<crate::db::DbError> for BackupError {
    fn from(e: crate::db::DbError) -> Self {
        use crate::db::DbErrorKind;
        match e.kind {
            DbErrorKind::Connect | DbErrorKind::Auth => BackupError::connect(e.message),
            _ => BackupError::failed(e.message),
        }
    }
}

/// The database URL checks privacyIDEA makes before a backup or restore (reference §11.0).
pub fn check_url(url: &DbUrl) -> Result<DumpKind, BackupError> {
    if url.backend == Backend::Sqlite && url.database.is_none() {
        return Err(BackupError::invalid(
            "An in-memory database cannot be backed up or restored.",
        ));
    }
    Ok(DumpKind::for_backend(url.backend))
}

/// Progress of work measured in bytes (dumping, archiving, restoring); shown as a bar on a
/// terminal, ignored otherwise.
pub trait ByteProgress {
    /// `done` bytes of the total so far.
    fn set(&mut self, _done: u64) {}
    /// What is being worked on now (e.g. `3/12 members`).
    fn set_label(&mut self, _label: &str) {}
}

/// Progress nobody watches.
pub struct NoByteProgress;
impl ByteProgress for NoByteProgress {}

/// Where backup operations send their lines and progress (a task's output, or a command's).
pub trait Report {
    /// One line for the operator.
    fn say(&mut self, line: String);
    /// A progress bar for `total` bytes (when known).
    fn progress(&mut self, _label: &str, _total: Option<u64>) -> Box<dyn ByteProgress> {
        Box::new(NoByteProgress)
    }
}

/// A report that collects the lines (tests, verify inside other operations).
#[derive(Debug, Default)]
pub struct Lines(pub Vec<String>);
impl Report for Lines {
    fn say(&mut self, line: String) {
        self.0.push(line);
    }
}

/// An absolute form of `p` (relative to the current directory), without resolving links:
/// privacyIDEA names members after `os.path.abspath`.
pub fn absolute(p: &std::path::Path) -> std::path::PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| std::path::PathBuf::from("/"))
            .join(p)
    };
    // Normalise `.` and `..` lexically, as abspath does.
    let mut out = std::path::PathBuf::from("/");
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// The member name of an absolute path: the path without its leading `/` (as `tarfile`).
pub fn member_name_of(p: &std::path::Path) -> Option<String> {
    let s = p.to_str()?;
    let s = s.trim_start_matches('/').trim_end_matches('/');
    (!s.is_empty()).then(|| s.to_string())
}

// ---------------------------------------------------------------------------------------------
// Naming

/// The archive name for a backup started at `local` (the server's local time, as privacyIDEA
/// names its archives): `privacyidea-backup-YYYYmmdd-HHMMSS.tar.zst`, with `-N` appended when
/// an archive of that second already exists (`n` > 0). privacyIDEA names by the minute.
pub fn archive_name(local: &NaiveDateTime, format: Format, n: u32) -> String {
    let stamp = local.format("%Y%m%d-%H%M%S");
    if n == 0 {
        format!("privacyidea-backup-{stamp}.{}", format.extension())
    } else {
        format!("privacyidea-backup-{stamp}-{n}.{}", format.extension())
    }
}

/// The file name of the dump member: privacyIDEA's `dbdump-YYYYmmdd-HHMM.<suffix>`, which its
/// restore looks for (it accepts no other form).
pub fn dump_file_name(local: &NaiveDateTime, kind: DumpKind) -> String {
    format!("dbdump-{}{}", local.format("%Y%m%d-%H%M"), kind.suffix())
}

fn archive_name_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^privacyidea-backup-(\d{8})-(\d{4}|\d{6})(?:-([1-9]\d{0,3}))?\.(tar\.zst|tar\.xz|tgz)$")
            .expect("static regex")
    })
}

/// A file name that follows pi-manage's or privacyIDEA's archive naming, with the time it
/// records (local time) and its format. Anything else is not a backup archive.
pub fn parse_archive_name(name: &str) -> Option<(NaiveDateTime, Format)> {
    let c = archive_name_regex().captures(name)?;
    let time = &c[2];
    let text = format!(
        "{}{}{}",
        &c[1],
        time,
        if time.len() == 4 { "00" } else { "" }
    );
    let at = NaiveDateTime::parse_from_str(&text, "%Y%m%d%H%M%S").ok()?;
    let format = match &c[4] {
        "tgz" => Format::Tgz,
        "tar.zst" => Format::TarZst,
        _ => Format::TarXz,
    };
    Some((at, format))
}

/// privacyIDEA's restore rule for the dump member (anchored; reference §11.2).
pub fn dump_kind_of_member(name: &str) -> Option<DumpKind> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"dbdump-\d{8}-\d{4}(\.sqlite|\.pgsql|\.sql)$").expect("static regex")
    });
    re.captures(name).and_then(|c| DumpKind::from_suffix(&c[1]))
}

/// privacyIDEA's restore rule for the configuration file: a member ending in `/pi.cfg`.
pub fn is_picfg_member(name: &str) -> bool {
    name.ends_with("/pi.cfg")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn names_round_trip_and_privacyidea_names_are_recognised() {
        let at = t("2026-11-22 13:00:05");
        let name = archive_name(&at, Format::TarXz, 0);
        assert_eq!(name, "privacyidea-backup-20261122-130005.tar.xz");
        assert_eq!(parse_archive_name(&name), Some((at, Format::TarXz)));
        let zst = archive_name(&at, Format::TarZst, 0);
        assert_eq!(zst, "privacyidea-backup-20261122-130005.tar.zst");
        assert_eq!(parse_archive_name(&zst), Some((at, Format::TarZst)));
        let second = archive_name(&at, Format::Tgz, 2);
        assert_eq!(second, "privacyidea-backup-20261122-130005-2.tgz");
        assert_eq!(parse_archive_name(&second), Some((at, Format::Tgz)));
        assert_eq!(
            parse_archive_name("privacyidea-backup-20261122-1300.tgz"),
            Some((t("2026-11-22 13:00:00"), Format::Tgz))
        );
        for not_ours in [
            "privacyidea-backup-20261122-1300.tgz.part",
            "privacyidea-backup-20261122-130.tgz",
            "privacyidea-backup-20261340-1300.tgz",
            "privacyidea-backup-20261122-1300-0.tgz",
            ".privacyidea-backup-20261122-1300.tgz",
            "privacyidea-backup-20261122-1300.tar.gz",
            "dbdump-20261122-1300.sqlite",
            "notes.txt",
        ] {
            assert_eq!(parse_archive_name(not_ours), None, "{not_ours}");
        }
        assert_eq!(
            dump_file_name(&at, DumpKind::Postgres),
            "dbdump-20261122-1300.pgsql"
        );
    }

    #[test]
    fn dump_and_picfg_members_as_privacyidea_finds_them() {
        assert_eq!(
            dump_kind_of_member("var/lib/privacyidea/backup/dbdump-20261122-1300.sqlite"),
            Some(DumpKind::Sqlite)
        );
        assert_eq!(
            dump_kind_of_member("x/dbdump-20261122-1300.sql"),
            Some(DumpKind::Mysql)
        );
        assert_eq!(
            dump_kind_of_member("x/dbdump-20261122-1300.pgsql"),
            Some(DumpKind::Postgres)
        );
        assert_eq!(dump_kind_of_member("x/dbdump-20261122-1300.sql.bak"), None);
        assert!(is_picfg_member("etc/privacyidea/pi.cfg"));
        assert!(!is_picfg_member("pi.cfg"));
        assert!(!is_picfg_member("etc/privacyidea/pi.cfg.orig"));
    }
}
