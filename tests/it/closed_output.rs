//! Every command with its stdout gone — a pipe whose reader has exited (`| head`) or a closed
//! descriptor (`>&-`) — and with stderr closed: no panic, no abort, and the work is done
//! all the same. Each command sequence runs three times on identical installations (stdout
//! open, broken pipe, closed); exit codes and the state each run leaves must match, so a
//! command that stopped working (or a `run` that aborted before its tasks) fails the test.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};

use crate::hostile::Site;

/// How the child's stdout (or stderr) is connected.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sink {
    Open,
    /// A pipe whose read end is closed before the child starts: every write is EPIPE.
    BrokenPipe,
    /// No descriptor at all (`>&-`): every write is EBADF.
    Closed,
}

/// A pipe with its read end already closed.
fn broken_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

fn run(site: &Site, args: &[&str], out: Sink, err: Sink) -> Output {
    let bin = env!("CARGO_BIN_EXE_pi-manage");
    let picfg = site.path("pi.cfg");
    let mut full = vec!["--picfg", picfg.to_str().unwrap()];
    if !args[0].starts_with("--") {
        full.extend_from_slice(args);
    } else {
        full = args.to_vec();
    }
    // `>&-` needs a shell: `exec` replaces it, so the status is the binary's own.
    let mut redirect = String::new();
    if out == Sink::Closed {
        redirect.push_str(" >&-");
    }
    if err == Sink::Closed {
        redirect.push_str(" 2>&-");
    }
    let mut cmd = if redirect.is_empty() {
        let mut c = Command::new(bin);
        c.args(&full);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("exec \"$0\" \"$@\"{redirect}"))
            .arg(bin)
            .args(&full);
        c
    };
    cmd.current_dir(site.dir.path())
        .env_remove("PRIVACYIDEA_CONFIGFILE")
        .env("PIM_TEST_ADMIN_PASSWORD", "a-password-for-bob")
        .stdin(Stdio::null());
    if out == Sink::BrokenPipe {
        cmd.stdout(broken_pipe());
    }
    if err == Sink::BrokenPipe {
        cmd.stderr(broken_pipe());
    }
    cmd.output().unwrap()
}

/// What a run left behind: row counts of the tables commands change, and the files (digits
/// masked, so time-stamped names compare).
fn state(site: &Site) -> String {
    let mut conn = site.conn();
    let mut s = String::new();
    for table in [
        "pidea_audit",
        "admin",
        "policy",
        "challenge",
        "authcache",
        "serviceuser",
    ] {
        let n = conn
            .query_rows(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .map(|r| format!("{:?}", r[0].get(0)))
            .unwrap_or_else(|_| "missing".into());
        s.push_str(&format!("{table}={n} "));
    }
    let mut files: Vec<String> = walk(site.dir.path())
        .into_iter()
        .map(|p| {
            p.strip_prefix(site.dir.path())
                .unwrap()
                .display()
                .to_string()
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect()
        })
        .collect();
    files.sort();
    s + &files.join(",")
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

fn prepare(site: &Site) {
    let d = site.dir.path();
    site.write(
        "pi.cfg",
        format!(
            "SQLALCHEMY_DATABASE_URI = 'sqlite:///{0}/pi.sqlite'\nSECRET_KEY = 'top-secret-key-value'\nPI_PEPPER = 'pepper-value'\nPI_ENCFILE = '{0}/enckey'\nPI_AUDIT_KEY_PRIVATE = '{0}/private.pem'\nPI_AUDIT_KEY_PUBLIC = '{0}/public.pem'\n",
            d.display()
        ),
    );
    site.write(
        "job.yaml",
        "version: 1\nname: closed\nschedule: '@daily'\ntasks:\n  - kind: challenge_cleanup\n  - kind: audit_rotate\n    older_than: 2d\n",
    );
    site.write("rules.yaml", "- rotate: 3\n  action: .*\n");
    site.write(
        "policies.yaml",
        "- name: closed-pipe\n  scope: admin\n  action: {enrollHOTP: true}\n",
    );
    std::fs::create_dir(site.path("backups")).unwrap();
    std::fs::create_dir(site.path("conf")).unwrap();
    site.write("conf/pi.cfg", "SECRET_KEY = 'x'\n");
}

/// Every command, in an order where each one has what it needs (keys before signing, an
/// admin before changing it); `true` marks those that print to stdout when it is open.
const COMMANDS: &[(&[&str], bool)] = &[
    (&["--version"], true),
    (&["--help"], true),
    (&["schema"], true),
    (&["validate", "job.yaml"], true),
    (&["db", "current"], true),
    (&["db", "check"], true),
    (&["setup", "create_tables"], true),
    (&["setup", "create_enckey"], true),
    (&["setup", "create_audit_keys"], true),
    (
        &[
            "setup",
            "encrypt_enckey",
            "enckey",
            "--password-env",
            "PIM_TEST_ADMIN_PASSWORD",
        ],
        true,
    ),
    (&["run", "job.yaml"], true),
    (
        &["audit", "rotate", "--config", "rules.yaml", "--dryrun"],
        true,
    ),
    (&["audit", "rotate", "--age", "1"], true),
    (
        &[
            "rotate_audit",
            "--highwatermark",
            "1",
            "--lowwatermark",
            "0",
        ],
        true,
    ),
    (&["audit", "verify"], true),
    (&["audit", "dump"], false),
    (&["config", "challenge", "cleanup"], true),
    (
        &["config", "import", "-t", "policy", "-i", "policies.yaml"],
        true,
    ),
    (
        &[
            "config",
            "policy",
            "create",
            "second",
            "admin",
            "enrollTOTP",
        ],
        false,
    ),
    (&["config", "policy", "disable", "second"], false),
    (&["config", "policy", "enable", "second"], false),
    (&["config", "policy", "delete", "second"], false),
    (&["config", "policy", "list"], true),
    (&["config", "export", "-t", "policy"], true),
    (&["config", "authcache", "cleanup"], true),
    (&["config", "metrics", "cleanup"], true),
    (&["config", "remembered_device", "cleanup"], true),
    (
        &[
            "admin",
            "add",
            "bob",
            "--password-env",
            "PIM_TEST_ADMIN_PASSWORD",
        ],
        true,
    ),
    (
        &["admin", "change", "bob", "--email", "bob@example.com"],
        false,
    ),
    (&["admin", "list"], true),
    (&["api", "createtoken", "-u", "bob"], true),
    (&["admin", "delete", "bob"], true),
    (&["schedule", "--list", "job.yaml"], true),
    (&["history"], true),
    (&["authlog", "cleanup", "--age", "30"], true),
    (&["usercache", "cleanup"], true),
    (&["conditionalaccess", "list-blocked-ips"], true),
    (&["conditionalaccess", "purge-expired-blocks"], true),
    (&["conditionalaccess", "list-locked-users"], true),
    (&["conditionalaccess", "purge-expired-locks"], true),
    (&["backup", "create", "-d", "backups", "-c", "conf"], true),
    (&["backup", "verify", ARCHIVE], true),
    (&["audit", "rotate", "--bogus-flag"], false),
    (&["setup", "drop_tables", "--dropit", "yes"], true),
];

/// Stands for the archive `backup create` wrote in each installation.
const ARCHIVE: &str = "{archive}";

/// The arguments with [`ARCHIVE`] replaced by this site's archive.
fn resolve(site: &Site, args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| {
            if *a != ARCHIVE {
                return a.to_string();
            }
            let found: Vec<_> = std::fs::read_dir(site.path("backups"))
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "zst"))
                .collect();
            assert_eq!(found.len(), 1, "one archive: {found:?}");
            found[0].display().to_string()
        })
        .collect()
}

/// Commands whose stdout is their product: a reader that went away ends them with 141
/// (the shell's status for SIGPIPE), as `audit dump` always did.
fn is_product(args: &[&str]) -> bool {
    matches!(
        args,
        ["schema"] | ["audit", "dump"] | ["config", "export", ..]
    )
}

#[track_caller]
fn no_crash(args: &[&str], o: &Output, how: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code().is_some_and(|c| c != 101),
        "{args:?} with {how}: {:?}\n{err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{args:?} with {how}:\n{err}");
}

#[test]
fn every_command_survives_a_closed_stdout_and_still_does_its_work() {
    let sites: Vec<Site> = (0..3).map(|_| Site::new()).collect();
    for s in &sites {
        prepare(s);
    }
    let sinks = [Sink::Open, Sink::BrokenPipe, Sink::Closed];
    for (args, prints) in COMMANDS {
        let outputs: Vec<Output> = sites
            .iter()
            .zip(sinks)
            .map(|(site, sink)| {
                let args = resolve(site, args);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run(site, &args, sink, Sink::Open)
            })
            .collect();
        let open = &outputs[0];
        if *prints {
            assert!(
                !open.stdout.is_empty(),
                "{args:?} printed nothing, so the closed runs prove nothing: {}",
                String::from_utf8_lossy(&open.stderr)
            );
        }
        for (o, sink) in outputs.iter().zip(sinks) {
            no_crash(args, o, &format!("stdout {sink:?}"));
        }
        for (o, sink) in outputs.iter().zip(sinks).skip(1) {
            if is_product(args) && o.status.code() == Some(141) {
                continue;
            }
            assert_eq!(
                o.status.code(),
                open.status.code(),
                "{args:?}: stdout {sink:?} changed the exit code\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let states: Vec<String> = sites.iter().map(state).collect();
        assert_eq!(
            states[1], states[0],
            "{args:?}: broken pipe changed the work"
        );
        assert_eq!(
            states[2], states[0],
            "{args:?}: closed stdout changed the work"
        );
    }
}

#[test]
fn a_run_whose_reader_left_still_runs_every_task() {
    // `pi-manage run job.yaml | head -1` used to abort before the first task (rc 101).
    let site = Site::new();
    prepare(&site);
    assert_eq!(site.audit_rows(), 5);
    let o = run(&site, &["run", "job.yaml"], Sink::BrokenPipe, Sink::Open);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(site.audit_rows(), 1, "rows older than 2 days were deleted");
}

#[test]
fn commands_that_report_problems_survive_a_closed_stderr() {
    let site = Site::new();
    prepare(&site);
    site.write(
        "bad.yaml",
        "version: 1\nname: bad\ntasks:\n  - kind: nope\n",
    );
    for (args, code) in [
        (&["validate", "bad.yaml"][..], 2),
        (&["run", "bad.yaml"], 2),
        (&["audit", "rotate", "--age", "-1"], 2),
        (&["audit", "rotate", "--bogus-flag"], 2),
        (&["config", "challenge", "cleanup", "--age", "0"], 2),
        (&["admin", "delete", "nobody"], 1),
        (&["run", "job.yaml"], 0),
    ] {
        for sink in [Sink::Closed, Sink::BrokenPipe] {
            let o = run(&site, args, Sink::Open, sink);
            no_crash(args, &o, &format!("stderr {sink:?}"));
            assert_eq!(o.status.code(), Some(code), "{args:?} with stderr {sink:?}");
        }
        let both = run(&site, args, Sink::BrokenPipe, Sink::BrokenPipe);
        no_crash(args, &both, "both closed");
        assert_eq!(both.status.code(), Some(code), "{args:?} with both closed");
    }
}
