//! The database layer: one small synchronous [`Connection`] trait, the [`Value`]s and [`Row`]s
//! that cross it, driver errors normalised into a few [`DbErrorKind`]s, and the [`Dialect`]
//! that owns every SQL difference between the backends. Tasks are written once against this
//! module and never look at backend strings.

pub mod catalog;
pub mod delete;
mod dialect;
pub mod drop_tables;
mod open;
pub mod schema;
mod sql_split;
pub mod sqlite;
mod value;

#[cfg(test)]
mod test_support;

#[cfg(feature = "mysql")]
mod galera;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
mod pg_tls;
#[cfg(feature = "postgres")]
pub mod postgres;

pub use dialect::Dialect;
pub use open::{open, OpenOptions};
pub use sql_split::split_sql_statements;
pub use value::{Row, Value, SQLITE_DATETIME_FORMAT};

/// A test written in Rust that SQL calls once per row ([`Connection::execute_with_predicate`]);
/// it gets the function's arguments as a [`Row`].
pub type RowPredicate = Box<dyn FnMut(&Row) -> bool + Send>;

/// What went wrong, in the terms retry and exit-code decisions need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// The server could not be reached, or the database (file) does not exist.
    Connect,
    /// The server refused the credentials.
    Auth,
    /// A statement or lock wait ran into its timeout.
    Timeout,
    /// Deadlock, serialization failure or a busy SQLite file: worth retrying.
    Locked,
    /// A constraint (unique, foreign key, not null) was violated.
    Constraint,
    /// Anything else (syntax, missing table, …).
    Other,
}

/// A driver error. The message never contains a password: drivers build it from the
/// server's answer and the redacted connection target only.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
}

impl DbError {
    pub fn new(kind: DbErrorKind, message: impl Into<String>) -> Self {
        DbError {
            kind,
            message: message.into(),
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        DbError::new(DbErrorKind::Other, message)
    }

    /// Deadlocks, serialization failures and busy files can succeed when simply tried again.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, DbErrorKind::Locked)
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// A connection to one database. The required surface is deliberately small; everything
/// else is a provided method built on it.
///
/// SQL uses `?` placeholders on every backend; a driver whose server wants another form
/// (PostgreSQL's `$1`) rewrites them.
pub trait Connection: Send {
    /// The SQL dialect of this connection.
    fn dialect(&self) -> Dialect;

    /// Run one statement and return the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64>;

    /// Run a query and hand each row to `f` as it arrives, without collecting the result.
    /// `f` may take the row's cells (`std::mem::take`); the driver refills the row for the
    /// next one, so collecting rows costs no copy of them.
    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&mut Row) -> DbResult<()>,
    ) -> DbResult<()>;

    /// Run several `;`-separated statements without parameters (DDL).
    fn execute_batch(&mut self, sql: &str) -> DbResult<()>;

    /// Whether a table of that name exists in the connected database/schema.
    fn table_exists(&mut self, table: &str) -> DbResult<bool>;

    /// The column names of a table, in table order; empty when the table does not exist.
    fn table_columns(&mut self, table: &str) -> DbResult<Vec<String>>;

    /// A short description of what this connection points at, safe to print (no password).
    fn target(&self) -> String;

    /// The SQL expression that takes the next id from privacyIDEA's named sequence (e.g.
    /// `challenge_seq`), or `None` when this database generates ids itself (SQLite rowid,
    /// AUTO_INCREMENT on MySQL and pre-10.3 MariaDB, identity columns). Decided by looking at
    /// the database, since an upgraded installation may differ from a fresh one.
    fn next_id_sql(&mut self, _sequence: &str) -> DbResult<Option<String>> {
        Ok(None)
    }

    /// Run one statement that calls `predicate` as the SQL function `name` of `n_args`
    /// arguments (true is 1, false 0), registered for this statement only, and return the
    /// number of rows it changed. `None` on backends whose SQL cannot call back into this
    /// process (the servers); callers then read the rows and act on them by key instead.
    fn execute_with_predicate(
        &mut self,
        _sql: &str,
        _params: &[Value],
        _name: &str,
        _n_args: usize,
        _predicate: RowPredicate,
    ) -> DbResult<Option<u64>> {
        Ok(None)
    }

    fn begin(&mut self) -> DbResult<()> {
        self.execute_batch(self.dialect().begin_statement())
    }

    fn commit(&mut self) -> DbResult<()> {
        self.execute_batch("COMMIT")
    }

    fn rollback(&mut self) -> DbResult<()> {
        self.execute_batch("ROLLBACK")
    }

    /// Collect every row of a query. Only for results known to be small.
    fn query_rows(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        let mut rows = Vec::new();
        self.for_each_row(sql, params, &mut |row| {
            rows.push(std::mem::take(row));
            Ok(())
        })?;
        Ok(rows)
    }

    /// The first column of the first row as an integer; `None` when there is no row or it is NULL.
    fn query_i64(&mut self, sql: &str, params: &[Value]) -> DbResult<Option<i64>> {
        let mut out = None;
        let mut seen = false;
        self.for_each_row(sql, params, &mut |row| {
            if !seen {
                seen = true;
                out = row.get(0).as_i64();
            }
            Ok(())
        })?;
        Ok(out)
    }
}
