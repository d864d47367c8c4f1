//! The binary's key, token and admin commands: privacyIDEA's spellings and messages, the
//! error paths (existing files, bad keys, missing SECRET_KEY, unknown admins), and that no
//! secret or partial file is left anywhere.

use std::process::{Command, Output};

use pi_manage::secret::Secret;

struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new(secret_key: bool) -> Install {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let mut cfg = format!(
            "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}/pi.sqlite'\nPI_ENCFILE = '{}/enckey'\nPI_AUDIT_KEY_PRIVATE = '{}/private.pem'\nPI_AUDIT_KEY_PUBLIC = '{}/public.pem'\nPI_PEPPER = 'vecPepper#2024'\n",
            p.display(), p.display(), p.display(), p.display()
        );
        if secret_key {
            cfg.push_str("SECRET_KEY = 'vec-jwt-secret-key-0123456789abcdef'\n");
        }
        std::fs::write(p.join("pi.cfg"), cfg).unwrap();
        let i = Install { dir };
        assert_eq!(
            i.run(&["setup", "create_tables"], &[]).status.code(),
            Some(0)
        );
        i
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pi-manage"));
        c.arg("--picfg")
            .arg(self.path("pi.cfg"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn create_enckey_once_then_refuse() {
    let i = Install::new(false);
    let key = i.path("enckey");
    let o = i.run(&["setup", "create_enckey"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let k = key.display();
    assert_eq!(out(&o), format!("Encryption key written to {k}\nThe file permission of {k} was set to 400!\nPlease ensure, that it is owned by the right user.\n"));
    assert_eq!(std::fs::read(&key).unwrap().len(), 96);
    let o = i.run(&["create_enckey"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        out(&o),
        format!("The file \n\t{k}\nalready exist. We do not overwrite it!\n")
    );
}

#[test]
fn a_bad_enckey_b64_leaves_no_file() {
    let i = Install::new(false);
    for bad in ["c2hvcnQ=", "not base64!!", "QUFB QUFB"] {
        let o = i.run(&["setup", "create_enckey", "--enckey_b64", bad], &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", err(&o));
        assert!(err(&o).contains("no key file was written"), "{}", err(&o));
        assert!(
            !i.path("enckey").exists(),
            "privacyIDEA leaves an empty key file here; we must not"
        );
    }
    let fixed = base64_of(&[7u8; 96]);
    let o = i.run(&["setup", "create_enckey", "-e", &fixed], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read(i.path("enckey")).unwrap(), vec![7u8; 96]);
}

fn base64_of(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| acc << 8 | *b as u32) << (8 * (3 - chunk.len()));
        for k in 0..4 {
            if k <= chunk.len() {
                s.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[test]
fn encrypt_enckey_round_trips_and_unlocks_with_the_passphrase() {
    let i = Install::new(false);
    assert_eq!(
        i.run(&["setup", "create_enckey"], &[]).status.code(),
        Some(0)
    );
    std::fs::write(i.path("pass"), "correct horse\n").unwrap();
    let o = i.run(
        &[
            "setup",
            "encrypt_enckey",
            "enckey",
            "-o",
            "enckey.enc",
            "--password-file",
            "pass",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = std::fs::read_to_string(i.path("enckey.enc")).unwrap();
    assert_eq!(text.len(), 450);
    let key =
        pi_manage::crypto::enckey::EncKey::decrypt_passphrase_file(&text, "correct horse").unwrap();
    assert_eq!(
        key.as_bytes().to_vec(),
        std::fs::read(i.path("enckey")).unwrap()
    );
    // Never overwritten; no prompt without a terminal.
    let o = i.run(
        &[
            "setup",
            "encrypt_enckey",
            "enckey",
            "-o",
            "enckey.enc",
            "--password-env",
            "PW",
        ],
        &[("PW", "x")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(i.path("enckey.enc")).unwrap(), text);
    // No terminal to ask on is a usage error (exit 2), reported before anything starts.
    let o = i.run(&["setup", "encrypt_enckey", "enckey"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no terminal"), "{}", err(&o));
    // Re-encrypt the encrypted file with a new passphrase (needs the old one).
    let o = i.run(
        &[
            "--enckey-passphrase-env",
            "OLD",
            "setup",
            "encrypt_enckey",
            "enckey.enc",
            "--password-env",
            "NEW",
        ],
        &[("OLD", "wrong"), ("NEW", "n")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("wrong passphrase"), "{}", err(&o));
    let o = i.run(
        &[
            "--enckey-passphrase-env",
            "OLD",
            "setup",
            "encrypt_enckey",
            "enckey.enc",
            "--password-env",
            "NEW",
        ],
        &[("OLD", "correct horse"), ("NEW", "n")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let again = pi_manage::crypto::enckey::EncKey::decrypt_passphrase_file(&out(&o), "n").unwrap();
    assert_eq!(again.as_bytes(), key.as_bytes());
}

#[test]
fn createtoken_needs_secret_key_and_prints_a_verifiable_token() {
    let i = Install::new(false);
    let o = i.run(&["api", "createtoken", "-u", "admin"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("pi.cfg has no SECRET_KEY"), "{}", err(&o));
    let i = Install::new(true);
    let o = i.run(
        &[
            "api",
            "createtoken",
            "-u",
            "admin",
            "-r",
            "validate",
            "-d",
            "2",
            "-R",
            "superuser",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..4],
        [
            "Username:   admin",
            "Realm:      superuser",
            "Role:       validate",
            "Validity:   2 days"
        ]
    );
    let token = lines[4].strip_prefix("Auth-Token: ").unwrap();
    let claims = pi_manage::crypto::jwt::verify_api_token(
        &Secret::new("vec-jwt-secret-key-0123456789abcdef"),
        token,
        None,
    )
    .unwrap();
    assert_eq!(
        (
            claims.username.as_str(),
            claims.role.as_str(),
            claims.realm.as_str(),
            claims.rights.as_str()
        ),
        ("admin", "validate", "superuser", "TODO")
    );
    assert_eq!(claims.nonce.len(), 40);
}

#[test]
fn admin_commands() {
    let i = Install::new(false);
    let o = i.run(
        &[
            "admin",
            "add",
            "admin",
            "-e",
            "admin@example.com",
            "--password-env",
            "PW",
        ],
        &[("PW", "Test123!")],
    );
    assert_eq!(
        out(&o),
        "Admin admin was registered successfully.\n",
        "{}",
        err(&o)
    );
    let o = i.run(
        &["admin", "add", "second", "--password-env", "PW"],
        &[("PW", "x")],
    );
    assert_eq!(o.status.code(), Some(0));
    let o = i.run(&["admin", "list"], &[]);
    assert_eq!(
        out(&o),
        format!(
            "Name \t email\n{}\nadmin \t admin@example.com\nsecond \t None\n",
            "=".repeat(30)
        )
    );
    // change only the email: no password needed, none asked for.
    let o = i.run(&["admin", "change", "second", "-e", "s@example.com"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&i.run(&["admin", "list"], &[])).contains("second \t s@example.com"));
    // No password source and no terminal: a clear error, nothing written.
    let o = i.run(&["admin", "add", "third"], &[]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(err(&o).contains("no terminal"), "{}", err(&o));
    assert!(!out(&i.run(&["admin", "list"], &[])).contains("third"));
    // Delete, and delete of an unknown admin is a clean error.
    let o = i.run(&["admin", "delete", "second"], &[]);
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "Deleting admin second\n".to_string())
    );
    let o = i.run(&["admin", "delete", "nobody"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "Deleting admin nobody\n");
    assert!(
        err(&o).contains("The requested Admin could not be found"),
        "{}",
        err(&o)
    );
    assert!(!err(&o).contains("Traceback"));
    // Secrets never in the output — stdout and stderr, as JSON and as text — neither when the
    // command succeeds nor when it fails after reading the password (here: the database of
    // another pi.cfg cannot be reached, so the error names the connection).
    std::fs::write(
        i.path("unreachable.cfg"),
        "SQLALCHEMY_DATABASE_URI = 'postgresql://pi:DbPa55word@127.0.0.1:1/pi'\nPI_PEPPER = 'vecPepper'\n",
    )
    .unwrap();
    for (cfg, fails) in [("pi.cfg", false), ("unreachable.cfg", true)] {
        for format in ["json", "text"] {
            let o = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
                .arg("--picfg")
                .arg(i.path(cfg))
                .args(["--output", format, "admin", "add", "admin"])
                .args(["--password-env", "PW"])
                .env("PW", "Sup3rS3cret")
                .env_remove("PRIVACYIDEA_CONFIGFILE")
                .output()
                .unwrap();
            let (stdout, stderr) = (out(&o), err(&o));
            assert_eq!(
                o.status.code() != Some(0),
                fails,
                "{cfg} {format}: {stderr}"
            );
            if fails && format == "text" {
                assert!(
                    stderr.contains("127.0.0.1"),
                    "the failure is explained on stderr: {stderr}"
                );
            }
            for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                for secret in ["Sup3rS3cret", "vecPepper", "DbPa55word"] {
                    assert!(
                        !text.contains(secret),
                        "{cfg} {format} {stream} shows {secret}: {text}"
                    );
                }
            }
        }
    }
}

#[test]
fn create_audit_keys_refuses_to_overwrite() {
    let i = Install::new(false);
    let o = i.run(&["setup", "create_audit_keys"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let pem = std::fs::read_to_string(i.path("private.pem")).unwrap();
    let o = i.run(&["create_audit_keys"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("already exists. We do not overwrite it!"),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read_to_string(i.path("private.pem")).unwrap(), pem);
}
