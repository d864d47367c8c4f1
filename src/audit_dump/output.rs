//! Where a dump goes when it goes to a file: staged under a temporary name in the target's
//! directory with mode 0600, optionally compressed, and renamed into place only when complete
//! (an error or an interrupt leaves no file behind).

use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::backup::staged;

use super::{DumpError, DumpStats};

/// How the file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Xz,
}

impl Compression {
    /// The file-name suffix after `.csv`.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
        }
    }
}

/// What to do with the finished file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Replace an existing file (`-f`, like privacyIDEA's `open(…, 'w')`); an empty dump
    /// writes nothing, as privacyIDEA's lazily opened file.
    ReplaceUnlessEmpty,
    /// Never replace an existing file; an empty dump is still a file (dump directories).
    New,
}

/// A file written, with what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub stats: DumpStats,
    /// Whether the file was created (not for an empty `-f` dump or an interrupted one).
    pub created: bool,
}

fn io_err(what: &str, dest: &Path, e: io::Error) -> DumpError {
    DumpError::Write(io::Error::new(
        e.kind(),
        format!("{what} {}: {e}", dest.display()),
    ))
}

/// Run `body` writing into a staged file for `dest` and commit it as `commit` says.
pub fn write_file(
    dest: &Path,
    compression: Compression,
    commit: Commit,
    body: impl FnOnce(&mut dyn Write) -> Result<DumpStats, DumpError>,
) -> Result<Written, DumpError> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let hint = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audit-dump".into());
    let file = staged::temp_file(dir, &hint, 0o600)
        .map_err(|e| io_err("cannot create a file next to", dest, e))?;
    let stats = {
        let buffered = BufWriter::with_capacity(1 << 16, file.as_file());
        match compression {
            Compression::None => {
                let mut w = buffered;
                let stats = body(&mut w)?;
                w.flush().map_err(DumpError::Write)?;
                stats
            }
            Compression::Gzip => {
                let mut w = flate2::write::GzEncoder::new(buffered, flate2::Compression::default());
                let stats = body(&mut w)?;
                w.finish()
                    .and_then(|mut b| b.flush())
                    .map_err(DumpError::Write)?;
                stats
            }
            Compression::Xz => {
                let mut w = xz2::write::XzEncoder::new(buffered, 6);
                let stats = body(&mut w)?;
                w.finish()
                    .and_then(|mut b| b.flush())
                    .map_err(DumpError::Write)?;
                stats
            }
        }
    };
    if stats.interrupted.is_some() || (commit == Commit::ReplaceUnlessEmpty && stats.entries == 0) {
        // Dropping the staged file removes it.
        return Ok(Written {
            stats,
            created: false,
        });
    }
    match commit {
        Commit::ReplaceUnlessEmpty => staged::commit_replace(file, dest),
        Commit::New => staged::commit_new(file, dest),
    }
    .map_err(|e| io_err("cannot write", dest, e))?;
    Ok(Written {
        stats,
        created: true,
    })
}
