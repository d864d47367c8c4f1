//! `pi-manage db current`, `pi-manage db check` (privacyIDEA's Flask-Migrate spellings) and
//! `pi-manage setup drop_tables`. `current` and `check` only read the catalogue; they never
//! create or change anything, not even an SQLite file.

use serde::Serialize;

use crate::cli::DropTablesArgs;
use crate::commands::context::{AppError, Globals};
use crate::db::catalog::Catalog;
use crate::db::drop_tables::drop_privacyidea_tables;
use crate::db::schema::{Flavour, ALEMBIC_HEAD};
use crate::db::{self, Connection, DbErrorKind, OpenOptions};
use crate::report::{self, Format};
use crate::tasks::create_tables::stamped_revision;
use crate::tasks::TaskError;

/// Open the installation's main database without creating it.
fn connect(globals: &Globals) -> Result<Result<Box<dyn Connection>, i32>, AppError> {
    let settings = super::installation(globals)?;
    Ok(
        db::open(&settings.database, &OpenOptions::default()).map_err(|e| {
            report::print_error(&e.to_string());
            if matches!(e.kind, DbErrorKind::Connect | DbErrorKind::Auth) {
                3
            } else {
                1
            }
        }),
    )
}

fn failed(e: TaskError) -> i32 {
    report::print_error(&e.to_string());
    if e.is_connect() {
        3
    } else {
        1
    }
}

fn unknown_revision(rev: &str) -> String {
    format!("the database is stamped with alembic revision {rev}, which pi-manage does not know: it knows the schema of revision {ALEMBIC_HEAD} (privacyIDEA 3.14) only")
}

/// `db current`: `b7c1e4d2a9f3 (head)`, as alembic prints it; nothing for an unstamped
/// database (with a note on stderr); an unknown revision is printed and is an error.
pub fn current(globals: &Globals) -> Result<i32, AppError> {
    let mut conn = match connect(globals)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match stamped_revision(conn.as_mut()) {
        Err(e) => Ok(failed(e)),
        Ok(Some(rev)) if rev == ALEMBIC_HEAD => {
            report::print_line(&format!("{rev} (head)"));
            Ok(0)
        }
        Ok(Some(rev)) => {
            report::print_line(&rev);
            report::print_error(&unknown_revision(&rev));
            Ok(1)
        }
        Ok(None) => {
            report::print_error(&format!(
                "{} has no alembic revision (no alembic_version row)",
                conn.target()
            ));
            Ok(0)
        }
    }
}

#[derive(Serialize)]
struct CheckReport {
    database: String,
    revision: Option<String>,
    head: &'static str,
    complete: bool,
    missing: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `db check`: compare the live catalogue with the schema of the stamped revision. Exit 0
/// when complete, 1 when anything is missing or the revision is not the known one.
pub fn check(globals: &Globals) -> Result<i32, AppError> {
    let mut conn = match connect(globals)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let result = (|| -> Result<CheckReport, TaskError> {
        let revision = stamped_revision(conn.as_mut())?;
        let mut report = CheckReport {
            database: conn.target(),
            revision: revision.clone(),
            head: ALEMBIC_HEAD,
            complete: false,
            missing: Vec::new(),
            error: None,
        };
        match revision.as_deref() {
            Some(ALEMBIC_HEAD) => {
                let flavour = Flavour::detect(conn.as_mut())?;
                let live = Catalog::read(conn.as_mut())?.shape();
                report.missing = flavour
                    .known()
                    .shape
                    .missing_in(&live)
                    .iter()
                    .map(|m| m.to_string())
                    .collect();
                report.complete = report.missing.is_empty();
            }
            Some(other) => report.error = Some(unknown_revision(other)),
            None => {
                report.error = Some(
                    "the database has no alembic revision: create privacyIDEA's schema with 'pi-manage setup create_tables'"
                        .into(),
                )
            }
        }
        Ok(report)
    })();
    let r = match result {
        Ok(r) => r,
        Err(e) => return Ok(failed(e)),
    };
    match globals.format {
        Format::Json => report::print_raw(&format!(
            "{}\n",
            serde_json::to_string_pretty(&r).unwrap_or_default()
        )),
        Format::Text => {
            if let Some(e) = &r.error {
                report::print_error(e);
            } else if r.complete {
                if !globals.quiet {
                    report::print_line(&format!(
                        "The schema of revision {ALEMBIC_HEAD} (head) is complete."
                    ));
                }
            } else {
                for m in &r.missing {
                    report::print_line(m);
                }
                report::print_line(&format!(
                    "The schema of revision {ALEMBIC_HEAD} (head) is incomplete: {} missing. 'pi-manage setup create_tables' creates missing tables (with their indexes, foreign keys and sequences); it does not change existing tables.",
                    r.missing.len()
                ));
            }
        }
    }
    Ok(if r.complete { 0 } else { 1 })
}

/// `setup drop_tables [-d yes]`: privacyIDEA's lines, `Dropping all database tables!` or
/// `Not dropping anything!`.
pub fn drop_tables(globals: &Globals, args: &DropTablesArgs) -> Result<i32, AppError> {
    if args.dropit.as_deref() != Some("yes") {
        if !globals.quiet {
            report::print_line("Not dropping anything!");
        }
        return Ok(0);
    }
    let mut conn = match connect(globals)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if !globals.quiet {
        report::print_line("Dropping all database tables!");
    }
    match drop_privacyidea_tables(conn.as_mut()) {
        Ok(_) => Ok(0),
        Err(e) => Ok(failed(e.into())),
    }
}
