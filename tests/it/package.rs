//! The Debian package: `dist/deb/build.sh` packages the binary this test run built (no second
//! compile), and the extracted package holds a working binary, its man pages and completions,
//! the systemd units, the example jobs, and maintainer scripts that create the job directory.
//! Needs cargo-deb; without it the test is skipped with a note, except under CI=true.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn have_cargo_deb() -> bool {
    Command::new(cargo())
        .args(["deb", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ok(what: &str, o: Output) -> Output {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The cargo profile and target directory of the binary under test, so the package is made
/// of exactly that build.
fn built_profile() -> (String, PathBuf) {
    let exe = Path::new(env!("CARGO_BIN_EXE_pi-manage"));
    let profile_dir = exe.parent().expect("profile dir");
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let name = profile_dir.file_name().unwrap().to_string_lossy();
    let profile = if name == "debug" {
        "dev".to_string()
    } else {
        name.into_owned()
    };
    (profile, target_dir)
}

#[test]
fn debian_package_installs_a_working_pi_manage() {
    if !have_cargo_deb() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cargo-deb is required in CI (.ci/run installs it: cargo install cargo-deb --locked)"
        );
        eprintln!(
            "note: Debian package test SKIPPED: cargo-deb is not installed \
             (cargo install cargo-deb --locked)"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let (profile, target_dir) = built_profile();
    // --fast: lighter xz compression; the package's contents are the same.
    ok(
        "dist/deb/build.sh",
        Command::new(Path::new(REPO).join("dist/deb/build.sh"))
            .args(["--profile", &profile, "--no-build", "--fast", "-o"])
            .arg(format!("{}/", out.display()))
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO", cargo())
            .current_dir(REPO)
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    let debs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    let deb = &debs[0];
    let version = env!("CARGO_PKG_VERSION");
    assert!(deb
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&format!("pi-manage_{version}-1_")));

    let field = |name: &str| {
        let o = ok(
            "dpkg-deb -f",
            Command::new("dpkg-deb")
                .arg("-f")
                .arg(deb)
                .arg(name)
                .output()
                .unwrap(),
        );
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    assert_eq!(field("Package"), "pi-manage");
    assert_eq!(field("Section"), "admin");
    assert!(field("Depends").contains("libc6"), "{}", field("Depends"));

    let root = work.path().join("root");
    ok(
        "dpkg-deb -x",
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(&root)
            .output()
            .unwrap(),
    );

    // The binary, and what it prints.
    let bin = root.join("usr/bin/pi-manage");
    assert_eq!(
        std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let run = |args: &[&str]| {
        let o = ok(
            &format!("pi-manage {args:?}"),
            Command::new(&bin)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        );
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(run(&["--version"]).trim(), format!("pi-manage {version}"));
    let bash = run(&["completions", "bash"]);
    assert!(bash.contains("complete -F"), "{bash}");
    assert!(run(&["man"]).contains(".TH pi-manage 1"));

    // Completions in the shells' standard places, the same the binary prints.
    let shipped_bash =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/pi-manage"))
            .unwrap();
    assert_eq!(shipped_bash, bash);
    for path in [
        "usr/share/zsh/vendor-completions/_pi-manage",
        "usr/share/fish/vendor_completions.d/pi-manage.fish",
    ] {
        assert!(root.join(path).is_file(), "{path}");
    }

    // Man pages, compressed, one per command.
    let man1 = root.join("usr/share/man/man1");
    for page in [
        "pi-manage.1.gz",
        "pi-manage-schedule.1.gz",
        "pi-manage-audit-rotate.1.gz",
    ] {
        assert!(man1.join(page).is_file(), "{page}");
    }
    let gz = std::fs::File::open(man1.join("pi-manage-audit-rotate.1.gz")).unwrap();
    let mut page = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut page).unwrap();
    assert!(page.contains(".TH pi-manage-audit-rotate 1"), "{page}");

    // The units, as committed.
    for unit in [
        "pi-manage-scheduler.service",
        "pi-manage-run@.service",
        "pi-manage-run@.timer",
    ] {
        let shipped = std::fs::read(root.join("usr/lib/systemd/system").join(unit)).unwrap();
        let committed = std::fs::read(Path::new(REPO).join("dist/systemd").join(unit)).unwrap();
        assert_eq!(shipped, committed, "{unit}");
    }

    // Every example job, with the files they refer to.
    let examples = root.join("usr/share/doc/pi-manage/examples");
    for file in [
        "nightly.yaml",
        "backup.yaml",
        "quickstart.yaml",
        "quickstart/pi.cfg",
    ] {
        assert!(examples.join(file).is_file(), "{file}");
    }
    let validate = Command::new(&bin)
        .arg("validate")
        .arg(examples.join("nightly.yaml"))
        .output()
        .unwrap();
    ok("validate the shipped example", validate);

    // The maintainer scripts create the empty job directory (dpkg runs them with DPKG_ROOT
    // for installs into another root) and remove it on purge while it is still empty.
    let control = work.path().join("control");
    ok(
        "dpkg-deb -e",
        Command::new("dpkg-deb")
            .arg("-e")
            .arg(deb)
            .arg(&control)
            .output()
            .unwrap(),
    );
    let jobs = root.join("etc/privacyidea/jobs");
    assert!(!jobs.exists());
    let script = |name: &str, arg: &str| {
        ok(
            &format!("{name} {arg}"),
            Command::new("sh")
                .arg(control.join(name))
                .arg(arg)
                .env("DPKG_ROOT", &root)
                .output()
                .unwrap(),
        );
    };
    script("postinst", "configure");
    assert!(jobs.is_dir());
    assert_eq!(std::fs::read_dir(&jobs).unwrap().count(), 0);
    assert_eq!(
        std::fs::metadata(&jobs).unwrap().permissions().mode() & 0o777,
        0o755
    );
    script("prerm", "remove");
    script("postrm", "purge");
    assert!(!jobs.exists());
}
