//! privacyIDEA's periodic tasks (`kind: periodic_tasks`, `pi-manage periodic …`) on every
//! backend: due-ness with an injected clock across two nodes, `ordering`, inactive and
//! other-node tasks left out, `retry_if_failed`, the last-run bookkeeping, dry runs that
//! write nothing, the `monitoringstats` rows of SimpleStats and EventCounter, and
//! privacyidea-cron's lines and exit codes through the binary.

use std::process::{Command, Output};

use chrono::{NaiveDateTime, TimeDelta, Utc};
use pi_manage::db::{Connection, Value};
use pi_manage::executor::JobStatus;
use pi_manage::job::model::TaskSpec;
use pi_manage::tasks::periodic_tasks::PeriodicTasks;

use crate::cleanups::insert;
use crate::harness::*;

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// A periodic task: (id, name, active, retry_if_failed, interval, nodes, module, ordering,
/// last_update) and its options.
#[allow(clippy::too_many_arguments)]
fn add_task(
    conn: &mut dyn Connection,
    id: i64,
    name: &str,
    active: bool,
    retry: bool,
    interval: &str,
    nodes: &str,
    module: &str,
    ordering: i64,
    last_update: NaiveDateTime,
    options: &[(&str, &str)],
) {
    insert(
        conn,
        "periodictask",
        &[
            "id",
            "name",
            "active",
            "retry_if_failed",
            "interval",
            "nodes",
            "taskmodule",
            "ordering",
            "last_update",
        ],
        vec![vec![
            Value::Int(id),
            t(name),
            Value::Bool(active),
            Value::Bool(retry),
            t(interval),
            t(nodes),
            t(module),
            Value::Int(ordering),
            Value::DateTime(last_update),
        ]],
    );
    let rows = options
        .iter()
        .enumerate()
        .map(|(i, (k, v))| vec![Value::Int(id * 100 + i as i64), Value::Int(id), t(k), t(v)])
        .collect();
    insert(
        conn,
        "periodictaskoption",
        &["id", "periodictask_id", "key", "value"],
        rows,
    );
}

/// Tokens for SimpleStats: realm1 has resolver r1 for all nodes and r2 only for another
/// node, so the token owned in r2 is not counted on this node.
fn add_tokens(conn: &mut dyn Connection) {
    insert(
        conn,
        "realm",
        &["id", "name"],
        vec![vec![Value::Int(1), t("realm1")]],
    );
    insert(
        conn,
        "resolver",
        &["id", "name", "rtype"],
        vec![
            vec![Value::Int(1), t("r1"), t("passwdresolver")],
            vec![Value::Int(2), t("r2"), t("passwdresolver")],
        ],
    );
    insert(
        conn,
        "resolverrealm",
        &["id", "resolver_id", "realm_id", "node_uuid"],
        vec![
            vec![Value::Int(1), Value::Int(1), Value::Int(1), t("")],
            vec![
                Value::Int(2),
                Value::Int(2),
                Value::Int(1),
                t("11111111-2222-3333-4444-555555555555"),
            ],
        ],
    );
    // (id, serial, type, active)
    let tokens = [
        (1, "HW1", "hotp", true),
        (2, "HW2", "hotp", true),
        (3, "SW1", "totp", true),
        (4, "T4", "totp", false),
        (5, "T5", "hotp", true),
    ];
    insert(
        conn,
        "token",
        &["id", "serial", "tokentype", "active"],
        tokens
            .iter()
            .map(|(id, s, ty, a)| vec![Value::Int(*id), t(s), t(ty), Value::Bool(*a)])
            .collect(),
    );
    insert(
        conn,
        "tokeninfo",
        &["id", "Key", "Value", "token_id"],
        vec![
            vec![Value::Int(1), t("tokenkind"), t("hardware"), Value::Int(1)],
            vec![Value::Int(2), t("tokenkind"), t("hardware"), Value::Int(2)],
            vec![Value::Int(3), t("tokenkind"), t("software"), Value::Int(3)],
        ],
    );
    // (id, token, resolver, user)
    let owners = [
        (1, 1, "r1", "u1"),
        (2, 3, "r1", "u1"),
        (3, 4, "r1", "u2"),
        (4, 5, "r2", "u5"),
    ];
    insert(
        conn,
        "tokenowner",
        &["id", "token_id", "resolver", "user_id", "realm_id"],
        owners
            .iter()
            .map(|(id, tok, r, u)| {
                vec![Value::Int(*id), Value::Int(*tok), t(r), t(u), Value::Int(1)]
            })
            .collect(),
    );
}

fn stats(conn: &mut dyn Connection) -> Vec<(String, String, i64)> {
    let d = conn.dialect();
    conn.query_rows(
        &format!(
            "SELECT {}, {}, {} FROM {} ORDER BY {}, {}",
            d.quote("timestamp"),
            d.quote("stats_key"),
            d.quote("stats_value"),
            d.quote("monitoringstats"),
            d.quote("timestamp"),
            d.quote("stats_key")
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get(0)
                .as_datetime()
                .unwrap()
                .format("%H:%M:%S%.6f")
                .to_string(),
            r.get(1).as_str().unwrap().to_string(),
            r.get(2).as_i64().unwrap(),
        )
    })
    .collect()
}

fn last_runs(conn: &mut dyn Connection) -> Vec<(i64, String, String)> {
    let d = conn.dialect();
    conn.query_rows(
        &format!(
            "SELECT {}, {}, {} FROM {} ORDER BY {}, {}",
            d.quote("periodictask_id"),
            d.quote("node"),
            d.quote("timestamp"),
            d.quote("periodictasklastrun"),
            d.quote("periodictask_id"),
            d.quote("node")
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get(0).as_i64().unwrap(),
            r.get(1).as_str().unwrap().to_string(),
            r.get(2)
                .as_datetime()
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        )
    })
    .collect()
}

fn counters(conn: &mut dyn Connection) -> Vec<i64> {
    let d = conn.dialect();
    conn.query_rows(
        &format!(
            "SELECT {} FROM {} ORDER BY {}",
            d.quote("counter_value"),
            d.quote("eventcounter"),
            d.quote("id")
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0).as_i64().unwrap())
    .collect()
}

fn spec(node: &str) -> TaskSpec {
    TaskSpec::PeriodicTasks(PeriodicTasks {
        name: None,
        node: Some(node.into()),
        time_zone: Some("Europe/Berlin".into()),
    })
}

const ALL_STATS: &[(&str, &str)] = &[
    ("total_tokens", "True"),
    ("hardware_tokens", "True"),
    ("software_tokens", "1"),
    ("unassigned_hardware_tokens", "true"),
    ("assigned_tokens", "TRUE"),
    ("user_with_token", "True"),
];

fn setup(c: &mut dyn Connection) {
    let day_before = at("2026-11-21 00:00:00");
    let ten = at("2026-11-22 10:00:00");
    add_task(
        c,
        1,
        "stats",
        true,
        true,
        "*/5 * * * *",
        "node1, node2",
        "SimpleStats",
        2,
        ten,
        ALL_STATS,
    );
    add_task(
        c,
        2,
        "counter",
        true,
        true,
        "0 3 * * *",
        "node1",
        "EventCounter",
        1,
        day_before,
        &[
            ("event_counter", "ev"),
            ("stats_key", "ev_stats"),
            ("reset_event_counter", "True"),
        ],
    );
    add_task(
        c,
        3,
        "legacy",
        true,
        false,
        "*/5 * * * *",
        "node1",
        "MetricsCleanup",
        3,
        ten,
        &[],
    );
    add_task(
        c,
        4,
        "bogus",
        true,
        true,
        "*/5 * * * *",
        "node1",
        "Bogus",
        4,
        ten,
        &[],
    );
    add_task(
        c,
        5,
        "inactive",
        false,
        true,
        "*/5 * * * *",
        "node1",
        "SimpleStats",
        0,
        ten,
        ALL_STATS,
    );
    add_task(
        c,
        6,
        "elsewhere",
        true,
        true,
        "*/5 * * * *",
        "node3",
        "SimpleStats",
        0,
        ten,
        ALL_STATS,
    );
    add_tokens(c);
    insert(
        c,
        "eventcounter",
        &["id", "counter_name", "counter_value", "node"],
        vec![
            vec![Value::Int(1), t("ev"), Value::Int(3), t("node1")],
            vec![Value::Int(2), t("ev"), Value::Int(4), t("node2")],
        ],
    );
}

#[test]
fn periodic_tasks_due_and_booked_per_node() {
    for db in privacyidea_databases() {
        let l = db.label();
        let mut c = db.connect();
        setup(c.as_mut());

        // node1 at 12:00 UTC: the counter (03:00 Berlin = 02:00 UTC, first after its
        // last_update) and every */5 task, in `ordering`; not the inactive task, not node3's.
        let r = run_spec(&db, spec("node1"), false, &clock_at("2026-11-22T12:00:00Z"));
        assert_eq!(r.report.status, JobStatus::Ok, "{l}: {:?}", r.report);
        assert_eq!(
            r.lines,
            [
                "The following tasks are scheduled to run on node node1:",
                "",
                "  counter ('0 3 * * *', EventCounter)",
                "  stats ('*/5 * * * *', SimpleStats)",
                "  legacy ('*/5 * * * *', MetricsCleanup)",
                "  bogus ('*/5 * * * *', Bogus)",
                "",
                "Running 'counter' ...Task 'counter' on node 'node1' exited successfully. Noting this in the database ...",
                "Running 'stats' ...Task 'stats' on node 'node1' exited successfully. Noting this in the database ...",
                "Caught exception when running 'legacy': ParameterError(description=\"Unknown task module: 'MetricsCleanup'\", id=905)",
                "Task 'legacy' on node 'node1' did not run successfully.",
                "This unsuccessful run is recorded in the database as the last run of the task.",
                "Caught exception when running 'bogus': ParameterError(description=\"Unknown task module: 'Bogus'\", id=905)",
                "Task 'bogus' on node 'node1' did not run successfully.",
                "This unsuccessful run is not recorded in the database, so the task stays due.",
                "Some tasks exited with errors.",
                // stdout's unfinished "Running …" texts, as privacyidea-cron leaves them
                "Running 'legacy' ...Running 'bogus' ...",
            ],
            "{l}"
        );
        assert_eq!(
            r.outcome().details["failed"],
            serde_json::json!(["legacy", "bogus"]),
            "{l}"
        );
        let noon = "12:00:00.000000";
        let s = |time: &str, k: &str, v: i64| (time.to_string(), k.to_string(), v);
        assert_eq!(
            stats(c.as_mut()),
            [
                s(noon, "assigned_tokens", 3),
                s(noon, "ev_stats", 7),
                s(noon, "hardware_tokens", 2),
                s(noon, "software_tokens", 1),
                s(noon, "total_tokens", 4),
                s(noon, "unassigned_hardware_tokens", 1),
                s(noon, "user_with_token", 2),
            ],
            "{l}"
        );
        assert_eq!(
            counters(c.as_mut()),
            [0, 0],
            "{l}: counter reset on every node"
        );
        let lr = |id: i64, node: &str, ts: &str| (id, node.to_string(), ts.to_string());
        let after_first = [
            lr(1, "node1", "2026-11-22 12:00:00"),
            lr(2, "node1", "2026-11-22 12:00:00"),
            lr(3, "node1", "2026-11-22 12:00:00"),
        ];
        assert_eq!(last_runs(c.as_mut()), after_first, "{l}");

        // node2 a minute later: only the stats task lists it, and it never ran there.
        let r = run_spec(&db, spec("node2"), false, &clock_at("2026-11-22T12:01:00Z"));
        assert_eq!(
            r.lines[..4],
            [
                "The following tasks are scheduled to run on node node2:",
                "",
                "  stats ('*/5 * * * *', SimpleStats)",
                "",
            ],
            "{l}"
        );
        assert_eq!(
            r.lines.last().unwrap(),
            "All scheduled tasks executed successfully.",
            "{l}"
        );
        assert_eq!(stats(c.as_mut()).len(), 13, "{l}");
        let mut expected = after_first.to_vec();
        expected.insert(1, lr(1, "node2", "2026-11-22 12:01:00"));
        assert_eq!(last_runs(c.as_mut()), expected, "{l}");

        // node1 at 12:03: only the failed task that retries is still due.
        let r = run_spec(&db, spec("node1"), false, &clock_at("2026-11-22T12:03:00Z"));
        assert_eq!(r.lines[2], "  bogus ('*/5 * * * *', Bogus)", "{l}");
        assert_eq!(r.lines.len(), 9, "{l}: {:?}", r.lines);
        assert_eq!(r.lines[8], "Running 'bogus' ...", "{l}");

        // node1 at 12:05, dry run: lists stats, legacy and bogus and writes nothing.
        let r = run_spec(&db, spec("node1"), true, &clock_at("2026-11-22T12:05:00Z"));
        assert_eq!(
            r.lines,
            [
                "The following tasks are scheduled to run on node node1:",
                "",
                "  stats ('*/5 * * * *', SimpleStats)",
                "  legacy ('*/5 * * * *', MetricsCleanup)",
                "  bogus ('*/5 * * * *', Bogus)",
                "",
                "Not running any tasks because --dryrun was passed.",
            ],
            "{l}"
        );
        assert_eq!(stats(c.as_mut()).len(), 13, "{l}");
        assert_eq!(last_runs(c.as_mut()), expected, "{l}");

        // A node no task lists.
        let r = run_spec(&db, spec("node9"), false, &clock_at("2026-11-22T12:05:00Z"));
        assert_eq!(
            r.lines,
            ["There are no tasks scheduled on node node9."],
            "{l}"
        );
    }
}

#[test]
fn event_counter_without_rows_writes_nothing_and_keeps_going() {
    for db in privacyidea_databases() {
        let l = db.label();
        let mut c = db.connect();
        let ten = at("2026-11-22 10:00:00");
        add_task(
            c.as_mut(),
            1,
            "missing",
            true,
            true,
            "*/5 * * * *",
            "n",
            "EventCounter",
            0,
            ten,
            &[("event_counter", "nope"), ("stats_key", "k")],
        );
        add_task(
            c.as_mut(),
            2,
            "empty",
            true,
            true,
            "*/5 * * * *",
            "n",
            "SimpleStats",
            1,
            ten,
            &[],
        );
        let r = run_spec(&db, spec("n"), false, &clock_at("2026-11-22T12:00:00Z"));
        assert_eq!(
            r.lines.last().unwrap(),
            "All scheduled tasks executed successfully.",
            "{l}"
        );
        assert!(stats(c.as_mut()).is_empty(), "{l}");
        assert_eq!(last_runs(c.as_mut()).len(), 2, "{l}");
    }
}

fn cron(db: &TestDb, dir: &tempfile::TempDir, picfg_extra: &str, args: &[&str]) -> Output {
    let picfg = dir.path().join("pi.cfg");
    std::fs::write(
        &picfg,
        format!(
            "SQLALCHEMY_DATABASE_URI = '{}'\n{picfg_extra}",
            db.url_text()
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args([&["--picfg", picfg.to_str().unwrap(), "periodic"], args].concat())
        .env_remove("PRIVACYIDEA_CONFIGFILE")
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn periodic_commands_print_privacyidea_crons_lines() {
    let yesterday = Utc::now().naive_utc() - TimeDelta::days(1);
    for db in privacyidea_databases() {
        let l = db.label();
        let dir = tempfile::tempdir().unwrap();
        let mut c = db.connect();
        add_task(
            c.as_mut(),
            1,
            "task1",
            true,
            true,
            "*/5 * * * *",
            "node1",
            "SimpleStats",
            0,
            yesterday,
            &[("total_tokens", "True")],
        );
        add_task(
            c.as_mut(),
            2,
            "task2",
            true,
            false,
            "*/5 * * * *",
            "node1",
            "MetricsCleanup",
            1,
            yesterday,
            &[],
        );

        let o = cron(&db, &dir, "", &["list"]);
        assert_eq!(o.status.code(), Some(0), "{l}: {}", err(&o));
        assert_eq!(
            out(&o),
            format!(
                "Active  ID  Name            \tInterval        \tTask Module     \tNodes               \tOptions\n{}\n\
                 True      1 task1           \t*/5 * * * *     \tSimpleStats     \tnode1               \t{{\"total_tokens\": \"True\"}}\n\
                 True      2 task2           \t*/5 * * * *     \tMetricsCleanup  \tnode1               \t{{}}\n",
                "=".repeat(120)
            ),
            "{l}"
        );

        // The node: PI_AUDIT_SERVERNAME when PI_NODE is not set, localnode without either.
        let o = cron(
            &db,
            &dir,
            "PI_AUDIT_SERVERNAME = 'audit1'\n",
            &["run_scheduled"],
        );
        assert_eq!(
            out(&o),
            "There are no tasks scheduled on node audit1.\n",
            "{l}"
        );
        let o = cron(&db, &dir, "", &["run_scheduled", "-d"]);
        assert_eq!(
            out(&o),
            "There are no tasks scheduled on node localnode.\n",
            "{l}"
        );

        let node1 = "PI_NODE = 'node1'\nPI_AUDIT_SERVERNAME = 'audit1'\n";
        let o = cron(&db, &dir, node1, &["run_scheduled", "--dryrun"]);
        assert_eq!(o.status.code(), Some(0), "{l}: {}", err(&o));
        assert_eq!(
            out(&o),
            "The following tasks are scheduled to run on node node1:\n\n  \
             task1 ('*/5 * * * *', SimpleStats)\n  task2 ('*/5 * * * *', MetricsCleanup)\n\n\
             Not running any tasks because --dryrun was passed.\n",
            "{l}"
        );
        assert!(last_runs(c.as_mut()).is_empty(), "{l}");

        // Cron mode: nothing on stdout, the failure on stderr, exit 1.
        let o = cron(&db, &dir, "", &["run_scheduled", "-c", "-n", "node1"]);
        assert_eq!(o.status.code(), Some(1), "{l}");
        assert_eq!(out(&o), "", "{l}");
        assert_eq!(
            err(&o),
            "Caught exception when running 'task2': ParameterError(description=\"Unknown task module: 'MetricsCleanup'\", id=905)\n\
             Task 'task2' on node 'node1' did not run successfully.\n\
             This unsuccessful run is recorded in the database as the last run of the task.\n\
             Some tasks exited with errors.\n",
            "{l}"
        );
        assert_eq!(last_runs(c.as_mut()).len(), 2, "{l}");
        assert_eq!(stats(c.as_mut()).len(), 1, "{l}");
        let o = cron(&db, &dir, node1, &["run_scheduled"]);
        assert_eq!(
            (o.status.code(), out(&o)),
            (
                Some(0),
                "There are no tasks scheduled on node node1.\n".into()
            ),
            "{l}"
        );

        // run_manually ignores nodes; exits 1 when the task fails or does not exist.
        let o = cron(
            &db,
            &dir,
            "",
            &["run_manually", "-t", "task1", "-n", "other"],
        );
        assert_eq!(o.status.code(), Some(0), "{l}: {}", err(&o));
        assert_eq!(
            out(&o),
            "Running 'task1' ...Task 'task1' on node 'other' exited successfully. Noting this in the database ...\n",
            "{l}"
        );
        assert_eq!(last_runs(c.as_mut()).len(), 3, "{l}");
        let o = cron(&db, &dir, node1, &["run_manually", "--task", "task2"]);
        assert_eq!(o.status.code(), Some(1), "{l}");
        assert_eq!(out(&o), "Running 'task2' ...\n", "{l}");
        let o = cron(&db, &dir, node1, &["run_manually", "-t", "nope"]);
        assert_eq!(o.status.code(), Some(1), "{l}");
        assert!(
            err(&o).contains("The periodic task with unique name 'nope' does not exist"),
            "{l}: {}",
            err(&o)
        );
    }
}

/// `jobs/privacyidea-crontab.yaml` is valid, has a task for every line of privacyIDEA's
/// crontab and Docker cron runner, and runs on a privacyIDEA database.
#[test]
fn the_crontab_job_replaces_every_crontab_line() {
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/privacyidea-crontab.yaml");
    let valid = pi_manage::job::check::load_job(std::path::Path::new(job))
        .unwrap_or_else(|d| panic!("{d:#?}"));
    let kinds: Vec<&str> = valid.file.tasks.iter().map(|t| t.kind()).collect();
    assert_eq!(
        kinds,
        [
            "periodic_tasks",            // privacyidea-cron run_scheduled -c
            "challenge_cleanup",         // pi-manage config challenge cleanup
            "remembered_device_cleanup", // pi-manage config remembered_device cleanup
            "audit_rotate",              // pi-manage audit rotate -hw 50000 -lw 25000
            "usercache_cleanup",         // privacyidea-usercache-cleanup
            "metrics_cleanup",
            "authcache_cleanup",
            "conditional_access_purge",
        ]
    );
    assert_eq!(valid.file.schedule.as_deref(), Some("*/5 * * * *"));
    for db in privacyidea_databases() {
        let l = db.label();
        let dir = tempfile::tempdir().unwrap();
        let mut c = db.connect();
        let yesterday = Utc::now().naive_utc() - TimeDelta::days(1);
        add_task(
            c.as_mut(),
            1,
            "stats",
            true,
            true,
            "*/5 * * * *",
            "node1",
            "SimpleStats",
            0,
            yesterday,
            &[("total_tokens", "True")],
        );
        let picfg = dir.path().join("pi.cfg");
        std::fs::write(
            &picfg,
            format!(
                "SQLALCHEMY_DATABASE_URI = '{}'\nPI_NODE = 'node1'\n",
                db.url_text()
            ),
        )
        .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .args(["--picfg", picfg.to_str().unwrap(), "run", job])
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{l}: {}\n{}", out(&o), err(&o));
        assert_eq!(stats(c.as_mut()).len(), 1, "{l}: {}", out(&o));
        assert_eq!(last_runs(c.as_mut()).len(), 1, "{l}");
    }
}

/// A resolver configured for this node's UUID counts: SimpleStats on the node
/// `11111111-2222-3333-4444-555555555555` sees the token owned in r2 as well.
#[test]
fn simple_stats_counts_the_resolvers_of_this_node() {
    for db in privacyidea_databases() {
        let l = db.label();
        let mut c = db.connect();
        add_tokens(c.as_mut());
        add_task(
            c.as_mut(),
            1,
            "stats",
            true,
            true,
            "*/5 * * * *",
            "n",
            "SimpleStats",
            0,
            at("2026-11-22 10:00:00"),
            &[("total_tokens", "True"), ("assigned_tokens", "True")],
        );
        let mut settings = db.settings();
        settings.node.node_uuid = Some("11111111-2222-3333-4444-555555555555".into());
        let site = pi_manage::tasks::TaskSite::command_line(std::path::Path::new("."));
        let task = pi_manage::tasks::prepare(&spec("n"), &site, &mut Vec::new()).unwrap();
        let clock = clock_at("2026-11-22T12:00:00Z");
        let r = run_task(
            &db,
            task,
            false,
            &clock,
            &pi_manage::interrupt::Interrupt::new(),
            &settings,
        );
        assert_eq!(r.report.status, JobStatus::Ok, "{l}: {:?}", r.report);
        let noon = "12:00:00.000000".to_string();
        assert_eq!(
            stats(c.as_mut()),
            [
                (noon.clone(), "assigned_tokens".to_string(), 4),
                (noon, "total_tokens".to_string(), 5),
            ],
            "{l}"
        );
    }
}
