//! Databases on the test servers for the benchmarks (`backup`, and `maintenance`'s
//! `audit_dump` on PostgreSQL and MariaDB): a fresh database per run, named by the same
//! `PIM_TEST_POSTGRES_URL` / `PIM_TEST_MYSQL_URL` admin connections as the tests, dropped
//! again when its [`Target`] goes; `pidea_audit` filled on the server side; the command-line
//! clients' connection options.

use pi_manage::db::{self, Connection, OpenOptions};
use pi_manage::dburl::{Backend, DbUrl};

/// A database for one dialect, with pi.cfg text.
pub struct Target {
    pub backend: Backend,
    /// The URL as pi.cfg's `SQLALCHEMY_DATABASE_URI`.
    pub url_text: String,
    pub url: DbUrl,
    /// The server's admin connection, for dropping the database again (`None`: SQLite).
    pub admin: Option<DbUrl>,
    pub name: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin {
            if let Ok(mut c) = db::open(admin, &OpenOptions::default()) {
                let q = c.dialect().quote(&self.name);
                let _ = c.execute_batch(&format!("DROP DATABASE IF EXISTS {q}"));
            }
        }
    }
}

/// A fresh database `pim_bench_<what>_<pid>` on the server whose admin URL `var` names, or
/// `None` when the variable is not set. Dropped with the [`Target`].
pub fn server_target(var: &str, what: &str) -> Option<Target> {
    let text = std::env::var(var).ok()?;
    let admin = DbUrl::parse(&text).expect("admin URL");
    let name = format!("pim_bench_{what}_{}", std::process::id());
    let mut c = db::open(&admin, &OpenOptions::default()).expect("connect");
    let q = c.dialect().quote(&name);
    c.execute_batch(&format!("DROP DATABASE IF EXISTS {q}"))
        .unwrap();
    c.execute_batch(&format!("CREATE DATABASE {q}")).unwrap();
    let mut url = admin.clone();
    url.database = Some(name.clone());
    let auth = match (&admin.user, &admin.password) {
        (Some(u), Some(p)) => format!("{u}:{}@", p.expose()),
        (Some(u), None) => format!("{u}@"),
        _ => String::new(),
    };
    let host = admin.host.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = admin.port.map(|p| format!(":{p}")).unwrap_or_default();
    Some(Target {
        backend: admin.backend,
        url_text: format!("{}://{auth}{host}{port}/{name}", admin.scheme),
        url,
        admin: Some(admin),
        name,
    })
}

/// Fill `pidea_audit` with `n` rows on the server side (fast, and no client memory).
pub fn fill(conn: &mut dyn Connection, backend: Backend, n: u64) {
    let sql = match backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
             INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, serial, token_type, \"user\", realm, administrator, action_detail, info, privacyidea_server, client, loglevel, clearance_level, policies) \
             SELECT x, datetime('now', '-' || (x % 400) || ' days'), datetime('now', '-' || (x % 400) || ' days'), '1970-01-01 00:00:00.012000', \
             'rsa_sha256_pss:' || lower(hex(randomblob(256))), 'POST /validate/check', x % 2, 'HOTP' || (x % 5000), 'hotp', 'user' || (x % 1000), 'realm1', '', '', 'wrong otp value', 'vecnode', '10.0.' || (x % 250) || '.1', 'default', 'default', 'policy1' FROM c"
        ),
        Backend::Postgres => format!(
            "INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, serial, token_type, \"user\", realm, administrator, action_detail, info, privacyidea_server, client, loglevel, clearance_level, policies) \
             SELECT x, now() - (x % 400) * interval '1 day', now() - (x % 400) * interval '1 day', interval '12 milliseconds', \
             'rsa_sha256_pss:' || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) \
             || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text), \
             'POST /validate/check', x % 2, 'HOTP' || (x % 5000), 'hotp', 'user' || (x % 1000), 'realm1', '', '', 'wrong otp value', 'vecnode', '10.0.' || (x % 250) || '.1', 'default', 'default', 'policy1' \
             FROM generate_series(1, {n}) AS x"
        ),
        Backend::Mysql => format!(
            "INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, serial, token_type, `user`, realm, administrator, action_detail, info, privacyidea_server, client, loglevel, clearance_level, policies) \
             SELECT seq, NOW() - INTERVAL (seq % 400) DAY, NOW() - INTERVAL (seq % 400) DAY, '1970-01-01 00:00:00.012000', \
             CONCAT('rsa_sha256_pss:', SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512), SHA2(RAND(), 512)), \
             'POST /validate/check', seq % 2, CONCAT('HOTP', seq % 5000), 'hotp', CONCAT('user', seq % 1000), 'realm1', '', '', 'wrong otp value', 'vecnode', CONCAT('10.0.', seq % 250, '.1'), 'default', 'default', 'policy1' \
             FROM seq_1_to_{n}"
        ),
    };
    conn.execute_batch(&sql).expect("fill pidea_audit");
}

/// The number of rows in `pidea_audit`.
pub fn count(url: &DbUrl) -> i64 {
    let mut c = db::open(url, &OpenOptions::default()).expect("connect");
    c.query_i64("SELECT count(*) FROM pidea_audit", &[])
        .unwrap()
        .unwrap()
}

/// The client tools' connection options and environment for a server target.
pub fn client_args(t: &Target) -> (String, Vec<(&'static str, String)>) {
    let host = t.url.host.as_deref().unwrap_or("127.0.0.1").to_string();
    match t.backend {
        Backend::Postgres => (
            format!(
                "--host {host} --port {} --username {} --no-password",
                t.url.port.unwrap_or(5432),
                t.url.user.as_deref().unwrap_or("postgres"),
            ),
            t.url
                .password
                .iter()
                .map(|p| ("PGPASSWORD", p.expose().to_string()))
                .collect(),
        ),
        _ => (
            format!(
                "--host={host} --port={} --user={}",
                t.url.port.unwrap_or(3306),
                t.url.user.as_deref().unwrap_or("root"),
            ),
            t.url
                .password
                .iter()
                .map(|p| ("MYSQL_PWD", p.expose().to_string()))
                .collect(),
        ),
    }
}
