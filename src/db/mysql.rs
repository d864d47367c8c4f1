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
        f: &mut dyn FnMut(&Row) -> DbResult<()>,
    ) -> DbResult<()> {
        let params = to_params(params)?;
        let mut result = self.conn.exec_iter(sql, params).map_err(map_err)?;
        let mut row = Row::default();
        if let Some(set) = result.iter() {
            for r in set {
                let r = r.map_err(map_err)?;
                row.0.clear();
                for (i, col) in r.columns_ref().iter().enumerate() {
                    let v = match r.as_ref(i) {
                        Some(v) => to_value(v, col.column_type()),
                        None => Value::Null,
                    };
                    row.0.push(v);
                }
                f(&row)?;
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

    use crate::db::test_support::{opts, unique};

    fn admin_url(test: &str) -> Option<DbUrl> {
        crate::db::test_support::admin_url("PIM_TEST_MYSQL_URL", test)
    }

    /// An administrative connection: to the URL's database, or to `information_schema` when
    /// that database does not exist.
    fn admin_conn(admin: &DbUrl) -> MysqlConnection {
        match MysqlConnection::open(admin, &opts()) {
            Ok(c) => c,
            Err(e) if e.kind == DbErrorKind::Connect && e.message.contains("Unknown database") => {
                let mut u = admin.clone();
                u.database = Some("information_schema".into());
                MysqlConnection::open(&u, &opts()).expect("admin connection")
            }
            Err(e) => panic!("admin connection: {e}"),
        }
    }

    /// A fresh `utf8mb4` database, dropped again when the guard goes out of scope (also on
    /// panic), together with any users the test created.
    struct TestDb {
        admin: DbUrl,
        name: String,
        url: DbUrl,
        users: Vec<String>,
    }

    impl TestDb {
        fn create(test: &str) -> Option<TestDb> {
            let admin = admin_url(test)?;
            let name = unique("pim_t");
            let mut a = admin_conn(&admin);
            a.execute_batch(&format!(
                "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"
            ))
            .unwrap();
            let mut url = admin.clone();
            url.database = Some(name.clone());
            Some(TestDb {
                admin,
                name,
                url,
                users: Vec::new(),
            })
        }

        fn connect(&self) -> MysqlConnection {
            MysqlConnection::open(&self.url, &opts()).expect("test database connection")
        }

        /// A user with a password, known from every host a local test connects from.
        fn create_user(&mut self, password: &str) -> String {
            let user = unique("pim_u");
            let mut a = admin_conn(&self.admin);
            for host in ["%", "localhost", "127.0.0.1", "::1"] {
                a.execute_batch(&format!(
                    "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"
                ))
                .unwrap();
            }
            self.users.push(user.clone());
            user
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            let mut a = admin_conn(&self.admin);
            for user in &self.users {
                for host in ["%", "localhost", "127.0.0.1", "::1"] {
                    let _ = a.execute_batch(&format!("DROP USER IF EXISTS '{user}'@'{host}'"));
                }
            }
            let _ = a.execute_batch(&format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }

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

    #[test]
    fn my_round_trips_every_value_type() {
        let Some(db) = TestDb::create("my_round_trips_every_value_type") else {
            return;
        };
        let mut c = db.connect();
        c.execute_batch(
            "CREATE TABLE t (n INTEGER, i SMALLINT, b BIGINT, big BIGINT UNSIGNED, f DOUBLE, \
             r FLOAT, num DECIMAL(12,4), ok BOOL, d DATETIME(6), ts TIMESTAMP(6) NULL, \
             s TEXT, v VARCHAR(20), day DATE, tm TIME(6), bl BLOB)",
        )
        .unwrap();
        let when = dt(2026, 11, 21, 12, 9, 34, 381_899);
        let n = c
            .execute(
                "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    Value::Int(1),
                    Value::Int(-7),
                    Value::Int(i64::MIN),
                    Value::Int(i64::MAX),
                    Value::Float(2.5),
                    Value::Float(1.1),
                    Value::Float(1234.5678),
                    Value::Bool(true),
                    Value::DateTime(when),
                    Value::DateTime(when),
                    Value::Text("grüße 👍 ' \" ?".into()),
                    Value::Text("v".into()),
                    Value::Text("2026-01-02".into()),
                    Value::Text("01:02:03.5".into()),
                    Value::Text("blob".into()),
                ],
            )
            .unwrap();
        assert_eq!(n, 1);
        c.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &vec![Value::Null; 15],
        )
        .unwrap();
        let rows = c
            .query_rows("SELECT * FROM t ORDER BY n IS NULL, n", &[])
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].0,
            vec![
                Value::Int(1),
                Value::Int(-7),
                Value::Int(i64::MIN),
                Value::Int(i64::MAX),
                Value::Float(2.5),
                Value::Float(1.1),
                Value::Float(1234.5678),
                Value::Int(1),
                Value::DateTime(when),
                Value::DateTime(when),
                Value::Text("grüße 👍 ' \" ?".into()),
                Value::Text("v".into()),
                Value::Text("2026-01-02".into()),
                Value::Text("01:02:03.500000".into()),
                Value::Text("blob".into()),
            ]
        );
        assert_eq!(rows[1].0, vec![Value::Null; 15]);
        assert_eq!(
            c.query_i64(
                "SELECT count(*) FROM t WHERE d >= ? AND n = ?",
                &[Value::DateTime(when), Value::Int(1)]
            )
            .unwrap(),
            Some(1)
        );
        assert_eq!(
            c.query_i64(
                "SELECT count(*) FROM t WHERE d > ?",
                &[Value::DateTime(when)]
            )
            .unwrap(),
            Some(0)
        );
        // Matched (not changed) rows, as SQLAlchemy counts them.
        assert_eq!(
            c.execute(
                "UPDATE t SET v = ? WHERE n = ?",
                &[Value::Text("v".into()), Value::Int(1)]
            )
            .unwrap(),
            1
        );
        // Plain SELECTs come back typed too.
        let r = c
            .query_rows(
                "SELECT 1 + ?, 'x', ?, NULL",
                &[Value::Int(1), Value::Float(0.5)],
            )
            .unwrap();
        assert_eq!(
            r[0].0,
            vec![
                Value::Int(2),
                Value::Text("x".into()),
                Value::Float(0.5),
                Value::Null
            ]
        );
    }

    #[test]
    fn my_streams_many_rows() {
        let Some(db) = TestDb::create("my_streams_many_rows") else {
            return;
        };
        let mut c = db.connect();
        c.execute_batch(
            "CREATE TABLE big (id BIGINT PRIMARY KEY, pad VARCHAR(100)); \
             INSERT INTO big SELECT seq, REPEAT('x', 100) FROM seq_1_to_200000",
        )
        .or_else(|_| {
            // MySQL has no sequence engine: build the rows with a recursive CTE.
            c.execute_batch(
                "SET SESSION cte_max_recursion_depth = 300000; \
                 INSERT INTO big WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200000) \
                 SELECT n, REPEAT('x', 100) FROM s",
            )
        })
        .unwrap();
        let (mut n, mut sum) = (0u64, 0i64);
        c.for_each_row("SELECT id, pad FROM big ORDER BY id", &[], &mut |row| {
            n += 1;
            sum += row.get(0).as_i64().unwrap();
            assert_eq!(row.len(), 2);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 200_000);
        assert_eq!(sum, 200_000 * 200_001 / 2);
        let mut seen = 0;
        let e = c
            .for_each_row("SELECT id FROM big", &[], &mut |_| {
                seen += 1;
                if seen == 10 {
                    Err(DbError::other("stop"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!(e.message, "stop");
        assert_eq!(
            c.query_i64("SELECT count(*) FROM big WHERE id <= ?", &[Value::Int(5)])
                .unwrap(),
            Some(5)
        );
    }

    #[test]
    fn my_tables_columns_and_reserved_identifiers() {
        let Some(db) = TestDb::create("my_tables_columns_and_reserved_identifiers") else {
            return;
        };
        let mut c = db.connect();
        let d = c.dialect();
        assert!(!c.table_exists("periodictaskoption").unwrap());
        assert!(c.table_columns("periodictaskoption").unwrap().is_empty());
        c.execute_batch(&format!(
            "CREATE TABLE periodictaskoption (id INTEGER PRIMARY KEY, {k} VARCHAR(255), {v} VARCHAR(2000), {i} VARCHAR(256), {dft} BOOL)",
            k = d.quote("key"),
            v = d.quote("value"),
            i = d.quote("interval"),
            dft = d.quote("default"),
        ))
        .unwrap();
        assert!(c.table_exists("periodictaskoption").unwrap());
        assert!(!c.table_exists("PeriodicTaskOption").unwrap());
        assert!(!c.table_exists("user").unwrap()); // mysql.user is in another schema
        assert_eq!(
            c.table_columns("periodictaskoption").unwrap(),
            vec!["id", "key", "value", "interval", "default"]
        );
        let t = d.quote("periodictaskoption");
        let k = d.quote("key");
        c.execute(
            &format!(
                "INSERT INTO {t} (id, {k}, {i}, {dft}) VALUES (?, ?, ?, ?)",
                i = d.quote("interval"),
                dft = d.quote("default")
            ),
            &[
                Value::Int(1),
                Value::Text("k1".into()),
                Value::Text("*/5 * * * *".into()),
                Value::Bool(true),
            ],
        )
        .unwrap();
        let rows = c
            .query_rows(
                &format!("SELECT {k} FROM {t} WHERE {k} = ?"),
                &[Value::Text("k1".into())],
            )
            .unwrap();
        assert_eq!(rows[0].get(0), &Value::Text("k1".into()));
        c.begin().unwrap();
        c.execute(&format!("DELETE FROM {t}"), &[]).unwrap();
        c.rollback().unwrap();
        assert_eq!(
            c.query_i64(&format!("SELECT count(*) FROM {t}"), &[])
                .unwrap(),
            Some(1)
        );
    }

    #[test]
    fn my_error_kinds() {
        let Some(mut db) = TestDb::create("my_error_kinds") else {
            return;
        };
        let mut c = db.connect();
        c.execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY) ENGINE=InnoDB; \
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, \
               FOREIGN KEY (parent_id) REFERENCES parent (id)) ENGINE=InnoDB; \
             INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1)",
        )
        .unwrap();
        for (sql, params) in [
            ("INSERT INTO parent VALUES (?)", vec![Value::Int(1)]),
            (
                "INSERT INTO child VALUES (?, ?)",
                vec![Value::Int(2), Value::Int(99)],
            ),
            (
                "INSERT INTO child VALUES (?, ?)",
                vec![Value::Int(3), Value::Null],
            ),
            ("DELETE FROM parent WHERE id = ?", vec![Value::Int(1)]),
        ] {
            let e = c.execute(sql, &params).unwrap_err();
            assert_eq!(e.kind, DbErrorKind::Constraint, "{sql}: {}", e.message);
        }
        let e = c.execute("SELEC 1", &[]).unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Other);
        assert!(e.message.contains("1064"), "{}", e.message);

        // Lock wait timeout (1205): a second session waits on a row the first one holds.
        let short = OpenOptions {
            lock_timeout: Duration::from_secs(1),
            ..opts()
        };
        let mut other = MysqlConnection::open(&db.url, &short).unwrap();
        c.begin().unwrap();
        c.execute("UPDATE parent SET id = 1 WHERE id = ?", &[Value::Int(1)])
            .unwrap();
        let e = other
            .execute("UPDATE parent SET id = 1 WHERE id = ?", &[Value::Int(1)])
            .unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Timeout, "{}", e.message);
        c.rollback().unwrap();

        // Statement timeout (MariaDB max_statement_time / MySQL max_execution_time).
        let stmt = OpenOptions {
            statement_timeout: Some(Duration::from_millis(200)),
            ..opts()
        };
        let mut slow = MysqlConnection::open(&db.url, &stmt).unwrap();
        let e = slow
            .query_rows("SELECT SLEEP(3) FROM parent", &[])
            .map(|r| format!("{r:?}"));
        if slow.is_mariadb() {
            let e = e.unwrap_err();
            assert_eq!(e.kind, DbErrorKind::Timeout, "{}", e.message);
        }

        // Unknown database.
        let mut missing = db.url.clone();
        missing.database = Some(format!("{}_missing", db.name));
        let e = MysqlConnection::open(&missing, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect, "{}", e.message);

        // Wrong password (1045) and a user without rights on the database (1044).
        let user = db.create_user("right-pw-1");
        let mut bad = db.url.clone();
        bad.user = Some(user.clone());
        bad.password = Some(crate::secret::Secret::new("wrong-pw-2"));
        let e = MysqlConnection::open(&bad, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Auth, "{}", e.message);
        bad.password = Some(crate::secret::Secret::new("right-pw-1"));
        let e = MysqlConnection::open(&bad, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Auth, "{}", e.message);
        bad.database = Some("information_schema".into());
        let ok = MysqlConnection::open(&bad, &opts()).unwrap();
        assert!(ok.target().contains(&user));
    }

    #[test]
    fn my_deadlock_is_locked() {
        let Some(db) = TestDb::create("my_deadlock_is_locked") else {
            return;
        };
        let mut a = db.connect();
        let mut b = db.connect();
        a.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER) ENGINE=InnoDB; \
             INSERT INTO t VALUES (1, 0), (2, 0)",
        )
        .unwrap();
        a.begin().unwrap();
        b.begin().unwrap();
        a.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(1)])
            .unwrap();
        b.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(2)])
            .unwrap();
        let a_session = a.query_i64("SELECT CONNECTION_ID()", &[]).unwrap().unwrap();
        let waiter = std::thread::spawn(move || {
            let r = a.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(2)]);
            let _ = a.rollback();
            r
        });
        // `a` waits for `b`'s row before `b` asks for `a`'s: the deadlock forms in that order.
        let mut watch = db.connect();
        crate::db::test_support::wait_until("the first session to wait for the lock", || {
            watch
                .query_i64(
                    "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
                    &[Value::Int(a_session)],
                )
                .unwrap()
                == Some(1)
        });
        let rb = b.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(1)]);
        let _ = b.rollback();
        let ra = waiter.join().unwrap();
        let errors: Vec<DbError> = [ra, rb].into_iter().filter_map(Result::err).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].kind, DbErrorKind::Locked, "{}", errors[0].message);
        assert!(errors[0].is_transient());
    }

    #[test]
    fn my_connection_errors_never_show_the_password() {
        let secret = "Sup3r-Distinct_Pa55word!";
        let closed = DbUrl::parse(&format!(
            "mysql+pymysql://pi:{}@127.0.0.1:1/pi",
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        ))
        .unwrap();
        assert_eq!(closed.password.as_ref().unwrap().expose(), secret);
        let e = MysqlConnection::open(&closed, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect, "{}", e.message);
        assert!(
            e.message
                .starts_with("cannot connect to mysql database pi on 127.0.0.1:1 as pi: "),
            "{}",
            e.message
        );
        assert!(!e.message.contains(secret), "{}", e.message);
        assert!(!e.message.contains('\n'));
        assert!(e.message.contains("refused"), "{}", e.message);
        assert!(!format!("{e:?}").contains(secret));
        let unknown = DbUrl::parse(&format!(
            "mysql+pymysql://pi:{}@nonexistent-host.invalid/pi",
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        ))
        .unwrap();
        let e = MysqlConnection::open(&unknown, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect, "{}", e.message);
        assert!(
            e.message.contains("nonexistent-host.invalid"),
            "{}",
            e.message
        );
        assert!(!e.message.contains(secret), "{}", e.message);

        let Some(mut db) = TestDb::create("my_connection_errors_never_show_the_password") else {
            return;
        };
        let user = db.create_user("another-pw-3");
        let mut bad = db.url.clone();
        bad.user = Some(user);
        bad.password = Some(crate::secret::Secret::new(secret));
        let e = MysqlConnection::open(&bad, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Auth, "{}", e.message);
        assert!(e
            .message
            .starts_with("cannot connect to mysql database pim_t_"));
        assert!(!e.message.contains(secret), "{}", e.message);
        // Also when the server echoes nothing but the library wraps the error.
        let mut url = db.url.clone();
        url.password = Some(crate::secret::Secret::new(secret));
        url.port = Some(1);
        let e = MysqlConnection::open(&url, &opts()).err().unwrap();
        assert!(!e.message.contains(secret), "{}", e.message);
    }

    #[test]
    fn my_chunk_delete_sql_executes() {
        let Some(db) = TestDb::create("my_chunk_delete_sql_executes") else {
            return;
        };
        let mut c = db.connect();
        c.execute_batch("CREATE TABLE challenge (id INTEGER PRIMARY KEY, expiration DATETIME(6))")
            .unwrap();
        for i in 1..=30 {
            c.execute(
                "INSERT INTO challenge VALUES (?, ?)",
                &[
                    Value::Int(i),
                    Value::DateTime(dt(2026, 1, 1, 0, i as u32, 0, 0)),
                ],
            )
            .unwrap();
        }
        let cutoff = dt(2026, 1, 1, 0, 25, 0, 0); // ids 1..=24 are older
                                                  // The PostgreSQL/SQLite form is refused by MariaDB and MySQL (LIMIT in IN subquery) …
        let pg = Dialect::Postgres.chunk_delete_sql("challenge", "id", "expiration < ?", 10);
        let pg = pg.replace('"', "`");
        let e = c.execute(&pg, &[Value::DateTime(cutoff)]).unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Other, "{}", e.message);
        assert!(e.message.contains("1235"), "{}", e.message);
        // … which is why the MySQL dialect deletes with DELETE … LIMIT.
        let sql = Dialect::Mysql.chunk_delete_sql("challenge", "id", "expiration < ?", 10);
        let mut chunks = Vec::new();
        loop {
            let n = c.execute(&sql, &[Value::DateTime(cutoff)]).unwrap();
            chunks.push(n);
            if n < 10 {
                break;
            }
        }
        assert_eq!(chunks, vec![10, 10, 4]);
        assert_eq!(
            c.query_i64("SELECT min(id) FROM challenge", &[]).unwrap(),
            Some(25)
        );
    }

    fn check_ddl(c: &mut MysqlConnection, sql: &str) {
        c.execute_batch(sql).unwrap();
        for t in [
            "pidea_audit",
            "challenge",
            "policy",
            "config",
            "alembic_version",
        ] {
            assert!(c.table_exists(t).unwrap(), "{t} missing");
        }
        let rows = c
            .query_rows("SELECT version_num FROM alembic_version", &[])
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get(0), &Value::Text("b7c1e4d2a9f3".into()));
        assert_eq!(
            c.table_columns("config").unwrap(),
            vec!["Key", "Value", "Type", "Description"]
        );
    }

    #[test]
    fn my_ddl_file_creates_the_schema() {
        let Some(db) = TestDb::create("my_ddl_file_creates_the_schema") else {
            return;
        };
        let mut c = db.connect();
        if c.is_mariadb() {
            check_ddl(&mut c, include_str!("ddl/mariadb.sql"));
            // Ids come from the sequences (no AUTO_INCREMENT on a fresh privacyIDEA DB).
            let when = dt(2026, 3, 1, 8, 0, 0, 1);
            c.execute(
                "INSERT INTO pidea_audit (id, date, action) VALUES (NEXTVAL(audit_seq), ?, ?)",
                &[
                    Value::DateTime(when),
                    Value::Text("POST /validate/check".into()),
                ],
            )
            .unwrap();
            let r = c
                .query_rows("SELECT id, date FROM pidea_audit", &[])
                .unwrap();
            assert_eq!(r[0].0, vec![Value::Int(1), Value::DateTime(when)]);
            // The MySQL 8 file runs on MariaDB too (it only adds AUTO_INCREMENT).
            let other = TestDb::create("my_ddl_file_creates_the_schema").unwrap();
            check_ddl(&mut other.connect(), include_str!("ddl/mysql.sql"));
        } else {
            check_ddl(&mut c, include_str!("ddl/mysql.sql"));
        }
    }
}
