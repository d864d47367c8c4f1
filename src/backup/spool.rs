//! Where the dump waits, in the private staging directory, until it goes into the archive:
//! as it is (for `.tar.xz` and privacyIDEA's `.tgz`, which compress it from there), or
//! already compressed into zstd frames while the dump tool writes it (for `.tar.zst`).
//!
//! Compressing on the way in overlaps the compression with the dump instead of running it
//! afterwards, writes a third of the bytes to the staging directory, and spares reading the
//! whole dump back; the archive then takes the frames as they are
//! ([`crate::archive::ArchiveWriter::add_zstd_frames`]). The SHA-256 and the size recorded
//! in the manifest are taken here, of the uncompressed bytes, in the same pass
//! (docs/benchmarks.md, "Compressing while the dump is written").

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::dump::HashWriter;

/// How the dump is kept until it is archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The dump itself.
    Plain,
    /// zstd frames of the dump (`level`, on `threads` compressor threads).
    Zstd { level: u32, threads: u32 },
}

/// The file under the hashing writer.
pub enum Sink {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Zstd(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
        }
    }
}

/// A new private (0600) file at `dest` that takes the dump as `store` says, hashing and
/// counting the uncompressed bytes.
pub fn create(dest: &Path, store: Store) -> io::Result<HashWriter<Sink>> {
    let file = super::leftovers::create_private(dest)?;
    let buffered = BufWriter::with_capacity(1 << 20, file);
    let sink = match store {
        Store::Plain => Sink::Plain(buffered),
        Store::Zstd { level, threads } => {
            Sink::Zstd(crate::archive::zstd_encoder(buffered, level, threads)?)
        }
    };
    Ok(HashWriter::new(sink))
}

/// Close the last frame, flush, and return the uncompressed size and SHA-256.
pub fn finish(w: HashWriter<Sink>) -> io::Result<(u64, [u8; 32])> {
    let (n, sum, sink) = w.finish();
    let mut buffered = match sink {
        Sink::Plain(b) => b,
        Sink::Zstd(e) => e.finish()?,
    };
    buffered.flush()?;
    Ok((n, sum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::io::Read;

    #[test]
    fn both_stores_hash_and_count_the_uncompressed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let want: [u8; 32] = Sha256::digest(&data).into();
        for (name, store) in [
            ("plain", Store::Plain),
            (
                "zst",
                Store::Zstd {
                    level: 1,
                    threads: 2,
                },
            ),
        ] {
            let p = dir.path().join(name);
            let mut w = create(&p, store).unwrap();
            w.write_all(&data).unwrap();
            assert_eq!(finish(w).unwrap(), (data.len() as u64, want));
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            let mut back = Vec::new();
            let f = File::open(&p).unwrap();
            if store == Store::Plain {
                (&f).read_to_end(&mut back).unwrap();
            } else {
                zstd::stream::read::Decoder::new(f)
                    .unwrap()
                    .read_to_end(&mut back)
                    .unwrap();
            }
            assert!(back == data, "{name}: the stored bytes differ");
        }
    }
}
