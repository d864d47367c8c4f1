//! `pi-manage setup …`: installation setup commands (schema, keys).

use crate::cli::{CreateAuditKeysArgs, CreateEnckeyArgs, CreateTablesArgs, EncryptEnckeyArgs};
use crate::commands::context::{AppError, Globals};
use crate::crypto::enckey::EncKey;
use crate::job::model::{CreateTables, TaskSpec};
use crate::report;
use crate::secret_input::SecretSource;
use crate::tasks::audit_keys::AuditKeysTask;
use crate::tasks::enckey::{self, EnckeyTask, KeySource};
use crate::tasks::Task;

/// `setup create_tables` (and the hidden `create_tables` / `createdb`).
pub fn create_tables(globals: &Globals, args: &CreateTablesArgs) -> Result<i32, AppError> {
    let spec = CreateTables {
        name: Some("create_tables".into()),
    };
    super::run_single_task(
        globals,
        "setup create_tables",
        TaskSpec::CreateTables(spec),
        args.dryrun,
    )
}

/// `setup create_enckey [-e B64]`: a bad key is refused before any file exists.
pub fn create_enckey(globals: &Globals, args: &CreateEnckeyArgs) -> Result<i32, AppError> {
    let key =
        match &args.enckey_b64 {
            None => KeySource::Random,
            Some(b64) => KeySource::Given(EncKey::from_base64(b64).map_err(|e| {
                AppError::Usage(format!("--enckey_b64: {e}; no key file was written"))
            })?),
        };
    let task = Task::new(EnckeyTask {
        name: "setup create_enckey".into(),
        path: None,
        key,
        fail_if_exists: true,
        passphrase: None,
    });
    super::run_task(globals, "setup create_enckey", task, args.dryrun)
}

/// `setup encrypt_enckey ENCFILE [-o OUT]`: privacyIDEA's passphrase-encrypted key format.
/// An input that is itself encrypted is unlocked with `--enckey-passphrase-*`, so this also
/// changes a passphrase.
pub fn encrypt_enckey(globals: &Globals, args: &EncryptEnckeyArgs) -> Result<i32, AppError> {
    let new = SecretSource::choose(
        args.password_file.clone(),
        args.password_env.clone(),
        args.password.clone(),
        "passphrase for the encryption key",
        true,
    );
    new.check_available()
        .map_err(|e| AppError::Usage(format!("setup encrypt_enckey: {e}")))?;
    let text = match enckey::encrypt_enckey(&args.encfile, globals.enckey_passphrase.as_ref(), &new)
    {
        Ok(t) => t,
        Err(e) => {
            report::print_error(&e.to_string());
            return Ok(1);
        }
    };
    match &args.outfile {
        None => report::print_raw(&text),
        Some(out) => {
            if let Err(e) = enckey::write_encrypted_enckey(out, &text) {
                report::print_error(&e.to_string());
                return Ok(1);
            }
            if !globals.quiet {
                report::print_line(&format!(
                    "Encrypted encryption key written to {} (mode 0400).",
                    out.display()
                ));
            }
        }
    }
    Ok(0)
}

/// `setup create_audit_keys [-k BITS]`.
pub fn create_audit_keys(globals: &Globals, args: &CreateAuditKeysArgs) -> Result<i32, AppError> {
    let task = Task::new(AuditKeysTask {
        name: "setup create_audit_keys".into(),
        keysize: args.keysize as usize,
        private_key: None,
        public_key: None,
        fail_if_exists: true,
    });
    super::run_task(globals, "setup create_audit_keys", task, args.dryrun)
}
