//! The embedded SQLite driver (`rusqlite`, bundled library).
//!
//! privacyIDEA's SQLite files store datetimes as text `YYYY-MM-DD HH:MM:SS.ffffff` and compare
//! them as strings, so timestamps are bound in exactly that form.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{ErrorCode, OpenFlags};

use super::value::SQLITE_DATETIME_FORMAT;
use super::{
    Connection, DbError, DbErrorKind, DbResult, Dialect, OpenOptions, Row, RowPredicate, Value,
};
use crate::dburl::DbUrl;

/// Statements longer than this are prepared without the statement cache.
const SINGLE_USE_SQL_LEN: usize = 2048;

pub struct SqliteConnection {
    conn: rusqlite::Connection,
    target: String,
}

impl SqliteConnection {
    pub fn open(url: &DbUrl, opts: &OpenOptions) -> DbResult<Self> {
        match url.sqlite_path(&opts.base_dir) {
            Some(path) => Self::open_path(&path, opts),
            None => {
                let conn = rusqlite::Connection::open_in_memory().map_err(map_err)?;
                Ok(SqliteConnection {
                    conn,
                    target: "sqlite (in memory)".into(),
                })
            }
        }
    }

    pub fn open_path(path: &Path, opts: &OpenOptions) -> DbResult<Self> {
        let target = format!("sqlite database {}", path.display());
        if !opts.create && !path.exists() {
            return Err(DbError::new(
                DbErrorKind::Connect,
                format!("{target} does not exist"),
            ));
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if opts.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = rusqlite::Connection::open_with_flags(path, flags)
            .map_err(|e| DbError::new(DbErrorKind::Connect, format!("{target}: {e}")))?;
        conn.busy_timeout(opts.lock_timeout).map_err(map_err)?;
        // Fail now, not at the first statement, when the file is not a database.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|e| DbError::new(DbErrorKind::Connect, format!("{target}: {e}")))?;
        Ok(SqliteConnection { conn, target })
    }
}

struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(i) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
            Value::Float(f) => ToSqlOutput::Owned(rusqlite::types::Value::Real(*f)),
            Value::Bool(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*b as i64)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::DateTime(dt) => ToSqlOutput::Owned(rusqlite::types::Value::Text(
                dt.format(SQLITE_DATETIME_FORMAT).to_string(),
            )),
        })
    }
}

fn to_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into()),
    }
}

fn map_err(e: rusqlite::Error) -> DbError {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbErrorKind::Locked,
            ErrorCode::ConstraintViolation => DbErrorKind::Constraint,
            ErrorCode::CannotOpen | ErrorCode::NotADatabase => DbErrorKind::Connect,
            ErrorCode::PermissionDenied | ErrorCode::ReadOnly => DbErrorKind::Auth,
            _ => DbErrorKind::Other,
        },
        _ => DbErrorKind::Other,
    };
    DbError::new(kind, format!("sqlite: {e}"))
}

impl Connection for SqliteConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        let params: Vec<Param> = params.iter().map(Param).collect();
        // Long statements are single-use (id lists): caching them would only keep large
        // SQL texts and their compiled programs alive.
        let n = if sql.len() > SINGLE_USE_SQL_LEN {
            let mut stmt = self.conn.prepare(sql).map_err(map_err)?;
            stmt.execute(rusqlite::params_from_iter(params.iter()))
        } else {
            let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
            stmt.execute(rusqlite::params_from_iter(params.iter()))
        }
        .map_err(map_err)?;
        Ok(n as u64)
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&mut Row) -> DbResult<()>,
    ) -> DbResult<()> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let ncols = stmt.column_count();
        let params: Vec<Param> = params.iter().map(Param).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(map_err)?;
        let mut row = Row(Vec::with_capacity(ncols));
        while let Some(r) = rows.next().map_err(map_err)? {
            row.0.clear();
            row.0.reserve(ncols); // the caller may have taken the last row's cells
            for i in 0..ncols {
                row.0.push(to_value(r.get_ref(i).map_err(map_err)?));
            }
            f(&mut row)?;
        }
        Ok(())
    }

    fn execute_with_predicate(
        &mut self,
        sql: &str,
        params: &[Value],
        name: &str,
        n_args: usize,
        predicate: RowPredicate,
    ) -> DbResult<Option<u64>> {
        let n_arg = i32::try_from(n_args)
            .map_err(|_| DbError::other(format!("{name}: too many arguments ({n_args})")))?;
        // SQLite calls the function from this thread only, inside `execute` below; the mutex
        // is what rusqlite's `Send + Fn` bound asks for and is never contended.
        let state = Mutex::new((predicate, Row::default()));
        self.conn
            .create_scalar_function(
                name,
                n_arg,
                FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
                move |ctx| {
                    let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
                    let (predicate, row) = &mut *guard;
                    row.0.clear();
                    for i in 0..ctx.len() {
                        row.0.push(to_value(ctx.get_raw(i)));
                    }
                    Ok(predicate(row))
                },
            )
            .map_err(map_err)?;
        let params: Vec<Param> = params.iter().map(Param).collect();
        // Not through the statement cache: a cached statement would outlive the function.
        let result = self
            .conn
            .prepare(sql)
            .and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(params.iter())));
        // Removed whatever happened, so no later statement can call this run's predicate.
        let removed = self.conn.remove_function(name, n_arg);
        let n = result.map_err(map_err)?;
        removed.map_err(map_err)?;
        Ok(Some(n as u64))
    }

    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        self.conn.execute_batch(sql).map_err(map_err)
    }

    fn table_exists(&mut self, table: &str) -> DbResult<bool> {
        Ok(self
            .query_i64(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                &[Value::Text(table.into())],
            )?
            .unwrap_or(0)
            > 0)
    }

    fn table_columns(&mut self, table: &str) -> DbResult<Vec<String>> {
        let mut cols = Vec::new();
        self.for_each_row(
            "SELECT name FROM pragma_table_info(?) ORDER BY cid",
            &[Value::Text(table.into())],
            &mut |row| {
                if let Some(n) = row.get(0).as_str() {
                    cols.push(n.to_string());
                }
                Ok(())
            },
        )?;
        Ok(cols)
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn mem() -> SqliteConnection {
        SqliteConnection::open(&DbUrl::parse("sqlite://").unwrap(), &OpenOptions::default())
            .unwrap()
    }

    #[test]
    fn binds_datetimes_as_sqlalchemy_text() {
        let mut c = mem();
        c.execute_batch("CREATE TABLE t (d DATETIME)").unwrap();
        let dt = NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        c.execute("INSERT INTO t VALUES (?)", &[Value::DateTime(dt)])
            .unwrap();
        let rows = c.query_rows("SELECT d FROM t", &[]).unwrap();
        assert_eq!(
            rows[0].get(0),
            &Value::Text("2026-11-22 12:00:00.000000".into())
        );
        assert_eq!(rows[0].get(0).as_datetime(), Some(dt));
    }

    #[test]
    fn missing_file_is_a_connect_error_unless_create() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.sqlite");
        let err = SqliteConnection::open_path(&path, &OpenOptions::default())
            .err()
            .unwrap();
        assert_eq!(err.kind, DbErrorKind::Connect);
        assert!(!path.exists());
        let opts = OpenOptions {
            create: true,
            ..OpenOptions::default()
        };
        let mut c = SqliteConnection::open_path(&path, &opts).unwrap();
        assert!(!c.table_exists("pidea_audit").unwrap());
        c.execute_batch("CREATE TABLE pidea_audit (id INTEGER PRIMARY KEY, date DATETIME)")
            .unwrap();
        assert!(c.table_exists("pidea_audit").unwrap());
        assert_eq!(c.table_columns("pidea_audit").unwrap(), vec!["id", "date"]);
    }

    #[test]
    fn constraint_errors_are_classified() {
        let mut c = mem();
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)")
            .unwrap();
        let e = c.execute("INSERT INTO t VALUES (1)", &[]).unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Constraint);
    }
}
