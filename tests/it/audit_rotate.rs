//! audit_rotate on every backend: watermarks (with id gaps), age (local time), rules
//! (privacyIDEA's rules file and our YAML rules), chunk boundaries, dry-run agreement,
//! interruption, a separate audit database.

use chrono::{NaiveDateTime, TimeDelta};
use pi_manage::clock::{Clock, FixedClock};
use pi_manage::db::OpenOptions;
use pi_manage::executor::{self, JobStatus, RunOptions, RunOutput, Runtime};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{AuditRotate, AuditRule, Duration, TaskSpec, Watermark};
use pi_manage::tasks::{self, Databases, TaskOutput, TaskSite, TaskStatus};

use crate::harness::*;

fn watermark(high: u64, low: u64, chunksize: Option<u64>) -> TaskSpec {
    TaskSpec::AuditRotate(AuditRotate {
        watermark: Some(Watermark { high, low }),
        chunksize,
        ..Default::default()
    })
}

fn rows_with_ids(
    ids: &[i64],
    now: NaiveDateTime,
) -> Vec<(i64, NaiveDateTime, &'static str, &'static str)> {
    ids.iter()
        .map(|&i| (i, now - TimeDelta::hours(i), "POST /validate/check", "u"))
        .collect()
}

#[test]
fn watermark_keeps_exactly_low_newest_rows() {
    let clock = clock_utc();
    for chunk in [None, Some(1), Some(3), Some(5), Some(15), Some(1000)] {
        for db in privacyidea_databases() {
            let mut c = db.connect();
            insert_audit(
                c.as_mut(),
                &rows_with_ids(&(1..=20).collect::<Vec<_>>(), clock.now_local()),
            );
            let dry = run_spec(&db, watermark(10, 5, chunk), true, &clock);
            assert_eq!(dry.outcome().matched, Some(15), "{} {chunk:?}", db.label());
            assert_eq!(dry.lines.last().unwrap(), "Would delete 15 entries.");
            assert_eq!(
                ids(c.as_mut(), "pidea_audit").len(),
                20,
                "dry run changed nothing"
            );
            let r = run_spec(&db, watermark(10, 5, chunk), false, &clock);
            assert_eq!(
                r.lines,
                [
                    "Cleaning up with high: 10, low: 5.",
                    "The log audit log has 20 entries, the last one is 20",
                    "More than 10 entries, deleting...",
                    "Deleting entries smaller than 16",
                    "15 entries deleted.",
                ],
                "{} {chunk:?}",
                db.label()
            );
            assert_eq!(r.outcome().deleted, Some(15));
            assert_eq!(
                ids(c.as_mut(), "pidea_audit"),
                vec![16, 17, 18, 19, 20],
                "{} {chunk:?}",
                db.label()
            );
        }
    }
}

#[test]
fn watermark_with_id_gaps_and_edge_values() {
    let clock = clock_utc();
    for db in privacyidea_databases() {
        let mut c = db.connect();
        // The gap case privacyIDEA 3.14 was verified with: ids 16-20, 30, 40, 50; hw=3, lw=4.
        insert_audit(
            c.as_mut(),
            &rows_with_ids(&[16, 17, 18, 19, 20, 30, 40, 50], clock.now_local()),
        );
        let r = run_spec(&db, watermark(3, 4, None), false, &clock);
        assert!(
            r.lines
                .contains(&"Deleting entries smaller than 20".to_string()),
            "{:?}",
            r.lines
        );
        assert_eq!(
            ids(c.as_mut(), "pidea_audit"),
            vec![20, 30, 40, 50],
            "{}",
            db.label()
        );
        // Not above the high watermark: nothing happens, nothing more is printed.
        let r = run_spec(&db, watermark(4, 1, None), false, &clock);
        assert_eq!(
            r.lines,
            [
                "Cleaning up with high: 4, low: 1.",
                "The log audit log has 4 entries, the last one is 50"
            ]
        );
        assert_eq!(ids(c.as_mut(), "pidea_audit").len(), 4);
        // low larger than the table: cut id 0, nothing deleted.
        let r = run_spec(&db, watermark(1, 10, None), false, &clock);
        assert!(r
            .lines
            .contains(&"Deleting entries smaller than 0".to_string()));
        assert_eq!(r.outcome().deleted, Some(0));
        // low = 0: everything goes.
        let r = run_spec(&db, watermark(1, 0, Some(2)), false, &clock);
        assert!(r
            .lines
            .contains(&"Deleting entries smaller than 51".to_string()));
        assert_eq!(
            ids(c.as_mut(), "pidea_audit"),
            Vec::<i64>::new(),
            "{}",
            db.label()
        );
        // Empty table.
        let r = run_spec(&db, watermark(0, 0, None), false, &clock);
        assert_eq!(
            r.lines[1],
            "The log audit log has 0 entries, the last one is 0"
        );
    }
}

#[test]
fn age_mode_compares_in_local_time() {
    // The server's local zone is UTC+5: a UTC-based cut-off would be 5 hours off.
    let clock = clock_at("2026-11-22T12:00:00+05:00");
    let now = clock.now_local();
    for chunk in [None, Some(1), Some(2), Some(7)] {
        for db in privacyidea_databases() {
            let mut c = db.connect();
            insert_audit(
                c.as_mut(),
                &[
                    (1, now - TimeDelta::days(30), "a", "u"),
                    (2, now - TimeDelta::days(10) - TimeDelta::hours(2), "a", "u"),
                    (3, now - TimeDelta::days(10) + TimeDelta::hours(2), "a", "u"),
                    (4, now - TimeDelta::days(10), "a", "u"),
                    (5, now - TimeDelta::days(1), "a", "u"),
                    (6, now, "a", "u"),
                ],
            );
            let spec = TaskSpec::AuditRotate(AuditRotate {
                older_than: Some(Duration::from_days(10)),
                chunksize: chunk,
                ..Default::default()
            });
            let dry = run_spec(&db, spec.clone(), true, &clock);
            assert_eq!(dry.outcome().matched, Some(2), "{} {chunk:?}", db.label());
            let r = run_spec(&db, spec, false, &clock);
            assert_eq!(
                r.lines,
                [
                    "Cleaning up with age: 10.",
                    "Deleting entries older than 2026-11-12 12:00:00",
                    "2 entries deleted."
                ],
                "{}",
                db.label()
            );
            // Exactly at the cut-off (id 4) is kept, as privacyIDEA's `date < cutoff`.
            assert_eq!(
                ids(c.as_mut(), "pidea_audit"),
                vec![3, 4, 5, 6],
                "{} {chunk:?}",
                db.label()
            );
        }
    }
}

const RULES_FILE: &str = "- rotate: 5\n  user: nils\n  action: .*/validate/check.*\n- rotate: 2\n  action: ^GET /token\n- rotate: 15\n  action: .*\n";

/// 20 rows, row i is i days (and an hour) old; odd ids validate/check, even ids token
/// listings; user `nils` on ids 1, 5, 9, 13, 17.
fn rules_rows(now: NaiveDateTime) -> Vec<(i64, NaiveDateTime, &'static str, &'static str)> {
    (1..=20)
        .map(|i| {
            let action = if i % 2 == 1 {
                "POST /validate/check"
            } else {
                "GET /token/"
            };
            let user = if i % 4 == 1 { "nils" } else { "other" };
            (
                i,
                now - TimeDelta::days(i) - TimeDelta::hours(1),
                action,
                user,
            )
        })
        .collect()
}

#[test]
fn rules_file_mode_first_matching_rule_wins() {
    let clock = clock_at("2026-11-22T12:00:00+01:00");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULES_FILE).unwrap();
    for chunk in [None, Some(1), Some(3), Some(1000)] {
        for db in privacyidea_databases() {
            let mut c = db.connect();
            insert_audit(c.as_mut(), &rules_rows(clock.now_local()));
            let spec = TaskSpec::AuditRotate(AuditRotate {
                rules_file: Some(rules.clone()),
                chunksize: chunk,
                ..Default::default()
            });
            let dry = run_spec(&db, spec.clone(), true, &clock);
            assert_eq!(
                dry.lines.last().unwrap(),
                "If you only would let me I would clean up 16 entries!"
            );
            assert_eq!(ids(c.as_mut(), "pidea_audit").len(), 20);
            let r = run_spec(&db, spec, false, &clock);
            assert_eq!(
                r.lines,
                [
                    "Cleaning up with config file.",
                    "Rule {'rotate': 5, 'user': 'nils', 'action': '.*/validate/check.*'} matched 4 times.",
                    "Rule {'rotate': 2, 'action': '^GET /token'} matched 10 times.",
                    "Rule {'rotate': 15, 'action': '.*'} matched 2 times.",
                    "Cleaning up 16 entries.",
                ],
                "{} {chunk:?}",
                db.label()
            );
            // Kept: id 1 (nils, too young), 3, 7, 11 (catch-all, younger than 15 days).
            assert_eq!(
                ids(c.as_mut(), "pidea_audit"),
                vec![1, 3, 7, 11],
                "{} {chunk:?}",
                db.label()
            );
        }
    }
}

#[test]
fn yaml_rules_match_null_columns_as_none_and_stream_many_pages() {
    let clock = clock_utc();
    let now = clock.now_local();
    for db in privacyidea_databases() {
        let mut c = db.connect();
        // More rows than one page (5000), alternating old and new; every third has no user.
        let n = 12_000i64;
        let rows: Vec<_> = (1..=n)
            .map(|i| {
                let date = if i % 2 == 0 {
                    now - TimeDelta::days(40)
                } else {
                    now - TimeDelta::days(1)
                };
                let user = if i % 3 == 0 { "" } else { "alice" };
                (i, date, "POST /validate/check", user)
            })
            .collect();
        insert_audit(c.as_mut(), &rows);
        let spec = TaskSpec::AuditRotate(AuditRotate {
            rules: Some(vec![
                AuditRule {
                    older_than: Duration::from_days(7),
                    matches: [("user".to_string(), "^None$".to_string())].into(),
                },
                AuditRule {
                    older_than: Duration::from_days(30),
                    matches: [("action".to_string(), "validate".to_string())].into(),
                },
            ]),
            chunksize: Some(700),
            ..Default::default()
        });
        let r = run_spec(&db, spec, false, &clock);
        assert_eq!(r.report.status, JobStatus::Ok, "{:?}", r.report);
        // Old rows (even ids) all go: those without user by rule 1, the rest by rule 2.
        let expected_deleted = n / 2;
        assert_eq!(
            r.outcome().deleted,
            Some(expected_deleted as u64),
            "{}",
            db.label()
        );
        assert_eq!(
            r.lines[1],
            format!(
                "Rule {{'older_than': '7d', 'user': '^None$'}} matched {} times.",
                (1..=n).filter(|i| i % 6 == 0).count()
            )
        );
        let left = ids(c.as_mut(), "pidea_audit");
        assert_eq!(left.len() as i64, n / 2);
        assert!(left.iter().all(|i| i % 2 == 1), "{}", db.label());
    }
}

/// An output whose progress observer asks to stop after the first committed chunk.
struct StopAfterFirstChunk(Interrupt);
impl TaskOutput for StopAfterFirstChunk {
    fn message(&mut self, _: &str) {}
    fn progress(
        &mut self,
        _: &str,
        _: Option<u64>,
    ) -> Box<dyn pi_manage::db::delete::DeleteObserver> {
        struct Obs(Interrupt);
        impl pi_manage::db::delete::DeleteObserver for Obs {
            fn chunk_committed(&mut self, _: u64) {
                self.0.trigger(15);
            }
        }
        Box::new(Obs(self.0.clone()))
    }
}
impl RunOutput for StopAfterFirstChunk {}

#[test]
fn interrupted_chunked_rotation_keeps_what_it_did_and_a_rerun_finishes() {
    let clock = clock_utc();
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_audit(
            c.as_mut(),
            &rows_with_ids(&(1..=20).collect::<Vec<_>>(), clock.now_local()),
        );
        let spec = watermark(10, 5, Some(4));
        let mut diags = Vec::new();
        let task = tasks::prepare(
            &spec,
            &TaskSite::command_line(std::path::Path::new(".")),
            &mut diags,
        )
        .unwrap();
        let interrupt = Interrupt::new();
        let rt = Runtime {
            clock: &clock,
            interrupt: &interrupt,
            open: OpenOptions::default(),
        };
        let mut dbs = Databases::new(db.url.clone(), None, OpenOptions::default());
        let mut out = StopAfterFirstChunk(interrupt.clone());
        let report = executor::run_with_databases(
            "t",
            "t",
            &[task],
            &db.settings(),
            &mut dbs,
            &RunOptions::default(),
            &rt,
            &mut out,
        );
        assert_eq!(report.status, JobStatus::Interrupted);
        assert_eq!(report.tasks[0].status, TaskStatus::Interrupted);
        assert_eq!(report.tasks[0].deleted, Some(4), "{}", db.label());
        assert_eq!(executor::exit_code(&[report]), 143);
        assert_eq!(ids(c.as_mut(), "pidea_audit").len(), 16);
        // A re-run continues: the watermark is recomputed, so exactly 5 rows remain.
        let r = run_spec(&db, watermark(10, 5, Some(4)), false, &clock);
        assert_eq!(r.outcome().deleted, Some(11));
        assert_eq!(
            ids(c.as_mut(), "pidea_audit"),
            vec![16, 17, 18, 19, 20],
            "{}",
            db.label()
        );
    }
}

#[test]
fn separate_audit_database_is_used_for_counting_and_deleting() {
    let clock = clock_utc();
    let dir = tempfile::tempdir().unwrap();
    let main_path = dir.path().join("main.sqlite");
    let audit_path = dir.path().join("audit.sqlite");
    for p in [&main_path, &audit_path] {
        let url = pi_manage::dburl::DbUrl::parse(&format!("sqlite:///{}", p.display())).unwrap();
        let mut c = pi_manage::db::open(
            &url,
            &OpenOptions {
                create: true,
                ..Default::default()
            },
        )
        .unwrap();
        c.execute_batch(include_str!("../../src/db/ddl/sqlite_full.sql"))
            .unwrap();
        let n = if *p == main_path { 30 } else { 12 };
        insert_audit(
            c.as_mut(),
            &rows_with_ids(&(1..=n).collect::<Vec<_>>(), clock.now_local()),
        );
    }
    let main =
        pi_manage::dburl::DbUrl::parse(&format!("sqlite:///{}", main_path.display())).unwrap();
    let audit =
        pi_manage::dburl::DbUrl::parse(&format!("sqlite:///{}", audit_path.display())).unwrap();
    for dry_run in [true, false] {
        let mut diags = Vec::new();
        let task = tasks::prepare(
            &watermark(10, 5, None),
            &TaskSite::command_line(std::path::Path::new(".")),
            &mut diags,
        )
        .unwrap();
        let mut dbs = Databases::new(main.clone(), Some(audit.clone()), OpenOptions::default());
        let rt = Runtime {
            clock: &clock,
            interrupt: &Interrupt::new(),
            open: OpenOptions::default(),
        };
        let mut out = Collect::default();
        let settings = pi_manage::settings::Settings::for_database(main.clone());
        let report = executor::run_with_databases(
            "t",
            "t",
            &[task],
            &settings,
            &mut dbs,
            &RunOptions {
                dry_run,
                only_task: None,
            },
            &rt,
            &mut out,
        );
        let t = &report.tasks[0];
        if dry_run {
            assert_eq!(
                t.matched,
                Some(7),
                "counted on the audit database (12 rows, keep 5)"
            );
        } else {
            assert_eq!(t.deleted, Some(7));
        }
    }
    let mut m = pi_manage::db::open(&main, &OpenOptions::default()).unwrap();
    assert_eq!(
        ids(m.as_mut(), "pidea_audit").len(),
        30,
        "main database untouched"
    );
}

#[test]
fn missing_audit_table_is_a_clear_failure() {
    let clock: FixedClock = clock_utc();
    for db in databases() {
        let _c = db.connect();
        let r = run_spec(&db, watermark(10, 5, None), false, &clock);
        assert_eq!(r.report.status, JobStatus::Failed);
        let err = r.outcome().error.clone().unwrap();
        assert!(
            err.contains("lacks privacyIDEA's table pidea_audit:"),
            "{err}"
        );
        assert_eq!(executor::exit_code(&[r.report]), 1);
    }
}
