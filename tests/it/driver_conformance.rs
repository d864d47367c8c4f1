//! Driver conformance: the same cases against every database the harness provides, through
//! the `Connection` trait the tasks use. Each case runs on PostgreSQL and MariaDB/MySQL (and
//! SQLite where the behaviour is backend-independent); what differs between servers (DDL
//! spelling, error codes, timeout units, the MySQL-only user checks) is a `match` on the
//! backend inside the case, so every driver answers the same questions.
//!
//! Test databases come from `harness` (created there, dropped when the guard goes). Driver
//! internals that need no server (placeholder rewriting, error-code tables, value binding)
//! keep their unit tests beside the driver code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use pi_manage::db::{self, Connection, DbError, DbErrorKind, Dialect, OpenOptions, Value};
use pi_manage::dburl::{Backend, DbUrl};
use pi_manage::secret::Secret;

use crate::harness::{self, TestDb};

/// The harness's databases on PostgreSQL and MariaDB/MySQL (skipped unless configured, a
/// failure under CI when not).
fn server_databases() -> Vec<TestDb> {
    harness::databases()
        .into_iter()
        .filter(|d| d.backend != Backend::Sqlite)
        .collect()
}

/// Options for connections a case opens itself: fail fast when a server is unreachable.
fn opts() -> OpenOptions {
    OpenOptions {
        connect_timeout: Duration::from_secs(5),
        ..OpenOptions::default()
    }
}

fn open_with(db: &TestDb, o: &OpenOptions) -> Box<dyn Connection> {
    db::open(&db.url, o).expect("test database connection")
}

fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_micro_opt(h, mi, s, us)
        .unwrap()
}

fn is_mariadb(c: &mut dyn Connection) -> bool {
    c.query_rows("SELECT VERSION()", &[]).unwrap()[0]
        .get(0)
        .as_str()
        .is_some_and(|v| v.contains("MariaDB"))
}

/// `ENGINE=InnoDB` on MySQL (foreign keys and row locks), nothing elsewhere.
fn engine(db: &TestDb) -> &'static str {
    if db.backend == Backend::Mysql {
        " ENGINE=InnoDB"
    } else {
        ""
    }
}

/// MySQL users with a password, known from every host a local test connects from; dropped
/// again on drop (also on panic).
struct MysqlUsers {
    admin: DbUrl,
    users: Vec<String>,
}

const MYSQL_HOSTS: [&str; 4] = ["%", "localhost", "127.0.0.1", "::1"];

impl MysqlUsers {
    fn on(db: &TestDb) -> MysqlUsers {
        MysqlUsers {
            admin: db.url.clone(),
            users: Vec::new(),
        }
    }

    fn create(&mut self, password: &str) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let user = format!(
            "pim_u_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut a = db::open(&self.admin, &opts()).unwrap();
        self.users.push(user.clone());
        for host in MYSQL_HOSTS {
            a.execute_batch(&format!(
                "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"
            ))
            .unwrap();
        }
        user
    }
}

impl Drop for MysqlUsers {
    fn drop(&mut self) {
        if let Ok(mut a) = db::open(&self.admin, &opts()) {
            for user in &self.users {
                for host in MYSQL_HOSTS {
                    let _ = a.execute_batch(&format!("DROP USER IF EXISTS '{user}'@'{host}'"));
                }
            }
        }
    }
}

#[test]
fn round_trips_every_value_type() {
    for db in server_databases() {
        let mut c = db.connect();
        match db.backend {
            Backend::Postgres => pg_round_trip(c.as_mut()),
            Backend::Mysql => my_round_trip(c.as_mut()),
            Backend::Sqlite => unreachable!("server databases only"),
        }
    }
}

fn pg_round_trip(c: &mut dyn Connection) {
    // timestamptz values are read back in UTC; make the session zone match.
    c.execute_batch("SET TIME ZONE 'UTC'").unwrap();
    c.execute_batch(
        "CREATE TABLE t (n INTEGER, i SMALLINT, b BIGINT, big BIGINT, f DOUBLE PRECISION, \
         r REAL, num NUMERIC(12,4), ok BOOLEAN, d TIMESTAMP WITHOUT TIME ZONE, \
         tz TIMESTAMP WITH TIME ZONE, s TEXT, v VARCHAR(20), iv INTERVAL(6), day DATE)",
    )
    .unwrap();
    let when = dt(2026, 11, 21, 12, 9, 34, 381_899);
    let values = vec![
        Value::Int(1),
        Value::Int(-7),
        Value::Int(42),
        Value::Int(9_007_199_254_740_993),
        Value::Float(2.5),
        Value::Float(1.1),
        Value::Float(1234.5678),
        Value::Bool(true),
        Value::DateTime(when),
        Value::DateTime(when),
        Value::Text("grüße ' \" ?".into()),
        Value::Text("v".into()),
        Value::Text("0:00:00.200327".into()),
        Value::Text("2026-01-02".into()),
    ];
    let insert = "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    assert_eq!(c.execute(insert, &values).unwrap(), 1);
    c.execute(insert, &vec![Value::Null; 14]).unwrap();
    let rows = c
        .query_rows("SELECT * FROM t ORDER BY n NULLS LAST", &[])
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, values);
    assert_eq!(rows[1].0, vec![Value::Null; 14]);
    typed_comparisons(c, when);
    // An integral float where the server expects an integer.
    assert_eq!(
        c.query_i64("SELECT count(*) FROM t WHERE n = ?", &[Value::Float(1.0)])
            .unwrap(),
        Some(1)
    );
    // Out-of-range values are refused, not truncated.
    let e = c
        .execute("INSERT INTO t (i) VALUES (?)", &[Value::Int(70_000)])
        .unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Other);
    // Intervals as psycopg2 would show them; a bool and an int bound where text is inferred.
    let r = c
        .query_rows(
            "SELECT INTERVAL '1 day 02:03:04', INTERVAL '-1 second', ?, ?::int + 1, NUMERIC '-0.0012'",
            &[Value::Bool(false), Value::Int(41)],
        )
        .unwrap();
    assert_eq!(
        r[0].0,
        vec![
            Value::Text("1 day, 2:03:04".into()),
            Value::Text("-1 day, 23:59:59".into()),
            Value::Text("false".into()),
            Value::Int(42),
            Value::Float(-0.0012),
        ]
    );
}

fn my_round_trip(c: &mut dyn Connection) {
    c.execute_batch(
        "CREATE TABLE t (n INTEGER, i SMALLINT, b BIGINT, big BIGINT UNSIGNED, f DOUBLE, \
         r FLOAT, num DECIMAL(12,4), ok BOOL, d DATETIME(6), ts TIMESTAMP(6) NULL, \
         s TEXT, v VARCHAR(20), day DATE, tm TIME(6), bl BLOB)",
    )
    .unwrap();
    let when = dt(2026, 11, 21, 12, 9, 34, 381_899);
    let insert = "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let n = c
        .execute(
            insert,
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
    c.execute(insert, &vec![Value::Null; 15]).unwrap();
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
    typed_comparisons(c, when);
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

/// Comparisons with typed parameters, including an i64 against an integer column.
fn typed_comparisons(c: &mut dyn Connection, when: NaiveDateTime) {
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
}

/// `?` inside string literals, quoted identifiers and comments is not a placeholder: the
/// PostgreSQL driver rewrites `?` to `$n` itself (MySQL's server parses `?` natively).
#[test]
fn placeholders_inside_literals_and_identifiers() {
    for db in server_databases()
        .into_iter()
        .filter(|d| d.backend == Backend::Postgres)
    {
        let mut c = db.connect();
        c.execute_batch("CREATE TABLE \"wh?t\" (\"a?\" TEXT, b INTEGER)")
            .unwrap();
        c.execute(
            "INSERT INTO \"wh?t\" (\"a?\", b) VALUES ('lit?' || ?, ?) -- trailing ?",
            &[Value::Text("x".into()), Value::Int(3)],
        )
        .unwrap();
        let rows = c
            .query_rows(
                "SELECT \"a?\", b, '?' /* ? */ FROM \"wh?t\" WHERE b = ? AND \"a?\" <> '?'",
                &[Value::Int(3)],
            )
            .unwrap();
        assert_eq!(
            rows[0].0,
            vec![
                Value::Text("lit?x".into()),
                Value::Int(3),
                Value::Text("?".into())
            ]
        );
    }
}

#[test]
fn streams_many_rows() {
    for db in harness::databases() {
        let mut c = db.connect();
        let fill = match db.backend {
            Backend::Postgres => c.execute_batch(
                "CREATE TABLE big (id BIGINT PRIMARY KEY, pad TEXT); \
                 INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g",
            ),
            Backend::Mysql => {
                c.execute_batch("CREATE TABLE big (id BIGINT PRIMARY KEY, pad VARCHAR(100))")
                    .unwrap();
                c.execute_batch(
                    "INSERT INTO big SELECT seq, REPEAT('x', 100) FROM seq_1_to_200000",
                )
                .or_else(|_| {
                    // MySQL has no sequence engine: build the rows with a recursive CTE.
                    c.execute_batch(
                        "SET SESSION cte_max_recursion_depth = 300000; \
                         INSERT INTO big WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200000) \
                         SELECT n, REPEAT('x', 100) FROM s",
                    )
                })
            }
            Backend::Sqlite => c.execute_batch(
                "CREATE TABLE big (id BIGINT PRIMARY KEY, pad TEXT); \
                 INSERT INTO big WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200000) \
                 SELECT n, hex(zeroblob(50)) FROM s",
            ),
        };
        fill.unwrap();
        let (mut n, mut sum) = (0u64, 0i64);
        c.for_each_row("SELECT id, pad FROM big ORDER BY id", &[], &mut |row| {
            n += 1;
            sum += row.get(0).as_i64().unwrap();
            assert_eq!(row.len(), 2);
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 200_000, "{}", db.label());
        assert_eq!(sum, 200_000 * 200_001 / 2, "{}", db.label());
        // A callback error stops the stream and the connection stays usable.
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
        assert_eq!(seen, 10);
        assert_eq!(
            c.query_i64("SELECT count(*) FROM big WHERE id <= ?", &[Value::Int(5)])
                .unwrap(),
            Some(5),
            "{}",
            db.label()
        );
    }
}

#[test]
fn tables_columns_and_reserved_identifiers() {
    for db in server_databases() {
        let mut c = db.connect();
        let d = c.dialect();
        let q = |s: &str| d.quote(s);
        assert!(!c.table_exists("challenge").unwrap());
        assert!(c.table_columns("challenge").unwrap().is_empty());
        // Reserved words on one server or the other, and a mixed-case name.
        c.execute_batch(&format!(
            "CREATE TABLE challenge (id INTEGER PRIMARY KEY, {} VARCHAR(512), {} VARCHAR(100), \
             {} VARCHAR(255), {} VARCHAR(256), {} BOOL)",
            q("session"),
            q("user"),
            q("Key"),
            q("interval"),
            q("default"),
        ))
        .unwrap();
        match db.backend {
            Backend::Postgres => {
                // Tables of another schema are not this database's.
                c.execute_batch("CREATE SCHEMA other; CREATE TABLE other.elsewhere (id INTEGER)")
                    .unwrap();
                assert!(!c.table_exists("elsewhere").unwrap());
            }
            // mysql.user is in another schema.
            _ => assert!(!c.table_exists("user").unwrap()),
        }
        assert!(c.table_exists("challenge").unwrap());
        assert!(!c.table_exists("Challenge").unwrap(), "{}", db.label());
        assert_eq!(
            c.table_columns("challenge").unwrap(),
            vec!["id", "session", "user", "Key", "interval", "default"]
        );
        c.execute(
            &format!(
                "INSERT INTO {} ({}, {}, {}, {}, {}, {}) VALUES (?, ?, ?, ?, ?, ?)",
                q("challenge"),
                q("id"),
                q("session"),
                q("user"),
                q("Key"),
                q("interval"),
                q("default"),
            ),
            &[
                Value::Int(1),
                Value::Text("sess".into()),
                Value::Text("alice".into()),
                Value::Text("k1".into()),
                Value::Text("*/5 * * * *".into()),
                Value::Bool(true),
            ],
        )
        .unwrap();
        let rows = c
            .query_rows(
                &format!(
                    "SELECT {s}, {u}, {k}, {i} FROM {t} WHERE {u} = ?",
                    t = q("challenge"),
                    s = q("session"),
                    u = q("user"),
                    k = q("Key"),
                    i = q("interval"),
                ),
                &[Value::Text("alice".into())],
            )
            .unwrap();
        assert_eq!(
            rows[0].0,
            vec![
                Value::Text("sess".into()),
                Value::Text("alice".into()),
                Value::Text("k1".into()),
                Value::Text("*/5 * * * *".into()),
            ]
        );
        // Transactions through the trait's defaults.
        c.begin().unwrap();
        c.execute("DELETE FROM challenge", &[]).unwrap();
        c.rollback().unwrap();
        assert_eq!(
            c.query_i64("SELECT count(*) FROM challenge", &[]).unwrap(),
            Some(1)
        );
    }
}

#[test]
fn error_kinds() {
    for db in server_databases() {
        let mut c = db.connect();
        let engine = engine(&db);
        c.execute_batch(&format!(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY){engine}; \
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, \
               FOREIGN KEY (parent_id) REFERENCES parent (id)){engine}; \
             INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1)",
        ))
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
        let code = match db.backend {
            Backend::Postgres => "42601",
            _ => "1064",
        };
        assert!(e.message.contains(code), "{}", e.message);
        let e = c.execute("SELECT * FROM no_such_table", &[]).unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Other);

        // Lock wait timeout: a second session waits on a row the first one holds (MySQL
        // counts the wait in whole seconds).
        let short = OpenOptions {
            lock_timeout: match db.backend {
                Backend::Postgres => Duration::from_millis(200),
                _ => Duration::from_secs(1),
            },
            ..opts()
        };
        let mut other = open_with(&db, &short);
        c.begin().unwrap();
        c.execute("UPDATE parent SET id = 1 WHERE id = ?", &[Value::Int(1)])
            .unwrap();
        let e = other
            .execute("UPDATE parent SET id = 1 WHERE id = ?", &[Value::Int(1)])
            .unwrap_err();
        assert_eq!(e.kind, DbErrorKind::Timeout, "{}", e.message);
        c.rollback().unwrap();

        // Statement timeout (PostgreSQL statement_timeout, MariaDB max_statement_time; MySQL's
        // max_execution_time may let SLEEP finish, so only MariaDB must fail there).
        let stmt = OpenOptions {
            statement_timeout: Some(Duration::from_millis(match db.backend {
                Backend::Postgres => 100,
                _ => 200,
            })),
            ..opts()
        };
        let mut slow = open_with(&db, &stmt);
        match db.backend {
            Backend::Postgres => {
                let e = slow.execute("SELECT pg_sleep(5)", &[]).unwrap_err();
                assert_eq!(e.kind, DbErrorKind::Timeout, "{}", e.message);
            }
            _ => {
                let r = slow.query_rows("SELECT SLEEP(3) FROM parent", &[]);
                if is_mariadb(c.as_mut()) {
                    let e = r.unwrap_err();
                    assert_eq!(e.kind, DbErrorKind::Timeout, "{}", e.message);
                }
            }
        }

        // Unknown database.
        let mut missing = db.url.clone();
        missing.database = Some(format!(
            "{}_missing",
            db.url.database.as_deref().unwrap_or_default()
        ));
        let e = db::open(&missing, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect, "{}", e.message);
        if db.backend == Backend::Postgres {
            assert!(e.message.contains("does not exist"), "{}", e.message);
        }

        if db.backend == Backend::Mysql {
            // Wrong password (1045) and a user without rights on the database (1044).
            let mut users = MysqlUsers::on(&db);
            let user = users.create("right-pw-1");
            let mut bad = db.url.clone();
            bad.user = Some(user.clone());
            bad.password = Some(Secret::new("wrong-pw-2"));
            let e = db::open(&bad, &opts()).err().unwrap();
            assert_eq!(e.kind, DbErrorKind::Auth, "{}", e.message);
            bad.password = Some(Secret::new("right-pw-1"));
            let e = db::open(&bad, &opts()).err().unwrap();
            assert_eq!(e.kind, DbErrorKind::Auth, "{}", e.message);
            bad.database = Some("information_schema".into());
            let ok = db::open(&bad, &opts()).unwrap();
            assert!(ok.target().contains(&user));
        }
    }
}

#[test]
fn deadlock_is_locked() {
    for db in server_databases() {
        let mut a = db.connect();
        let mut b = db.connect();
        a.execute_batch(&format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER){}; INSERT INTO t VALUES (1, 0), (2, 0)",
            engine(&db)
        ))
        .unwrap();
        a.begin().unwrap();
        b.begin().unwrap();
        a.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(1)])
            .unwrap();
        b.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(2)])
            .unwrap();
        // How the server tells that `a`'s session waits for a row lock.
        let (session_sql, waiting_sql) = match db.backend {
            Backend::Postgres => (
                "SELECT pg_backend_pid()",
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ? AND wait_event_type = 'Lock'",
            ),
            _ => (
                "SELECT CONNECTION_ID()",
                "SELECT count(*) FROM information_schema.innodb_trx \
                 WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
            ),
        };
        let a_session = a.query_i64(session_sql, &[]).unwrap().unwrap();
        let waiter = std::thread::spawn(move || {
            let r = a.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(2)]);
            let _ = a.rollback();
            r
        });
        // `a` waits for `b`'s row before `b` asks for `a`'s: the deadlock forms in that order.
        let mut watch = db.connect();
        harness::wait_for("the first session to wait for the lock", || {
            let waiting = watch
                .query_i64(waiting_sql, &[Value::Int(a_session)])
                .unwrap();
            (waiting == Some(1)).then_some(())
        });
        let rb = b.execute("UPDATE t SET v = v + 1 WHERE id = ?", &[Value::Int(1)]);
        let _ = b.rollback();
        let ra = waiter.join().unwrap();
        let errors: Vec<DbError> = [ra, rb].into_iter().filter_map(Result::err).collect();
        assert_eq!(errors.len(), 1, "{}: {errors:?}", db.label());
        assert_eq!(errors[0].kind, DbErrorKind::Locked, "{}", errors[0].message);
        assert!(errors[0].is_transient());
    }
}

/// PostgreSQL sessions get `lock_timeout` and `statement_timeout` from the options, and a
/// session without a statement timeout has none (not the server's default).
#[test]
fn sets_session_timeouts() {
    for db in server_databases()
        .into_iter()
        .filter(|d| d.backend == Backend::Postgres)
    {
        let o = OpenOptions {
            lock_timeout: Duration::from_millis(1500),
            statement_timeout: Some(Duration::from_secs(60)),
            ..opts()
        };
        let mut c = open_with(&db, &o);
        let r = c
            .query_rows(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')",
                &[],
            )
            .unwrap();
        assert_eq!(
            r[0].0,
            vec![Value::Text("1500ms".into()), Value::Text("1min".into())]
        );
        let mut d = open_with(&db, &opts());
        let r = d
            .query_rows("SELECT current_setting('statement_timeout')", &[])
            .unwrap();
        assert_eq!(r[0].get(0), &Value::Text("0".into()));
    }
}

#[test]
fn connection_errors_never_show_the_password() {
    let secret = "Sup3r-Distinct_Pa55word!";
    let enc = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    // No server needed: a closed port and an unknown host, on each driver.
    for (scheme, name) in [("postgresql", "postgresql"), ("mysql+pymysql", "mysql")] {
        let closed = DbUrl::parse(&format!("{scheme}://pi:{enc}@127.0.0.1:1/pi")).unwrap();
        assert_eq!(closed.password.as_ref().unwrap().expose(), secret);
        let e = db::open(&closed, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect, "{}", e.message);
        assert!(
            e.message.starts_with(&format!(
                "cannot connect to {name} database pi on 127.0.0.1:1 as pi: "
            )),
            "{}",
            e.message
        );
        assert!(!e.message.contains(secret), "{}", e.message);
        assert!(!e.message.contains('\n'));
        assert!(e.message.contains("refused"), "{}", e.message);
        assert!(!format!("{e:?}").contains(secret));
        let unknown =
            DbUrl::parse(&format!("{scheme}://pi:{enc}@nonexistent-host.invalid/pi")).unwrap();
        let e = db::open(&unknown, &opts()).err().unwrap();
        assert_eq!(e.kind, DbErrorKind::Connect, "{}", e.message);
        assert!(
            e.message.contains("nonexistent-host.invalid"),
            "{}",
            e.message
        );
        assert!(!e.message.contains(secret), "{}", e.message);
    }
    // Against the real servers.
    for db in server_databases() {
        match db.backend {
            Backend::Postgres => {
                // Trust auth ignores the password: an unknown database.
                let mut url = db.url.clone();
                url.password = Some(Secret::new(secret));
                url.database = Some(format!("pim_missing_{}", std::process::id()));
                let e = db::open(&url, &opts()).err().unwrap();
                assert_eq!(e.kind, DbErrorKind::Connect, "{}", e.message);
                assert!(e
                    .message
                    .starts_with("cannot connect to postgresql database pim_missing_"));
                assert!(!e.message.contains(secret), "{}", e.message);
                let c = db.connect();
                assert!(c.target().starts_with("postgresql database "));
                assert!(!c.target().contains(secret));
            }
            _ => {
                let mut users = MysqlUsers::on(&db);
                let user = users.create("another-pw-3");
                let mut bad = db.url.clone();
                bad.user = Some(user);
                bad.password = Some(Secret::new(secret));
                let e = db::open(&bad, &opts()).err().unwrap();
                assert_eq!(e.kind, DbErrorKind::Auth, "{}", e.message);
                assert!(e
                    .message
                    .starts_with("cannot connect to mysql database pim_t_"));
                assert!(!e.message.contains(secret), "{}", e.message);
                // Also when the server echoes nothing but the library wraps the error.
                let mut url = db.url.clone();
                url.password = Some(Secret::new(secret));
                url.port = Some(1);
                let e = db::open(&url, &opts()).err().unwrap();
                assert!(!e.message.contains(secret), "{}", e.message);
            }
        }
    }
}

/// The dialect's chunked delete deletes `limit` rows a statement, oldest first.
#[test]
fn chunk_delete_sql_executes() {
    for db in harness::databases() {
        let mut c = db.connect();
        let ts = match db.backend {
            Backend::Mysql => "DATETIME(6)",
            _ => "TIMESTAMP",
        };
        c.execute_batch(&format!(
            "CREATE TABLE challenge (id INTEGER PRIMARY KEY, expiration {ts})"
        ))
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
        if db.backend == Backend::Mysql {
            // The PostgreSQL/SQLite form is refused by MariaDB and MySQL (LIMIT in IN
            // subquery) …
            let pg = Dialect::Postgres.chunk_delete_sql("challenge", "id", "expiration < ?", 10);
            let pg = pg.replace('"', "`");
            let e = c.execute(&pg, &[Value::DateTime(cutoff)]).unwrap_err();
            assert_eq!(e.kind, DbErrorKind::Other, "{}", e.message);
            assert!(e.message.contains("1235"), "{}", e.message);
            // … which is why the MySQL dialect deletes with DELETE … LIMIT.
        }
        let sql = c
            .dialect()
            .chunk_delete_sql("challenge", "id", "expiration < ?", 10);
        let mut chunks = Vec::new();
        loop {
            let n = c.execute(&sql, &[Value::DateTime(cutoff)]).unwrap();
            chunks.push(n);
            if n < 10 {
                break;
            }
        }
        assert_eq!(chunks, vec![10, 10, 4], "{}", db.label());
        assert_eq!(
            c.query_i64("SELECT min(id) FROM challenge", &[]).unwrap(),
            Some(25)
        );
    }
}

/// The schema files in src/db/ddl create privacyIDEA's tables, with ids from its sequences.
#[test]
fn ddl_file_creates_the_schema() {
    for db in harness::databases() {
        let mut c = db.connect();
        match db.backend {
            Backend::Sqlite => {
                check_ddl(c.as_mut(), include_str!("../../src/db/ddl/sqlite_full.sql"));
            }
            Backend::Postgres => {
                check_ddl(c.as_mut(), include_str!("../../src/db/ddl/postgres.sql"));
                // Ids come from the sequences; duration is an interval.
                let when = dt(2026, 3, 1, 8, 0, 0, 1);
                c.execute(
                    "INSERT INTO pidea_audit (id, date, duration, action) VALUES (nextval('audit_seq'), ?, ?, ?)",
                    &[
                        Value::DateTime(when),
                        Value::Text("0:00:00.200327".into()),
                        Value::Text("POST /validate/check".into()),
                    ],
                )
                .unwrap();
                let r = c
                    .query_rows("SELECT id, date, duration FROM pidea_audit", &[])
                    .unwrap();
                assert_eq!(
                    r[0].0,
                    vec![
                        Value::Int(1),
                        Value::DateTime(when),
                        Value::Text("0:00:00.200327".into())
                    ]
                );
            }
            _ if is_mariadb(c.as_mut()) => {
                check_ddl(c.as_mut(), include_str!("../../src/db/ddl/mariadb.sql"));
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
                let other = harness::database_on(admin_of(&db));
                check_ddl(
                    other.connect().as_mut(),
                    include_str!("../../src/db/ddl/mysql.sql"),
                );
            }
            _ => check_ddl(c.as_mut(), include_str!("../../src/db/ddl/mysql.sql")),
        }
    }
}

/// The admin connection a harness database was created through (same server, no database
/// chosen beyond the configured one).
fn admin_of(db: &TestDb) -> DbUrl {
    let var = match db.backend {
        Backend::Postgres => "PIM_TEST_POSTGRES_URL",
        _ => "PIM_TEST_MYSQL_URL",
    };
    DbUrl::parse(&std::env::var(var).expect("set when the harness made this database")).unwrap()
}

fn check_ddl(c: &mut dyn Connection, sql: &str) {
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
