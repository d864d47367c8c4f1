//! `pi-manage periodic` against what the real privacyIDEA 3.14 printed and wrote on the same
//! data (tests/fixtures/periodic/, made by its make.sh): the same stdout, stderr and exit code
//! for each privacyidea-cron command of commands.txt, run in order, and the same
//! `monitoringstats` keys and values, `periodictasklastrun` (task, node) pairs and
//! `eventcounter` values afterwards, on every backend. The differences docs/compatibility.md
//! lists are applied to the expected text, nothing else: no Python tracebacks, a last
//! unfinished stdout line ends with a newline, `run_manually` of an unknown name is an error
//! line instead of a traceback, and `EventCounter` never resets a counter whose value it could
//! not store. Timestamps are not compared (privacyIDEA's clock cannot be frozen); the seed's
//! intervals are monthly so that nothing becomes due again while the commands run.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{TimeDelta, Utc};
use pi_manage::db::{Connection, Value};

use crate::cleanups::insert;
use crate::harness::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/periodic")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

/// A seed.json value. Timestamps are objects: `{"days_ago": n}` and `{"utc_minutes": n}` are
/// naive UTC relative to now, `{"local_minutes": n}` naive local time in Europe/Berlin (the
/// `TZ` the fixtures were made with), `{"at": "…"}` a fixed naive timestamp.
fn value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Int(n.as_i64().unwrap()),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Object(o) => {
            let now = Utc::now();
            let (key, n) = o.iter().next().unwrap();
            Value::DateTime(match key.as_str() {
                "days_ago" => now.naive_utc() - TimeDelta::days(n.as_i64().unwrap()),
                "utc_minutes" => now.naive_utc() + TimeDelta::minutes(n.as_i64().unwrap()),
                "local_minutes" => {
                    now.with_timezone(&chrono_tz::Europe::Berlin).naive_local()
                        + TimeDelta::minutes(n.as_i64().unwrap())
                }
                "at" => chrono::NaiveDateTime::parse_from_str(
                    n.as_str().unwrap(),
                    "%Y-%m-%d %H:%M:%S%.f",
                )
                .unwrap(),
                other => panic!("unexpected timestamp {other}"),
            })
        }
        other => panic!("unexpected seed value {other}"),
    }
}

/// Load a fixture directory's seed.json.
pub fn seed_from(conn: &mut dyn Connection, dir: &Path) {
    let text = std::fs::read_to_string(dir.join("seed.json")).unwrap();
    let seed: serde_json::Value = serde_json::from_str(&text).unwrap();
    for t in seed["tables"].as_array().unwrap() {
        let cols: Vec<&str> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let rows = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(value).collect())
            .collect();
        insert(conn, t["table"].as_str().unwrap(), &cols, rows);
    }
}

/// privacyIDEA's stderr without its Python tracebacks (`Traceback …`, the indented frames,
/// the exception line and the empty line `print_stderr` adds after it).
pub fn without_tracebacks(s: &str) -> String {
    let mut out = String::new();
    let (mut in_traceback, mut after_traceback) = (false, false);
    for line in s.split_inclusive('\n') {
        if line.starts_with("Traceback (most recent call last):") {
            in_traceback = true;
        } else if in_traceback {
            if !line.starts_with(' ') {
                in_traceback = false;
                after_traceback = true;
            }
        } else if after_traceback && line == "\n" {
            after_traceback = false;
        } else {
            after_traceback = false;
            out.push_str(line);
        }
    }
    out
}

/// The rows the commands leave, in rows.txt's form.
fn rows(conn: &mut dyn Connection) -> Vec<String> {
    let d = conn.dialect();
    let q = |c: &str| d.quote(c);
    let mut out = Vec::new();
    let sql = format!(
        "SELECT {}, {} FROM {} ORDER BY {}",
        q("stats_key"),
        q("stats_value"),
        q("monitoringstats"),
        q("id")
    );
    for r in conn.query_rows(&sql, &[]).unwrap() {
        out.push(format!(
            "monitoringstats {} {}",
            r.get(0).as_str().unwrap(),
            r.get(1).as_i64().unwrap()
        ));
    }
    let sql = format!(
        "SELECT {}, {} FROM {} ORDER BY {}, {}",
        q("periodictask_id"),
        q("node"),
        q("periodictasklastrun"),
        q("periodictask_id"),
        q("node")
    );
    for r in conn.query_rows(&sql, &[]).unwrap() {
        out.push(format!(
            "periodictasklastrun {} {}",
            r.get(0).as_i64().unwrap(),
            r.get(1).as_str().unwrap()
        ));
    }
    let sql = format!(
        "SELECT {}, {}, {} FROM {} ORDER BY {}",
        q("counter_name"),
        q("node"),
        q("counter_value"),
        q("eventcounter"),
        q("id")
    );
    for r in conn.query_rows(&sql, &[]).unwrap() {
        out.push(format!(
            "eventcounter {} {} {}",
            r.get(0).as_str().unwrap(),
            r.get(1).as_str().unwrap(),
            r.get(2).as_i64().unwrap()
        ));
    }
    out
}

#[test]
fn periodic_commands_match_privacyidea_3_14() {
    for db in privacyidea_databases() {
        let l = db.label();
        let mut c = db.connect();
        seed_from(c.as_mut(), &fixtures());
        let dir = tempfile::tempdir().unwrap();
        let picfg = dir.path().join("pi.cfg");
        std::fs::write(
            &picfg,
            format!(
                "SQLALCHEMY_DATABASE_URI = '{}'\nPI_NODE = 'node1'\n\
                 PI_NODE_UUID = '11111111-2222-3333-4444-555555555555'\n",
                db.url_text()
            ),
        )
        .unwrap();
        for (i, args) in read("commands.txt").lines().enumerate() {
            let n = format!("expected/{:02}", i + 1);
            let o = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
                .args(["--picfg", picfg.to_str().unwrap(), "periodic"])
                .args(args.split_whitespace())
                .env_remove("PRIVACYIDEA_CONFIGFILE")
                .env("TZ", "UTC")
                .output()
                .unwrap();
            let what = format!("{l}: `{args}`");
            let rc: i32 = read(&format!("{n}.rc")).trim().parse().unwrap();
            assert_eq!(o.status.code(), Some(rc), "{what}");

            let mut stdout = read(&format!("{n}.out"));
            if !stdout.is_empty() && !stdout.ends_with('\n') {
                stdout.push('\n');
            }
            assert_eq!(String::from_utf8_lossy(&o.stdout), stdout, "{what}");

            let real_err = read(&format!("{n}.err"));
            let err = String::from_utf8_lossy(&o.stderr);
            match real_err
                .lines()
                .find_map(|line| line.strip_prefix("privacyidea.lib.error.ResourceNotFoundError: "))
            {
                // An uncaught exception: privacyIDEA's traceback, our error line.
                Some(e) => {
                    let message = e.split_once(": ").unwrap().1;
                    assert_eq!(
                        err,
                        format!("pi-manage: task periodic run_manually failed: {message}\n"),
                        "{what}"
                    );
                }
                None => assert_eq!(err, without_tracebacks(&real_err), "{what}"),
            }
        }
        // privacyIDEA resets ev3 and then fails to store its value (the task has no
        // stats_key), losing the count; pi-manage does both in one transaction.
        let expected: Vec<String> = read("expected/rows.txt")
            .lines()
            .map(|r| match r {
                "eventcounter ev3 node1 0" => "eventcounter ev3 node1 4".to_string(),
                r => r.to_string(),
            })
            .collect();
        assert_eq!(rows(c.as_mut()), expected, "{l}");
    }
}

#[test]
fn tracebacks_are_cut_exactly() {
    let s = "a\nTraceback (most recent call last):\n  File \"x\", line 1\n    y\nE: z\n\nb\n\nc\n";
    assert_eq!(without_tracebacks(s), "a\nb\n\nc\n");
}
