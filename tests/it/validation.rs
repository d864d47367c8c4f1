//! Every validation error path of job files, with its reported file, line, column and JSON
//! pointer; and that nothing runs when any file has a problem.

use std::path::Path;

use pi_manage::job::check::check_job_text;

fn errors(yaml: &str) -> Vec<String> {
    match check_job_text(Path::new("job.yaml"), yaml) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(|d| d.to_string()).collect(),
    }
}

const HEAD: &str = "version: 1\nname: test\ntasks:\n";

#[test]
fn a_valid_file_has_no_problems() {
    let ok = format!("{HEAD}  - kind: audit_rotate\n    watermark: {{high: 100, low: 50}}\n  - kind: challenge_cleanup\n    older_than: 10m\n    chunksize: 5\n");
    assert_eq!(errors(&ok), Vec::<String>::new());
}

#[test]
fn yaml_syntax_error() {
    let e = errors("version: 1\nname: [unclosed\ntasks: []\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("job.yaml:3:"), "{e:?}");
    assert!(e[0].contains("YAML syntax error"), "{e:?}");
}

#[test]
fn unknown_field_with_suggestion() {
    let e = errors(&format!(
        "{HEAD}  - kind: audit_rotate\n    chunk_size: 10\n"
    ));
    assert_eq!(e, ["job.yaml:5:5: unknown field 'chunk_size' (at /tasks/0/chunk_size)\n  hint: did you mean 'chunksize'?"]);
}

#[test]
fn bare_number_duration_names_the_unit() {
    let e = errors(&format!(
        "{HEAD}  - kind: audit_rotate\n    older_than: 180\n"
    ));
    assert_eq!(
        e,
        ["job.yaml:5:17: a duration needs a unit: write e.g. '180d' for days, '180h' for hours, '180m' for minutes or '180s' for seconds (at /tasks/0/older_than)"]
    );
    let e = errors(&format!(
        "{HEAD}  - kind: challenge_cleanup\n    older_than: 10 minutes\n"
    ));
    assert!(
        e[0].starts_with("job.yaml:5:17: '10 minutes' is not a duration"),
        "{e:?}"
    );
}

#[test]
fn chunksize_must_be_positive() {
    let e = errors(&format!(
        "{HEAD}  - kind: challenge_cleanup\n    chunksize: 0\n"
    ));
    assert_eq!(
        e,
        ["job.yaml:5:16: 0 is too small (minimum 1) (at /tasks/0/chunksize)"]
    );
}

#[test]
fn unknown_kind_and_missing_kind() {
    let e = errors(&format!("{HEAD}  - kind: audit_rotation\n  - name: x\n"));
    assert_eq!(
        e,
        [
            "job.yaml:4:11: unknown task kind 'audit_rotation' (at /tasks/0/kind)\n  hint: did you mean 'audit_rotate'?",
            "job.yaml:5:5: task has no 'kind' (at /tasks/1)\n  hint: kind is one of: audit_rotate, challenge_cleanup, create_tables, enckey, audit_keys, admin, api_token, audit_verify, policies, backup, backup_verify, audit_dump",
        ]
    );
}

#[test]
fn top_level_problems() {
    let e = errors("version: 2\nnam: x\ntasks: []\n");
    assert_eq!(
        e,
        [
            "job.yaml:1:1: missing required field 'name'",
            "job.yaml:1:10: 2 is too large (maximum 1) (at /version)",
            "job.yaml:2:1: unknown field 'nam' (at /nam)\n  hint: did you mean 'name'?",
            "job.yaml:3:8: must not be empty (at /tasks)",
        ]
    );
}

#[test]
fn duplicate_task_names() {
    let e = errors(&format!("{HEAD}  - kind: challenge_cleanup\n  - kind: challenge_cleanup\n  - name: a\n    kind: create_tables\n  - name: a\n    kind: audit_rotate\n"));
    assert_eq!(
        e,
        [
            "job.yaml:5:5: duplicate task name 'challenge_cleanup' (task 1 has it too) (at /tasks/1)\n  hint: give each task a unique 'name'",
            "job.yaml:8:11: duplicate task name 'a' (task 3 has it too) (at /tasks/3/name)\n  hint: give each task a unique 'name'",
        ]
    );
}

#[test]
fn one_mode_per_rotation() {
    let e = errors(&format!(
        "{HEAD}  - kind: audit_rotate\n    older_than: 10d\n    watermark: {{high: 1, low: 1}}\n"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("job.yaml:5:17: give only one of watermark, older_than, rules and rules_file (found watermark and older_than)"), "{e:?}");
}

#[test]
fn rules_with_bad_regex_unknown_column_and_no_condition() {
    let e = errors(&format!(
        "{HEAD}  - kind: audit_rotate\n    rules:\n      - older_than: 1d\n        match:\n          usr: x\n          action: '(open'\n      - older_than: 2d\n        match: {{}}\n"
    ));
    assert_eq!(
        e,
        [
            "job.yaml:8:11: unknown audit column 'usr' (at /tasks/0/rules/0/match/usr)\n  hint: did you mean 'user'?",
            "job.yaml:9:19: invalid regular expression: Parsing error at position 5: Opening parenthesis without closing parenthesis (at /tasks/0/rules/0/match/action)",
            "job.yaml:11:16: a rule needs at least one column condition (at /tasks/0/rules/1/match)\n  hint: to match every entry, write  match: {action: '.*'}",
        ]
    );
}

#[test]
fn schedule_timezone_and_urls() {
    let e = errors(
        "version: 1\nname: t\nschedule: '61 2 * * *'\ntimezone: Europe/Berln\nconnection:\n  database: 'oracle://x/y'\n  audit_database: 'sqlite:////tmp/a.sqlite'\ntasks:\n  - kind: create_tables\n",
    );
    assert_eq!(
        e,
        [
            "job.yaml:3:11: invalid schedule '61 2 * * *': minute 61 is out of range 0-59 (at /schedule)\n  hint: write 5 fields, e.g. '30 2 * * *' for 02:30 every day, or @daily",
            "job.yaml:4:11: unknown time zone 'Europe/Berln' (at /timezone)\n  hint: did you mean 'Europe/Berlin'?",
            "job.yaml:6:13: invalid database URL: unsupported database scheme 'oracle' (supported: sqlite, postgresql, postgres, mysql, mariadb, each with an optional +driver) (at /connection/database)",
        ]
    );
}

#[test]
fn referenced_files_must_exist_and_rules_files_are_checked_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.yaml");
    std::fs::write(
        dir.path().join("rules.yaml"),
        "- rotate: 30\n- rotate: -2\n  user: x\n",
    )
    .unwrap();
    let text = "version: 1\nname: t\nconnection:\n  picfg: missing.cfg\ntasks:\n  - kind: audit_rotate\n    rules_file: rules.yaml\n  - name: b\n    kind: audit_rotate\n    rules_file: nope.yaml\n";
    let e: Vec<String> = check_job_text(&job, text)
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect();
    let jobp = job.display();
    let rules = dir.path().join("rules.yaml");
    let rulesp = rules.display();
    assert_eq!(e.len(), 4, "{e:?}");
    assert_eq!(
        e[0],
        format!(
            "{jobp}:4:10: pi.cfg not found: {}/missing.cfg (at /connection/picfg)",
            dir.path().display()
        )
    );
    assert!(
        e[1].starts_with(&format!(
            "{jobp}:10:17: cannot read rules file {}/nope.yaml",
            dir.path().display()
        )),
        "{e:?}"
    );
    assert!(
        e[2].starts_with(&format!(
            "{rulesp}:1:3: rule has no column condition, so it never matches"
        )),
        "{e:?}"
    );
    assert!(
        e[3].starts_with(&format!("{rulesp}:2:11: 'rotate' must not be negative")),
        "{e:?}"
    );
}

#[test]
fn zero_ages_are_refused() {
    let e = errors(&format!("{HEAD}  - kind: challenge_cleanup\n    older_than: 0m\n  - kind: audit_rotate\n    older_than: 0d\n"));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("job.yaml:5:17: an age of 0 would delete every challenge"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("job.yaml:7:17: older_than: 0 would delete the entire audit log"),
        "{e:?}"
    );
}

#[test]
fn watermark_high_below_low_is_a_warning_not_an_error() {
    let job = check_job_text(
        Path::new("job.yaml"),
        &format!("{HEAD}  - kind: audit_rotate\n    watermark: {{high: 5, low: 10}}\n"),
    )
    .unwrap();
    assert_eq!(job.warnings.len(), 1);
    assert_eq!(
        job.warnings[0].to_string(),
        "job.yaml:5:16: warning: high (5) is below low (10): nothing is deleted until the log holds more than 10 entries (at /tasks/0/watermark)"
    );
}

#[test]
fn committed_schema_matches_the_model() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/job.schema.json"
    ))
    .unwrap();
    assert!(
        committed == pi_manage::job::schema::job_schema_text(),
        "schemas/job.schema.json is out of date: run `cargo run -- schema > schemas/job.schema.json`"
    );
}
