//! `db current`, `db check`, `setup drop_tables` and the repair through the built binary on
//! every backend; read-only commands leave the database as it was (SQLite: byte for byte;
//! servers: catalogue and row counts).

use std::path::Path;
use std::process::{Command, Output};

use pi_manage::db::catalog::Catalog;
use pi_manage::db::schema::Flavour;
use pi_manage::db::Connection;
use pi_manage::dburl::Backend;
use pi_manage::job::model::TaskSpec;

use crate::harness::*;

/// A pi.cfg for `db` in a fresh directory.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(db: &TestDb) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pi.cfg"),
            format!(
                "SQLALCHEMY_DATABASE_URI = '{}'\nSECRET_KEY = 'db-cli-secret-key'\nPI_PEPPER = 'db-cli-pepper'\n",
                db.url_text()
            ),
        )
        .unwrap();
        Site { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        let cfg = self.dir.path().join("pi.cfg");
        Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .arg("--picfg")
            .arg(&cfg)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .unwrap()
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn create(db: &TestDb) {
    let r = run_spec(
        db,
        TaskSpec::CreateTables(Default::default()),
        false,
        &clock_utc(),
    );
    assert_eq!(r.outcome().status, pi_manage::tasks::TaskStatus::Done);
}

fn drop_index(c: &mut dyn Connection, index: &str, table: &str) {
    let d = c.dialect();
    let sql = match d {
        pi_manage::db::Dialect::Mysql => {
            format!("DROP INDEX {} ON {}", d.quote(index), d.quote(table))
        }
        _ => format!("DROP INDEX {}", d.quote(index)),
    };
    c.execute_batch(&sql).unwrap();
}

/// Take away a table (with its sequence where there is one) and an index of another table.
fn make_incomplete(db: &TestDb) {
    let mut c = db.connect();
    let d = c.dialect();
    c.execute_batch(&format!("DROP TABLE {}", d.quote("resolverrealm")))
        .unwrap();
    if Flavour::detect(c.as_mut())
        .unwrap()
        .known()
        .shape
        .sequences
        .contains("resolverrealm_seq")
    {
        c.execute_batch(&format!("DROP SEQUENCE {}", d.quote("resolverrealm_seq")))
            .unwrap();
    }
    drop_index(c.as_mut(), "ix_token_tokentype", "token");
}

fn has_sequences(db: &TestDb) -> bool {
    Flavour::detect(db.connect().as_mut()).unwrap() != Flavour::Sqlite
        && Flavour::detect(db.connect().as_mut()).unwrap() != Flavour::Mysql
}

#[test]
fn db_current_and_check_on_complete_incomplete_and_unknown_schemas() {
    for db in databases() {
        let label = db.label();
        let site = Site::new(&db);
        create(&db);
        let o = site.run(&["db", "current"]);
        assert_eq!(
            (out(&o).as_str(), o.status.code()),
            ("b7c1e4d2a9f3 (head)\n", Some(0)),
            "{label}: {}",
            err(&o)
        );
        let o = site.run(&["db", "check"]);
        assert_eq!(
            (out(&o).as_str(), o.status.code()),
            (
                "The schema of revision b7c1e4d2a9f3 (head) is complete.\n",
                Some(0)
            ),
            "{label}: {}",
            err(&o)
        );

        make_incomplete(&db);
        let o = site.run(&["db", "check"]);
        assert_eq!(o.status.code(), Some(1), "{label}");
        let mut want = vec![
            "missing table resolverrealm",
            "missing index ix_token_tokentype on token",
        ];
        if has_sequences(&db) {
            want.push("missing sequence resolverrealm_seq");
        }
        let text = out(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(&lines[..lines.len() - 1], want.as_slice(), "{label}");
        assert!(lines.last().unwrap().starts_with(&format!(
            "The schema of revision b7c1e4d2a9f3 (head) is incomplete: {} missing.",
            want.len()
        )));
        let o = site.run(&["--output", "json", "db", "check"]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["complete"], false);
        assert_eq!(j["revision"], "b7c1e4d2a9f3");
        assert_eq!(j["missing"].as_array().unwrap().len(), want.len());

        // create_tables brings the table (and its sequence) back; the index of the existing
        // table stays missing, and it says so.
        let o = site.run(&["setup", "create_tables"]);
        assert_eq!(o.status.code(), Some(0), "{label}: {}{}", out(&o), err(&o));
        let text = out(&o);
        assert!(
            text.contains("lacks 1 of privacyIDEA's 68 tables. Created them: resolverrealm."),
            "{label}: {text}"
        );
        assert!(
            text.contains("Existing tables were not changed; they lack 1 columns, indexes, foreign keys or sequences"),
            "{label}: {text}"
        );
        let o = site.run(&["db", "check"]);
        assert_eq!(
            out(&o).lines().next(),
            Some("missing index ix_token_tokentype on token"),
            "{label}"
        );
        assert_eq!(o.status.code(), Some(1));

        db.connect()
            .execute(
                "UPDATE alembic_version SET version_num = 'abc123def456'",
                &[],
            )
            .unwrap();
        let o = site.run(&["db", "current"]);
        assert_eq!(
            (out(&o).as_str(), o.status.code()),
            ("abc123def456\n", Some(1)),
            "{label}"
        );
        assert!(
            err(&o).contains("revision abc123def456, which pi-manage does not know"),
            "{}",
            err(&o)
        );
        let o = site.run(&["db", "check"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            err(&o).contains("which pi-manage does not know"),
            "{}",
            err(&o)
        );
        let o = site.run(&["setup", "create_tables"]);
        assert_eq!(o.status.code(), Some(1), "{label}: {}", out(&o));
    }
}

#[test]
fn drop_tables_as_privacyidea() {
    for db in databases() {
        let label = db.label();
        let site = Site::new(&db);
        create(&db);
        db.connect()
            .execute_batch("CREATE TABLE not_privacyidea (x INTEGER)")
            .unwrap();
        for args in [
            &["setup", "drop_tables"][..],
            &["setup", "drop_tables", "-d", "no"],
            &["drop_tables", "--dropit", "YES"],
        ] {
            let o = site.run(args);
            assert_eq!(
                (out(&o).as_str(), o.status.code()),
                ("Not dropping anything!\n", Some(0)),
                "{label} {args:?}"
            );
        }
        assert_eq!(
            Catalog::read(db.connect().as_mut()).unwrap().tables.len(),
            69
        );
        let o = site.run(&["setup", "drop_tables", "--dropit", "yes"]);
        assert_eq!(
            (out(&o).as_str(), o.status.code()),
            ("Dropping all database tables!\n", Some(0)),
            "{label}: {}",
            err(&o)
        );
        let left = Catalog::read(db.connect().as_mut()).unwrap();
        assert_eq!(
            left.tables.keys().collect::<Vec<_>>(),
            ["not_privacyidea"],
            "{label}"
        );
        assert!(
            left.sequences.is_empty(),
            "{label}: {:?}",
            left.sequences.keys()
        );
        let o = site.run(&["db", "current"]);
        assert_eq!((out(&o).as_str(), o.status.code()), ("", Some(0)));
        // And the empty database can be created again.
        let o = site.run(&["dropdb", "-d", "yes"]);
        assert_eq!(o.status.code(), Some(0));
        create(&db);
    }
}

/// Everything a read-only command could change: the catalogue and every table's row count.
fn state(c: &mut dyn Connection) -> (Catalog, Vec<(String, i64)>) {
    let cat = Catalog::read(c).unwrap();
    let d = c.dialect();
    let counts = cat
        .tables
        .keys()
        .map(|t| {
            let n = c
                .query_i64(&format!("SELECT count(*) FROM {}", d.quote(t)), &[])
                .unwrap()
                .unwrap();
            (t.clone(), n)
        })
        .collect();
    (cat, counts)
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

const READ_ONLY: &[&[&str]] = &[
    &["history"],
    &["history", "--format", "json"],
    &["db", "current"],
    &["db", "check"],
    &["--output", "json", "db", "check"],
    &["admin", "list"],
    &["config", "policy", "list"],
    &["config", "export", "-t", "policy"],
    &["setup", "create_tables", "--dryrun"],
    &["audit", "rotate", "--dryrun"],
    &["config", "challenge", "cleanup", "--dryrun"],
    &["setup", "drop_tables"],
];

#[test]
fn read_only_commands_change_nothing() {
    for db in databases() {
        let label = db.label();
        let site = Site::new(&db);
        create(&db);
        make_incomplete(&db);
        db.connect()
            .execute(
                "INSERT INTO admin (username, email) VALUES ('ro', 'ro@example.com')",
                &[],
            )
            .unwrap();
        let before = state(db.connect().as_mut());
        let sqlite_dir = db
            .url
            .sqlite_path(Path::new("/"))
            .map(|p| p.parent().unwrap().to_path_buf());
        let files_before = sqlite_dir.as_deref().map(files);
        for args in READ_ONLY {
            let o = site.run(args);
            assert!(
                matches!(o.status.code(), Some(0 | 1 | 4)),
                "{label} {args:?}: {}{}",
                out(&o),
                err(&o)
            );
            if db.backend == Backend::Sqlite {
                assert_eq!(
                    sqlite_dir.as_deref().map(files),
                    files_before,
                    "{label} {args:?} changed the SQLite file (or left a file next to it)"
                );
            }
            let now = state(db.connect().as_mut());
            assert_eq!(now.1, before.1, "{label} {args:?}: row counts");
            let diff = now.0.differences(&before.0);
            assert!(diff.is_empty(), "{label} {args:?}: {diff:?}");
        }
        let o = site.run(&["history"]);
        assert_eq!(
            out(&o),
            "No run history: nothing has been run with 'pi-manage run' or 'pi-manage schedule' on this database yet.\n"
        );
        let o = site.run(&["history", "--format", "json"]);
        assert_eq!(out(&o), "[]\n");
    }
}

#[test]
fn read_only_commands_create_no_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("absent.sqlite");
    std::fs::write(
        dir.path().join("pi.cfg"),
        format!(
            "SQLALCHEMY_DATABASE_URI = 'sqlite:///{}'\n",
            db_path.display()
        ),
    )
    .unwrap();
    for args in READ_ONLY {
        let o = Command::new(env!("CARGO_BIN_EXE_pi-manage"))
            .arg("--picfg")
            .arg(dir.path().join("pi.cfg"))
            .args(*args)
            .current_dir(dir.path())
            .env_remove("PRIVACYIDEA_CONFIGFILE")
            .output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0 | 3 | 4)),
            "{args:?}: {}{}",
            out(&o),
            err(&o)
        );
        assert!(!db_path.exists(), "{args:?} created the database file");
    }
}
