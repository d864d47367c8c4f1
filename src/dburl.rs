//! SQLAlchemy database URLs, as privacyIDEA's `pi.cfg` writes them, turned into what our
//! drivers need: backend, host/port or socket, user, password (percent-decoded and kept
//! secret), database name or SQLite path, and the query options.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use percent_encoding::percent_decode_str;
use regex::Regex;

use crate::dbtls::{MysqlTls, PgTls};
use crate::secret::Secret;

/// Which driver a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
            Backend::Mysql => "mysql",
        }
    }
}

/// A parsed SQLAlchemy URL. `Display` and `Debug` never show the password.
#[derive(Clone, PartialEq)]
pub struct DbUrl {
    pub backend: Backend,
    /// The scheme as written, e.g. `mysql+pymysql`.
    pub scheme: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// The database name; for SQLite the file path as written (`None` = in-memory).
    pub database: Option<String>,
    /// Query options in order (`charset`, `unix_socket`, `sslmode`, `host`, …), decoded.
    pub query: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbUrlError {
    #[error("not a database URL (expected e.g. sqlite:////var/lib/privacyidea/privacyidea.sqlite or postgresql://user:pass@host/db)")]
    Malformed,
    #[error("unsupported database scheme '{0}' (supported: sqlite, postgresql, postgres, mysql, mariadb, each with an optional +driver)")]
    UnsupportedScheme(String),
    #[error("invalid port '{0}' in database URL (a number from 0 to 65535)")]
    BadPort(String),
    #[error("the IPv6 host in the database URL has no closing ']' (write e.g. postgresql://user@[::1]:5432/db)")]
    UnclosedIpv6,
    #[error("database URL for {0} names no database")]
    NoDatabase(&'static str),
    /// A TLS option the driver would not accept (see `crate::dbtls`); never holds a secret.
    #[error("database URL: {0}")]
    Tls(String),
}

fn url_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // SQLAlchemy's own pattern (sqlalchemy/engine/url.py `_parse_url`), so the same strings
    // split the same way: the password runs up to the first '@'.
    RE.get_or_init(|| {
        Regex::new(
            r"(?s)^(?P<name>[\w+.-]+)://(?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?(?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?(?:/(?P<database>[^?]*))?(?:\?(?P<query>.*))?$",
        )
        .expect("static regex")
    })
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl DbUrl {
    /// Parse a SQLAlchemy URL.
    pub fn parse(url: &str) -> Result<DbUrl, DbUrlError> {
        let url = url.trim();
        let caps = url_regex().captures(url).ok_or(DbUrlError::Malformed)?;
        let scheme = caps["name"].to_string();
        let base = scheme.split('+').next().unwrap_or("").to_ascii_lowercase();
        let backend = match base.as_str() {
            "sqlite" => Backend::Sqlite,
            "postgresql" | "postgres" | "pgsql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            _ => return Err(DbUrlError::UnsupportedScheme(scheme)),
        };
        let mut query = Vec::new();
        if let Some(q) = caps.name("query") {
            for pair in q.as_str().split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                query.push((decode(k), decode(&v.replace('+', " "))));
            }
        }
        if backend == Backend::Sqlite {
            let database = caps
                .name("database")
                .map(|d| d.as_str().to_string())
                .filter(|d| !d.is_empty() && d != ":memory:");
            return Ok(DbUrl {
                backend,
                scheme,
                host: None,
                port: None,
                user: None,
                password: None,
                database,
                query,
            });
        }
        if caps
            .name("ipv4host")
            .is_some_and(|h| h.as_str().starts_with('['))
        {
            return Err(DbUrlError::UnclosedIpv6);
        }
        let port = match caps.name("port").map(|p| p.as_str()) {
            None | Some("") => None,
            Some(p) => Some(p.parse().map_err(|_| DbUrlError::BadPort(p.to_string()))?),
        };
        let host = caps
            .name("ipv6host")
            .or_else(|| caps.name("ipv4host"))
            .map(|h| decode(h.as_str()))
            .filter(|h| !h.is_empty());
        let user = caps
            .name("username")
            .map(|u| decode(u.as_str()))
            .filter(|u| !u.is_empty());
        let password = caps
            .name("password")
            .map(|p| Secret::new(decode(p.as_str())));
        let database = caps
            .name("database")
            .map(|d| decode(d.as_str()))
            .filter(|d| !d.is_empty());
        if database.is_none() {
            return Err(DbUrlError::NoDatabase(backend.name()));
        }
        // Refuse TLS options the driver would not accept now, not at the first connection.
        match backend {
            Backend::Postgres => {
                PgTls::from_query(&query).map_err(DbUrlError::Tls)?;
            }
            _ => {
                MysqlTls::from_query(&query).map_err(DbUrlError::Tls)?;
            }
        }
        Ok(DbUrl {
            backend,
            scheme,
            host,
            port,
            user,
            password,
            database,
            query,
        })
    }

    /// The value of a query option, e.g. `unix_socket` or `charset`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The SQLite file: `sqlite:////abs` is absolute, `sqlite:///rel` relative to `base`
    /// (the current directory, as SQLAlchemy resolves it). `None` for an in-memory database.
    pub fn sqlite_path(&self, base: &Path) -> Option<PathBuf> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let db = self.database.as_deref()?;
        let p = Path::new(db);
        Some(if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        })
    }

    /// The URL with the password replaced by `***`, safe to print.
    pub fn redacted(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if self.backend != Backend::Sqlite {
            if let Some(u) = &self.user {
                out.push_str(u);
                if self.password.is_some() {
                    out.push_str(":***");
                }
                out.push('@');
            }
            if let Some(h) = &self.host {
                if h.contains(':') {
                    out.push_str(&format!("[{h}]"));
                } else {
                    out.push_str(h);
                }
            }
            if let Some(p) = self.port {
                out.push_str(&format!(":{p}"));
            }
        }
        out.push('/');
        if let Some(d) = &self.database {
            out.push_str(d);
        }
        if !self.query.is_empty() {
            let q: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| {
                    if k.contains("password") {
                        format!("{k}=***")
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            out.push('?');
            out.push_str(&q.join("&"));
        }
        out
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_absolute_and_relative() {
        let abs = DbUrl::parse("sqlite:////var/lib/privacyidea/privacyidea.sqlite").unwrap();
        assert_eq!(abs.backend, Backend::Sqlite);
        assert_eq!(
            abs.sqlite_path(Path::new("/cwd")).unwrap(),
            PathBuf::from("/var/lib/privacyidea/privacyidea.sqlite")
        );
        let rel = DbUrl::parse("sqlite:///data/pi.sqlite").unwrap();
        assert_eq!(
            rel.sqlite_path(Path::new("/cwd")).unwrap(),
            PathBuf::from("/cwd/data/pi.sqlite")
        );
        assert_eq!(DbUrl::parse("sqlite://").unwrap().database, None);
    }

    #[test]
    fn postgres_with_percent_encoded_password() {
        let u = DbUrl::parse("postgresql+psycopg2://pi:p%40ss%3Aw@db.example:5433/pi").unwrap();
        assert_eq!(u.backend, Backend::Postgres);
        assert_eq!(u.user.as_deref(), Some("pi"));
        assert_eq!(u.password.as_ref().unwrap().expose(), "p@ss:w");
        assert_eq!(u.host.as_deref(), Some("db.example"));
        assert_eq!(u.port, Some(5433));
        assert_eq!(u.database.as_deref(), Some("pi"));
        assert_eq!(
            u.to_string(),
            "postgresql+psycopg2://pi:***@db.example:5433/pi"
        );
        assert!(!format!("{u:?}").contains("p@ss"));
    }

    #[test]
    fn mysql_variants_and_query() {
        let u = DbUrl::parse("mysql+pymysql://pi:secret@localhost/pi?charset=utf8").unwrap();
        assert_eq!(u.backend, Backend::Mysql);
        assert_eq!(u.query_param("charset"), Some("utf8"));
        let m = DbUrl::parse("mariadb+pymysql://pi:x@127.0.0.1:3306/pi").unwrap();
        assert_eq!(m.backend, Backend::Mysql);
        assert_eq!(m.port, Some(3306));
        let s =
            DbUrl::parse("mysql://pi:x@localhost/pi?unix_socket=/run/mysqld/mysqld.sock").unwrap();
        assert_eq!(
            s.query_param("unix_socket"),
            Some("/run/mysqld/mysqld.sock")
        );
        let p = DbUrl::parse("postgresql://pi@/pi?host=/var/run/postgresql").unwrap();
        assert_eq!(p.host, None);
        assert_eq!(p.query_param("host"), Some("/var/run/postgresql"));
        let v6 = DbUrl::parse("postgres://u:p@[::1]:5432/db").unwrap();
        assert_eq!(v6.host.as_deref(), Some("::1"));
    }

    #[test]
    fn errors() {
        assert_eq!(DbUrl::parse("nonsense"), Err(DbUrlError::Malformed));
        assert!(matches!(
            DbUrl::parse("oracle://u:p@h/db"),
            Err(DbUrlError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            DbUrl::parse("mysql://u:p@h:abc/db"),
            Err(DbUrlError::BadPort(_))
        ));
        assert!(matches!(
            DbUrl::parse("postgresql://u:p@h/"),
            Err(DbUrlError::NoDatabase(_))
        ));
    }
}
