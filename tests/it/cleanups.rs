//! The 3.14 cleanups on every backend: authlog (children first, chunk boundaries),
//! authcache (age from the auth_cache policies), remembered devices, metrics, expired
//! conditional-access restrictions and the user cache (local time). Exact surviving rows,
//! dry-run counts equal to what a real run deletes, and privacyIDEA's lines.

use chrono::{NaiveDateTime, TimeDelta};
use pi_manage::clock::Clock;
use pi_manage::db::{Connection, Value};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{Duration, TaskSpec};
use pi_manage::tasks::authcache_cleanup::AuthcacheCleanup;
use pi_manage::tasks::authlog_cleanup::AuthlogCleanup;
use pi_manage::tasks::conditional_access_purge::{ConditionalAccessPurge, Purge};
use pi_manage::tasks::metrics_cleanup::MetricsCleanup;
use pi_manage::tasks::remembered_device_cleanup::RememberedDeviceCleanup;
use pi_manage::tasks::usercache_cleanup::UsercacheCleanup;
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

/// Insert rows into `table`: `cols` quoted for the dialect, one `Vec<Value>` per row.
pub fn insert(conn: &mut dyn Connection, table: &str, cols: &[&str], rows: Vec<Vec<Value>>) {
    let d = conn.dialect();
    let names: Vec<String> = cols.iter().map(|c| d.quote(c)).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks})",
        d.quote(table),
        names.join(", ")
    );
    conn.begin().unwrap();
    for r in rows {
        conn.execute(&sql, &r).unwrap();
    }
    conn.commit().unwrap();
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}
fn dt(d: NaiveDateTime) -> Value {
    Value::DateTime(d)
}

/// Authentication-log parents `(id, timestamp)`, each with `id % 3` reasons and one outcome
/// for even ids.
pub fn insert_authlog(conn: &mut dyn Connection, parents: &[(i64, NaiveDateTime)]) {
    insert(
        conn,
        "authentication_log",
        &["id", "event_type", "timestamp", "username"],
        parents
            .iter()
            .map(|(id, ts)| vec![Value::Int(*id), t("validate_check"), dt(*ts), t("alice")])
            .collect(),
    );
    let mut reasons = Vec::new();
    let mut outcomes = Vec::new();
    for (id, _) in parents {
        for k in 0..(id % 3) {
            reasons.push(vec![
                Value::Int(id * 10 + k),
                Value::Int(*id),
                t("wrong_otp"),
            ]);
        }
        if id % 2 == 0 {
            outcomes.push(vec![
                Value::Int(id * 10),
                Value::Int(*id),
                t("block_ip"),
                Value::Bool(false),
                t("pol"),
                Value::Int(3),
                Value::Int(1),
            ]);
        }
    }
    insert(
        conn,
        "authentication_log_reason",
        &["id", "auth_log_id", "reason"],
        reasons,
    );
    insert(
        conn,
        "conditional_access_outcome",
        &[
            "id",
            "auth_log_id",
            "action_type",
            "dry_run",
            "policy_name",
            "threshold",
            "event_count",
        ],
        outcomes,
    );
}

fn column(conn: &mut dyn Connection, table: &str, col: &str) -> Vec<i64> {
    let d = conn.dialect();
    conn.query_rows(
        &format!(
            "SELECT {} FROM {} ORDER BY {}",
            d.quote(col),
            d.quote(table),
            d.quote(col)
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0).as_i64().unwrap())
    .collect()
}

fn authlog(days: u64, chunksize: Option<u64>) -> TaskSpec {
    TaskSpec::AuthlogCleanup(AuthlogCleanup {
        name: None,
        older_than: Duration::from_days(days),
        chunksize,
    })
}

#[test]
fn authlog_cleanup_deletes_children_first_in_chunks() {
    // Local time UTC+2: the log is UTC, so a local comparison would be two hours off.
    let clock = clock_at("2026-11-22T12:00:00+02:00");
    let now = clock.now_utc();
    let h = TimeDelta::hours;
    let parents: Vec<(i64, NaiveDateTime)> = vec![
        (1, now - h(24 * 40)),
        (2, now - h(24 * 30) - TimeDelta::microseconds(1)), // just older than 30 days
        (3, now - h(24 * 30)),                              // exactly 30 days: kept
        (4, now - h(24 * 30) + h(1)),
        (5, now - h(24 * 31)),
        (6, now - h(24 * 30) - h(1)), // older in UTC, younger in local time
        (7, now - h(1)),
        (8, now - h(24 * 100)),
    ];
    for chunk in [None, Some(1), Some(2), Some(5), Some(100)] {
        for db in privacyidea_databases() {
            let mut c = db.connect();
            insert_authlog(c.as_mut(), &parents);
            let dry = run_spec(&db, authlog(30, chunk), true, &clock);
            assert_eq!(
                dry.lines,
                ["Would delete 5 authentication log entries older than 30 days."],
                "{}",
                db.label()
            );
            assert_eq!(dry.outcome().status, TaskStatus::DryRun);
            assert_eq!(
                column(c.as_mut(), "authentication_log", "id").len(),
                8,
                "{}",
                db.label()
            );
            let r = run_spec(&db, authlog(30, chunk), false, &clock);
            assert_eq!(
                r.lines,
                ["Deleted 5 authentication log entries older than 30 days."],
                "{} {chunk:?}",
                db.label()
            );
            assert_eq!(r.outcome().deleted, Some(5));
            let survivors = vec![3, 4, 7];
            assert_eq!(
                column(c.as_mut(), "authentication_log", "id"),
                survivors,
                "{} {chunk:?}",
                db.label()
            );
            // Only the survivors' children are left: 3 has none, 4 has one reason and an
            // outcome, 7 has one reason.
            assert_eq!(
                column(c.as_mut(), "authentication_log_reason", "id"),
                vec![40, 70],
                "{} {chunk:?}",
                db.label()
            );
            assert_eq!(
                column(c.as_mut(), "conditional_access_outcome", "id"),
                vec![40],
                "{} {chunk:?}",
                db.label()
            );
            // Details per table: outcomes of 2, 6, 8; reasons of 1, 2(×2), 5(×2), 8(×2).
            let details = &r.outcome().details;
            assert_eq!(details["conditional_access_outcome"], 3, "{}", db.label());
            assert_eq!(details["authentication_log_reason"], 7, "{}", db.label());
            assert_eq!(details["authentication_log"], 5, "{}", db.label());
        }
    }
}

#[test]
fn authlog_interrupted_leaves_no_orphans_and_a_rerun_finishes() {
    let clock = clock_utc();
    let now = clock.now_utc();
    let parents: Vec<(i64, NaiveDateTime)> = (1..=12)
        .map(|i| (i, now - TimeDelta::days(100 + i)))
        .collect();
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_authlog(c.as_mut(), &parents);
        // A signal arriving during the first chunk stops the task after that chunk.
        let it = Interrupt::new();
        let r = run_interrupted(&db, authlog(30, Some(2)), &clock, &it);
        assert_eq!(
            r.outcome().status,
            TaskStatus::Interrupted,
            "{}",
            db.label()
        );
        // The first batch took the two oldest entries (12 and 11) with all their children and
        // committed; nothing else was touched, so no child lost its parent and no kept parent
        // lost a child.
        assert_eq!(
            column(c.as_mut(), "authentication_log", "id"),
            (1..=10).collect::<Vec<i64>>(),
            "{}",
            db.label()
        );
        assert_eq!(
            column(c.as_mut(), "authentication_log_reason", "auth_log_id"),
            vec![1, 2, 2, 4, 5, 5, 7, 8, 8, 10],
            "{}",
            db.label()
        );
        assert_eq!(
            column(c.as_mut(), "conditional_access_outcome", "auth_log_id"),
            vec![2, 4, 6, 8, 10],
            "{}",
            db.label()
        );
        assert_eq!(r.outcome().deleted, Some(2), "{}", db.label());
        let details = &r.outcome().details;
        assert_eq!(details["authentication_log_reason"], 2, "{}", db.label());
        assert_eq!(details["conditional_access_outcome"], 1, "{}", db.label());
        let r = run_spec(&db, authlog(30, Some(2)), false, &clock);
        assert_eq!(
            r.lines,
            ["Deleted 10 authentication log entries older than 30 days."],
            "{}",
            db.label()
        );
        for table in [
            "authentication_log",
            "authentication_log_reason",
            "conditional_access_outcome",
        ] {
            assert!(column(c.as_mut(), table, "id").is_empty(), "{table}");
        }
    }
}

/// Run a spec whose first committed chunk raises SIGTERM (as a signal mid-run would).
fn run_interrupted(db: &TestDb, spec: TaskSpec, clock: &dyn Clock, it: &Interrupt) -> RunResult {
    use pi_manage::db::delete::DeleteObserver;
    use pi_manage::executor::{self, RunOptions, RunOutput, Runtime};
    use pi_manage::tasks::{Databases, TaskOutput, TaskSite};
    struct Trigger(Interrupt);
    impl DeleteObserver for Trigger {
        fn chunk_committed(&mut self, _: u64) {
            self.0.trigger(15);
        }
    }
    struct Out(Interrupt, Vec<String>);
    impl TaskOutput for Out {
        fn message(&mut self, line: &str) {
            self.1.push(line.to_string());
        }
        fn progress(&mut self, _: &str, _: Option<u64>) -> Box<dyn DeleteObserver> {
            Box::new(Trigger(self.0.clone()))
        }
    }
    impl RunOutput for Out {}
    let mut diags = Vec::new();
    let site = TaskSite::command_line(std::path::Path::new("."));
    let task = pi_manage::tasks::prepare(&spec, &site, &mut diags).unwrap();
    let mut dbs = Databases::new(db.url.clone(), None, Default::default());
    let mut out = Out(it.clone(), Vec::new());
    let report = executor::run_with_databases(
        "test",
        "test",
        &[task],
        &db.settings(),
        &mut dbs,
        &RunOptions {
            dry_run: false,
            only_task: None,
        },
        &Runtime {
            clock,
            interrupt: it,
            open: Default::default(),
        },
        &mut out,
    );
    RunResult {
        report,
        lines: out.1,
    }
}

fn insert_authcache(conn: &mut dyn Connection, rows: &[(i64, NaiveDateTime)]) {
    insert(
        conn,
        "authcache",
        &[
            "id",
            "first_auth",
            "last_auth",
            "username",
            "authentication",
        ],
        rows.iter()
            .map(|(id, last)| {
                vec![
                    Value::Int(*id),
                    dt(*last - TimeDelta::hours(1)),
                    dt(*last),
                    t("alice"),
                    t("$argon2id$x"),
                ]
            })
            .collect(),
    );
}

fn insert_policy(
    conn: &mut dyn Connection,
    id: i64,
    name: &str,
    scope: &str,
    action: &str,
    active: bool,
    priority: i64,
) {
    insert(
        conn,
        "policy",
        &[
            "id",
            "name",
            "scope",
            "action",
            "active",
            "priority",
            "check_all_resolvers",
            "user_case_insensitive",
            "realm",
            "adminrealm",
            "adminuser",
            "resolver",
            "pinode",
            "user",
            "client",
            "time",
            "user_agents",
        ],
        vec![vec![
            Value::Int(id),
            t(name),
            t(scope),
            t(action),
            Value::Bool(active),
            Value::Int(priority),
            Value::Bool(false),
            Value::Bool(false),
            t(""),
            t(""),
            t(""),
            t(""),
            t(""),
            t(""),
            t(""),
            t(""),
            t(""),
        ]],
    );
}

fn authcache(minutes: Option<u64>) -> TaskSpec {
    TaskSpec::AuthcacheCleanup(AuthcacheCleanup {
        name: None,
        unused_for: minutes.map(Duration::from_minutes),
    })
}

#[test]
fn authcache_age_from_the_active_policies() {
    let clock = clock_at("2026-11-22T12:00:00-05:00");
    let now = clock.now_utc();
    let m = TimeDelta::minutes;
    let rows = [
        (1, now - m(200)),
        (2, now - m(121)),
        (3, now - m(120)),
        (4, now - m(30)),
        (5, now),
    ];
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_authcache(c.as_mut(), &rows);
        // No policy: everything used before now goes.
        let dry = run_spec(&db, authcache(None), true, &clock);
        assert_eq!(
            dry.lines,
            [
                "No active auth_cache policy accepts cached entries, removing all of them.",
                "Would delete 4 entries from authcache"
            ],
            "{}",
            db.label()
        );
        insert_policy(
            c.as_mut(),
            1,
            "p1",
            "authentication",
            "auth_cache=4h/5m",
            true,
            1,
        );
        insert_policy(
            c.as_mut(),
            2,
            "p2",
            "authentication",
            "auth_cache=2h, otppin=userstore",
            true,
            2,
        );
        insert_policy(
            c.as_mut(),
            3,
            "p3",
            "authentication",
            "auth_cache=90s/3",
            true,
            1,
        );
        insert_policy(
            c.as_mut(),
            4,
            "off",
            "authentication",
            "auth_cache=10h",
            false,
            1,
        );
        insert_policy(c.as_mut(), 5, "other", "admin", "auth_cache=10h", true, 1);
        insert_policy(
            c.as_mut(),
            6,
            "bad",
            "authentication",
            "auth_cache=4x",
            true,
            1,
        );
        insert_policy(
            c.as_mut(),
            7,
            "bad2",
            "authentication",
            "auth_cache=4x",
            true,
            3,
        );
        let r = run_spec(&db, authcache(None), false, &clock);
        assert_eq!(
            r.lines,
            [
                "Ignoring the invalid auth_cache value '4x' of the policies bad, bad2.",
                "Removing authcache entries not used for 120 minutes, the longest an active auth_cache policy accepts an unused entry.",
                "2 entries deleted from authcache"
            ],
            "{}",
            db.label()
        );
        assert_eq!(
            ids(c.as_mut(), "authcache"),
            vec![3, 4, 5],
            "{}",
            db.label()
        );
        // -m given: no policy lookup, one line.
        let r = run_spec(&db, authcache(Some(0)), false, &clock);
        assert_eq!(
            r.lines,
            ["2 entries deleted from authcache"],
            "{}",
            db.label()
        );
        assert_eq!(ids(c.as_mut(), "authcache"), vec![5], "{}", db.label());
    }
}

fn insert_devices(conn: &mut dyn Connection, rows: &[(&str, NaiveDateTime)]) {
    insert(
        conn,
        "clients",
        &[
            "id",
            "display_name",
            "client_type",
            "key_id",
            "key_hash",
            "status",
            "created_at",
            "config",
        ],
        vec![vec![
            t("c1"),
            t("C"),
            t("app"),
            t("k"),
            t("h"),
            t("active"),
            dt(rows[0].1),
            t("{}"),
        ]],
    );
    insert(
        conn,
        "realm",
        &["id", "name"],
        vec![vec![Value::Int(1), t("r")]],
    );
    insert(
        conn,
        "remembered_devices",
        &[
            "series_id",
            "device_id",
            "counter",
            "client_id",
            "resolver",
            "user_id",
            "realm_id",
            "created_at",
            "expires_at",
        ],
        rows.iter()
            .map(|(sid, exp)| {
                vec![
                    t(sid),
                    t(&format!("dev-{sid}")),
                    Value::Int(0),
                    t("c1"),
                    t("res"),
                    t("u"),
                    Value::Int(1),
                    dt(*exp - TimeDelta::days(30)),
                    dt(*exp),
                ]
            })
            .collect(),
    );
}

fn series(conn: &mut dyn Connection) -> Vec<String> {
    let d = conn.dialect();
    conn.query_rows(
        &format!(
            "SELECT {0} FROM {1} ORDER BY {0}",
            d.quote("series_id"),
            d.quote("remembered_devices")
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0).as_str().unwrap().to_string())
    .collect()
}

#[test]
fn remembered_devices_expire_in_utc_chunked_by_series_id() {
    let clock = clock_at("2026-11-22T12:00:00+03:00");
    let now = clock.now_utc();
    let m = TimeDelta::minutes;
    let rows = [
        ("a", now - m(1)),
        ("b", now + m(1)),
        ("c", now - m(500)),
        ("d", now),
        ("e", now - m(60)),
        ("f", now + m(120)),
    ];
    for chunk in [None, Some(1), Some(3), Some(100)] {
        for db in privacyidea_databases() {
            let mut c = db.connect();
            insert_devices(c.as_mut(), &rows);
            let dry = run_spec(
                &db,
                TaskSpec::RememberedDeviceCleanup(RememberedDeviceCleanup {
                    name: None,
                    chunksize: chunk,
                }),
                true,
                &clock,
            );
            assert_eq!(
                dry.lines,
                ["Would delete 3 expired remembered-device entries."],
                "{}",
                db.label()
            );
            let r = run_spec(
                &db,
                TaskSpec::RememberedDeviceCleanup(RememberedDeviceCleanup {
                    name: None,
                    chunksize: chunk,
                }),
                false,
                &clock,
            );
            assert_eq!(r.lines, ["3 entries deleted."], "{} {chunk:?}", db.label());
            assert_eq!(
                series(c.as_mut()),
                ["b", "d", "f"],
                "{} {chunk:?}",
                db.label()
            );
        }
    }
}

#[test]
fn metrics_older_than_hours() {
    let clock = clock_at("2026-11-22T12:00:00+01:00");
    let now = clock.now_utc();
    let h = TimeDelta::hours;
    for db in privacyidea_databases() {
        let mut c = db.connect();
        let windows = [
            (1, now - h(25)),
            (2, now - h(24)),
            (3, now - h(23)),
            (4, now - h(48)),
            (5, now),
        ];
        insert(
            c.as_mut(),
            "metric_aggregate",
            &[
                "id",
                "metric_name",
                "labels_key",
                "labels_hash",
                "node",
                "window_start",
                "count",
                "sum_value",
                "max_value",
                "bucket_le_50ms",
                "bucket_le_100ms",
                "bucket_le_150ms",
                "bucket_le_200ms",
                "bucket_le_250ms",
                "bucket_le_500ms",
                "bucket_le_1s",
                "bucket_le_2s",
                "bucket_le_5s",
            ],
            windows
                .iter()
                .map(|(id, w)| {
                    let mut v = vec![
                        Value::Int(*id),
                        t("resolver_time"),
                        t("{}"),
                        t(&format!("h{id}")),
                        t("n1"),
                        dt(*w),
                        Value::Int(1),
                        Value::Float(0.5),
                        Value::Float(0.5),
                    ];
                    v.extend((0..9).map(|_| Value::Int(0)));
                    v
                })
                .collect(),
        );
        let spec = |hours: u64| {
            TaskSpec::MetricsCleanup(MetricsCleanup {
                name: None,
                older_than: Duration::from_secs(hours * 3600),
            })
        };
        let dry = run_spec(&db, spec(24), true, &clock);
        assert_eq!(
            dry.lines,
            ["Would delete 2 metric rows older than 24 hours."],
            "{}",
            db.label()
        );
        let r = run_spec(&db, spec(24), false, &clock);
        assert_eq!(
            r.lines,
            ["Deleted 2 metric rows older than 24 hours."],
            "{}",
            db.label()
        );
        assert_eq!(
            ids(c.as_mut(), "metric_aggregate"),
            vec![2, 3, 5],
            "{}",
            db.label()
        );
    }
}

#[test]
fn conditional_access_purge_keeps_permanent_and_running_restrictions() {
    let clock = clock_at("2026-11-22T12:00:00+02:00");
    let now = clock.now_utc();
    let m = TimeDelta::minutes;
    for purge in [Purge::Blocks, Purge::Locks, Purge::Both] {
        for db in privacyidea_databases() {
            let mut c = db.connect();
            let exp: [(&str, Option<NaiveDateTime>); 4] = [
                ("1", Some(now - m(1))),
                ("2", None),
                ("3", Some(now + m(1))),
                ("4", Some(now)), // `<= now`: expired
            ];
            insert(
                c.as_mut(),
                "block_list",
                &["ip", "block_expires_at", "block_cause", "blocked_at"],
                exp.iter()
                    .map(|(k, e)| {
                        vec![
                            t(&format!("10.0.0.{k}")),
                            e.map(dt).unwrap_or(Value::Null),
                            t("POLICY"),
                            dt(now - m(60)),
                        ]
                    })
                    .collect(),
            );
            insert(
                c.as_mut(),
                "user_lock_state",
                &[
                    "resolver",
                    "uid",
                    "realm",
                    "username",
                    "user_role",
                    "lock_expires_at",
                    "lock_cause",
                    "locked_at",
                ],
                exp.iter()
                    .map(|(k, e)| {
                        vec![
                            t("res"),
                            t(k),
                            t("realm"),
                            t("u"),
                            t("user"),
                            e.map(dt).unwrap_or(Value::Null),
                            t("POLICY"),
                            dt(now - m(60)),
                        ]
                    })
                    .collect(),
            );
            let spec =
                TaskSpec::ConditionalAccessPurge(ConditionalAccessPurge { name: None, purge });
            let dry = run_spec(&db, spec.clone(), true, &clock);
            let r = run_spec(&db, spec, false, &clock);
            let (dry_lines, lines): (Vec<&str>, Vec<&str>) = match purge {
                Purge::Blocks => (
                    vec!["Would remove 2 stale IP block(s)."],
                    vec!["Removed 2 stale IP block(s)."],
                ),
                Purge::Locks => (
                    vec!["Would remove 2 stale user lock(s)."],
                    vec!["Removed 2 stale user lock(s)."],
                ),
                Purge::Both => (
                    vec![
                        "Would remove 2 stale IP block(s).",
                        "Would remove 2 stale user lock(s).",
                    ],
                    vec![
                        "Removed 2 stale IP block(s).",
                        "Removed 2 stale user lock(s).",
                    ],
                ),
            };
            assert_eq!(dry.lines, dry_lines, "{}", db.label());
            assert_eq!(r.lines, lines, "{}", db.label());
            let d = c.dialect();
            let left = |c: &mut dyn Connection, table: &str, col: &str| -> Vec<String> {
                c.query_rows(
                    &format!(
                        "SELECT {0} FROM {1} ORDER BY {0}",
                        d.quote(col),
                        d.quote(table)
                    ),
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0).as_str().unwrap().to_string())
                .collect()
            };
            let blocks = left(c.as_mut(), "block_list", "ip");
            let locks = left(c.as_mut(), "user_lock_state", "uid");
            let all_blocks = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"];
            let all_locks = ["1", "2", "3", "4"];
            let purged_blocks = ["10.0.0.2", "10.0.0.3"];
            let purged_locks = ["2", "3"];
            match purge {
                Purge::Blocks => {
                    assert_eq!(blocks, purged_blocks);
                    assert_eq!(locks, all_locks);
                }
                Purge::Locks => {
                    assert_eq!(blocks, all_blocks);
                    assert_eq!(locks, purged_locks);
                }
                Purge::Both => {
                    assert_eq!(blocks, purged_blocks);
                    assert_eq!(locks, purged_locks);
                }
            }
        }
    }
}

fn set_cache_expiration(conn: &mut dyn Connection, value: &str) {
    insert(
        conn,
        "config",
        &["Key", "Value", "Type", "Description"],
        vec![vec![t("UserCacheExpiration"), t(value), t(""), t("")]],
    );
}

#[test]
fn usercache_cleanup_in_local_time() {
    // Local time UTC-7: usercache timestamps are local, so UTC would be seven hours off.
    let clock = clock_at("2026-11-22T12:00:00-07:00");
    let now = clock.now_local();
    let s = TimeDelta::seconds;
    for db in privacyidea_databases() {
        let mut c = db.connect();
        let rows = [
            (1, now - s(301), "alice"),
            (2, now - s(300), "bob"), // exactly the lifetime: kept
            (3, now - s(3600), "carol"),
            (4, now, "dave"),
            (5, now - s(6 * 3600), "eve"), // in UTC it would look fresh
        ];
        insert(
            c.as_mut(),
            "usercache",
            &[
                "id",
                "username",
                "used_login",
                "resolver",
                "user_id",
                "timestamp",
            ],
            rows.iter()
                .map(|(id, ts, name)| {
                    vec![
                        Value::Int(*id),
                        t(name),
                        t(name),
                        t("ldap"),
                        t(&format!("uid-{id}")),
                        dt(*ts),
                    ]
                })
                .collect(),
        );
        let spec = || TaskSpec::UsercacheCleanup(UsercacheCleanup { name: None });
        let r = run_spec(&db, spec(), false, &clock);
        assert_eq!(
            r.lines,
            ["User cache is disabled, not doing anything."],
            "{}",
            db.label()
        );
        assert_eq!(ids(c.as_mut(), "usercache").len(), 5);
        set_cache_expiration(c.as_mut(), " 300 ");
        let dry = run_spec(&db, spec(), true, &clock);
        let listing = [
            "Expired entries:",
            "id    username   resolver   timestamp                      user id   ",
            "1     alice      ldap       2026-11-22T11:54:59            uid-1     ",
            "3     carol      ldap       2026-11-22T11:00:00            uid-3     ",
            "5     eve        ldap       2026-11-22T06:00:00            uid-5     ",
            "3 entries",
        ];
        let mut expected: Vec<&str> = listing.to_vec();
        expected.push("'--noaction' was passed, not doing anything.");
        assert_eq!(dry.lines, expected, "{}", db.label());
        let r = run_spec(&db, spec(), false, &clock);
        let mut expected: Vec<&str> = listing.to_vec();
        expected.extend([
            "Deleting entry with id=1 ...",
            "Deleting entry with id=3 ...",
            "Deleting entry with id=5 ...",
            "Deleted 3 expired entries.",
        ]);
        assert_eq!(r.lines, expected, "{}", db.label());
        assert_eq!(ids(c.as_mut(), "usercache"), vec![2, 4], "{}", db.label());
    }
}

#[test]
fn writing_cleanups_name_their_missing_tables() {
    for db in databases() {
        // An empty database (the SQLite file created).
        drop(db.connect());
        let r = run_spec(&db, authlog(1, None), false, &clock_utc());
        let err = r.outcome().error.clone().unwrap_or_default();
        assert!(
            err.contains("lacks privacyIDEA's tables authentication_log, conditional_access_outcome, authentication_log_reason"),
            "{}: {err}",
            db.label()
        );
    }
}

/// With `PI_REDIS_CACHE_AUTH` the table only holds entries written while Redis was down, and
/// privacyIDEA 3.14 says so after the count (reference §6).
#[test]
fn authcache_cleanup_explains_the_redis_cache() {
    let clock = clock_utc();
    let now = clock.now_utc();
    for db in privacyidea_databases() {
        let l = db.label();
        let mut c = db.connect();
        insert_authcache(c.as_mut(), &[(1, now - TimeDelta::minutes(90)), (2, now)]);
        let mut settings = db.settings();
        settings.redis_cache_auth = true;
        let run = |dry| {
            let site = pi_manage::tasks::TaskSite::command_line(std::path::Path::new("."));
            let task =
                pi_manage::tasks::prepare(&authcache(Some(60)), &site, &mut Vec::new()).unwrap();
            run_task(&db, task, dry, &clock, &Interrupt::new(), &settings)
        };
        let note = "Cached authentications are kept in Redis, where they expire on their own. Any entries deleted here were written while Redis was unreachable.";
        assert_eq!(
            run(true).lines,
            ["Would delete 1 entries from authcache", note],
            "{l}"
        );
        assert_eq!(
            run(false).lines,
            ["1 entries deleted from authcache", note],
            "{l}"
        );
        assert_eq!(ids(c.as_mut(), "authcache"), vec![2], "{l}");
        // Without it, the count alone.
        let r = run_spec(&db, authcache(Some(60)), false, &clock);
        assert_eq!(r.lines, ["0 entries deleted from authcache"], "{l}");
    }
}
