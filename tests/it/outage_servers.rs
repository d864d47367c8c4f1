//! Private database servers a test can stop and start again — a database that goes away and
//! comes back, which the shared servers must never do. A PostgreSQL 15 cluster (`initdb` +
//! `postgres`) or a MariaDB (`mariadb-install-db` + `mariadbd`), plain TCP on loopback, each
//! in its own temporary directory on a free port of its own range (PostgreSQL 25440–25447,
//! MariaDB 26310–26313). Stopped by pid: on `stop()` and when the guard drops, also when the
//! test fails. Missing server binaries skip the test with a note, unless `CI=true`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::tls_servers::{as_postgres, free_port, is_root, require, run, wait_until_ready, PG_BIN};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Postgres,
    Mariadb,
}

/// A server that can be stopped and started again on the same port and data.
pub struct Restartable {
    pub kind: Kind,
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl Restartable {
    /// A new server of `kind`, started; `None` (with a note) when its binaries are missing.
    pub fn new(kind: Kind) -> Option<Restartable> {
        let dir = tempfile::Builder::new()
            .prefix("pim-outage")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = match kind {
            Kind::Postgres => {
                let initdb = Path::new(PG_BIN).join("initdb");
                require(&initdb, "PostgreSQL")?;
                init_postgres(dir.path(), &initdb);
                free_port(25440..=25447)
            }
            Kind::Mariadb => {
                require(Path::new("/usr/bin/mariadb-install-db"), "MariaDB")?;
                require(Path::new("/usr/sbin/mariadbd"), "MariaDB")?;
                init_mariadb(dir.path());
                free_port(26310..=26313)
            }
        };
        let mut s = Restartable {
            kind,
            port,
            child: None,
            dir,
        };
        s.start();
        Some(s)
    }

    /// An admin connection URL (the server's superuser, no password).
    pub fn admin_url(&self) -> String {
        match self.kind {
            Kind::Postgres => format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port),
            Kind::Mariadb => format!("mysql://root@127.0.0.1:{}/mysql", self.port),
        }
    }

    /// The directory of the server's unix socket (PostgreSQL: `.s.PGSQL.<port>`; MariaDB:
    /// `s.sock`).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Start the server (again) and wait until it accepts sessions.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let data = self.dir.path().join("data");
        let log = self.log();
        let (mut child, mut ready) = match self.kind {
            Kind::Postgres => {
                let child = as_postgres(Path::new(PG_BIN).join("postgres").to_str().unwrap())
                    .arg("-D")
                    .arg(&data)
                    .args(["-p", &self.port.to_string(), "-k"])
                    .arg(self.dir.path())
                    .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(log_file(&log))
                    .spawn()
                    .expect("start postgres");
                let mut ready = Command::new(Path::new(PG_BIN).join("pg_isready"));
                ready.args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()]);
                (child, ready)
            }
            Kind::Mariadb => {
                let mut cmd = Command::new("/usr/sbin/mariadbd");
                cmd.arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!(
                        "--socket={}",
                        self.dir.path().join("s.sock").display()
                    ))
                    .arg(format!(
                        "--pid-file={}",
                        self.dir.path().join("m.pid").display()
                    ))
                    .arg(format!("--log-error={}", log.display()))
                    .arg(format!("--port={}", self.port))
                    .args([
                        "--bind-address=127.0.0.1",
                        "--skip-log-bin",
                        "--innodb-flush-log-at-trx-commit=0",
                    ]);
                if is_root() {
                    cmd.arg("--user=root");
                }
                let child = cmd
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start mariadbd");
                let mut ready = Command::new("mariadb-admin");
                ready.args([
                    "--protocol=TCP",
                    "-h",
                    "127.0.0.1",
                    "-P",
                    &self.port.to_string(),
                    "-u",
                    "root",
                    "ping",
                ]);
                (child, ready)
            }
        };
        wait_until_ready(&mut child, self.port, &log, &mut ready);
        self.child = Some(child);
    }

    /// Stop the server by its pid (PostgreSQL: fast shutdown, which ends open sessions;
    /// MariaDB: normal shutdown) and wait until it has exited.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let signal = match self.kind {
            Kind::Postgres => libc::SIGINT,
            Kind::Mariadb => libc::SIGTERM,
        };
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Restartable {
    fn drop(&mut self) {
        self.stop();
    }
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

fn init_postgres(dir: &Path, initdb: &Path) {
    if is_root() {
        run(
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir),
            "chown",
        );
    }
    let data = dir.join("data");
    run(
        as_postgres(initdb.to_str().unwrap())
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data),
        "initdb",
    );
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhost all all 127.0.0.1/32 trust\n",
    )
    .unwrap();
    if is_root() {
        run(
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(data.join("pg_hba.conf")),
            "chown",
        );
    }
}

fn init_mariadb(dir: &Path) {
    let mut cmd = Command::new("/usr/bin/mariadb-install-db");
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
    if is_root() {
        cmd.arg("--user=root");
    }
    crate::tls_servers::one_bootstrap_at_a_time(|| run(&mut cmd, "mariadb-install-db"));
}
