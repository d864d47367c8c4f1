//! Everything that differs in SQL between SQLite, PostgreSQL and MySQL/MariaDB, in one place,
//! so that tasks are written once.

/// The SQL dialect of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    /// MySQL and MariaDB (privacyIDEA's `mysql`, `mysql+pymysql`, `mariadb+pymysql` URLs).
    Mysql,
}

impl Dialect {
    /// The name operators know the backend by.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
            Dialect::Mysql => "mysql",
        }
    }

    /// Quote an identifier. privacyIDEA's tables have reserved and mixed-case names
    /// (`"user"`, `"session"`, `"Key"`, `` `key` ``), so every identifier is quoted.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::Mysql => format!("`{}`", ident.replace('`', "``")),
            Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// The statement that opens a transaction. SQLite takes the write lock up front
    /// (`IMMEDIATE`), so a chunk never fails half-way with a lock upgrade error.
    pub fn begin_statement(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
            Dialect::Mysql => "START TRANSACTION",
        }
    }

    /// The database server's clock as integer milliseconds since the epoch. The scheduler
    /// compares lease expiries with this, so nodes with skewed clocks still agree.
    pub fn now_ms_sql(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Dialect::Mysql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
        }
    }

    /// One chunk of a chunked delete: at most `limit` rows of `table` matching `filter`.
    ///
    /// MySQL/MariaDB support `DELETE … LIMIT` directly (and not `LIMIT` in an `IN` subquery);
    /// SQLite and PostgreSQL delete by primary key from a bounded subquery, the form privacyIDEA
    /// uses (reference §0.8). Each chunk is its own short statement.
    pub fn chunk_delete_sql(self, table: &str, pk: &str, filter: &str, limit: u64) -> String {
        let t = self.quote(table);
        let k = self.quote(pk);
        match self {
            Dialect::Mysql => format!("DELETE FROM {t} WHERE {filter} LIMIT {limit}"),
            Dialect::Sqlite | Dialect::Postgres => format!(
                "DELETE FROM {t} WHERE {k} IN (SELECT {k} FROM {t} WHERE {filter} LIMIT {limit})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_reserved_names_per_dialect() {
        assert_eq!(Dialect::Postgres.quote("user"), "\"user\"");
        assert_eq!(Dialect::Sqlite.quote("Key"), "\"Key\"");
        assert_eq!(Dialect::Mysql.quote("key"), "`key`");
        assert_eq!(Dialect::Mysql.quote("a`b"), "`a``b`");
    }

    #[test]
    fn chunk_delete_forms() {
        assert_eq!(
            Dialect::Mysql.chunk_delete_sql("challenge", "id", "expiration < ?", 100),
            "DELETE FROM `challenge` WHERE expiration < ? LIMIT 100"
        );
        assert_eq!(
            Dialect::Sqlite.chunk_delete_sql("challenge", "id", "expiration < ?", 100),
            "DELETE FROM \"challenge\" WHERE \"id\" IN (SELECT \"id\" FROM \"challenge\" WHERE expiration < ? LIMIT 100)"
        );
    }
}
