//! The PostgreSQL driver (`postgres` crate, synchronous; TLS through rustls with libpq's
//! `sslmode` rules, see `pg_tls`).
//!
//! SQL arrives with `?` placeholders and is rewritten to `$1, $2, …`. PostgreSQL is strict
//! about parameter types, so each [`Value`] is encoded for the type the server inferred for
//! its parameter: binary for the integer, float, boolean and timestamp types it matches, and
//! the text form otherwise (the server then parses it, exactly as it would a literal).
//! Result cells are read by column type; `interval` comes back as Python's `str(timedelta)`,
//! the way privacyIDEA (psycopg2) sees `pidea_audit.duration`.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::time::Duration;

use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use postgres::config::SslMode;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{to_sql_checked, FromSql, IsNull, Kind, ToSql, Type};
use postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pg_tls;
use super::sql_split::{skip_block_comment, skip_dollar_quoted, skip_line_comment, skip_quoted};
use super::value::SQLITE_DATETIME_FORMAT;
use super::{Connection, DbError, DbErrorKind, DbResult, Dialect, OpenOptions, Row, Value};
use crate::dbtls::{explain_tls_failure, PgTls, RootCert, SslMode as TlsMode};
use crate::dburl::DbUrl;

type BoxError = Box<dyn StdError + Sync + Send>;

pub struct PostgresConnection {
    client: Client,
    target: String,
}

impl PostgresConnection {
    /// Connect to the database `url` names: host (or `?host=/socket/dir`), port (5432), user,
    /// password, database, libpq's TLS options (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
    /// `sslcrl`, … and their `PGSSL*` environment variables), `?application_name=`, `?options=`.
    pub fn open(url: &DbUrl, opts: &OpenOptions) -> DbResult<Self> {
        let port = url.port.unwrap_or(5432);
        let dbname = url.database.clone().unwrap_or_default();
        let user = url
            .user
            .clone()
            .or_else(|| url.query_param("user").map(str::to_string))
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into());
        let host = url
            .host
            .clone()
            .or_else(|| url.query_param("host").map(str::to_string))
            .unwrap_or_else(|| default_host(port));
        let place = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let target = format!("postgresql database {dbname} on {place} as {user}");
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

        let mut config = Config::new();
        config
            .host(host.as_str())
            .port(port)
            .user(&user)
            .dbname(&dbname)
            .connect_timeout(opts.connect_timeout)
            .application_name(url.query_param("application_name").unwrap_or("pi-manage"));
        if let Some(p) = &url.password {
            config.password(p.expose());
        }
        if let Some(o) = url.query_param("options") {
            config.options(o);
        }
        let tls = PgTls::from_query(&url.query)
            .and_then(|t| {
                let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
                t.with_libpq_defaults(|n| std::env::var(n).ok(), home.as_deref())
            })
            .map_err(|e| fail(DbErrorKind::Connect, &e))?;
        // libpq never uses TLS over a Unix-domain socket, whatever sslmode says.
        let mode = if host.starts_with('/') {
            TlsMode::Disable
        } else {
            tls.mode
        };
        // libpq's attempts: `allow` tries plain first and TLS when the server refuses it,
        // `prefer` TLS first (plain when the server offers no TLS or the handshake fails).
        let attempts: &[SslMode] = match mode {
            TlsMode::Disable => &[SslMode::Disable],
            TlsMode::Allow => &[SslMode::Disable, SslMode::Require],
            TlsMode::Prefer => &[SslMode::Prefer, SslMode::Disable],
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => &[SslMode::Require],
        };
        let connector = if mode == TlsMode::Disable {
            None
        } else {
            let config = pg_tls::client_config(&tls).map_err(|e| fail(DbErrorKind::Connect, &e))?;
            Some(MakeRustlsConnect::new(config))
        };
        let tls_note = tls_description(mode, &tls);

        let mut attempt = 0;
        let mut client = loop {
            let ssl = attempts[attempt];
            config.ssl_mode(ssl);
            let result = match (&connector, ssl) {
                (Some(c), SslMode::Prefer | SslMode::Require) => config.connect(c.clone()),
                _ => config.connect(NoTls),
            };
            let e = match result {
                Ok(client) => break client,
                Err(e) => e,
            };
            let tls_failed = e.as_db_error().is_none() && e.to_string().contains("TLS");
            let retry = match ssl {
                SslMode::Prefer => tls_failed,
                SslMode::Disable => e.as_db_error().is_some(),
                _ => false,
            };
            if retry && attempt + 1 < attempts.len() {
                attempt += 1;
                continue;
            }
            let (kind, reason) = match e.as_db_error() {
                Some(db) => {
                    let code = db.code().code();
                    let mut reason = db.message().to_string();
                    // pg_hba.conf has only `hostssl` lines for us: say what to change.
                    if ssl == SslMode::Disable && reason.contains("no encryption") {
                        reason.push_str(&format!(
                            " (the server requires TLS, and this connection was made without \
                             it: {tls_note}; use sslmode=require or stronger)"
                        ));
                        (DbErrorKind::Connect, reason)
                    } else {
                        let kind = match code {
                            "28P01" | "28000" => DbErrorKind::Auth,
                            _ => DbErrorKind::Connect,
                        };
                        (kind, reason)
                    }
                }
                None => {
                    let reason = with_causes(&e);
                    let auth = reason.starts_with("authentication error")
                        || reason.contains("password missing");
                    if auth {
                        (DbErrorKind::Auth, reason)
                    } else if tls_failed {
                        (
                            DbErrorKind::Connect,
                            explain_tls_failure(&reason, &tls_note, &host),
                        )
                    } else {
                        (DbErrorKind::Connect, reason)
                    }
                }
            };
            return Err(fail(kind, &reason));
        };

        let mut setup = format!("SET lock_timeout = {}", millis(opts.lock_timeout));
        if let Some(t) = opts.statement_timeout {
            setup.push_str(&format!("; SET statement_timeout = {}", millis(t)));
        }
        client.batch_execute(&setup).map_err(map_err)?;
        // Chunked deletes reuse one prepared statement for every chunk. After five runs
        // PostgreSQL may switch it to a generic plan that cannot see the cut-off date and so
        // cannot choose the date index; maintenance statements are few and heavy, so always
        // plan with the actual values (PostgreSQL >= 12; older servers ignore the failure).
        let _ = client.batch_execute("SET plan_cache_mode = force_custom_plan");
        Ok(PostgresConnection { client, target })
    }
}

/// What TLS a connection attempt used, for messages: the mode and what was checked.
fn tls_description(mode: TlsMode, tls: &PgTls) -> String {
    let root = match &tls.root_cert {
        Some(RootCert::File(p)) => format!("root certificate \"{}\"", p.display()),
        Some(RootCert::System) => "the system's root certificates".to_string(),
        None => "no root certificate".to_string(),
    };
    match mode {
        TlsMode::Disable => format!("sslmode={}", mode.as_str()),
        _ => format!("sslmode={}, {root}", mode.as_str()),
    }
}

/// libpq's default when no host is given: the local socket directory, else `localhost`.
fn default_host(port: u16) -> String {
    for dir in ["/var/run/postgresql", "/run/postgresql", "/tmp"] {
        if std::path::Path::new(&format!("{dir}/.s.PGSQL.{port}")).exists() {
            return dir.to_string();
        }
    }
    "localhost".into()
}

/// A timeout in whole milliseconds, at least 1 (0 would mean "no limit" to PostgreSQL).
fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

/// An error's message followed by those of its causes (`postgres::Error` shows only its kind).
fn with_causes(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
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

/// The error kind of a PostgreSQL SQLSTATE.
fn kind_for_sqlstate(code: &str) -> DbErrorKind {
    match code {
        "28P01" | "28000" => DbErrorKind::Auth,
        "3D000" | "53300" | "57P01" | "57P02" | "57P03" => DbErrorKind::Connect,
        "40P01" | "40001" => DbErrorKind::Locked,
        "55P03" | "57014" => DbErrorKind::Timeout,
        c if c.starts_with("08") => DbErrorKind::Connect,
        c if c.starts_with("23") => DbErrorKind::Constraint,
        _ => DbErrorKind::Other,
    }
}

fn map_err(e: postgres::Error) -> DbError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let mut message = format!("postgresql: {}", one_line(db.message()));
        if let Some(detail) = db.detail() {
            message.push_str(&format!(" ({})", one_line(detail)));
        }
        message.push_str(&format!(" [SQLSTATE {code}]"));
        return DbError::new(kind_for_sqlstate(code), message);
    }
    let io = e
        .source()
        .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
    let kind = if e.is_closed() || io {
        DbErrorKind::Connect
    } else {
        DbErrorKind::Other
    };
    DbError::new(kind, format!("postgresql: {}", one_line(&with_causes(&e))))
}

/// Rewrite `?` placeholders to `$1, $2, …`, leaving `?` inside string literals (`'…'`,
/// `E'…'`, `$tag$…$tag$`), quoted identifiers and comments alone.
pub fn rewrite_placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                let escape_string = i > 0
                    && (b[i - 1] == b'E' || b[i - 1] == b'e')
                    && (i < 2 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'));
                i = skip_quoted(b, i, b'\'', escape_string);
            }
            b'"' => i = skip_quoted(b, i, b'"', false),
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_line_comment(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            b'$' => i = skip_dollar_quoted(b, i),
            b'?' => {
                n += 1;
                out.push_str(&sql[copied..i]);
                out.push_str(&format!("${n}"));
                i += 1;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    Cow::Owned(out)
}

/// A bind parameter, encoded for the type the server inferred for it.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl Param<'_> {
    /// Whether the value goes in binary form for `ty`; otherwise its text form is sent and
    /// the server parses it (numeric, interval, date, timestamptz, text columns, …).
    fn binary(&self, ty: &Type) -> bool {
        match self.0 {
            Value::Null => true,
            Value::Int(_) | Value::Bool(_) => matches!(
                *ty,
                Type::INT2 | Type::INT4 | Type::INT8 | Type::FLOAT4 | Type::FLOAT8 | Type::BOOL
            ),
            Value::Float(f) => {
                matches!(*ty, Type::FLOAT4 | Type::FLOAT8)
                    || (matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
                        && f.fract() == 0.0
                        && f.abs() < 9.2e18)
            }
            Value::DateTime(_) => *ty == Type::TIMESTAMP,
            Value::Text(_) => false,
        }
    }

    fn text(&self) -> Cow<'_, str> {
        match self.0 {
            Value::Null => Cow::Borrowed(""),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Float(f) => Cow::Owned(f.to_string()),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Text(t) => Cow::Borrowed(t),
            Value::DateTime(dt) => Cow::Owned(dt.format(SQLITE_DATETIME_FORMAT).to_string()),
        }
    }
}

fn out_of_range(v: &Value, ty: &Type) -> BoxError {
    format!(
        "parameter value {v:?} is out of range for type {}",
        ty.name()
    )
    .into()
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if matches!(self.0, Value::Null) {
            return Ok(IsNull::Yes);
        }
        if !self.binary(ty) {
            out.extend_from_slice(self.text().as_bytes());
            return Ok(IsNull::No);
        }
        match (self.0, ty) {
            (Value::Int(_) | Value::Bool(_), _) => {
                let i = match self.0 {
                    Value::Int(i) => *i,
                    _ => matches!(self.0, Value::Bool(true)) as i64,
                };
                match *ty {
                    Type::INT2 => i16::try_from(i)
                        .map_err(|_| out_of_range(self.0, ty))?
                        .to_sql(ty, out),
                    Type::INT4 => i32::try_from(i)
                        .map_err(|_| out_of_range(self.0, ty))?
                        .to_sql(ty, out),
                    Type::INT8 => i.to_sql(ty, out),
                    Type::FLOAT4 => (i as f32).to_sql(ty, out),
                    Type::FLOAT8 => (i as f64).to_sql(ty, out),
                    _ => (i != 0).to_sql(ty, out),
                }
            }
            (Value::Float(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Float(f), &Type::FLOAT8) => f.to_sql(ty, out),
            // An integral float against an integer parameter (checked by `binary`).
            (Value::Float(f), _) => Param(&Value::Int(*f as i64)).to_sql(ty, out),
            (Value::DateTime(dt), _) => dt.to_sql(ty, out),
            _ => unreachable!("binary() admits no other combination"),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> postgres::types::Format {
        if self.binary(ty) {
            postgres::types::Format::Binary
        } else {
            postgres::types::Format::Text
        }
    }

    to_sql_checked!();
}

/// A result cell read by its column type.
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let v = match *ty {
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)? as i64),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)? as i64),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::OID => Value::Int(u32::from_sql(ty, raw)? as i64),
            // The shortest decimal form, as psycopg2 reads a `real` ("1.1", not 1.100000023…).
            Type::FLOAT4 => Value::Float(f32::from_sql(ty, raw)?.to_string().parse()?),
            Type::FLOAT8 => Value::Float(f64::from_sql(ty, raw)?),
            Type::NUMERIC => Value::Float(decode_numeric(raw)?.parse()?),
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::TIMESTAMP => Value::DateTime(NaiveDateTime::from_sql(ty, raw)?),
            Type::TIMESTAMPTZ => Value::DateTime(DateTime::<Utc>::from_sql(ty, raw)?.naive_utc()),
            Type::DATE => Value::Text(NaiveDate::from_sql(ty, raw)?.to_string()),
            Type::TIME => Value::Text(NaiveTime::from_sql(ty, raw)?.to_string()),
            Type::INTERVAL => Value::Text(decode_interval(raw)?),
            Type::CHAR => Value::Text(char::from(i8::from_sql(ty, raw)? as u8).to_string()),
            Type::JSONB => Value::Text(String::from_utf8_lossy(raw.get(1..).unwrap_or(&[])).into()),
            Type::UUID => Value::Text(format_uuid(raw)?),
            Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UNKNOWN
            | Type::JSON
            | Type::XML
            | Type::BYTEA => Value::Text(String::from_utf8_lossy(raw).into()),
            _ if matches!(ty.kind(), Kind::Enum(_)) => {
                Value::Text(String::from_utf8_lossy(raw).into())
            }
            _ => {
                return Err(format!(
                    "unsupported PostgreSQL column type {}; cast the column to text in the query",
                    ty.name()
                )
                .into())
            }
        };
        Ok(Cell(v))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

fn take<const N: usize>(raw: &[u8], at: usize) -> Result<[u8; N], BoxError> {
    raw.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| "truncated value from the server".into())
}

/// The binary `numeric` as decimal text.
fn decode_numeric(raw: &[u8]) -> Result<String, BoxError> {
    let ndigits = i16::from_be_bytes(take(raw, 0)?) as i64;
    let weight = i16::from_be_bytes(take(raw, 2)?) as i64;
    let sign = u16::from_be_bytes(take(raw, 4)?);
    let dscale = u16::from_be_bytes(take(raw, 6)?) as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("inf".into()),
        0xF000 => return Ok("-inf".into()),
        _ => {}
    }
    let digit = |i: i64| -> Result<u16, BoxError> {
        if i < 0 || i >= ndigits {
            Ok(0)
        } else {
            Ok(u16::from_be_bytes(take(raw, 8 + 2 * i as usize)?))
        }
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                s.push_str(&digit(i)?.to_string());
            } else {
                s.push_str(&format!("{:04}", digit(i)?));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut k = 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(weight + k)?));
            k += 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Ok(s)
}

/// The binary `interval` rendered as Python's `str(timedelta)`, as psycopg2 converts it
/// (a year counts 365 days, a month 30): `0:00:00.200327`, `1 day, 2:03:04`, `-1 day, 23:59:59`.
fn decode_interval(raw: &[u8]) -> Result<String, BoxError> {
    let micros = i64::from_be_bytes(take(raw, 0)?);
    let days = i32::from_be_bytes(take(raw, 8)?);
    let months = i32::from_be_bytes(take(raw, 12)?);
    Ok(python_timedelta(micros, days, months))
}

fn python_timedelta(micros: i64, days: i32, months: i32) -> String {
    const DAY: i128 = 86_400_000_000;
    let total_days = (months / 12) as i128 * 365 + (months % 12) as i128 * 30 + days as i128;
    crate::pytext::timedelta_str_micros(total_days * DAY + micros as i128)
}

fn format_uuid(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 16 {
        return Err("invalid uuid from the server".into());
    }
    let h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

impl Connection for PostgresConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        let sql = rewrite_placeholders(sql);
        let params: Vec<Param> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client.execute(sql.as_ref(), &refs).map_err(map_err)
    }

    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&mut Row) -> DbResult<()>,
    ) -> DbResult<()> {
        let sql = rewrite_placeholders(sql);
        let params: Vec<Param> = params.iter().map(Param).collect();
        let mut rows = self
            .client
            .query_raw(sql.as_ref(), params.iter())
            .map_err(map_err)?;
        let mut row = Row::default();
        while let Some(r) = rows.next().map_err(map_err)? {
            row.0.clear();
            row.0.reserve(r.len()); // the caller may have taken the last row's cells
            for i in 0..r.len() {
                let cell: Cell = r.try_get(i).map_err(map_err)?;
                row.0.push(cell.0);
            }
            f(&mut row)?;
        }
        Ok(())
    }

    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        self.client.batch_execute(sql).map_err(map_err)
    }

    fn table_exists(&mut self, table: &str) -> DbResult<bool> {
        Ok(self
            .query_i64(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = ?",
                &[Value::Text(table.into())],
            )?
            .unwrap_or(0)
            > 0)
    }

    fn table_columns(&mut self, table: &str) -> DbResult<Vec<String>> {
        let mut cols = Vec::new();
        self.for_each_row(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
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
        let exists = self
            .query_rows(
                "SELECT to_regclass(?) IS NOT NULL",
                &[Value::Text(sequence.into())],
            )?
            .first()
            .is_some_and(|r| matches!(r.get(0), Value::Bool(true)));
        Ok(exists.then(|| format!("nextval('{}')", sequence.replace('\'', "''"))))
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::db::test_support::opts;

    #[test]
    fn rewrites_placeholders_outside_literals() {
        assert_eq!(rewrite_placeholders("SELECT 1"), "SELECT 1");
        assert_eq!(
            rewrite_placeholders("SELECT a FROM t WHERE a = ? AND b < ?"),
            "SELECT a FROM t WHERE a = $1 AND b < $2"
        );
        assert_eq!(
            rewrite_placeholders(
                "SELECT '?', 'it''s ?', \"a?b\", E'\\'?', $$?$$, $x$?$x$ -- ?\n, ? /* ? /* ? */ ? */, ?"
            ),
            "SELECT '?', 'it''s ?', \"a?b\", E'\\'?', $$?$$, $x$?$x$ -- ?\n, $1 /* ? /* ? */ ? */, $2"
        );
        // A standard string ends at the quote after a backslash.
        assert_eq!(rewrite_placeholders("SELECT 'a\\', ?"), "SELECT 'a\\', $1");
    }

    #[test]
    fn renders_intervals_like_python_timedelta() {
        assert_eq!(python_timedelta(200_327, 0, 0), "0:00:00.200327");
        assert_eq!(python_timedelta(0, 0, 0), "0:00:00");
        assert_eq!(python_timedelta(7_384_000_000, 1, 0), "1 day, 2:03:04");
        assert_eq!(python_timedelta(3_600_000_000, 2, 0), "2 days, 1:00:00");
        assert_eq!(python_timedelta(-1_000_000, 0, 0), "-1 day, 23:59:59");
        assert_eq!(python_timedelta(0, 0, 14), "425 days, 0:00:00");
    }

    #[test]
    fn sqlstates_map_to_kinds() {
        assert_eq!(kind_for_sqlstate("28P01"), DbErrorKind::Auth);
        assert_eq!(kind_for_sqlstate("28000"), DbErrorKind::Auth);
        assert_eq!(kind_for_sqlstate("3D000"), DbErrorKind::Connect);
        assert_eq!(kind_for_sqlstate("08006"), DbErrorKind::Connect);
        assert_eq!(kind_for_sqlstate("40P01"), DbErrorKind::Locked);
        assert_eq!(kind_for_sqlstate("40001"), DbErrorKind::Locked);
        assert_eq!(kind_for_sqlstate("55P03"), DbErrorKind::Timeout);
        assert_eq!(kind_for_sqlstate("57014"), DbErrorKind::Timeout);
        assert_eq!(kind_for_sqlstate("23505"), DbErrorKind::Constraint);
        assert_eq!(kind_for_sqlstate("23503"), DbErrorKind::Constraint);
        assert_eq!(kind_for_sqlstate("42601"), DbErrorKind::Other);
    }

    #[test]
    fn missing_root_certificate_is_named_before_connecting() {
        let url = DbUrl::parse(
            "postgresql://pi:Tls-Pw-4471@db.example:5432/pi?sslmode=verify-ca&sslrootcert=/nonexistent/pi-ca.pem",
        )
        .unwrap();
        let e = PostgresConnection::open(&url, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect);
        assert!(
            e.message
                .starts_with("cannot connect to postgresql database pi on db.example:5432 as pi: "),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("/nonexistent/pi-ca.pem"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("Tls-Pw-4471"));
    }
}
