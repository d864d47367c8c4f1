//! enckey and audit_keys: created once, exclusively, with the right modes; never
//! overwritten; dry runs create nothing; failures leave nothing behind.

use std::os::unix::fs::PermissionsExt;

use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{AuditKeys, Enckey, TaskSpec};
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn enckey_is_created_once_with_mode_0400() {
    let db = databases().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("enckey");
    let mut settings = db.settings();
    settings.encfile = Some(key.clone());
    let prep = |spec: TaskSpec| {
        let mut d = Vec::new();
        pi_manage::tasks::prepare(
            &spec,
            &pi_manage::tasks::TaskSite::command_line(dir.path()),
            &mut d,
        )
        .unwrap()
    };
    let dry = run_task(
        &db,
        prep(TaskSpec::Enckey(Enckey::default())),
        true,
        &clock_utc(),
        &Interrupt::new(),
        &settings,
    );
    assert_eq!(dry.outcome().status, TaskStatus::DryRun);
    assert!(!key.exists(), "a dry run creates nothing");
    let r = run_task(
        &db,
        prep(TaskSpec::Enckey(Enckey::default())),
        false,
        &clock_utc(),
        &Interrupt::new(),
        &settings,
    );
    assert_eq!(r.outcome().status, TaskStatus::Created, "{:?}", r.report);
    assert_eq!(std::fs::read(&key).unwrap().len(), 96);
    assert_eq!(mode(&key), 0o400);
    let before = std::fs::read(&key).unwrap();
    let again = run_task(
        &db,
        prep(TaskSpec::Enckey(Enckey::default())),
        false,
        &clock_utc(),
        &Interrupt::new(),
        &settings,
    );
    assert_eq!(again.outcome().status, TaskStatus::Unchanged);
    assert_eq!(std::fs::read(&key).unwrap(), before, "never overwritten");
    assert!(!format!("{:?}", again.report).contains(&format!("{:?}", &before[..8])));
    // Neither the created nor the unchanged run reports the key in any encoding.
    let hex: String = before.iter().map(|b| format!("{b:02x}")).collect();
    for report in [&r.report, &again.report] {
        let text = format!("{}{:?}", serde_json::to_string(report).unwrap(), report);
        assert!(!text.contains(&hex[..16]), "the key leaked into a report");
    }
    assert!(!r
        .lines
        .iter()
        .chain(&again.lines)
        .any(|l| l.contains(&hex[..16])));
}

#[test]
fn enckey_in_a_missing_directory_fails_and_leaves_nothing() {
    let db = databases().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("no/such/dir/enckey");
    let mut settings = db.settings();
    settings.encfile = Some(key.clone());
    let mut d = Vec::new();
    let task = pi_manage::tasks::prepare(
        &TaskSpec::Enckey(Enckey::default()),
        &pi_manage::tasks::TaskSite::command_line(dir.path()),
        &mut d,
    )
    .unwrap();
    let r = run_task(&db, task, false, &clock_utc(), &Interrupt::new(), &settings);
    assert_eq!(r.outcome().status, TaskStatus::Failed);
    assert!(!key.exists());
    // Without PI_ENCFILE the task says so.
    let mut d = Vec::new();
    let task = pi_manage::tasks::prepare(
        &TaskSpec::Enckey(Enckey::default()),
        &pi_manage::tasks::TaskSite::command_line(dir.path()),
        &mut d,
    )
    .unwrap();
    let r = run_task(
        &db,
        task,
        false,
        &clock_utc(),
        &Interrupt::new(),
        &db.settings(),
    );
    assert!(r.outcome().error.as_deref().unwrap().contains("PI_ENCFILE"));
}

#[test]
fn audit_keys_are_created_once_in_privacyideas_pem_forms() {
    let db = databases().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = (
        dir.path().join("private.pem"),
        dir.path().join("public.pem"),
    );
    let mut settings = db.settings();
    settings.audit_key_private = Some(private.clone());
    settings.audit_key_public = Some(public.clone());
    let spec = TaskSpec::AuditKeys(AuditKeys {
        keysize: 2048,
        ..Default::default()
    });
    let prep = || {
        let mut d = Vec::new();
        pi_manage::tasks::prepare(
            &spec,
            &pi_manage::tasks::TaskSite::command_line(dir.path()),
            &mut d,
        )
        .unwrap()
    };
    let r = run_task(
        &db,
        prep(),
        false,
        &clock_utc(),
        &Interrupt::new(),
        &settings,
    );
    assert_eq!(r.outcome().status, TaskStatus::Created, "{:?}", r.report);
    let priv_pem = std::fs::read_to_string(&private).unwrap();
    assert!(priv_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(mode(&private), 0o400);
    let again = run_task(
        &db,
        prep(),
        false,
        &clock_utc(),
        &Interrupt::new(),
        &settings,
    );
    assert_eq!(again.outcome().status, TaskStatus::Unchanged);
    assert_eq!(std::fs::read_to_string(&private).unwrap(), priv_pem);
    // The new pair signs what the verifier accepts.
    let signer = pi_manage::crypto::audit_sign::AuditSigner::from_private_pem(&priv_pem).unwrap();
    let verifier = pi_manage::crypto::audit_sign::AuditVerifier::from_public_pem(
        &std::fs::read_to_string(&public).unwrap(),
    )
    .unwrap();
    assert!(verifier.verify("id=1,date=x", &signer.sign("id=1,date=x")));
}
