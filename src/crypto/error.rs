//! The one error type of [`crate::crypto`]. Messages never contain key material, passwords or
//! plaintexts.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A raw enckey (file or decoded base64) that is not exactly 96 bytes long.
    #[error("enckey must be 96 bytes, found {0}")]
    BadKeyLength(usize),
    /// Input that is not strict standard base64 (padding required, no whitespace).
    #[error("not valid (strict) base64")]
    BadBase64,
    /// The passphrase does not decrypt the passphrase-encrypted enckey file.
    #[error("wrong passphrase for the encrypted enckey")]
    WrongPassphrase,
    /// A value or file that cannot be decrypted (malformed, wrong key, bad padding).
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
    /// A password hash in an unknown or malformed format.
    #[error("bad password hash: {0}")]
    BadHash(String),
    /// An API token (JWT) that is malformed, wrongly signed or expired.
    #[error("API token: {0}")]
    Jwt(String),
    /// RSA key parsing, generation or signing failed.
    #[error("RSA: {0}")]
    Rsa(String),
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CryptoError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> CryptoError {
        CryptoError::Io {
            path: path.into(),
            source,
        }
    }

    /// True for [`CryptoError::Io`] with [`std::io::ErrorKind::AlreadyExists`]: the target of
    /// an exclusive write exists already.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, CryptoError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists)
    }
}
