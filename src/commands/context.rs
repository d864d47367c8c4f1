//! What every command receives and returns: the global options ([`Globals`]) resolved from
//! the command line, and the error ([`AppError`]) that ends a command before or instead of
//! running tasks. They live here, not in `app`, so that `commands` never imports from the
//! layer above it (DESIGN.md: `main → app → commands`).

use crate::report::Format;
use crate::secret_input::SecretSource;

/// Errors that end a command before or instead of running tasks. Each knows its exit code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Problems were found in input files and already printed.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Settings(#[from] crate::settings::SettingsError),
}

impl AppError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Invalid(_) | AppError::Usage(_) | AppError::Settings(_) => 2,
        }
    }
}

/// Global options every command sees.
#[derive(Debug, Clone)]
pub struct Globals {
    pub picfg: Option<std::path::PathBuf>,
    /// `--picfg-python`: the interpreter that executes pi.cfg.
    pub picfg_python: Option<std::path::PathBuf>,
    pub quiet: bool,
    pub format: Format,
    /// Where the passphrase of a passphrase-encrypted enckey comes from, if given.
    pub enckey_passphrase: Option<SecretSource>,
}
