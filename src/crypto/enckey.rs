//! The encryption key file (`PI_ENCFILE`) and its passphrase-encrypted form.
//!
//! The plain file is 96 raw random bytes holding three AES-256 keys ([`Slot`]). privacyIDEA
//! treats a file longer than 100 bytes as passphrase-encrypted (`pi-manage setup
//! encrypt_enckey`):
//!
//! ```text
//! hex(iv) ":" hex(AES-256-CBC(sha256(passphrase), iv, hexlify(key) + 01 02 + 00…)) "\n"
//! ```
//!
//! A plain file of any other length than 96 bytes is refused here (privacyIDEA silently
//! falls back to AES-128 keys or fails later).
//!
//! The file helpers at the end write secret files so that no half-written or empty file is
//! ever left under the final name, and never overwrite an existing file
//! ([`write_new_file`], [`write_new_key_file`]) unless asked to replace it ([`replace_file`]).

use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::aes::{cbc_decrypt_raw, cbc_encrypt_raw, rfind_marker};
use super::CryptoError;

/// Length of the plain enckey file in bytes.
pub const ENCKEY_LEN: usize = 96;

/// Files longer than this are treated as passphrase-encrypted (privacyIDEA's rule).
const ENCRYPTED_THRESHOLD: usize = 100;

/// The three 32-byte keys of the enckey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Slot 0, `TOKEN_KEY`: token seeds (`key_enc`), user/SO PINs, encrypted token PINs.
    Token = 0,
    /// Slot 1, `CONFIG_KEY`: `encryptPassword` (config passwords, challenge data, …).
    Config = 1,
    /// Slot 2, `VALUE_KEY`: unused by privacyIDEA's current callers.
    Value = 2,
}

/// The 96-byte enckey. `Debug` prints `EncKey(***)`; the bytes are zeroed on drop.
#[derive(Clone)]
pub struct EncKey([u8; ENCKEY_LEN]);

impl EncKey {
    /// A new key from OS randomness (privacyIDEA: `os.urandom(96)`).
    pub fn generate() -> EncKey {
        use rand::RngCore;
        let mut key = EncKey([0u8; ENCKEY_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut key.0);
        key
    }

    /// Exactly 96 bytes, else [`CryptoError::BadKeyLength`].
    pub fn from_bytes(b: &[u8]) -> Result<EncKey, CryptoError> {
        if b.len() != ENCKEY_LEN {
            return Err(CryptoError::BadKeyLength(b.len()));
        }
        let mut key = EncKey([0u8; ENCKEY_LEN]);
        key.0.copy_from_slice(b);
        Ok(key)
    }

    /// Strict standard base64 (`+/`, `=` padding required, no whitespace except one trailing
    /// newline) of exactly 96 bytes (`pi-manage setup create_enckey -e`).
    pub fn from_base64(text: &str) -> Result<EncKey, CryptoError> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| CryptoError::BadBase64)?,
        );
        EncKey::from_bytes(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8; ENCKEY_LEN] {
        &self.0
    }

    /// One of the three AES-256 keys: bytes `[32·slot, 32·slot + 32)`.
    pub fn slot(&self, s: Slot) -> &[u8; 32] {
        let i = s as usize * 32;
        (&self.0[i..i + 32]).try_into().expect("32-byte slot")
    }

    /// privacyIDEA's `setup encrypt_enckey` file text: `hex(iv) ":" hex(AES-256-CBC(
    /// sha256(utf8(pass)), iv, hexlify(key) + 01 02 + zero bytes to a multiple of 16)) "\n"`
    /// (450 bytes), with a fresh random IV.
    pub fn encrypt_with_passphrase(&self, passphrase: &str) -> String {
        self.encrypt_with_passphrase_iv(passphrase, &super::random_bytes())
    }

    fn encrypt_with_passphrase_iv(&self, passphrase: &str, iv: &[u8; 16]) -> String {
        let key = passphrase_key(passphrase);
        let mut plain = Zeroizing::new(Vec::with_capacity(2 * ENCKEY_LEN + 16));
        plain.extend_from_slice(hex::encode(self.0).as_bytes());
        plain.extend_from_slice(&[1, 2]);
        while plain.len() % 16 != 0 {
            plain.push(0);
        }
        let ct = cbc_encrypt_raw(&key, iv, &plain);
        format!("{}:{}\n", hex::encode(iv), hex::encode(ct))
    }

    /// Inverse of [`EncKey::encrypt_with_passphrase`] (privacyIDEA's `password_decrypt`):
    /// strip, split on `:`, decrypt, cut at the last `01 02`, unhex, exactly 96 bytes.
    /// A malformed file is [`CryptoError::Decrypt`]; a passphrase that does not give back a
    /// well-formed key is [`CryptoError::WrongPassphrase`].
    pub fn decrypt_passphrase_file(text: &str, passphrase: &str) -> Result<EncKey, CryptoError> {
        let malformed =
            |what: &str| CryptoError::Decrypt(format!("malformed encrypted enckey file: {what}"));
        let mut parts = text.trim().split(':');
        let (Some(iv_hex), Some(ct_hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("expected hex(iv):hex(ciphertext)"));
        };
        let iv = hex::decode(iv_hex).map_err(|_| malformed("IV is not hex"))?;
        let ct = hex::decode(ct_hex).map_err(|_| malformed("ciphertext is not hex"))?;
        if iv.len() != 16 {
            return Err(malformed("IV is not 16 bytes"));
        }
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(malformed("ciphertext is not a multiple of 16 bytes"));
        }
        let key = passphrase_key(passphrase);
        let raw = cbc_decrypt_raw(&key, &iv, &ct)?;
        // hexlify(key) + 01 02 + zero bytes: anything else means the passphrase is wrong.
        let pos = rfind_marker(&raw).ok_or(CryptoError::WrongPassphrase)?;
        if raw[pos + 2..].iter().any(|&b| b != 0) {
            return Err(CryptoError::WrongPassphrase);
        }
        let bytes =
            Zeroizing::new(hex::decode(&raw[..pos]).map_err(|_| CryptoError::WrongPassphrase)?);
        EncKey::from_bytes(&bytes).map_err(|_| CryptoError::WrongPassphrase)
    }
}

/// `sha256(utf8(passphrase))`, all 32 bytes: no salt, no iterations (privacyIDEA's
/// `create_key_from_password`).
fn passphrase_key(passphrase: &str) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&Sha256::digest(passphrase.as_bytes()));
    key
}

impl fmt::Debug for EncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncKey(***)")
    }
}

/// Constant-time comparison.
impl PartialEq for EncKey {
    fn eq(&self, other: &EncKey) -> bool {
        super::ct_eq(&self.0, &other.0)
    }
}

impl Eq for EncKey {}

impl Drop for EncKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What a key file holds: privacyIDEA treats a file longer than 100 bytes as
/// passphrase-encrypted.
#[derive(Debug)]
pub enum KeyFile {
    /// A plain 96-byte key.
    Plain(EncKey),
    /// The text of a passphrase-encrypted key file, for
    /// [`EncKey::decrypt_passphrase_file`].
    Encrypted(String),
}

/// Read a key file. More than 100 bytes: [`KeyFile::Encrypted`] (must be text). Otherwise
/// exactly 96 bytes are required ([`CryptoError::BadKeyLength`] for a short or empty file,
/// which privacyIDEA would silently use as AES-128 keys or fail on later).
pub fn read_key_file(path: &Path) -> Result<KeyFile, CryptoError> {
    let bytes = Zeroizing::new(
        crate::input_file::read_bytes(path, crate::input_file::MAX_SECRET)
            .map_err(|e| CryptoError::io(path, e.into()))?,
    );
    if bytes.len() > ENCRYPTED_THRESHOLD {
        return match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(KeyFile::Encrypted(text.to_owned())),
            Err(_) => Err(CryptoError::Decrypt(format!(
                "{}: {} bytes, so privacyIDEA treats it as a passphrase-encrypted key, but it is not text",
                path.display(),
                bytes.len()
            ))),
        };
    }
    EncKey::from_bytes(&bytes).map(KeyFile::Plain)
}

/// Write a new enckey file: exclusively (never overwrites; an existing file gives
/// [`CryptoError::Io`] with [`io::ErrorKind::AlreadyExists`]), mode 0400, all 96 bytes,
/// fsynced, and never leaving a partial or empty file behind. See [`write_new_file`].
pub fn write_new_key_file(path: &Path, key: &EncKey) -> Result<(), CryptoError> {
    write_new_file(path, key.as_bytes(), 0o400)
}

/// Write a new file with exactly `mode`, atomically and without overwriting: the contents go
/// to a temporary file in the same directory, which is fsynced and then hard-linked to `path`
/// (the link fails if `path` exists, which gives [`CryptoError::Io`] with
/// [`io::ErrorKind::AlreadyExists`]); the temporary name is removed afterwards. On a file
/// system without hard links the file is created with `O_CREAT|O_EXCL` instead and removed
/// again if writing fails. On any error nothing is left behind.
pub fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), CryptoError> {
    let io_err = |e| CryptoError::io(path, e);
    if fs::symlink_metadata(path).is_ok() {
        return Err(io_err(already_exists()));
    }
    let dir = parent_dir(path);
    let temp = TempFile::create(path, &dir).map_err(io_err)?;
    temp.fill(contents, mode).map_err(io_err)?;
    fault::check(fault::Fault::BeforeLink).map_err(io_err)?;
    match fault::check(fault::Fault::Link).and_then(|()| fs::hard_link(&temp.path, path)) {
        Ok(()) => {
            drop(temp);
            sync_dir(&dir);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(io_err(e)),
        Err(_) => {
            // No hard links here (FAT, some network file systems): exclusive create instead.
            drop(temp);
            write_exclusive(path, contents, mode).map_err(io_err)?;
            sync_dir(&dir);
            Ok(())
        }
    }
}

/// Replace `path` atomically (temporary file in the same directory, fsync, rename) so that
/// readers see either the old or the new contents; the result has exactly `mode`. Creates
/// the file if it does not exist.
pub fn replace_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), CryptoError> {
    let io_err = |e| CryptoError::io(path, e);
    let dir = parent_dir(path);
    let mut temp = TempFile::create(path, &dir).map_err(io_err)?;
    temp.fill(contents, mode).map_err(io_err)?;
    fault::check(fault::Fault::BeforeLink).map_err(io_err)?;
    fs::rename(&temp.path, path).map_err(io_err)?;
    temp.armed = false;
    sync_dir(&dir);
    Ok(())
}

fn already_exists() -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        "file exists, not overwriting it",
    )
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Best effort: make the new directory entry durable (not every file system supports it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `O_CREAT|O_EXCL` write of the final file; removes it again on any failure.
fn write_exclusive(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let result = (|| {
        fault::check(fault::Fault::ExclusiveWrite)?;
        file.write_all(contents)?;
        file.set_permissions(Permissions::from_mode(mode))?;
        file.sync_all()
    })();
    if result.is_err() {
        drop(file);
        let _ = fs::remove_file(path);
    }
    result
}

/// A temporary file next to the target, removed on drop unless disarmed.
struct TempFile {
    path: PathBuf,
    file: File,
    armed: bool,
}

impl TempFile {
    fn create(target: &Path, dir: &Path) -> io::Result<TempFile> {
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_string_lossy();
        // Named like every temporary file of ours (it says whose it is), and what a killed
        // run left in this directory is removed first.
        crate::backup::leftovers::sweep(dir);
        let prefix = crate::backup::leftovers::name_prefix(&name);
        let mut last_err = None;
        for _ in 0..16 {
            let tag: [u8; 6] = super::random_bytes();
            let path = dir.join(format!("{prefix}{}.tmp", hex::encode(tag)));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        armed: true,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(already_exists))
    }

    /// Write everything, set the final mode (exactly, regardless of the umask), fsync.
    fn fill(&self, contents: &[u8], mode: u32) -> io::Result<()> {
        let mut f = &self.file;
        f.write_all(contents)?;
        fault::check(fault::Fault::TempWrite)?;
        self.file.set_permissions(Permissions::from_mode(mode))?;
        self.file.sync_all()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Test-only fault injection for the file helpers (per thread, one shot).
mod fault {
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) enum Fault {
        TempWrite,
        BeforeLink,
        Link,
        ExclusiveWrite,
    }

    #[cfg(test)]
    thread_local! {
        pub(super) static NEXT: std::cell::Cell<Option<Fault>> = const { std::cell::Cell::new(None) };
    }

    #[cfg(test)]
    pub(super) fn check(at: Fault) -> std::io::Result<()> {
        if NEXT.with(|n| n.get()) == Some(at) {
            NEXT.with(|n| n.set(None));
            return Err(std::io::Error::other(format!("injected fault at {at:?}")));
        }
        Ok(())
    }

    #[cfg(not(test))]
    #[inline(always)]
    pub(super) fn check(_at: Fault) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fault::{Fault, NEXT};
    use super::*;
    use serde_json::Value;

    const CRYPTO_JSON: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/crypto.json"
    ));
    const ENCKEY: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/enckey"
    ));
    const ENCKEY_ENC: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/enckey.enc"
    ));
    const ENCKEY_UTF8_ENC: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/enckey-utf8.enc"
    ));
    const PASS_ASCII: &str = "vec-Enckey-Passphrase-1";
    const PASS_UTF8: &str = "Schlüssel-pässwort-€";

    fn vectors() -> Value {
        serde_json::from_str(CRYPTO_JSON).unwrap()
    }

    fn fixture_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crypto")
    }

    fn vector_key() -> EncKey {
        EncKey::from_bytes(ENCKEY).unwrap()
    }

    fn dir_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn inject(f: Fault) {
        NEXT.with(|n| n.set(Some(f)));
    }

    #[test]
    fn vector_key_and_slots() {
        let v = vectors();
        let key = vector_key();
        assert_eq!(
            hex::encode(key.as_bytes()),
            v["enckey"]["hex"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(key.slot(Slot::Token)),
            v["enckey"]["slot0_token_key_hex"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(key.slot(Slot::Config)),
            v["enckey"]["slot1_config_key_hex"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(key.slot(Slot::Value)),
            v["enckey"]["slot2_value_key_hex"].as_str().unwrap()
        );
        assert_eq!(format!("{key:?}"), "EncKey(***)");
        assert_eq!(format!("{:?}", KeyFile::Plain(key)), "Plain(EncKey(***))");
    }

    #[test]
    fn from_bytes_requires_96() {
        for n in [0usize, 16, 32, 80, 95, 97, 100, 192] {
            match EncKey::from_bytes(&vec![7u8; n]) {
                Err(CryptoError::BadKeyLength(m)) => assert_eq!(m, n),
                other => panic!("{n}: {other:?}"),
            }
        }
        assert_eq!(
            CryptoError::BadKeyLength(80).to_string(),
            "enckey must be 96 bytes, found 80"
        );
        assert!(EncKey::from_bytes(&[7u8; 96]).is_ok());
    }

    #[test]
    fn generate_is_random() {
        let a = EncKey::generate();
        let b = EncKey::generate();
        assert!(a != b);
        assert!(a.as_bytes().iter().any(|&x| x != 0));
    }

    #[test]
    fn from_base64_accepts_strict_standard_base64() {
        let v = vectors();
        let b64 = v["enckey"]["base64"].as_str().unwrap();
        assert_eq!(EncKey::from_base64(b64).unwrap(), vector_key());
        assert_eq!(
            EncKey::from_base64(&format!("{b64}\n")).unwrap(),
            vector_key()
        );
        // The vector has '+' and '/': the URL-safe alphabet must not be accepted instead.
        assert!(b64.contains('+') && b64.contains('/'));
    }

    #[test]
    fn from_base64_rejects_non_strict_input_and_wrong_lengths() {
        let v = vectors();
        let b64 = v["enckey"]["base64"].as_str().unwrap();
        let std = base64::engine::general_purpose::STANDARD;
        let bad_base64 = [
            format!("{} {}", &b64[..40], &b64[40..]),
            format!("{}\n{}", &b64[..64], &b64[64..]),
            format!(" {b64}"),
            format!("{b64} "),
            format!("{b64}\n\n"),
            format!("{b64}\r\n"),
            b64.replace('+', "-").replace('/', "_"),
            "not base64!".to_string(),
        ];
        for text in &bad_base64 {
            assert!(
                matches!(EncKey::from_base64(text), Err(CryptoError::BadBase64)),
                "{text:?}"
            );
        }
        // Missing padding: 95 bytes need one '='.
        let b95 = std.encode([1u8; 95]);
        assert!(b95.ends_with('='));
        assert!(matches!(
            EncKey::from_base64(b95.trim_end_matches('=')),
            Err(CryptoError::BadBase64)
        ));
        for n in [0usize, 32, 95, 97, 128] {
            assert!(
                matches!(EncKey::from_base64(&std.encode(vec![1u8; n])), Err(CryptoError::BadKeyLength(m)) if m == n),
                "{n}"
            );
        }
    }

    #[test]
    fn unlocks_both_privacyidea_files() {
        let v = vectors();
        let entries = v["encrypted_enckey"]["entries"].as_array().unwrap();
        assert_eq!(entries[0]["password"].as_str().unwrap(), PASS_ASCII);
        assert_eq!(entries[1]["password"].as_str().unwrap(), PASS_UTF8);
        assert_eq!(entries[0]["file_text"].as_str().unwrap(), ENCKEY_ENC);
        assert_eq!(entries[1]["file_text"].as_str().unwrap(), ENCKEY_UTF8_ENC);
        for (text, pass, e) in [
            (ENCKEY_ENC, PASS_ASCII, &entries[0]),
            (ENCKEY_UTF8_ENC, PASS_UTF8, &entries[1]),
        ] {
            assert_eq!(text.len(), 450);
            assert_eq!(hex::encode(text), e["file_hex"].as_str().unwrap());
            let key = EncKey::decrypt_passphrase_file(text, pass).unwrap();
            assert!(key == vector_key());
            assert_eq!(
                hex::encode(key.as_bytes()),
                e["password_decrypt_result_hex"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn wrong_passphrase_is_reported_as_such() {
        for (text, wrong) in [
            (ENCKEY_ENC, PASS_UTF8),
            (ENCKEY_UTF8_ENC, PASS_ASCII),
            (ENCKEY_ENC, ""),
            (ENCKEY_ENC, "vec-Enckey-Passphrase-2"),
            (ENCKEY_UTF8_ENC, "Schlussel-passwort-€"),
        ] {
            assert!(
                matches!(
                    EncKey::decrypt_passphrase_file(text, wrong),
                    Err(CryptoError::WrongPassphrase)
                ),
                "a wrong passphrase must be WrongPassphrase"
            );
        }
        let own = vector_key().encrypt_with_passphrase("right");
        for i in 0..50 {
            let r = EncKey::decrypt_passphrase_file(&own, &format!("wrong-{i}"));
            assert!(matches!(r, Err(CryptoError::WrongPassphrase)));
        }
    }

    #[test]
    fn malformed_encrypted_file_is_an_error() {
        for text in [
            "",
            "\n",
            "abc",
            "00:00",
            "zz:zz",
            &ENCKEY_ENC.replacen(':', "::", 1),
            &ENCKEY_ENC[..200],
            &ENCKEY_ENC[2..],
        ] {
            assert!(
                matches!(
                    EncKey::decrypt_passphrase_file(text, PASS_ASCII),
                    Err(CryptoError::Decrypt(_))
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn own_encrypted_file_has_privacyidea_layout_and_round_trips() {
        let re = regex::Regex::new("^[0-9a-f]{32}:[0-9a-f]{416}\n$").unwrap();
        let key = vector_key();
        for pass in [PASS_ASCII, PASS_UTF8, ""] {
            let text = key.encrypt_with_passphrase(pass);
            assert_eq!(text.len(), 450);
            assert!(re.is_match(&text));
            assert!(EncKey::decrypt_passphrase_file(&text, pass).unwrap() == key);
            // The plaintext layout: hexlify(key) + 01 02 + 14 zero bytes.
            let (iv, ct) = text.trim().split_once(':').unwrap();
            let raw = cbc_decrypt_raw(
                &passphrase_key(pass),
                &hex::decode(iv).unwrap(),
                &hex::decode(ct).unwrap(),
            )
            .unwrap();
            assert_eq!(raw.len(), 208);
            assert_eq!(&raw[..192], hex::encode(key.as_bytes()).as_bytes());
            assert_eq!(
                &raw[192..],
                &[1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            );
        }
        // Fresh IVs.
        assert_ne!(
            key.encrypt_with_passphrase(PASS_ASCII),
            key.encrypt_with_passphrase(PASS_ASCII)
        );
        // With privacyIDEA's IV we produce its file byte for byte.
        for (file, pass) in [(ENCKEY_ENC, PASS_ASCII), (ENCKEY_UTF8_ENC, PASS_UTF8)] {
            let iv: [u8; 16] = hex::decode(&file[..32]).unwrap().try_into().unwrap();
            assert_eq!(key.encrypt_with_passphrase_iv(pass, &iv), file);
        }
    }

    #[test]
    fn read_key_file_classifies_plain_and_encrypted() {
        let dir = fixture_dir();
        match read_key_file(&dir.join("enckey")).unwrap() {
            KeyFile::Plain(k) => assert!(k == vector_key()),
            KeyFile::Encrypted(_) => panic!("plain key read as encrypted"),
        }
        match read_key_file(&dir.join("enckey-utf8.enc")).unwrap() {
            KeyFile::Encrypted(text) => {
                assert_eq!(text, ENCKEY_UTF8_ENC);
                assert!(EncKey::decrypt_passphrase_file(&text, PASS_UTF8).unwrap() == vector_key());
            }
            KeyFile::Plain(_) => panic!("encrypted key read as plain"),
        }
        let tmp = tempfile::tempdir().unwrap();
        for n in [0usize, 32, 80, 95, 97, 100] {
            let p = tmp.path().join(format!("key{n}"));
            fs::write(&p, vec![9u8; n]).unwrap();
            assert!(
                matches!(read_key_file(&p), Err(CryptoError::BadKeyLength(m)) if m == n),
                "{n}"
            );
        }
        let p = tmp.path().join("binary101");
        fs::write(&p, vec![0xffu8; 101]).unwrap();
        assert!(matches!(read_key_file(&p), Err(CryptoError::Decrypt(_))));
        match read_key_file(&tmp.path().join("missing")) {
            Err(CryptoError::Io { path, source }) => {
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
                assert!(path.ends_with("missing"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn write_new_key_file_writes_0400_and_refuses_existing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("enckey");
        let key = vector_key();
        write_new_key_file(&path, &key).unwrap();
        assert_eq!(fs::read(&path).unwrap(), ENCKEY);
        assert_eq!(mode_of(&path), 0o400);
        assert_eq!(dir_names(tmp.path()), ["enckey"]);
        // A second write fails and leaves the file as it was.
        let err = write_new_key_file(&path, &EncKey::generate()).unwrap_err();
        assert!(err.is_already_exists(), "{err}");
        assert_eq!(fs::read(&path).unwrap(), ENCKEY);
        assert_eq!(mode_of(&path), 0o400);
        assert_eq!(dir_names(tmp.path()), ["enckey"]);
        // Also an existing empty file (privacyIDEA's failed create_enckey) is not touched.
        let empty = tmp.path().join("empty");
        fs::write(&empty, b"").unwrap();
        assert!(write_new_key_file(&empty, &key)
            .unwrap_err()
            .is_already_exists());
        assert_eq!(fs::read(&empty).unwrap(), b"");
        // And a dangling symlink is not followed.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &link).unwrap();
        assert!(write_new_key_file(&link, &key)
            .unwrap_err()
            .is_already_exists());
        assert!(!tmp.path().join("nowhere").exists());
    }

    #[test]
    fn write_new_key_file_leaves_nothing_behind_on_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let key = vector_key();
        // Parent directory missing.
        let r = write_new_key_file(&tmp.path().join("no/such/dir/enckey"), &key);
        assert!(matches!(r, Err(CryptoError::Io { .. })));
        assert!(dir_names(tmp.path()).is_empty());
        // Unwritable directory (only meaningful without root's override).
        if unsafe { libc::geteuid() } != 0 {
            let ro = tmp.path().join("ro");
            fs::create_dir(&ro).unwrap();
            fs::set_permissions(&ro, Permissions::from_mode(0o500)).unwrap();
            assert!(write_new_key_file(&ro.join("enckey"), &key).is_err());
            fs::set_permissions(&ro, Permissions::from_mode(0o700)).unwrap();
            assert!(dir_names(&ro).is_empty());
            fs::remove_dir(&ro).unwrap();
        }
        // Failures in every step after the temporary file was created.
        let path = tmp.path().join("enckey");
        for f in [Fault::TempWrite, Fault::BeforeLink] {
            inject(f);
            let err = write_new_key_file(&path, &key).unwrap_err();
            assert!(err.to_string().contains("injected"), "{f:?}: {err}");
            assert!(dir_names(tmp.path()).is_empty(), "{f:?}");
        }
        // Hard link unsupported: the exclusive-create fallback writes the file.
        inject(Fault::Link);
        write_new_file(&path, key.as_bytes(), 0o400).unwrap();
        assert_eq!(fs::read(&path).unwrap(), ENCKEY);
        assert_eq!(mode_of(&path), 0o400);
        assert_eq!(dir_names(tmp.path()), ["enckey"]);
        // The fallback removes its file again when writing fails.
        fs::remove_file(&path).unwrap();
        inject(Fault::ExclusiveWrite);
        let err = write_exclusive(&path, key.as_bytes(), 0o400).unwrap_err();
        assert!(err.to_string().contains("injected"));
        assert!(dir_names(tmp.path()).is_empty());
    }

    #[test]
    fn write_new_file_sets_exact_modes() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, mode) in [("pub.pem", 0o644), ("priv.pem", 0o400), ("token", 0o600)] {
            let p = tmp.path().join(name);
            write_new_file(&p, name.as_bytes(), mode).unwrap();
            assert_eq!(mode_of(&p), mode, "{name}");
            assert_eq!(fs::read(&p).unwrap(), name.as_bytes());
            assert!(write_new_file(&p, b"other", mode)
                .unwrap_err()
                .is_already_exists());
            assert_eq!(fs::read(&p).unwrap(), name.as_bytes());
        }
        assert_eq!(dir_names(tmp.path()), ["priv.pem", "pub.pem", "token"]);
    }

    #[test]
    fn replace_file_replaces_atomically_with_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("api-token");
        replace_file(&p, b"first", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert_eq!(mode_of(&p), 0o600);
        fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        replace_file(&p, b"second", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(mode_of(&p), 0o600);
        assert_eq!(dir_names(tmp.path()), ["api-token"]);
        // A failure before the rename keeps the old contents and leaves no temporary file.
        inject(Fault::BeforeLink);
        assert!(replace_file(&p, b"third", 0o600).is_err());
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert_eq!(dir_names(tmp.path()), ["api-token"]);
        // Relative path in the current directory is fine too (parent "").
        assert_eq!(parent_dir(Path::new("x")), PathBuf::from("."));
    }
}
