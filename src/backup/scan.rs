//! One pass over an archive, shared by `verify` and `restore`: every member's name and type
//! checked (by [`crate::archive`]), every file hashed and compared with the manifest when the
//! archive has one, and each member classified as privacyIDEA's restore classifies it
//! (`…/pi.cfg`, `…/dbdump-YYYYmmdd-HHMM.{sqlite|sql|pgsql}`; the last match wins). A consumer
//! sees each member's data as it streams by, so nothing is read twice.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::manifest::{Manifest, PAX_KEY};
use super::{dump_kind_of_member, is_picfg_member, BackupError, DumpKind, ErrorKind};
use crate::archive::{self, ArchiveError, Event, Format, MemberInfo, MemberKind, ReadError};
use crate::interrupt::Interrupt;

/// The largest `pi.cfg` accepted (it is held in memory).
const MAX_PICFG: u64 = 1 << 20;

/// What a member is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Dir,
    /// A `…/pi.cfg`.
    Picfg,
    /// The database dump.
    Dump(DumpKind),
    /// Any other file.
    File,
}

/// A member seen in the archive.
#[derive(Debug, Clone)]
pub struct Seen {
    pub info: MemberInfo,
    pub role: Role,
    pub sha256: Option<[u8; 32]>,
}

/// The result of a scan.
#[derive(Debug, Clone)]
pub struct Scan {
    pub format: Format,
    pub manifest: Option<Manifest>,
    pub members: Vec<Seen>,
    /// The `pi.cfg` privacyIDEA's restore would use (the last one), with its content.
    pub picfg: Option<(String, Vec<u8>)>,
    /// The dump privacyIDEA's restore would use (the last one).
    pub dump: Option<(String, DumpKind)>,
}

/// Receives each member's data during the scan. Read as much of `data` as needed; the rest is
/// read (and hashed) afterwards.
pub trait Consumer {
    fn member(
        &mut self,
        info: &MemberInfo,
        role: Role,
        data: &mut dyn Read,
    ) -> Result<(), BackupError>;
}

/// A consumer that only looks (verify without dump checks).
pub struct Discard;
impl Consumer for Discard {
    fn member(&mut self, _: &MemberInfo, _: Role, _: &mut dyn Read) -> Result<(), BackupError> {
        Ok(())
    }
}

/// privacyIDEA's wording for an archive that cannot be read (exit 2).
pub fn unreadable(path: &Path, e: impl std::fmt::Display) -> BackupError {
    BackupError::invalid(format!(
        "Unable to open backup file {}: {e}",
        path.display()
    ))
}

fn damaged(path: &Path, detail: impl std::fmt::Display) -> BackupError {
    BackupError::invalid(format!(
        "The backup file {} is damaged: {detail}",
        path.display()
    ))
}

/// Read the archive at `path` to its end, checking everything; `consumer` sees each member.
pub fn scan(
    path: &Path,
    consumer: &mut dyn Consumer,
    interrupt: &Interrupt,
) -> Result<Scan, BackupError> {
    let mut manifest: Option<Manifest> = None;
    let mut members: Vec<Seen> = Vec::new();
    let mut picfg = None;
    let mut dump = None;
    let mut names: HashSet<String> = HashSet::new();
    let result = archive::read_archive(path, &mut |ev| -> Result<(), BackupError> {
        match ev {
            Event::Global(records) => {
                if let Some((_, v)) = records.iter().find(|(k, _)| k == PAX_KEY) {
                    if !members.is_empty() || manifest.is_some() {
                        return Err(damaged(path, "a second or misplaced manifest"));
                    }
                    manifest = Some(Manifest::from_json(v)?);
                }
                Ok(())
            }
            Event::Member(info, data) => {
                // The same name twice is ambiguous (which copy is meant?): refused like every
                // other ambiguous archive, before anything is placed.
                if !names.insert(info.name.clone()) {
                    return Err(BackupError::invalid(format!(
                        "The backup file {} contains the member '{}' more than once; it is ambiguous, and nothing was restored.",
                        path.display(),
                        info.name
                    )));
                }
                let role = classify(info, manifest.as_ref());
                let mut hashed = Hashing {
                    inner: data,
                    hasher: Sha256::new(),
                    interrupt,
                    stopped: None,
                    read_error: None,
                };
                let io_err = |h: &Hashing<'_>, e: io::Error| match h.stopped {
                    Some(sig) => BackupError {
                        kind: ErrorKind::Interrupted(sig),
                        message: "interrupted; nothing was changed".into(),
                    },
                    None => unreadable(path, e),
                };
                if role == Role::Picfg {
                    if info.size > MAX_PICFG {
                        return Err(damaged(path, format!("{} is larger than 1 MiB", info.name)));
                    }
                    let mut text = Vec::with_capacity(info.size as usize);
                    hashed
                        .read_to_end(&mut text)
                        .map_err(|e| io_err(&hashed, e))?;
                    consumer.member(info, role, &mut text.as_slice())?;
                    picfg = Some((info.name.clone(), text));
                } else {
                    let used = consumer.member(info, role, &mut hashed);
                    // A consumer that failed because the archive could not be read reports
                    // the archive's problem, not its own.
                    if let (Err(_), Some(e)) = (&used, hashed.read_error.take()) {
                        return Err(io_err(&hashed, io::Error::other(e)));
                    }
                    used?;
                    io::copy(&mut hashed, &mut io::sink()).map_err(|e| io_err(&hashed, e))?;
                }
                if let Role::Dump(kind) = role {
                    dump = Some((info.name.clone(), kind));
                }
                let sha256 = (info.kind == MemberKind::File)
                    .then(|| <[u8; 32]>::from(hashed.hasher.finalize()));
                if let Some(m) = &manifest {
                    check_against(m, info, sha256.as_ref()).map_err(|d| damaged(path, d))?;
                }
                members.push(Seen {
                    info: info.clone(),
                    role,
                    sha256,
                });
                Ok(())
            }
        }
    });
    let format = match result {
        Ok(f) => f,
        Err(ReadError::Consumer(e)) => return Err(e),
        Err(ReadError::Archive(ArchiveError::Unsafe { name, reason })) => {
            return Err(BackupError::invalid(format!(
                "The backup file {} contains an unsafe member '{name}': {reason}.",
                path.display()
            )))
        }
        Err(ReadError::Archive(e)) => return Err(unreadable(path, e)),
    };
    if let Some(m) = &manifest {
        for want in &m.members {
            if !members.iter().any(|s| s.info.name == want.name) {
                return Err(damaged(
                    path,
                    format!("the member {} listed in its manifest is missing", want.name),
                ));
            }
        }
    }
    Ok(Scan {
        format,
        manifest,
        members,
        picfg,
        dump,
    })
}

/// privacyIDEA's classification; with a manifest, the dump is the member it names.
fn classify(info: &MemberInfo, manifest: Option<&Manifest>) -> Role {
    if info.kind == MemberKind::Dir {
        return Role::Dir;
    }
    if let Some(m) = manifest {
        if m.database.dump_member == info.name {
            if let Some(k) = DumpKind::from_id(&m.database.kind) {
                return Role::Dump(k);
            }
        }
    }
    if is_picfg_member(&info.name) {
        Role::Picfg
    } else if let Some(k) = dump_kind_of_member(&info.name) {
        Role::Dump(k)
    } else {
        Role::File
    }
}

fn check_against(m: &Manifest, info: &MemberInfo, sha: Option<&[u8; 32]>) -> Result<(), String> {
    let Some(want) = m.member(&info.name) else {
        return Err(format!("the member {} is not in its manifest", info.name));
    };
    let kind = match info.kind {
        MemberKind::File => "file",
        MemberKind::Dir => "dir",
    };
    if want.kind != kind {
        return Err(format!(
            "the member {} is a {kind}, its manifest says {}",
            info.name, want.kind
        ));
    }
    if let Some(sha) = sha {
        if want.size != info.size {
            return Err(format!(
                "the member {} has {} bytes, its manifest says {}",
                info.name, info.size, want.size
            ));
        }
        if want.sha256.as_deref() != Some(archive::hex_digest(sha).as_str()) {
            return Err(format!("checksum mismatch for {}", info.name));
        }
    }
    Ok(())
}

struct Hashing<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    interrupt: &'a Interrupt,
    stopped: Option<i32>,
    /// The archive's own read error, kept for the message.
    read_error: Option<String>,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(sig) = self.interrupt.requested() {
            self.stopped = Some(sig);
            return Err(io::Error::other("interrupted"));
        }
        let n = self.inner.read(buf).inspect_err(|e| {
            self.read_error = Some(e.to_string());
        })?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
