//! The schema on the servers, compared by catalogue (not by text) with what privacyIDEA 3.14's
//! own `create_tables` leaves in PostgreSQL 15 and MariaDB 10.11 (`fixtures/create_tables/
//! schema-*.sql`, its pg_dump / mariadb-dump); repair of the 19-table schema earlier pi-manage
//! versions created; unknown revisions left alone.

use pi_manage::db::catalog::Catalog;
use pi_manage::db::schema::Flavour;
use pi_manage::db::Connection;
use pi_manage::dburl::Backend;
use pi_manage::executor::JobStatus;
use pi_manage::job::model::TaskSpec;
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/create_tables/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap()
}

/// Fresh databases on the configured servers (no SQLite).
pub fn server_databases() -> Vec<TestDb> {
    databases()
        .into_iter()
        .filter(|d| d.backend != Backend::Sqlite)
        .collect()
}

pub fn flavour(db: &TestDb) -> Flavour {
    Flavour::detect(db.connect().as_mut()).unwrap()
}

/// Load privacyIDEA's dump of its schema into `conn` as psql / the mariadb client would.
/// pg_dump: psql meta-commands (`\restrict`) and the `search_path` reset are client-side
/// matters and are left out (the dump qualifies every name with `public.`). mariadb-dump:
/// `/*!NNNNN … */` is executed by the server when its version is at least NNNNN, which
/// includes `SET FOREIGN_KEY_CHECKS=0` that lets the tables come in alphabetical order.
pub fn load_privacyidea_dump(conn: &mut dyn Connection, flavour: Flavour) {
    match flavour {
        Flavour::Postgres => {
            let sql: String = fixture("schema-postgresql.sql")
                .lines()
                .filter(|l| !l.starts_with('\\') && !l.starts_with("SELECT pg_catalog.set_config"))
                .map(|l| format!("{l}\n"))
                .collect();
            conn.execute_batch(&sql).unwrap();
        }
        Flavour::Mariadb => {
            let versioned = regex::Regex::new(r"(?s)/\*!\d{5} (.*?) \*/").unwrap();
            let sandbox = regex::Regex::new(r"/\*M!999999\\- enable the sandbox mode \*/").unwrap();
            let text = fixture("schema-mariadb.sql");
            let sql = sandbox.replace_all(&text, "");
            let sql = versioned.replace_all(&sql, "$1");
            conn.execute_batch(&sql).unwrap();
        }
        other => panic!("no privacyIDEA dump for {other:?}"),
    }
}

/// The schema pi-manage 0.1 created on PostgreSQL and MariaDB (19 tables, stamped at head).
pub fn load_pimanage_01_schema(conn: &mut dyn Connection, flavour: Flavour) {
    let file = match flavour {
        Flavour::Postgres => "pimanage-0.1-19-tables-postgres.sql",
        Flavour::Mariadb => "pimanage-0.1-19-tables-mariadb.sql",
        other => panic!("no 0.1 schema for {other:?}"),
    };
    conn.execute_batch(&fixture(file)).unwrap();
}

fn catalogue(db: &TestDb) -> Catalog {
    Catalog::read(db.connect().as_mut()).unwrap()
}

fn create_tables(db: &TestDb) -> RunResult {
    run_spec(
        db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    )
}

fn assert_same(ours: &Catalog, theirs: &Catalog, label: &str) {
    let diff = ours.differences(theirs);
    assert!(
        diff.is_empty(),
        "{label}: {} differences:\n{}",
        diff.len(),
        diff.join("\n")
    );
    assert_eq!(ours, theirs, "{label}");
}

#[test]
fn server_catalogue_equals_privacyideas_own() {
    for theirs in server_databases() {
        let f = flavour(&theirs);
        if f == Flavour::Mysql {
            eprintln!("MySQL 8: no privacyIDEA dump to compare with, skipped");
            continue;
        }
        load_privacyidea_dump(theirs.connect().as_mut(), f);
        let reference = catalogue(&theirs);
        assert_eq!(reference.tables.len(), 68, "{f:?}");
        // 45 named sequences; PostgreSQL adds one per identity column.
        let named = reference
            .sequences
            .keys()
            .filter(|s| !s.ends_with("_id_seq"))
            .count();
        assert_eq!(named, 45, "{f:?}");

        let ours = server_databases()
            .into_iter()
            .find(|d| d.backend == theirs.backend)
            .unwrap();
        let r = create_tables(&ours);
        assert_eq!(r.report.status, JobStatus::Ok, "{f:?}: {:?}", r.report);
        assert_eq!(
            r.lines,
            ["Created 68 tables, stamped with revision b7c1e4d2a9f3."]
        );
        assert_same(&catalogue(&ours), &reference, &format!("{f:?}"));
        catalogue_is_deep(&reference, f);
        // A changed default is a difference the comparison sees.
        ours.connect()
            .execute_batch("ALTER TABLE challenge ALTER COLUMN transaction_id SET DEFAULT 'x'")
            .unwrap();
        let diff = catalogue(&ours).differences(&reference);
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert!(diff[0].starts_with("challenge: column 1:"), "{diff:?}");
        // Privacy IDEA's dump carries no rows; ours is stamped.
        let v = ours
            .connect()
            .query_rows("SELECT version_num FROM alembic_version", &[])
            .unwrap();
        assert_eq!(v[0].get(0).as_str(), Some("b7c1e4d2a9f3"));
    }
}

#[test]
fn sqlite_catalogue_equals_privacyideas_own() {
    let db = databases().remove(0);
    assert_eq!(create_tables(&db).report.status, JobStatus::Ok);
    let reference_url =
        pi_manage::dburl::DbUrl::parse(&format!("sqlite:///{FIXTURES}privacyidea-empty.sqlite"))
            .unwrap();
    let mut theirs = pi_manage::db::open(&reference_url, &Default::default()).unwrap();
    assert_same(
        &catalogue(&db),
        &Catalog::read(theirs.as_mut()).unwrap(),
        "sqlite",
    );
}

#[test]
fn repairs_the_19_table_schema_of_pimanage_01() {
    for db in server_databases() {
        let f = flavour(&db);
        if f == Flavour::Mysql {
            continue;
        }
        {
            let mut c = db.connect();
            load_pimanage_01_schema(c.as_mut(), f);
            c.execute(
                "INSERT INTO admin (username, email) VALUES ('keep', 'keep@example.com')",
                &[],
            )
            .unwrap();
        }
        let before = catalogue(&db);
        assert_eq!(before.tables.len(), 19);

        // A dry run says what it would create and creates nothing.
        let dry = run_spec(
            &db,
            TaskSpec::CreateTables(Default::default()),
            true,
            &clock_utc(),
        );
        assert_eq!(dry.outcome().status, TaskStatus::DryRun, "{f:?}");
        assert!(
            dry.lines[0].contains("lacks 49 of privacyIDEA's 68 tables. Would create them: "),
            "{:?}",
            dry.lines
        );
        assert_eq!(catalogue(&db), before, "{f:?}: dry run changed the schema");

        let r = create_tables(&db);
        assert_eq!(
            r.outcome().status,
            TaskStatus::Done,
            "{f:?}: {:?}",
            r.report
        );
        assert!(
            r.lines[0].starts_with(
                "The database is stamped with revision b7c1e4d2a9f3 but lacks 49 of privacyIDEA's 68 tables. Created them: authcache, authentication_log, "
            ),
            "{:?}",
            r.lines
        );
        assert!(r.lines[0].contains("resolver, "), "{:?}", r.lines);
        let details = &r.outcome().details;
        assert_eq!(details["tables_created"].as_array().unwrap().len(), 49);
        // The old schema had 16 of the 45 sequences.
        assert_eq!(details["sequences_created"].as_array().unwrap().len(), 29);

        let theirs = server_databases()
            .into_iter()
            .find(|d| d.backend == db.backend)
            .unwrap();
        load_privacyidea_dump(theirs.connect().as_mut(), f);
        assert_same(&catalogue(&db), &catalogue(&theirs), &format!("{f:?}"));
        // Nothing existing was touched.
        let rows = db
            .connect()
            .query_rows("SELECT username FROM admin", &[])
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get(0).as_str(), Some("keep"));
        let again = create_tables(&db);
        assert_eq!(again.outcome().status, TaskStatus::Unchanged, "{f:?}");
    }
}

#[test]
fn unknown_revision_is_reported_and_left_alone() {
    for db in databases() {
        {
            let mut c = db.connect();
            let f = Flavour::detect(c.as_mut()).unwrap();
            c.execute_batch(f.ddl()).unwrap();
            c.execute_batch(&format!(
                "DROP TABLE {}",
                c.dialect().quote("resolverrealm")
            ))
            .unwrap();
            c.execute(
                "UPDATE alembic_version SET version_num = 'abc123def456'",
                &[],
            )
            .unwrap();
        }
        let before = catalogue(&db);
        let r = create_tables(&db);
        assert_eq!(r.report.status, JobStatus::Failed, "{}", db.label());
        let error = r.outcome().error.clone().unwrap();
        assert!(
            error.starts_with("The database is stamped with alembic revision abc123def456 and 67 of privacyIDEA's 68 tables; pi-manage knows the schema of revision b7c1e4d2a9f3 (privacyIDEA 3.14) only. Nothing was changed"),
            "{error}"
        );
        assert_eq!(catalogue(&db), before, "{}", db.label());
    }
}

#[test]
fn tables_without_a_stamp_are_left_alone() {
    for db in databases() {
        {
            let mut c = db.connect();
            let q = c.dialect().quote("admin");
            c.execute_batch(&format!(
                "CREATE TABLE {q} (username VARCHAR(120) NOT NULL PRIMARY KEY)"
            ))
            .unwrap();
        }
        let r = create_tables(&db);
        assert_eq!(r.report.status, JobStatus::Failed, "{}", db.label());
        assert!(
            r.outcome().error.as_deref().unwrap().starts_with(
                "The database has no alembic revision and 1 of privacyIDEA's 68 tables"
            ),
            "{:?}",
            r.outcome().error
        );
        assert_eq!(catalogue(&db).tables.len(), 1, "{}", db.label());
    }
}

/// The catalogue holds what the comparison is about: defaults, identities, ON DELETE,
/// checks, sequence parameters.
fn catalogue_is_deep(cat: &Catalog, f: Flavour) {
    let reason = &cat.tables["authentication_log_reason"];
    let fk = reason.foreign_keys.values().next().unwrap();
    assert_eq!(
        (fk.ref_table.as_str(), fk.on_delete.as_str()),
        ("authentication_log", "CASCADE")
    );
    let token = &cat.tables["token"];
    let serial = token
        .indexes
        .values()
        .find(|i| i.columns == ["serial"])
        .unwrap();
    assert!(serial.unique);
    let audit_seq = &cat.sequences["audit_seq"];
    match f {
        Flavour::Postgres => {
            assert_eq!(audit_seq.data_type, "bigint");
            assert_eq!(cat.tables["authentication_log"].columns[0].extra, "d");
            let enc = cat.tables["smsgatewayoption"]
                .columns
                .iter()
                .find(|c| c.name == "Encrypted")
                .unwrap();
            assert_eq!(
                (enc.data_type.as_str(), enc.nullable, enc.default.as_deref()),
                ("boolean", false, Some("false"))
            );
            assert!(token
                .constraints
                .values()
                .any(|c| c.starts_with("PRIMARY KEY")));
        }
        Flavour::Mariadb => {
            assert_eq!((audit_seq.increment, audit_seq.cache), (0, 1000));
            assert_eq!(
                cat.tables["authentication_log"].columns[0].extra,
                "auto_increment"
            );
            assert_eq!(
                cat.tables["usersetting"].constraints["settings"],
                "json_valid(`settings`)"
            );
            assert_eq!(token.options, "ENGINE=InnoDB COLLATE=utf8mb4_general_ci");
            let enc = cat.tables["smsgatewayoption"]
                .columns
                .iter()
                .find(|c| c.name == "Encrypted")
                .unwrap();
            assert_eq!(
                (enc.data_type.as_str(), enc.nullable, enc.default.as_deref()),
                ("tinyint(1)", false, Some("0"))
            );
        }
        _ => unreachable!(),
    }
}
