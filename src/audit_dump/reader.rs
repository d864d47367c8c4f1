//! Reading `pidea_audit` for the dump as privacyIDEA 3.14 does: an upper id fixed before the
//! first round (entries written while the dump runs are left out), rounds ordered by
//! `(date, id)`, and the neighbour ids of a round looked up with `id IN (…)` in slices of 500
//! (not limited by the filter or the upper id, as privacyIDEA).
//!
//! How the rounds are read depends on the database. SQLite's and MySQL's date index carries
//! the id (the rowid, InnoDB's primary key), so `(date, id)` order is an index range and each
//! round is read by keyset pagination (two ranges per round). PostgreSQL's date index does not
//! carry the id: a keyset round inside a run of entries sharing a date re-reads and sorts the
//! whole run, which made the dump of the benchmark's 400 dates 7.5× a plain `SELECT`. There the
//! dated entries are read through one server-side cursor over the date index, a round per
//! `FETCH`, in a READ COMMITTED transaction: the cursor sees the table as it was when the
//! dated phase began, while the neighbour lookups see the table as it is, as privacyIDEA's do.
//! An entry deleted after that moment is still dumped (privacyIDEA skips it if its round has
//! not been read yet; either is what privacyIDEA prints for some timing of the delete). The
//! transaction stays open for the whole dump, so a server whose
//! `idle_in_transaction_session_timeout` is shorter than a stall of the output (a slow pipe
//! reader) ends the dump with an error.
//!
//! Entries without a `date` cannot be dumped by privacyIDEA (it fails on them); they come
//! first here, in id order, where SQLite and MySQL sort NULL dates. With a time limit they
//! never match.

use std::collections::HashSet;

use chrono::NaiveDateTime;

use crate::db::{Connection, DbResult, Dialect, Row, Value, SQLITE_DATETIME_FORMAT};

pub const TABLE: &str = "pidea_audit";

/// The columns read, in this order (the CSV's order, with `signature` after `date`).
pub const COLUMNS: &[&str] = &[
    "id",
    "date",
    "signature",
    "action",
    "authentication",
    "success",
    "serial",
    "token_type",
    "container_serial",
    "container_type",
    "user",
    "realm",
    "resolver",
    "administrator",
    "action_detail",
    "info",
    "privacyidea_server",
    "policies",
    "client",
    "user_agent",
    "user_agent_version",
    "loglevel",
    "clearance_level",
    "startdate",
    "duration",
    "thread_id",
];

/// `_ID_LOOKUP_SLICE_SIZE`.
const ID_SLICE: usize = 500;

/// The cursor of PostgreSQL's dated phase.
const CURSOR: &str = "pim_audit_dump";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NullDates,
    Dated,
}

/// How the dated entries are read (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatedRead {
    /// Keyset pagination, two index ranges per round (SQLite, MySQL/MariaDB).
    Keyset,
    /// A server-side cursor, declared at the first dated round (PostgreSQL).
    CursorPending,
    /// The cursor is open, inside the reader's transaction; [`Reader::close`] ends both.
    CursorOpen,
}

/// Where the dump stands: the fixed upper id and the key of the last entry read.
#[derive(Debug)]
pub struct Reader {
    select: String,
    since: Option<NaiveDateTime>,
    pub upper_id: i64,
    stride: i64,
    round_rows: usize,
    phase: Phase,
    dated_read: DatedRead,
    /// `(date as stored, id)` of the last dated entry read.
    last: Option<(Value, i64)>,
    last_null_id: i64,
}

/// The select list: columns the table lacks (tables from before 3.10) read as NULL. On
/// PostgreSQL the interval `duration` is read as seconds.
fn select_list(conn: &mut dyn Connection) -> DbResult<String> {
    let d = conn.dialect();
    let present = conn.table_columns(TABLE)?;
    let cols: Vec<String> = COLUMNS
        .iter()
        .map(|c| {
            if !present.iter().any(|p| p == c) {
                "NULL".to_string()
            } else if *c == "duration" && d == Dialect::Postgres {
                format!("EXTRACT(EPOCH FROM {})", d.quote(c))
            } else {
                d.quote(c)
            }
        })
        .collect();
    Ok(cols.join(", "))
}

/// The step between consecutive ids (`_get_id_stride`): MySQL/MariaDB's
/// `auto_increment_increment` (Galera), else 1.
fn id_stride(conn: &mut dyn Connection) -> i64 {
    if conn.dialect() != Dialect::Mysql {
        return 1;
    }
    conn.query_rows("SHOW VARIABLES LIKE 'auto_increment_increment'", &[])
        .ok()
        .and_then(|rows| rows.first().and_then(|r| r.get(1).as_i64()))
        .unwrap_or(1)
        .max(1)
}

fn date_filter(
    d: Dialect,
    since: Option<NaiveDateTime>,
    sql: &mut String,
    params: &mut Vec<Value>,
) {
    if let Some(s) = since {
        sql.push_str(&format!(" AND {} >= ?", d.quote("date")));
        params.push(Value::DateTime(s));
    }
}

impl Reader {
    /// Fix the upper id (`SELECT max(id) … WHERE <filter>`); `None` when no entry matches.
    pub fn open(
        conn: &mut dyn Connection,
        since: Option<NaiveDateTime>,
        round_rows: usize,
    ) -> DbResult<Option<Reader>> {
        let d = conn.dialect();
        let mut sql = format!(
            "SELECT MAX({}) FROM {} WHERE 1 = 1",
            d.quote("id"),
            d.quote(TABLE)
        );
        let mut params = Vec::new();
        date_filter(d, since, &mut sql, &mut params);
        let Some(upper_id) = conn.query_i64(&sql, &params)? else {
            return Ok(None);
        };
        Ok(Some(Reader {
            select: select_list(conn)?,
            since,
            upper_id,
            stride: id_stride(conn),
            round_rows: round_rows.max(1),
            phase: if since.is_some() {
                Phase::Dated
            } else {
                Phase::NullDates
            },
            dated_read: if d == Dialect::Postgres {
                DatedRead::CursorPending
            } else {
                DatedRead::Keyset
            },
            last: None,
            last_null_id: i64::MIN,
        }))
    }

    /// The number of entries the dump would write now (dry runs).
    pub fn count(conn: &mut dyn Connection, since: Option<NaiveDateTime>) -> DbResult<u64> {
        let d = conn.dialect();
        let mut sql = format!("SELECT COUNT(*) FROM {} WHERE 1 = 1", d.quote(TABLE));
        let mut params = Vec::new();
        date_filter(d, since, &mut sql, &mut params);
        Ok(conn.query_i64(&sql, &params)?.unwrap_or(0).max(0) as u64)
    }

    /// The next round of at most `round_rows` entries; empty when the dump is complete.
    pub fn next_round(&mut self, conn: &mut dyn Connection) -> DbResult<Vec<Row>> {
        let d = conn.dialect();
        let (id, date, table) = (d.quote("id"), d.quote("date"), d.quote(TABLE));
        if self.phase == Phase::NullDates {
            let sql = format!(
                "SELECT {} FROM {table} WHERE {date} IS NULL AND {id} <= ? AND {id} > ? \
                 ORDER BY {id} LIMIT {}",
                self.select, self.round_rows
            );
            let rows = conn.query_rows(
                &sql,
                &[Value::Int(self.upper_id), Value::Int(self.last_null_id)],
            )?;
            if let Some(last) = rows.last() {
                self.last_null_id = last.get(0).as_i64().unwrap_or(i64::MAX);
                return Ok(rows);
            }
            self.phase = Phase::Dated;
        }
        if self.dated_read != DatedRead::Keyset {
            return self.next_cursor_round(conn);
        }
        let mut base = format!(
            "SELECT {} FROM {table} WHERE {date} IS NOT NULL AND {id} <= ?",
            self.select
        );
        let mut base_params = vec![Value::Int(self.upper_id)];
        date_filter(d, self.since, &mut base, &mut base_params);
        // `(date, id) > (d, i)` is read in two index ranges: first the rest of the entries
        // dated `d` (`date = d AND id > i`), then, if the round has room, those after it
        // (`date > d`). No planner draws a range from the single condition
        // `date > d OR (date = d AND id > i)` with bound values, and the spelling
        // `date >= d AND (date > d OR id > i)` starts every round at the first entry dated
        // `d`, which is quadratic when many entries share a date (a bulk import, a database
        // storing whole seconds). The stored value is bound back as read, so on SQLite the
        // text comparison sees exactly what is stored.
        let mut rows = Vec::new();
        if let Some((last_date, last_id)) = &self.last {
            let sql = format!(
                "{base} AND {date} = ? AND {id} > ? ORDER BY {date}, {id} LIMIT {}",
                self.round_rows
            );
            let mut params = base_params.clone();
            params.extend([last_date.clone(), Value::Int(*last_id)]);
            rows = conn.query_rows(&sql, &params)?;
        }
        if rows.len() < self.round_rows {
            let mut sql = base;
            let mut params = base_params;
            if let Some((last_date, _)) = &self.last {
                sql.push_str(&format!(" AND {date} > ?"));
                params.push(last_date.clone());
            }
            sql.push_str(&format!(
                " ORDER BY {date}, {id} LIMIT {}",
                self.round_rows - rows.len()
            ));
            rows.extend(conn.query_rows(&sql, &params)?);
        }
        if let Some(last) = rows.last() {
            self.last = Some((
                last.get(1).clone(),
                last.get(0).as_i64().unwrap_or(i64::MAX),
            ));
        }
        Ok(rows)
    }

    /// The next round from PostgreSQL's cursor, declaring it (and beginning its transaction)
    /// at the first call. The upper id and the time limit are written into the statement as
    /// literals of our own formatting: `DECLARE` takes no bound parameters.
    fn next_cursor_round(&mut self, conn: &mut dyn Connection) -> DbResult<Vec<Row>> {
        let d = conn.dialect();
        if self.dated_read == DatedRead::CursorPending {
            let (id, date) = (d.quote("id"), d.quote("date"));
            let mut sql = format!(
                "DECLARE {CURSOR} NO SCROLL CURSOR FOR SELECT {} FROM {} \
                 WHERE {date} IS NOT NULL AND {id} <= {}",
                self.select,
                d.quote(TABLE),
                self.upper_id
            );
            if let Some(s) = self.since {
                sql.push_str(&format!(
                    " AND {date} >= TIMESTAMP '{}'",
                    s.format(SQLITE_DATETIME_FORMAT)
                ));
            }
            sql.push_str(&format!(" ORDER BY {date}, {id}"));
            // READ COMMITTED: the neighbour lookups see the table as it is (module header).
            // No JIT (PostgreSQL 11 and later have it): compiling the scan's expressions costs
            // more than it saves on a query that streams rows to the client.
            conn.execute_batch("BEGIN ISOLATION LEVEL READ COMMITTED, READ ONLY")?;
            self.dated_read = DatedRead::CursorOpen;
            conn.execute_batch(&format!(
                "SELECT set_config('jit', 'off', true) \
                 WHERE current_setting('server_version_num')::int >= 110000; {sql}"
            ))?;
        }
        conn.query_rows(&format!("FETCH {} FROM {CURSOR}", self.round_rows), &[])
    }

    /// End what the reader holds open on the connection: PostgreSQL's cursor and its
    /// read-only transaction. Called once the dump is done, also after it failed.
    pub fn close(&mut self, conn: &mut dyn Connection) -> DbResult<()> {
        if self.dated_read == DatedRead::CursorOpen {
            self.dated_read = DatedRead::CursorPending;
            conn.rollback()?;
        }
        Ok(())
    }

    /// Which of the neighbours (`id ± stride`) of the round's `ids` exist
    /// (`_existing_neighbour_ids`). A neighbour that is itself in the round was just read, so
    /// only the others are looked up: privacyIDEA asks for all of them moments after reading
    /// the round, and an entry deleted in between is the same race for both. Where ids follow
    /// the dates, as privacyIDEA writes them, this leaves about two lookups per round.
    pub fn existing_neighbours(
        &self,
        conn: &mut dyn Connection,
        ids: &[i64],
    ) -> DbResult<HashSet<i64>> {
        let d = conn.dialect();
        let mut found: HashSet<i64> = ids.iter().copied().collect();
        let mut wanted: Vec<i64> = ids
            .iter()
            .flat_map(|i| [i.saturating_sub(self.stride), i.saturating_add(self.stride)])
            .filter(|n| !found.contains(n))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        found.reserve(wanted.len());
        for slice in wanted.chunks(ID_SLICE) {
            let marks = vec!["?"; slice.len()].join(", ");
            let sql = format!(
                "SELECT {id} FROM {} WHERE {id} IN ({marks})",
                d.quote(TABLE),
                id = d.quote("id")
            );
            let params: Vec<Value> = slice.iter().map(|i| Value::Int(*i)).collect();
            conn.for_each_row(&sql, &params, &mut |row| {
                if let Some(i) = row.get(0).as_i64() {
                    found.insert(i);
                }
                Ok(())
            })?;
        }
        Ok(found)
    }

    /// Whether both neighbours of `id` exist (`_check_missing`).
    pub fn not_missing(&self, id: i64, found: &HashSet<i64>) -> bool {
        found.contains(&id.saturating_sub(self.stride))
            && found.contains(&id.saturating_add(self.stride))
    }
}
