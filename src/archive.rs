//! Backup archives as byte streams: tar inside zstd (pi-manage's `.tar.zst`, the default), xz
//! (pi-manage's `.tar.xz`, the default before zstd) or gzip (privacyIDEA's `.tgz`), written and
//! read member by member without ever holding a member in memory.
//!
//! zstd is the default because a privacyIDEA database is mostly audit rows whose signatures are
//! hex digits, which no LZ match finder shortens: only the entropy coder gains, and zstd's
//! Huffman literals do that at a tenth of xz's CPU time and a fifth of gzip -9's, for a smaller
//! archive than either (docs/benchmarks.md, "Backups").
//!
//! Writing follows what privacyIDEA's Python `tarfile` produces, so its `backup restore` reads
//! our `.tgz`: POSIX pax format, a pax `mtime` record per member, member names without a leading
//! `/`, gzip with the archive's base name in the header. One addition: a pax *global* header
//! at the very start can carry records for machines (the backup manifest). Python's `tarfile`
//! and GNU tar read such a header as metadata and never extract it.
//!
//! Reading is strict, because a restore must never write outside its target: member names must
//! be relative and free of `..`; only regular files and directories are accepted (links,
//! devices, FIFOs and sparse files are refused); every member must deliver exactly its declared
//! size; and the compressed stream is read to its end, so the zstd, xz or gzip checksum of the
//! whole archive is checked, and so is the tar end-of-archive marker.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};
use xz2::read::XzDecoder;
use xz2::stream::{Check, MtStreamBuilder};
use xz2::write::XzEncoder;

/// The two archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// pi-manage's own: tar + zstd (with a content checksum per frame).
    TarZst,
    /// pi-manage's own before zstd: tar + xz.
    TarXz,
    /// privacyIDEA's: tar + gzip.
    Tgz,
}

impl Format {
    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::TarZst => "tar.zst",
            Format::TarXz => "tar.xz",
            Format::Tgz => "tgz",
        }
    }

    /// The format a file starts with (its magic bytes), whatever its name says.
    pub fn from_magic(head: &[u8]) -> Option<Format> {
        if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
            Some(Format::TarZst)
        } else if head.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Format::TarXz)
        } else if head.starts_with(&[0x1F, 0x8B]) {
            Some(Format::Tgz)
        } else {
            None
        }
    }
}

/// How to compress.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub format: Format,
    /// zstd level 1–19, xz preset 0–9, gzip level 1–9. privacyIDEA writes gzip level 9.
    pub level: u32,
    /// zstd and xz: compressor threads (1 = compressed on the writing thread).
    pub threads: u32,
    /// gzip only: the file name stored in the gzip header (the archive's base name).
    pub gzip_name: String,
    /// gzip only: the time stored in the gzip header (seconds since the epoch).
    pub gzip_mtime: u32,
}

/// Owner, mode and time of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberMeta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch.
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
}

impl MemberMeta {
    /// The metadata of a file or directory on disk.
    pub fn of(meta: &std::fs::Metadata) -> MemberMeta {
        use std::os::unix::fs::MetadataExt;
        MemberMeta {
            mode: meta.mode() & 0o7777,
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            mtime_secs: meta.mtime(),
            mtime_nanos: meta.mtime_nsec().clamp(0, 999_999_999) as u32,
        }
    }
}

/// The compressor under the tar stream.
enum Compressor<W: Write> {
    /// The current zstd frame (`None` only while one frame is closed and the next not yet
    /// begun, or after a failure in between, which leaves the archive unusable), and how to
    /// begin the next one.
    Zst {
        frame: Option<zstd::stream::write::Encoder<'static, W>>,
        level: u32,
        threads: u32,
    },
    Xz(XzEncoder<W>),
    Gz(GzEncoder<W>),
}

fn no_frame() -> io::Error {
    io::Error::other("the archive's zstd stream was left unfinished by an earlier error")
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Zst { frame, .. } => frame.as_mut().ok_or_else(no_frame)?.write(buf),
            Compressor::Xz(w) => w.write(buf),
            Compressor::Gz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Zst { frame, .. } => frame.as_mut().ok_or_else(no_frame)?.flush(),
            Compressor::Xz(w) => w.flush(),
            Compressor::Gz(w) => w.flush(),
        }
    }
}

impl<W: Write> Compressor<W> {
    fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Zst { frame, .. } => frame.ok_or_else(no_frame)?.finish(),
            Compressor::Xz(w) => w.finish(),
            Compressor::Gz(w) => w.finish(),
        }
    }
}

impl<W: Write> Compressor<BufWriter<W>> {
    /// zstd only: close the current frame, copy `len` bytes of complete zstd frames from
    /// `frames` into the output as they are, and begin a new frame. A zstd stream is any
    /// sequence of frames, so readers (libzstd, `zstd`, `tar --zstd`, ours) see one stream
    /// whose content is the frames' contents in order.
    fn splice_frames(
        &mut self,
        frames: &mut File,
        len: u64,
        observe: &mut dyn FnMut(u64) -> io::Result<()>,
    ) -> io::Result<()> {
        let Compressor::Zst {
            frame,
            level,
            threads,
        } = self
        else {
            return Err(io::Error::other(
                "precompressed members exist only in .tar.zst archives",
            ));
        };
        let mut out = frame.take().ok_or_else(no_frame)?.finish()?;
        // Flushed, so the copy below can go file to file inside the kernel
        // (`copy_file_range`), in steps that let the caller report progress or stop.
        out.flush()?;
        let mut copied = 0u64;
        while copied < len {
            let step = (len - copied).min(SPLICE_STEP);
            let n = io::copy(&mut frames.take(step), out.get_mut())?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the compressed member ended after {copied} of {len} bytes"),
                ));
            }
            copied += n;
            observe(copied)?;
        }
        *frame = Some(zstd_encoder(out, *level, *threads)?);
        Ok(())
    }
}

/// How much of a precompressed member is copied between two progress reports.
const SPLICE_STEP: u64 = 16 << 20;

/// Writes an archive member by member. Call [`ArchiveWriter::finish`]; an archive dropped
/// without it is incomplete (and must be thrown away by the caller).
pub struct ArchiveWriter<W: Write> {
    tar: tar::Builder<Compressor<BufWriter<W>>>,
}

/// Called with the number of bytes of the current member written so far; an error stops the
/// archive (an interrupt, for example).
pub type Observer<'a> = &'a mut dyn FnMut(u64) -> io::Result<()>;

impl<W: Write> ArchiveWriter<W> {
    pub fn new(inner: W, opts: &WriteOptions) -> io::Result<Self> {
        let inner = BufWriter::with_capacity(1 << 20, inner);
        let compressor = match opts.format {
            Format::TarZst => Compressor::Zst {
                frame: Some(zstd_encoder(inner, opts.level, opts.threads)?),
                level: opts.level,
                threads: opts.threads,
            },
            Format::TarXz => {
                let stream = MtStreamBuilder::new()
                    .preset(opts.level.min(9))
                    .threads(opts.threads.max(1))
                    .check(Check::Crc64)
                    .encoder()
                    .map_err(io::Error::other)?;
                Compressor::Xz(XzEncoder::new_stream(inner, stream))
            }
            Format::Tgz => {
                let gz = GzBuilder::new()
                    .filename(opts.gzip_name.as_bytes())
                    .mtime(opts.gzip_mtime)
                    .operating_system(255)
                    .write(inner, Compression::new(opts.level.clamp(1, 9)));
                Compressor::Gz(gz)
            }
        };
        let mut tar = tar::Builder::new(compressor);
        tar.mode(tar::HeaderMode::Complete);
        Ok(ArchiveWriter { tar })
    }

    /// A pax global header (`g`) with these records; readers keep it as archive metadata.
    pub fn add_global_records(&mut self, records: &[(&str, &str)], mtime: i64) -> io::Result<()> {
        let mut data = Vec::new();
        for (k, v) in records {
            data.extend_from_slice(&pax_record(k, v.as_bytes()));
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XGlobalHeader);
        set_ascii_name(&mut h, "pax_global_header")?;
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime.max(0) as u64);
        h.set_cksum();
        self.tar.append(&h, data.as_slice())
    }

    /// A directory member.
    pub fn add_dir(&mut self, name: &str, meta: &MemberMeta) -> io::Result<()> {
        let mut h = self.member_header(name, meta, EntryType::Directory, 0)?;
        h.set_cksum();
        self.tar.append(&h, io::empty())
    }

    /// A regular-file member of exactly `size` bytes read from `data`; returns its SHA-256.
    /// Fails when `data` ends early (the file shrank); never reads past `size`.
    pub fn add_file(
        &mut self,
        name: &str,
        meta: &MemberMeta,
        size: u64,
        data: &mut dyn Read,
        observe: Observer<'_>,
    ) -> io::Result<[u8; 32]> {
        let mut h = self.member_header(name, meta, EntryType::Regular, size)?;
        h.set_cksum();
        let mut reader = HashingReader::new(data.take(size), observe);
        self.tar.append(&h, &mut reader)?;
        if let Some(e) = reader.error.take() {
            return Err(e);
        }
        if reader.count != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{name}: expected {size} bytes, read {} (the file changed while it was archived)",
                    reader.count
                ),
            ));
        }
        Ok(reader.finish())
    }

    /// `.tar.zst` only: a regular-file member of exactly `size` bytes whose data is already
    /// compressed, as complete zstd frames, in the first `frames_len` bytes of `frames` (the
    /// dump, compressed while the dump tool wrote it). Its header ends the archive's current
    /// frame, the frames are copied as they are, and the padding to the next 512-byte block
    /// begins a new frame. The data is not decompressed here, so it is neither hashed nor
    /// counted again: whoever wrote the frames did both on the uncompressed bytes.
    pub fn add_zstd_frames(
        &mut self,
        name: &str,
        meta: &MemberMeta,
        size: u64,
        frames: &mut File,
        frames_len: u64,
        observe: Observer<'_>,
    ) -> io::Result<()> {
        let mut h = self.member_header(name, meta, EntryType::Regular, size)?;
        h.set_cksum();
        let out = self.tar.get_mut();
        out.write_all(h.as_bytes())?;
        // Progress in uncompressed bytes, as for every other member.
        let scale = |done: u64| {
            if frames_len == 0 {
                size
            } else {
                (u128::from(size) * u128::from(done) / u128::from(frames_len)) as u64
            }
        };
        out.splice_frames(frames, frames_len, &mut |done| observe(scale(done)))?;
        let pad = (512 - size % 512) % 512;
        out.write_all(&[0u8; 512][..pad as usize])
    }

    /// The pax record set privacyIDEA's archives have (a fractional `mtime`), plus `path` for
    /// names a ustar header cannot hold and `size` for members of 8 GiB and more.
    fn member_header(
        &mut self,
        name: &str,
        meta: &MemberMeta,
        kind: EntryType,
        size: u64,
    ) -> io::Result<Header> {
        let stored = if kind == EntryType::Directory && !name.ends_with('/') {
            format!("{name}/")
        } else {
            name.to_string()
        };
        let mut pax: Vec<(&str, Vec<u8>)> = vec![("mtime", pax_time(meta).into_bytes())];
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        if !fits_ustar(&stored) {
            pax.push(("path", stored.as_bytes().to_vec()));
            let short: String = stored
                .chars()
                .filter(char::is_ascii)
                .take(99)
                .collect::<String>();
            set_ascii_name(&mut h, &short)?;
        } else {
            h.set_path(&stored)?;
        }
        if size >= 8 << 30 {
            pax.push(("size", size.to_string().into_bytes()));
        }
        h.set_size(size);
        h.set_mode(meta.mode & 0o7777);
        h.set_uid(meta.uid);
        h.set_gid(meta.gid);
        h.set_mtime(meta.mtime_secs.max(0) as u64);
        self.tar
            .append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))?;
        Ok(h)
    }

    /// Write the end-of-archive marker, finish compression, and return the inner writer
    /// (flushed, not yet synced).
    pub fn finish(self) -> io::Result<W> {
        let compressor = self.tar.into_inner()?;
        let buf = compressor.finish()?;
        buf.into_inner().map_err(|e| e.into_error())
    }
}

/// A zstd encoder writing one frame with a content checksum; with more than one thread the
/// input is compressed on `threads` worker threads while the caller goes on reading and
/// hashing the next data.
pub(crate) fn zstd_encoder<W: Write>(
    inner: W,
    level: u32,
    threads: u32,
) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let mut enc = zstd::stream::write::Encoder::new(inner, level.clamp(1, 19) as i32)?;
    enc.include_checksum(true)?;
    if threads > 1 {
        enc.multithread(threads)?;
    }
    Ok(enc)
}

/// One `"%d %s=%s\n"` pax record, whose length counts itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = 3 + key.len() + value.len();
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// Python's `repr(float)`-like decimal time: `1795352444.7532957`, or a whole number.
fn pax_time(meta: &MemberMeta) -> String {
    if meta.mtime_nanos == 0 {
        return meta.mtime_secs.to_string();
    }
    let frac = format!("{:09}", meta.mtime_nanos);
    format!("{}.{}", meta.mtime_secs, frac.trim_end_matches('0'))
}

/// Whether a name fits the ustar name/prefix fields as plain ASCII.
fn fits_ustar(name: &str) -> bool {
    if !name.is_ascii() {
        return false;
    }
    if name.len() <= 100 {
        return true;
    }
    // prefix (≤155) + '/' + name (≤100), split at a slash.
    name.char_indices()
        .filter(|&(_, c)| c == '/')
        .any(|(i, _)| i <= 155 && name.len() - i - 1 <= 100 && i > 0)
}

fn set_ascii_name(h: &mut Header, name: &str) -> io::Result<()> {
    let ustar = h
        .as_ustar_mut()
        .ok_or_else(|| io::Error::other("not a ustar header"))?;
    let bytes = name.as_bytes();
    let n = bytes.len().min(99);
    ustar.name = [0; 100];
    ustar.name[..n].copy_from_slice(&bytes[..n]);
    Ok(())
}

/// A reader that hashes and counts what passes through and reports progress.
struct HashingReader<'a, R: Read> {
    inner: R,
    hasher: Sha256,
    count: u64,
    observe: Observer<'a>,
    /// An error of the observer, kept so it is reported as itself (the tar writer turns
    /// read errors into its own messages).
    error: Option<io::Error>,
}

impl<'a, R: Read> HashingReader<'a, R> {
    fn new(inner: R, observe: Observer<'a>) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
            observe,
            error: None,
        }
    }

    fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if let Err(e) = (self.observe)(self.count) {
            let copy = io::Error::new(e.kind(), e.to_string());
            self.error = Some(e);
            return Err(copy);
        }
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    File,
    Dir,
}

/// A member as the archive declares it; `name` is already checked and normalised
/// (relative, no `.` or `..` components, no trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub name: String,
    pub kind: MemberKind,
    pub size: u64,
    pub mode: u32,
    pub mtime: u64,
}

/// The latest member modification time accepted: 9999-12-31T23:59:59Z. A tar header can hold
/// far larger values (base-256 fields reach 2^95), which no file system or clock can represent.
pub const MAX_MTIME: u64 = 253_402_300_799;

/// What the reader hands to its consumer, in archive order.
pub enum Event<'a> {
    /// A pax global header's records.
    Global(Vec<(String, String)>),
    /// A member and its data (read as much as you like; the rest is skipped and counted).
    Member(&'a MemberInfo, &'a mut dyn Read),
}

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{0}")]
    Open(io::Error),
    #[error("not a .tar.zst, .tar.xz or .tgz archive")]
    UnknownFormat,
    /// Truncated, corrupt compression, bad tar headers, checksum failures.
    #[error("{0}")]
    Corrupt(String),
    /// A member a restore must never extract.
    #[error("unsafe member '{name}': {reason}")]
    Unsafe { name: String, reason: String },
}

/// A failure while reading: the archive's, or the consumer's own.
#[derive(Debug)]
pub enum ReadError<E> {
    Archive(ArchiveError),
    Consumer(E),
}

impl<E> From<ArchiveError> for ReadError<E> {
    fn from(e: ArchiveError) -> Self {
        ReadError::Archive(e)
    }
}

fn corrupt(e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Corrupt(e.to_string())
}

/// The decompressor in front of the tar stream.
enum Decompressor {
    Zst(zstd::stream::read::Decoder<'static, BufReader<File>>),
    Xz(XzDecoder<BufReader<File>>),
    Gz(MultiGzDecoder<BufReader<File>>),
}

impl Read for Decompressor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressor::Zst(r) => r.read(buf),
            Decompressor::Xz(r) => r.read(buf),
            Decompressor::Gz(r) => r.read(buf),
        }
    }
}

/// The format of an archive file, from its first bytes.
pub fn detect_format(path: &Path) -> Result<Format, ArchiveError> {
    let mut head = [0u8; 6];
    let mut f = File::open(path).map_err(ArchiveError::Open)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(ArchiveError::Open)? {
            0 => break,
            k => n += k,
        }
    }
    Format::from_magic(&head[..n]).ok_or(ArchiveError::UnknownFormat)
}

/// Read a whole archive, handing each global header and member to `consume` in order.
/// Returns the format once the archive has been read to its very end and every check passed.
pub fn read_archive<E>(
    path: &Path,
    consume: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
) -> Result<Format, ReadError<E>> {
    let format = detect_format(path)?;
    let file = File::open(path).map_err(ArchiveError::Open)?;
    let buffered = BufReader::with_capacity(1 << 20, file);
    let dec = match format {
        Format::TarZst => {
            Decompressor::Zst(zstd::stream::read::Decoder::with_buffer(buffered).map_err(corrupt)?)
        }
        Format::TarXz => Decompressor::Xz(XzDecoder::new(buffered)),
        Format::Tgz => Decompressor::Gz(MultiGzDecoder::new(buffered)),
    };
    let mut archive = tar::Archive::new(dec);
    {
        let entries = archive.entries().map_err(corrupt)?;
        for entry in entries {
            let mut entry = entry.map_err(corrupt)?;
            let raw_name = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw_name).into_owned();
            let kind = entry.header().entry_type();
            if kind == EntryType::XGlobalHeader {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(corrupt)?;
                let records = tar::PaxExtensions::new(&data)
                    .map(|r| {
                        let r = r.map_err(corrupt)?;
                        Ok((
                            String::from_utf8_lossy(r.key_bytes()).into_owned(),
                            String::from_utf8_lossy(r.value_bytes()).into_owned(),
                        ))
                    })
                    .collect::<Result<Vec<_>, ArchiveError>>()?;
                consume(Event::Global(records)).map_err(ReadError::Consumer)?;
                continue;
            }
            let member_kind = match kind {
                EntryType::Regular | EntryType::Continuous => MemberKind::File,
                EntryType::Directory => MemberKind::Dir,
                other => {
                    return Err(ArchiveError::Unsafe {
                        name: shown,
                        reason: format!(
                            "{}; only regular files and directories are restored",
                            describe_type(other)
                        ),
                    }
                    .into())
                }
            };
            let name = safe_member_name(&raw_name)?;
            let mtime = entry.header().mtime().map_err(corrupt)?;
            if mtime > MAX_MTIME {
                return Err(ArchiveError::Corrupt(format!(
                    "member '{name}' has a modification time out of range ({mtime} seconds after 1970; at most {MAX_MTIME}, the end of the year 9999)"
                ))
                .into());
            }
            let info = MemberInfo {
                name,
                kind: member_kind,
                size: entry.size(),
                mode: entry.header().mode().map_err(corrupt)? & 0o7777,
                mtime,
            };
            let mut counted = CountingReader {
                inner: &mut entry,
                count: 0,
            };
            consume(Event::Member(&info, &mut counted)).map_err(ReadError::Consumer)?;
            // Whatever the consumer left is read here, so truncation is always noticed.
            io::copy(&mut counted, &mut io::sink()).map_err(corrupt)?;
            if counted.count != info.size {
                return Err(ArchiveError::Corrupt(format!(
                    "member '{}' is truncated: {} of {} bytes",
                    info.name, counted.count, info.size
                ))
                .into());
            }
        }
    }
    // The end-of-archive marker: the tar reader stops at the first zero block, so at least one
    // more must follow; a stream that simply ends after a member was cut short.
    let mut dec = archive.into_inner();
    let mut tail = Vec::new();
    let mut limited = (&mut dec).take(1024);
    limited.read_to_end(&mut tail).map_err(corrupt)?;
    if tail.len() < 512 || tail[..512].iter().any(|&b| b != 0) {
        return Err(ArchiveError::Corrupt(
            "the archive is truncated (no end-of-archive marker)".into(),
        )
        .into());
    }
    // Read to the end of the compressed stream, which verifies its checksum.
    io::copy(&mut dec, &mut io::sink()).map_err(corrupt)?;
    Ok(format)
}

struct CountingReader<R: Read> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

fn describe_type(t: EntryType) -> &'static str {
    match t {
        EntryType::Symlink => "a symbolic link",
        EntryType::Link => "a hard link",
        EntryType::Char => "a character device",
        EntryType::Block => "a block device",
        EntryType::Fifo => "a FIFO",
        EntryType::GNUSparse => "a sparse file",
        _ => "a special member",
    }
}

/// Check and normalise a member name: UTF-8, relative, no `..`, no NUL; `.` components and
/// a trailing `/` are dropped. Never accepts anything that could leave the target directory.
pub fn safe_member_name(raw: &[u8]) -> Result<String, ArchiveError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let unsafe_ = |reason: &str| ArchiveError::Unsafe {
        name: shown.clone(),
        reason: reason.to_string(),
    };
    let text = std::str::from_utf8(raw).map_err(|_| unsafe_("the name is not UTF-8"))?;
    if text.contains('\0') {
        return Err(unsafe_("the name contains a NUL byte"));
    }
    if text.starts_with('/') {
        return Err(unsafe_("absolute path"));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_("the path contains '..'")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(unsafe_("empty name"));
    }
    Ok(parts.join("/"))
}

/// Hex of a SHA-256.
pub fn hex_digest(d: &[u8; 32]) -> String {
    hex::encode(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> MemberMeta {
        MemberMeta {
            mode: 0o640,
            uid: 0,
            gid: 0,
            mtime_secs: 1_795_352_444,
            mtime_nanos: 753_295_700,
        }
    }

    fn write(format: Format, members: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let opts = WriteOptions {
            format,
            level: 1,
            threads: 1,
            gzip_name: "x.tgz".into(),
            gzip_mtime: 0,
        };
        let mut w = ArchiveWriter::new(Vec::new(), &opts).unwrap();
        w.add_global_records(&[("PIMANAGE.test", "{\"a\":1}")], 0)
            .unwrap();
        for (name, data) in members {
            match data {
                None => w.add_dir(name, &meta()).unwrap(),
                Some(d) => {
                    let sum = w
                        .add_file(name, &meta(), d.len() as u64, &mut &d[..], &mut |_| Ok(()))
                        .unwrap();
                    assert_eq!(sum, <[u8; 32]>::from(Sha256::digest(d)));
                }
            }
        }
        w.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, bytes).unwrap();
        let mut out = Vec::new();
        let r = read_archive::<()>(&p, &mut |ev| {
            match ev {
                Event::Global(recs) => out.push((format!("g:{}", recs[0].0), vec![])),
                Event::Member(info, data) => {
                    let mut v = Vec::new();
                    // A read error shows up again in the reader's own checks.
                    let _ = data.read_to_end(&mut v);
                    out.push((info.name.clone(), v));
                }
            }
            Ok(())
        });
        match r {
            Ok(_) => Ok(out),
            Err(ReadError::Archive(e)) => Err(e),
            Err(ReadError::Consumer(())) => unreachable!(),
        }
    }

    #[test]
    fn round_trip_both_formats_with_long_and_unicode_names() {
        let long = format!("etc/{}/pi.cfg", "d".repeat(180));
        let data: &[u8] = b"SQLALCHEMY_DATABASE_URI = 'sqlite://'\n";
        for format in [Format::TarZst, Format::TarXz, Format::Tgz] {
            let bytes = write(
                format,
                &[
                    ("etc/privacyidea", None),
                    ("etc/privacyidea/pi.cfg", Some(data)),
                    ("etc/privacyidea/schlüssel.txt", Some(b"x")),
                    (&long, Some(b"")),
                ],
            );
            assert_eq!(Format::from_magic(&bytes), Some(format));
            let got = read_all(&bytes).unwrap();
            let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                [
                    "g:PIMANAGE.test",
                    "etc/privacyidea",
                    "etc/privacyidea/pi.cfg",
                    "etc/privacyidea/schlüssel.txt",
                    long.as_str()
                ]
            );
            assert_eq!(got[2].1, data);
        }
    }

    #[test]
    fn precompressed_frames_are_spliced_into_one_readable_stream() {
        let dir = tempfile::tempdir().unwrap();
        // 1001 bytes: the member needs padding to its next 512-byte block.
        let dump: Vec<u8> = (0..1001u32).map(|i| (i * 7 % 251) as u8).collect();
        let frames_path = dir.path().join("dump.zst");
        {
            let mut e = zstd_encoder(File::create(&frames_path).unwrap(), 1, 2).unwrap();
            e.write_all(&dump).unwrap();
            e.finish().unwrap();
        }
        let empty_path = dir.path().join("empty.zst");
        zstd_encoder(File::create(&empty_path).unwrap(), 1, 1)
            .unwrap()
            .finish()
            .unwrap();
        let opts = WriteOptions {
            format: Format::TarZst,
            level: 1,
            threads: 2,
            gzip_name: String::new(),
            gzip_mtime: 0,
        };
        let mut w = ArchiveWriter::new(Vec::new(), &opts).unwrap();
        w.add_global_records(&[("PIMANAGE.test", "{}")], 0).unwrap();
        w.add_dir("etc", &meta()).unwrap();
        for (name, path, size) in [
            ("etc/dump.sql", &frames_path, dump.len() as u64),
            ("etc/empty.sql", &empty_path, 0),
        ] {
            let mut f = File::open(path).unwrap();
            let len = f.metadata().unwrap().len();
            let mut last = 0;
            w.add_zstd_frames(name, &meta(), size, &mut f, len, &mut |n| {
                last = n;
                Ok(())
            })
            .unwrap();
            assert_eq!(last, size, "progress ends at the member's size");
        }
        w.add_file("etc/pi.cfg", &meta(), 3, &mut &b"abc"[..], &mut |_| Ok(()))
            .unwrap();
        let bytes = w.finish().unwrap();
        let got = read_all(&bytes).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "g:PIMANAGE.test",
                "etc",
                "etc/dump.sql",
                "etc/empty.sql",
                "etc/pi.cfg"
            ]
        );
        assert!(got[2].1 == dump);
        assert_eq!(got[4].1, b"abc");
        // A cut anywhere, in the spliced frames or in the archive's own, is noticed.
        for cut in [bytes.len() - 1, bytes.len() - 40, bytes.len() / 2, 100] {
            assert!(read_all(&bytes[..cut]).is_err(), "cut at {cut} accepted");
        }

        // Frames that end early fail the member instead of writing a short one.
        let mut w = ArchiveWriter::new(Vec::new(), &opts).unwrap();
        let mut f = File::open(&frames_path).unwrap();
        let len = f.metadata().unwrap().len();
        assert!(w
            .add_zstd_frames("x", &meta(), 1001, &mut f, len + 10, &mut |_| Ok(()))
            .is_err());
        // Only .tar.zst can take them.
        let mut w = ArchiveWriter::new(
            Vec::new(),
            &WriteOptions {
                format: Format::Tgz,
                ..opts.clone()
            },
        )
        .unwrap();
        let mut f = File::open(&frames_path).unwrap();
        let e = w
            .add_zstd_frames("x", &meta(), 1001, &mut f, len, &mut |_| Ok(()))
            .unwrap_err();
        assert!(e.to_string().contains(".tar.zst"), "{e}");
    }

    #[test]
    fn truncation_anywhere_is_detected() {
        for format in [Format::TarZst, Format::TarXz, Format::Tgz] {
            let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
            let bytes = write(format, &[("a/b", Some(&big)), ("a/c", Some(b"tail"))]);
            for cut in [bytes.len() - 1, bytes.len() - 9, bytes.len() / 2, 40] {
                assert!(
                    read_all(&bytes[..cut]).is_err(),
                    "{format:?} cut at {cut} of {} was accepted",
                    bytes.len()
                );
            }
        }
    }

    #[test]
    fn a_tar_cut_at_a_member_boundary_is_detected() {
        // A well-formed gzip stream of a tar without its end-of-archive marker.
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, "a/b", &b"abc"[..]).unwrap();
        let mut raw = tar.into_inner().unwrap();
        raw.truncate(1024);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&raw).unwrap();
        let e = read_all(&gz.finish().unwrap()).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    #[test]
    fn member_names_are_checked() {
        assert_eq!(safe_member_name(b"./etc//pi/").unwrap(), "etc/pi");
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"a/../../x",
            b"",
            b"./",
            b"a\xff",
        ] {
            assert!(
                matches!(safe_member_name(bad), Err(ArchiveError::Unsafe { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn links_and_devices_are_refused() {
        for (kind, word) in [
            (EntryType::Symlink, "symbolic link"),
            (EntryType::Link, "hard link"),
            (EntryType::Char, "character device"),
            (EntryType::Fifo, "FIFO"),
        ] {
            let mut tar = tar::Builder::new(Vec::new());
            let mut h = Header::new_ustar();
            h.set_entry_type(kind);
            h.set_size(0);
            h.set_cksum();
            if matches!(kind, EntryType::Symlink | EntryType::Link) {
                tar.append_link(&mut h, "etc/pi.cfg", "/etc/shadow")
                    .unwrap();
            } else {
                tar.append_data(&mut h, "etc/dev", io::empty()).unwrap();
            }
            let raw = tar.into_inner().unwrap();
            let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(&raw).unwrap();
            let e = read_all(&gz.finish().unwrap()).unwrap_err();
            assert!(
                matches!(&e, ArchiveError::Unsafe { .. }) && e.to_string().contains(word),
                "{e}"
            );
        }
    }

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record("mtime", b"1"), b"11 mtime=1\n");
        let r = pax_record("k", &[b'v'; 95]);
        assert_eq!(r.len(), 102);
        assert!(r.starts_with(b"102 k="));
        assert_eq!(pax_time(&meta()), "1795352444.7532957");
    }

    #[test]
    fn a_shrinking_file_fails_the_member() {
        let opts = WriteOptions {
            format: Format::Tgz,
            level: 1,
            threads: 1,
            gzip_name: "x".into(),
            gzip_mtime: 0,
        };
        let mut w = ArchiveWriter::new(Vec::new(), &opts).unwrap();
        let e = w
            .add_file("a", &meta(), 10, &mut &b"short"[..], &mut |_| Ok(()))
            .unwrap_err();
        assert!(e.to_string().contains("expected 10 bytes, read 5"), "{e}");
    }
}
