//! Files that appear complete or not at all: written under a temporary dot-name in the
//! directory of their final path, fsynced, then linked or renamed into place (and the
//! directory fsynced). A staged file or private directory that is dropped before it is
//! committed is removed, so every error path, and an interrupt, leaves nothing behind.

use std::fs::{self, File, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempDir};

use super::leftovers;

/// A new temporary file in `dir` with exactly `mode` (0600 while it is written), named
/// `.pi-manage.<hint>.<owner>.<random>.tmp` (see [`leftovers`]). What killed runs left in
/// `dir` is swept first.
pub fn temp_file(dir: &Path, hint: &str, mode: u32) -> io::Result<NamedTempFile> {
    leftovers::sweep(dir);
    let f = tempfile::Builder::new()
        .prefix(&leftovers::name_prefix(hint))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    // The umask may have removed bits of `mode`; set it exactly.
    f.as_file().set_permissions(Permissions::from_mode(mode))?;
    Ok(f)
}

/// A private temporary directory in `parent` — 0700 from the moment it exists — removed with
/// everything in it on drop. What killed runs left in `parent` is swept first.
pub fn private_dir(parent: &Path, hint: &str) -> io::Result<TempDir> {
    leftovers::sweep(parent);
    tempfile::Builder::new()
        .prefix(&leftovers::name_prefix(hint))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in(parent)
}

/// Make a staged file durable and give it its final name without ever replacing an existing
/// file (`AlreadyExists` if `dest` exists).
pub fn commit_new(staged: NamedTempFile, dest: &Path) -> io::Result<File> {
    staged.as_file().sync_all()?;
    let file = staged.persist_noclobber(dest).map_err(|e| e.error)?;
    sync_dir(parent_of(dest));
    Ok(file)
}

/// Make a staged file durable and rename it over `dest` (readers see the old or the new
/// file, never a mix).
pub fn commit_replace(staged: NamedTempFile, dest: &Path) -> io::Result<File> {
    staged.as_file().sync_all()?;
    let file = staged.persist(dest).map_err(|e| e.error)?;
    sync_dir(parent_of(dest));
    Ok(file)
}

/// Best effort: make a directory's entries durable (not every file system supports it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn parent_of(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Directories created on the way to a path, removed again (deepest first, only while empty)
/// unless [`CreatedDirs::keep`] is called: a failed operation leaves no new directories.
#[derive(Debug, Default)]
pub struct CreatedDirs {
    dirs: Vec<PathBuf>,
    keep: bool,
}

impl CreatedDirs {
    /// `mkdir -p dir` with `mode` for the directories it creates, remembering them.
    pub fn create_all(&mut self, dir: &Path, mode: u32) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if d.as_os_str().is_empty() || fs::symlink_metadata(d).is_ok() {
                break;
            }
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        for d in missing.into_iter().rev() {
            match fs::DirBuilder::new().mode(mode).create(&d) {
                Ok(()) => {
                    fs::set_permissions(&d, Permissions::from_mode(mode))?;
                    self.dirs.push(d);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Keep the directories (the operation succeeded).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        if !self.keep {
            for d in self.dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn commit_new_never_overwrites_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.tar.xz");
        let mut t = temp_file(dir.path(), "a.tar.xz", 0o600).unwrap();
        t.write_all(b"one").unwrap();
        commit_new(t, &dest).unwrap();
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o777, 0o600);
        let mut t = temp_file(dir.path(), "a.tar.xz", 0o600).unwrap();
        t.write_all(b"two").unwrap();
        let e = commit_new(t, &dest).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&dest).unwrap(), b"one");
        // The failed temporary file is gone: only the archive is left.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn created_dirs_are_removed_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        {
            let mut c = CreatedDirs::default();
            c.create_all(&deep, 0o700).unwrap();
            assert!(deep.is_dir());
        }
        assert!(!dir.path().join("a").exists());
        let mut c = CreatedDirs::default();
        c.create_all(&deep, 0o750).unwrap();
        c.keep();
        drop(c);
        assert_eq!(fs::metadata(&deep).unwrap().mode() & 0o777, 0o750);
    }
}
