//! Policies on every backend, against privacyIDEA 3.14's own rows and exports
//! (tests/fixtures/policies, copied from the shared vectors): export of privacyIDEA's rows is
//! byte-identical to its export; importing its edited file gives the rows it gave; export →
//! import → export is lossless; invalid input and failing writes leave nothing behind; merge
//! vs exact; a second run changes nothing; the config timestamp is bumped; ids come from the
//! sequences on PostgreSQL and MariaDB.

use std::path::{Path, PathBuf};

use pi_manage::clock::Clock;
use pi_manage::db::{Connection, Dialect, Value};
use pi_manage::executor::{self, JobStatus};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::TaskSpec;
use pi_manage::policy::document::{parse_entries, PolicyDocument};
use pi_manage::policy::entry::Semantics;
use pi_manage::policy::export::{export_document, render, ExportFormat};
use pi_manage::policy::rows;
use pi_manage::tasks::policies::{ApplyOp, Policies, PoliciesTask, PolicyMode, PolicyOp, Voice};
use pi_manage::tasks::{Task, TaskSite, TaskStatus};
use serde_json::{json, Value as Json};

use crate::harness::*;

/// How SQLAlchemy writes datetimes on SQLite (and how the vectors show them).
const DATETIME: &str = "%Y-%m-%d %H:%M:%S%.6f";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/policies")
        .join(name)
}

fn read_json(name: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn read_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A fixture cell as the value to bind, by its declared column type.
fn bind(cell: &Json, declared: &str) -> Value {
    match (cell, declared) {
        (Json::Null, _) => Value::Null,
        (Json::Number(n), "BOOLEAN") => Value::Bool(n.as_i64() != Some(0)),
        (Json::Number(n), _) => Value::Int(n.as_i64().unwrap()),
        (Json::String(s), "DATETIME") => {
            Value::DateTime(chrono::NaiveDateTime::parse_from_str(s, DATETIME).unwrap())
        }
        (Json::String(s), _) => Value::Text(s.clone()),
        other => panic!("unexpected fixture cell {other:?}"),
    }
}

/// The realms, resolver and node privacyIDEA's vector installation had. Our PostgreSQL and
/// MariaDB test schema is privacyIDEA's subset without `resolver` and `nodename`: they are
/// added here as privacyIDEA declares them (reference schema §5.5).
pub fn seed_installation(conn: &mut dyn Connection) {
    let d = conn.dialect();
    let q = |s: &str| d.quote(s);
    if !conn.table_exists("resolver").unwrap() {
        conn.execute_batch(&format!(
            "CREATE TABLE {} ({} INTEGER NOT NULL, {} VARCHAR(255) NOT NULL, {} VARCHAR(255) NOT NULL, PRIMARY KEY ({}), UNIQUE ({}))",
            q("resolver"), q("id"), q("name"), q("rtype"), q("id"), q("name")
        ))
        .unwrap();
    }
    if !conn.table_exists("nodename").unwrap() {
        conn.execute_batch(&format!(
            "CREATE TABLE {} ({} VARCHAR(36) NOT NULL, {} VARCHAR(100), PRIMARY KEY ({}))",
            q("nodename"),
            q("id"),
            q("name"),
            q("id")
        ))
        .unwrap();
    }
    for (id, name, default) in [(1, "realm1", true), (2, "realm2", false)] {
        conn.execute(
            &format!(
                "INSERT INTO {} ({}, {}, {}) VALUES (?, ?, ?)",
                q("realm"),
                q("id"),
                q("name"),
                q("default")
            ),
            &[
                Value::Int(id),
                Value::Text(name.into()),
                Value::Bool(default),
            ],
        )
        .unwrap();
    }
    conn.execute(
        &format!(
            "INSERT INTO {} ({}, {}, {}) VALUES (1, 'vecresolver', 'passwdresolver')",
            q("resolver"),
            q("id"),
            q("name"),
            q("rtype")
        ),
        &[],
    )
    .unwrap();
    conn.execute(
        &format!(
            "INSERT INTO {} ({}, {}) VALUES ('8c1f3e2a-5b7d-4c9e-a1f0-0123456789ab', 'vecnode')",
            q("nodename"),
            q("id"),
            q("name")
        ),
        &[],
    )
    .unwrap();
}

/// Insert privacyIDEA's rows (policy, policycondition, description, config) with their ids,
/// then move the sequences past them, as privacyIDEA's own inserts would have.
pub fn seed_rows(conn: &mut dyn Connection, rows_json: &Json) {
    let d = conn.dialect();
    for table in ["policy", "policycondition", "description", "config"] {
        let t = &rows_json[table];
        let cols: Vec<(&str, &str)> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap(),
                    c["declared_type"].as_str().unwrap(),
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            d.quote(table),
            cols.iter()
                .map(|(c, _)| d.quote(c))
                .collect::<Vec<_>>()
                .join(", "),
            vec!["?"; cols.len()].join(", ")
        );
        for row in t["rows"].as_array().unwrap() {
            let params: Vec<Value> = cols.iter().map(|(c, ty)| bind(&row[*c], ty)).collect();
            conn.execute(&sql, &params).unwrap();
        }
        if table != "config" {
            let max = t["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .max()
                .unwrap_or(0);
            advance_sequence(conn, &format!("{table}_seq"), max);
        }
    }
}

/// `setval` the sequence (PostgreSQL, MariaDB) so its next id is `last + 1`.
fn advance_sequence(conn: &mut dyn Connection, seq: &str, last: i64) {
    if last == 0 || conn.next_id_sql(seq).unwrap().is_none() {
        return;
    }
    let sql = match conn.dialect() {
        Dialect::Postgres => format!("SELECT setval('{seq}', {last})"),
        Dialect::Mysql => format!("SELECT SETVAL({}, {last})", conn.dialect().quote(seq)),
        Dialect::Sqlite => return,
    };
    conn.query_rows(&sql, &[]).unwrap();
}

/// A cell as comparable text (booleans 0/1, SQLite's datetime form).
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => (*b as i64).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(t) => t.clone(),
        Value::DateTime(dt) => dt.format(DATETIME).to_string(),
    }
}

fn json_cell(v: &Json) -> String {
    match v {
        Json::Null => "NULL".into(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The rows of one vector table, in id order, as text; `skip` leaves out a column.
fn read_table(
    conn: &mut dyn Connection,
    rows_json: &Json,
    table: &str,
    skip: &str,
) -> Vec<Vec<String>> {
    let d = conn.dialect();
    let cols: Vec<&str> = rows_json[table]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .filter(|c| *c != skip)
        .collect();
    let order = if table == "config" { "Key" } else { "id" };
    conn.query_rows(
        &format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.iter()
                .map(|c| d.quote(c))
                .collect::<Vec<_>>()
                .join(", "),
            d.quote(table),
            d.quote(order)
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.0.iter().map(cell).collect())
    .collect()
}

fn expected_table(rows_json: &Json, table: &str, skip: &str) -> Vec<Vec<String>> {
    rows_json[table]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != skip)
                .map(|(_, v)| json_cell(v))
                .collect()
        })
        .collect()
}

/// A database with privacyIDEA's vector installation and policy rows.
fn seeded(db: &TestDb) -> Box<dyn Connection> {
    let mut c = db.connect();
    seed_installation(c.as_mut());
    seed_rows(c.as_mut(), &read_json("policy-rows.json"));
    c
}

fn export_text(conn: &mut dyn Connection, format: ExportFormat) -> String {
    let stored: Vec<_> = rows::load(conn)
        .unwrap()
        .into_iter()
        .map(|e| e.policy)
        .collect();
    render(&export_document(&stored, None), format)
}

/// A `config import`-style task (privacyIDEA's upsert) from a policy file.
fn import_task(path: &Path, skip_invalid: bool) -> Task {
    let doc = PolicyDocument::read(path).unwrap();
    let list = doc.policy_list().unwrap();
    let (entries, invalid) =
        parse_entries(list.items, &list.pointer, false, &doc.path, &|p| doc.pos(p));
    assert!(invalid.is_empty() || skip_invalid, "{invalid:?}");
    Task::new(PoliciesTask {
        name: "config import".into(),
        op: PolicyOp::Apply(ApplyOp {
            entries,
            semantics: Semantics::Upsert,
            prune: false,
            skip_invalid,
            skipped: invalid,
            voice: Voice::Import,
        }),
    })
}

/// A `kind: policies` task from a spec, prepared as a job file's would be.
fn plan_task(spec: Policies) -> Task {
    let mut diags = Vec::new();
    let task = pi_manage::tasks::prepare(
        &TaskSpec::Policies(spec),
        &TaskSite::command_line(&fixture("")),
        &mut diags,
    );
    assert!(diags.is_empty(), "{diags:?}");
    task.unwrap()
}

fn run(db: &TestDb, task: Task, dry_run: bool) -> RunResult {
    run_task(
        db,
        task,
        dry_run,
        &clock_utc(),
        &Interrupt::new(),
        &db.settings(),
    )
}

fn timestamp(conn: &mut dyn Connection) -> Option<String> {
    rows::read_timestamp(conn).unwrap()
}

/// What the clock of these tests writes as the config timestamp.
fn expected_timestamp() -> String {
    rows::timestamp_value(clock_utc().now_utc())
}

#[test]
fn export_of_privacyideas_rows_equals_privacyideas_export() {
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        assert_eq!(
            export_text(c.as_mut(), ExportFormat::Json),
            read_text("export-policy.json"),
            "{}",
            db.label()
        );
        assert_eq!(
            export_text(c.as_mut(), ExportFormat::Yaml),
            read_text("export-policy.yaml"),
            "{}",
            db.label()
        );
    }
}

#[test]
fn import_of_the_edited_file_gives_privacyideas_rows() {
    let after = read_json("policy-rows-after-import.json");
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        let r = run(
            &db,
            import_task(&fixture("import-policy.json"), false),
            false,
        );
        assert_eq!(
            r.report.status,
            JobStatus::Ok,
            "{}: {:?}",
            db.label(),
            r.report
        );
        assert_eq!(r.lines, ["Importing configuration type 'policy'."]);
        assert_eq!(r.outcome().status, TaskStatus::Updated);
        let label = db.label();
        // Policy rows: exactly privacyIDEA's, including the new id 7 from the sequence.
        assert_eq!(
            read_table(c.as_mut(), &after, "policy", ""),
            expected_table(&after, "policy", ""),
            "{label}"
        );
        // Conditions: the same rows in the same order; privacyIDEA re-inserts unchanged
        // conditions (new ids), pi-manage leaves them alone.
        assert_eq!(
            read_table(c.as_mut(), &after, "policycondition", "id"),
            expected_table(&after, "policycondition", "id"),
            "{label}"
        );
        // Descriptions: updated in place (last_update kept); the new one written now.
        let mut got = read_table(c.as_mut(), &after, "description", "");
        let mut want = expected_table(&after, "description", "");
        assert_eq!(got.len(), 7, "{label}");
        assert_eq!(got[6][3], "2026-11-22 12:00:00.000000", "{label}");
        got[6][3].clear();
        want[6][3].clear();
        assert_eq!(got, want, "{label}");
        assert_eq!(timestamp(c.as_mut()), Some(expected_timestamp()), "{label}");
        assert_eq!(
            export_text(c.as_mut(), ExportFormat::Json),
            read_text("export-policy-after-import.json"),
            "{label}"
        );
    }
}

#[test]
fn export_import_export_is_lossless() {
    for db in privacyidea_databases() {
        let mut source = seeded(&db);
        let json_text = export_text(source.as_mut(), ExportFormat::Json);
        let yaml_text = export_text(source.as_mut(), ExportFormat::Yaml);
        drop(source);
        for (format, text) in [("json", &json_text), ("yaml", &yaml_text)] {
            // A fresh installation with the same realms and no policies.
            let target = privacyidea_databases()
                .into_iter()
                .find(|t| t.backend == db.backend)
                .unwrap();
            let mut c = target.connect();
            seed_installation(c.as_mut());
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(format!("export.{format}"));
            std::fs::write(&file, text).unwrap();
            let r = run(&target, import_task(&file, false), false);
            assert_eq!(
                r.report.status,
                JobStatus::Ok,
                "{}: {:?}",
                db.label(),
                r.report
            );
            assert_eq!(r.outcome().status, TaskStatus::Created);
            // YAML sorts the action keys (as privacyIDEA's safe_dump does), so a YAML round
            // trip keeps the YAML export; a JSON round trip keeps everything.
            let (again, want) = if format == "json" {
                (export_text(c.as_mut(), ExportFormat::Json), &json_text)
            } else {
                (export_text(c.as_mut(), ExportFormat::Yaml), &yaml_text)
            };
            assert_eq!(&again, want, "{} via {format}", db.label());
        }
    }
}

#[test]
fn invalid_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("import.json");
    // The edited vector file plus a policy naming a realm that does not exist.
    let mut doc = read_json("import-policy.json");
    doc["policy"].as_array_mut().unwrap().push(json!({
        "name": "ghost-realm", "scope": "user", "realm": ["realm1", "nosuchrealm"],
        "resolver": ["nosuchresolver"], "action": {"enable": true}
    }));
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        let before = rows::load(c.as_mut()).unwrap();
        let before_ts = timestamp(c.as_mut());
        let r = run(&db, import_task(&file, false), false);
        assert_eq!(r.report.status, JobStatus::Failed, "{}", db.label());
        assert_eq!(
            r.outcome().error.as_deref(),
            Some("1 of 8 policies is invalid; nothing was changed")
        );
        let invalid: Vec<&String> = r
            .lines
            .iter()
            .filter(|l| l.starts_with("Invalid"))
            .collect();
        assert_eq!(invalid.len(), 2, "{:?}", r.lines);
        assert!(
            invalid[0].contains("realm 'nosuchrealm' does not exist (known: realm1, realm2) (at ")
        );
        assert!(
            invalid[1].contains("resolver 'nosuchresolver' does not exist (known: vecresolver)")
        );
        assert_eq!(rows::load(c.as_mut()).unwrap(), before, "{}", db.label());
        assert_eq!(timestamp(c.as_mut()), before_ts);

        // --skip-invalid: the valid ones are imported, the invalid one is reported.
        let r = run(&db, import_task(&file, true), false);
        assert_eq!(r.report.status, JobStatus::Ok, "{}", db.label());
        assert_eq!(r.outcome().details["skipped"], json!(["ghost-realm"]));
        assert_eq!(
            export_text(c.as_mut(), ExportFormat::Json),
            read_text("export-policy-after-import.json"),
            "{}",
            db.label()
        );
    }
}

/// Make inserting a description with the text `boom` fail, so that a write fails after
/// earlier writes of the same run succeeded.
fn booby_trap(conn: &mut dyn Connection) {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "CREATE TRIGGER boom BEFORE INSERT ON description \
             WHEN NEW.description = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"
            .to_string(),
        Dialect::Postgres => "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN \
             IF NEW.description = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; \
             END $$ LANGUAGE plpgsql; CREATE TRIGGER boom BEFORE INSERT ON description \
             FOR EACH ROW EXECUTE FUNCTION boom()"
            .to_string(),
        // One statement (the driver splits batches at semicolons): a NULL in a NOT NULL
        // column fails in MariaDB's strict mode.
        Dialect::Mysql => "CREATE TRIGGER boom BEFORE INSERT ON description FOR EACH ROW \
             SET NEW.object_id = IF(NEW.description = 'boom', NULL, NEW.object_id)"
            .to_string(),
    };
    conn.execute_batch(&sql).unwrap();
}

#[test]
fn a_failing_write_rolls_back_the_whole_run() {
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        booby_trap(c.as_mut());
        let before = rows::load(c.as_mut()).unwrap();
        let before_ts = timestamp(c.as_mut());
        // webui-login is updated first, then the new policy's description insert fails.
        let spec = inline(
            vec![
                json!({"name": "webui-login", "scope": "webui", "priority": 9}),
                json!({"name": "later", "scope": "admin", "action": "enable", "description": "boom"}),
            ],
            PolicyMode::Merge,
            false,
        );
        let r = run(&db, plan_task(spec), false);
        assert_eq!(r.report.status, JobStatus::Failed, "{}", db.label());
        assert_eq!(rows::load(c.as_mut()).unwrap(), before, "{}", db.label());
        assert_eq!(timestamp(c.as_mut()), before_ts, "{}", db.label());
    }
}

fn inline(policies: Vec<Json>, mode: PolicyMode, prune: bool) -> Policies {
    Policies {
        name: Some("policies".into()),
        mode,
        prune,
        files: Vec::new(),
        policies,
    }
}

fn names(conn: &mut dyn Connection) -> Vec<String> {
    rows::load(conn)
        .unwrap()
        .into_iter()
        .map(|e| e.policy.name)
        .collect()
}

#[test]
fn merge_keeps_unlisted_policies_exact_deletes_them() {
    let wanted = vec![
        json!({"name": "admin-helpdesk", "scope": "admin", "realm": "realm1",
               "adminrealm": ["superuser"], "adminuser": ["helpdesk", "jörg"], "priority": 2,
               "action": ["enable", "disable", "tokenlist", "resync", "setpin"],
               "description": "Helpdesk may enable/disable tokens in realm1 – äöü"}),
        json!({"name": "new-one", "scope": "user", "action": {"enable": true}}),
    ];
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        let r = run(
            &db,
            plan_task(inline(wanted.clone(), PolicyMode::Merge, false)),
            false,
        );
        assert_eq!(
            r.outcome().status,
            TaskStatus::Created,
            "{}: {:?}",
            db.label(),
            r.lines
        );
        assert_eq!(r.outcome().details["unchanged"], json!(1));
        assert_eq!(names(c.as_mut()).len(), 7, "{}", db.label());

        let r = run(
            &db,
            plan_task(inline(wanted.clone(), PolicyMode::Exact, true)),
            true,
        );
        assert_eq!(r.outcome().status, TaskStatus::DryRun);
        assert_eq!(r.outcome().details["pending"], json!(true));
        assert_eq!(executor::exit_code(std::slice::from_ref(&r.report)), 4);
        assert_eq!(
            r.outcome().details["deleted"],
            json!([
                "user-selfservice",
                "auth-otppin",
                "enroll-hotp",
                "webui-login",
                "authz-tokentype"
            ])
        );
        assert!(r
            .lines
            .contains(&"- auth-otppin (authentication, priority 3)".to_string()));
        assert_eq!(names(c.as_mut()).len(), 7, "a dry run changes nothing");

        let r = run(
            &db,
            plan_task(inline(wanted.clone(), PolicyMode::Exact, true)),
            false,
        );
        assert_eq!(r.outcome().status, TaskStatus::Updated);
        assert_eq!(
            names(c.as_mut()),
            ["admin-helpdesk", "new-one"],
            "{}",
            db.label()
        );
        // No orphans: the conditions and descriptions of deleted policies are gone too.
        let d = c.dialect();
        let count = |c: &mut dyn Connection, t: &str| {
            c.query_i64(&format!("SELECT COUNT(*) FROM {}", d.quote(t)), &[])
                .unwrap()
                .unwrap()
        };
        assert_eq!(count(c.as_mut(), "policycondition"), 0);
        assert_eq!(count(c.as_mut(), "description"), 2);
    }
}

#[test]
fn exact_mode_needs_prune() {
    let mut diags = Vec::new();
    let t = pi_manage::tasks::prepare(
        &TaskSpec::Policies(inline(
            vec![json!({"name": "a", "scope": "admin"})],
            PolicyMode::Exact,
            false,
        )),
        &TaskSite::command_line(Path::new(".")),
        &mut diags,
    );
    assert!(t.is_none());
    assert_eq!(diags.len(), 1);
    assert!(diags[0]
        .message
        .starts_with("mode: exact deletes every stored policy that is not listed"));
}

#[test]
fn a_second_run_changes_nothing() {
    let spec = || Policies {
        files: vec![fixture("import-policy.json")],
        ..Default::default()
    };
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        let first = run(&db, plan_task(spec()), false);
        assert_eq!(
            first.outcome().status,
            TaskStatus::Updated,
            "{}",
            db.label()
        );
        assert_eq!(
            first.lines.last().unwrap(),
            &format!(
                "Added 1, updated 1 and deleted 0 policies; 5 unchanged. Config timestamp set to {}.",
                expected_timestamp()
            )
        );
        // Make a changed timestamp visible, then run again: nothing may be written.
        let d = c.dialect();
        c.execute(
            &format!(
                "UPDATE {} SET {} = 'marker' WHERE {} = '__timestamp__'",
                d.quote("config"),
                d.quote("Value"),
                d.quote("Key")
            ),
            &[],
        )
        .unwrap();
        let stored = rows::load(c.as_mut()).unwrap();
        let second = run(&db, plan_task(spec()), false);
        assert_eq!(
            second.outcome().status,
            TaskStatus::Unchanged,
            "{}",
            db.label()
        );
        assert_eq!(second.lines, ["All 7 policies are as they should be."]);
        assert_eq!(rows::load(c.as_mut()).unwrap(), stored);
        assert_eq!(timestamp(c.as_mut()).as_deref(), Some("marker"));
        let dry = run(&db, plan_task(spec()), true);
        assert_eq!(dry.outcome().details["pending"], json!(false));
        assert_eq!(executor::exit_code(std::slice::from_ref(&dry.report)), 0);
    }
}

#[test]
fn the_timestamp_is_created_or_bumped() {
    for db in privacyidea_databases() {
        let mut c = db.connect();
        seed_installation(c.as_mut());
        assert_eq!(timestamp(c.as_mut()), None);
        let spec = inline(
            vec![json!({"name": "a", "scope": "admin", "action": "enable"})],
            PolicyMode::Merge,
            false,
        );
        run(&db, plan_task(spec), false);
        assert_eq!(
            timestamp(c.as_mut()),
            Some(expected_timestamp()),
            "{}",
            db.label()
        );
        let d = c.dialect();
        let row = c
            .query_rows(
                &format!(
                    "SELECT {}, {} FROM {} WHERE {} = '__timestamp__'",
                    d.quote("Type"),
                    d.quote("Description"),
                    d.quote("config"),
                    d.quote("Key")
                ),
                &[],
            )
            .unwrap();
        assert_eq!(
            row[0].0,
            [
                Value::Text(String::new()),
                Value::Text("config timestamp. last changed.".into())
            ]
        );
        // An existing row is updated in place by a later change.
        let later = pi_manage::clock::FixedClock::at("2026-11-22T13:00:35.57765+00:00");
        let spec = inline(
            vec![json!({"name": "a", "scope": "admin", "action": "disable"})],
            PolicyMode::Merge,
            false,
        );
        let mut diags = Vec::new();
        let task = pi_manage::tasks::prepare(
            &TaskSpec::Policies(spec),
            &TaskSite::command_line(Path::new(".")),
            &mut diags,
        )
        .unwrap();
        run_task(&db, task, false, &later, &Interrupt::new(), &db.settings());
        assert_eq!(timestamp(c.as_mut()).as_deref(), Some("1795352435.57765"));
    }
}

#[test]
fn enable_disable_delete() {
    let op = |op: PolicyOp| {
        Task::new(PoliciesTask {
            name: "cmd".into(),
            op,
        })
    };
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        let r = run(
            &db,
            op(PolicyOp::SetActive {
                policy: "webui-login".into(),
                active: false,
            }),
            false,
        );
        assert_eq!(r.lines, ["Successfully disabled policy 'webui-login'"]);
        assert_eq!(timestamp(c.as_mut()), Some(expected_timestamp()));
        let p = rows::load(c.as_mut()).unwrap();
        assert_eq!(p[4].policy.active, Some(false), "{}", db.label());
        let r = run(
            &db,
            op(PolicyOp::SetActive {
                policy: "nope".into(),
                active: true,
            }),
            false,
        );
        assert_eq!(r.report.status, JobStatus::Failed);
        assert_eq!(
            r.outcome().error.as_deref(),
            Some("Could not enable policy nope: The policy with name 'nope' does not exist")
        );
        let r = run(
            &db,
            op(PolicyOp::Delete {
                policy: "auth-otppin".into(),
            }),
            false,
        );
        assert_eq!(r.lines, ["Successfully deleted policy 'auth-otppin'"]);
        assert!(!names(c.as_mut()).contains(&"auth-otppin".to_string()));
        let d = c.dialect();
        assert_eq!(
            c.query_i64(
                &format!("SELECT COUNT(*) FROM {}", d.quote("policycondition")),
                &[]
            )
            .unwrap(),
            Some(0),
            "{}",
            db.label()
        );
    }
}

#[test]
fn new_ids_come_from_the_sequences() {
    for db in privacyidea_databases() {
        let mut c = seeded(&db);
        let uses_sequences = c.next_id_sql("policy_seq").unwrap().is_some();
        // Move the sequences far ahead: a max(id)+1 insert would not reach these ids.
        if uses_sequences {
            for seq in ["policy_seq", "policycondition_seq", "description_seq"] {
                advance_sequence(c.as_mut(), seq, 100);
            }
        }
        let spec = inline(
            vec![json!({"name": "n", "scope": "admin", "action": "enable",
                        "conditions": [["userinfo", "email", "equals", "x", true]]})],
            PolicyMode::Merge,
            false,
        );
        run(&db, plan_task(spec), false);
        let e = rows::load(c.as_mut()).unwrap();
        let n = e.iter().find(|p| p.policy.name == "n").unwrap();
        let cond_ids = ids(c.as_mut(), "policycondition");
        if uses_sequences {
            assert_eq!((n.id, n.description_id), (101, Some(101)), "{}", db.label());
            assert_eq!(cond_ids.last(), Some(&101));
        } else {
            assert_eq!((n.id, n.description_id), (7, Some(7)), "{}", db.label());
        }
    }
}

#[test]
fn pyyamls_output_reads_back_as_its_input() {
    // privacyIDEA's YAML exports must import as what was exported, PyYAML's quirks included.
    let input: Json = serde_json::from_str(&read_text("serialiser-cases.input.json")).unwrap();
    let doc = PolicyDocument::parse(
        Path::new("serialiser-cases.expected.yaml"),
        &read_text("serialiser-cases.expected.yaml"),
    )
    .unwrap();
    assert_eq!(doc.value, input);
}

#[test]
fn serialisers_match_python_and_pyyaml() {
    // Generated by gen-serialiser-cases.py with json.dumps and PyYAML's safe_dump.
    let input: Json = serde_json::from_str(&read_text("serialiser-cases.input.json")).unwrap();
    assert_eq!(
        render(&input, ExportFormat::Json),
        read_text("serialiser-cases.expected.json")
    );
    assert_eq!(
        render(&input, ExportFormat::Yaml),
        read_text("serialiser-cases.expected.yaml")
    );
}
