//! `kind: create_tables` / `pi-manage setup create_tables`: create privacyIDEA 3.14's schema
//! and stamp its alembic revision, as privacyIDEA's own command does (`create_all`, then
//! `stamp head`).
//!
//! Every dialect gets the complete schema of the release (`db::schema`). Like privacyIDEA's
//! `create_all`, a database stamped at the head that lacks some tables (e.g. the 19-table
//! schema earlier pi-manage versions created on PostgreSQL and MariaDB) gets the missing
//! tables, with their sequences, indexes and foreign keys; an existing table is never altered
//! or dropped. A database with privacyIDEA tables at another (or no) revision is reported and
//! left alone: its migrations, not create_all, must bring it to the head.

use std::collections::BTreeSet;

use super::{TaskContext, TaskError, TaskOutcome, TaskStatus};
use crate::db::catalog::Catalog;
use crate::db::schema::Flavour;
/// Re-exported where it was before the schema moved to `db::schema`.
pub use crate::db::schema::ALEMBIC_HEAD;
use crate::db::{Connection, Dialect};

/// The `kind` string of job files.
pub const KIND: &str = "create_tables";

#[derive(Debug)]
pub struct CreateTablesTask {
    pub name: String,
}

/// The revision in `alembic_version`, when the table exists and holds one.
pub fn stamped_revision(conn: &mut dyn Connection) -> Result<Option<String>, TaskError> {
    if !conn.table_exists("alembic_version")? {
        return Ok(None);
    }
    Ok(conn
        .query_rows("SELECT version_num FROM alembic_version", &[])?
        .first()
        .and_then(|r| r.get(0).as_str().map(str::to_string)))
}

/// What `create_tables` finds and would create.
struct Plan {
    tables: BTreeSet<String>,
    sequences: BTreeSet<String>,
    /// Known tables that already exist.
    existing: usize,
    total: usize,
    stamp: bool,
}

fn plan(conn: &mut dyn Connection, flavour: Flavour) -> Result<Plan, TaskError> {
    let known = flavour.known();
    let live = Catalog::read(conn)?;
    let all: BTreeSet<String> = known.shape.tables.keys().cloned().collect();
    let present = live.has_tables(&all);
    let tables: BTreeSet<String> = all.difference(&present).cloned().collect();
    let sequences = known
        .shape
        .sequences
        .iter()
        .filter(|s| !live.sequences.contains_key(*s))
        .cloned()
        .collect();
    Ok(Plan {
        stamp: tables.contains("alembic_version"),
        existing: present.len(),
        total: all.len(),
        tables,
        sequences,
    })
}

fn list(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}

impl CreateTablesTask {
    fn run_inner(&self, ctx: &mut TaskContext<'_>, out: &mut TaskOutcome) -> Result<(), TaskError> {
        // A dry run must not create the SQLite file either.
        let is_sqlite = ctx.databases.main_url().backend == crate::dburl::Backend::Sqlite;
        let conn = if ctx.dry_run {
            match ctx.databases.main() {
                Ok(c) => c,
                Err(e) if e.kind == crate::db::DbErrorKind::Connect && is_sqlite => {
                    out.status = TaskStatus::DryRun;
                    let n = Flavour::Sqlite.known().tables().len();
                    out.say(ctx.output, format!("Would create the database file and {n} tables, stamped with revision {ALEMBIC_HEAD}."));
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            ctx.databases.main_creating()?
        };
        out.database = Some(conn.target());
        let flavour = Flavour::detect(conn)?;
        let plan = plan(conn, flavour)?;
        // privacyIDEA tables other than alembic_version itself decide whether this is a new
        // database or an installation.
        let installed = plan.existing > usize::from(!plan.stamp);
        let revision = stamped_revision(conn)?;
        if installed && revision.as_deref() != Some(ALEMBIC_HEAD) {
            let rev = match &revision {
                Some(r) => format!("is stamped with alembic revision {r}"),
                None => "has no alembic revision".to_string(),
            };
            return Err(TaskError::Database(format!(
                "The database {rev} and {} of privacyIDEA's {} tables; pi-manage knows the schema of revision {ALEMBIC_HEAD} (privacyIDEA 3.14) only. Nothing was changed: bring the database to that revision with privacyIDEA's own 'pi-manage db upgrade' (or 'db stamp' if you know it matches).",
                plan.existing, plan.total
            )));
        }
        out.details.insert(
            "tables_created".into(),
            serde_json::Value::from(plan.tables.iter().cloned().collect::<Vec<_>>()),
        );
        out.details.insert(
            "sequences_created".into(),
            serde_json::Value::from(plan.sequences.iter().cloned().collect::<Vec<_>>()),
        );
        if plan.tables.is_empty() && plan.sequences.is_empty() {
            out.status = TaskStatus::Unchanged;
            out.say(ctx.output, format!(
                "The database already has privacyIDEA's tables (alembic revision {ALEMBIC_HEAD}): {} of {} exist. Nothing was created.",
                plan.existing, plan.total
            ));
            return note_incomplete(conn, flavour, out, ctx.output);
        }
        let verb = if ctx.dry_run {
            "Would create"
        } else {
            "Created"
        };
        let message = if !installed {
            format!(
                "{verb} {} tables, stamped with revision {ALEMBIC_HEAD}.",
                plan.tables.len()
            )
        } else if plan.tables.is_empty() {
            format!(
                "The database is stamped with revision {ALEMBIC_HEAD} and has all {} tables. {verb} the missing sequences: {}.",
                plan.total,
                list(&plan.sequences)
            )
        } else {
            let mut m = format!(
                "The database is stamped with revision {ALEMBIC_HEAD} but lacks {} of privacyIDEA's {} tables. {verb} them: {}.",
                plan.tables.len(),
                plan.total,
                list(&plan.tables)
            );
            if !plan.sequences.is_empty() {
                m.push_str(&format!(
                    " {verb} the missing sequences: {}.",
                    list(&plan.sequences)
                ));
            }
            m
        };
        if ctx.dry_run {
            out.status = TaskStatus::DryRun;
            out.say(ctx.output, message);
            return Ok(());
        }
        let known = flavour.known();
        let statements: Vec<&str> = known
            .statements_for(&plan.tables, &plan.sequences)
            .map(|s| s.sql)
            .chain(plan.stamp.then(|| known.stamp().map(|s| s.sql)).flatten())
            .collect();
        // SQLite and PostgreSQL run DDL transactionally: all of it or none. MySQL commits
        // each DDL statement implicitly, so there a failure can leave some tables behind.
        let transactional = conn.dialect() != Dialect::Mysql;
        if transactional {
            conn.begin()?;
        }
        for sql in statements {
            if let Err(e) = conn.execute_batch(sql) {
                if transactional {
                    let _ = conn.rollback();
                }
                return Err(e.into());
            }
        }
        if transactional {
            conn.commit()?;
        }
        out.say(ctx.output, message);
        note_incomplete(conn, flavour, out, ctx.output)
    }
}

super::task_kind!(CreateTablesTask);

/// Say when existing tables lack columns, indexes or foreign keys of the known schema:
/// create_tables does not alter existing tables, `db check` lists what is missing.
fn note_incomplete(
    conn: &mut dyn Connection,
    flavour: Flavour,
    out: &mut TaskOutcome,
    output: &mut dyn super::TaskOutput,
) -> Result<(), TaskError> {
    let live = Catalog::read(conn)?.shape();
    let missing = flavour.known().shape.missing_in(&live);
    if !missing.is_empty() {
        out.say(output, format!(
            "Existing tables were not changed; they lack {} columns, indexes, foreign keys or sequences of revision {ALEMBIC_HEAD} ('pi-manage db check' lists them).",
            missing.len()
        ));
    }
    Ok(())
}

impl super::KindSpec for crate::job::model::CreateTables {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &super::TaskSite<'_>,
        diags: &mut Vec<crate::job::diagnostic::Diagnostic>,
    ) -> Option<super::Task> {
        let _ = (site, diags);
        Some(super::Task::new(CreateTablesTask { name }))
    }
}
