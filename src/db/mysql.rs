//! The MySQL / MariaDB driver (`mysql` crate, synchronous; TLS through its rustls feature,
//! with the URL read as SQLAlchemy + PyMySQL read it, see `crate::dbtls`).
//!
//! Queries go through prepared statements (the binary protocol), so cells come back typed
//! instead of as text; `?` placeholders are native. Datetimes are bound as `DATETIME` values
//! with microseconds. Autocommit stays on; `begin()` is `START TRANSACTION`. Affected-row
//! counts are *matched* rows (`CLIENT_FOUND_ROWS`), as SQLAlchemy/PyMySQL report them.

use std::path::Path;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Timelike};
use mysql::consts::{CapabilityFlags, ColumnType};
use mysql::prelude::Queryable;
use mysql::{ClientIdentity, Conn, OptsBuilder, Params, SslOpts};

use super::sql_split::split_sql_statements;
use super::{Connection, DbError, DbErrorKind, DbResult, Dialect, OpenOptions, Row, Value};
use crate::dbtls::{explain_tls_failure, MysqlTls};
use crate::dburl::DbUrl;

pub struct MysqlConnection {
    conn: Conn,
    target: String,
    mariadb: bool,
}

impl MysqlConnection {
    /// Connect to the database `url` names: host (default `localhost`) and port (3306), or
    /// `?unix_socket=`; user, password, database; `?charset=` (default `utf8mb4`); TLS options
    /// (`ssl_ca`, `ssl_cert`, `ssl_key`, `ssl_check_hostname`, `ssl_verify_cert`, …).
    pub fn open(url: &DbUrl, opts: &OpenOptions) -> DbResult<Self> {
        let port = url.port.unwrap_or(3306);
        let dbname = url.database.clone().unwrap_or_default();
        let user = url
            .user
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let host = url.host.clone().unwrap_or_else(|| "localhost".into());
        let socket = url.query_param("unix_socket").map(str::to_string);
        let place = match &socket {
            Some(s) => s.clone(),
            None if host.contains(':') => format!("[{host}]:{port}"),
            None => format!("{host}:{port}"),
        };
        let target = format!("mysql database {dbname} on {place} as {user}");
        let password = url.password.as_ref().map(|p| p.expose().to_string());
        let fail = |kind: DbErrorKind, reason: &str| {
            DbError::new(
                kind,
                scrub(
                    &format!("cannot connect to {target}: {}", one_line(reason)),
                    password.as_deref(),
                ),
            )
        };

        let tls = MysqlTls::from_query(&url.query).map_err(|e| fail(DbErrorKind::Connect, &e))?;
        // The driver cannot wrap a Unix socket in TLS (and a local socket needs none).
        let tls = if socket.is_some() {
            MysqlTls::Disabled
        } else {
            tls
        };
        let (ssl_opts, tls_note) = ssl_opts(&tls).map_err(|e| fail(DbErrorKind::Connect, &e))?;
        let charset = url.query_param("charset").unwrap_or("utf8mb4");
        if charset.is_empty()
            || !charset
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(fail(
                DbErrorKind::Connect,
                &format!("invalid charset '{charset}'"),
            ));
        }

        let mut builder = OptsBuilder::new()
            .ip_or_hostname(Some(host.clone()))
            .tcp_port(port)
            .socket(socket.clone())
            .prefer_socket(false)
            .user(Some(user.clone()))
            .pass(password.clone())
            .db_name(Some(dbname.clone()))
            .tcp_connect_timeout(Some(opts.connect_timeout))
            .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS);
        if socket.is_some() {
            builder = builder.ip_or_hostname(Some("localhost"));
        }
        let preferred = tls == MysqlTls::Preferred;
        let disabled = tls == MysqlTls::Disabled && socket.is_none();
        let mut result = Conn::new(builder.clone().ssl_opts(ssl_opts.clone()));
        if preferred
            && matches!(
                result,
                Err(mysql::Error::DriverError(
                    mysql::DriverError::TlsNotSupported
                ))
            )
        {
            // PyMySQL's preferred mode: the server offers no TLS, so connect without.
            result = Conn::new(builder.ssl_opts(None::<SslOpts>));
        }
        let mut conn = result.map_err(|e| {
            let (kind, reason) = match &e {
                mysql::Error::MySqlError(me) if me.message.contains("insecure transport") => (
                    DbErrorKind::Connect,
                    format!(
                        "{} (the server requires TLS, and this connection was made without it: \
                         {tls_note}; remove ssl_disabled or name the CA with ssl_ca=…)",
                        me.message
                    ),
                ),
                // MariaDB answers a plain connection under require_secure_transport with
                // "access denied": say that TLS was switched off.
                mysql::Error::MySqlError(me) if me.code == 1045 && disabled => (
                    DbErrorKind::Auth,
                    format!(
                        "{} (this connection was made without TLS because of ssl_disabled; a \
                         server that requires secure transport refuses such connections)",
                        me.message
                    ),
                ),
                mysql::Error::MySqlError(me) => (
                    match me.code {
                        1045 | 1044 | 1698 | 1130 => DbErrorKind::Auth,
                        _ => DbErrorKind::Connect,
                    },
                    me.message.clone(),
                ),
                other if ssl_opts.is_some() && is_tls_error(other) => (
                    DbErrorKind::Connect,
                    explain_tls_failure(&reason(other), &tls_note, &host),
                ),
                other => (DbErrorKind::Connect, reason(other)),
            };
            fail(kind, &reason)
        })?;

        conn.query_drop(format!("SET NAMES {charset}"))
            .map_err(map_err)?;
        let version: Option<String> = conn.query_first("SELECT VERSION()").map_err(map_err)?;
        let mariadb = version.unwrap_or_default().contains("MariaDB");
        let lock_secs = opts.lock_timeout.as_secs_f64().ceil().max(1.0) as u64;
        conn.query_drop(format!(
            "SET SESSION innodb_lock_wait_timeout = {lock_secs}"
        ))
        .map_err(map_err)?;
        // On a Galera node: causal reads (see `galera`).
        super::galera::configure_session(&mut conn).map_err(map_err)?;
        if let Some(t) = opts.statement_timeout {
            // Not every server has these (MySQL's only limits SELECTs); a failure is ignored.
            let _ = if mariadb {
                conn.query_drop(format!("SET SESSION max_statement_time = {}", secs_text(t)))
            } else {
                conn.query_drop(format!(
                    "SET SESSION max_execution_time = {}",
                    t.as_millis().max(1)
                ))
            };
        }
        Ok(MysqlConnection {
            conn,
            target,
            mariadb,
        })
    }

    /// Whether the server is MariaDB (`SELECT VERSION()` names it) rather than MySQL.
    pub fn is_mariadb(&self) -> bool {
        self.mariadb
    }
}

/// The driver's TLS options for what the URL asks, and a description of it for messages.
/// Files are checked here so that a missing one is named before any connection attempt.
fn ssl_opts(tls: &MysqlTls) -> Result<(Option<SslOpts>, String), String> {
    let readable = |p: &Path, what: &str| {
        std::fs::File::open(p)
            .map(drop)
            .map_err(|e| format!("cannot read the {what} file \"{}\": {e}", p.display()))
    };
    Ok(match tls {
        MysqlTls::Disabled => (None, "without TLS".into()),
        MysqlTls::Preferred => (
            Some(SslOpts::default().with_danger_accept_invalid_certs(true)),
            "TLS if offered, certificate not checked".into(),
        ),
        MysqlTls::Required(r) => {
            if let Some(ca) = &r.ca {
                readable(ca, "CA certificate (ssl_ca)")?;
            }
            if let Some(cert) = &r.cert {
                readable(cert, "client certificate (ssl_cert)")?;
            }
            if let Some(key) = &r.key {
                readable(key, "client key (ssl_key)")?;
            }
            let identity = r.cert.as_ref().map(|cert| {
                // Without ssl_key the key is read from the certificate file, as PyMySQL does.
                ClientIdentity::new(cert.clone(), r.key.clone().unwrap_or_else(|| cert.clone()))
            });
            let opts = SslOpts::default()
                .with_root_cert_path(r.ca.clone())
                .with_danger_accept_invalid_certs(!r.verify_cert)
                .with_danger_skip_domain_validation(!r.verify_identity)
                .with_client_identity(identity);
            let checked = match (r.verify_cert, r.verify_identity) {
                (false, _) => "certificate not checked",
                (true, false) => "certificate chain checked, host name not",
                (true, true) => "certificate chain and host name checked",
            };
            let roots = match &r.ca {
                Some(ca) => format!("CA \"{}\"", ca.display()),
                None => "the built-in public root certificates".into(),
            };
            let note = if r.verify_cert {
                format!("TLS required, {checked} against {roots}")
            } else {
                format!("TLS required, {checked}")
            };
            (Some(opts), note)
        }
    })
}

/// Whether a connection error came from TLS (handshake, certificate or key files).
fn is_tls_error(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::TlsError(_) => true,
        mysql::Error::DriverError(mysql::DriverError::TlsNotSupported) => true,
        mysql::Error::IoError(io) => io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()),
        // The handshake runs inside the packet codec, whose I/O error carries rustls' text.
        mysql::Error::CodecError(_) => {
            let text = e.to_string();
            text.contains("certificate") || text.contains("TLS") || text.contains("handshake")
        }
        _ => false,
    }
}

/// Seconds with up to microsecond precision, at least one microsecond (0 means no limit).
fn secs_text(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64().max(0.000_001))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Belt and braces: no server or library message should contain the password, but if one
/// ever echoes it, it is masked here.
fn scrub(message: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() => message.replace(p, "***"),
        _ => message.to_string(),
    }
}

/// The plain message of a driver error (without the variant wrapper its `Display` adds).
fn reason(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(me) => me.message.clone(),
        mysql::Error::DriverError(d) => d.to_string(),
        mysql::Error::IoError(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// The error kind of a MySQL/MariaDB server error code.
fn kind_for_code(code: u16) -> DbErrorKind {
    match code {
        1045 | 1044 | 1698 | 1130 => DbErrorKind::Auth,
        1049 | 1040 | 1053 | 2002 | 2003 | 2005 | 2006 | 2013 => DbErrorKind::Connect,
        1213 => DbErrorKind::Locked,
        // Lock wait timeout, MySQL max_execution_time, MariaDB max_statement_time, NOWAIT.
        1205 | 3024 | 1969 | 3572 => DbErrorKind::Timeout,
        1062 | 1451 | 1452 | 1048 | 1216 | 1217 | 1364 | 1557 | 1586 | 3819 | 4025 => {
            DbErrorKind::Constraint
        }
        _ => DbErrorKind::Other,
    }
}

fn map_err(e: mysql::Error) -> DbError {
    match &e {
        mysql::Error::MySqlError(me) => DbError::new(
            kind_for_code(me.code),
            format!(
                "mysql: {} [ERROR {} ({})]",
                one_line(&me.message),
                me.code,
                me.state
            ),
        ),
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) => DbError::new(
            DbErrorKind::Connect,
            format!("mysql: connection lost: {}", one_line(&reason(&e))),
        ),
        mysql::Error::DriverError(
            mysql::DriverError::CouldNotConnect(_) | mysql::DriverError::ConnectTimeout,
        ) => DbError::new(
            DbErrorKind::Connect,
            format!("mysql: {}", one_line(&reason(&e))),
        ),
        _ => DbError::other(format!("mysql: {}", one_line(&reason(&e)))),
    }
}

fn to_param(v: &Value) -> DbResult<mysql::Value> {
    Ok(match v {
        Value::Null => mysql::Value::NULL,
        Value::Int(i) => mysql::Value::Int(*i),
        Value::Float(f) => mysql::Value::Double(*f),
        Value::Bool(b) => mysql::Value::Int(*b as i64),
        Value::Text(t) => mysql::Value::Bytes(t.as_bytes().to_vec()),
        Value::DateTime(dt) => mysql::Value::Date(
            u16::try_from(dt.year())
                .map_err(|_| DbError::other(format!("mysql: datetime {dt} is out of range")))?,
            dt.month() as u8,
            dt.day() as u8,
            dt.hour() as u8,
            dt.minute() as u8,
            dt.second() as u8,
            dt.nanosecond() / 1000,
        ),
    })
}

fn to_params(params: &[Value]) -> DbResult<Params> {
    if params.is_empty() {
        return Ok(Params::Empty);
    }
    Ok(Params::Positional(
        params.iter().map(to_param).collect::<DbResult<_>>()?,
    ))
}

/// A binary-protocol cell as a [`Value`], by its column type.
fn to_value(v: &mysql::Value, ty: ColumnType) -> Value {
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => Value::Int(*i),
        mysql::Value::UInt(u) => match i64::try_from(*u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Text(u.to_string()),
        },
        // The shortest decimal form, as the text protocol (PyMySQL) shows a FLOAT.
        mysql::Value::Float(f) => Value::Float(f.to_string().parse().unwrap_or(*f as f64)),
        mysql::Value::Double(d) => Value::Float(*d),
        mysql::Value::Bytes(b) => match ty {
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                let s = String::from_utf8_lossy(b);
                match s.trim().parse::<f64>() {
                    Ok(f) => Value::Float(f),
                    Err(_) => Value::Text(s.into()),
                }
            }
            _ => Value::Text(String::from_utf8_lossy(b).into()),
        },
        mysql::Value::Date(y, mo, d, h, mi, s, us) => {
            let date = NaiveDate::from_ymd_opt(*y as i32, *mo as u32, *d as u32);
            match ty {
                ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => {
                    Value::Text(format!("{y:04}-{mo:02}-{d:02}"))
                }
                _ => match date
                    .and_then(|dd| dd.and_hms_micro_opt(*h as u32, *mi as u32, *s as u32, *us))
                {
                    Some(dt) => Value::DateTime(dt),
                    // Zero dates (`0000-00-00 …`) have no NaiveDateTime.
                    None => Value::Text(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")),
                },
            }
        }
        mysql::Value::Time(neg, days, h, mi, s, us) => {
            let hours = *days as u64 * 24 + *h as u64;
            let sign = if *neg { "-" } else { "" };
            let frac = if *us != 0 {
                format!(".{us:06}")
            } else {
                String::new()
            };
            Value::Text(format!("{sign}{hours:02}:{mi:02}:{s:02}{frac}"))
        }
    }
}

impl Connection for MysqlConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        if params.is_empty() {
            // The text protocol runs every statement (some cannot be prepared).
            self.conn.query_drop(sql).map_err(map_err)?;
            return Ok(self.conn.affected_rows());
        }
        let params = to_params(params)?;
        let result = self.conn.exec_iter(sql, params).map_err(map_err)?;
        let n = result.affected_rows();
        drop(result);
        Ok(n)
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&mut Row) -> DbResult<()>,
    ) -> DbResult<()> {
        let params = to_params(params)?;
        let mut result = self.conn.exec_iter(sql, params).map_err(map_err)?;
        let mut row = Row::default();
        if let Some(set) = result.iter() {
            for r in set {
                let r = r.map_err(map_err)?;
                row.0.clear();
                row.0.reserve(r.columns_ref().len()); // the caller may have taken the last row's cells
                for (i, col) in r.columns_ref().iter().enumerate() {
                    let v = match r.as_ref(i) {
                        Some(v) => to_value(v, col.column_type()),
                        None => Value::Null,
                    };
                    row.0.push(v);
                }
                f(&mut row)?;
            }
        }
        Ok(())
    }

    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        for stmt in split_sql_statements(sql) {
            self.conn.query_drop(stmt).map_err(map_err)?;
        }
        Ok(())
    }

    fn table_exists(&mut self, table: &str) -> DbResult<bool> {
        Ok(self
            .query_i64(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() \
                 AND CAST(table_name AS BINARY) = CAST(? AS BINARY)",
                &[Value::Text(table.into())],
            )?
            .unwrap_or(0)
            > 0)
    }

    fn table_columns(&mut self, table: &str) -> DbResult<Vec<String>> {
        let mut cols = Vec::new();
        self.for_each_row(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = DATABASE() \
             AND CAST(table_name AS BINARY) = CAST(? AS BINARY) ORDER BY ordinal_position",
            &[Value::Text(table.into())],
            &mut |row| {
                if let Some(n) = row.get(0).as_str() {
                    cols.push(n.to_string());
                }
                Ok(())
            },
        )?;
        Ok(cols)
    }

    fn next_id_sql(&mut self, sequence: &str) -> DbResult<Option<String>> {
        if !self.is_mariadb() {
            return Ok(None);
        }
        let n = self
            .query_i64(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
                 AND table_name = ? AND table_type = 'SEQUENCE'",
                &[Value::Text(sequence.into())],
            )?
            .unwrap_or(0);
        Ok((n > 0).then(|| format!("NEXTVAL({})", Dialect::Mysql.quote(sequence))))
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    use crate::db::test_support::opts;

    fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_micro_opt(h, mi, s, us)
            .unwrap()
    }

    #[test]
    fn binds_datetimes_with_microseconds() {
        assert_eq!(
            to_param(&Value::DateTime(dt(2026, 11, 21, 12, 9, 34, 381_899))).unwrap(),
            mysql::Value::Date(2026, 11, 21, 12, 9, 34, 381_899)
        );
    }

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_for_code(1045), DbErrorKind::Auth);
        assert_eq!(kind_for_code(1044), DbErrorKind::Auth);
        assert_eq!(kind_for_code(1698), DbErrorKind::Auth);
        assert_eq!(kind_for_code(1049), DbErrorKind::Connect);
        assert_eq!(kind_for_code(1213), DbErrorKind::Locked);
        assert_eq!(kind_for_code(1205), DbErrorKind::Timeout);
        assert_eq!(kind_for_code(1969), DbErrorKind::Timeout);
        assert_eq!(kind_for_code(3024), DbErrorKind::Timeout);
        for c in [1062, 1451, 1452, 1048] {
            assert_eq!(kind_for_code(c), DbErrorKind::Constraint);
        }
        assert_eq!(kind_for_code(1064), DbErrorKind::Other);
    }

    #[test]
    fn missing_ca_file_is_named_before_connecting() {
        let url = DbUrl::parse(
            "mysql+pymysql://pi:Tls-Pw-8812@db.example/pi?charset=utf8mb4&ssl_ca=/nonexistent/pi-ca.pem",
        )
        .unwrap();
        let e = MysqlConnection::open(&url, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect);
        assert!(
            e.message
                .starts_with("cannot connect to mysql database pi on db.example:3306 as pi: "),
            "{}",
            e.message
        );
        assert!(e.message.contains("ssl_ca"), "{}", e.message);
        assert!(
            e.message.contains("/nonexistent/pi-ca.pem"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("Tls-Pw-8812"));
    }
}
