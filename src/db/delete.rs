//! The chunked delete every cleanup shares (audit rotation, challenge cleanup, …).
//!
//! Without a chunk size it is one `DELETE … WHERE filter` (one transaction, as privacyIDEA).
//! With one, each chunk is its own short transaction, committed before the next starts: a long
//! cleanup never holds a long lock, and an interrupted run loses nothing — whatever is gone is
//! committed, and a re-run simply continues. Transient errors (deadlock, serialization
//! failure, busy file) are retried a few times with backoff; anything else stops the delete.

use std::thread::sleep;
use std::time::Duration;

use super::{Connection, DbError, Value};
use crate::interrupt::Interrupt;

/// What to delete.
#[derive(Debug, Clone)]
pub struct DeletePlan<'a> {
    pub table: &'a str,
    /// The table's one-column primary key (chunks are bounded by it).
    pub pk: &'a str,
    /// A SQL condition with `?` placeholders, already quoted for the dialect.
    pub filter: String,
    pub params: Vec<Value>,
    /// Rows per chunk; `None` deletes in one statement.
    pub chunksize: Option<u64>,
}

/// How far a delete got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteOutcome {
    pub deleted: u64,
    /// Committed statements that deleted rows (or the one statement when unchunked).
    pub chunks: u64,
    /// The signal that stopped the delete after a committed chunk, if any.
    pub interrupted: Option<i32>,
}

/// A delete that failed part-way; `deleted` rows were committed before the failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error} (after {deleted} rows were deleted and committed)")]
pub struct DeleteFailed {
    pub error: DbError,
    pub deleted: u64,
}

/// Told after every committed chunk how many rows are gone so far (progress bars).
pub trait DeleteObserver {
    fn chunk_committed(&mut self, _deleted_so_far: u64) {}
}

/// An observer that ignores progress.
pub struct NoProgress;
impl DeleteObserver for NoProgress {}

const RETRIES: u32 = 5;

/// Run `f` in its own transaction, retrying transient failures with exponential backoff.
pub fn in_transaction_with_retry<T>(
    conn: &mut dyn Connection,
    mut f: impl FnMut(&mut dyn Connection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let mut attempt = 0;
    loop {
        let result = conn.begin().and_then(|_| {
            let v = f(conn)?;
            conn.commit()?;
            Ok(v)
        });
        match result {
            Ok(v) => return Ok(v),
            Err(e) => {
                let _ = conn.rollback();
                attempt += 1;
                if !e.is_transient() || attempt > RETRIES {
                    return Err(e);
                }
                sleep(Duration::from_millis(50 << attempt));
            }
        }
    }
}

/// `SELECT count(*)` of the rows a plan would delete: what a dry run reports.
pub fn count_matching(conn: &mut dyn Connection, plan: &DeletePlan<'_>) -> Result<u64, DbError> {
    let sql = format!(
        "SELECT count(*) FROM {} WHERE {}",
        conn.dialect().quote(plan.table),
        plan.filter
    );
    Ok(conn.query_i64(&sql, &plan.params)?.unwrap_or(0).max(0) as u64)
}

/// Delete the rows a plan selects, chunked if it says so. Checks `interrupt` after every
/// committed chunk.
pub fn delete_matching(
    conn: &mut dyn Connection,
    plan: &DeletePlan<'_>,
    observer: &mut dyn DeleteObserver,
    interrupt: &Interrupt,
) -> Result<DeleteOutcome, DeleteFailed> {
    let dialect = conn.dialect();
    let mut outcome = DeleteOutcome::default();
    let Some(limit) = plan.chunksize else {
        let sql = format!(
            "DELETE FROM {} WHERE {}",
            dialect.quote(plan.table),
            plan.filter
        );
        let n = in_transaction_with_retry(conn, |c| c.execute(&sql, &plan.params))
            .map_err(|error| DeleteFailed { error, deleted: 0 })?;
        outcome.deleted = n;
        outcome.chunks = 1;
        observer.chunk_committed(n);
        outcome.interrupted = interrupt.requested();
        return Ok(outcome);
    };
    let sql = dialect.chunk_delete_sql(plan.table, plan.pk, &plan.filter, limit.max(1));
    loop {
        let n = in_transaction_with_retry(conn, |c| c.execute(&sql, &plan.params)).map_err(
            |error| DeleteFailed {
                error,
                deleted: outcome.deleted,
            },
        )?;
        if n > 0 {
            outcome.chunks += 1;
        }
        outcome.deleted += n;
        observer.chunk_committed(outcome.deleted);
        if n < limit {
            break;
        }
        if let Some(sig) = interrupt.requested() {
            outcome.interrupted = Some(sig);
            break;
        }
    }
    Ok(outcome)
}

/// Delete rows by primary key, `slice` ids per statement and `slices_per_commit` statements
/// per transaction (rules-mode audit rotation with a chunk size).
pub fn delete_ids(
    conn: &mut dyn Connection,
    table: &str,
    pk: &str,
    ids: &[i64],
    slice: usize,
    slices_per_commit: usize,
) -> Result<u64, DeleteFailed> {
    let mut deleted = 0;
    let per_commit = slice.max(1) * slices_per_commit.max(1);
    for batch in ids.chunks(per_commit) {
        deleted += in_transaction_with_retry(conn, |c| delete_ids_in(c, table, pk, batch, slice))
            .map_err(|error| DeleteFailed { error, deleted })?;
    }
    Ok(deleted)
}

/// Delete rows by primary key in the caller's transaction, `slice` ids per statement. The ids
/// are integers, written into the SQL as literals so no backend's bind-parameter limit applies.
pub fn delete_ids_in(
    conn: &mut dyn Connection,
    table: &str,
    pk: &str,
    ids: &[i64],
    slice: usize,
) -> Result<u64, DbError> {
    let dialect = conn.dialect();
    let head = format!(
        "DELETE FROM {} WHERE {} IN (",
        dialect.quote(table),
        dialect.quote(pk)
    );
    let mut n = 0;
    let mut sql = String::new();
    for part in ids.chunks(slice.max(1)) {
        sql.clear();
        sql.push_str(&head);
        for (i, id) in part.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&id.to_string());
        }
        sql.push(')');
        n += conn.execute(&sql, &[])?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sqlite::SqliteConnection;
    use crate::db::OpenOptions;
    use crate::dburl::DbUrl;

    fn table_with(n: i64) -> SqliteConnection {
        let mut c =
            SqliteConnection::open(&DbUrl::parse("sqlite://").unwrap(), &OpenOptions::default())
                .unwrap();
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
            .unwrap();
        for i in 1..=n {
            c.execute(
                "INSERT INTO t VALUES (?, ?)",
                &[Value::Int(i), Value::Int(i % 2)],
            )
            .unwrap();
        }
        c
    }

    fn plan(chunksize: Option<u64>) -> DeletePlan<'static> {
        DeletePlan {
            table: "t",
            pk: "id",
            filter: "\"v\" = ?".into(),
            params: vec![Value::Int(0)],
            chunksize,
        }
    }

    fn remaining(c: &mut SqliteConnection) -> Vec<i64> {
        c.query_rows("SELECT id FROM t ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0).as_i64().unwrap())
            .collect()
    }

    #[test]
    fn chunk_sizes_at_the_boundaries() {
        for chunk in [None, Some(1), Some(2), Some(5), Some(10), Some(1000)] {
            let mut c = table_with(20);
            assert_eq!(count_matching(&mut c, &plan(chunk)).unwrap(), 10);
            let out =
                delete_matching(&mut c, &plan(chunk), &mut NoProgress, &Interrupt::new()).unwrap();
            assert_eq!(out.deleted, 10, "chunk {chunk:?}");
            assert_eq!(remaining(&mut c), (1..=20).step_by(2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn interruption_stops_after_a_committed_chunk_and_a_rerun_continues() {
        let mut c = table_with(20);
        struct StopAfterFirst(Interrupt);
        impl DeleteObserver for StopAfterFirst {
            fn chunk_committed(&mut self, _: u64) {
                self.0.trigger(2);
            }
        }
        let it = Interrupt::new();
        let out =
            delete_matching(&mut c, &plan(Some(3)), &mut StopAfterFirst(it.clone()), &it).unwrap();
        assert_eq!(out.deleted, 3);
        assert_eq!(out.interrupted, Some(2));
        assert_eq!(remaining(&mut c).len(), 17);
        let out =
            delete_matching(&mut c, &plan(Some(3)), &mut NoProgress, &Interrupt::new()).unwrap();
        assert_eq!(out.deleted, 7);
        assert_eq!(remaining(&mut c).len(), 10);
    }

    #[test]
    fn delete_ids_in_slices() {
        let mut c = table_with(10);
        let n = delete_ids(&mut c, "t", "id", &[1, 2, 3, 4, 5, 99], 4, 1).unwrap();
        assert_eq!(n, 5);
        assert_eq!(remaining(&mut c), vec![6, 7, 8, 9, 10]);
    }
}
