//! The `EventCounter` module: read the event counter `event_counter` (the sum of its rows over
//! all nodes), write it to `monitoringstats` under `stats_key`, and with `reset_event_counter`
//! set a non-zero counter back to 0 on every node. A counter without rows writes nothing
//! (privacyIDEA logs a warning). privacyIDEA resets first and writes after, in two commits;
//! here both happen in one transaction, so a refused row never loses the count.

use super::modules::{is_true, ModuleContext, ModuleError, ModuleReport};
use super::monitoring::{write_with, Written};
use super::store::PeriodicTask;
use crate::db::{Connection, Value};

pub const NAME: &str = "EventCounter";
pub const TABLE: &str = "eventcounter";

pub fn run(
    conn: &mut dyn Connection,
    task: &PeriodicTask,
    ctx: &ModuleContext<'_>,
) -> Result<ModuleReport, ModuleError> {
    let mut report = ModuleReport::default();
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let counter = task.option("event_counter");
    let name_filter = match counter {
        Some(_) => format!("{} = ?", q("counter_name")),
        // privacyIDEA filters `counter_name == None`, i.e. IS NULL: never a row.
        None => format!("{} IS NULL", q("counter_name")),
    };
    let params: Vec<Value> = counter
        .map(|c| vec![Value::Text(c.to_string())])
        .unwrap_or_default();
    let value = conn.query_i64(
        &format!(
            "SELECT sum({}) FROM {} WHERE {name_filter}",
            q("counter_value"),
            q(TABLE)
        ),
        &params,
    )?;
    let Some(value) = value else {
        report.notes.push(format!(
            "Trying to create statistics of a counter_value '{}', that does not exist.",
            counter.unwrap_or("None")
        ));
        return Ok(report);
    };
    let Some(stats_key) = task.option("stats_key") else {
        // privacyIDEA's insert of a NULL key fails and is only logged.
        report
            .notes
            .push("The option stats_key is missing; nothing was written.".into());
        return Ok(report);
    };
    let reset = is_true(task.option("reset_event_counter")) && value != 0;
    let reset_sql = format!(
        "UPDATE {} SET {} = 0 WHERE {name_filter}",
        q(TABLE),
        q("counter_value")
    );
    let written = write_with(conn, stats_key, value, ctx.clock.now_utc(), |c| {
        if reset {
            c.execute(&reset_sql, &params)?;
        }
        Ok(())
    })?;
    match written {
        Written::Stored => report.written.push((stats_key.to_string(), value)),
        Written::Dropped(why) => report.notes.push(format!(
            "The value {value} of {stats_key} was not stored (the counter was kept): {why}"
        )),
    }
    Ok(report)
}
