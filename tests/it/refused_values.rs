//! Values that mean "everything" or overflow, wherever an age or duration enters (command-line
//! flags, job files, privacyIDEA's rules files): zero where it would delete everything, out of
//! range, wrong types, and arithmetic that used to panic or wrap. Each is refused before
//! anything runs — `validate` finds it too — with the allowed range, and the database is
//! untouched.

use crate::hostile::{assert_refused_at, Site};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn usage_error(o: &std::process::Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn rules_files_refuse_zero_out_of_range_and_wrong_types() {
    let s = Site::new();
    let cases = [
        // rotate: 0 deletes every entry the rule matches.
        (
            "- rotate: 0\n  action: .*\n",
            "1:11",
            "'rotate: 0' would delete",
        ),
        // Out of range: chrono panicked on these.
        (
            "- rotate: 9223372036854775807\n  action: .*\n",
            "1:11",
            "out of range (allowed: from 1 to 36500 days)",
        ),
        (
            "- rotate: 100000000\n  action: .*\n",
            "1:11",
            "out of range (allowed: from 1 to 36500 days)",
        ),
        (
            "- rotate: -3\n  action: .*\n",
            "1:11",
            "must not be negative",
        ),
        // Wrong types privacyIDEA crashes on.
        (
            "- rotate: \"5\"\n  action: .*\n",
            "1:11",
            "must be a whole number of days, found a string",
        ),
        (
            "- rotate: 1.5\n  action: .*\n",
            "1:11",
            "whole number of days",
        ),
        (
            "- rotate: 5\n  user: 5\n",
            "2:9",
            "must be a regular expression (a string), found a number",
        ),
    ];
    for (i, (text, at, message)) in cases.into_iter().enumerate() {
        let name = format!("rules{i}.yaml");
        s.write(&name, text);
        // Shown as given: absolute from the command line, relative to the job file in one.
        let path = name.clone();
        for dry in [false, true] {
            let mut args = vec!["audit", "rotate", "--config", name.as_str()];
            if dry {
                args.push("--dryrun");
            }
            let o = s.run(&args);
            assert_refused_at(&o, &path);
            let err = stderr(&o);
            assert!(err.contains(&format!("{path}:{at}: ")), "{text}: {err}");
            assert!(err.contains(message), "{text}: {err}");
        }
        // The same file from a job file, through `validate`.
        s.write(
            "job.yaml",
            format!(
                "version: 1\nname: r\ntasks:\n  - kind: audit_rotate\n    rules_file: {name}\n"
            ),
        );
        let o = s.run(&["validate", "job.yaml"]);
        assert_refused_at(&o, &path);
        assert!(stderr(&o).contains(message), "{}", stderr(&o));
    }
    assert_eq!(s.audit_rows(), 5, "nothing was deleted");
}

#[test]
fn job_files_refuse_zero_and_out_of_range_ages_and_control_characters() {
    let s = Site::new();
    let head = "version: 1\nname: ages\ntasks:\n";
    let cases = [
        (
            "  - kind: audit_rotate\n    rules:\n      - older_than: 0s\n        match: {action: '.*'}\n",
            "6:21",
            "older_than: 0 would delete every entry this rule matches",
        ),
        (
            "  - kind: audit_rotate\n    older_than: 3000000d\n",
            "5:17",
            "out of range: durations go up to 36500d",
        ),
        (
            "  - kind: audit_rotate\n    older_than: 100000000d\n",
            "5:17",
            "out of range",
        ),
        (
            "  - kind: challenge_cleanup\n    older_than: 0m\n",
            "5:17",
            "an age of 0 would delete every challenge",
        ),
        (
            "  - kind: authlog_cleanup\n    older_than: 0d\n",
            "5:17",
            "an age of 0 would delete the entire authentication log",
        ),
        (
            "  - kind: audit_verify\n    since: 100000000d\n",
            "5:12",
            "out of range",
        ),
        (
            "  - kind: challenge_cleanup\n    name: \"a\\0b\"\n",
            "5:11",
            "control character",
        ),
    ];
    for (tasks, at, message) in cases {
        s.write("job.yaml", format!("{head}{tasks}"));
        for cmd in ["validate", "run"] {
            let o = s.run(&[cmd, "job.yaml"]);
            assert_refused_at(&o, "job.yaml");
            let err = stderr(&o);
            assert!(err.contains(&format!("job.yaml:{at}: ")), "{tasks}: {err}");
            assert!(err.contains(message), "{tasks}: {err}");
        }
    }
    s.write(
        "job.yaml",
        "version: 1\nname: \"nightly\\0\"\ntasks:\n  - kind: challenge_cleanup\n",
    );
    let o = s.run(&["validate", "job.yaml"]);
    assert_refused_at(&o, "job.yaml");
    assert!(stderr(&o).contains("job.yaml:2:7: the name contains the control character '\\0'"));
    assert_eq!(s.audit_rows(), 5, "nothing was deleted");
}

#[test]
fn command_line_ages_share_the_range_and_never_wrap() {
    let s = Site::new();
    // 213503982334602 days * 86400 wrapped to about 17 hours in a release build and deleted
    // every entry older than that.
    for age in ["213503982334602", "100000000", "36501"] {
        usage_error(
            &s.run(&["audit", "rotate", "--age", age]),
            "out of range: durations go up to 36500d",
        );
        usage_error(
            &s.run(&["audit", "rotate", "--age", age, "--dryrun"]),
            "out of range",
        );
        usage_error(
            &s.run(&["authlog", "cleanup", "--age", age]),
            "out of range",
        );
    }
    // Watermarks of 2^63 and more wrapped negative and deleted everything.
    usage_error(
        &s.run(&["audit", "rotate", "-hw", "9223372036854775808", "-lw", "5"]),
        "watermark high 9223372036854775808 is out of range (allowed: 0 to 9223372036854775807)",
    );
    s.write(
        "wm.yaml",
        "version: 1\nname: wm\ntasks:\n  - kind: audit_rotate\n    watermark: {high: 18446744073709551615, low: 5}\n",
    );
    let o = s.run(&["validate", "wm.yaml"]);
    assert_refused_at(&o, "wm.yaml");
    assert!(stderr(&o).contains("out of range"), "{}", stderr(&o));
    // Our message for a negative age, not clap's generic "unexpected argument".
    usage_error(
        &s.run(&["audit", "rotate", "--age", "-1"]),
        "--age -1: a negative age would delete every audit entry",
    );
    usage_error(
        &s.run(&["config", "challenge", "cleanup", "--age", "999999999999"]),
        "out of range",
    );
    // The hint names the flag and its unit, not the job-file spelling.
    let o = s.run(&["config", "challenge", "cleanup", "--age", "0"]);
    usage_error(&o, "--age 10");
    assert!(!stderr(&o).contains("'10m'"), "{}", stderr(&o));
    usage_error(&s.run(&["authlog", "cleanup", "--age", "0"]), "--age 90");
    usage_error(
        &s.run(&["audit", "verify", "--since", "100000000d"]),
        "--since: '100000000d' is out of range",
    );
    usage_error(
        &s.run(&["api", "createtoken", "-u", "admin", "--days", "100000000"]),
        "out of range",
    );
    s.write(
        "sched.yaml",
        "version: 1\nname: s\nschedule: '@daily'\ntasks:\n  - kind: challenge_cleanup\n",
    );
    usage_error(
        &s.run(&[
            "schedule",
            "--list",
            "--history-retention",
            "100000000d",
            "sched.yaml",
        ]),
        "--history-retention: '100000000d' is out of range",
    );
    assert_eq!(s.audit_rows(), 5, "nothing was deleted");
    // In range still works: 36500 days keeps every row.
    let o = s.run(&["audit", "rotate", "--age", "36500"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(s.audit_rows(), 5);
}

#[test]
fn validate_reports_cron_and_time_zone_errors_together_with_schema_errors() {
    let s = Site::new();
    s.write(
        "job.yaml",
        "version: 1\nname: all\nschedule: '*/4294967295 * * * *'\ntimezone: Europe/Berlinn\nbogus: 1\ntasks:\n  - kind: challenge_cleanup\n",
    );
    let o = s.run(&["validate", "job.yaml"]);
    assert_refused_at(&o, "job.yaml");
    let err = stderr(&o);
    for needle in [
        "job.yaml:3:11: invalid schedule '*/4294967295 * * * *': '4294967295' is not a valid step in the minute field (allowed: 1 to 59)",
        "job.yaml:4:11: unknown time zone 'Europe/Berlinn'",
        "job.yaml:5:1: unknown field 'bogus'",
    ] {
        assert!(err.contains(needle), "{needle}\n{err}");
    }
}
