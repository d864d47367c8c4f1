//! `kind: audit_keys` / `pi-manage setup create_audit_keys`: make sure the RSA key pair that
//! signs privacyIDEA's audit log exists, in privacyIDEA's PEM forms (private PKCS#1, mode
//! 0400; public SubjectPublicKeyInfo). Existing keys are never overwritten.

use std::path::PathBuf;

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::crypto::audit_sign::generate_audit_keys;
use crate::crypto::enckey::write_new_file;

/// The `kind` string of job files.
pub const KIND: &str = "audit_keys";

#[derive(Debug)]
pub struct AuditKeysTask {
    pub name: String,
    pub keysize: usize,
    pub private_key: Option<PathBuf>,
    pub public_key: Option<PathBuf>,
    /// privacyIDEA's command refuses when the private key exists; a plan reports `unchanged`.
    pub fail_if_exists: bool,
}

impl AuditKeysTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let private = self
            .private_key
            .clone()
            .or_else(|| ctx.settings.audit_key_private.clone())
            .ok_or_else(|| {
                TaskError::Refused(
                    "pi.cfg sets no PI_AUDIT_KEY_PRIVATE, and the task names no private key file"
                        .into(),
                )
            })?;
        let public = self
            .public_key
            .clone()
            .or_else(|| ctx.settings.audit_key_public.clone())
            .ok_or_else(|| {
                TaskError::Refused(
                    "pi.cfg sets no PI_AUDIT_KEY_PUBLIC, and the task names no public key file"
                        .into(),
                )
            })?;
        out.details
            .insert("private_key".into(), private.display().to_string().into());
        out.details
            .insert("public_key".into(), public.display().to_string().into());
        match (private.exists(), public.exists()) {
            (true, true) => {
                if self.fail_if_exists {
                    return Err(TaskError::Refused(format!("The private key {} already exists. We do not overwrite it!", private.display())));
                }
                out.status = TaskStatus::Unchanged;
                out.say(ctx.output, format!("The audit keys {} and {} exist; they are left as they are.", private.display(), public.display()));
                return Ok(());
            }
            (true, false) => {
                return Err(TaskError::Refused(format!(
                    "the private key {} exists but the public key {} does not; derive it with `openssl rsa -in {} -pubout -out {}`",
                    private.display(),
                    public.display(),
                    private.display(),
                    public.display()
                )))
            }
            (false, true) => {
                return Err(TaskError::Refused(format!(
                    "the public key {} exists without its private key {}; remove it or point PI_AUDIT_KEY_PUBLIC elsewhere",
                    public.display(),
                    private.display()
                )))
            }
            (false, false) => {}
        }
        if ctx.dry_run {
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!(
                    "Would create a {}-bit audit key pair: {} (mode 0400) and {}.",
                    self.keysize,
                    private.display(),
                    public.display()
                ),
            );
            return Ok(());
        }
        let (private_pem, public_pem) = generate_audit_keys(self.keysize)?;
        write_new_file(&private, private_pem.as_bytes(), 0o400)?;
        if let Err(e) = write_new_file(&public, public_pem.as_bytes(), 0o644) {
            // Never leave half a key pair behind.
            let _ = std::fs::remove_file(&private);
            return Err(e.into());
        }
        out.status = TaskStatus::Created;
        out.say(
            ctx.output,
            format!(
                "Audit signing key written to {} (mode 0400).",
                private.display()
            ),
        );
        out.say(
            ctx.output,
            format!("Audit verification key written to {}.", public.display()),
        );
        Ok(())
    }
}

super::task_kind!(AuditKeysTask);

impl super::KindSpec for crate::job::model::AuditKeys {
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
        Some(super::Task::new(AuditKeysTask {
            name,
            keysize: self.keysize,
            private_key: self.private_key.as_deref().map(|p| site.resolve(p)),
            public_key: self.public_key.as_deref().map(|p| site.resolve(p)),
            fail_if_exists: false,
        }))
    }
}
