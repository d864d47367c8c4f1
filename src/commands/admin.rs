//! `pi-manage admin add|change|list|delete`: privacyIDEA's administrator commands, as
//! one-task jobs (`admin` tasks) except `list`, which only reads.

use crate::cli::{AdminAddArgs, AdminChangeArgs, AdminDeleteArgs};
use crate::commands::context::{AppError, Globals};
use crate::db::OpenOptions;
use crate::job::model::Presence;
use crate::report;
use crate::secret_input::SecretSource;
use crate::tasks::admin::{format_admin_list, list_admins, AdminCommand, AdminTask};
use crate::tasks::{Databases, Task};

/// `admin add USER [-e EMAIL] [-p P | --password-file F | --password-env V]`: upsert; the
/// password is asked for (twice) on the terminal when none is given, as privacyIDEA does.
pub fn add(globals: &Globals, args: &AdminAddArgs) -> Result<i32, AppError> {
    let password = SecretSource::choose(
        args.source.password_file.clone(),
        args.source.password_env.clone(),
        args.password.clone(),
        "password",
        true,
    );
    password
        .check_available()
        .map_err(|e| AppError::Usage(format!("admin add: {e}")))?;
    let task = Task::new(AdminTask {
        name: "admin add".into(),
        username: args.username.clone(),
        state: Presence::Present,
        email: args.email.clone(),
        password: Some(password),
        update_password: true,
        command: AdminCommand::Add,
    });
    super::run_task(globals, "admin add", task, false)
}

/// `admin change USER [-e EMAIL] [--password …]`: unlike privacyIDEA, only the email can be
/// changed without touching (or being asked for) the password.
pub fn change(globals: &Globals, args: &AdminChangeArgs) -> Result<i32, AppError> {
    let given = args.password.is_some()
        || args.source.password_file.is_some()
        || args.source.password_env.is_some();
    let password = (given || args.prompt).then(|| {
        SecretSource::choose(
            args.source.password_file.clone(),
            args.source.password_env.clone(),
            args.password.clone(),
            "new password",
            true,
        )
    });
    if let Some(p) = &password {
        p.check_available()
            .map_err(|e| AppError::Usage(format!("admin change: {e}")))?;
    }
    if password.is_none() && args.email.is_none() {
        return Err(AppError::Usage("admin change: give --email and/or a new password (--password-file, --password-env or --prompt)".into()));
    }
    let task = Task::new(AdminTask {
        name: "admin change".into(),
        username: args.username.clone(),
        state: Presence::Present,
        email: args.email.clone(),
        update_password: password.is_some(),
        password,
        command: AdminCommand::Change,
    });
    super::run_task(globals, "admin change", task, false)
}

/// `admin delete USER`: an unknown administrator is a clean error (exit 1), not a traceback.
pub fn delete(globals: &Globals, args: &AdminDeleteArgs) -> Result<i32, AppError> {
    let task = Task::new(AdminTask {
        name: "admin delete".into(),
        username: args.username.clone(),
        state: Presence::Absent,
        email: None,
        password: None,
        update_password: false,
        command: AdminCommand::Delete,
    });
    super::run_task(globals, "admin delete", task, false)
}

/// `admin list`: privacyIDEA's table of names and emails.
pub fn list(globals: &Globals) -> Result<i32, AppError> {
    let settings = super::installation(globals)?;
    let mut dbs = Databases::new(settings.database.clone(), None, OpenOptions::default());
    let admins = dbs
        .main()
        .map_err(crate::tasks::TaskError::from)
        .and_then(list_admins);
    match admins {
        Ok(a) => {
            match globals.format {
                report::Format::Json => {
                    let list: Vec<serde_json::Value> = a
                        .iter()
                        .map(|a| serde_json::json!({"username": a.username, "email": a.email}))
                        .collect();
                    report::out_line(&serde_json::to_string_pretty(&list).unwrap_or_default());
                }
                report::Format::Text if globals.quiet => {}
                report::Format::Text => {
                    for line in format_admin_list(&a) {
                        report::print_line(&line);
                    }
                }
            }
            Ok(0)
        }
        Err(e) => {
            report::print_error(&e.to_string());
            Ok(if e.is_connect() { 3 } else { 1 })
        }
    }
}
