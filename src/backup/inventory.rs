//! What a database holds, for the manifest and for checking a restore: its tables with their
//! row counts, and privacyIDEA's schema revision (`alembic_version`).

use std::collections::BTreeMap;

use crate::db::{Connection, DbResult, Dialect};

/// Tables and row counts of the connected database (schema).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub tables: BTreeMap<String, u64>,
    pub alembic_revision: Option<String>,
}

/// The base tables of the connected database, sorted.
pub fn table_names(conn: &mut dyn Connection) -> DbResult<Vec<String>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        }
        Dialect::Postgres => {
            "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        }
        Dialect::Mysql => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
    };
    Ok(conn
        .query_rows(sql, &[])?
        .iter()
        .filter_map(|r| r.get(0).as_str().map(str::to_string))
        .collect())
}

/// Count every table's rows and read the schema revision. Call it inside the transaction whose
/// snapshot the dump uses, where there is one.
pub fn take(conn: &mut dyn Connection) -> DbResult<Inventory> {
    let d = conn.dialect();
    let mut inv = Inventory::default();
    for t in table_names(conn)? {
        let n = conn
            .query_i64(&format!("SELECT count(*) FROM {}", d.quote(&t)), &[])?
            .unwrap_or(0);
        inv.tables.insert(t, n.max(0) as u64);
    }
    if inv.tables.contains_key("alembic_version") {
        inv.alembic_revision = conn
            .query_rows(
                &format!(
                    "SELECT {} FROM {}",
                    d.quote("version_num"),
                    d.quote("alembic_version")
                ),
                &[],
            )?
            .first()
            .and_then(|r| r.get(0).as_str().map(str::to_string));
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sqlite::SqliteConnection;
    use crate::db::OpenOptions;
    use crate::dburl::DbUrl;

    #[test]
    fn counts_tables_and_reads_the_revision() {
        let mut c =
            SqliteConnection::open(&DbUrl::parse("sqlite://").unwrap(), &OpenOptions::default())
                .unwrap();
        c.execute_batch(
            "CREATE TABLE alembic_version (version_num VARCHAR(32));
             INSERT INTO alembic_version VALUES ('b7c1e4d2a9f3');
             CREATE TABLE admin (id INTEGER PRIMARY KEY);
             INSERT INTO admin VALUES (1), (2);
             CREATE TABLE t (x INTEGER PRIMARY KEY AUTOINCREMENT);",
        )
        .unwrap();
        let inv = take(&mut c).unwrap();
        assert_eq!(inv.alembic_revision.as_deref(), Some("b7c1e4d2a9f3"));
        let expect: BTreeMap<String, u64> = [("admin", 2), ("alembic_version", 1), ("t", 0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            inv.tables, expect,
            "sqlite_sequence is internal and left out"
        );
    }
}
