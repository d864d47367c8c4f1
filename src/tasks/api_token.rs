//! `kind: api_token` / `pi-manage api createtoken`: an HS256 API token over `SECRET_KEY`
//! with privacyIDEA's claims. In a plan the token lives in a file (mode 0600) that is
//! renewed only when it is missing, invalid, for other claims, or about to expire.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::crypto::enckey::{replace_file, write_new_file};
use crate::crypto::jwt::{create_api_token, verify_api_token, ApiRole};
use crate::job::model::Duration;
use crate::secret::Secret;

/// The `kind` string of job files.
pub const KIND: &str = "api_token";

#[derive(Debug)]
pub struct ApiTokenTask {
    pub name: String,
    pub username: String,
    pub realm: String,
    pub role: ApiRole,
    pub validity: Duration,
    pub renew_before: Duration,
    /// Where the token is kept; `None`: print it (privacyIDEA's `api createtoken`).
    pub file: Option<PathBuf>,
}

fn role_name(r: ApiRole) -> &'static str {
    match r {
        ApiRole::Admin => "admin",
        ApiRole::Validate => "validate",
    }
}

/// `SECRET_KEY`, or a refusal: privacyIDEA silently signs with a random key when it is missing.
fn secret_key(ctx: &TaskContext<'_>) -> Result<Secret, TaskError> {
    ctx.settings.secret_key.clone().filter(|s| !s.is_empty()).ok_or_else(|| {
        TaskError::Refused(
            "pi.cfg has no SECRET_KEY, so no privacyIDEA server could verify the token (privacyIDEA would sign it with a random key). Set SECRET_KEY in pi.cfg."
                .into(),
        )
    })
}

impl ApiTokenTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let key = secret_key(ctx)?;
        let now = ctx.clock.now_utc().and_utc().timestamp();
        let days = self.validity.as_secs() / 86_400;
        let role = role_name(self.role);
        let Some(file) = &self.file else {
            // privacyIDEA's `api createtoken`: print the token.
            let token = create_api_token(&key, &self.username, &self.realm, self.role, days, now);
            out.say(ctx.output, format!("Username:   {}", self.username));
            out.say(ctx.output, format!("Realm:      {}", self.realm));
            out.say(ctx.output, format!("Role:       {role}"));
            out.say(ctx.output, format!("Validity:   {days} days"));
            // The token is the command's product: shown on the terminal, kept out of reports.
            ctx.output.product("token", "Auth-Token", &token);
            out.messages.push("Auth-Token: ***".into());
            out.status = TaskStatus::Created;
            return Ok(());
        };
        out.details
            .insert("file".into(), file.display().to_string().into());
        let reason = match crate::input_file::read_text(file, crate::input_file::MAX_SECRET) {
            Err(e) if e.is_not_found() => Some("there is no token file"),
            Err(e) => {
                return Err(TaskError::Io(format!(
                    "cannot read {}: {e}",
                    file.display()
                )))
            }
            Ok(text) => match verify_api_token(&key, text.trim(), None) {
                Err(_) => Some("the token in the file does not verify with SECRET_KEY"),
                Ok(c) if c.username != self.username || c.realm != self.realm || c.role != role => {
                    Some("the token is for another user, realm or role")
                }
                Ok(c) if c.exp.saturating_sub(now) <= self.renew_before.as_secs() as i64 => {
                    Some("the token expires soon")
                }
                Ok(c) => {
                    let until = DateTime::<Utc>::from_timestamp(c.exp, 0)
                        .map(|d| d.to_rfc3339())
                        .unwrap_or_default();
                    out.details.insert("expires".into(), until.clone().into());
                    out.status = TaskStatus::Unchanged;
                    out.say(
                        ctx.output,
                        format!("The token in {} is valid until {until}.", file.display()),
                    );
                    return Ok(());
                }
            },
        };
        let reason = reason.unwrap_or_default();
        let exists = file.exists();
        if ctx.dry_run {
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!(
                    "Would write a new {role} token for {} to {} ({reason}).",
                    self.username,
                    file.display()
                ),
            );
            return Ok(());
        }
        let token = create_api_token(&key, &self.username, &self.realm, self.role, days, now);
        let contents = format!("{token}\n");
        if exists {
            replace_file(file, contents.as_bytes(), 0o600)?;
            out.status = TaskStatus::Updated;
        } else {
            write_new_file(file, contents.as_bytes(), 0o600)?;
            out.status = TaskStatus::Created;
        }
        let until = DateTime::<Utc>::from_timestamp(now + (days * 86_400) as i64, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default();
        out.details.insert("expires".into(), until.clone().into());
        out.say(
            ctx.output,
            format!(
                "Wrote a new {role} token for {} to {} ({reason}); valid until {until}.",
                self.username,
                file.display()
            ),
        );
        if self.role == ApiRole::Admin {
            if let Ok(conn) = ctx.databases.main() {
                if let Ok(admins) = super::admin::list_admins(conn) {
                    if !admins.iter().any(|a| a.username == self.username) {
                        out.say(ctx.output, format!("Note: there is no administrator {}; privacyIDEA accepts admin tokens only for existing administrators.", self.username));
                    }
                }
            }
        }
        Ok(())
    }
}

super::task_kind!(ApiTokenTask);

impl super::KindSpec for crate::job::model::ApiToken {
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
        let before = diags.len();
        if self.validity.as_secs() < 86_400 || !self.validity.as_secs().is_multiple_of(86_400) {
            diags.push(
                site.error(
                    "/validity",
                    format!(
                        "validity must be a whole number of days (at least 1d), found {}",
                        self.validity
                    ),
                )
                .with_hint("privacyIDEA's tokens are valid for whole days, e.g. '365d'"),
            );
        }
        if self.renew_before >= self.validity {
            diags.push(site.error("/renew_before", format!(
                "renew_before ({}) must be shorter than validity ({}), or the token would be renewed on every run",
                self.renew_before, self.validity
            )));
        }
        if diags.len() > before {
            return None;
        }
        Some(super::Task::new(ApiTokenTask {
            name,
            username: self.username.clone(),
            realm: self.realm.clone(),
            role: match self.role {
                crate::job::model::ApiTokenRole::Admin => crate::crypto::jwt::ApiRole::Admin,
                crate::job::model::ApiTokenRole::Validate => crate::crypto::jwt::ApiRole::Validate,
            },
            validity: self.validity,
            renew_before: self.renew_before,
            file: Some(site.resolve(&self.file)),
        }))
    }
}
