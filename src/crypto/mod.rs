//! privacyIDEA-compatible cryptography.
//!
//! Everything here reproduces what privacyIDEA 3.14 writes and reads, byte for byte where the
//! format is deterministic (see `reference/pimanage-spec.md` §0.4, §0.5, §9 and
//! `reference/schema.md` §11), and is tested against vectors that privacyIDEA itself produced
//! (`tests/fixtures/crypto/`):
//!
//! * [`enckey`]: the 96-byte encryption key file (three AES-256 slots), its
//!   passphrase-encrypted form (`pi-manage setup encrypt_enckey`), and exclusive / atomic
//!   writing of key, PEM and token files.
//! * [`aes`]: value encryption (`encryptPassword` / `encryptPin` / token `key_enc`), AES-256-CBC
//!   with PKCS#7, plus the legacy `hexlify(data) + 01 02 + 00…` layout on decryption.
//! * [`password`]: admin password hashes (argon2id PHC written, argon2 and passlib
//!   `pbkdf2-sha512` verified), always over `pepper + password`.
//! * [`jwt`]: the HS256 API tokens of `pi-manage api createtoken`.
//! * [`audit_sign`]: the string privacyIDEA signs for each audit row and its RSA-PSS signature.
//! * [`parallel_verify`]: those signatures checked in batches on every core.
//!
//! No error message, `Debug` output or log line produced here contains key material,
//! passwords or decrypted values.

pub mod aes;
pub mod audit_sign;
pub mod enckey;
mod error;
pub mod jwt;
pub mod parallel_verify;
pub mod password;

pub use error::CryptoError;

/// OS randomness (`getrandom`), filled into a fixed-size array.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut out = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

/// Constant-time equality of two byte strings (length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
