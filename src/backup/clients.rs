//! Running the database client programs a dump or restore needs — `pg_dump`/`psql` and
//! `mariadb-dump`/`mysqldump` and `mariadb`/`mysql` — with the connection of a SQLAlchemy URL.
//!
//! Credentials never appear in an argument list (visible to every user in the process list)
//! and are never written near the configuration: PostgreSQL gets the password in the child's
//! `PGPASSWORD` (readable only by the same user), MySQL/MariaDB in a `[client]` option file in
//! a private 0700 temporary directory that is removed as soon as the client has finished
//! (privacyIDEA 3.14 does the same; reference §11.0). Programs run without a shell. Their
//! standard error is kept (the tail of it) for the error message; passwords are scrubbed from
//! it in case a tool ever echoes one.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;

use tempfile::TempDir;

use super::{BackupError, DumpKind, ErrorKind};
use crate::dbtls::MysqlTls;
use crate::dburl::DbUrl;
use crate::interrupt::Interrupt;

/// The first of `names` found on `PATH` (as `shutil.which`).
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if is_executable(&p) {
                return Some(p);
            }
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// privacyIDEA's message for a missing client program (exit 2).
pub fn missing_program(cmd: &str, kind: DumpKind) -> BackupError {
    let package = match kind {
        DumpKind::Postgres => "postgresql-client",
        _ => "mariadb-client (or mysql-client)",
    };
    BackupError::invalid(format!(
        "Could not find the '{cmd}' command, which is needed to dump and restore a {} database. Install the {package} package.",
        kind.label()
    ))
}

/// The programs to try, best first: the server's own flavour first on MySQL/MariaDB (a MySQL
/// 8 server is best dumped by MySQL's `mysqldump`, MariaDB by `mariadb-dump`).
pub fn candidates(kind: DumpKind, dump: bool, mariadb: bool) -> &'static [&'static str] {
    match (kind, dump, mariadb) {
        (DumpKind::Postgres, true, _) => &["pg_dump"],
        (DumpKind::Postgres, false, _) => &["psql"],
        (_, true, true) => &["mariadb-dump", "mysqldump"],
        (_, true, false) => &["mysqldump", "mariadb-dump"],
        (_, false, true) => &["mariadb", "mysql"],
        (_, false, false) => &["mysql", "mariadb"],
    }
}

/// A client program, ready to run.
pub struct ClientCommand {
    pub program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    /// Secrets to scrub from the tool's messages.
    secrets: Vec<String>,
    /// Holds the MySQL option file; removed on drop.
    _private: Option<TempDir>,
}

impl ClientCommand {
    /// The program's file name (`pg_dump`), for messages.
    pub fn name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The argument list (never holds a secret; for tests and logs).
    pub fn args(&self) -> &[OsString] {
        &self.args
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// libpq's environment names of the URL query parameters privacyIDEA passes on.
const PG_ENV: &[(&str, &str)] = &[
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("sslcrl", "PGSSLCRL"),
    ("sslsni", "PGSSLSNI"),
    ("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION"),
    ("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"),
    ("gssencmode", "PGGSSENCMODE"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("application_name", "PGAPPNAME"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("options", "PGOPTIONS"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
];

/// `pg_dump`/`psql` connection arguments and environment for `url`, plus the names of query
/// parameters that cannot be passed on (privacyIDEA warns about them; so do we).
pub fn postgres(program: PathBuf, url: &DbUrl, tool_args: &[&str]) -> (ClientCommand, Vec<String>) {
    let mut hosts: Vec<String> = url.host.iter().cloned().collect();
    let mut ports: Vec<String> = url.port.iter().map(|p| p.to_string()).collect();
    let mut user = url.user.clone();
    let mut env = Vec::new();
    let mut ignored = Vec::new();
    for (k, v) in &url.query {
        match k.as_str() {
            "host" => hosts.push(v.clone()),
            "port" => ports.push(v.clone()),
            "user" if user.is_none() => user = Some(v.clone()),
            "dbname" | "user" => {}
            _ => match PG_ENV.iter().find(|(q, _)| q == k) {
                Some((_, var)) => env.push((var.to_string(), v.clone())),
                None => ignored.push(k.clone()),
            },
        }
    }
    ignored.sort();
    ignored.dedup();
    let mut args: Vec<OsString> = tool_args.iter().map(OsString::from).collect();
    if !hosts.is_empty() {
        args.push("--host".into());
        args.push(hosts.join(",").into());
    }
    if !ports.is_empty() {
        args.push("--port".into());
        args.push(ports.join(",").into());
    }
    if let Some(u) = &user {
        args.push("--username".into());
        args.push(u.into());
    }
    // Never wait on a password prompt: a missing or wrong password fails at once.
    args.push("--no-password".into());
    args.push("--dbname".into());
    args.push(url.database.clone().unwrap_or_default().into());
    let mut secrets = Vec::new();
    if let Some(p) = &url.password {
        env.push(("PGPASSWORD".into(), p.expose().to_string()));
        if !p.is_empty() {
            secrets.push(p.expose().to_string());
        }
    }
    (
        ClientCommand {
            program,
            args,
            env,
            secrets,
            _private: None,
        },
        ignored,
    )
}

/// A value in a MySQL option file: double-quoted, with `\` and `"` escaped (privacyIDEA's
/// exact form), and line breaks escaped so a value can never start a new option.
fn option_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The option file's text: user and password only.
pub fn mysql_option_text(user: &str, password: &str) -> String {
    format!(
        "[client]\nuser = {}\npassword = {}\n",
        option_value(user),
        option_value(password)
    )
}

/// `mariadb-dump`/`mariadb` arguments for `url`: the credentials in a private option file
/// (which must be the first argument), then host, port, socket and character set, then the
/// tool's own arguments; the database name comes last.
pub fn mysql(
    program: PathBuf,
    url: &DbUrl,
    tool_args: &[&str],
) -> Result<ClientCommand, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = super::staged::private_dir(&std::env::temp_dir(), "pi-manage-mysql")
        .map_err(|e| BackupError::io("cannot create a private temporary directory", e))?;
    let cnf = dir.path().join("mysql.cnf");
    let password = url.password.as_ref().map(|p| p.expose()).unwrap_or("");
    let text = mysql_option_text(url.user.as_deref().unwrap_or(""), password);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&cnf)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| BackupError::io(cnf.display(), e))?;
    let mut args: Vec<OsString> = vec![{
        let mut a = OsString::from("--defaults-file=");
        a.push(&cnf);
        a
    }];
    if let Some(h) = &url.host {
        args.push(format!("--host={h}").into());
    }
    if let Some(p) = url.port {
        args.push(format!("--port={p}").into());
    }
    // privacyIDEA drops these query parameters, so its clients use the default socket.
    if let Some(s) = url.query_param("unix_socket") {
        args.push(format!("--socket={s}").into());
    }
    let charset = url.query_param("charset").unwrap_or("utf8mb4");
    args.push(format!("--default-character-set={charset}").into());
    let tls = MysqlTls::from_query(&url.query).map_err(BackupError::invalid)?;
    args.extend(mysql_tls_args(&tls, is_mariadb_client(&program)));
    args.extend(tool_args.iter().map(OsString::from));
    args.push(url.database.clone().unwrap_or_default().into());
    Ok(ClientCommand {
        program,
        args,
        env: Vec::new(),
        secrets: if password.is_empty() {
            vec![]
        } else {
            vec![password.to_string()]
        },
        _private: Some(dir),
    })
}

/// Whether a client program is MariaDB's (`mariadb-dump`, or a `mysqldump` that is MariaDB's
/// under its old name) rather than MySQL's: their TLS options differ.
fn is_mariadb_client(program: &Path) -> bool {
    let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    let named = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("mariadb"))
    };
    if named(program) || named(&real) {
        return true;
    }
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("MariaDB"))
}

/// The client options for the TLS the URL asks for (see `crate::dbtls::MysqlTls`). MariaDB's
/// clients have one switch for checking the server (`--ssl-verify-server-cert`, chain and
/// host name); MySQL's distinguish `--ssl-mode=VERIFY_CA` and `VERIFY_IDENTITY`. With no TLS
/// option both clients use TLS when the server offers it, as the driver does.
pub fn mysql_tls_args(tls: &MysqlTls, mariadb: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    match tls {
        MysqlTls::Preferred => {}
        MysqlTls::Disabled if mariadb => args.push("--skip-ssl".into()),
        MysqlTls::Disabled => args.push("--ssl-mode=DISABLED".into()),
        MysqlTls::Required(r) => {
            if mariadb {
                args.push("--ssl".into());
                if r.verify_cert {
                    args.push("--ssl-verify-server-cert".into());
                }
            } else {
                let mode = match (r.verify_cert, r.verify_identity) {
                    (false, _) => "REQUIRED",
                    (true, false) => "VERIFY_CA",
                    (true, true) => "VERIFY_IDENTITY",
                };
                args.push(format!("--ssl-mode={mode}").into());
            }
            let file = |opt: &str, p: &Path| {
                let mut a = OsString::from(format!("--{opt}="));
                a.push(p);
                a
            };
            if let Some(ca) = &r.ca {
                args.push(file("ssl-ca", ca));
            }
            if let Some(cert) = &r.cert {
                args.push(file("ssl-cert", cert));
                // Without ssl_key the key sits in the certificate file (PyMySQL's reading).
                args.push(file("ssl-key", r.key.as_deref().unwrap_or(cert)));
            }
        }
    }
    args
}

/// Keep the last 8 KiB of a child's standard error.
fn collect_stderr(stderr: ChildStderr) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        let mut r = stderr;
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 16 * 1024 {
                tail.drain(..tail.len() - 8 * 1024);
            }
        }
        tail
    })
}

fn describe_failure(
    cmd: &ClientCommand,
    status: ExitStatus,
    stderr: &[u8],
    what: &str,
) -> BackupError {
    let mut text = String::from_utf8_lossy(stderr).trim().to_string();
    for s in &cmd.secrets {
        text = text.replace(s.as_str(), "***");
    }
    let code = status
        .code()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "killed by a signal".into());
    let mut msg = format!("{what} ({} exit code {code})", cmd.name());
    if !text.is_empty() {
        let last: Vec<&str> = text.lines().rev().take(6).collect();
        let last: Vec<&str> = last.into_iter().rev().collect();
        msg.push_str(": ");
        msg.push_str(&last.join(" | "));
    }
    BackupError::failed(msg)
}

fn spawn(cmd: &ClientCommand, stdin: Stdio, stdout: Stdio) -> Result<Child, BackupError> {
    cmd.command()
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BackupError::failed(format!("cannot start {}: {e}", cmd.name())))
}

fn interrupted(child: &mut Child, sig: i32) -> BackupError {
    let _ = child.kill();
    let _ = child.wait();
    BackupError {
        kind: ErrorKind::Interrupted(sig),
        message: "interrupted".into(),
    }
}

/// Run a dump tool and copy its standard output to `out` (`observe` sees the bytes so far).
pub fn run_to(
    cmd: &ClientCommand,
    out: &mut dyn Write,
    interrupt: &Interrupt,
    observe: &mut dyn FnMut(u64),
) -> Result<(), BackupError> {
    let mut child = spawn(cmd, Stdio::null(), Stdio::piped())?;
    let err = collect_stderr(child.stderr.take().expect("piped"));
    let mut stdout = child.stdout.take().expect("piped");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    let copy: io::Result<()> = loop {
        if let Some(sig) = interrupt.requested() {
            return Err(interrupted(&mut child, sig));
        }
        match stdout.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = out.write_all(&buf[..n]) {
                    break Err(e);
                }
                total += n as u64;
                observe(total);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    if let Err(e) = copy {
        let _ = child.kill();
        let _ = child.wait();
        return Err(BackupError::failed(format!(
            "writing the dump of {} failed: {e}",
            cmd.name()
        )));
    }
    drop(stdout);
    let status = child
        .wait()
        .map_err(|e| BackupError::failed(format!("{}: {e}", cmd.name())))?;
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        return Err(describe_failure(
            cmd,
            status,
            &stderr,
            "Database dump failed",
        ));
    }
    Ok(())
}

/// Run a client with `input` on its standard input (standard output discarded).
pub fn run_from(
    cmd: &ClientCommand,
    input: &mut dyn Read,
    observe: &mut dyn FnMut(u64),
) -> Result<(), BackupError> {
    let mut child = spawn(cmd, Stdio::piped(), Stdio::null())?;
    let err = collect_stderr(child.stderr.take().expect("piped"));
    let mut stdin = child.stdin.take().expect("piped");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    let fed: io::Result<()> = loop {
        match input.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                // A client that stops reading (it failed) shows up as a broken pipe; its exit
                // status says why.
                if let Err(e) = stdin.write_all(&buf[..n]) {
                    break if e.kind() == io::ErrorKind::BrokenPipe {
                        Ok(())
                    } else {
                        Err(e)
                    };
                }
                total += n as u64;
                observe(total);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    drop(stdin);
    let status = child
        .wait()
        .map_err(|e| BackupError::failed(format!("{}: {e}", cmd.name())))?;
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        return Err(describe_failure(
            cmd,
            status,
            &stderr,
            "Database restore failed",
        ));
    }
    fed.map_err(|e| BackupError::failed(format!("reading the dump failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_tls_options_reach_the_tools_environment() {
        let url = DbUrl::parse(
            "postgresql://pi@db.example/pi?sslmode=verify-full&sslrootcert=/etc/pi/ca.pem&sslcert=/etc/pi/c.pem&sslkey=/etc/pi/c.key&ssl_min_protocol_version=TLSv1.3",
        )
        .unwrap();
        let (cmd, ignored) = postgres("pg_dump".into(), &url, &[]);
        for (var, value) in [
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", "/etc/pi/ca.pem"),
            ("PGSSLCERT", "/etc/pi/c.pem"),
            ("PGSSLKEY", "/etc/pi/c.key"),
            ("PGSSLMINPROTOCOLVERSION", "TLSv1.3"),
        ] {
            assert!(cmd.env.contains(&(var.into(), value.into())), "{var}");
        }
        assert!(ignored.is_empty(), "{ignored:?}");
    }

    #[test]
    fn mysql_tls_options_for_mariadb_and_mysql_clients() {
        let tls = |q: &str| {
            let u = DbUrl::parse(&format!("mysql+pymysql://pi@db.example/pi?{q}")).unwrap();
            MysqlTls::from_query(&u.query).unwrap()
        };
        let args = |q: &str, mariadb: bool| -> Vec<String> {
            mysql_tls_args(&tls(q), mariadb)
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        assert!(args("charset=utf8", true).is_empty());
        assert_eq!(args("ssl_disabled=true", true), ["--skip-ssl"]);
        assert_eq!(args("ssl_disabled=true", false), ["--ssl-mode=DISABLED"]);
        let full = "ssl_ca=/ca.pem&ssl_cert=/c.pem&ssl_key=/k.pem";
        assert_eq!(
            args(full, true),
            [
                "--ssl",
                "--ssl-verify-server-cert",
                "--ssl-ca=/ca.pem",
                "--ssl-cert=/c.pem",
                "--ssl-key=/k.pem"
            ]
        );
        assert_eq!(
            args(full, false),
            [
                "--ssl-mode=VERIFY_IDENTITY",
                "--ssl-ca=/ca.pem",
                "--ssl-cert=/c.pem",
                "--ssl-key=/k.pem"
            ]
        );
        assert_eq!(
            args("ssl_ca=/ca.pem&ssl_check_hostname=false", false),
            ["--ssl-mode=VERIFY_CA", "--ssl-ca=/ca.pem"]
        );
        assert_eq!(
            args("ssl_cert=/c.pem", true),
            ["--ssl", "--ssl-cert=/c.pem", "--ssl-key=/c.pem"]
        );
    }

    #[test]
    fn postgres_arguments_and_environment_as_privacyidea() {
        let url = DbUrl::parse(
            "postgresql+psycopg2://piuser:p%40ss%3Aw%2Frd%25@127.0.0.1:55439/pidb?sslmode=disable&application_name=pitest&keepalives=1",
        )
        .unwrap();
        let (cmd, ignored) = postgres("pg_dump".into(), &url, &["--format=plain"]);
        let args: Vec<String> = cmd
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--format=plain",
                "--host",
                "127.0.0.1",
                "--port",
                "55439",
                "--username",
                "piuser",
                "--no-password",
                "--dbname",
                "pidb"
            ]
        );
        assert!(cmd
            .env
            .contains(&("PGPASSWORD".into(), "p@ss:w/rd%".into())));
        assert!(cmd.env.contains(&("PGSSLMODE".into(), "disable".into())));
        assert!(cmd.env.contains(&("PGAPPNAME".into(), "pitest".into())));
        assert_eq!(ignored, ["keepalives"]);
        assert!(!args.iter().any(|a| a.contains("p@ss")));
    }

    #[test]
    fn mysql_option_file_quotes_like_privacyidea_and_is_private() {
        assert_eq!(
            mysql_option_text("pi@user", "ab%c\"d#e\\f"),
            "[client]\nuser = \"pi@user\"\npassword = \"ab%c\\\"d#e\\\\f\"\n"
        );
        assert_eq!(option_value("a\nb"), "\"a\\nb\"");
        let url = DbUrl::parse(
            "mysql+pymysql://pi%40user:s3cr%23t@db.example:3307/pidb?charset=utf8mb4&unix_socket=/run/m.sock",
        )
        .unwrap();
        let cmd = mysql("mariadb-dump".into(), &url, &["--single-transaction"]).unwrap();
        let args: Vec<String> = cmd
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let cnf = PathBuf::from(args[0].strip_prefix("--defaults-file=").unwrap());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&cnf).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(cnf.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        assert!(std::fs::read_to_string(&cnf)
            .unwrap()
            .contains("password = \"s3cr#t\""));
        assert_eq!(
            &args[1..],
            [
                "--host=db.example",
                "--port=3307",
                "--socket=/run/m.sock",
                "--default-character-set=utf8mb4",
                "--single-transaction",
                "pidb"
            ]
        );
        assert!(!args.iter().any(|a| a.contains("s3cr")));
        drop(cmd);
        assert!(!cnf.exists(), "the option file is removed with the command");
    }

    #[test]
    fn failures_name_the_tool_and_scrub_secrets() {
        let url = DbUrl::parse("postgresql://u:hunter2@h/db").unwrap();
        let (mut cmd, _) = postgres("/bin/sh".into(), &url, &[]);
        cmd.args = vec![
            "-c".into(),
            "echo 'bad password hunter2' >&2; exit 3".into(),
        ];
        let e = run_to(&cmd, &mut Vec::new(), &Interrupt::new(), &mut |_| {}).unwrap_err();
        assert_eq!(
            e.message,
            "Database dump failed (sh exit code 3): bad password ***"
        );
        let mut out = Vec::new();
        cmd.args = vec!["-c".into(), "printf dump-bytes".into()];
        run_to(&cmd, &mut out, &Interrupt::new(), &mut |_| {}).unwrap();
        assert_eq!(out, b"dump-bytes");
        cmd.args = vec!["-c".into(), "cat >/dev/null; exit 0".into()];
        run_from(&cmd, &mut &b"data"[..], &mut |_| {}).unwrap();
    }
}
