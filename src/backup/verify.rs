//! `backup verify`: read an archive to its end and check it without changing anything — the
//! compression checksum and tar structure, every member against the manifest (size and
//! SHA-256, nothing missing, nothing extra), that `pi.cfg` and the dump are present, and that
//! the dump is readable: a SQLite dump is copied to a private temporary directory and must
//! pass `PRAGMA integrity_check` with the manifest's row counts; a SQL dump must begin and
//! end the way its dump tool begins and ends one.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::scan::{self, Consumer, Role, Scan};
use super::{dump, inventory, staged, BackupError, DumpKind, Report};
use crate::archive::{Format, MemberInfo};
use crate::db::OpenOptions;
use crate::interrupt::Interrupt;
use crate::picfg::PiCfg;

/// What a verified archive holds.
#[derive(Debug, Clone)]
pub struct Verified {
    pub format: Format,
    pub manifest: Option<Manifest>,
    pub members: usize,
    pub picfg_member: String,
    pub dump_member: String,
    pub dump_kind: DumpKind,
    pub key_members: Vec<String>,
}

/// The members of an archive that are the encryption key: the manifest says so; for an
/// archive without one (privacyIDEA's), the member at the archived pi.cfg's `PI_ENCFILE`
/// (privacyIDEA's default `/etc/privacyidea/enckey` when it sets none).
pub fn key_members(scan: &Scan) -> Vec<String> {
    if let Some(m) = &scan.manifest {
        return m.enckey_members.clone();
    }
    let encfile = scan
        .picfg
        .as_ref()
        .and_then(|(_, text)| PiCfg::parse(&String::from_utf8_lossy(text)).ok())
        .and_then(|c| c.get_str("PI_ENCFILE").ok().flatten().map(str::to_string))
        .unwrap_or_else(|| "/etc/privacyidea/enckey".into());
    let want = encfile.trim_start_matches('/');
    scan.members
        .iter()
        .filter(|s| s.role == Role::File && s.info.name == want)
        .map(|s| s.info.name.clone())
        .collect()
}

/// Checks the dump while it streams by.
struct DumpCheck {
    tmp: Option<tempfile::TempDir>,
    sqlite_copy: Option<PathBuf>,
    text_result: Option<Result<(), String>>,
}

impl Consumer for DumpCheck {
    fn member(
        &mut self,
        info: &MemberInfo,
        role: Role,
        data: &mut dyn Read,
    ) -> Result<(), BackupError> {
        let Role::Dump(kind) = role else {
            return Ok(());
        };
        match kind {
            DumpKind::Sqlite => {
                if self.tmp.is_none() {
                    self.tmp = Some(
                        staged::private_dir(&std::env::temp_dir(), "pi-manage-verify").map_err(
                            |e| BackupError::io("cannot create a private temporary directory", e),
                        )?,
                    );
                }
                let dir = self.tmp.as_ref().expect("just made").path();
                let copy = dir.join("dump.sqlite");
                let mut f = super::leftovers::create_private(&copy)
                    .map_err(|e| BackupError::io(copy.display(), e))?;
                io::copy(data, &mut f).map_err(|e| BackupError::io(&info.name, e))?;
                self.sqlite_copy = Some(copy);
            }
            _ => {
                let (head, tail) =
                    dump::head_and_tail(data).map_err(|e| BackupError::io(&info.name, e))?;
                self.text_result = Some(dump::text_dump_complete(kind, &head, &tail));
            }
        }
        Ok(())
    }
}

/// Verify the archive at `path`.
pub fn verify(
    path: &Path,
    interrupt: &Interrupt,
    report: &mut dyn Report,
) -> Result<Verified, BackupError> {
    let mut check = DumpCheck {
        tmp: None,
        sqlite_copy: None,
        text_result: None,
    };
    let scan = scan::scan(path, &mut check, interrupt)?;
    let Some((picfg_member, picfg_text)) = scan.picfg.clone() else {
        return Err(BackupError::invalid(
            "Missing config file pi.cfg in backup file.",
        ));
    };
    let Some((dump_member, dump_kind)) = scan.dump.clone() else {
        return Err(BackupError::invalid(
            "Missing database dump in backup file.",
        ));
    };
    let bad_dump = |why: String| {
        BackupError::invalid(format!(
            "The database dump {dump_member} in {} is not readable: {why}",
            path.display()
        ))
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    report.say(format!(
        "Archive {} ({}, {} bytes, {} members).",
        path.display(),
        scan.format.extension(),
        size,
        scan.members.len()
    ));
    match &scan.manifest {
        Some(m) => {
            let rows: u64 = m.database.tables.values().sum();
            report.say(format!(
                "Manifest: written {} by {} {}; {} database, schema revision {}, {} tables, {rows} rows.",
                m.created_utc,
                m.tool,
                m.tool_version,
                m.database.kind,
                m.database.alembic_revision.as_deref().unwrap_or("none"),
                m.database.tables.len(),
            ));
            let files = scan.members.iter().filter(|s| s.sha256.is_some()).count();
            report.say(format!(
                "All {files} file checksums and sizes match the manifest."
            ));
        }
        None => report.say(
            "No manifest (an archive written by privacyIDEA): the compression checksum, the tar structure, pi.cfg and the dump were checked.".into(),
        ),
    }
    match PiCfg::parse(&String::from_utf8_lossy(&picfg_text)) {
        Ok(cfg) => match cfg.get_str("SQLALCHEMY_DATABASE_URI").ok().flatten() {
            Some(_) => report.say(format!("Configuration: /{picfg_member}.")),
            None => report.say(format!(
                "Configuration: /{picfg_member} (note: it sets no SQLALCHEMY_DATABASE_URI; a restore needs --keep-db-uri)."
            )),
        },
        Err(e) => report.say(format!(
            "Configuration: /{picfg_member} (note: pi-manage cannot read it: {e})."
        )),
    }
    match dump_kind {
        DumpKind::Sqlite => {
            let copy = check
                .sqlite_copy
                .clone()
                .ok_or_else(|| bad_dump("it was not read".into()))?;
            let result = rusqlite::Connection::open_with_flags(
                &copy,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .and_then(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)));
            match result {
                Ok(s) if s == "ok" => {}
                Ok(s) => return Err(bad_dump(format!("the integrity check says: {s}"))),
                Err(e) => return Err(bad_dump(e.to_string())),
            }
            let mut conn =
                crate::db::sqlite::SqliteConnection::open_path(&copy, &OpenOptions::default())
                    .map_err(|e| bad_dump(e.to_string()))?;
            let inv = inventory::take(&mut conn).map_err(|e| bad_dump(e.to_string()))?;
            if let Some(m) = &scan.manifest {
                if m.database.tables != inv.tables {
                    return Err(bad_dump(
                        "its tables or row counts differ from the manifest".into(),
                    ));
                }
            }
            report.say(format!(
                "Database dump {dump_member}: a SQLite database that passes its integrity check; {} tables, {} rows, schema revision {}.",
                inv.tables.len(),
                inv.tables.values().sum::<u64>(),
                inv.alembic_revision.as_deref().unwrap_or("none")
            ));
        }
        kind => {
            match check.text_result.take() {
                Some(Ok(())) => {}
                Some(Err(why)) => return Err(bad_dump(why)),
                None => return Err(bad_dump("it was not read".into())),
            }
            report.say(format!(
                "Database dump {dump_member}: a complete {} dump.",
                kind.label()
            ));
        }
    }
    let keys = key_members(&scan);
    if keys.is_empty() {
        report.say("Encryption key: not in the archive.".into());
    } else {
        report.say(format!(
            "Encryption key: in the archive ({}).",
            keys.join(", ")
        ));
    }
    report.say(format!("Backup {} is OK.", path.display()));
    Ok(Verified {
        format: scan.format,
        manifest: scan.manifest.clone(),
        members: scan.members.len(),
        picfg_member,
        dump_member,
        dump_kind,
        key_members: keys,
    })
}
