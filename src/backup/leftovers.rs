//! Temporary files and directories that say whose they are, and the sweep that removes those
//! of processes that are gone.
//!
//! Every temporary name pi-manage creates is
//! `.pi-manage.<hint>.<host>_<pid>_<start>.<random>.tmp`: `<hint>` says what it is (the
//! archive's or member's file name, `backup` for a staging directory); `<host>`, `<pid>` and
//! `<start>` identify the process that made it — `<start>` is the process's start time (clock
//! ticks since boot, field 22 of `/proc/<pid>/stat`), since a pid alone may have been reused by
//! now, and `<host>` keeps a run on one machine away from the files of a run on another that
//! shares the directory (NFS). A process killed with SIGKILL cannot clean up; the next run that
//! writes into the same directory calls [`sweep`], which removes every such entry of this host
//! whose process no longer exists (or whose pid now belongs to a process started at another
//! time), and never one of a process that is still running.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What every temporary name of ours starts with.
pub const PREFIX: &str = ".pi-manage.";

/// The start time of process `pid` in clock ticks since boot, if it exists.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `comm` (field 2) is in parentheses and may contain spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This machine's name, reduced to letters, digits and `-` (so it never holds a `.` or `_`).
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let clean: String = raw
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if clean.is_empty() {
            "localhost".into()
        } else {
            clean
        }
    })
}

/// `<host>_<pid>_<start>` of this process.
pub fn owner_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let pid = std::process::id();
        format!("{}_{pid}_{}", host(), start_time(pid).unwrap_or(0))
    })
}

/// The part of a temporary name before the random characters: `.pi-manage.<hint>.<owner>.`
/// (dots and slashes in the hint are kept out of the owner field's way).
pub fn name_prefix(hint: &str) -> String {
    let hint: String = hint
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    format!("{PREFIX}{hint}.{}.", owner_tag())
}

/// The process (pid, start time) a temporary name of ours made on this host belongs to.
pub fn owner_of(name: &str) -> Option<(u32, u64)> {
    let inner = name.strip_prefix(PREFIX)?.strip_suffix(".tmp")?;
    // `<hint>.<owner>.<random>`: the hint may contain dots, the other two do not.
    let mut parts = inner.rsplitn(3, '.');
    let _random = parts.next()?;
    let owner = parts.next()?;
    parts.next()?;
    let mut owner = owner.rsplitn(3, '_');
    let (start, pid, made_on) = (owner.next()?, owner.next()?, owner.next()?);
    if made_on != host() {
        return None;
    }
    Some((pid.parse().ok()?, start.parse().ok()?))
}

/// Whether the process that made a temporary name may still be running. When that cannot be
/// told (no `/proc`), it is assumed to be, so nothing is removed.
pub fn is_alive(pid: u32, start: u64) -> bool {
    if fs::metadata("/proc/self/stat").is_err() {
        return true;
    }
    match start_time(pid) {
        None => false,
        // A start time of 0 was recorded when it could not be read: the pid is all we have.
        Some(now) => start == 0 || now == start,
    }
}

/// Remove the temporary files and directories of ours in `dir` whose process is gone.
/// Returns what was removed; entries that cannot be removed are left (and not reported).
pub fn sweep(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, start)) = name.to_str().and_then(owner_of) else {
            continue;
        };
        if is_alive(pid, start) {
            continue;
        }
        let path = entry.path();
        // Never follow a link: a directory is removed with its contents, anything else itself.
        let gone = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) => Err(e),
        };
        if gone.is_ok() {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

/// Tell the operator what a sweep removed.
pub fn report_removed(removed: &[PathBuf], report: &mut dyn super::Report) {
    if !removed.is_empty() {
        report.say(format!(
            "Removed {} temporary file(s) left by an earlier run that was killed: {}",
            removed.len(),
            removed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// Create `path` as a new, empty file readable and writable by its owner only (0600 from the
/// first moment, whatever the umask), for data written into a private directory.
pub fn create_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A process that has exited: its pid and start time.
    fn dead_process() -> (u32, u64) {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = start_time(pid).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        (pid, start)
    }

    #[test]
    fn names_carry_their_owner() {
        let name = format!("{}abc123.tmp", name_prefix("privacyidea-backup-1.tar.xz"));
        let me = std::process::id();
        assert_eq!(
            owner_of(&name),
            Some((me, start_time(me).unwrap())),
            "{name}"
        );
        assert_eq!(owner_of(".privacyidea-backup-2020.tar.xz.123.tmp"), None);
        assert_eq!(owner_of(".pi-manage.x.notanowner.abc.tmp"), None);
        assert_eq!(
            owner_of(".pi-manage.x.h_1_2_3.abc.tmp"),
            None,
            "another host"
        );
        assert!(is_alive(me, start_time(me).unwrap()));
        assert!(!is_alive(me, start_time(me).unwrap() + 1), "pid reused");
    }

    #[test]
    fn sweep_removes_only_what_dead_processes_left() {
        let dir = tempfile::tempdir().unwrap();
        let (pid, start) = dead_process();
        let dead_dir = dir.path().join(format!(
            ".pi-manage.backup.{}_{pid}_{start}.aaa.tmp",
            host()
        ));
        fs::create_dir(&dead_dir).unwrap();
        fs::write(dead_dir.join("dump.sql"), "secret rows").unwrap();
        fs::set_permissions(&dead_dir, fs::Permissions::from_mode(0o700)).unwrap();
        let dead_file = dir.path().join(format!(
            ".pi-manage.pi.cfg.{}_{pid}_{start}.bbb.tmp",
            host()
        ));
        // Another machine's, in a shared directory: its pid means nothing here.
        let elsewhere = dir
            .path()
            .join(format!(".pi-manage.x.otherhost_{pid}_{start}.ddd.tmp"));
        fs::write(&elsewhere, "w").unwrap();
        fs::write(&dead_file, "x").unwrap();
        let mine = dir.path().join(format!("{}ccc.tmp", name_prefix("a.tgz")));
        fs::write(&mine, "y").unwrap();
        let other = dir.path().join(".privacyidea-backup.tar.xz.1.tmp");
        fs::write(&other, "z").unwrap();
        let removed = sweep(dir.path());
        assert_eq!(removed, {
            let mut v = vec![dead_dir.clone(), dead_file.clone()];
            v.sort();
            v
        });
        assert!(!dead_dir.exists() && !dead_file.exists());
        assert!(mine.exists(), "a live process's file is left alone");
        assert!(other.exists(), "names that are not ours are left alone");
        assert!(elsewhere.exists(), "another host's files are left alone");
    }
}
