//! The built binary's generated documentation: `pi-manage completions SHELL` and
//! `pi-manage man [--dir DIR]`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

fn pim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let o = pim(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn completions_for_every_shell_name_the_commands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef pi-manage"),
        ("fish", "complete -c pi-manage"),
        ("elvish", "set edit:completion:arg-completer[pi-manage]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no '{marker}'");
        for word in ["schedule", "createtoken", "picfg", "chunksize"] {
            assert!(script.contains(word), "{shell}: no '{word}'");
        }
    }
    let bad = pim(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Run bash's completion function the way bash does on <TAB> and return its candidates.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let words_q: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cur = words.last().unwrap();
    let prev = words[words.len() - 2];
    let line = words.join(" ");
    let program = format!(
        "source '{}'\n\
         COMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         fn=$(complete -p pi-manage | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\
         \"$fn\" pi-manage '{cur}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words_q.join(" "),
        words.len() - 1,
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_completes_commands_and_options() {
    if !have("bash") {
        eprintln!("note: bash completion test SKIPPED (no bash)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pi-manage.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    assert_eq!(
        bash_complete(&script, &["pi-manage", "sched"]),
        ["schedule"]
    );
    let audit = bash_complete(&script, &["pi-manage", "audit", ""]);
    for sub in ["rotate", "verify", "dump"] {
        assert!(audit.iter().any(|w| w == sub), "{audit:?}");
    }
    let rotate = bash_complete(&script, &["pi-manage", "audit", "rotate", "--chu"]);
    assert_eq!(rotate, ["--chunksize"]);
    let nested = bash_complete(
        &script,
        &["pi-manage", "config", "challenge", "cleanup", "--dry"],
    );
    assert_eq!(nested, ["--dryrun"]);
}

#[test]
fn man_prints_the_top_page() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH pi-manage 1"), "{page}");
    assert!(page.contains(".SH SYNOPSIS"));
    assert!(page.contains(".SH \"GLOBAL OPTIONS\""), "{page}");
    // The subcommands are listed, the hidden deprecated aliases are not.
    assert!(page.contains("pi\\-manage\\-schedule(1)"), "{page}");
    assert!(!page.contains("rotate_audit"), "{page}");
    if have("groff") {
        let o = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(page.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(o.status.success());
        assert_eq!(String::from_utf8_lossy(&o.stderr), "", "groff warnings");
    } else {
        eprintln!("note: groff check of the man page SKIPPED (no groff)");
    }
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let o = pim(&["man", "--dir", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for want in [
        "pi-manage.1",
        "pi-manage-audit.1",
        "pi-manage-audit-rotate.1",
        "pi-manage-config-challenge-cleanup.1",
        "pi-manage-schedule.1",
        "pi-manage-completions.1",
    ] {
        assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
    }
    // No pages for clap's `help` nor the hidden privacyIDEA aliases; nothing but pages.
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("pi-manage") && n.ends_with(".1")),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("help") || n.contains("rotate_audit")),
        "{names:?}"
    );

    let rotate = out.join("pi-manage-audit-rotate.1");
    let page = std::fs::read_to_string(&rotate).unwrap();
    assert!(page.contains(".TH pi-manage-audit-rotate 1"), "{page}");
    assert!(page.contains("\\fBpi\\-manage audit rotate\\fR"), "{page}");
    assert!(page.contains("\\-\\-chunksize"), "{page}");
    let mode = std::fs::metadata(&rotate).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);

    // Writing again replaces the pages in place.
    let again = pim(&["man", "--dir", out.to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), names.len());
}

#[test]
fn man_dir_that_cannot_be_created_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = pim(&["man", "--dir", file.join("man1").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("pi-manage: man: writing pages into"),
        "{err}"
    );
}
