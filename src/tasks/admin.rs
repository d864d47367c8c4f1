//! `kind: admin` / `pi-manage admin add|change|delete|list`: privacyIDEA's database
//! administrators (table `admin`: username, argon2id hash of `PI_PEPPER` + password, email).
//! Upsert semantics as privacyIDEA's `admin add`: email and password change only when given.

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::crypto::password::{hash_admin_password, verify_admin_password};
use crate::db::{Connection, Value};
use crate::job::model::Presence;
use crate::secret_input::SecretSource;

/// The `kind` string of job files.
pub const KIND: &str = "admin";

pub const TABLE: &str = "admin";

/// How the task talks: plan style, or privacyIDEA's messages for the imperative commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCommand {
    Plan,
    Add,
    Change,
    Delete,
}

#[derive(Debug)]
pub struct AdminTask {
    pub name: String,
    pub username: String,
    pub state: Presence,
    pub email: Option<String>,
    pub password: Option<SecretSource>,
    /// Set the password of an existing admin when it differs.
    pub update_password: bool,
    pub command: AdminCommand,
}

/// One row of the admin table (never the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEntry {
    pub username: String,
    pub email: Option<String>,
}

fn require_table(conn: &mut dyn Connection) -> Result<(), TaskError> {
    super::require_tables(conn, &[TABLE])
}

/// Every administrator, by name.
pub fn list_admins(conn: &mut dyn Connection) -> Result<Vec<AdminEntry>, TaskError> {
    require_table(conn)?;
    let d = conn.dialect();
    let sql = format!(
        "SELECT {}, {} FROM {} ORDER BY {}",
        d.quote("username"),
        d.quote("email"),
        d.quote(TABLE),
        d.quote("username")
    );
    Ok(conn
        .query_rows(&sql, &[])?
        .iter()
        .map(|r| AdminEntry {
            username: r.get(0).as_str().unwrap_or_default().to_string(),
            email: r.get(1).as_str().map(str::to_string),
        })
        .collect())
}

/// privacyIDEA's `admin list` output.
pub fn format_admin_list(admins: &[AdminEntry]) -> Vec<String> {
    let mut lines = vec!["Name \t email".to_string(), "=".repeat(30)];
    for a in admins {
        lines.push(format!(
            "{} \t {}",
            a.username,
            a.email.as_deref().unwrap_or("None")
        ));
    }
    lines
}

impl AdminTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let pepper = ctx.settings.pepper.clone();
        let user = &self.username;
        out.details.insert("username".into(), user.clone().into());
        if self.command == AdminCommand::Delete {
            out.say(ctx.output, format!("Deleting admin {user}"));
        }
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        require_table(conn)?;
        let d = conn.dialect();
        let (t, u, p, e) = (
            d.quote(TABLE),
            d.quote("username"),
            d.quote("password"),
            d.quote("email"),
        );
        let existing = conn
            .query_rows(
                &format!("SELECT {p}, {e} FROM {t} WHERE {u} = ?"),
                &[Value::Text(user.clone())],
            )?
            .into_iter()
            .next()
            .map(|r| {
                (
                    r.get(0).as_str().map(str::to_string),
                    r.get(1).as_str().map(str::to_string),
                )
            });

        if self.state == Presence::Absent {
            let Some(_) = existing else {
                if self.command == AdminCommand::Delete {
                    return Err(TaskError::Refused(format!(
                        "The requested Admin could not be found: {user}"
                    )));
                }
                out.status = TaskStatus::Unchanged;
                out.say(
                    ctx.output,
                    format!("There is no administrator {user}; nothing to delete."),
                );
                return Ok(());
            };
            if ctx.dry_run {
                out.status = TaskStatus::DryRun;
                out.say(ctx.output, format!("Would delete administrator {user}."));
                return Ok(());
            }
            conn.execute(
                &format!("DELETE FROM {t} WHERE {u} = ?"),
                &[Value::Text(user.clone())],
            )?;
            out.status = TaskStatus::Updated;
            if self.command == AdminCommand::Plan {
                out.say(ctx.output, format!("Deleted administrator {user}."));
            }
            return Ok(());
        }

        match existing {
            None => {
                if self.command == AdminCommand::Change {
                    return Err(TaskError::Refused(format!(
                        "The requested Admin could not be found: {user}"
                    )));
                }
                let source = self.password.as_ref().ok_or_else(|| {
                    TaskError::Refused(format!("administrator {user} does not exist yet and needs a password: give password_file or password_env"))
                })?;
                if ctx.dry_run {
                    out.status = TaskStatus::DryRun;
                    out.say(ctx.output, format!("Would create administrator {user}."));
                    return Ok(());
                }
                let hash = hash_admin_password(pepper.expose(), source.read()?.expose());
                let conn = ctx.databases.main()?;
                conn.execute(
                    &format!("INSERT INTO {t} ({u}, {p}, {e}) VALUES (?, ?, ?)"),
                    &[
                        Value::Text(user.clone()),
                        Value::Text(hash),
                        self.email.clone().map(Value::Text).unwrap_or(Value::Null),
                    ],
                )?;
                out.status = TaskStatus::Created;
                out.say(
                    ctx.output,
                    match self.command {
                        AdminCommand::Plan => format!("Created administrator {user}."),
                        _ => format!("Admin {user} was registered successfully."),
                    },
                );
            }
            Some((stored_hash, stored_email)) => {
                let mut changes = Vec::new();
                let mut sets: Vec<(String, Value)> = Vec::new();
                if let Some(email) = &self.email {
                    if stored_email.as_deref() != Some(email.as_str()) {
                        changes.push("email");
                        sets.push((e.clone(), Value::Text(email.clone())));
                    }
                }
                if self.update_password {
                    if let Some(source) = &self.password {
                        let pw = source.read()?;
                        let same = stored_hash.as_deref().is_some_and(|h| {
                            verify_admin_password(pepper.expose(), pw.expose(), h)
                        });
                        if !same {
                            changes.push("password");
                            sets.push((
                                p.clone(),
                                Value::Text(hash_admin_password(pepper.expose(), pw.expose())),
                            ));
                        }
                    }
                }
                if sets.is_empty() {
                    out.status = TaskStatus::Unchanged;
                    match self.command {
                        AdminCommand::Add => out.say(
                            ctx.output,
                            format!("Admin {user} was registered successfully."),
                        ),
                        AdminCommand::Plan => out.say(
                            ctx.output,
                            format!("Administrator {user} is as it should be."),
                        ),
                        _ => {}
                    }
                    return Ok(());
                }
                if ctx.dry_run {
                    out.status = TaskStatus::DryRun;
                    out.say(
                        ctx.output,
                        format!(
                            "Would update the {} of administrator {user}.",
                            changes.join(" and ")
                        ),
                    );
                    return Ok(());
                }
                let assignments: Vec<String> =
                    sets.iter().map(|(c, _)| format!("{c} = ?")).collect();
                let mut params: Vec<Value> = sets.into_iter().map(|(_, v)| v).collect();
                params.push(Value::Text(user.clone()));
                let conn = ctx.databases.main()?;
                conn.execute(
                    &format!("UPDATE {t} SET {} WHERE {u} = ?", assignments.join(", ")),
                    &params,
                )?;
                out.status = TaskStatus::Updated;
                out.details
                    .insert("changed".into(), changes.join(",").into());
                match self.command {
                    AdminCommand::Add => out.say(
                        ctx.output,
                        format!("Admin {user} was registered successfully."),
                    ),
                    AdminCommand::Plan => out.say(
                        ctx.output,
                        format!(
                            "Updated the {} of administrator {user}.",
                            changes.join(" and ")
                        ),
                    ),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

super::task_kind!(AdminTask);

impl super::KindSpec for crate::job::model::Admin {
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
        use crate::secret_input::SecretSource;
        let password = match (&self.password_file, &self.password_env) {
            (Some(_), Some(_)) => {
                diags.push(site.error(
                    "/password_env",
                    "give either password_file or password_env, not both",
                ));
                return None;
            }
            (Some(f), None) => {
                let path = site.resolve(f);
                if !path.exists() {
                    diags.push(site.error(
                        "/password_file",
                        format!("password file not found: {}", path.display()),
                    ));
                    return None;
                }
                Some(SecretSource::File(path))
            }
            (None, Some(var)) => Some(SecretSource::Env(var.clone())),
            (None, None) => None,
        };
        if self.update_password && password.is_none() {
            diags.push(site.error(
                "/update_password",
                "update_password needs password_file or password_env",
            ));
            return None;
        }
        Some(super::Task::new(AdminTask {
            name,
            username: self.username.clone(),
            state: self.state,
            email: self.email.clone(),
            password,
            update_password: self.update_password,
            command: AdminCommand::Plan,
        }))
    }
}
