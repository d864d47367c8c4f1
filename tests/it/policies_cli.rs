//! The policy commands of the built binary on a SQLite installation: privacyIDEA's spellings,
//! output lines and files (compared with privacyIDEA 3.14's own), exit codes, and `run` with a
//! `policies` task (the diff, exit code 4 for pending changes, `unchanged` the second time).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use pi_manage::db::{self, Connection, OpenOptions};
use pi_manage::dburl::DbUrl;

use crate::policies::{fixture, seed_installation, seed_rows};

struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    /// privacyIDEA's vector installation: schema, realms, resolver, node and the six policies.
    fn new() -> Install {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pi.cfg"),
            format!(
                "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}/pi.sqlite'\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let i = Install { dir };
        assert_eq!(i.run(&["setup", "create_tables"]).status.code(), Some(0));
        let mut c = i.conn();
        seed_installation(c.as_mut());
        let rows: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture("policy-rows.json")).unwrap())
                .unwrap();
        seed_rows(c.as_mut(), &rows);
        i
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn conn(&self) -> Box<dyn Connection> {
        let url = DbUrl::parse(&format!("sqlite:///{}", self.path("pi.sqlite").display())).unwrap();
        db::open(&url, &OpenOptions::default()).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pi-manage"));
        c.arg("--picfg")
            .arg(self.path("pi.cfg"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn export(&self) -> String {
        let o = self.run(&["config", "export", "-t", "policy"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        out(&o)
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn vector(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

#[test]
fn export_is_privacyideas_byte_for_byte() {
    let i = Install::new();
    assert_eq!(i.export(), vector("export-policy.json"));
    // privacyIDEA's `-o/--output FILE`, the YAML format and the hidden alias.
    let o = i.run(&[
        "config", "export", "-t", "policy", "-f", "yaml", "--output", "e.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "");
    assert_eq!(
        std::fs::read_to_string(i.path("e.yaml")).unwrap(),
        vector("export-policy.yaml")
    );
    let o = i.run(&["config", "exporter", "-t", "policy", "-o", "e.json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(i.path("e.json")).unwrap(),
        vector("export-policy.json")
    );
    // -n: only that policy.
    let o = i.run(&[
        "config",
        "export",
        "-t",
        "policy",
        "-n",
        "webui-login",
        "-o",
        "-",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(doc["policy"].as_array().unwrap().len(), 1);
    assert_eq!(doc["policy"][0]["name"], "webui-login");
    // Other types are refused rather than silently missing from the export.
    for args in [
        vec!["config", "export"],
        vec!["config", "export", "-t", "realm"],
    ] {
        let o = i.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(err(&o).contains("policies only"), "{}", err(&o));
    }
}

#[test]
fn import_then_list_as_privacyidea() {
    let i = Install::new();
    let o = i.run(&[
        "config",
        "import",
        "-t",
        "policy",
        "-i",
        fixture("import-policy.json").to_str().unwrap(),
    ]);
    // import-output.txt is privacyIDEA's stdout plus its exit status.
    assert_eq!(
        format!("{}rc={}\n", out(&o), o.status.code().unwrap()),
        vector("import-output.txt")
    );
    assert_eq!(err(&o), "");
    assert_eq!(i.export(), vector("export-policy-after-import.json"));
    let o = i.run(&["config", "policy", "list"]);
    assert_eq!(out(&o), vector("policy-list-output.txt"));
    // The hidden top-level alias, and a second import that changes nothing.
    assert_eq!(
        out(&i.run(&["policy", "list"])),
        vector("policy-list-output.txt")
    );
    let o = i.run(&[
        "config",
        "importer",
        "-t",
        "policy",
        "-i",
        fixture("import-policy.json").to_str().unwrap(),
        "--dryrun",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("No changes: all 7 policies are as they should be."));
}

#[test]
fn import_dry_run_shows_the_diff_and_exits_4() {
    let i = Install::new();
    let o = i.run(&[
        "config",
        "import",
        "-t",
        "policy",
        "-i",
        fixture("import-policy.json").to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    let text = out(&o);
    for line in [
        "Importing configuration type 'policy'.",
        "~ webui-login",
        "    priority: 5 -> 4",
        "    action ~ logout_time: 300 -> 600",
        "    action + hide_welcome_info",
        "    user_agents - PAM",
        "+ admin-readonly (admin, priority 7)",
        "Would add 1, update 1 and delete 0 policies; 5 unchanged.",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing in:\n{text}"
        );
    }
    assert_eq!(
        i.export(),
        vector("export-policy.json"),
        "a dry run writes nothing"
    );
}

#[test]
fn invalid_imports_write_nothing() {
    let i = Install::new();
    std::fs::write(
        i.path("bad.yaml"),
        "policy:\n- name: ok-one\n  scope: admin\n  action: enable\n- name: bad-one\n  scope: admn\n  client: [10.0.0.0/33]\n  time: 'Mon-Fry: 8-9'\n",
    )
    .unwrap();
    let o = i.run(&["config", "import", "-t", "policy", "-i", "bad.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        err(&o),
        "bad.yaml:6:10: unknown scope 'admn' (at /policy/1/scope)\n  hint: did you mean 'admin'?\n\
         bad.yaml:7:12: '10.0.0.0/33' is not an IP address or network (e.g. 192.168.0.0/24, !10.0.0.5) (at /policy/1/client/0)\n\
         bad.yaml:8:9: invalid time range 'Mon-Fry:8-9': unknown day 'fry' (expected e.g. 'Mon-Fri: 08:00-18:00') (at /policy/1/time)\n"
    );
    assert!(out(&o).contains("Import finished with errors. Failed configuration types: policy."));
    assert_eq!(i.export(), vector("export-policy.json"));

    // A realm that does not exist is found in the database: exit 1, nothing written.
    std::fs::write(
        i.path("realm.json"),
        r#"{"policy": [{"name": "ok-one", "scope": "admin", "action": "enable"},
                       {"name": "r", "scope": "user", "realm": ["nosuch"]}]}"#,
    )
    .unwrap();
    let o = i.run(&["config", "import", "-t", "policy", "-i", "realm.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("Invalid policy 'r': realm 'nosuch' does not exist (known: realm1, realm2) (at realm.json:2:65)"),
        "{}",
        out(&o)
    );
    assert_eq!(i.export(), vector("export-policy.json"));

    // --skip-invalid imports the rest.
    let o = i.run(&[
        "config",
        "import",
        "-t",
        "policy",
        "-i",
        "realm.json",
        "--skip-invalid",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("Skipping invalid policy 'r'"));
    assert!(out(&i.run(&["config", "policy", "list"])).contains("ok-one"));
}

#[test]
fn import_formats_and_version_messages() {
    let i = Install::new();
    // Python literal on standard input; no version: privacyIDEA's two warning lines.
    let o = i.run_stdin(
        &["config", "import", "-t", "policy"],
        "{'policy': [{'name': 'py', 'scope': 'admin', 'action': {'enable': True}, 'realm': ['realm1']}]}",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        out(&o),
        "Unable to determine the version of exported data.\nPlease make sure that the imported configuration works as expected.\nImporting configuration type 'policy'.\n"
    );
    let o = i.run_stdin(
        &["config", "import", "-t", "policy"],
        "{\"policy\": [], \"privacyIDEA_version\": \"3.12.1\"}",
    );
    assert_eq!(
        out(&o),
        "Version of export (3.12) does not match current privacyIDEA version (3.14).\nPlease make sure that the imported configuration works as expected.\nImporting configuration type 'policy'.\n"
    );
    for bad in ["", "{\"policy\": ["] {
        let o = i.run_stdin(&["config", "import", "-t", "policy"], bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(out(&o).starts_with(
            "Could not determine input format! \nAccepted formats are: json, yaml, python.\n"
        ));
    }
}

#[test]
fn enable_disable_delete_create() {
    let i = Install::new();
    let o = i.run(&["config", "policy", "disable", "webui-login"]);
    assert_eq!(
        (out(&o).as_str(), o.status.code()),
        ("Successfully disabled policy 'webui-login'\n", Some(0))
    );
    let o = i.run(&["config", "policy", "enable", "webui-login"]);
    assert_eq!(out(&o), "Successfully enabled policy 'webui-login'\n");
    let o = i.run(&["config", "policy", "delete", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        err(&o),
        "pi-manage: task config policy delete failed: Could not delete policy nope: The policy with name 'nope' does not exist\n"
    );
    let o = i.run(&["config", "policy", "delete", "auth-otppin"]);
    assert_eq!(out(&o), "Successfully deleted policy 'auth-otppin'\n");

    // create without a file: privacyIDEA prints nothing.
    let o = i.run(&[
        "config",
        "policy",
        "create",
        "quick",
        "admin",
        "enable, otppin=userstore",
    ]);
    assert_eq!(
        (out(&o).as_str(), o.status.code()),
        ("", Some(0)),
        "{}",
        err(&o)
    );
    let o = i.run(&["config", "policy", "create", "q2", "admn", "enable"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("unknown scope 'admn'"));

    // create -f: the file's values win, with privacyIDEA's messages.
    std::fs::write(
        i.path("p.py"),
        "{'name': 'from-file', 'action': {'tokenlist': True, 'auditlog_age': '30d'}, 'realm': ['realm1']}\n",
    )
    .unwrap();
    let o = i.run(&[
        "config", "policy", "create", "ignored", "admin", "enable", "-f", "p.py",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        out(&o),
        "Found name 'from-file' in file, will use that instead of 'ignored'.\n\
         scope not defined in file, will use the cli value admin.\n\
         Found action in file: '{'tokenlist': True, 'auditlog_age': '30d'}', will use that instead of: 'enable'.\n"
    );
    let doc: serde_json::Value = serde_json::from_str(&out(&i.run(&[
        "config",
        "export",
        "-t",
        "policy",
        "-n",
        "from-file",
    ])))
    .unwrap();
    assert_eq!(doc["policy"][0]["action"]["auditlog_age"], "30d");
    assert_eq!(doc["policy"][0]["realm"][0], "realm1");
    let listed = out(&i.run(&["config", "policy", "list"]));
    assert!(
        listed.contains("True     quick                admin\n"),
        "{listed}"
    );
    assert!(!listed.contains("auth-otppin"));
}

fn job(i: &Install, body: &str) -> PathBuf {
    let path = i.path("job.yaml");
    std::fs::write(
        &path,
        format!("version: 1\nname: policies-as-code\ntasks:\n{body}"),
    )
    .unwrap();
    path
}

#[test]
fn run_a_policies_plan() {
    let i = Install::new();
    std::fs::copy(fixture("import-policy.json"), i.path("policies.json")).unwrap();
    job(
        &i,
        "  - kind: policies\n    files: [policies.json]\n    policies:\n      - name: extra\n        scope: webui\n        action: [tokenwizard]\n        realm: realm2\n",
    );
    let o = i.run(&["run", "job.yaml", "--dry-run"]);
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    assert!(
        out(&o).contains(
            "  + extra (webui, priority 1)\n      action: tokenwizard\n      realm: realm2\n"
        ),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("  Would add 2, update 1 and delete 0 policies; 5 unchanged.\n"));
    let o = i.run(&["run", "job.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("  updated, in "), "{}", out(&o));
    let o = i.run(&["run", "job.yaml", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0));
    let o = i.run(&["run", "job.yaml"]);
    assert!(
        out(&o).contains("  All 8 policies are as they should be.\n  unchanged, in "),
        "{}",
        out(&o)
    );
    // The JSON report tells machines the same.
    let o = i.run(&["--output", "json", "run", "job.yaml", "--dry-run"]);
    let report: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["jobs"][0]["tasks"][0]["details"]["pending"], false);
}

#[test]
fn validate_reports_problems_in_policy_files_and_inline() {
    let i = Install::new();
    std::fs::write(
        i.path("p.yaml"),
        "policies:\n  - name: a\n    scope: admin\n    action: {otppin: 'x, y'}\n",
    )
    .unwrap();
    let path = job(
        &i,
        "  - kind: policies\n    mode: exact\n    files: [p.yaml, missing.yaml]\n    policies:\n      - name: b\n        scope: admin\n        priorty: 3\n      - name: c\n        scope: user\n        conditions: [[userinfo, email, equalz, x, true]]\n",
    );
    let o = i.run(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("job.yaml:10:9: unknown field 'priorty' (at /tasks/0/policies/0/priorty)\n  hint: did you mean 'priority'?"), "{e}");
    // Without the schema error, the deeper checks report the rest.
    job(
        &i,
        "  - kind: policies\n    mode: exact\n    files: [p.yaml, missing.yaml]\n    policies:\n      - name: c\n        scope: user\n        conditions: [[userinfo, email, equalz, x, true]]\n",
    );
    let o = i.run(&["validate", "job.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    for want in [
        "job.yaml:5:11: mode: exact deletes every stored policy that is not listed; add 'prune: true' to confirm (at /tasks/0/mode)",
        "job.yaml:6:21: policy file not found: ",
        "p.yaml:4:22: the value of action 'otppin' contains a comma that is not escaped (at /policies/0/action/otppin)",
        "job.yaml:10:22: unknown condition comparator 'equalz' (at /tasks/0/policies/0/conditions/0)",
    ] {
        assert!(e.contains(want), "{want:?} missing in:\n{e}");
    }
}
