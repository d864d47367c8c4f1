//! What every cleanup task shares: count the rows a plan selects (the dry run), or delete them
//! — chunked as the plan says, with a progress bar on terminals — and report either in
//! privacyIDEA's words (`Would delete …`, `N entries deleted.`).

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::db::delete::{self, DeletePlan};
use crate::db::{Connection, DbResult};

/// Which of the installation's databases the rows live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// `SQLALCHEMY_DATABASE_URI`.
    Main,
    /// `PI_AUDIT_SQL_URI` (the main database unless it names another).
    Audit,
}

fn connection<'c>(ctx: &'c mut TaskContext<'_>, db: Database) -> DbResult<&'c mut dyn Connection> {
    match db {
        Database::Main => ctx.databases.main(),
        Database::Audit => ctx.databases.audit(),
    }
}

/// Count (dry run) or delete what `plan` selects. `dry_message` is the dry-run line with `{}`
/// for the count; `label` names the rows in the progress bar.
pub fn delete_or_count(
    ctx: &mut TaskContext<'_>,
    out: &mut TaskOutcome,
    db: Database,
    plan: &DeletePlan<'_>,
    label: &str,
    dry_message: &str,
) -> Result<(), TaskError> {
    if ctx.dry_run {
        let n = delete::count_matching(connection(ctx, db)?, plan)?;
        out.matched = Some(n);
        out.status = TaskStatus::DryRun;
        out.say(ctx.output, dry_message.replace("{}", &n.to_string()));
        return Ok(());
    }
    // Counting first costs a scan; only worth it when someone watches a progress bar.
    let total = if plan.chunksize.is_some() && ctx.output.shows_progress() {
        let n = delete::count_matching(connection(ctx, db)?, plan)?;
        out.matched = Some(n);
        Some(n)
    } else {
        None
    };
    let mut observer = ctx.output.progress(label, total);
    let interrupt = ctx.interrupt.clone();
    let result = delete::delete_matching(connection(ctx, db)?, plan, observer.as_mut(), &interrupt);
    drop(observer);
    match result {
        Ok(o) => {
            out.deleted = Some(o.deleted);
            out.say(ctx.output, format!("{} entries deleted.", o.deleted));
            if let Some(sig) = o.interrupted {
                out.status = TaskStatus::Interrupted;
                out.signal = Some(sig);
            }
            Ok(())
        }
        Err(e) => {
            out.deleted = Some(e.deleted);
            Err(e.into())
        }
    }
}
