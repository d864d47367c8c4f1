//! Choosing and opening the driver a database URL names.

use std::path::PathBuf;
use std::time::Duration;

use super::{Connection, DbError, DbErrorKind, DbResult};
use crate::dburl::{Backend, DbUrl};

/// How to open a connection.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// SQLite only: create the database file when it does not exist. Off for every task but
    /// `create_tables`, so a typo in a path never silently creates an empty database.
    pub create: bool,
    /// The directory relative SQLite paths are resolved against (the current directory).
    pub base_dir: PathBuf,
    /// The longest a statement may wait for a lock (SQLite busy timeout, PostgreSQL
    /// `lock_timeout`, MySQL `innodb_lock_wait_timeout`), so maintenance never hangs forever.
    pub lock_timeout: Duration,
    /// The longest one statement may run (PostgreSQL `statement_timeout`, MySQL/MariaDB
    /// `max_statement_time` / `max_execution_time` where supported). `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// Connect timeout for network databases.
    pub connect_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            create: false,
            base_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            lock_timeout: Duration::from_secs(30),
            statement_timeout: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Open a connection to the database `url` names, with the driver its scheme selects.
pub fn open(url: &DbUrl, opts: &OpenOptions) -> DbResult<Box<dyn Connection>> {
    match url.backend {
        Backend::Sqlite => Ok(Box::new(super::sqlite::SqliteConnection::open(url, opts)?)),
        #[cfg(feature = "postgres")]
        Backend::Postgres => Ok(Box::new(super::postgres::PostgresConnection::open(
            url, opts,
        )?)),
        #[cfg(feature = "mysql")]
        Backend::Mysql => Ok(Box::new(super::mysql::MysqlConnection::open(url, opts)?)),
        #[allow(unreachable_patterns)]
        other => Err(DbError::new(
            DbErrorKind::Connect,
            format!(
                "this pi-manage was built without the {} driver (enable the cargo feature '{}')",
                other.name(),
                match other {
                    Backend::Postgres => "postgres",
                    _ => "mysql",
                }
            ),
        )),
    }
}
