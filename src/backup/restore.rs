//! `backup restore`: put an archive's files back and load its dump into the database —
//! pi-manage's `.tar.xz` and privacyIDEA's own `.tgz` alike.
//!
//! The order is what makes it safe:
//!
//! 1. **Read and check the whole archive** ([`super::scan`]): unsafe names, links, devices and
//!    checksum mismatches refuse it. While it streams by, every file is written to a temporary
//!    dot-name next to its destination (never outside the target: links on the way are
//!    resolved and must stay inside it) and the dump to a temporary file.
//! 2. **Check everything that can refuse the restore**, with privacyIDEA's messages and exit
//!    code 2: `pi.cfg` and the dump present, the database URI readable, the dump's engine equal
//!    to the URI's, the client program installed, the database reachable (exit 3), no live
//!    SQLite journal next to the database file.
//! 3. Only then **load the database** (SQLite: the dump renamed over the database file;
//!    PostgreSQL: `psql` in one transaction; MySQL/MariaDB: `mariadb`), and after it succeeded
//!    **rename the files into place**. A refusal or failure before that removes every temporary
//!    file and every directory it created: nothing was changed.
//!
//! privacyIDEA extracts to `/`. So do we, but only when the operator confirms (`--yes`, or
//! answering a prompt on a terminal); `--target-dir DIR` restores the files, and a SQLite
//! database, below `DIR` instead, touching nothing else (a server database still needs `--yes`).

use std::fs::{self, File, Permissions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tempfile::NamedTempFile;

use super::scan::{self, Consumer, Role};
use super::staged::{self, CreatedDirs};
use super::verify::key_members;
use super::{absolute, clients, dump, leftovers, BackupError, DumpKind, ErrorKind, Report};
use crate::archive::{MemberInfo, MemberKind};
use crate::db::{self, OpenOptions};
use crate::dburl::{Backend, DbUrl};
use crate::interrupt::Interrupt;
use crate::picfg::PiCfg;

/// What to restore and where.
pub struct RestoreOptions<'a> {
    pub archive: PathBuf,
    /// Keep the database URI of the pi.cfg already at the restore's destination.
    pub keep_db_uri: bool,
    /// Restore below this directory instead of `/`.
    pub target_dir: Option<PathBuf>,
    /// The operator confirmed overwriting live data.
    pub yes: bool,
    /// Asks the operator (on a terminal); `None`: no one to ask, so refuse without `yes`.
    pub confirm: Option<&'a mut dyn FnMut(&str) -> bool>,
    pub open: OpenOptions,
    pub interrupt: &'a Interrupt,
}

/// What a restore did.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// Files put in place.
    pub files: Vec<PathBuf>,
    /// The restored pi.cfg.
    pub picfg: PathBuf,
    /// The database restored into (redacted URL).
    pub database: String,
    /// The encryption key files restored.
    pub enckey: Vec<PathBuf>,
}

/// A file member waiting under a temporary name.
struct StagedMember {
    dest: PathBuf,
    temp: NamedTempFile,
    mode: u32,
    mtime: u64,
}

/// Writes the members next to their destinations while the archive is scanned.
struct Stager<'r> {
    root: PathBuf,
    canon_root: PathBuf,
    files: Vec<StagedMember>,
    picfg_dest: Option<(PathBuf, u32, u64)>,
    dump: Option<(PathBuf, NamedTempFile)>,
    dirs: CreatedDirs,
    interrupt: &'r Interrupt,
    /// Directories already swept for leftovers of killed runs, and what that removed.
    swept: Vec<PathBuf>,
    removed: Vec<PathBuf>,
}

fn file_mode(m: u32) -> u32 {
    // No set-id or sticky bits, no group/other write, always readable by the owner.
    (m & 0o755) | 0o400
}

fn dir_mode(m: u32) -> u32 {
    (m & 0o755) | 0o700
}

impl Stager<'_> {
    /// The destination of a member: below the root, with every existing link on the way
    /// resolved and required to stay inside the root.
    fn resolve(&self, name: &str) -> Result<PathBuf, BackupError> {
        let outside = |why: &str| {
            BackupError::invalid(format!(
                "The member '{name}' would be written outside {} ({why}); nothing was restored.",
                self.root.display()
            ))
        };
        let mut cur = self.canon_root.clone();
        let mut exists = true;
        for comp in Path::new(name).components() {
            let Component::Normal(part) = comp else {
                return Err(outside("an unexpected path component"));
            };
            let next = cur.join(part);
            if exists {
                match fs::symlink_metadata(&next) {
                    Ok(m) if m.file_type().is_symlink() => {
                        let real = fs::canonicalize(&next)
                            .map_err(|_| outside("a dangling symbolic link on the way"))?;
                        if !real.starts_with(&self.canon_root) {
                            return Err(outside("a symbolic link on the way leads there"));
                        }
                        cur = real;
                        continue;
                    }
                    Ok(_) => {}
                    Err(_) => exists = false,
                }
            }
            cur = next;
        }
        Ok(cur)
    }

    fn parent_dirs(&mut self, dest: &Path) -> Result<PathBuf, BackupError> {
        let parent = dest.parent().unwrap_or(Path::new("/")).to_path_buf();
        self.dirs
            .create_all(&parent, 0o755)
            .map_err(|e| BackupError::io(format!("cannot create {}", parent.display()), e))?;
        Ok(parent)
    }

    fn stage(&mut self, dest: &Path, data: &mut dyn Read) -> Result<NamedTempFile, BackupError> {
        if dest.is_dir() {
            return Err(BackupError::invalid(format!(
                "{} is a directory, but the archive has a file there; nothing was restored.",
                dest.display()
            )));
        }
        let parent = self.parent_dirs(dest)?;
        if !self.swept.contains(&parent) {
            self.removed.extend(leftovers::sweep(&parent));
            self.swept.push(parent.clone());
        }
        let hint = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut temp = staged::temp_file(&parent, &hint, 0o600)
            .map_err(|e| BackupError::io(format!("cannot write to {}", parent.display()), e))?;
        io::copy(data, temp.as_file_mut()).map_err(|e| match self.interrupt.requested() {
            Some(sig) => BackupError {
                kind: ErrorKind::Interrupted(sig),
                message: "interrupted; nothing was changed".into(),
            },
            None => BackupError::io(format!("writing {}", dest.display()), e),
        })?;
        Ok(temp)
    }
}

impl Consumer for Stager<'_> {
    fn member(
        &mut self,
        info: &MemberInfo,
        role: Role,
        data: &mut dyn Read,
    ) -> Result<(), BackupError> {
        let dest = self.resolve(&info.name)?;
        match role {
            Role::Dir => {
                if dest.exists() && !dest.is_dir() {
                    return Err(BackupError::invalid(format!(
                        "{} exists and is not a directory; nothing was restored.",
                        dest.display()
                    )));
                }
                self.dirs
                    .create_all(&dest, dir_mode(info.mode))
                    .map_err(|e| BackupError::io(format!("cannot create {}", dest.display()), e))?;
            }
            Role::Picfg => {
                // Staged like any file; the one privacyIDEA's rule picks (the last) is written
                // again at the end, possibly patched by --keep-db-uri.
                let temp = self.stage(&dest, data)?;
                self.files.retain(|f| f.dest != dest);
                self.files.push(StagedMember {
                    dest: dest.clone(),
                    temp,
                    mode: file_mode(info.mode),
                    mtime: info.mtime,
                });
                self.picfg_dest = Some((dest, file_mode(info.mode), info.mtime));
            }
            Role::Dump(_) => {
                let temp = self.stage(&dest, data)?;
                self.dump = Some((dest, temp));
            }
            Role::File => {
                if info.kind == MemberKind::File {
                    let temp = self.stage(&dest, data)?;
                    // A later member of the same name wins, as with tar.
                    self.files.retain(|f| f.dest != dest);
                    self.files.push(StagedMember {
                        dest,
                        temp,
                        mode: file_mode(info.mode),
                        mtime: info.mtime,
                    });
                }
            }
        }
        Ok(())
    }
}

/// `--keep-db-uri`: privacyIDEA's rewrite of the restored pi.cfg (every
/// `SQLALCHEMY_DATABASE_URI = …` line replaced, or the line appended), refused when the result
/// would not read back as exactly that URI (a multi-line assignment, which privacyIDEA
/// corrupts).
pub fn patch_uri(text: &str, uri: &str) -> Result<String, BackupError> {
    let re = regex::Regex::new(r"(?m)^SQLALCHEMY_DATABASE_URI\s*=.*$").expect("static regex");
    let line = format!("SQLALCHEMY_DATABASE_URI = {}", crate::pytext::str_repr(uri));
    let out = if re.is_match(text) {
        re.replace_all(text, regex::NoExpand(&line)).into_owned()
    } else {
        format!("{text}\n{line}\n")
    };
    let ok = PiCfg::parse(&out)
        .ok()
        .and_then(|c| {
            c.get_str("SQLALCHEMY_DATABASE_URI")
                .ok()
                .flatten()
                .map(str::to_string)
        })
        .is_some_and(|u| u == uri);
    if !ok {
        return Err(BackupError::invalid(
            "--keep-db-uri: the restored pi.cfg cannot be rewritten safely (its SQLALCHEMY_DATABASE_URI assignment spans several lines); nothing was restored.",
        ));
    }
    Ok(out)
}

/// Restore. Lines and progress go to `report`.
pub fn restore(opts: RestoreOptions<'_>, report: &mut dyn Report) -> Result<Restored, BackupError> {
    let RestoreOptions {
        archive,
        keep_db_uri,
        target_dir,
        yes,
        mut confirm,
        open,
        interrupt,
    } = opts;
    let root = target_dir
        .as_deref()
        .map(absolute)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut confirmed = yes;
    let mut ask = |question: &str, refusal: String| -> Result<(), BackupError> {
        let yes = match confirm.as_mut() {
            Some(ask) => ask(question),
            None => false,
        };
        if yes {
            Ok(())
        } else {
            Err(BackupError::invalid(refusal))
        }
    };
    if target_dir.is_none() && !confirmed {
        ask(
            &format!(
                "Restore {} to / — overwriting the configuration files in it, the encryption key if it holds one, and the database?",
                archive.display()
            ),
            "Restoring to / overwrites the live configuration (pi.cfg, and the encryption key if the archive holds one) and the database. Run again with --yes to confirm, or restore the files elsewhere with --target-dir DIR.".into(),
        )?;
        confirmed = true;
    }
    if !archive.is_file() {
        return Err(scan::unreadable(&archive, "No such file or directory"));
    }
    let mut root_dirs = CreatedDirs::default();
    root_dirs
        .create_all(&root, 0o755)
        .map_err(|e| BackupError::io(format!("cannot create {}", root.display()), e))?;
    let canon_root = fs::canonicalize(&root).map_err(|e| BackupError::io(root.display(), e))?;
    let mut stager = Stager {
        root: root.clone(),
        canon_root,
        files: Vec::new(),
        picfg_dest: None,
        dump: None,
        dirs: CreatedDirs::default(),
        interrupt,
        swept: Vec::new(),
        removed: Vec::new(),
    };
    let scanned = scan::scan(&archive, &mut stager, interrupt);
    leftovers::report_removed(&stager.removed, report);
    let scanned = scanned?;

    // 2. Everything that can refuse the restore.
    let (Some((picfg_name, picfg_text)), Some((picfg_dest, picfg_mode, picfg_mtime))) =
        (scanned.picfg.clone(), stager.picfg_dest.clone())
    else {
        return Err(BackupError::invalid(
            "Missing config file pi.cfg in backup file.",
        ));
    };
    let (Some((_, dump_kind)), Some((dump_dest, _))) = (scanned.dump.clone(), stager.dump.as_ref())
    else {
        return Err(BackupError::invalid(
            "Missing database dump in backup file.",
        ));
    };
    let dump_dest = dump_dest.clone();
    let keys = key_members(&scanned);
    if keys.is_empty() {
        report.say(
            "NO FILE 'enckey' CONTAINED! BE SURE TO RESTORE THE ENCRYPTION KEY MANUALLY!".into(),
        );
    } else {
        report.say("Also restoring the encryption key".into());
    }
    report.say(format!(
        "Restoring to {} with data from {}",
        picfg_dest.display(),
        dump_dest.display()
    ));

    let mut live_uri = None;
    if keep_db_uri {
        if picfg_dest.exists() {
            match PiCfg::load(&picfg_dest) {
                Ok(cfg) => match cfg.get_str("SQLALCHEMY_DATABASE_URI") {
                    Ok(Some(u)) => {
                        report.say("--keep-db-uri: using database URI from live config.".into());
                        live_uri = Some(u.to_string());
                    }
                    Ok(None) => report.say("--keep-db-uri: no SQLALCHEMY_DATABASE_URI found in live config. Using database URI from backup.".into()),
                    Err(e) => report.say(format!("--keep-db-uri: could not read live config ({e}). Using database URI from backup.")),
                },
                Err(e) => report.say(format!(
                    "--keep-db-uri: could not read live config ({e}). Using database URI from backup."
                )),
            }
        } else {
            report.say(format!(
                "--keep-db-uri: could not read live config ({} does not exist). Using database URI from backup.",
                picfg_dest.display()
            ));
        }
    }
    let shown_cfg = format!("/{picfg_name}");
    let archived_text = String::from_utf8(picfg_text).map_err(|_| {
        BackupError::invalid(format!(
            "The config file {shown_cfg} in the backup file cannot be read: it is not UTF-8"
        ))
    })?;
    let uri = match &live_uri {
        Some(u) => u.clone(),
        None => {
            let cfg = PiCfg::parse(&archived_text).map_err(|e| {
                BackupError::invalid(format!(
                    "The config file {shown_cfg} in the backup file cannot be read: {e}"
                ))
            })?;
            match cfg.get_str("SQLALCHEMY_DATABASE_URI") {
                Ok(Some(u)) => u.to_string(),
                Ok(None) => {
                    return Err(BackupError::invalid(format!(
                        "No SQLALCHEMY_DATABASE_URI found in {shown_cfg} in the backup file."
                    )))
                }
                Err(e) => {
                    return Err(BackupError::invalid(format!(
                        "The config file {shown_cfg} in the backup file cannot be read: {e}"
                    )))
                }
            }
        }
    };
    let url = DbUrl::parse(&uri).map_err(|e| match e {
        crate::dburl::DbUrlError::NoDatabase(_) => BackupError::invalid(format!(
            "The database URI contains no database: {}",
            redact_text(&uri)
        )),
        crate::dburl::DbUrlError::UnsupportedScheme(s) => BackupError::invalid(format!(
            "Unsupported database: {}. Backup and restore support SQLite, MySQL/MariaDB, PostgreSQL.",
            s.split('+').next().unwrap_or(&s)
        )),
        e => BackupError::invalid(format!("Cannot parse the database URI: {e}")),
    })?;
    let url_kind = super::check_url(&url)?;
    if url_kind != dump_kind {
        return Err(BackupError::invalid(format!(
            "The backup contains a {} dump, but the database URI points to {}. Restoring across database engines is not supported. Nothing was restored.",
            dump_kind.label(),
            url_kind.label()
        )));
    }
    let new_picfg = match &live_uri {
        Some(u) => patch_uri(&archived_text, u)?,
        None => archived_text,
    };
    let sqlite_dest = match url.backend {
        Backend::Sqlite => {
            let p = absolute(
                &url.sqlite_path(&open.base_dir)
                    .expect("checked: not in memory"),
            );
            let p = match &target_dir {
                Some(_) => root.join(p.strip_prefix("/").unwrap_or(&p)),
                None => p,
            };
            for suffix in ["-wal", "-journal"] {
                let j = PathBuf::from(format!("{}{suffix}", p.display()));
                if j.exists() {
                    return Err(BackupError::invalid(format!(
                        "{} exists: the database is in use or was not closed cleanly. Stop privacyIDEA and try again; nothing was restored.",
                        j.display()
                    )));
                }
            }
            Some(p)
        }
        _ => None,
    };
    let mut client = None;
    if url.backend != Backend::Sqlite {
        let cands = clients::candidates(dump_kind, false, true);
        if clients::find_program(cands).is_none() {
            let shown = if dump_kind == DumpKind::Postgres {
                "psql"
            } else {
                "mysql"
            };
            return Err(clients::missing_program(shown, dump_kind));
        }
        if !confirmed {
            ask(
                &format!("Replace the contents of the database {url} with the dump from the archive?"),
                format!("This restore replaces the contents of the database {url}. Run again with --yes to confirm."),
            )?;
        }
        // Reachable now, or refuse before anything changes (exit 3).
        let mut conn = db::open(&url, &open)
            .map_err(|e| BackupError::connect(format!("{}; nothing was restored", e.message)))?;
        let mariadb = match dump_kind {
            DumpKind::Mysql => dump::is_mariadb(conn.as_mut())?,
            _ => false,
        };
        drop(conn);
        let program = clients::find_program(clients::candidates(dump_kind, false, mariadb))
            .expect("found above");
        client = Some(match dump_kind {
            DumpKind::Postgres => {
                let (cmd, ignored) = clients::postgres(
                    program,
                    &url,
                    &[
                        "--quiet",
                        "--no-psqlrc",
                        "--set",
                        "ON_ERROR_STOP=on",
                        "--single-transaction",
                        "--output=/dev/null",
                    ],
                );
                if !ignored.is_empty() {
                    report.say(format!("The following connection parameters of the database URI are not applied when dumping or restoring the database: {}", ignored.join(", ")));
                }
                cmd
            }
            _ => clients::mysql(program, &url, &["--batch"])?,
        });
    }
    report.say("=".repeat(60));

    // 3. The database, then the files.
    let (dump_dest, dump_temp) = stager.dump.take().expect("checked above");
    let _ = dump_dest;
    let dump_size = dump_temp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    match (&sqlite_dest, client) {
        (Some(db_path), _) => {
            report.say(format!("Restore SQLite {}", db_path.display()));
            let check = rusqlite::Connection::open_with_flags(
                dump_temp.path(),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)));
            if !matches!(check.as_deref(), Ok("ok")) {
                return Err(BackupError::invalid(
                    "The SQLite dump in the backup file is not a sound database; nothing was restored.",
                ));
            }
            let parent = stager.parent_dirs(db_path)?;
            adopt_owner_and_mode(dump_temp.as_file(), db_path, None)?;
            place_file(dump_temp, db_path, &parent)?;
        }
        (None, Some(cmd)) => {
            report.say("Restoring database.".into());
            let mut bar = report.progress("restoring the database", Some(dump_size));
            let mut input = BufReader::with_capacity(
                1 << 20,
                File::open(dump_temp.path())
                    .map_err(|e| BackupError::io(dump_temp.path().display(), e))?,
            );
            let result = if dump_kind == DumpKind::Mysql {
                let target = url.database.clone().unwrap_or_default();
                let mut filtered = UseFilter::new(&mut input, &target);
                let r = clients::run_from(&cmd, &mut filtered, &mut |n| bar.set(n));
                if let Some(other) = filtered.renamed.take() {
                    report.say(format!(
                        "The dump names the database `{other}`; it was restored into `{target}`, the database of the URI."
                    ));
                }
                r
            } else {
                clients::run_from(&cmd, &mut input, &mut |n| bar.set(n))
            };
            drop(bar);
            if let Err(mut e) = result {
                e.message.push_str(match dump_kind {
                    DumpKind::Postgres => ". Nothing was restored: the restore runs in one transaction, and the configuration files were left as they were.",
                    _ => ". The database may be partly restored; the configuration files were left as they were.",
                });
                return Err(e);
            }
        }
        (None, None) => unreachable!("a server database always has a client"),
    }

    let mut restored = Restored {
        picfg: picfg_dest.clone(),
        database: url.redacted(),
        ..Default::default()
    };
    // The files, in archive order; pi.cfg last, so a half-finished run never shows the new
    // configuration with old files around it.
    let key_dests: Vec<PathBuf> = keys.iter().filter_map(|k| stager.resolve(k).ok()).collect();
    for f in std::mem::take(&mut stager.files) {
        if f.dest == picfg_dest {
            continue;
        }
        adopt_owner_and_mode(f.temp.as_file(), &f.dest, Some(f.mode))?;
        if let Some(t) = mtime(f.mtime) {
            let _ = f.temp.as_file().set_modified(t);
        }
        if key_dests.contains(&f.dest) {
            restored.enckey.push(f.dest.clone());
        }
        let parent = f.dest.parent().unwrap_or(Path::new("/")).to_path_buf();
        place_file(f.temp, &f.dest, &parent)?;
        restored.files.push(f.dest);
    }
    let parent = picfg_dest.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut temp = staged::temp_file(&parent, "pi.cfg", 0o600)
        .map_err(|e| BackupError::io(format!("cannot write to {}", parent.display()), e))?;
    io::Write::write_all(temp.as_file_mut(), new_picfg.as_bytes())
        .map_err(|e| BackupError::io(picfg_dest.display(), e))?;
    adopt_owner_and_mode(temp.as_file(), &picfg_dest, Some(picfg_mode))?;
    if let Some(t) = mtime(picfg_mtime) {
        let _ = temp.as_file().set_modified(t);
    }
    place_file(temp, &picfg_dest, &parent)?;
    restored.files.push(picfg_dest.clone());
    stager.dirs.keep();
    root_dirs.keep();
    report.say(format!(
        "Restored {} files below {}.",
        restored.files.len(),
        root.display()
    ));
    match restored.enckey.as_slice() {
        [] => {}
        keys => report.say(format!(
            "The encryption key was restored: {}.",
            keys.iter()
                .map(|k| k.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    Ok(restored)
}

/// A member's modification time as a `SystemTime` (the scan refused out-of-range ones; checked
/// again so no value can make the arithmetic panic).
fn mtime(secs: u64) -> Option<std::time::SystemTime> {
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

/// A URI with its password replaced, for messages about URIs that do not parse.
fn redact_text(uri: &str) -> String {
    let re = regex::Regex::new(r"^([\w+.-]+://[^:/@]*:)[^@]*@").expect("static regex");
    re.replace(uri, "${1}***@").into_owned()
}

/// Give a staged file the owner and group of the file it replaces (when it exists; only root
/// can change owners, and an unchanged owner needs no change), and `mode` — or, for `None`
/// (the database file), the mode of the file it replaces, else 0640.
fn adopt_owner_and_mode(staged: &File, dest: &Path, mode: Option<u32>) -> Result<(), BackupError> {
    let existing = fs::metadata(dest).ok();
    let mode = mode
        .or_else(|| existing.as_ref().map(|m| m.mode() & 0o7777))
        .unwrap_or(0o640);
    if let Some(m) = &existing {
        if let Err(e) = std::os::unix::fs::fchown(staged, Some(m.uid()), Some(m.gid())) {
            if e.kind() != io::ErrorKind::PermissionDenied {
                return Err(BackupError::io(dest.display(), e));
            }
        }
    }
    staged
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|e| BackupError::io(dest.display(), e))
}

/// Rename a staged file over `dest`; across file systems, copy it next to `dest` first.
fn place_file(temp: NamedTempFile, dest: &Path, parent: &Path) -> Result<(), BackupError> {
    let same_dir = temp.path().parent() == Some(parent);
    if same_dir {
        return staged::commit_replace(temp, dest)
            .map(|_| ())
            .map_err(|e| BackupError::io(dest.display(), e));
    }
    match temp.persist(dest) {
        Ok(f) => {
            let _ = f.sync_all();
            staged::sync_dir(parent);
            Ok(())
        }
        Err(e) => {
            let temp = e.file;
            let meta = temp.as_file().metadata().ok();
            let mut copy = staged::temp_file(parent, "restore", 0o600)
                .map_err(|e| BackupError::io(format!("cannot write to {}", parent.display()), e))?;
            io::copy(
                &mut File::open(temp.path())
                    .map_err(|e| BackupError::io(temp.path().display(), e))?,
                copy.as_file_mut(),
            )
            .map_err(|e| BackupError::io(dest.display(), e))?;
            if let Some(m) = meta {
                let _ = std::os::unix::fs::fchown(copy.as_file(), Some(m.uid()), Some(m.gid()));
                let _ = copy.as_file().set_permissions(m.permissions());
            }
            staged::commit_replace(copy, dest)
                .map(|_| ())
                .map_err(|e| BackupError::io(dest.display(), e))
        }
    }
}

/// Streams a MySQL dump, dropping `CREATE DATABASE`/`USE` lines that name another database
/// than the restore's (privacyIDEA's `-B` dumps name their original database, which would
/// otherwise receive the data even with `--keep-db-uri`).
struct UseFilter<'a> {
    inner: &'a mut dyn BufRead,
    target: String,
    line: Vec<u8>,
    pos: usize,
    renamed: Option<String>,
}

impl<'a> UseFilter<'a> {
    fn new(inner: &'a mut dyn BufRead, target: &str) -> Self {
        UseFilter {
            inner,
            target: target.to_string(),
            line: Vec::new(),
            pos: 0,
            renamed: None,
        }
    }

    /// The database a `USE`/`CREATE DATABASE` line names, if it is one.
    fn names_database(line: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(line).ok()?.trim_end();
        let rest = if let Some(r) = text.strip_prefix("USE ") {
            r
        } else {
            let r = text.strip_prefix("CREATE DATABASE ")?;
            r.trim_start_matches("/*!32312 IF NOT EXISTS*/ ")
        };
        let rest = rest.strip_prefix('`')?;
        let end = rest.find('`')?;
        Some(rest[..end].replace("``", "`"))
    }
}

impl Read for UseFilter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.line.len() {
            self.line.clear();
            self.pos = 0;
            if self.inner.read_until(b'\n', &mut self.line)? == 0 {
                return Ok(0);
            }
            if self.line.starts_with(b"USE ") || self.line.starts_with(b"CREATE DATABASE ") {
                if let Some(db) = Self::names_database(&self.line) {
                    if db != self.target {
                        self.renamed = Some(db);
                        self.line.clear();
                    }
                }
            }
        }
        let n = (self.line.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_db_uri_rewrites_like_privacyidea_and_refuses_multiline() {
        let cfg = "A = 1\nSQLALCHEMY_DATABASE_URI = 'sqlite:////old'\nB = 2\n";
        assert_eq!(
            patch_uri(cfg, "mysql://pi:p'w@h/db").unwrap(),
            "A = 1\nSQLALCHEMY_DATABASE_URI = \"mysql://pi:p'w@h/db\"\nB = 2\n"
        );
        assert_eq!(
            patch_uri("A = 1\n", "sqlite:////x").unwrap(),
            "A = 1\n\nSQLALCHEMY_DATABASE_URI = 'sqlite:////x'\n"
        );
        let multi = "SQLALCHEMY_DATABASE_URI = ('sqlite:////a'\n    'b')\n";
        assert!(patch_uri(multi, "sqlite:////x").is_err());
    }

    #[test]
    fn use_lines_naming_another_database_are_dropped() {
        let dump = b"-- MariaDB dump\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `pi` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\nUSE `pi`;\nINSERT INTO `t` VALUES ('USE `x`');\n";
        let mut input = &dump[..];
        let mut f = UseFilter::new(&mut input, "other");
        let mut out = String::new();
        f.read_to_string(&mut out).unwrap();
        assert_eq!(
            out,
            "-- MariaDB dump\n\nINSERT INTO `t` VALUES ('USE `x`');\n"
        );
        assert_eq!(f.renamed.as_deref(), Some("pi"));
        let mut input = &dump[..];
        let mut same = UseFilter::new(&mut input, "pi");
        let mut out = Vec::new();
        same.read_to_end(&mut out).unwrap();
        assert_eq!(out, dump);
    }

    #[test]
    fn redacts_unparsable_uris() {
        assert_eq!(
            redact_text("postgresql://u:secret@h/"),
            "postgresql://u:***@h/"
        );
    }
}
