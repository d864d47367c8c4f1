//! `pi-manage setup …`: installation setup commands.

use crate::app::{AppError, Globals};
use crate::cli::CreateTablesArgs;
use crate::job::model::{CreateTables, TaskSpec};

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
