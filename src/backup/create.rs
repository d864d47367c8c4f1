//! `backup create`: dump the database and archive it with the configuration directory (and
//! optionally the FreeRADIUS directory) in privacyIDEA's member layout, with a manifest.
//!
//! Nothing half-done is ever visible: the dump and a snapshot of every configuration file go
//! to a private 0700 directory inside the backup directory, the archive is written under a
//! temporary dot-name with mode 0600, fsynced, and only then linked to its final name (never
//! replacing a file). Any failure — a missing or failing dump tool, a full disk, an interrupt —
//! removes the temporary files, so no archive and no dump are left behind.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::NaiveDateTime;
use regex::bytes::Regex;

use super::manifest::{DatabaseInfo, Manifest, ManifestMember, FORMAT_VERSION, PAX_KEY};
use super::spool::Store;
use super::{
    absolute, archive_name, check_url, dump, dump_file_name, member_name_of, staged, BackupError,
    DumpKind, ErrorKind, Report,
};
use crate::archive::{self, ArchiveWriter, Format, MemberMeta, WriteOptions};
use crate::clock::Clock;
use crate::db::OpenOptions;
use crate::dburl::DbUrl;
use crate::interrupt::Interrupt;

/// The zstd level used unless one is given. Level 1, not zstd's 3: a privacyIDEA database is
/// mostly audit rows, each with a 512-digit hex signature, on which level 1 is both the
/// fastest and the smallest (docs/benchmarks.md, "Backups").
pub const DEFAULT_ZSTD_LEVEL: u32 = 1;
/// The xz preset used unless one is given. Preset 0, not xz's 6: presets 1–6 take 2–10× the
/// time for 1–10 % less size on audit signatures.
pub const DEFAULT_XZ_LEVEL: u32 = 0;
/// privacyIDEA's gzip level.
pub const DEFAULT_GZIP_LEVEL: u32 = 9;

/// What to back up and how.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub directory: PathBuf,
    pub config_dir: PathBuf,
    pub radius_dir: Option<PathBuf>,
    /// Include `PI_ENCFILE` (and passphrase-encrypted copies of it).
    pub include_enckey: bool,
    pub format: Format,
    /// Compression level; `None`: zstd 1, xz 0, gzip 9.
    pub level: Option<u32>,
}

/// The installation and the run's environment.
pub struct CreateEnv<'a> {
    pub url: &'a DbUrl,
    pub encfile: Option<&'a Path>,
    pub open: OpenOptions,
    pub clock: &'a dyn Clock,
    pub interrupt: &'a Interrupt,
    pub dry_run: bool,
}

/// A finished (or, in a dry run, planned) backup.
#[derive(Debug, Clone)]
pub struct Created {
    /// The archive (in a dry run: the name it would get).
    pub archive: PathBuf,
    pub size: u64,
    pub manifest: Manifest,
    /// Local time the backup started (its name records it).
    pub started_local: NaiveDateTime,
    /// Files left out, with the reason.
    pub excluded: Vec<(PathBuf, String)>,
}

/// A file's private copy: its path, size and SHA-256.
type Snapshot = (PathBuf, u64, [u8; 32]);

/// A member to archive.
#[derive(Debug, Clone)]
struct Planned {
    name: String,
    source: PathBuf,
    is_dir: bool,
    meta: MemberMeta,
    enckey: bool,
    /// The source holds the member as zstd frames (the dump, compressed while it was
    /// written), copied into a `.tar.zst` as they are.
    zstd_frames: bool,
}

/// Create a backup. Lines and progress go to `report`.
pub fn create(
    opts: &CreateOptions,
    env: &CreateEnv<'_>,
    report: &mut dyn Report,
) -> Result<Created, BackupError> {
    let kind = check_url(env.url)?;
    let started_local = env.clock.now_local();
    let started_utc = env.clock.now_utc();
    let directory = absolute(&opts.directory);
    let config_dir = absolute(&opts.config_dir);
    let radius_dir = opts.radius_dir.as_deref().map(absolute);
    for (what, dir) in [
        ("configuration", Some(&config_dir)),
        ("RADIUS", radius_dir.as_ref()),
    ] {
        if let Some(d) = dir {
            if !d.is_dir() {
                return Err(BackupError::invalid(format!(
                    "The {what} directory {} does not exist.",
                    d.display()
                )));
            }
        }
    }
    let db_file = match kind {
        DumpKind::Sqlite => env
            .url
            .sqlite_path(&env.open.base_dir)
            .map(|p| absolute(&p)),
        _ => None,
    };
    let encfile = env.encfile.map(absolute);
    let key_bytes = encfile
        .as_ref()
        .and_then(|p| crate::input_file::read_bytes(p, crate::input_file::MAX_SECRET).ok());
    let mut plan = Plan {
        members: Vec::new(),
        excluded: Vec::new(),
        include_enckey: opts.include_enckey,
        encfile: encfile.clone(),
        key_bytes,
        db_file: db_file.clone(),
        backup_dir: directory.clone(),
        visited: Vec::new(),
    };
    if let Some(r) = &radius_dir {
        plan.walk(r)?;
    }
    plan.walk(&config_dir)?;
    if opts.include_enckey {
        if let Some(k) = &encfile {
            let listed = plan.members.iter().any(|m| m.source == *k);
            if !listed && k.is_file() {
                // The key lives outside the archived directories: asked for, so included.
                plan.add_file(k, true)?;
            }
        }
    }
    if !plan
        .members
        .iter()
        .any(|m| !m.is_dir && m.name.ends_with("/pi.cfg"))
    {
        return Err(BackupError::invalid(format!(
            "{} holds no pi.cfg, so the backup could not be restored. Give the directory of pi.cfg with -c/--config_dir.",
            config_dir.display()
        )));
    }
    let dump_name = dump_file_name(&started_local, kind);
    let dump_member = match member_name_of(&directory) {
        Some(d) => format!("{d}/{dump_name}"),
        None => dump_name.clone(),
    };
    let mut n = 0;
    let mut archive_path = directory.join(archive_name(&started_local, opts.format, n));
    while fs::symlink_metadata(&archive_path).is_ok() {
        n += 1;
        archive_path = directory.join(archive_name(&started_local, opts.format, n));
    }

    if kind == DumpKind::Sqlite {
        if let Some(p) = &db_file {
            report.say(format!("Backup SQLite file {}", p.display()));
        }
    }
    if opts.include_enckey {
        report.say("Including encryption key in backup".into());
    }
    for (p, why) in &plan.excluded {
        report.say(format!("Not archived: {} ({why})", p.display()));
    }
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool: "pi-manage".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created_utc: started_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        created_local: local_with_offset(&started_local, &started_utc),
        database: DatabaseInfo {
            kind: kind.id().into(),
            dump_member: dump_member.clone(),
            alembic_revision: None,
            tables: Default::default(),
            row_counts: String::new(),
        },
        config_dir: config_dir.display().to_string(),
        radius_dir: radius_dir.as_ref().map(|r| r.display().to_string()),
        contains_enckey: plan.members.iter().any(|m| m.enckey),
        enckey_members: plan
            .members
            .iter()
            .filter(|m| m.enckey)
            .map(|m| m.name.clone())
            .collect(),
        members: Vec::new(),
    };

    if env.dry_run {
        manifest.members = plan.members.iter().map(planned_entry).collect();
        report.say(format!(
            "Would dump the {} database {} and archive it with {} members of {} to {}{}.",
            kind.label(),
            env.url,
            plan.members.len(),
            config_dir.display(),
            archive_path.display(),
            if manifest.contains_enckey {
                ", including the encryption key"
            } else {
                ""
            }
        ));
        return Ok(Created {
            archive: archive_path,
            size: 0,
            manifest,
            started_local,
            excluded: plan.excluded,
        });
    }

    fs::create_dir_all(&directory)
        .map_err(|e| BackupError::io(format!("cannot create {}", directory.display()), e))?;
    super::leftovers::report_removed(&super::leftovers::sweep(&directory), report);
    let staging = staged::private_dir(&directory, "backup")
        .map_err(|e| BackupError::io(format!("cannot write to {}", directory.display()), e))?;

    let level = opts.level.unwrap_or(match opts.format {
        Format::TarZst => DEFAULT_ZSTD_LEVEL,
        Format::TarXz => DEFAULT_XZ_LEVEL,
        Format::Tgz => DEFAULT_GZIP_LEVEL,
    });
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    // A .tar.zst takes the dump compressed while the dump tool writes it; the other formats
    // compress it afterwards from the plain file (docs/benchmarks.md, "Compressing while the
    // dump is written").
    let store = match opts.format {
        Format::TarZst => Store::Zstd { level, threads },
        Format::TarXz | Format::Tgz => Store::Plain,
    };

    // 1. The database.
    let dump_path = staging.path().join(match store {
        Store::Plain => dump_name.clone(),
        Store::Zstd { .. } => format!("{dump_name}.zst"),
    });
    let dumped = {
        let mut bar = report.progress("dumping the database", None);
        dump::dump(
            env.url,
            kind,
            &env.open,
            &dump_path,
            store,
            env.interrupt,
            &mut |n| bar.set(n),
        )?
    };
    for line in &dumped.notices {
        report.say(line.clone());
    }
    manifest.database.alembic_revision = dumped.inventory.alembic_revision.clone();
    manifest.database.tables = dumped.inventory.tables.clone();
    manifest.database.row_counts = dumped.row_counts.into();

    // 2. A private snapshot of every file, so the manifest and the archive agree.
    let mut entries: Vec<(Planned, Option<Snapshot>)> = Vec::new();
    let now_meta = MemberMeta {
        mode: 0o600,
        uid: current_uid(),
        gid: current_gid(),
        mtime_secs: started_utc.and_utc().timestamp(),
        mtime_nanos: 0,
    };
    entries.push((
        Planned {
            name: dump_member.clone(),
            source: dump_path.clone(),
            is_dir: false,
            meta: now_meta,
            enckey: false,
            zstd_frames: dumped.store != Store::Plain,
        },
        Some((dump_path.clone(), dumped.size, dumped.sha256)),
    ));
    for (i, m) in plan.members.iter().enumerate() {
        if m.is_dir {
            entries.push((m.clone(), None));
            continue;
        }
        let copy = staging.path().join(format!("member-{i}"));
        let (size, sum) = snapshot(&m.source, &copy)?;
        entries.push((m.clone(), Some((copy, size, sum))));
    }
    manifest.members = entries
        .iter()
        .map(|(m, f)| match f {
            None => planned_entry(m),
            Some((_, size, sum)) => ManifestMember {
                name: m.name.clone(),
                kind: "file".into(),
                size: *size,
                sha256: Some(archive::hex_digest(sum)),
                mode: format!("{:04o}", m.meta.mode),
            },
        })
        .collect();

    // 3. The archive, under a temporary name.
    let file_name = archive_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = staged::temp_file(&directory, &file_name, 0o600)
        .map_err(|e| BackupError::io(format!("cannot write to {}", directory.display()), e))?;
    let total: u64 = entries
        .iter()
        .filter_map(|(_, f)| f.as_ref().map(|f| f.1))
        .sum();
    let wopts = WriteOptions {
        format: opts.format,
        level,
        threads,
        gzip_name: file_name.clone(),
        gzip_mtime: started_utc.and_utc().timestamp().max(0) as u32,
    };
    let io_fail = |e: io::Error| BackupError::io(format!("writing {}", archive_path.display()), e);
    {
        let mut bar = report.progress("archiving", Some(total));
        let mut w = ArchiveWriter::new(temp.as_file(), &wopts).map_err(io_fail)?;
        w.add_global_records(&[(PAX_KEY, &manifest.to_json())], now_meta.mtime_secs)
            .map_err(io_fail)?;
        let mut before = 0u64;
        let count = entries.len();
        for (i, (m, f)) in entries.iter().enumerate() {
            bar.set_label(&format!("archiving {}/{count} members", i + 1));
            match f {
                None => w.add_dir(&m.name, &m.meta).map_err(io_fail)?,
                Some((copy, size, sum)) => {
                    let mut src =
                        File::open(copy).map_err(|e| BackupError::io(copy.display(), e))?;
                    let mut interrupted = None;
                    let mut observe = |n| {
                        bar.set(before + n);
                        match env.interrupt.requested() {
                            Some(sig) => {
                                interrupted = Some(sig);
                                Err(io::Error::other("interrupted"))
                            }
                            None => Ok(()),
                        }
                    };
                    // The compressed dump was hashed as it was written, in the private
                    // staging directory; other members are hashed again as they are read.
                    let got = if m.zstd_frames {
                        src.metadata()
                            .and_then(|meta| {
                                w.add_zstd_frames(
                                    &m.name,
                                    &m.meta,
                                    *size,
                                    &mut src,
                                    meta.len(),
                                    &mut observe,
                                )
                            })
                            .map(|()| *sum)
                    } else {
                        w.add_file(&m.name, &m.meta, *size, &mut src, &mut observe)
                    };
                    if let Some(sig) = interrupted {
                        return Err(BackupError {
                            kind: ErrorKind::Interrupted(sig),
                            message: "interrupted; no backup was written".into(),
                        });
                    }
                    let got = got.map_err(io_fail)?;
                    if got != *sum {
                        return Err(BackupError::failed(format!(
                            "{} changed while it was archived; no backup was written",
                            m.name
                        )));
                    }
                    before += size;
                }
            }
        }
        w.finish().map_err(io_fail)?;
    }
    let size = temp.as_file().metadata().map(|m| m.len()).unwrap_or(0);

    // 4. Into place, never over an existing file.
    staged::commit_new(temp, &archive_path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            BackupError::failed(format!(
                "{} appeared while the backup was written; it was not overwritten, and no backup was written",
                archive_path.display()
            ))
        } else {
            BackupError::io(format!("writing {}", archive_path.display()), e)
        }
    })?;
    drop(staging);
    report.say(format!("Backup written to file {}", archive_path.display()));
    Ok(Created {
        archive: archive_path,
        size,
        manifest,
        started_local,
        excluded: plan.excluded,
    })
}

fn planned_entry(m: &Planned) -> ManifestMember {
    ManifestMember {
        name: m.name.clone(),
        kind: if m.is_dir { "dir" } else { "file" }.into(),
        size: 0,
        sha256: None,
        mode: format!("{:04o}", m.meta.mode),
    }
}

/// `2026-11-22T13:00:05+01:00` from the local and UTC readings of the same instant.
fn local_with_offset(local: &NaiveDateTime, utc: &NaiveDateTime) -> String {
    let secs = (*local - *utc).num_seconds();
    // Round to whole minutes: the two readings may be a few microseconds apart.
    let mins = (secs as f64 / 60.0).round() as i64;
    let sign = if mins < 0 { '-' } else { '+' };
    format!(
        "{}{sign}{:02}:{:02}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        mins.abs() / 60,
        mins.abs() % 60
    )
}

fn current_uid() -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| u64::from(m.uid()))
        .unwrap_or(0)
}

fn current_gid() -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| u64::from(m.gid()))
        .unwrap_or(0)
}

/// Copy a file into the staging directory, returning its size and SHA-256.
fn snapshot(src: &Path, dest: &Path) -> Result<(u64, [u8; 32]), BackupError> {
    let mut from = File::open(src).map_err(|e| BackupError::io(src.display(), e))?;
    let to =
        super::leftovers::create_private(dest).map_err(|e| BackupError::io(dest.display(), e))?;
    let mut w = dump::HashWriter::new(io::BufWriter::new(to));
    io::copy(&mut from, &mut w).map_err(|e| BackupError::io(src.display(), e))?;
    io::Write::flush(&mut w).map_err(|e| BackupError::io(dest.display(), e))?;
    let (n, sum, _) = w.finish();
    Ok((n, sum))
}

/// The members of the archived directories, in archive order, and what was left out.
struct Plan {
    members: Vec<Planned>,
    excluded: Vec<(PathBuf, String)>,
    include_enckey: bool,
    encfile: Option<PathBuf>,
    key_bytes: Option<Vec<u8>>,
    db_file: Option<PathBuf>,
    backup_dir: PathBuf,
    /// Directories already walked (device, inode), against link cycles.
    visited: Vec<(u64, u64)>,
}

impl Plan {
    /// Add `root` and everything below it, sorted by name (as privacyIDEA's tarfile).
    fn walk(&mut self, root: &Path) -> Result<(), BackupError> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(root).map_err(|e| BackupError::io(root.display(), e))?;
        if self.visited.contains(&(meta.dev(), meta.ino())) {
            return Ok(());
        }
        self.visited.push((meta.dev(), meta.ino()));
        let Some(name) = member_name_of(root) else {
            return Err(BackupError::invalid(format!(
                "{} cannot be archived (the root directory, or a name that is not UTF-8)",
                root.display()
            )));
        };
        self.members.push(Planned {
            name,
            source: root.to_path_buf(),
            is_dir: true,
            meta: MemberMeta::of(&meta),
            enckey: false,
            zstd_frames: false,
        });
        let mut children: Vec<PathBuf> = fs::read_dir(root)
            .map_err(|e| BackupError::io(root.display(), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        children.sort();
        for p in children {
            if p.starts_with(&self.backup_dir) || p == self.backup_dir {
                self.excluded.push((
                    p,
                    "the backup directory is never archived into itself".into(),
                ));
                continue;
            }
            let lmeta = match fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(_) => continue,
            };
            let is_link = lmeta.file_type().is_symlink();
            let Ok(meta) = fs::metadata(&p) else {
                self.excluded.push((p, "a dangling symbolic link".into()));
                continue;
            };
            if meta.is_dir() {
                if is_link {
                    self.excluded
                        .push((p, "a symbolic link to a directory; not followed".into()));
                } else {
                    self.walk(&p)?;
                }
            } else if meta.is_file() {
                self.consider_file(&p)?;
            } else {
                self.excluded
                    .push((p, "not a regular file (socket, FIFO or device)".into()));
            }
        }
        Ok(())
    }

    fn consider_file(&mut self, p: &Path) -> Result<(), BackupError> {
        if let Some(db) = &self.db_file {
            let s = p.as_os_str().to_string_lossy();
            let d = db.as_os_str().to_string_lossy();
            if same_file(p, db)
                || [
                    format!("{d}-wal"),
                    format!("{d}-shm"),
                    format!("{d}-journal"),
                ]
                .contains(&s.to_string())
            {
                self.excluded.push((
                    p.to_path_buf(),
                    "the live database; the archive holds its consistent dump instead".into(),
                ));
                return Ok(());
            }
        }
        let is_key = self.is_enckey(p);
        if is_key && !self.include_enckey {
            self.excluded.push((
                p.to_path_buf(),
                "encryption key; add -e/--enckey or include_enckey: true to include it".into(),
            ));
            return Ok(());
        }
        self.add_file(p, is_key)
    }

    fn add_file(&mut self, p: &Path, enckey: bool) -> Result<(), BackupError> {
        let meta = fs::metadata(p).map_err(|e| BackupError::io(p.display(), e))?;
        let Some(name) = member_name_of(p) else {
            self.excluded
                .push((p.to_path_buf(), "the name is not UTF-8".into()));
            return Ok(());
        };
        self.members.push(Planned {
            name,
            source: p.to_path_buf(),
            is_dir: false,
            meta: MemberMeta::of(&meta),
            enckey,
            zstd_frames: false,
        });
        Ok(())
    }

    /// `PI_ENCFILE` itself, a byte-identical copy of it, or a passphrase-encrypted key file.
    fn is_enckey(&self, p: &Path) -> bool {
        if let Some(k) = &self.encfile {
            if same_file(p, k) {
                return true;
            }
        }
        let Ok(meta) = fs::metadata(p) else {
            return false;
        };
        if let Some(bytes) = &self.key_bytes {
            if meta.len() == bytes.len() as u64 && fs::read(p).is_ok_and(|b| b == *bytes) {
                return true;
            }
        }
        // privacyIDEA's encrypted enckey: hex(iv) ":" hex(ct) "\n", 450 bytes for a 96-byte key.
        if (100..=4096).contains(&meta.len()) {
            let mut head = Vec::new();
            if File::open(p)
                .and_then(|f| f.take(4096).read_to_end(&mut head))
                .is_ok()
            {
                return encrypted_key_regex().is_match(&head);
            }
        }
        false
    }
}

fn encrypted_key_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*[0-9a-fA-F]{32}:(?:[0-9a-fA-F]{32})+\s*$").expect("static regex")
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}
