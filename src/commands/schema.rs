//! `pi-manage schema`: print the job-file JSON Schema.

use crate::app::AppError;

pub fn run() -> Result<i32, AppError> {
    crate::report::print_raw(&crate::job::schema::job_schema_text());
    Ok(0)
}
