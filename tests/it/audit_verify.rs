//! audit_verify on every backend: the rows privacyIDEA 3.14 wrote and signed verify with its
//! public key after being stored in each database; a tampered row is reported by id.

use chrono::NaiveDateTime;
use pi_manage::crypto::audit_sign::{signed_string, AuditRecord, AuditSigner, AuditVerifier};
use pi_manage::db::{Connection, Value};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{AuditVerify, TaskSpec};
use pi_manage::tasks::audit_verify::AuditVerifyTask;
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

use pi_manage::tasks::audit_rotate::AUDIT_COLUMNS as COLUMNS;

fn dt(text: &str) -> NaiveDateTime {
    pi_manage::db::Value::Text(text.into())
        .as_datetime()
        .unwrap()
}

fn vector_rows() -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/audit_verify/audit-rows.json")).unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].clone())
        .collect()
}

/// Store privacyIDEA's signed rows as each backend holds them.
fn insert_vector_rows(c: &mut dyn Connection, backend: pi_manage::dburl::Backend) {
    insert_rows(c, backend, &vector_rows());
}

/// Store rows (privacyIDEA's JSON form) as each backend holds them.
fn insert_rows(
    c: &mut dyn Connection,
    backend: pi_manage::dburl::Backend,
    rows: &[serde_json::Value],
) {
    let d = c.dialect();
    let cols: Vec<String> = COLUMNS.iter().map(|c| d.quote(c)).collect();
    let marks = vec!["?"; COLUMNS.len()].join(", ");
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks})",
        d.quote("pidea_audit"),
        cols.join(", ")
    );
    for row in rows {
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

/// What privacyIDEA signed for a row in its JSON form.
fn record_of(row: &serde_json::Value) -> AuditRecord {
    let s = |k: &str| row[k].as_str().map(str::to_string);
    let date = |k: &str| row[k].as_str().map(dt);
    AuditRecord {
        id: row["id"].as_i64().unwrap(),
        date: date("date"),
        action: s("action"),
        success: row["success"].as_i64(),
        serial: s("serial"),
        token_type: s("token_type"),
        user: s("user"),
        realm: s("realm"),
        administrator: s("administrator"),
        action_detail: s("action_detail"),
        info: s("info"),
        privacyidea_server: s("privacyidea_server"),
        client: s("client"),
        loglevel: s("loglevel"),
        clearance_level: s("clearance_level"),
        startdate: date("startdate"),
        duration: date("duration").map(|d| d - chrono::DateTime::UNIX_EPOCH.naive_utc()),
        container_serial: s("container_serial"),
        container_type: s("container_type"),
    }
}

fn public_key_path() -> std::path::PathBuf {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/audit_verify/public.pem"
    )
    .into()
}

/// The task as `audit verify` builds it, with a page size and thread count.
fn verify_with(db: &TestDb, page_rows: u64, threads: usize) -> RunResult {
    let task = pi_manage::tasks::Task::new(AuditVerifyTask {
        name: "audit verify".into(),
        since: None,
        public_key: Some(public_key_path()),
        allow_unsigned: false,
        page_rows,
        threads,
    });
    run_task(
        db,
        task,
        false,
        &clock_utc(),
        &Interrupt::new(),
        &db.settings(),
    )
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

/// The parallel check reports exactly what the one-at-a-time check reports, in id order, across
/// many pages, with tampered, unsigned and foreign-signed rows in different pages and shares.
#[test]
fn parallel_verification_matches_the_sequential_one_on_every_backend() {
    let vectors = vector_rows();
    let verifier =
        AuditVerifier::from_public_pem(&std::fs::read_to_string(public_key_path()).unwrap())
            .unwrap();
    // The test's own record builder reproduces privacyIDEA's signed strings.
    for row in &vectors {
        assert!(verifier.verify(
            &signed_string(&record_of(row)),
            row["signature"].as_str().unwrap()
        ));
    }
    let signer =
        AuditSigner::from_private_pem(include_str!("../fixtures/audit_verify/private.pem"))
            .unwrap();
    const N: i64 = 61;
    let rows: Vec<serde_json::Value> = (1..=N)
        .map(|id| {
            let mut row = vectors[id as usize % vectors.len()].clone();
            row["id"] = id.into();
            row["signature"] = signer.sign(&signed_string(&record_of(&row))).into();
            row
        })
        .collect();
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_rows(c.as_mut(), db.backend, &rows);
        let ok = verify_with(&db, 7, 0);
        assert_eq!(
            ok.outcome().status,
            TaskStatus::Done,
            "{}: {:?}",
            db.label(),
            ok.lines
        );
        assert_eq!(
            ok.lines,
            [format!(
                "Checked {N} audit entries: {N} verified, 0 failed."
            )]
        );
        let d = c.dialect();
        let set = |col: &str, value: Value, id: i64| {
            format!(
                "UPDATE {} SET {} = {} WHERE {} = {id}",
                d.quote("pidea_audit"),
                d.quote(col),
                match value {
                    Value::Null => "NULL".to_string(),
                    Value::Text(t) => format!("'{t}'"),
                    _ => unreachable!(),
                },
                d.quote("id")
            )
        };
        // tampered (first row, page boundaries, last row), unsigned, another row's signature
        for id in [1, 7, 8, 30, N] {
            c.execute_batch(&set("info", Value::Text("tampered".into()), id))
                .unwrap();
        }
        c.execute_batch(&set("signature", Value::Null, 19)).unwrap();
        let foreign = rows[40]["signature"].as_str().unwrap().to_string();
        c.execute_batch(&set("signature", Value::Text(foreign), 44))
            .unwrap();
        let expected = [1, 7, 8, 19, 30, 44, N];
        let sequential = verify_with(&db, 7, 1);
        assert_eq!(
            sequential.outcome().status,
            TaskStatus::Failed,
            "{}",
            db.label()
        );
        assert_eq!(
            sequential.outcome().details["failed_ids"],
            serde_json::json!(expected),
            "{}",
            db.label()
        );
        for (page_rows, threads) in [(7, 0), (7, 2), (7, 5), (1, 3), (1000, 4)] {
            let parallel = verify_with(&db, page_rows, threads);
            assert_eq!(
                parallel.lines,
                sequential.lines,
                "{} {page_rows}/{threads}",
                db.label()
            );
            assert_eq!(
                parallel.outcome().details,
                sequential.outcome().details,
                "{} {page_rows}/{threads}",
                db.label()
            );
            assert_eq!(parallel.outcome().status, TaskStatus::Failed);
        }
    }
}
