//! `audit dump`: privacyIDEA 3.14's CSV export of the audit log (`sqlaudit.csv_generator`),
//! byte for byte, streamed in rounds so memory stays flat at any table size.
//!
//! Per entry it writes `number, date, sig_check, missing_line, action, …, thread_id` with no
//! header. The signatures of a round are checked on all cores while the next round and the
//! round's neighbour ids are read; lines are written in the dump's `(date, id)` order.

mod csv;
mod entry;
pub mod output;
mod reader;
pub mod timelimit;

use std::io::{self, Write};

use chrono::NaiveDateTime;

use crate::crypto::audit_sign::AuditVerifier;
use crate::crypto::parallel_verify;
use crate::db::{Connection, DbError};
use crate::interrupt::Interrupt;
use entry::Entry;
use reader::Reader;

pub use reader::TABLE;
pub use timelimit::{Timelimit, TimelimitError};

/// `_CSV_EXPORT_CHUNK_SIZE`: entries per round.
pub const ROUND_ROWS: usize = 500;

/// What to dump and how.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Only entries with `date >= since` (local time); `None` dumps everything.
    pub since: Option<NaiveDateTime>,
    /// The public audit key; `None` when signing is off (`PI_AUDIT_NO_SIGN`): every entry's
    /// `sig_check` is then `FAIL`, as privacyIDEA writes it.
    pub verifier: Option<AuditVerifier>,
    /// Entries per round ([`ROUND_ROWS`]; smaller in tests to cross round boundaries).
    pub round_rows: usize,
}

/// What a dump wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpStats {
    pub entries: u64,
    pub signature_failed: u64,
    pub missing_line_failed: u64,
    /// The highest id included (fixed before the first round); `None` for an empty dump.
    pub upper_id: Option<i64>,
    /// Stopped by a signal between rounds: the output is incomplete.
    pub interrupted: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("cannot write the dump: {0}")]
    Write(#[source] io::Error),
    #[error("{TABLE} does not exist in {0}")]
    NoTable(String),
}

/// How many entries a dump would write now (dry runs).
pub fn count(conn: &mut dyn Connection, since: Option<NaiveDateTime>) -> Result<u64, DumpError> {
    check_table(conn)?;
    Ok(Reader::count(conn, since)?)
}

fn check_table(conn: &mut dyn Connection) -> Result<(), DumpError> {
    if conn.table_exists(TABLE)? {
        Ok(())
    } else {
        Err(DumpError::NoTable(conn.target()))
    }
}

/// Check the signatures of a round on every core (the shared [`parallel_verify`]); results in
/// round order. Without a key (signing off) every entry fails, as privacyIDEA writes it.
fn verify_all(verifier: Option<&AuditVerifier>, entries: &[Entry]) -> Vec<bool> {
    match verifier {
        Some(v) => {
            parallel_verify::verify_batch(v, entries, 0, |e| (&e.record, e.signature.as_deref()))
        }
        None => vec![false; entries.len()],
    }
}

/// Write the dump to `out`. Stops between rounds when `interrupt` is requested (reported in
/// [`DumpStats::interrupted`]); the caller decides what an incomplete output means.
pub fn dump(
    conn: &mut dyn Connection,
    opts: &DumpOptions,
    interrupt: &Interrupt,
    out: &mut dyn Write,
) -> Result<DumpStats, DumpError> {
    check_table(conn)?;
    let Some(mut reader) = Reader::open(conn, opts.since, opts.round_rows)? else {
        return Ok(DumpStats::default());
    };
    let result = write_rounds(conn, &mut reader, opts, interrupt, out);
    let closed = reader.close(conn);
    let stats = result?;
    closed?;
    Ok(stats)
}

/// The rounds of [`dump`], from the opened reader to the flushed output.
fn write_rounds(
    conn: &mut dyn Connection,
    reader: &mut Reader,
    opts: &DumpOptions,
    interrupt: &Interrupt,
    out: &mut dyn Write,
) -> Result<DumpStats, DumpError> {
    let mut stats = DumpStats {
        upper_id: Some(reader.upper_id),
        ..DumpStats::default()
    };
    let mut round: Vec<Entry> = reader
        .next_round(conn)?
        .iter()
        .map(Entry::from_row)
        .collect();
    let mut buf = String::new();
    while !round.is_empty() {
        // Verify this round on worker threads while this thread reads from the database.
        let ids: Vec<i64> = round.iter().map(|e| e.id).collect();
        let (sig_ok, (neighbours, next)) = parallel_verify::overlapped(
            || verify_all(opts.verifier.as_ref(), &round),
            || {
                let neighbours = reader.existing_neighbours(conn, &ids);
                let next = match &neighbours {
                    Ok(_) if interrupt.requested().is_none() => reader.next_round(conn),
                    _ => Ok(Vec::new()),
                };
                (neighbours, next)
            },
        );
        let neighbours = neighbours?;
        buf.clear();
        for (e, ok) in round.iter().zip(sig_ok) {
            let present = reader.not_missing(e.id, &neighbours);
            stats.entries += 1;
            stats.signature_failed += u64::from(!ok);
            stats.missing_line_failed += u64::from(!present);
            let id = e.id.to_string();
            let head = [
                id.as_str(),
                e.date.as_str(),
                if ok { "OK" } else { "FAIL" },
                if present { "OK" } else { "FAIL" },
            ];
            csv::push_row(
                &mut buf,
                head.into_iter().chain(e.rest.iter().map(String::as_str)),
            );
        }
        out.write_all(buf.as_bytes()).map_err(DumpError::Write)?;
        if let Some(sig) = interrupt.requested() {
            stats.interrupted = Some(sig);
            break;
        }
        round = next?.iter().map(Entry::from_row).collect();
    }
    out.flush().map_err(DumpError::Write)?;
    Ok(stats)
}
