//! What every cleanup task shares: count the rows a plan selects (the dry run), or delete them
//! — chunked as the plan says, with a progress bar on terminals — and report either in
//! privacyIDEA's words (`Would delete …`, `N entries deleted.`).

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::db::delete::{self, DeletePlan};
use crate::db::{Connection, DbResult};
use crate::job::model::Duration;

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

/// privacyIDEA's wording of an age in its messages: `30 days` (`unit_secs` 86 400,
/// `unit_name` "days") or `24 hours` when the age is whole in that unit, else the duration as
/// written in the job file.
pub fn age_words(age: Duration, unit_secs: u64, unit_name: &str) -> String {
    if age.as_secs().is_multiple_of(unit_secs) {
        format!("{} {unit_name}", age.as_secs() / unit_secs)
    } else {
        age.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_in_privacyideas_words() {
        let d = |s: &str| Duration::parse(s).unwrap();
        assert_eq!(age_words(d("30d"), 86_400, "days"), "30 days");
        assert_eq!(age_words(d("48h"), 86_400, "days"), "2 days");
        assert_eq!(age_words(d("24h"), 3600, "hours"), "24 hours");
        assert_eq!(age_words(d("36h"), 86_400, "days"), d("36h").to_string());
        assert_eq!(age_words(d("90m"), 3600, "hours"), d("90m").to_string());
    }
}
