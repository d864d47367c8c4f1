//! `kind: create_tables` / `pi-manage setup create_tables`: create privacyIDEA 3.14's schema
//! in an empty database and stamp its alembic revision, as privacyIDEA's own command does.
//!
//! SQLite gets the complete schema of the release (the `.schema` of a database its
//! `create_tables` made); PostgreSQL and MariaDB/MySQL get the tables the maintenance tasks
//! use, from reference/schema.md §10. A database that already holds any privacyIDEA table is
//! left alone: creating the missing tables of an older schema would bypass its migrations.

use std::sync::OnceLock;

use regex::Regex;

use super::{TaskContext, TaskError, TaskFailure, TaskOutcome, TaskStatus};
use crate::db::{Connection, Dialect};

/// The alembic head of privacyIDEA 3.14, which the created schema corresponds to.
pub const ALEMBIC_HEAD: &str = "b7c1e4d2a9f3";

const SQLITE_DDL: &str = include_str!("../db/ddl/sqlite_full.sql");
const POSTGRES_DDL: &str = include_str!("../db/ddl/postgres.sql");
const MARIADB_DDL: &str = include_str!("../db/ddl/mariadb.sql");
const MYSQL_DDL: &str = include_str!("../db/ddl/mysql.sql");

#[derive(Debug)]
pub struct CreateTablesTask {
    pub name: String,
}

/// The tables a DDL script creates, in order.
pub fn ddl_tables(ddl: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r#"(?im)^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"]?(\w+)"#)
            .expect("static regex")
    });
    re.captures_iter(ddl).map(|c| c[1].to_string()).collect()
}

/// The DDL for a connection's dialect (and, on MySQL, its server flavour).
fn ddl_for(conn: &mut dyn Connection) -> Result<&'static str, TaskError> {
    Ok(match conn.dialect() {
        Dialect::Sqlite => SQLITE_DDL,
        Dialect::Postgres => POSTGRES_DDL,
        Dialect::Mysql => {
            let version = conn
                .query_rows("SELECT VERSION()", &[])?
                .first()
                .and_then(|r| r.get(0).as_str().map(str::to_string))
                .unwrap_or_default();
            if mariadb_with_sequences(&version) {
                MARIADB_DDL
            } else {
                MYSQL_DDL
            }
        }
    })
}

/// MariaDB 10.3 and later has sequences, and privacyIDEA uses them there.
fn mariadb_with_sequences(version: &str) -> bool {
    if !version.to_ascii_lowercase().contains("mariadb") {
        return false;
    }
    // Old clients see MariaDB's version behind a "5.5.5-" compatibility prefix.
    let version = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let major: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor) >= (10, 3)
}

impl CreateTablesTask {
    pub fn run(&self, ctx: &mut TaskContext<'_>) -> Result<TaskOutcome, TaskFailure> {
        super::timed(&self.name, "create_tables", |out| self.run_inner(ctx, out))
    }

    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        // A dry run must not create the SQLite file either.
        let is_sqlite = ctx.databases.main_url().backend == crate::dburl::Backend::Sqlite;
        let conn = if ctx.dry_run {
            match ctx.databases.main() {
                Ok(c) => c,
                Err(e) if e.kind == crate::db::DbErrorKind::Connect && is_sqlite => {
                    out.status = TaskStatus::DryRun;
                    out.say(ctx.output, format!("Would create the database file and {} tables, stamped with revision {ALEMBIC_HEAD}.", ddl_tables(SQLITE_DDL).len()));
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            ctx.databases.main_creating()?
        };
        out.database = Some(conn.target());
        let ddl = ddl_for(conn)?;
        let tables = ddl_tables(ddl);
        let mut existing = Vec::new();
        for t in &tables {
            if conn.table_exists(t)? {
                existing.push(t.clone());
            }
        }
        if !existing.is_empty() {
            let revision = if conn.table_exists("alembic_version")? {
                conn.query_rows("SELECT version_num FROM alembic_version", &[])?
                    .first()
                    .and_then(|r| r.get(0).as_str().map(str::to_string))
            } else {
                None
            };
            out.status = TaskStatus::Unchanged;
            let rev = revision
                .map(|r| format!(" (alembic revision {r})"))
                .unwrap_or_default();
            out.say(ctx.output, format!(
                "The database already has privacyIDEA's tables{rev}: {} of {} exist. Nothing was created.",
                existing.len(),
                tables.len()
            ));
            return Ok(());
        }
        if ctx.dry_run {
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!(
                    "Would create {} tables, stamped with revision {ALEMBIC_HEAD}.",
                    tables.len()
                ),
            );
            return Ok(());
        }
        // SQLite and PostgreSQL run DDL transactionally: all tables or none. MySQL commits
        // each DDL statement implicitly, so there a failure can leave some tables behind.
        let transactional = conn.dialect() != Dialect::Mysql;
        if transactional {
            conn.begin()?;
        }
        match conn.execute_batch(ddl) {
            Ok(()) => {
                if transactional {
                    conn.commit()?;
                }
            }
            Err(e) => {
                if transactional {
                    let _ = conn.rollback();
                }
                return Err(e.into());
            }
        }
        out.say(
            ctx.output,
            format!(
                "Created {} tables, stamped with revision {ALEMBIC_HEAD}.",
                tables.len()
            ),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_files_name_their_tables() {
        let t = ddl_tables(SQLITE_DDL);
        assert_eq!(t.len(), 68);
        for must in [
            "pidea_audit",
            "challenge",
            "policy",
            "config",
            "admin",
            "alembic_version",
        ] {
            assert!(t.iter().any(|x| x == must), "{must}");
            assert!(
                ddl_tables(POSTGRES_DDL).iter().any(|x| x == must),
                "pg {must}"
            );
            assert!(
                ddl_tables(MARIADB_DDL).iter().any(|x| x == must),
                "mariadb {must}"
            );
        }
    }

    #[test]
    fn mariadb_versions() {
        assert!(mariadb_with_sequences("10.11.19-MariaDB-0+deb12u1"));
        assert!(mariadb_with_sequences("5.5.5-10.3.39-MariaDB"));
        assert!(!mariadb_with_sequences("10.2.44-MariaDB"));
        assert!(!mariadb_with_sequences("8.0.36"));
    }
}
