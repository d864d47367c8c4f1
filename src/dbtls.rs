//! The TLS settings a database URL asks for, read the way privacyIDEA's own drivers read the
//! same URL: libpq's (psycopg2's) `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslcrl`
//! for PostgreSQL, and for MySQL/MariaDB SQLAlchemy's `ssl_ca`/`ssl_cert`/`ssl_key`/… (which
//! it turns into PyMySQL's `ssl` dict) plus PyMySQL's own `ssl_disabled`, `ssl_verify_cert`,
//! `ssl_verify_identity` keywords. Parsing and validation only: nothing here opens a file or
//! a socket. Messages name options and paths, never a value that could be a secret.

use std::path::{Path, PathBuf};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plain first; TLS when the server refuses the plain connection.
    Allow,
    /// TLS when the server offers it, else plain (libpq's default).
    Prefer,
    /// TLS; the certificate is checked only if a root certificate is given.
    Require,
    /// TLS and a certificate chain to the root certificate.
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether this mode checks the certificate chain even without a root certificate file
    /// having been found by default (libpq then refuses to connect).
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file (one or more certificates).
    File(PathBuf),
    /// `sslrootcert=system` (libpq 16+): the operating system's trusted roots.
    System,
}

/// What a PostgreSQL URL (and, as in libpq, the `PGSSL*` environment and `~/.postgresql/`)
/// asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    pub mode: SslMode,
    pub root_cert: Option<RootCert>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub crl: Option<PathBuf>,
    /// Send the host name in the TLS handshake (SNI; `sslsni`, default on).
    pub sni: bool,
    /// `ssl_min_protocol_version=TLSv1.3` (TLS 1.2 is the floor anyway).
    pub tls13_only: bool,
    /// `ssl_max_protocol_version=TLSv1.2`.
    pub tls12_only: bool,
    /// Whether `sslmode` was given (URL or `PGSSLMODE`); libpq's default depends on it.
    mode_given: bool,
}

/// The libpq TLS options we understand; any other `ssl*` option is refused so that nothing
/// a URL asks for is silently dropped.
const PG_KEYS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslsni",
    "sslcompression",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
];

fn only_once<'a>(query: &'a [(String, String)], key: &str) -> Result<Option<&'a str>, String> {
    let mut found = query.iter().filter(|(k, _)| k == key);
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(format!("the option '{key}' is given more than once"));
    }
    Ok(first)
}

fn path_option(query: &[(String, String)], key: &str) -> Result<Option<PathBuf>, String> {
    match only_once(query, key)? {
        None => Ok(None),
        Some("") => Err(format!(
            "the option '{key}' is empty (expected a file path)"
        )),
        Some(p) => Ok(Some(PathBuf::from(p))),
    }
}

impl PgTls {
    /// The settings the URL's query options give (no environment, no default files).
    pub fn from_query(query: &[(String, String)]) -> Result<PgTls, String> {
        for (k, _) in query {
            let lower = k.to_ascii_lowercase();
            if (lower.starts_with("ssl") || lower == "requiressl") && !PG_KEYS.contains(&k.as_str())
            {
                return Err(match k.as_str() {
                    "sslpassword" => "the option 'sslpassword' (a password-protected client key) \
                        is not supported: decrypt the key (openssl pkey -in KEY -out KEY.plain), \
                        keep it readable only by its owner and name it in sslkey"
                        .to_string(),
                    _ => format!(
                        "the PostgreSQL option '{k}' is not supported (supported TLS options: {})",
                        PG_KEYS.join(", ")
                    ),
                });
            }
        }
        let mode = match only_once(query, "sslmode")? {
            None => None,
            Some(m) => Some(SslMode::parse(m).ok_or_else(|| {
                format!(
                    "invalid sslmode '{m}' (expected disable, allow, prefer, require, verify-ca or verify-full)"
                )
            })?),
        };
        let root_cert = match only_once(query, "sslrootcert")? {
            None => None,
            Some("") => {
                return Err(
                    "the option 'sslrootcert' is empty (expected a file path or 'system')".into(),
                )
            }
            Some("system") => Some(RootCert::System),
            Some(p) => Some(RootCert::File(PathBuf::from(p))),
        };
        let sni = match only_once(query, "sslsni")? {
            None | Some("1") => true,
            Some("0") => false,
            Some(v) => return Err(format!("invalid sslsni '{v}' (expected 0 or 1)")),
        };
        match only_once(query, "sslcompression")? {
            None | Some("0") | Some("1") => {} // ignored by libpq since PostgreSQL 14 too
            Some(v) => return Err(format!("invalid sslcompression '{v}' (expected 0 or 1)")),
        }
        match only_once(query, "sslnegotiation")? {
            None | Some("postgres") => {}
            Some("direct") => {
                return Err(
                    "sslnegotiation=direct is not supported (use the default, postgres)".into(),
                )
            }
            Some(v) => return Err(format!("invalid sslnegotiation '{v}' (expected postgres)")),
        }
        let version = |key: &str| -> Result<Option<&str>, String> {
            match only_once(query, key)? {
                None | Some("") => Ok(None),
                Some(v @ ("TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3")) => Ok(Some(v)),
                Some(v) => Err(format!(
                    "invalid {key} '{v}' (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)"
                )),
            }
        };
        let min = version("ssl_min_protocol_version")?;
        let max = version("ssl_max_protocol_version")?;
        if matches!(max, Some("TLSv1" | "TLSv1.1")) {
            return Err(format!(
                "ssl_max_protocol_version={} is not supported: pi-manage speaks TLS 1.2 and 1.3 only",
                max.unwrap_or_default()
            ));
        }
        if min == Some("TLSv1.3") && max == Some("TLSv1.2") {
            return Err(
                "ssl_min_protocol_version=TLSv1.3 is above ssl_max_protocol_version=TLSv1.2".into(),
            );
        }
        let tls = PgTls {
            // libpq 16: sslrootcert=system makes verify-full the default
            mode: mode.unwrap_or(if root_cert == Some(RootCert::System) {
                SslMode::VerifyFull
            } else {
                SslMode::Prefer
            }),
            mode_given: mode.is_some(),
            root_cert,
            cert: path_option(query, "sslcert")?,
            key: path_option(query, "sslkey")?,
            crl: path_option(query, "sslcrl")?,
            sni,
            tls13_only: min == Some("TLSv1.3"),
            tls12_only: max == Some("TLSv1.2"),
        };
        tls.check_system_root()?;
        Ok(tls)
    }

    /// libpq 16: the system's roots only with full verification, which is then the default.
    fn check_system_root(&self) -> Result<(), String> {
        if self.root_cert == Some(RootCert::System) && self.mode != SslMode::VerifyFull {
            return Err(format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                self.mode.as_str()
            ));
        }
        Ok(())
    }

    /// Fill in what the URL leaves open as libpq does: from `PGSSLMODE`, `PGSSLROOTCERT`,
    /// `PGSSLCERT`, `PGSSLKEY`, `PGSSLCRL`, `PGSSLSNI`, then from the default files in
    /// `~/.postgresql/` (`root.crt`, `root.crl`, `postgresql.crt`, `postgresql.key`) when
    /// they exist. A root certificate makes `prefer` and `require` check the chain, as in
    /// libpq.
    pub fn with_libpq_defaults(
        mut self,
        env: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<PgTls, String> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        if !self.mode_given {
            if let Some(m) = env("PGSSLMODE") {
                self.mode = SslMode::parse(&m).ok_or_else(|| {
                    format!("invalid PGSSLMODE '{m}' (expected disable, allow, prefer, require, verify-ca or verify-full)")
                })?;
                self.mode_given = true;
            }
        }
        if self.root_cert.is_none() {
            self.root_cert = env("PGSSLROOTCERT").map(|v| match v.as_str() {
                "system" => RootCert::System,
                _ => RootCert::File(PathBuf::from(v)),
            });
        }
        if self.root_cert == Some(RootCert::System) && !self.mode_given {
            self.mode = SslMode::VerifyFull;
        }
        self.cert = self.cert.or_else(|| env("PGSSLCERT").map(PathBuf::from));
        self.key = self.key.or_else(|| env("PGSSLKEY").map(PathBuf::from));
        self.crl = self.crl.or_else(|| env("PGSSLCRL").map(PathBuf::from));
        if let Some(v) = env("PGSSLSNI") {
            self.sni = v != "0";
        }
        if let Some(dir) = home.map(|h| h.join(".postgresql")) {
            let existing = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
            if self.root_cert.is_none() {
                match existing("root.crt") {
                    Some(p) => self.root_cert = Some(RootCert::File(p)),
                    None if self.mode.verifies() => {
                        return Err(format!(
                            "root certificate file \"{}\" does not exist; either provide the file \
                             (sslrootcert=…), use the system's trusted roots with \
                             sslrootcert=system, or change sslmode to disable server \
                             certificate verification",
                            dir.join("root.crt").display()
                        ))
                    }
                    None => {}
                }
                if self.crl.is_none() {
                    self.crl = existing("root.crl");
                }
            }
            if self.cert.is_none() {
                self.cert = existing("postgresql.crt");
            }
            if self.key.is_none() && self.cert.is_some() {
                self.key = existing("postgresql.key");
            }
        } else if self.root_cert.is_none() && self.mode.verifies() {
            return Err(format!(
                "sslmode={} needs a root certificate: name it with sslrootcert=… \
                 (or sslrootcert=system for the system's trusted roots)",
                self.mode.as_str()
            ));
        }
        self.check_system_root()?;
        if self.cert.is_some() && self.key.is_none() {
            return Err(
                "a client certificate (sslcert) needs its private key: name it with sslkey=…"
                    .into(),
            );
        }
        Ok(self)
    }

    /// Whether the server's certificate chain is checked (a root certificate is known).
    pub fn checks_chain(&self) -> bool {
        self.root_cert.is_some() && self.mode != SslMode::Disable
    }

    /// Whether the host name is checked against the certificate.
    pub fn checks_host(&self) -> bool {
        self.mode == SslMode::VerifyFull
    }
}

/// What a MySQL/MariaDB URL asks for, as SQLAlchemy's PyMySQL dialect and PyMySQL
/// (1.2) together read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MysqlTls {
    /// `ssl_disabled=true`: never TLS.
    Disabled,
    /// No TLS option: TLS without verification when the server offers it, else plain
    /// (PyMySQL's behaviour since 1.2.0; older versions connect without TLS).
    Preferred,
    /// TLS or no connection.
    Required(MysqlTlsRequired),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlTlsRequired {
    /// Trusted roots; `None`: the built-in public roots (PyMySQL: the system's).
    pub ca: Option<PathBuf>,
    /// Check the certificate chain.
    pub verify_cert: bool,
    /// Also check the host name (only with `verify_cert`).
    pub verify_identity: bool,
    /// Client certificate and its key (the key may sit in the certificate file).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// SQLAlchemy's keys, moved into PyMySQL's `ssl` dict (`ssl_ca` → `ca`, …).
const MYSQL_DICT_KEYS: &[&str] = &[
    "ssl_ca",
    "ssl_key",
    "ssl_cert",
    "ssl_capath",
    "ssl_cipher",
    "ssl_check_hostname",
];
/// PyMySQL's own keywords, passed through as strings.
const MYSQL_KW_KEYS: &[&str] = &[
    "ssl_disabled",
    "ssl_verify_cert",
    "ssl_verify_identity",
    "ssl_key_password",
];

/// SQLAlchemy's `asbool` for a string.
fn sqlalchemy_bool(key: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "t" | "1" => Ok(true),
        "false" | "no" | "off" | "n" | "f" | "0" => Ok(false),
        _ => Err(format!("invalid {key} '{v}' (expected true or false)")),
    }
}

fn looks_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "false" | "0" | "no" | "off" | "n" | "f" | "none"
    )
}

impl MysqlTls {
    pub fn from_query(query: &[(String, String)]) -> Result<MysqlTls, String> {
        for (k, _) in query {
            let key = k.as_str();
            if key.to_ascii_lowercase().starts_with("ssl")
                && !MYSQL_DICT_KEYS.contains(&key)
                && !MYSQL_KW_KEYS.contains(&key)
            {
                let hint = match key {
                    "ssl" => " (PyMySQL cannot take the 'ssl' dict from a URL; privacyIDEA fails with it too: use ssl_ca=… or ssl_verify_cert=true)",
                    "sslmode" | "ssl_mode" => " (that is a PostgreSQL / MySQL Connector option; for PyMySQL use ssl_ca=… or ssl_verify_cert=true)",
                    _ => "",
                };
                return Err(format!(
                    "the MySQL option '{key}' is not supported{hint} (supported TLS options: {}, {})",
                    MYSQL_DICT_KEYS.join(", "),
                    MYSQL_KW_KEYS.join(", ")
                ));
            }
        }
        for key in MYSQL_DICT_KEYS.iter().chain(MYSQL_KW_KEYS) {
            only_once(query, key)?;
        }
        let get = |key: &str| {
            query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        // PyMySQL tests these keywords for truth: any non-empty string is true, so a value
        // that reads "false" means the opposite of what it says. Refuse rather than guess.
        for key in ["ssl_disabled", "ssl_verify_identity"] {
            if let Some(v) = get(key).filter(|v| looks_false(v)) {
                return Err(format!(
                    "{key}={v} is read by PyMySQL as true (any non-empty value is); privacyIDEA \
                     would {}; remove the option or write {key}=true",
                    if key == "ssl_disabled" {
                        "connect without TLS"
                    } else {
                        "check the certificate chain"
                    }
                ));
            }
        }
        if get("ssl_key_password").is_some_and(|v| !v.is_empty()) {
            return Err(
                "the option 'ssl_key_password' (a password-protected client key) is not \
                supported: decrypt the key (openssl pkey -in KEY -out KEY.plain), keep it \
                readable only by its owner and name it in ssl_key"
                    .into(),
            );
        }
        if get("ssl_capath").is_some() {
            return Err(
                "the option 'ssl_capath' (a directory of CA certificates) is not supported: \
                put the certificates into one PEM file and name it in ssl_ca"
                    .into(),
            );
        }
        let truthy = |key: &str| get(key).is_some_and(|v| !v.is_empty());
        if truthy("ssl_disabled") {
            return Ok(MysqlTls::Disabled);
        }
        if truthy("ssl_verify_cert") || truthy("ssl_verify_identity") {
            // PyMySQL builds a new `ssl` dict from its own keywords, replacing the one SQLAlchemy
            // made from ssl_ca/ssl_cert/ssl_key: no CA file (so the default roots), no client
            // certificate, and — with no CA — no host-name check.
            let verify = if truthy("ssl_verify_identity") {
                true
            } else {
                let v = get("ssl_verify_cert")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                matches!(v.as_str(), "optional" | "required" | "1" | "true" | "yes")
            };
            return Ok(MysqlTls::Required(MysqlTlsRequired {
                ca: None,
                verify_cert: verify,
                verify_identity: false,
                cert: None,
                key: None,
            }));
        }
        let dict_given = MYSQL_DICT_KEYS.iter().any(|k| get(k).is_some());
        if !dict_given {
            return Ok(MysqlTls::Preferred);
        }
        let ca = get("ssl_ca").filter(|v| !v.is_empty()).map(PathBuf::from);
        let check_hostname = match get("ssl_check_hostname") {
            None => true,
            Some(v) => sqlalchemy_bool("ssl_check_hostname", v)?,
        };
        let cert = get("ssl_cert").filter(|v| !v.is_empty()).map(PathBuf::from);
        // PyMySQL loads a key only together with a certificate.
        let key = cert
            .as_ref()
            .and(get("ssl_key").filter(|v| !v.is_empty()).map(PathBuf::from));
        Ok(MysqlTls::Required(MysqlTlsRequired {
            verify_cert: ca.is_some(),
            verify_identity: ca.is_some() && check_hostname,
            ca,
            cert,
            key,
        }))
    }
}

/// A TLS failure in words an operator can act on (rustls names the problem tersely):
/// `reason` is the driver's message, `note` what the connection asked for.
pub fn explain_tls_failure(reason: &str, note: &str, host: &str) -> String {
    // rustls' wording (Display, or Debug of the error kind)
    let has = |parts: &[&str]| parts.iter().any(|p| reason.contains(p));
    let what = if has(&[
        "UnknownIssuer",
        "unknown issuer",
        "BadSignature",
        "bad signature",
        "UnknownRevocationStatus",
    ]) {
        "the server's certificate is not signed by a trusted root certificate".to_string()
    } else if has(&["NotValidForName", "not valid for name"]) {
        format!("the server's certificate does not name the host '{host}'")
    } else if has(&["Expired", "expired", "NotValidYet", "not valid yet"]) {
        "the server's certificate is outside its validity period".to_string()
    } else if has(&["Revoked", "revoked"]) {
        "the server's certificate is revoked".to_string()
    } else if reason.contains("does not support TLS")
        || reason.contains("does not have this capability")
    {
        "the server does not accept TLS connections".to_string()
    } else {
        "the TLS handshake failed".to_string()
    };
    format!("{what} ({note}): {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        s.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn pg_modes_and_files() {
        let t = PgTls::from_query(&q("")).unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        assert!(!t.checks_chain());
        let t = PgTls::from_query(&q(
            "sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&sslcrl=/r.crl",
        ))
        .unwrap();
        assert_eq!(t.root_cert, Some(RootCert::File("/ca.pem".into())));
        assert!(t.checks_chain() && t.checks_host());
        let t = PgTls::from_query(&q("sslmode=require&sslrootcert=/ca.pem")).unwrap();
        assert!(
            t.checks_chain() && !t.checks_host(),
            "require with a root cert = verify-ca"
        );
        assert!(PgTls::from_query(&q("sslmode=required"))
            .unwrap_err()
            .contains("invalid sslmode 'required'"));
        assert!(PgTls::from_query(&q("sslmode=require&sslmode=disable"))
            .unwrap_err()
            .contains("more than once"));
        let e = PgTls::from_query(&q("sslpassword=Key-Pw-991")).unwrap_err();
        assert!(
            e.contains("sslpassword") && !e.contains("Key-Pw-991"),
            "{e}"
        );
        assert!(PgTls::from_query(&q("sslcrldir=/x"))
            .unwrap_err()
            .contains("'sslcrldir' is not supported"));
        assert!(PgTls::from_query(&q("sslmode=require&sslrootcert=system"))
            .unwrap_err()
            .contains("verify-full"));
    }

    #[test]
    fn pg_libpq_defaults() {
        let home = tempfile::tempdir().unwrap();
        let no_env = |_: &str| None;
        // verify-ca without any root certificate: libpq's refusal, naming the default file
        let e = PgTls::from_query(&q("sslmode=verify-ca"))
            .unwrap()
            .with_libpq_defaults(no_env, Some(home.path()))
            .unwrap_err();
        assert!(
            e.contains(".postgresql/root.crt") && e.contains("does not exist"),
            "{e}"
        );
        // require without a root certificate stays unverified
        let t = PgTls::from_query(&q("sslmode=require"))
            .unwrap()
            .with_libpq_defaults(no_env, Some(home.path()))
            .unwrap();
        assert!(!t.checks_chain());
        // ~/.postgresql/root.crt makes require check the chain
        std::fs::create_dir(home.path().join(".postgresql")).unwrap();
        std::fs::write(home.path().join(".postgresql/root.crt"), "x").unwrap();
        let t = PgTls::from_query(&q("sslmode=require"))
            .unwrap()
            .with_libpq_defaults(no_env, Some(home.path()))
            .unwrap();
        assert!(t.checks_chain() && !t.checks_host());
        // the environment fills in what the URL leaves open; the URL wins
        let env = |n: &str| match n {
            "PGSSLMODE" => Some("verify-full".to_string()),
            "PGSSLROOTCERT" => Some("/env-ca.pem".to_string()),
            _ => None,
        };
        let t = PgTls::from_query(&q(""))
            .unwrap()
            .with_libpq_defaults(env, None)
            .unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root_cert, Some(RootCert::File("/env-ca.pem".into())));
        let t = PgTls::from_query(&q("sslmode=disable"))
            .unwrap()
            .with_libpq_defaults(env, None)
            .unwrap();
        assert_eq!(t.mode, SslMode::Disable);
        // sslrootcert=system defaults to verify-full
        let t = PgTls::from_query(&q("sslrootcert=system"))
            .unwrap()
            .with_libpq_defaults(no_env, None)
            .unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert!(PgTls::from_query(&q("sslcert=/c.pem"))
            .unwrap()
            .with_libpq_defaults(no_env, None)
            .unwrap_err()
            .contains("sslkey"));
    }

    /// Expected values measured with SQLAlchemy 2.0.58 + PyMySQL 1.2.4 (create_connect_args,
    /// then the `ssl.SSLContext` PyMySQL builds).
    #[test]
    fn mysql_as_sqlalchemy_and_pymysql_read_it() {
        use MysqlTls::*;
        let req = |ca: Option<&str>, vc, vi, cert: Option<&str>, key: Option<&str>| {
            Required(MysqlTlsRequired {
                ca: ca.map(PathBuf::from),
                verify_cert: vc,
                verify_identity: vi,
                cert: cert.map(PathBuf::from),
                key: key.map(PathBuf::from),
            })
        };
        let t = |s: &str| MysqlTls::from_query(&q(s)).unwrap();
        assert_eq!(t("charset=utf8mb4"), Preferred);
        assert_eq!(
            t("ssl_ca=/ca.pem"),
            req(Some("/ca.pem"), true, true, None, None)
        );
        assert_eq!(
            t("ssl_ca=/ca.pem&ssl_check_hostname=false"),
            req(Some("/ca.pem"), true, false, None, None)
        );
        assert_eq!(
            t("ssl_cert=/c.pem&ssl_key=/k.pem"),
            req(None, false, false, Some("/c.pem"), Some("/k.pem"))
        );
        assert_eq!(t("ssl_key=/k.pem"), req(None, false, false, None, None));
        assert_eq!(
            t("ssl_check_hostname=true"),
            req(None, false, false, None, None)
        );
        assert_eq!(t("ssl_cipher=X"), req(None, false, false, None, None));
        // PyMySQL's own keywords replace SQLAlchemy's dict: the CA is dropped
        assert_eq!(
            t("ssl_ca=/ca.pem&ssl_verify_cert=true"),
            req(None, true, false, None, None)
        );
        assert_eq!(
            t("ssl_verify_identity=true"),
            req(None, true, false, None, None)
        );
        assert_eq!(
            t("ssl_verify_cert=false"),
            req(None, false, false, None, None)
        );
        assert_eq!(
            t("ssl_verify_cert=optional"),
            req(None, true, false, None, None)
        );
        assert_eq!(t("ssl_disabled=true"), Disabled);
        assert_eq!(t("ssl_ca=/ca.pem&ssl_disabled=1"), Disabled);
        for bad in [
            "ssl_disabled=false",
            "ssl_verify_identity=false",
            "ssl=true",
            "ssl_mode=REQUIRED",
            "sslmode=require",
            "ssl_check_hostname=maybe",
            "ssl_capath=/etc/ssl/certs",
            "ssl_ca=/a&ssl_ca=/b",
        ] {
            assert!(MysqlTls::from_query(&q(bad)).is_err(), "{bad}");
        }
        let e = MysqlTls::from_query(&q("ssl_cert=/c&ssl_key=/k&ssl_key_password=Key-Pw-77"))
            .unwrap_err();
        assert!(
            e.contains("ssl_key_password") && !e.contains("Key-Pw-77"),
            "{e}"
        );
    }
}
