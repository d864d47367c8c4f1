//! `monitoringstats` rows, written as privacyIDEA's `sqlstats` monitoring module writes them:
//! one row per value, `timestamp` the naive UTC time of the write (microseconds), the id from
//! `monitoringstats_seq` where the database has it. A row that breaks the table's unique
//! `(timestamp, stats_key)` is dropped and reported, as privacyIDEA logs and drops it.

use chrono::NaiveDateTime;

use crate::db::{Connection, DbErrorKind, DbResult, Value};

pub const TABLE: &str = "monitoringstats";
const SEQUENCE: &str = "monitoringstats_seq";

/// What became of one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// The row was refused (a value for this key at this very timestamp exists).
    Dropped(String),
}

/// The `INSERT` of one statistics value, in the caller's transaction.
pub fn insert_stat(
    conn: &mut dyn Connection,
    key: &str,
    value: i64,
    at: NaiveDateTime,
) -> DbResult<()> {
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let (id_col, id_val) = match conn.next_id_sql(SEQUENCE)? {
        Some(e) => (format!("{}, ", q("id")), format!("{e}, ")),
        None => (String::new(), String::new()),
    };
    conn.execute(
        &format!(
            "INSERT INTO {} ({id_col}{}, {}, {}) VALUES ({id_val}?, ?, ?)",
            q(TABLE),
            q("timestamp"),
            q("stats_key"),
            q("stats_value")
        ),
        &[
            Value::DateTime(at),
            Value::Text(key.into()),
            Value::Int(value),
        ],
    )?;
    Ok(())
}

/// Write one value and commit it (`write_stats`).
pub fn write_stats(
    conn: &mut dyn Connection,
    key: &str,
    value: i64,
    at: NaiveDateTime,
) -> DbResult<Written> {
    write_with(conn, key, value, at, |_| Ok(()))
}

/// Write one value and, in the same transaction, whatever `also` does; commit both, or on a
/// refused row neither.
pub fn write_with(
    conn: &mut dyn Connection,
    key: &str,
    value: i64,
    at: NaiveDateTime,
    also: impl FnOnce(&mut dyn Connection) -> DbResult<()>,
) -> DbResult<Written> {
    conn.begin()?;
    let result = insert_stat(conn, key, value, at).and_then(|()| also(conn));
    match result {
        Ok(()) => {
            conn.commit()?;
            Ok(Written::Stored)
        }
        Err(e) => {
            let _ = conn.rollback();
            if e.kind == DbErrorKind::Constraint {
                Ok(Written::Dropped(e.to_string()))
            } else {
                Err(e)
            }
        }
    }
}
