//! Throw-away database servers with TLS switched on, for the TLS tests: a test CA and server
//! certificate made with `rcgen`, a PostgreSQL 15 cluster (`initdb` + `postgres`, only
//! `hostssl` lines in pg_hba.conf) or a MariaDB (`mariadb-install-db` + `mariadbd` with
//! `require_secure_transport`), each in its own temporary directory on a free loopback port
//! of its own range (PostgreSQL 25432–25439, MariaDB 26306–26309). A server is stopped by its
//! pid when the guard drops, also when the test fails. Missing server binaries skip the test
//! with a note, unless `CI=true`.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tempfile::TempDir;

pub(crate) const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `None` (with a note) when `program` is missing; a failure under `CI=true`.
pub(crate) fn require(program: &Path, what: &str) -> Option<()> {
    if program.exists() {
        return Some(());
    }
    if in_ci() {
        panic!(
            "{} is missing, and CI=true requires the {what} TLS tests to run",
            program.display()
        );
    }
    eprintln!(
        "note: {} not found; the {what} TLS test is skipped",
        program.display()
    );
    None
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A loopback port in `range` that nobody listens on right now. The ranges callers pass lie
/// below Linux's ephemeral range (32768–60999): a port in it can be taken by any outgoing
/// connection, also between a private server's stop and its restart on the same port.
pub(crate) fn free_port(range: std::ops::RangeInclusive<u16>) -> u16 {
    for port in range.clone() {
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {range:?}");
}

/// A test CA and a server certificate for `localhost` (not 127.0.0.1) signed by it, plus a
/// second, unrelated CA (the "wrong" one), all as PEM files in `dir`.
pub struct TestPki {
    pub ca: PathBuf,
    pub wrong_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

impl TestPki {
    pub fn create(dir: &Path) -> TestPki {
        let (ca_params, ca_key, ca_pem) = ca("pi-manage test CA");
        let (_, _, wrong_pem) = ca("pi-manage test CA"); // same name, other key
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let pki = TestPki {
            ca: dir.join("ca.pem"),
            wrong_ca: dir.join("wrong-ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        };
        std::fs::write(&pki.ca, ca_pem).unwrap();
        std::fs::write(&pki.wrong_ca, wrong_pem).unwrap();
        std::fs::write(&pki.server_cert, cert.pem()).unwrap();
        std::fs::write(&pki.server_key, key.serialize_pem()).unwrap();
        std::fs::set_permissions(&pki.server_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        pki
    }
}

/// A running server; stopped (SIGTERM, then SIGKILL) by pid on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub pki: TestPki,
    /// The data, certificates and log; removed after the server has stopped.
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Wait until the server answers `ready` (a protocol-level probe, not just an open port: a
/// server listens before it accepts sessions), failing early when it exits.
pub(crate) fn wait_until_ready(child: &mut Child, port: u16, log: &Path, ready: &mut Command) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the test server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let probe = ready
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if probe.is_ok_and(|s| s.success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the test server did not listen on port {port} within 60 s");
}

/// A command run as the `postgres` user when we are root (PostgreSQL refuses root);
/// `setpriv` execs in place, so the child's pid is the server's.
pub(crate) fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ]);
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// PostgreSQL 15 with `ssl=on` and only `hostssl` entries: plain TCP connections are refused.
pub fn postgres() -> Option<Server> {
    let initdb = Path::new(PG_BIN).join("initdb");
    require(&initdb, "PostgreSQL")?;
    let dir = tempfile::Builder::new()
        .prefix("pim-tls-pg")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pki = TestPki::create(dir.path());
    let data = dir.path().join("data");
    if is_root() {
        run(
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()),
            "chown",
        );
    }
    run(
        as_postgres(initdb.to_str().unwrap())
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data),
        "initdb",
    );
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .unwrap();
    let port = free_port(25432..=25439);
    let log = dir.path().join("server.log");
    let mut child = as_postgres(Path::new(PG_BIN).join("postgres").to_str().unwrap())
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir.path())
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "ssl=on",
            "-c",
            "fsync=off",
        ])
        .arg("-c")
        .arg(format!("ssl_cert_file={}", pki.server_cert.display()))
        .arg("-c")
        .arg(format!("ssl_key_file={}", pki.server_key.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start postgres");
    let mut ready = Command::new(Path::new(PG_BIN).join("pg_isready"));
    ready.args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()]);
    wait_until_ready(&mut child, port, &log, &mut ready);
    Some(Server {
        child,
        port,
        pki,
        _dir: dir,
    })
}

/// Run a `mariadb-install-db`: two bootstraps at once fail now and then (seen when the TLS
/// tests ran in parallel), so one at a time within this test binary.
pub(crate) fn one_bootstrap_at_a_time(f: impl FnOnce()) {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    f();
}

/// MariaDB with TLS and `require_secure_transport=ON`; `root` without a password.
pub fn mariadb() -> Option<Server> {
    let install = Path::new("/usr/bin/mariadb-install-db");
    let server = Path::new("/usr/sbin/mariadbd");
    require(install, "MariaDB")?;
    require(server, "MariaDB")?;
    let dir = tempfile::Builder::new()
        .prefix("pim-tls-my")
        .tempdir()
        .unwrap();
    let pki = TestPki::create(dir.path());
    let data = dir.path().join("data");
    let mut cmd = Command::new(install);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
    if is_root() {
        cmd.arg("--user=root");
    }
    one_bootstrap_at_a_time(|| run(&mut cmd, "mariadb-install-db"));
    let port = free_port(26306..=26309);
    let log = dir.path().join("server.log");
    let mut cmd = Command::new(server);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.path().join("s.sock").display()))
        .arg(format!("--pid-file={}", dir.path().join("m.pid").display()))
        .arg(format!("--log-error={}", log.display()))
        .arg(format!("--port={port}"))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0",
        ])
        .args(["--require-secure-transport=ON"])
        .arg(format!("--ssl-ca={}", pki.ca.display()))
        .arg(format!("--ssl-cert={}", pki.server_cert.display()))
        .arg(format!("--ssl-key={}", pki.server_key.display()));
    if is_root() {
        cmd.arg("--user=root");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mariadbd");
    // `ping` succeeds once the server accepts sessions, even when the probe itself may not log in.
    let mut ready = Command::new("mariadb-admin");
    ready.args([
        "--protocol=TCP",
        "-h",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "-u",
        "root",
        "--ssl",
        "--skip-ssl-verify-server-cert",
        "ping",
    ]);
    wait_until_ready(&mut child, port, &log, &mut ready);
    Some(Server {
        child,
        port,
        pki,
        _dir: dir,
    })
}
