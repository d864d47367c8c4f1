//! `pi-manage api createtoken`: an API token over `SECRET_KEY`, printed as privacyIDEA does.

use crate::cli::{ApiRoleArg, CreateTokenArgs};
use crate::commands::context::{AppError, Globals};
use crate::crypto::jwt::ApiRole;
use crate::job::model::Duration;
use crate::tasks::api_token::ApiTokenTask;
use crate::tasks::Task;

pub fn createtoken(globals: &Globals, args: &CreateTokenArgs) -> Result<i32, AppError> {
    let task = Task::new(ApiTokenTask {
        name: "api createtoken".into(),
        username: args.username.clone(),
        realm: args.realm.clone(),
        role: match args.role {
            ApiRoleArg::Admin => ApiRole::Admin,
            ApiRoleArg::Validate => ApiRole::Validate,
        },
        validity: Duration::try_from_days(args.days)
            .map_err(|e| AppError::Usage(format!("--days {}: {e}", args.days)))?,
        renew_before: Duration::from_secs(0),
        file: None,
    });
    super::run_task(globals, "api createtoken", task, false)
}
