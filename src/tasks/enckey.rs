//! `kind: enckey` / `pi-manage setup create_enckey`: make sure privacyIDEA's encryption key
//! file (`PI_ENCFILE`, 96 bytes: token, config and value keys) exists — created exclusively
//! with mode 0400 and never overwritten — and the passphrase handling around it
//! (`setup encrypt_enckey`, unlocking an encrypted key file).

use std::path::{Path, PathBuf};

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::crypto::enckey::{read_key_file, write_new_file, write_new_key_file, EncKey, KeyFile};
use crate::secret_input::SecretSource;

/// The `kind` string of job files.
pub const KIND: &str = "enckey";

/// Where the key of a new file comes from.
#[derive(Debug)]
pub enum KeySource {
    Random,
    /// A key given by the operator (`--enckey_b64`), already checked to be 96 bytes.
    Given(EncKey),
}

#[derive(Debug)]
pub struct EnckeyTask {
    pub name: String,
    /// The key file; `None`: `PI_ENCFILE`.
    pub path: Option<PathBuf>,
    pub key: KeySource,
    /// privacyIDEA's command fails when the file exists; a plan reports `unchanged`.
    pub fail_if_exists: bool,
    /// Checks that an existing passphrase-encrypted file unlocks with this passphrase.
    pub passphrase: Option<SecretSource>,
}

/// The key file a task works on: its own path, else `PI_ENCFILE`.
pub fn key_path(own: Option<&Path>, ctx: &TaskContext<'_>) -> Result<PathBuf, TaskError> {
    own.map(Path::to_path_buf)
        .or_else(|| ctx.settings.encfile.clone())
        .ok_or_else(|| {
            TaskError::Refused("pi.cfg sets no PI_ENCFILE, and the task names no key file".into())
        })
}

/// Load the installation's encryption key, unlocking a passphrase-encrypted file with the
/// passphrase from `source` (privacyIDEA's own CLI cannot use such a file at all).
pub fn load_enckey(path: &Path, source: Option<&SecretSource>) -> Result<EncKey, TaskError> {
    match read_key_file(path)? {
        KeyFile::Plain(k) => Ok(k),
        KeyFile::Encrypted(text) => {
            let source = source.ok_or_else(|| {
                TaskError::Refused(format!(
                    "{} is passphrase-encrypted; give the passphrase with --enckey-passphrase-file or --enckey-passphrase-env",
                    path.display()
                ))
            })?;
            let pass = source.read()?;
            Ok(EncKey::decrypt_passphrase_file(&text, pass.expose())?)
        }
    }
}

/// `setup encrypt_enckey`: the passphrase-encrypted form of a key file, in privacyIDEA's format.
pub fn encrypt_enckey(
    input: &Path,
    input_passphrase: Option<&SecretSource>,
    new_passphrase: &SecretSource,
) -> Result<String, TaskError> {
    let key = load_enckey(input, input_passphrase)?;
    let pass = new_passphrase.read()?;
    Ok(key.encrypt_with_passphrase(pass.expose()))
}

/// Write an encrypted key file exclusively with mode 0400.
pub fn write_encrypted_enckey(path: &Path, text: &str) -> Result<(), TaskError> {
    Ok(write_new_file(path, text.as_bytes(), 0o400)?)
}

impl EnckeyTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let path = key_path(self.path.as_deref(), ctx)?;
        out.details
            .insert("path".into(), path.display().to_string().into());
        if path.exists() {
            if self.fail_if_exists {
                out.say(
                    ctx.output,
                    format!(
                        "The file \n\t{}\nalready exist. We do not overwrite it!",
                        path.display()
                    ),
                );
                return Err(TaskError::Refused(format!(
                    "{} already exists",
                    path.display()
                )));
            }
            let what = match read_key_file(&path)? {
                KeyFile::Plain(_) => "a 96-byte key".to_string(),
                KeyFile::Encrypted(_) => match &self.passphrase {
                    Some(src) => {
                        load_enckey(&path, Some(src))?;
                        "passphrase-encrypted; the passphrase unlocks it".to_string()
                    }
                    None => "passphrase-encrypted".to_string(),
                },
            };
            out.status = TaskStatus::Unchanged;
            out.say(
                ctx.output,
                format!(
                    "The encryption key {} exists ({what}); it is left as it is.",
                    path.display()
                ),
            );
            return Ok(());
        }
        if ctx.dry_run {
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!(
                    "Would create the encryption key {} (96 bytes, mode 0400).",
                    path.display()
                ),
            );
            return Ok(());
        }
        let generated;
        let key = match &self.key {
            KeySource::Given(k) => k,
            KeySource::Random => {
                generated = EncKey::generate();
                &generated
            }
        };
        write_new_key_file(&path, key)?;
        out.status = TaskStatus::Created;
        out.say(
            ctx.output,
            format!("Encryption key written to {}", path.display()),
        );
        out.say(
            ctx.output,
            format!("The file permission of {} was set to 400!", path.display()),
        );
        out.say(
            ctx.output,
            "Please ensure, that it is owned by the right user.".into(),
        );
        Ok(())
    }
}

super::task_kind!(EnckeyTask);

impl super::KindSpec for crate::job::model::Enckey {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &super::TaskSite<'_>,
        diags: &mut Vec<crate::job::diagnostic::Diagnostic>,
    ) -> Option<super::Task> {
        let _ = diags;
        Some(super::Task::new(EnckeyTask {
            name,
            path: self.path.as_deref().map(|p| site.resolve(p)),
            key: KeySource::Random,
            fail_if_exists: false,
            passphrase: None,
        }))
    }
}
