//! Scripts get what they ask for: `--output json` and `-q` are honoured by the listings, the
//! API token is the product of `api createtoken` in every format (and nothing else secret is
//! shown), and every problem with a file names the file with `line:column`.

use std::process::Output;

use crate::hostile::{assert_refused_at, Site};

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", err(o));
    serde_json::from_str(&out(o)).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
}

#[test]
fn listings_honour_output_json_and_quiet() {
    let s = Site::new();
    let o = s.run(&[
        "admin",
        "add",
        "alice",
        "-e",
        "alice@example.com",
        "-p",
        "pw-for-alice",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    s.write(
        "p.yaml",
        "- name: p1\n  scope: admin\n  action: {enrollHOTP: true}\n  priority: 3\n",
    );
    let o = s.run(&["config", "import", "-t", "policy", "-i", "p.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));

    let admins = json(&s.run(&["--output", "json", "admin", "list"]));
    assert_eq!(
        admins,
        serde_json::json!([{"username": "alice", "email": "alice@example.com"}])
    );
    assert!(!out(&s.run(&["--output", "json", "admin", "list"])).contains("pw-for-alice"));
    let o = s.run(&["-q", "admin", "list"]);
    assert_eq!((o.status.code(), out(&o)), (Some(0), String::new()));
    assert!(out(&s.run(&["admin", "list"])).contains("alice \t alice@example.com"));

    let policies = json(&s.run(&["--output", "json", "config", "policy", "list"]));
    assert_eq!(policies[0]["name"], "p1");
    assert_eq!(policies[0]["scope"], "admin");
    assert_eq!(policies[0]["priority"], 3);
    let o = s.run(&["-q", "config", "policy", "list"]);
    assert_eq!((o.status.code(), out(&o)), (Some(0), String::new()));

    s.write(
        "sched.yaml",
        "version: 1\nname: nightly\nschedule: '30 2 * * *'\ntimezone: UTC\ntasks:\n  - kind: challenge_cleanup\n",
    );
    let list = json(&s.run(&[
        "--output",
        "json",
        "schedule",
        "--list",
        "--count",
        "3",
        "sched.yaml",
    ]));
    assert_eq!(list[0]["job"], "nightly");
    assert_eq!(list[0]["timezone"], "UTC");
    let next = list[0]["next"].as_array().unwrap();
    assert_eq!(next.len(), 3);
    assert!(next
        .iter()
        .all(|t| t.as_str().unwrap().ends_with("T02:30:00+00:00")));
}

#[test]
fn createtoken_gives_scripts_the_token_in_every_format() {
    let s = Site::new();
    let o = s.run(&["api", "createtoken", "-u", "admin"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text_token = out(&o)
        .lines()
        .find_map(|l| l.strip_prefix("Auth-Token: ").map(str::to_string))
        .expect("the token line");
    assert_eq!(text_token.split('.').count(), 3, "a JWT");

    // -q: the token alone, so TOKEN=$(pi-manage -q api createtoken …) works.
    let o = s.run(&["-q", "api", "createtoken", "-u", "admin"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let quiet = out(&o);
    assert_eq!(quiet.lines().count(), 1, "{quiet}");
    assert_eq!(quiet.trim().split('.').count(), 3, "{quiet}");

    // JSON: under details.token of the task; the messages keep it out.
    let report = json(&s.run(&["--output", "json", "api", "createtoken", "-u", "admin"]));
    let task = &report["jobs"][0]["tasks"][0];
    let token = task["details"]["token"].as_str().expect("details.token");
    assert_eq!(token.split('.').count(), 3);
    let messages = task["messages"].to_string();
    assert!(!messages.contains(token), "{messages}");
    // Other secrets stay out of every format.
    for o in [
        s.run(&["api", "createtoken", "-u", "admin"]),
        s.run(&["-q", "api", "createtoken", "-u", "admin"]),
        s.run(&["--output", "json", "api", "createtoken", "-u", "admin"]),
    ] {
        let all = out(&o) + &err(&o);
        assert!(!all.contains("top-secret-key-value"), "{all}");
        assert!(!all.contains("pepper-value"), "{all}");
    }
}

#[test]
fn problems_with_files_name_the_file_line_and_column() {
    let s = Site::new();
    let picfg = |name: &str, text: &str| {
        let p = s.write(name, text);
        s.run_bare(&["--picfg", p.to_str().unwrap(), "admin", "list"])
    };
    let at = |o: &Output, name: &str, place: &str, message: &str| {
        let file = s.path(name).display().to_string();
        assert_refused_at(o, &file);
        assert!(err(o).contains(&format!("{file}:{place}: ")), "{}", err(o));
        assert!(err(o).contains(message), "{}", err(o));
    };
    at(
        &picfg("empty.cfg", ""),
        "empty.cfg",
        "1:1",
        "sets no SQLALCHEMY_DATABASE_URI",
    );
    at(
        &picfg("nouri.cfg", "SECRET_KEY = 'x'\n"),
        "nouri.cfg",
        "1:1",
        "sets no SQLALCHEMY_DATABASE_URI",
    );
    at(
        &picfg(
            "oracle.cfg",
            "SECRET_KEY = 'x'\nSQLALCHEMY_DATABASE_URI = 'oracle://u:p@h/db'\n",
        ),
        "oracle.cfg",
        "2:1",
        "unsupported database scheme 'oracle'",
    );
    at(
        &picfg(
            "port.cfg",
            "SQLALCHEMY_DATABASE_URI = 'postgresql://u@h:99999/db'\n",
        ),
        "port.cfg",
        "1:1",
        "invalid port '99999'",
    );
    at(
        &picfg(
            "ipv6.cfg",
            "\n\nSQLALCHEMY_DATABASE_URI = 'postgresql://u@[::1/db'\n",
        ),
        "ipv6.cfg",
        "3:1",
        "no closing ']'",
    );
    // The password in a refused URL is never shown.
    let o = picfg(
        "secret.cfg",
        "SQLALCHEMY_DATABASE_URI = 'oracle://u:hunter2@h/db'\n",
    );
    assert!(!err(&o).contains("hunter2"), "{}", err(&o));

    // Policy files that hold nothing, and ones that are not UTF-8.
    for (name, text, message) in [
        ("empty.yaml", "", "the file is empty"),
        ("null.yaml", "null\n", "holds only null"),
        ("list.json", "[]", "holds only an empty list"),
    ] {
        s.write(name, text);
        let o = s.run(&["config", "import", "-t", "policy", "-i", name]);
        assert_refused_at(&o, name);
        assert!(err(&o).contains(message), "{}", err(&o));
    }

    // The scheduler's warning about a job file without a schedule points into the file.
    s.write(
        "unscheduled.yaml",
        "version: 1\nname: u\ntasks:\n  - kind: challenge_cleanup\n",
    );
    let o = s.run(&["schedule", "--list", "unscheduled.yaml"]);
    assert!(
        err(&o).contains("unscheduled.yaml:1:1: warning: no schedule"),
        "{}",
        err(&o)
    );
    assert!(!err(&o).contains(":0:0"), "{}", err(&o));
}
