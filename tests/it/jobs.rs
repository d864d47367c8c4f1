//! The example plans in `jobs/` are valid, and the quickstart runs on a fresh machine.

use std::process::Command;

#[test]
fn every_example_plan_validates() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            if let Err(d) = pi_manage::job::check::load_job(&path) {
                panic!("{}: {d:#?}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 3, "expected the example plans, found {n}");
}

#[test]
fn quickstart_creates_then_maintains_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/quickstart.yaml");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .args(["run", job])
            .current_dir(dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .unwrap()
    };
    let first = run();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("Created 68 tables"), "{stdout}");
    assert!(dir.path().join("pi-manage-quickstart.sqlite").exists());
    let second = run();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0));
    assert!(
        stdout.contains("The database already has privacyIDEA's tables"),
        "{stdout}"
    );
    assert!(stdout.contains("0 entries deleted."), "{stdout}");
}
