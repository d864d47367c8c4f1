//! `pi-manage schema`: print the job-file JSON Schema.

use crate::commands::context::AppError;

pub fn run() -> Result<i32, AppError> {
    let written = crate::report::write_stdout(&crate::job::schema::job_schema_text());
    Ok(crate::report::product_exit_code("schema", written))
}
