//! Hostile input, run through the built binary under a 1.5 GB address-space limit
//! (`prlimit --as`): devices, FIFOs, directories and oversized files where a file is expected,
//! alias bombs, deep nesting and YAML tags in job files, rules files, policy imports and
//! pi.cfg. Every one must end in a clean refusal — exit 2, no signal, no panic, no allocation
//! failure — that names the file with `line:column`, with the database untouched.

use std::path::PathBuf;
use std::process::{Command, Output};

use chrono::{Local, TimeDelta};
use pi_manage::db::{self, Connection, OpenOptions};
use pi_manage::dburl::DbUrl;

use crate::harness::{ids, insert_audit};

/// The address-space limit every run here gets: a process that tried to hold an expanded
/// alias bomb or a device's endless bytes would abort against it instead of stalling the box.
const ADDRESS_SPACE: &str = "--as=1500000000";

/// A SQLite installation with 5 audit rows and a pi.cfg, in a directory of its own.
pub(crate) struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pi.sqlite");
        std::fs::write(
            dir.path().join("pi.cfg"),
            format!(
                "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\nSECRET_KEY = 'top-secret-key-value'\nPI_PEPPER = 'pepper-value'\n",
                db.display()
            ),
        )
        .unwrap();
        let site = Site { dir };
        let mut c = db::open(
            &site.url(),
            &OpenOptions {
                create: true,
                ..Default::default()
            },
        )
        .unwrap();
        c.execute_batch(include_str!("../../src/db/ddl/sqlite_full.sql"))
            .unwrap();
        let now = Local::now().naive_local();
        let rows: Vec<_> = (1..=5)
            .map(|k| (k, now - TimeDelta::days(k), "POST /validate/check", "u"))
            .collect();
        insert_audit(c.as_mut(), &rows);
        site
    }

    fn url(&self) -> DbUrl {
        DbUrl::parse(&format!(
            "sqlite:///{}",
            self.dir.path().join("pi.sqlite").display()
        ))
        .unwrap()
    }

    pub fn conn(&self) -> Box<dyn Connection> {
        db::open(&self.url(), &OpenOptions::default()).unwrap()
    }

    pub fn audit_rows(&self) -> usize {
        ids(self.conn().as_mut(), "pidea_audit").len()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn fifo(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        p
    }

    /// Run the binary with `--picfg` of this site, under the address-space limit.
    pub fn run(&self, args: &[&str]) -> Output {
        let picfg = self.path("pi.cfg");
        self.run_bare(&[&["--picfg", picfg.to_str().unwrap()], args].concat())
    }

    /// Run the binary with exactly `args`, under the address-space limit.
    pub fn run_bare(&self, args: &[&str]) -> Output {
        Command::new("prlimit")
            .arg(ADDRESS_SPACE)
            .arg(env!("CARGO_BIN_EXE_pi-manage"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .expect("prlimit (util-linux) runs the hostile-input suite")
    }
}

/// A clean refusal: exit 2 (not a signal, not 101), no panic or allocation failure, and the
/// message names `file` followed by `:line:column`.
#[track_caller]
pub(crate) fn assert_refused_at(o: &Output, file: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{file}: {:?}\n{err}", o.status);
    for bad in [
        "panicked",
        "memory allocation",
        "overflow",
        "RUST_BACKTRACE",
    ] {
        assert!(!err.contains(bad), "{file}: {bad}\n{err}");
    }
    let located = regex::Regex::new(&format!(r"{}:\d+:\d+: ", regex::escape(file))).unwrap();
    assert!(located.is_match(&err), "no {file}:line:column in\n{err}");
}

fn job(tasks_yaml: &str) -> String {
    format!("version: 1\nname: hostile\ntasks:\n{tasks_yaml}")
}

/// Nine levels of nine aliases each: 9^9 (387 million) strings once expanded.
fn alias_bomb(indent: &str) -> String {
    let mut s = format!("{indent}a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        s.push_str(&format!("{indent}a{i}: &a{i} [{refs}]\n"));
    }
    s
}

fn deep_flow(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn devices_fifos_directories_and_huge_files_are_refused_where_a_file_is_expected() {
    let s = Site::new();
    let fifo = s.fifo("fifo.yaml");
    std::fs::create_dir(s.path("dir.yaml")).unwrap();
    // A sparse file just over the 16 MiB limit for documents.
    let big = s.path("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((16 << 20) + 1)
        .unwrap();
    let fifo = fifo.to_str().unwrap();
    for (file, shown) in [
        ("/dev/zero", "/dev/zero"),
        (fifo, fifo),
        ("dir.yaml", "dir.yaml"),
        ("big.yaml", "big.yaml"),
    ] {
        let o = s.run(&["validate", file]);
        assert_refused_at(&o, shown);
        let o = s.run(&["run", file]);
        assert_refused_at(&o, shown);
        // privacyIDEA's rules file, from the command line and from a job file.
        let o = s.run(&["audit", "rotate", "--config", file]);
        let rules_shown = if file.starts_with('/') {
            file.to_string()
        } else {
            s.path(file).display().to_string()
        };
        assert_refused_at(&o, &rules_shown);
        s.write(
            "uses-rules.yaml",
            job(&format!(
                "  - kind: audit_rotate\n    rules_file: {}\n",
                s.path(file).display()
            )),
        );
        let o = s.run(&["validate", "uses-rules.yaml"]);
        assert_refused_at(&o, &s.path(file).display().to_string());
        // A policy import.
        let o = s.run(&["config", "import", "-t", "policy", "-i", file]);
        assert_refused_at(&o, shown);
        // pi.cfg itself.
        let o = s.run_bare(&["--picfg", file, "admin", "list"]);
        let picfg_shown = if file.starts_with('/') {
            file.to_string()
        } else {
            s.path(file).display().to_string()
        };
        assert_refused_at(&o, &picfg_shown);
    }
    let o = s.run(&["validate", "big.yaml"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("larger than 16 MiB"));
    // Key files named in pi.cfg: refused at the setting, before any task reads them.
    for (key, file) in [
        ("PI_ENCFILE", "/dev/zero"),
        ("PI_AUDIT_KEY_PRIVATE", fifo),
        ("PI_AUDIT_KEY_PUBLIC", s.path("dir.yaml").to_str().unwrap()),
    ] {
        let cfg = s.write(
            "keys.cfg",
            format!(
                "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\n\n{key} = '{file}'\n",
                s.path("pi.sqlite").display()
            ),
        );
        let cfg = cfg.to_str().unwrap();
        for args in [
            &["admin", "list"][..],
            &["setup", "create_enckey"],
            &["audit", "verify"],
        ] {
            let o = s.run_bare(&[&["--picfg", cfg], args].concat());
            assert_refused_at(&o, cfg);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains(&format!(
                    "{cfg}:3:1: {key} names {file}: not a regular file"
                )),
                "{err}"
            );
        }
    }
    // A password file is a secret: refused up front (exit 2), naming the file.
    for file in ["/dev/zero", fifo] {
        let o = s.run(&["admin", "add", "bob", "--password-file", file]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains(file));
    }
    assert_eq!(s.audit_rows(), 5, "nothing was touched");
}

#[test]
fn alias_bombs_are_refused_in_job_rules_and_policy_files() {
    let s = Site::new();
    s.write(
        "job.yaml",
        format!("{}{}", job("  - kind: challenge_cleanup\n"), alias_bomb("")),
    );
    assert_refused_at(&s.run(&["validate", "job.yaml"]), "job.yaml");
    assert_refused_at(&s.run(&["run", "job.yaml"]), "job.yaml");

    s.write(
        "rules.yaml",
        format!("- rotate: 5\n  action: x\n{}", alias_bomb("  ")),
    );
    let rules = s.path("rules.yaml").display().to_string();
    assert_refused_at(
        &s.run(&["audit", "rotate", "--config", "rules.yaml"]),
        &rules,
    );

    s.write("policies.yaml", alias_bomb(""));
    assert_refused_at(
        &s.run(&["config", "import", "-t", "policy", "-i", "policies.yaml"]),
        "policies.yaml",
    );
    let o = s.run(&["config", "import", "-t", "policy", "-i", "policies.yaml"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("grows past"));
    assert_eq!(s.audit_rows(), 5);
}

#[test]
fn deep_nesting_is_refused_everywhere() {
    let s = Site::new();
    // Flow collections 200,000 deep in a job file, a rules file and policy imports (JSON and
    // YAML), block mappings 1000 deep, and a pi.cfg value 60,000 brackets deep.
    s.write(
        "flow.yaml",
        format!("version: 1\nname: deep\ntasks: {}\n", deep_flow(200_000)),
    );
    assert_refused_at(&s.run(&["validate", "flow.yaml"]), "flow.yaml");
    let block: String = (0..1000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    s.write("block.yaml", format!("version: 1\nname: deep\n{block}"));
    assert_refused_at(&s.run(&["validate", "block.yaml"]), "block.yaml");
    s.write(
        "rules.yaml",
        format!("- rotate: 5\n  action: {}\n", deep_flow(200_000)),
    );
    let rules = s.path("rules.yaml").display().to_string();
    assert_refused_at(
        &s.run(&["audit", "rotate", "--config", "rules.yaml"]),
        &rules,
    );
    s.write("policies.json", deep_flow(200_000));
    assert_refused_at(
        &s.run(&["config", "import", "-t", "policy", "-i", "policies.json"]),
        "policies.json",
    );
    s.write(
        "policies.yaml",
        format!("policies: {}\n", deep_flow(200_000)),
    );
    assert_refused_at(
        &s.run(&["config", "import", "-t", "policy", "-i", "policies.yaml"]),
        "policies.yaml",
    );
    let db = s.path("pi.sqlite");
    s.write(
        "deep.cfg",
        format!(
            "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\nX = {}\n",
            db.display(),
            deep_flow(60_000)
        ),
    );
    let cfg = s.path("deep.cfg");
    let o = s.run_bare(&["--picfg", cfg.to_str().unwrap(), "admin", "list"]);
    assert_refused_at(&o, cfg.to_str().unwrap());
    assert_eq!(s.audit_rows(), 5);
}

#[test]
fn yaml_tags_are_refused_not_ignored() {
    let s = Site::new();
    s.write(
        "job.yaml",
        job("  - kind: challenge_cleanup\n    name: !!python/object:os.system x\n"),
    );
    let o = s.run(&["validate", "job.yaml"]);
    assert_refused_at(&o, "job.yaml");
    assert!(String::from_utf8_lossy(&o.stderr).contains("tags are not supported"));
    s.write(
        "rules.yaml",
        "- !!python/object/apply:os.system\n  rotate: 5\n  action: x\n",
    );
    let rules = s.path("rules.yaml").display().to_string();
    assert_refused_at(
        &s.run(&["audit", "rotate", "--config", "rules.yaml"]),
        &rules,
    );
    s.write("policies.yaml", "- !!map\n  name: p\n  scope: admin\n");
    assert_refused_at(
        &s.run(&["config", "import", "-t", "policy", "-i", "policies.yaml"]),
        "policies.yaml",
    );
    assert_eq!(s.audit_rows(), 5);
}

#[test]
fn files_that_are_not_utf8_are_refused_at_the_first_bad_byte() {
    let s = Site::new();
    s.write("bad.yaml", b"- rotate: 5\n  action: \xff\n");
    let bad = s.path("bad.yaml").display().to_string();
    let at = |o: &Output, place: &str| {
        assert_refused_at(o, place);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("{place}:2:11: ")), "{err}");
    };
    at(&s.run(&["audit", "rotate", "--config", "bad.yaml"]), &bad);
    at(
        &s.run(&["config", "import", "-t", "policy", "-i", "bad.yaml"]),
        "bad.yaml",
    );
    at(&s.run(&["validate", "bad.yaml"]), "bad.yaml");
    assert_eq!(s.audit_rows(), 5);
}

/// `assert_refused_at` itself: it must fail for a crash, a wrong exit code and a message
/// without a place, or the suite above would prove nothing.
#[test]
fn the_refusal_check_fails_for_what_it_guards_against() {
    use std::os::unix::process::ExitStatusExt;
    let out = |code: i32, err: &str| Output {
        status: std::process::ExitStatus::from_raw(code),
        stdout: Vec::new(),
        stderr: err.as_bytes().to_vec(),
    };
    let fails = |o: Output| std::panic::catch_unwind(|| assert_refused_at(&o, "f.yaml")).is_err();
    assert!(!fails(out(2 << 8, "f.yaml:3:4: refused")));
    assert!(fails(out(6, "f.yaml:3:4: refused")), "SIGABRT");
    assert!(fails(out(101 << 8, "f.yaml:3:4: refused")), "exit 101");
    assert!(fails(out(2 << 8, "f.yaml: refused")), "no line:column");
    assert!(fails(out(2 << 8, "f.yaml:3:4: thread 'main' panicked")));
}
