//! The `SimpleStats` module: for each of its options that is true (privacyIDEA's `is_true`),
//! in privacyIDEA's order, count and write one `monitoringstats` row keyed by the option name,
//! each with its own timestamp and commit.

use super::modules::{is_true, ModuleContext, ModuleError, ModuleReport};
use super::monitoring::{write_stats, Written};
use super::store::PeriodicTask;
use super::token_counts::{count_tokens, node_realms, users_with_active_tokens, TokenCount};
use crate::db::Connection;

pub const NAME: &str = "SimpleStats";

/// The options, in the order privacyIDEA writes them.
pub const OPTIONS: &[&str] = &[
    "total_tokens",
    "hardware_tokens",
    "software_tokens",
    "unassigned_hardware_tokens",
    "assigned_tokens",
    "user_with_token",
];

pub fn run(
    conn: &mut dyn Connection,
    task: &PeriodicTask,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleReport, ModuleError> {
    let mut report = ModuleReport::default();
    let wanted: Vec<&str> = OPTIONS
        .iter()
        .copied()
        .filter(|o| is_true(task.option(o)))
        .collect();
    if wanted.is_empty() {
        return Ok(report);
    }
    let realms = node_realms(conn, ctx.node_uuid)?;
    for option in wanted {
        let value = match option {
            "total_tokens" => count_tokens(conn, &realms, TokenCount::Total)?,
            "hardware_tokens" => count_tokens(conn, &realms, TokenCount::Hardware)?,
            "software_tokens" => count_tokens(conn, &realms, TokenCount::Software)?,
            "unassigned_hardware_tokens" => {
                count_tokens(conn, &realms, TokenCount::UnassignedHardware)?
            }
            "assigned_tokens" => count_tokens(conn, &realms, TokenCount::Assigned)?,
            _ => users_with_active_tokens(conn)?,
        };
        match write_stats(conn, option, value, ctx.clock.now_utc())? {
            Written::Stored => report.written.push((option.to_string(), value)),
            Written::Dropped(why) => report.notes.push(format!(
                "The value {value} of {option} was not stored: {why}"
            )),
        }
    }
    Ok(report)
}
