//! The 3.14 cleanup commands through the built binary, on every backend: privacyIDEA's
//! spellings, lines and exit codes (`authlog cleanup`, `config authcache cleanup` and its
//! hidden alias, `config remembered_device cleanup`, `config metrics cleanup`,
//! `conditionalaccess …`, `usercache cleanup`).

use std::process::{Command, Output};

use chrono::{Local, TimeDelta, Utc};
use pi_manage::db::Value;

use crate::cleanups::{insert, insert_authlog};
use crate::harness::*;

fn run(db: &TestDb, dir: &tempfile::TempDir, args: &[&str]) -> Output {
    let picfg = dir.path().join("pi.cfg");
    std::fs::write(
        &picfg,
        format!(
            "SQLALCHEMY_DATABASE_URI = '{}'\nSECRET_KEY = 'k'\nPI_PEPPER = 'p'\n",
            db.url_text()
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args([&["--picfg", picfg.to_str().unwrap()], args].concat())
        .env_remove("PRIVACYIDEA_CONFIGFILE")
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn cleanup_commands_print_privacyideas_lines() {
    let now = Utc::now().naive_utc();
    let local = Local::now().naive_local();
    let d = TimeDelta::days;
    for db in privacyidea_databases() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = db.connect();
        let l = db.label();

        insert_authlog(
            c.as_mut(),
            &[(1, now - d(10)), (2, now - d(40)), (3, now - d(50))],
        );
        let o = run(
            &db,
            &dir,
            &["authlog", "cleanup", "--age", "30", "--dryrun"],
        );
        assert_eq!(
            out(&o),
            "Would delete 2 authentication log entries older than 30 days.\n",
            "{l}"
        );
        let o = run(
            &db,
            &dir,
            &["authlog", "cleanup", "--age", "30", "--chunksize", "1"],
        );
        assert_eq!(o.status.code(), Some(0), "{l}: {}", err(&o));
        assert_eq!(
            out(&o),
            "Deleted 2 authentication log entries older than 30 days.\n",
            "{l}"
        );
        assert_eq!(ids(c.as_mut(), "authentication_log"), vec![1], "{l}");
        // privacyIDEA deletes everything for a negative age and crashes on --chunksize 0;
        // both are usage errors here, and nothing is touched.
        for bad in [
            &["authlog", "cleanup", "--age", "-1"][..],
            &["authlog", "cleanup", "--age", "1", "--chunksize", "0"],
            &["authlog", "cleanup"],
            &["config", "metrics", "cleanup", "--older-than-hours", "0"],
            &["config", "authcache", "cleanup", "-m", "-1"],
            &["config", "remembered_device", "cleanup", "--chunksize", "0"],
        ] {
            let o = run(&db, &dir, bad);
            assert_eq!(o.status.code(), Some(2), "{l} {bad:?}: {}", err(&o));
        }
        assert_eq!(ids(c.as_mut(), "authentication_log"), vec![1], "{l}");

        insert(
            c.as_mut(),
            "authcache",
            &["id", "first_auth", "last_auth", "username"],
            vec![
                vec![
                    Value::Int(1),
                    Value::DateTime(now - d(2)),
                    Value::DateTime(now - d(1)),
                    t("a"),
                ],
                vec![
                    Value::Int(2),
                    Value::DateTime(now),
                    Value::DateTime(now + TimeDelta::minutes(5)),
                    t("b"),
                ],
            ],
        );
        let o = run(&db, &dir, &["config", "authcache", "cleanup", "-m", "60"]);
        assert_eq!(out(&o), "1 entries deleted from authcache\n", "{l}");
        let o = run(&db, &dir, &["authcache", "cleanup"]);
        assert_eq!(
            out(&o),
            "No active auth_cache policy accepts cached entries, removing all of them.\n0 entries deleted from authcache\n",
            "{l}"
        );
        assert_eq!(ids(c.as_mut(), "authcache"), vec![2], "{l}");

        let o = run(
            &db,
            &dir,
            &["config", "remembered_device", "cleanup", "--dryrun"],
        );
        assert_eq!(
            out(&o),
            "Would delete 0 expired remembered-device entries.\n",
            "{l}"
        );
        let o = run(
            &db,
            &dir,
            &["config", "remembered_device", "cleanup", "--chunksize", "2"],
        );
        assert_eq!(out(&o), "0 entries deleted.\n", "{l}");

        let o = run(&db, &dir, &["config", "metrics", "cleanup", "--dryrun"]);
        assert_eq!(
            out(&o),
            "Would delete 0 metric rows older than 24 hours.\n",
            "{l}"
        );
        let o = run(
            &db,
            &dir,
            &["config", "metrics", "cleanup", "--older-than-hours", "2"],
        );
        assert_eq!(
            out(&o),
            "Deleted 0 metric rows older than 2 hours.\n",
            "{l}"
        );

        insert(
            c.as_mut(),
            "block_list",
            &["ip", "block_expires_at", "block_cause", "blocked_at"],
            vec![
                vec![
                    t("10.0.0.1"),
                    Value::DateTime(now - d(1)),
                    t("POLICY"),
                    Value::DateTime(now - d(3)),
                ],
                vec![
                    t("10.0.0.2"),
                    Value::Null,
                    t("MANUAL"),
                    Value::DateTime(now - d(2)),
                ],
                vec![
                    t("10.0.0.3"),
                    Value::DateTime("2099-01-02T03:04:05".parse().unwrap()),
                    t("POLICY"),
                    Value::DateTime(now - d(1)),
                ],
            ],
        );
        let o = run(&db, &dir, &["conditionalaccess", "list-blocked-ips"]);
        assert_eq!(
            out(&o),
            "2 blocked IP(s):\n  10.0.0.3\texpires=2099-01-02T03:04:05\tcause=POLICY\n  10.0.0.2\texpires=permanent\tcause=MANUAL\n",
            "{l}"
        );
        let o = run(&db, &dir, &["conditionalaccess", "purge-expired-blocks"]);
        assert_eq!(out(&o), "Removed 1 stale IP block(s).\n", "{l}");
        let o = run(&db, &dir, &["conditionalaccess", "list-locked-users"]);
        assert_eq!(out(&o), "No locked users.\n", "{l}");
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
            vec![
                vec![
                    t(""),
                    t("admin"),
                    t(""),
                    t("admin"),
                    t("admin-internal"),
                    Value::Null,
                    t("MANUAL"),
                    Value::DateTime(now),
                ],
                vec![
                    t("r"),
                    t("u1"),
                    t("realm"),
                    t("u1"),
                    t("user"),
                    Value::DateTime(now - d(1)),
                    t("POLICY"),
                    Value::DateTime(now - d(2)),
                ],
            ],
        );
        let o = run(&db, &dir, &["conditionalaccess", "list-locked-users"]);
        assert_eq!(
            out(&o),
            "1 locked user(s):\n  resolver=\tuid=admin\trealm=\trole=admin-internal\texpires=permanent\tcause=MANUAL\n",
            "{l}"
        );
        let o = run(&db, &dir, &["conditionalaccess", "purge-expired-locks"]);
        assert_eq!(out(&o), "Removed 1 stale user lock(s).\n", "{l}");

        let o = run(&db, &dir, &["usercache", "cleanup"]);
        assert_eq!(
            out(&o),
            "User cache is disabled, not doing anything.\n",
            "{l}"
        );
        insert(
            c.as_mut(),
            "config",
            &["Key", "Value", "Type", "Description"],
            vec![vec![t("UserCacheExpiration"), t("3600"), t(""), t("")]],
        );
        let old = (local - TimeDelta::hours(2)).and_utc().timestamp();
        let old = chrono::DateTime::from_timestamp(old, 0)
            .unwrap()
            .naive_utc();
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
            vec![
                vec![
                    Value::Int(7),
                    t("alice"),
                    t("alice"),
                    t("ldap"),
                    t("42"),
                    Value::DateTime(old),
                ],
                vec![
                    Value::Int(8),
                    t("bob"),
                    t("bob"),
                    t("ldap"),
                    t("43"),
                    Value::DateTime(local),
                ],
            ],
        );
        let row = format!(
            "7     alice      ldap       {:<30} 42        ",
            old.format("%Y-%m-%dT%H:%M:%S")
        );
        let listing = format!("Expired entries:\nid    username   resolver   timestamp                      user id   \n{row}\n1 entries\n");
        let o = run(&db, &dir, &["usercache", "cleanup", "-n"]);
        assert_eq!(
            out(&o),
            format!("{listing}'--noaction' was passed, not doing anything.\n"),
            "{l}"
        );
        let o = run(&db, &dir, &["usercache", "cleanup"]);
        assert_eq!(
            out(&o),
            format!("{listing}Deleting entry with id=7 ...\nDeleted 1 expired entries.\n"),
            "{l}"
        );
        assert_eq!(ids(c.as_mut(), "usercache"), vec![8], "{l}");
    }
}
