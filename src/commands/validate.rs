//! `pi-manage validate`: static checks of job files. Touches no database.

use crate::cli::{OutputFormat, ValidateArgs};
use crate::commands::context::{AppError, Globals};
use crate::job::check::load_job;
use crate::report::{self, Format, Validation};

pub fn run(globals: &Globals, args: &ValidateArgs) -> Result<i32, AppError> {
    let format = match args.format {
        Some(OutputFormat::Json) => Format::Json,
        Some(OutputFormat::Text) => Format::Text,
        None => globals.format,
    };
    let mut results = Vec::new();
    for path in &args.jobs {
        let file = path.display().to_string();
        results.push(match load_job(path) {
            Ok(job) => Validation {
                file,
                valid: true,
                job: Some(job.file.name.clone()),
                tasks: Some(job.tasks.len()),
                diagnostics: job.warnings,
            },
            Err(diagnostics) => Validation {
                file,
                valid: diagnostics.iter().all(|d| !d.is_error()),
                job: None,
                tasks: None,
                diagnostics,
            },
        });
    }
    report::print_validations(&results, format, globals.quiet);
    Ok(if results.iter().all(|r| r.valid) {
        0
    } else {
        2
    })
}
