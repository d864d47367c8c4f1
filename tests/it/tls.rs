//! Encrypted connections against test-started servers with TLS on (see `tls_servers`): each
//! test starts its own server with its own CA, and checks the modes that work, that a wrong
//! CA or host name is refused with a message naming the problem (and no password), and that
//! a plain connection to a server requiring TLS gets a clear error.

use std::path::Path;

use pi_manage::db::{open, Connection, DbErrorKind, OpenOptions};
use pi_manage::dburl::DbUrl;

use crate::tls_servers;

const PW: &str = "Tls-Secret-Pw-5521";

fn connect(url: &str) -> Result<Box<dyn Connection>, pi_manage::db::DbError> {
    open(&DbUrl::parse(url).unwrap(), &OpenOptions::default())
}

fn refused(url: &str, expect: &[&str]) {
    let e = connect(url)
        .err()
        .unwrap_or_else(|| panic!("{url} connected"));
    assert!(
        matches!(e.kind, DbErrorKind::Connect | DbErrorKind::Auth),
        "{url}: {:?}",
        e.kind
    );
    for part in expect {
        assert!(
            e.message.contains(part),
            "{url}: '{part}' not in: {}",
            e.message
        );
    }
    assert!(!e.message.contains(PW), "{}", e.message);
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn postgres_tls_modes() {
    let Some(srv) = tls_servers::postgres() else {
        return;
    };
    let base = |host: &str| format!("postgresql://postgres:{PW}@{host}:{}/postgres", srv.port);
    let (ca, wrong) = (p(&srv.pki.ca), p(&srv.pki.wrong_ca));
    let ssl_in_use = |url: &str| {
        let mut c = connect(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        c.query_i64(
            "SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
    };
    // require without a root certificate: encrypted, not verified
    assert_eq!(
        ssl_in_use(&format!("{}?sslmode=require", base("127.0.0.1"))),
        Some(1)
    );
    // the default, prefer, uses TLS when the server offers it
    assert_eq!(ssl_in_use(&base("127.0.0.1")), Some(1));
    // verify-ca checks the chain, not the name (the certificate names only localhost)
    assert_eq!(
        ssl_in_use(&format!(
            "{}?sslmode=verify-ca&sslrootcert={ca}",
            base("127.0.0.1")
        )),
        Some(1)
    );
    // require with a root certificate checks the chain too (libpq)
    assert_eq!(
        ssl_in_use(&format!(
            "{}?sslmode=require&sslrootcert={ca}",
            base("127.0.0.1")
        )),
        Some(1)
    );
    assert_eq!(
        ssl_in_use(&format!(
            "{}?sslmode=verify-full&sslrootcert={ca}",
            base("localhost")
        )),
        Some(1)
    );
    // verify-full: the host name must match
    refused(
        &format!("{}?sslmode=verify-full&sslrootcert={ca}", base("127.0.0.1")),
        &["does not name the host '127.0.0.1'", "sslmode=verify-full"],
    );
    // a wrong CA is refused, naming the CA file
    for mode in ["verify-ca", "verify-full", "require"] {
        refused(
            &format!("{}?sslmode={mode}&sslrootcert={wrong}", base("localhost")),
            &["not signed by a trusted root certificate", &wrong],
        );
    }
    // the server accepts only TLS: sslmode=disable gets a clear error
    refused(
        &format!("{}?sslmode=disable", base("127.0.0.1")),
        &[
            "no encryption",
            "the server requires TLS",
            "sslmode=require",
        ],
    );
    // allow: plain first, TLS when the server refuses plain
    assert_eq!(
        ssl_in_use(&format!("{}?sslmode=allow", base("127.0.0.1"))),
        Some(1)
    );
}

#[test]
fn mariadb_tls_options() {
    let Some(srv) = tls_servers::mariadb() else {
        return;
    };
    let base = |host: &str| format!("mysql+pymysql://root:{PW}@{host}:{}/mysql", srv.port);
    // root has no password on the test server; the URL's is ignored by the auth plugin only if
    // empty, so connect without one and keep PW for the refusal messages.
    let nopw = |host: &str| format!("mysql+pymysql://root@{host}:{}/mysql", srv.port);
    let (ca, wrong) = (p(&srv.pki.ca), p(&srv.pki.wrong_ca));
    let tls_version = |url: &str| {
        let mut c = connect(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let rows = c
            .query_rows("SHOW SESSION STATUS LIKE 'Ssl_version'", &[])
            .unwrap();
        format!("{:?}", rows)
    };
    // ssl_ca: chain and host name checked (SQLAlchemy's check_hostname defaults to true)
    let v = tls_version(&format!("{}?ssl_ca={ca}", nopw("localhost")));
    assert!(v.contains("TLSv1."), "{v}");
    // ... so the address the certificate does not name is refused
    refused(
        &format!("{}?ssl_ca={ca}", base("127.0.0.1")),
        &["does not name the host '127.0.0.1'"],
    );
    // ssl_check_hostname=false: chain only
    let v = tls_version(&format!(
        "{}?ssl_ca={ca}&ssl_check_hostname=false",
        nopw("127.0.0.1")
    ));
    assert!(v.contains("TLSv1."), "{v}");
    // no TLS option: TLS without verification (PyMySQL's preferred mode)
    let v = tls_version(&nopw("127.0.0.1"));
    assert!(v.contains("TLSv1."), "{v}");
    // a wrong CA
    refused(
        &format!("{}?ssl_ca={wrong}", base("localhost")),
        &["not signed by a trusted root certificate", &wrong],
    );
    // ssl_verify_cert=true checks against the public roots, which do not know the test CA
    refused(
        &format!("{}?ssl_verify_cert=true", base("localhost")),
        &["not signed by a trusted root certificate"],
    );
    // the server requires secure transport: ssl_disabled=true gets a clear error
    refused(
        &format!("{}?ssl_disabled=true", nopw("127.0.0.1")),
        &["without TLS", "ssl_disabled"],
    );
}

/// `backup create` through TLS: the driver connection and `mariadb-dump` both get the URL's
/// CA and host-name check (the server refuses plain connections).
#[test]
fn mariadb_backup_create_through_tls() {
    let Some(srv) = tls_servers::mariadb() else {
        return;
    };
    if std::process::Command::new("mariadb-dump")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "mariadb-dump missing"
        );
        eprintln!("note: mariadb-dump not found; backup through TLS not tested");
        return;
    }
    let url = format!(
        "mysql+pymysql://root@localhost:{}/pitls?ssl_ca={}",
        srv.port,
        p(&srv.pki.ca)
    );
    let admin = format!(
        "mysql+pymysql://root@localhost:{}/mysql?ssl_ca={}",
        srv.port,
        p(&srv.pki.ca)
    );
    connect(&admin)
        .unwrap()
        .execute_batch("CREATE DATABASE pitls; CREATE TABLE pitls.t (id INT PRIMARY KEY); INSERT INTO pitls.t VALUES (7)")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(
        etc.join("pi.cfg"),
        format!("SQLALCHEMY_DATABASE_URI = '{url}'\nSECRET_KEY = 'tls-backup-test'\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pi-manage"))
        .arg("--picfg")
        .arg(etc.join("pi.cfg"))
        .args(["backup", "create", "-d"])
        .arg(dir.path().join("backup"))
        .arg("-c")
        .arg(&etc)
        .env_remove("PRIVACYIDEA_CONFIGFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let archives: Vec<_> = std::fs::read_dir(dir.path().join("backup"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    // the dump really holds the table's row: list the archive's dump member
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut zstd::stream::read::Decoder::new(std::fs::File::open(&archives[0]).unwrap()).unwrap(),
        &mut raw,
    )
    .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("INSERT INTO `t` VALUES"),
        "dump without the row"
    );
}
