//! The driver-generic test harness: every test body runs once per available backend.
//!
//! SQLite always; PostgreSQL and MariaDB/MySQL when `PIM_TEST_POSTGRES_URL` /
//! `PIM_TEST_MYSQL_URL` name an admin connection. Each run gets its own database, created
//! here and dropped when the guard goes out of scope. With `CI=true` a backend whose URL is
//! unset or unreachable fails the test instead of being skipped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use chrono::NaiveDateTime;
use pi_manage::clock::{Clock, FixedClock};
use pi_manage::db::{self, Connection, OpenOptions, Value};
use pi_manage::dburl::{Backend, DbUrl};
use pi_manage::executor::{self, JobReport, RunOptions, RunOutput, Runtime};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::TaskSpec;
use pi_manage::settings::Settings;
use pi_manage::tasks::{self, Databases, TaskOutput, TaskSite};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test database on one backend; dropped (server backends) or deleted (SQLite) on drop.
pub struct TestDb {
    pub backend: Backend,
    pub url: DbUrl,
    admin: Option<DbUrl>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn connect(&self) -> Box<dyn Connection> {
        db::open(
            &self.url,
            &OpenOptions {
                create: true,
                ..OpenOptions::default()
            },
        )
        .expect("connect to test database")
    }

    pub fn label(&self) -> &'static str {
        self.backend.name()
    }

    /// The database URL as text, for job files and pi.cfg files (with the password, if any).
    pub fn url_text(&self) -> String {
        let u = &self.url;
        if u.backend == Backend::Sqlite {
            return format!("sqlite:///{}", u.database.as_deref().unwrap_or_default());
        }
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let auth = match (&u.user, &u.password) {
            (Some(user), Some(pw)) => format!("{}:{}@", enc(user), enc(pw.expose())),
            (Some(user), None) => format!("{}@", enc(user)),
            _ => String::new(),
        };
        let host = u.host.clone().unwrap_or_else(|| "127.0.0.1".into());
        let port = u.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{auth}{host}{port}/{}",
            u.scheme,
            u.database.as_deref().unwrap_or_default()
        )
    }

    /// Installation settings for this database, with privacyIDEA's defaults.
    pub fn settings(&self) -> Settings {
        Settings::for_database(self.url.clone())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin {
            if let Ok(mut c) = db::open(admin, &OpenOptions::default()) {
                let q = c.dialect().quote(&self.name);
                // PostgreSQL refuses to drop a database a session of a panicked test still
                // holds; FORCE (13+) ends those sessions.
                let forced = self.backend == Backend::Postgres
                    && c.execute_batch(&format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"))
                        .is_ok();
                if !forced {
                    let _ = c.execute_batch(&format!("DROP DATABASE IF EXISTS {q}"));
                }
            }
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn announce_skips() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (var, name) in [
            ("PIM_TEST_POSTGRES_URL", "PostgreSQL"),
            ("PIM_TEST_MYSQL_URL", "MariaDB/MySQL"),
        ] {
            if std::env::var(var).is_err() {
                // Written to the stream directly: libtest captures eprintln! of passing tests.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {name} suite SKIPPED ({var} is not set); the SQLite suite ran. See README, 'Tests'."
                );
            }
        }
    });
}

fn server_db(var: &str) -> Option<TestDb> {
    let Ok(admin_text) = std::env::var(var) else {
        if in_ci() {
            panic!("{var} is not set, and CI=true requires every database suite to run");
        }
        return None;
    };
    let admin = DbUrl::parse(&admin_text).unwrap_or_else(|e| panic!("{var}: {e}"));
    Some(database_on(admin))
}

/// A fresh database on the server `admin` names (an admin connection), dropped on drop.
pub fn database_on(admin: DbUrl) -> TestDb {
    let name = format!(
        "pim_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut c = match db::open(&admin, &OpenOptions::default()) {
        Ok(c) => c,
        Err(e) => panic!("{} is unreachable: {e}", admin.redacted()),
    };
    let q = c.dialect().quote(&name);
    let create = match admin.backend {
        Backend::Mysql => format!("CREATE DATABASE {q} CHARACTER SET utf8mb4"),
        _ => format!("CREATE DATABASE {q}"),
    };
    c.execute_batch(&create).expect("create test database");
    if admin.backend == Backend::Postgres {
        // The server's zone is far from the client's (UTC+14): naive timestamps must not be
        // shifted by it anywhere.
        c.execute_batch(&format!(
            "ALTER DATABASE {q} SET timezone TO 'Pacific/Kiritimati'"
        ))
        .expect("set the test database's time zone");
    }
    let mut url = admin.clone();
    url.database = Some(name.clone());
    TestDb {
        backend: admin.backend,
        url,
        admin: Some(admin),
        name,
        _dir: None,
    }
}

fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pi.sqlite");
    let url = DbUrl::parse(&format!("sqlite:///{}", path.display())).unwrap();
    TestDb {
        backend: Backend::Sqlite,
        url,
        admin: None,
        name: String::new(),
        _dir: Some(dir),
    }
}

/// Fresh, empty test databases: SQLite, plus each configured server.
pub fn databases() -> Vec<TestDb> {
    announce_skips();
    let mut v = vec![sqlite_db()];
    v.extend(server_db("PIM_TEST_POSTGRES_URL"));
    v.extend(server_db("PIM_TEST_MYSQL_URL"));
    v
}

/// Fresh databases with privacyIDEA's schema created by our own `create_tables` task.
pub fn privacyidea_databases() -> Vec<TestDb> {
    let dbs = databases();
    for db in &dbs {
        create_privacyidea_schema(db);
    }
    dbs
}

/// privacyIDEA's schema in `db`, created by our own `create_tables` task.
pub fn create_privacyidea_schema(db: &TestDb) {
    let out = run_spec(
        db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    assert_eq!(
        out.report.status,
        executor::JobStatus::Ok,
        "{}: {:?}",
        db.label(),
        out.report
    );
}

/// A fresh SQLite database with privacyIDEA's schema, for tests that need only one backend.
pub fn privacyidea_sqlite() -> TestDb {
    let db = sqlite_db();
    create_privacyidea_schema(&db);
    db
}

/// A collecting output: the lines tasks print.
#[derive(Default)]
pub struct Collect {
    pub lines: Vec<String>,
}

impl TaskOutput for Collect {
    fn message(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }
    fn progress(
        &mut self,
        _: &str,
        _: Option<u64>,
    ) -> Box<dyn pi_manage::db::delete::DeleteObserver> {
        Box::new(pi_manage::db::delete::NoProgress)
    }
}
impl RunOutput for Collect {}

pub struct RunResult {
    pub report: JobReport,
    pub lines: Vec<String>,
}

impl RunResult {
    pub fn outcome(&self) -> &pi_manage::tasks::TaskOutcome {
        &self.report.tasks[0]
    }
}

/// Prepare and run one task spec against a test database.
pub fn run_spec(db: &TestDb, spec: TaskSpec, dry_run: bool, clock: &dyn Clock) -> RunResult {
    run_spec_with(db, spec, dry_run, clock, &Interrupt::new())
}

pub fn run_spec_with(
    db: &TestDb,
    spec: TaskSpec,
    dry_run: bool,
    clock: &dyn Clock,
    interrupt: &Interrupt,
) -> RunResult {
    let site = TaskSite::command_line(std::path::Path::new("."));
    let mut diags = Vec::new();
    let task = tasks::prepare(&spec, &site, &mut diags)
        .unwrap_or_else(|| panic!("invalid spec: {diags:?}"));
    run_task(db, task, dry_run, clock, interrupt, &db.settings())
}

/// Run a prepared task with the given installation settings.
pub fn run_task(
    db: &TestDb,
    task: tasks::Task,
    dry_run: bool,
    clock: &dyn Clock,
    interrupt: &Interrupt,
    settings: &Settings,
) -> RunResult {
    let mut out = Collect::default();
    let report = run_task_with_output(db, task, dry_run, clock, interrupt, settings, &mut out);
    RunResult {
        report,
        lines: out.lines,
    }
}

/// Run a prepared task with the given settings, showing it through `out` (a test's own
/// observer of chunks and progress).
pub fn run_task_with_output(
    db: &TestDb,
    task: tasks::Task,
    dry_run: bool,
    clock: &dyn Clock,
    interrupt: &Interrupt,
    settings: &Settings,
    out: &mut dyn RunOutput,
) -> JobReport {
    let mut dbs = Databases::new(db.url.clone(), None, OpenOptions::default());
    let rt = Runtime {
        clock,
        interrupt,
        open: OpenOptions::default(),
    };
    executor::run_with_databases(
        "test",
        "test",
        &[task],
        settings,
        &mut dbs,
        &RunOptions {
            dry_run,
            only_task: None,
        },
        &rt,
        out,
    )
}

/// How long a test waits for an event before it fails: long enough for a very slow, loaded
/// machine. It is never a measure of speed (that is the benchmark's job).
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// Wait until `check` returns something, and return it; `None` after [`PATIENCE`]. The one
/// wait-for-an-event loop of the suite: tests wait for what they need (a ledger row, a log
/// line, a file, a committed row), never for a fixed time. It polls every millisecond at
/// first (most events come soon), then less and less often up to every 100 ms, so a long
/// wait does not take the CPU from the processes it is waiting for.
pub fn poll_for<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut step = std::time::Duration::from_millis(1);
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(step);
        step = (step * 2).min(std::time::Duration::from_millis(100));
    }
}

/// [`poll_for`], failing the test with `what` when the event never comes.
pub fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll_for(check).unwrap_or_else(|| {
        panic!(
            "gave up waiting for {what} (after {} s)",
            PATIENCE.as_secs()
        )
    })
}

/// [`poll_for`] for a condition: `false` when it never held.
pub fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    poll_for(|| done().then_some(())).is_some()
}

/// A clock in UTC; `clock_at` for other offsets.
pub fn clock_utc() -> FixedClock {
    FixedClock::at("2026-11-22T12:00:00+00:00")
}

pub fn clock_at(rfc3339: &str) -> FixedClock {
    FixedClock::at(rfc3339)
}

/// Insert audit rows `(id, date, action, user)`, the other columns as privacyIDEA defaults them.
pub fn insert_audit(conn: &mut dyn Connection, rows: &[(i64, NaiveDateTime, &str, &str)]) {
    let d = conn.dialect();
    let sql = format!(
        "INSERT INTO {} ({}, {}, {}, {}, {}, {}, {}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        d.quote("pidea_audit"),
        d.quote("id"),
        d.quote("date"),
        d.quote("action"),
        d.quote("user"),
        d.quote("success"),
        d.quote("loglevel"),
        d.quote("clearance_level"),
    );
    conn.begin().unwrap();
    for (id, date, action, user) in rows {
        conn.execute(
            &sql,
            &[
                Value::Int(*id),
                Value::DateTime(*date),
                Value::Text(action.to_string()),
                if user.is_empty() {
                    Value::Null
                } else {
                    Value::Text(user.to_string())
                },
                Value::Int(id % 2),
                Value::Text("default".into()),
                Value::Text("default".into()),
            ],
        )
        .unwrap();
    }
    conn.commit().unwrap();
}

/// Insert challenges `(id, timestamp, expiration)` (naive UTC).
pub fn insert_challenges(conn: &mut dyn Connection, rows: &[(i64, NaiveDateTime, NaiveDateTime)]) {
    let d = conn.dialect();
    let sql = format!(
        "INSERT INTO {} ({}, {}, {}, {}, {}, {}) VALUES (?, ?, ?, ?, ?, ?)",
        d.quote("challenge"),
        d.quote("id"),
        d.quote("transaction_id"),
        d.quote("timestamp"),
        d.quote("expiration"),
        d.quote("data"),
        d.quote("session"),
    );
    conn.begin().unwrap();
    for (id, ts, exp) in rows {
        conn.execute(
            &sql,
            &[
                Value::Int(*id),
                Value::Text(format!("{:020}", id)),
                Value::DateTime(*ts),
                Value::DateTime(*exp),
                Value::Text(String::new()),
                Value::Text(String::new()),
            ],
        )
        .unwrap();
    }
    conn.commit().unwrap();
}

/// The ids left in a table, ascending.
pub fn ids(conn: &mut dyn Connection, table: &str) -> Vec<i64> {
    let d = conn.dialect();
    conn.query_rows(
        &format!(
            "SELECT {} FROM {} ORDER BY {}",
            d.quote("id"),
            d.quote(table),
            d.quote("id")
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0).as_i64().unwrap())
    .collect()
}
