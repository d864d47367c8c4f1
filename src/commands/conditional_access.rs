//! `pi-manage conditionalaccess purge-expired-blocks | purge-expired-locks` (one
//! `conditional_access_purge` task each) and the read-only `list-blocked-ips |
//! list-locked-users`, with privacyIDEA 3.14's lines.

use crate::cli::ConditionalAccessCommand;
use crate::clock::{Clock, SystemClock};
use crate::commands::context::{AppError, Globals};
use crate::db::{self, DbErrorKind, OpenOptions};
use crate::job::model::TaskSpec;
use crate::report;
use crate::tasks::conditional_access_purge::{list_in_force, ConditionalAccessPurge, Purge};

pub fn run(globals: &Globals, cmd: ConditionalAccessCommand) -> Result<i32, AppError> {
    let purge = |name: &str, purge: Purge| {
        let spec = ConditionalAccessPurge {
            name: Some(name.into()),
            purge,
        };
        super::run_single_task(globals, name, TaskSpec::ConditionalAccessPurge(spec), false)
    };
    match cmd {
        ConditionalAccessCommand::PurgeExpiredBlocks => {
            purge("conditionalaccess purge-expired-blocks", Purge::Blocks)
        }
        ConditionalAccessCommand::PurgeExpiredLocks => {
            purge("conditionalaccess purge-expired-locks", Purge::Locks)
        }
        ConditionalAccessCommand::ListBlockedIps => list(globals, Purge::Blocks),
        ConditionalAccessCommand::ListLockedUsers => list(globals, Purge::Locks),
    }
}

/// `list-blocked-ips` / `list-locked-users`: what is in force now; reads only.
fn list(globals: &Globals, what: Purge) -> Result<i32, AppError> {
    let settings = super::installation(globals)?;
    let mut conn = match db::open(&settings.database, &OpenOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            report::print_error(&e.to_string());
            let connect = matches!(e.kind, DbErrorKind::Connect | DbErrorKind::Auth);
            return Ok(if connect { 3 } else { 1 });
        }
    };
    let entries = match list_in_force(conn.as_mut(), what, SystemClock.now_utc()) {
        Ok(v) => v,
        Err(e) => {
            report::print_error(&e.to_string());
            return Ok(if e.is_connect() { 3 } else { 1 });
        }
    };
    let (none, some) = match what {
        Purge::Locks => ("No locked users.", "locked user(s):"),
        _ => ("No blocked IPs.", "blocked IP(s):"),
    };
    if entries.is_empty() {
        report::print_line(none);
        return Ok(0);
    }
    report::print_line(&format!("{} {some}", entries.len()));
    for e in entries {
        let parts: Vec<String> = e
            .fields
            .iter()
            .map(|(label, value)| {
                if label.is_empty() {
                    value.clone()
                } else {
                    format!("{label}={value}")
                }
            })
            .collect();
        report::print_line(&format!("  {}", parts.join("\t")));
    }
    Ok(0)
}
