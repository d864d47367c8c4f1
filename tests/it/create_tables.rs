//! create_tables: privacyIDEA's schema on every backend; on SQLite, identical to the
//! database privacyIDEA 3.14's own `setup create_tables` writes.

use std::collections::BTreeSet;

use pi_manage::executor::JobStatus;
use pi_manage::job::model::TaskSpec;
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

fn schema_statements(conn: &mut dyn pi_manage::db::Connection) -> BTreeSet<String> {
    conn.query_rows("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL", &[])
        .unwrap()
        .iter()
        .map(|r| {
            r.get(0)
                .as_str()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn sqlite_schema_is_identical_to_privacyideas_own() {
    let db = databases().remove(0);
    let r = run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    assert_eq!(r.report.status, JobStatus::Ok);
    assert_eq!(
        r.lines,
        ["Created 68 tables, stamped with revision b7c1e4d2a9f3."]
    );
    let mut ours = db.connect();
    let reference_url = pi_manage::dburl::DbUrl::parse(&format!(
        "sqlite:///{}/tests/fixtures/create_tables/privacyidea-empty.sqlite",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut theirs = pi_manage::db::open(&reference_url, &Default::default()).unwrap();
    assert_eq!(
        schema_statements(ours.as_mut()),
        schema_statements(theirs.as_mut())
    );
    let rev = |c: &mut dyn pi_manage::db::Connection| {
        c.query_rows("SELECT version_num FROM alembic_version", &[])
            .unwrap()
    };
    assert_eq!(rev(ours.as_mut()), rev(theirs.as_mut()));
}

#[test]
fn creates_once_then_reports_unchanged_on_every_backend() {
    for db in databases() {
        let r = run_spec(
            &db,
            TaskSpec::CreateTables(Default::default()),
            false,
            &clock_utc(),
        );
        assert_eq!(
            r.outcome().status,
            TaskStatus::Done,
            "{}: {:?}",
            db.label(),
            r.report
        );
        let mut c = db.connect();
        for t in [
            "pidea_audit",
            "challenge",
            "policy",
            "config",
            "admin",
            "alembic_version",
        ] {
            assert!(c.table_exists(t).unwrap(), "{} {t}", db.label());
        }
        let v = c
            .query_rows("SELECT version_num FROM alembic_version", &[])
            .unwrap();
        assert_eq!(v[0].get(0).as_str(), Some("b7c1e4d2a9f3"));
        let again = run_spec(
            &db,
            TaskSpec::CreateTables(Default::default()),
            false,
            &clock_utc(),
        );
        assert_eq!(
            again.outcome().status,
            TaskStatus::Unchanged,
            "{}",
            db.label()
        );
        assert!(
            again.lines[0].starts_with(
                "The database already has privacyIDEA's tables (alembic revision b7c1e4d2a9f3)"
            ),
            "{:?}",
            again.lines
        );
    }
}

#[test]
fn dry_run_creates_no_sqlite_file() {
    let db = databases().remove(0);
    let path = db.url.sqlite_path(std::path::Path::new("/")).unwrap();
    let r = run_spec(
        &db,
        TaskSpec::CreateTables(Default::default()),
        true,
        &clock_utc(),
    );
    assert_eq!(r.outcome().status, TaskStatus::DryRun);
    assert!(
        r.lines[0].starts_with("Would create the database file and 68 tables"),
        "{:?}",
        r.lines
    );
    assert!(!path.exists());
}

#[test]
fn inserts_take_ids_from_privacyideas_sequences() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        let next = c.next_id_sql("challenge_seq").unwrap();
        match db.backend {
            pi_manage::dburl::Backend::Sqlite => assert_eq!(next, None),
            pi_manage::dburl::Backend::Postgres => {
                assert_eq!(next.as_deref(), Some("nextval('challenge_seq')"))
            }
            pi_manage::dburl::Backend::Mysql => {
                assert_eq!(next.as_deref(), Some("NEXTVAL(`challenge_seq`)"))
            }
        }
        assert_eq!(
            c.next_id_sql("no_such_seq").unwrap(),
            None,
            "{}",
            db.label()
        );
        let d = c.dialect();
        let (cols, vals) = match &next {
            Some(expr) => (format!("{}, ", d.quote("id")), format!("{expr}, ")),
            None => (String::new(), String::new()),
        };
        let sql = format!(
            "INSERT INTO {} ({cols}{}) VALUES ({vals}?)",
            d.quote("challenge"),
            d.quote("transaction_id")
        );
        for t in ["a", "b"] {
            c.execute(&sql, &[pi_manage::db::Value::Text(t.into())])
                .unwrap();
        }
        let got = ids(c.as_mut(), "challenge");
        assert_eq!(got.len(), 2, "{}", db.label());
        assert!(got[0] >= 1 && got[1] > got[0], "{}: {got:?}", db.label());
    }
}
