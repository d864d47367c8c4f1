//! The Galera suite: pi-manage against a real three-node MariaDB Galera cluster (started by
//! `.ci/galera.sh start DIR`), named by `PIM_TEST_GALERA_URLS` — three comma-separated admin
//! URLs, one per node. Without it the suite is skipped with a note; with `CI=true` it must run.
//!
//! Each test creates its own database through node 1 (DDL replicates to every node) and drops
//! it. Checks read through connections with `wsrep_sync_wait`, so they see everything the
//! cluster committed before them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Once};

use chrono::TimeDelta;
use pi_manage::clock::Clock;
use pi_manage::db::delete::{delete_matching, DeletePlan, NoProgress};
use pi_manage::db::{self, Connection, DbError, DbErrorKind, DbResult, Dialect, OpenOptions};
use pi_manage::db::{Row, Value};
use pi_manage::dburl::DbUrl;
use pi_manage::executor::{self, JobStatus, RunOptions, Runtime};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{AuditRotate, TaskSpec, Watermark};
use pi_manage::settings::Settings;
use pi_manage::tasks::{self, Databases, TaskSite};

use crate::harness::{self, clock_utc, Collect, RunResult, TestDb};

const VAR: &str = "PIM_TEST_GALERA_URLS";
/// The DDL our create_tables runs on MariaDB >= 10.3, whatever it currently holds.
const MARIADB_DDL: &str = include_str!("../../src/db/ddl/mariadb.sql");

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The three nodes' admin URLs as written, or `None` (skipped, with a note) when unset.
fn cluster() -> Option<Vec<String>> {
    let Ok(text) = std::env::var(VAR) else {
        if in_ci() {
            panic!("{VAR} is not set, and CI=true requires the Galera suite to run (.ci/run starts the cluster)");
        }
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // Written to the stream directly: libtest captures eprintln! of passing tests.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "note: Galera suite SKIPPED ({VAR} is not set); start a cluster with .ci/galera.sh. See README, 'Tests'."
            );
        });
        return None;
    };
    let urls: Vec<String> = text.split(',').map(|s| s.trim().to_string()).collect();
    assert_eq!(
        urls.len(),
        3,
        "{VAR} must name the three nodes' URLs, comma-separated"
    );
    Some(urls)
}

/// `url` with its database replaced by `name` (query options kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let cut = base[authority_end..]
        .find('/')
        .map(|i| authority_end + i)
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..cut])
}

fn parse(url: &str) -> DbUrl {
    DbUrl::parse(url).unwrap_or_else(|e| panic!("{VAR}: {e}"))
}

fn open(url: &str) -> Box<dyn Connection> {
    db::open(&parse(url), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{VAR} is set but a node is unreachable: {e}"))
}

/// A checking connection: waits for the cluster's earlier commits before each read.
fn open_synced(url: &str) -> Box<dyn Connection> {
    let mut c = open(url);
    c.execute_batch("SET SESSION wsrep_sync_wait = 15").unwrap();
    c
}

/// One test database on the cluster, created through node 1 by the shared harness (which
/// also drops it), then awaited on every node.
struct GaleraDb {
    name: String,
    /// The database's URL on each node.
    urls: Vec<String>,
    _db: TestDb,
}

impl GaleraDb {
    fn new() -> Option<GaleraDb> {
        let admin = cluster()?;
        let db = harness::database_on(parse(&admin[0]));
        let name = db
            .url
            .database
            .clone()
            .expect("the harness names the database");
        // Every node has applied the CREATE DATABASE before anything connects to it there.
        for a in &admin {
            let seen = open_synced(a)
                .query_i64(
                    "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?",
                    &[Value::Text(name.clone())],
                )
                .unwrap();
            assert_eq!(seen, Some(1), "{a}: database {name} replicated");
        }
        let urls = admin.iter().map(|a| with_database(a, &name)).collect();
        Some(GaleraDb {
            name,
            urls,
            _db: db,
        })
    }

    /// A product connection to node `i` (0-based).
    fn connect(&self, i: usize) -> Box<dyn Connection> {
        open(&self.urls[i])
    }

    /// A checking connection to node `i`.
    fn synced(&self, i: usize) -> Box<dyn Connection> {
        open_synced(&self.urls[i])
    }

    /// Run one task through node `i`, as `pi-manage` configured with that node's URL would.
    fn run(&self, i: usize, spec: TaskSpec, clock: &dyn Clock) -> RunResult {
        let url = parse(&self.urls[i]);
        let site = TaskSite::command_line(std::path::Path::new("."));
        let mut diags = Vec::new();
        let task = tasks::prepare(&spec, &site, &mut diags)
            .unwrap_or_else(|| panic!("invalid spec: {diags:?}"));
        let mut dbs = Databases::new(url.clone(), None, OpenOptions::default());
        let interrupt = Interrupt::new();
        let rt = Runtime {
            clock,
            interrupt: &interrupt,
            open: OpenOptions::default(),
        };
        let mut out = Collect::default();
        let report = executor::run_with_databases(
            "galera",
            "galera",
            &[task],
            &Settings::for_database(url),
            &mut dbs,
            &RunOptions {
                dry_run: false,
                only_task: None,
            },
            &rt,
            &mut out,
        );
        RunResult {
            report,
            lines: out.lines,
        }
    }

    fn create_tables(&self, i: usize) {
        let r = self.run(i, TaskSpec::CreateTables(Default::default()), &clock_utc());
        assert_eq!(r.report.status, JobStatus::Ok, "{:?}", r.report);
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::DateTime(d) => d.to_string(),
    }
}

fn rows_text(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| text(r.get(i)))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// One node's catalogue of a database: tables (and sequences) with engine, columns with
/// type, nullability, default and extra, indexes with their columns and uniqueness, foreign
/// keys with their rules.
#[derive(Debug, PartialEq)]
struct Catalogue {
    tables: Vec<String>,
    columns: Vec<String>,
    indexes: Vec<String>,
    foreign_keys: Vec<String>,
}

fn catalogue(c: &mut dyn Connection, schema: &str) -> Catalogue {
    let mut q = |sql: &str| rows_text(&c.query_rows(sql, &[Value::Text(schema.into())]).unwrap());
    Catalogue {
        tables: q("SELECT table_name, table_type, engine FROM information_schema.tables \
                   WHERE table_schema = ? ORDER BY table_name"),
        columns: q("SELECT table_name, column_name, column_type, is_nullable, column_default, extra \
                    FROM information_schema.columns WHERE table_schema = ? \
                    ORDER BY table_name, ordinal_position"),
        indexes: q("SELECT table_name, index_name, non_unique, seq_in_index, column_name \
                    FROM information_schema.statistics WHERE table_schema = ? \
                    ORDER BY table_name, index_name, seq_in_index"),
        foreign_keys: q("SELECT table_name, constraint_name, referenced_table_name, update_rule, delete_rule \
                         FROM information_schema.referential_constraints WHERE constraint_schema = ? \
                         ORDER BY table_name, constraint_name"),
    }
}

/// The names a DDL script's `CREATE TABLE` or `CREATE SEQUENCE` statements create, read from
/// the text itself so that the check does not depend on the code under test.
fn ddl_names(ddl: &str, what: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(&format!(
        r#"(?im)^\s*CREATE\s+{what}\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"]?(\w+)"#
    ))
    .unwrap();
    re.captures_iter(ddl).map(|c| c[1].to_string()).collect()
}

#[test]
fn galera_create_tables_through_node_1_gives_every_node_the_full_schema() {
    let Some(g) = GaleraDb::new() else { return };
    g.create_tables(0);

    let want_tables = ddl_names(MARIADB_DDL, "TABLE");
    let want_sequences = ddl_names(MARIADB_DDL, "SEQUENCE");
    assert_eq!((want_tables.len(), want_sequences.len()), (68, 45));
    assert!(want_tables.contains("pidea_audit") && want_sequences.contains("audit_seq"));
    let mut first: Option<Catalogue> = None;
    for node in 0..3 {
        let mut c = g.synced(node);
        let cat = catalogue(c.as_mut(), &g.name);
        let of_type = |ty: &str| -> BTreeSet<String> {
            cat.tables
                .iter()
                .filter_map(|t| {
                    let mut f = t.split('|');
                    let name = f.next()?;
                    (f.next()? == ty).then(|| name.to_string())
                })
                .collect()
        };
        assert_eq!(
            of_type("BASE TABLE"),
            want_tables,
            "node {}: tables",
            node + 1
        );
        assert_eq!(
            of_type("SEQUENCE"),
            want_sequences,
            "node {}: sequences",
            node + 1
        );
        // Galera certifies and applies row changes by primary key: every table needs one.
        let with_pk: BTreeSet<String> = cat
            .indexes
            .iter()
            .filter_map(|i| {
                let mut f = i.split('|');
                let table = f.next()?;
                (f.next()? == "PRIMARY").then(|| table.to_string())
            })
            .collect();
        assert_eq!(with_pk, want_tables, "node {}: primary keys", node + 1);
        assert!(
            cat.tables.iter().all(|t| t.ends_with("|InnoDB")),
            "{:?}",
            cat.tables
        );
        let rev = c
            .query_rows("SELECT version_num FROM alembic_version", &[])
            .unwrap();
        assert_eq!(
            rows_text(&rev),
            [pi_manage::tasks::create_tables::ALEMBIC_HEAD],
            "node {}: stamp",
            node + 1
        );
        match &first {
            None => first = Some(cat),
            Some(f) => assert_eq!(&cat, f, "node {} differs from node 1", node + 1),
        }
    }

    // privacyIDEA's ids on MariaDB come from its sequences (INCREMENT BY 0: the step and offset
    // are Galera's auto_increment_increment/offset). Each node hands out its own, distinct ids.
    let mut ids = BTreeSet::new();
    for node in 0..3 {
        let mut c = g.connect(node);
        let next = c
            .next_id_sql("audit_seq")
            .unwrap()
            .expect("MariaDB takes audit ids from audit_seq");
        for _ in 0..5 {
            let id = c
                .query_i64(&format!("SELECT {next}"), &[])
                .unwrap()
                .unwrap();
            assert!(
                ids.insert(id),
                "node {}: id {id} handed out twice",
                node + 1
            );
        }
    }
}

/// Insert `n` audit rows through `c`, ids from privacyIDEA's `audit_seq` as privacyIDEA does.
fn fill_audit(c: &mut dyn Connection, n: usize, now: chrono::NaiveDateTime) {
    let d = c.dialect();
    let next = c.next_id_sql("audit_seq").unwrap().expect("audit_seq");
    let cols = [
        "id",
        "date",
        "action",
        "user",
        "success",
        "loglevel",
        "clearance_level",
    ]
    .map(|col| d.quote(col))
    .join(", ");
    c.begin().unwrap();
    for start in (0..n).step_by(200) {
        let count = (n - start).min(200);
        let values =
            vec![
                format!("({next}, ?, 'POST /validate/check', 'u', 1, 'default', 'default')");
                count
            ];
        let params: Vec<Value> = (start..start + count)
            .map(|i| Value::DateTime(now - TimeDelta::seconds(i as i64)))
            .collect();
        c.execute(
            &format!(
                "INSERT INTO {} ({cols}) VALUES {}",
                d.quote("pidea_audit"),
                values.join(", ")
            ),
            &params,
        )
        .unwrap();
    }
    c.commit().unwrap();
}

fn audit_ids(c: &mut dyn Connection) -> Vec<i64> {
    crate::harness::ids(c, "pidea_audit")
}

#[test]
fn galera_chunked_audit_rotation_through_node_3_leaves_the_same_rows_on_every_node() {
    let Some(g) = GaleraDb::new() else { return };
    g.create_tables(0);
    let clock = clock_utc();
    // Big enough that node 3 is still applying it when the rotation starts there: only
    // causal reads make node 3 count and delete what node 2 committed.
    fill_audit(g.connect(1).as_mut(), 20_000, clock.now_local());
    let all = audit_ids(g.synced(1).as_mut());
    assert_eq!(all.len(), 20_000);
    // Keep the 3000 newest by id; the sequence's ids have gaps (Galera's increment).
    let want: Vec<i64> = all[all.len() - 3000..].to_vec();

    let r = g.run(
        2,
        TaskSpec::AuditRotate(AuditRotate {
            watermark: Some(Watermark {
                high: 10_000,
                low: 3000,
            }),
            chunksize: Some(700),
            ..Default::default()
        }),
        &clock,
    );
    assert_eq!(r.report.status, JobStatus::Ok, "{:?}", r.report);
    assert_eq!(r.outcome().deleted, Some(17_000), "{:?}", r.lines);
    assert_eq!(
        r.lines.last().map(String::as_str),
        Some("17000 entries deleted.")
    );
    for node in 0..3 {
        assert_eq!(
            audit_ids(g.synced(node).as_mut()),
            want,
            "node {}: the surviving rows",
            node + 1
        );
    }
}

/// A connection that, before its first COMMIT, has another node commit an update of every
/// row the transaction may have deleted: a certification conflict the transaction loses.
struct ConflictBeforeFirstCommit {
    inner: Box<dyn Connection>,
    other_node: Box<dyn Connection>,
    conflicting_update: String,
    fired: bool,
    commit_errors: Arc<Mutex<Vec<DbError>>>,
}

impl Connection for ConflictBeforeFirstCommit {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        self.inner.execute(sql, params)
    }
    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(&mut Row) -> DbResult<()>,
    ) -> DbResult<()> {
        self.inner.for_each_row(sql, params, f)
    }
    fn execute_batch(&mut self, sql: &str) -> DbResult<()> {
        self.inner.execute_batch(sql)
    }
    fn table_exists(&mut self, table: &str) -> DbResult<bool> {
        self.inner.table_exists(table)
    }
    fn table_columns(&mut self, table: &str) -> DbResult<Vec<String>> {
        self.inner.table_columns(table)
    }
    fn target(&self) -> String {
        self.inner.target()
    }
    fn next_id_sql(&mut self, sequence: &str) -> DbResult<Option<String>> {
        self.inner.next_id_sql(sequence)
    }
    fn begin(&mut self) -> DbResult<()> {
        self.inner.begin()
    }
    fn rollback(&mut self) -> DbResult<()> {
        self.inner.rollback()
    }
    fn commit(&mut self) -> DbResult<()> {
        if !self.fired {
            self.fired = true;
            let n = self
                .other_node
                .execute(&self.conflicting_update, &[])
                .expect("the other node's update commits first");
            assert!(n > 0, "the conflicting update touched no row");
        }
        let r = self.inner.commit();
        if let Err(e) = &r {
            self.commit_errors.lock().unwrap().push(e.clone());
        }
        r
    }
}

#[test]
fn galera_certification_conflict_in_a_chunk_is_retried_as_transient() {
    let Some(g) = GaleraDb::new() else { return };
    g.create_tables(0);
    let clock = clock_utc();
    fill_audit(g.connect(1).as_mut(), 500, clock.now_local());
    let all = audit_ids(g.synced(2).as_mut());
    let cut = all[400];
    let d = Dialect::Mysql;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let mut conn = ConflictBeforeFirstCommit {
        inner: g.connect(2),
        other_node: g.connect(0),
        // Every row the delete will remove: whichever the first chunk took, it conflicts.
        conflicting_update: format!(
            "UPDATE {} SET {} = 'touched on node 1' WHERE {} < {cut}",
            d.quote("pidea_audit"),
            d.quote("info"),
            d.quote("id")
        ),
        fired: false,
        commit_errors: errors.clone(),
    };
    let plan = DeletePlan {
        table: "pidea_audit",
        pk: "id",
        filter: format!("{} < ?", d.quote("id")),
        params: vec![Value::Int(cut)],
        chunksize: Some(150),
    };
    let outcome = delete_matching(&mut conn, &plan, &mut NoProgress, &Interrupt::new())
        .expect("the conflict is retried, not fatal");
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "exactly the provoked conflict: {errors:?}");
    assert_eq!(errors[0].kind, DbErrorKind::Locked, "{}", errors[0]);
    assert!(errors[0].message.contains("1213"), "{}", errors[0]);
    assert!(errors[0].is_transient());
    assert_eq!(outcome.deleted, 400);
    for node in 0..3 {
        assert_eq!(
            audit_ids(g.synced(node).as_mut()),
            all[400..].to_vec(),
            "node {}",
            node + 1
        );
    }
}

#[test]
fn galera_product_sessions_read_causally() {
    let Some(g) = GaleraDb::new() else { return };
    for node in 0..3 {
        let wait = g
            .connect(node)
            .query_i64("SELECT @@session.wsrep_sync_wait", &[])
            .unwrap();
        assert_eq!(wait, Some(3), "node {}", node + 1);
    }
    // A server without wsrep keeps its setting.
    if let Ok(plain) = std::env::var("PIM_TEST_MYSQL_URL") {
        let mut c = open(&plain);
        if let Ok(Some(wait)) = c.query_i64("SELECT @@session.wsrep_sync_wait", &[]) {
            assert_eq!(wait, 0, "{plain}: not a Galera node");
        }
    }
}

#[test]
fn galera_scheduler_runs_every_slot_exactly_once_with_each_node_on_its_own_galera_node() {
    let Some(g) = GaleraDb::new() else { return };
    g.create_tables(0);
    crate::scheduler::three_nodes_exactly_once(
        "galera",
        [&g.urls[0], &g.urls[1], &g.urls[2]],
        &|| g.synced(0),
    );
}

/// Three nodes, each with its ledger on its own Galera node, race for the same slots and the
/// same lease, released after every round: each slot and each round has exactly one winner.
/// The races reach Galera's certification (counted in `wsrep_local_cert_failures`).
#[test]
fn galera_ledger_claims_and_leases_race_with_exactly_one_winner() {
    use pi_manage::scheduler::ledger::{Claim, Ledger, Trigger};
    use std::sync::Barrier;

    let Some(g) = GaleraDb::new() else { return };
    g.create_tables(0);
    // The ledger's tables exist everywhere before the race (their creation is DDL).
    drop(Ledger::new(g.connect(0), "setup").unwrap());
    for node in 0..3 {
        Ledger::new(g.synced(node), "check").unwrap();
    }
    let cert_failures = || -> i64 {
        (0..3)
            .map(|n| {
                let rows = g
                    .connect(n)
                    .query_rows("SHOW GLOBAL STATUS LIKE 'wsrep_local_cert_failures'", &[])
                    .unwrap();
                text(rows[0].get(1)).parse::<i64>().unwrap()
            })
            .sum()
    };
    let failures_before = cert_failures();
    const ROUNDS: usize = 60;
    let barrier = Barrier::new(3);
    // Errors are collected, not raised in the threads: a panicking thread would leave the
    // others waiting at the barrier.
    type Round = (Result<bool, String>, Result<bool, String>);
    let results: Vec<Vec<Round>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|node| {
                let (g, barrier) = (&g, &barrier);
                s.spawn(move || {
                    let mut l = Ledger::new(g.connect(node), &format!("n{}", node + 1)).unwrap();
                    let mut rounds = Vec::new();
                    for round in 0..ROUNDS {
                        let slot = format!("2026-01-01T00:{round:02}:00.000000Z");
                        barrier.wait();
                        let claimed = l
                            .claim("race", &slot, Trigger::Schedule, chrono::Utc::now())
                            .map(|c| c == Claim::Won)
                            .map_err(|e| e.to_string());
                        barrier.wait();
                        let lease = l.acquire("race", &slot, 60_000).map_err(|e| e.to_string());
                        barrier.wait();
                        if let Ok(Some(lease)) = &lease {
                            if let Err(e) = l.release(lease) {
                                rounds.push((claimed, Err(format!("release: {e}"))));
                                continue;
                            }
                        }
                        rounds.push((claimed, lease.map(|l| l.is_some())));
                    }
                    rounds
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for round in 0..ROUNDS {
        let this: Vec<&Round> = results.iter().map(|r| &r[round]).collect();
        for (node, r) in this.iter().enumerate() {
            assert!(
                r.0.is_ok() && r.1.is_ok(),
                "round {round}, n{}: {r:?}",
                node + 1
            );
        }
        let claims = this.iter().filter(|r| r.0 == Ok(true)).count();
        let leases = this.iter().filter(|r| r.1 == Ok(true)).count();
        assert_eq!(claims, 1, "round {round}: {claims} nodes won the claim");
        assert_eq!(leases, 1, "round {round}: {leases} nodes hold the lease");
    }
    assert!(
        cert_failures() > failures_before,
        "the races never reached Galera's certification"
    );
    let history = Ledger::new(g.synced(0), "check")
        .unwrap()
        .history(Some("race"), 1000)
        .unwrap();
    assert_eq!(history.len(), ROUNDS, "one run row per slot");
}
