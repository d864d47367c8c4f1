//! The systemd units in dist/systemd/: what they must say (the scheduler's hardening, the
//! commands they run, parsed by the real command line), and `systemd-analyze verify` on them
//! where systemd-analyze exists (skipped with a note otherwise).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use pi_manage::cli::{normalize_args, Cli};

const UNITS: [&str; 3] = [
    "pi-manage-scheduler.service",
    "pi-manage-run@.service",
    "pi-manage-run@.timer",
];

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("dist/systemd")
            .join(name),
    )
    .unwrap()
}

/// The value lines `key=...` of a unit, in order (comments skipped).
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(str::to_owned))
        .collect()
}

fn one(text: &str, key: &str) -> String {
    let v = values(text, key);
    assert_eq!(v.len(), 1, "{key}: {v:?}");
    v[0].clone()
}

/// ExecStart parsed by pi-manage's own command line, with `%i` as systemd would fill it.
fn parses(exec_start: &str, instance: &str) -> Cli {
    let line = exec_start.replace("%i", instance);
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("/usr/bin/pi-manage"), "{exec_start}");
    let args = std::iter::once("pi-manage")
        .chain(words)
        .map(std::ffi::OsString::from);
    Cli::try_parse_from(normalize_args(args)).unwrap_or_else(|e| panic!("{exec_start}: {e}"))
}

#[test]
fn scheduler_unit_runs_the_scheduler_hardened() {
    let unit = unit_text("pi-manage-scheduler.service");
    let exec = one(&unit, "ExecStart");
    assert_eq!(exec, "/usr/bin/pi-manage schedule /etc/privacyidea/jobs");
    let cli = parses(&exec, "");
    let pi_manage::cli::Command::Schedule(args) = cli.command else {
        panic!("not schedule: {exec}")
    };
    assert_eq!(args.paths, [PathBuf::from("/etc/privacyidea/jobs")]);

    assert_eq!(one(&unit, "Type"), "notify");
    assert!(!one(&unit, "WatchdogSec").is_empty());
    assert_eq!(one(&unit, "User"), "privacyidea");
    assert_eq!(one(&unit, "ProtectSystem"), "strict");
    assert_eq!(one(&unit, "ReadWritePaths"), "/var/lib/privacyidea/backup");
    assert_eq!(one(&unit, "NoNewPrivileges"), "true");
    assert_eq!(one(&unit, "PrivateTmp"), "true");
    assert_eq!(one(&unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(one(&unit, "WantedBy"), "multi-user.target");
}

#[test]
fn run_template_and_timer_run_one_job_file() {
    let service = unit_text("pi-manage-run@.service");
    let exec = one(&service, "ExecStart");
    assert_eq!(exec, "/usr/bin/pi-manage run /etc/privacyidea/jobs/%i.yaml");
    let cli = parses(&exec, "nightly");
    let pi_manage::cli::Command::Run(args) = cli.command else {
        panic!("not run: {exec}")
    };
    assert_eq!(
        args.jobs,
        [PathBuf::from("/etc/privacyidea/jobs/nightly.yaml")]
    );
    assert_eq!(one(&service, "Type"), "oneshot");
    assert_eq!(one(&service, "User"), "privacyidea");
    assert_eq!(one(&service, "ProtectSystem"), "strict");

    let timer = unit_text("pi-manage-run@.timer");
    assert!(!one(&timer, "OnCalendar").is_empty());
    assert_eq!(one(&timer, "WantedBy"), "timers.target");
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("note: systemd-analyze verify of dist/systemd SKIPPED (no systemd-analyze)");
        return;
    }
    // verify insists that ExecStart= exists: point the copies at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    for name in UNITS {
        let text = unit_text(name).replace("/usr/bin/pi-manage", env!("CARGO_BIN_EXE_pi-manage"));
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    // Templates are verified through an instance, which systemd loads from the template file.
    let o = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(
            [
                "pi-manage-scheduler.service",
                "pi-manage-run@nightly.service",
                "pi-manage-run@nightly.timer",
            ]
            .map(|u| dir.path().join(u)),
        )
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    // A misspelt key or value is only a warning to systemd ("…, ignoring"): fail on any output.
    assert!(
        o.status.success() && stderr.trim().is_empty() && o.stdout.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}
