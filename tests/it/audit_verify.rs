//! audit_verify on every backend: the rows privacyIDEA 3.14 wrote and signed verify with its
//! public key after being stored in each database; a tampered row is reported by id.

use chrono::NaiveDateTime;
use pi_manage::db::{Connection, Value};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{AuditVerify, TaskSpec};
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

use pi_manage::tasks::audit_rotate::AUDIT_COLUMNS as COLUMNS;

fn dt(text: &str) -> NaiveDateTime {
    pi_manage::db::Value::Text(text.into())
        .as_datetime()
        .unwrap()
}

/// Store privacyIDEA's signed rows as each backend holds them.
fn insert_vector_rows(c: &mut dyn Connection, backend: pi_manage::dburl::Backend) {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/audit_verify/audit-rows.json")).unwrap();
    let d = c.dialect();
    let cols: Vec<String> = COLUMNS.iter().map(|c| d.quote(c)).collect();
    let marks = vec!["?"; COLUMNS.len()].join(", ");
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks})",
        d.quote("pidea_audit"),
        cols.join(", ")
    );
    for r in v["rows"].as_array().unwrap() {
        let row = &r["row"];
        let params: Vec<Value> = COLUMNS
            .iter()
            .map(|col| match (&row[*col], *col) {
                (serde_json::Value::Null, _) => Value::Null,
                (x, "id" | "success") => Value::Int(x.as_i64().unwrap()),
                (x, "date" | "startdate") => Value::DateTime(dt(x.as_str().unwrap())),
                (x, "duration") => {
                    let micros = (dt(x.as_str().unwrap())
                        - chrono::DateTime::UNIX_EPOCH.naive_utc())
                    .num_microseconds()
                    .unwrap();
                    match backend {
                        pi_manage::dburl::Backend::Postgres => {
                            Value::Text(format!("{micros} microseconds"))
                        }
                        pi_manage::dburl::Backend::Sqlite => {
                            Value::Text(x.as_str().unwrap().into())
                        }
                        pi_manage::dburl::Backend::Mysql => {
                            Value::DateTime(dt(x.as_str().unwrap()))
                        }
                    }
                }
                (x, _) => Value::Text(x.as_str().unwrap().to_string()),
            })
            .collect();
        c.execute(&sql, &params).unwrap();
    }
}

fn verify(db: &TestDb) -> RunResult {
    let spec = TaskSpec::AuditVerify(AuditVerify {
        public_key: Some(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/audit_verify/public.pem"
            )
            .into(),
        ),
        ..Default::default()
    });
    let mut d = Vec::new();
    let task = pi_manage::tasks::prepare(
        &spec,
        &pi_manage::tasks::TaskSite::command_line(std::path::Path::new(".")),
        &mut d,
    )
    .unwrap();
    run_task(
        db,
        task,
        false,
        &clock_utc(),
        &Interrupt::new(),
        &db.settings(),
    )
}

#[test]
fn privacyideas_signatures_verify_on_every_backend_and_tampering_is_found() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_vector_rows(c.as_mut(), db.backend);
        let r = verify(&db);
        assert_eq!(
            r.outcome().status,
            TaskStatus::Done,
            "{}: {:?}",
            db.label(),
            r.lines
        );
        assert_eq!(
            r.lines,
            ["Checked 6 audit entries: 6 verified, 0 failed."],
            "{}",
            db.label()
        );
        let d = c.dialect();
        c.execute(
            &format!(
                "UPDATE {} SET {} = ? WHERE {} = ?",
                d.quote("pidea_audit"),
                d.quote("info"),
                d.quote("id")
            ),
            &[Value::Text("tampered".into()), Value::Int(3)],
        )
        .unwrap();
        let r = verify(&db);
        assert_eq!(r.outcome().status, TaskStatus::Failed, "{}", db.label());
        assert_eq!(
            r.lines[1],
            "Signature check failed for ids: 3",
            "{}",
            db.label()
        );
        assert_eq!(r.outcome().details["failed_ids"], serde_json::json!([3]));
    }
}
