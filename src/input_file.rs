//! Reading the files an operator points us at (job files, rules files, policy files, pi.cfg,
//! key, password and token files) with a bound: only regular files, never more than a limit
//! that is generous for real files. `/dev/zero`, a FIFO or a directory named where a file is
//! expected is refused before a byte is read, instead of growing the process until the kernel
//! kills it (or blocking forever on a FIFO nobody writes to).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Job files, privacyIDEA rules files and policy files: 16 MiB (a large real export of
/// policies is a few hundred KiB).
pub const MAX_DOCUMENT: u64 = 16 << 20;
/// Keys, passwords, passphrases and tokens: 1 MiB (an RSA key is a few KiB).
pub const MAX_SECRET: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum InputFileError {
    #[error("{0}")]
    Io(std::io::Error),
    #[error("not a regular file ({0}); pi-manage reads only regular files here")]
    NotRegular(&'static str),
    #[error("the file is larger than {} (pi-manage's limit for this kind of file)", human(*.0))]
    TooLarge(u64),
    /// The text is not UTF-8; `line` and `column` (1-based) are where the first bad byte is.
    #[error("the file is not valid UTF-8 (line {line}, column {column})")]
    NotUtf8 { line: usize, column: usize },
}

impl InputFileError {
    /// Where in the file the problem is: the first bad byte for UTF-8, else the start.
    pub fn line_column(&self) -> (usize, usize) {
        match self {
            InputFileError::NotUtf8 { line, column } => (*line, *column),
            _ => (1, 1),
        }
    }

    /// Whether the file does not exist (some callers treat that as "not yet created").
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputFileError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// For callers whose errors carry an `io::Error`: the original one, or the refusal as
/// `InvalidData`.
impl From<InputFileError> for std::io::Error {
    fn from(e: InputFileError) -> std::io::Error {
        match e {
            InputFileError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// What kind of non-regular file this is, for the message.
fn kind_name(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

/// Whether `path` is a regular file of at most `limit` bytes, without opening it (a key file
/// may be readable only by the tasks' user; its type and size are still known).
pub fn check_regular(path: &Path, limit: u64) -> Result<(), InputFileError> {
    let meta = std::fs::metadata(path).map_err(InputFileError::Io)?;
    if !meta.is_file() {
        return Err(InputFileError::NotRegular(kind_name(meta.file_type())));
    }
    if meta.len() > limit {
        return Err(InputFileError::TooLarge(limit));
    }
    Ok(())
}

/// Read a whole regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, InputFileError> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. Regular files
    // ignore the flag.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(InputFileError::Io)?;
    let meta = file.metadata().map_err(InputFileError::Io)?;
    if !meta.is_file() {
        return Err(InputFileError::NotRegular(kind_name(meta.file_type())));
    }
    if meta.len() > limit {
        return Err(InputFileError::TooLarge(limit));
    }
    read_limited(file, limit)
}

/// Read standard input (`config import` without `-i`) as UTF-8 text of at most `limit` bytes.
pub fn read_stdin_text(limit: u64) -> Result<String, InputFileError> {
    utf8(read_limited(std::io::stdin().lock(), limit)?)
}

/// Read at most `limit` bytes; a file that grew past it while we read is still refused.
fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, InputFileError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(InputFileError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(InputFileError::TooLarge(limit));
    }
    Ok(bytes)
}

/// Read a whole regular file of at most `limit` bytes as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, InputFileError> {
    utf8(read_bytes(path, limit)?)
}

/// UTF-8 text from bytes, or where the first invalid byte is.
pub fn utf8(bytes: Vec<u8>) -> Result<String, InputFileError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = std::str::from_utf8(valid).unwrap_or_default();
        let line = text.matches('\n').count() + 1;
        let column = text.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        InputFileError::NotUtf8 { line, column }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "héllo\n").unwrap();
        assert_eq!(read_text(&p, 100).unwrap(), "héllo\n");
        assert!(matches!(read_text(&p, 3), Err(InputFileError::TooLarge(3))));
    }

    #[test]
    fn devices_directories_and_fifos_are_refused_without_reading() {
        let e = read_bytes(Path::new("/dev/zero"), MAX_DOCUMENT).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_bytes(dir.path(), MAX_DOCUMENT).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bytes(&fifo, MAX_DOCUMENT).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
    }

    #[test]
    fn invalid_utf8_names_the_place() {
        let e = utf8(b"ok\nab\xffc".to_vec()).unwrap_err();
        assert_eq!(e.line_column(), (2, 3));
    }
}
