//! `kind: challenge_cleanup` / `pi-manage config challenge cleanup`: delete expired
//! challenges (`expiration < now`), or with `older_than` those created longer ago
//! (`timestamp < now - age`). Challenge timestamps are naive UTC (reference/schema.md §7).

use super::{TaskContext, TaskError, TaskOutcome, TaskSite};
use crate::db::delete::DeletePlan;
use crate::db::Value;
use crate::job::diagnostic::Diagnostic;
use crate::job::model::{ChallengeCleanup, Duration};
use crate::pytext::datetime_str;

/// The `kind` string of job files.
pub const KIND: &str = "challenge_cleanup";

pub const TABLE: &str = "challenge";

#[derive(Debug)]
pub struct ChallengeCleanupTask {
    pub name: String,
    pub older_than: Option<Duration>,
    pub chunksize: Option<u64>,
}

impl ChallengeCleanupTask {
    pub fn prepare(
        name: String,
        spec: &ChallengeCleanup,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<ChallengeCleanupTask> {
        if spec.older_than.is_some_and(|d| d.is_zero()) {
            // privacyIDEA's `--age 0` deletes every challenge, including those still waiting
            // for an answer (reference §4); refuse instead of logging users out mid-login.
            let hint = if site.is_command_line() {
                "leave out --age to delete only expired challenges, or give a positive number of minutes such as --age 10"
            } else {
                "leave out older_than to delete only expired challenges, or give a positive age such as '10m'"
            };
            diags.push(
                site.error("/older_than", "an age of 0 would delete every challenge, including those still waiting for an answer")
                    .with_hint(hint),
            );
            return None;
        }
        Some(ChallengeCleanupTask {
            name,
            older_than: spec.older_than,
            chunksize: spec.chunksize,
        })
    }

    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        let now = ctx.clock.now_utc();
        let conn = ctx.databases.main()?;
        out.database = Some(conn.target());
        super::require_tables(conn, &[TABLE])?;
        let d = conn.dialect();
        let (filter, param) = match self.older_than {
            Some(age) => {
                let cutoff = age.before(now);
                out.say(
                    ctx.output,
                    format!("Deleting challenges older than {}", datetime_str(&cutoff)),
                );
                out.cutoff = Some(format!("timestamp < {}", datetime_str(&cutoff)));
                (format!("{} < ?", d.quote("timestamp")), cutoff)
            }
            None => {
                out.say(ctx.output, "Deleting expired challenges.".into());
                out.cutoff = Some(format!("expiration < {}", datetime_str(&now)));
                (format!("{} < ?", d.quote("expiration")), now)
            }
        };
        let plan = DeletePlan {
            table: TABLE,
            pk: "id",
            filter,
            params: vec![Value::DateTime(param)],
            chunksize: self.chunksize,
        };
        super::cleanup::delete_or_count(
            ctx,
            out,
            super::cleanup::Database::Main,
            &plan,
            "deleting challenges",
            "Would delete {} challenge entries.",
        )
    }
}

super::task_kind!(ChallengeCleanupTask);

impl super::KindSpec for ChallengeCleanup {
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
        ChallengeCleanupTask::prepare(name, self, site, diags).map(super::Task::new)
    }
}
