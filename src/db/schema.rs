//! privacyIDEA 3.14's schema as pi-manage knows it: one DDL file per server flavour (see the
//! header of each file in `ddl/` for where it came from), split into statements that each
//! belong to one table or sequence, and the names they create (the [`Shape`] `db check`
//! compares a live database with).
//!
//! Knowing which object each statement belongs to is what lets `create_tables` repair a
//! database that lacks some tables: it runs exactly the statements of the missing tables and
//! sequences, never one that would touch an existing table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use regex::Regex;

use super::{split_sql_statements, Connection, DbResult, Dialect};

/// The alembic head of privacyIDEA 3.14, which the known schema corresponds to.
pub const ALEMBIC_HEAD: &str = "b7c1e4d2a9f3";

const SQLITE_DDL: &str = include_str!("ddl/sqlite_full.sql");
const POSTGRES_DDL: &str = include_str!("ddl/postgres.sql");
const MARIADB_DDL: &str = include_str!("ddl/mariadb.sql");
const MYSQL_DDL: &str = include_str!("ddl/mysql.sql");

/// The server flavour, which decides the DDL: MariaDB ≥ 10.3 has sequences and privacyIDEA
/// uses them there; MySQL (and older MariaDB) uses AUTO_INCREMENT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Sqlite,
    Postgres,
    Mariadb,
    Mysql,
}

impl Flavour {
    /// The flavour of a connection (asks MySQL-protocol servers for their version).
    pub fn detect(conn: &mut dyn Connection) -> DbResult<Flavour> {
        Ok(match conn.dialect() {
            Dialect::Sqlite => Flavour::Sqlite,
            Dialect::Postgres => Flavour::Postgres,
            Dialect::Mysql => {
                let version = conn
                    .query_rows("SELECT VERSION()", &[])?
                    .first()
                    .and_then(|r| r.get(0).as_str().map(str::to_string))
                    .unwrap_or_default();
                if mariadb_with_sequences(&version) {
                    Flavour::Mariadb
                } else {
                    Flavour::Mysql
                }
            }
        })
    }

    /// The DDL file of this flavour.
    pub fn ddl(self) -> &'static str {
        match self {
            Flavour::Sqlite => SQLITE_DDL,
            Flavour::Postgres => POSTGRES_DDL,
            Flavour::Mariadb => MARIADB_DDL,
            Flavour::Mysql => MYSQL_DDL,
        }
    }

    /// The schema of this flavour, parsed once.
    pub fn known(self) -> &'static KnownSchema {
        static CELLS: [OnceLock<KnownSchema>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        CELLS[self as usize].get_or_init(|| KnownSchema::parse(self.ddl()))
    }
}

/// MariaDB 10.3 and later has sequences, and privacyIDEA uses them there.
pub fn mariadb_with_sequences(version: &str) -> bool {
    if !version.to_ascii_lowercase().contains("mariadb") {
        return false;
    }
    // Old clients see MariaDB's version behind a "5.5.5-" compatibility prefix.
    let version = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let major: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor) >= (10, 3)
}

/// What a DDL statement creates or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// `CREATE SEQUENCE name`.
    Sequence(String),
    /// `CREATE TABLE`, `CREATE INDEX … ON`, `ALTER TABLE` of this table.
    Table(String),
    /// The `INSERT INTO alembic_version`.
    Stamp,
}

/// One statement of a DDL file.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: &'static str,
    pub owner: Owner,
}

/// The names a schema consists of: what `db check` looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    pub tables: BTreeMap<String, TableShape>,
    pub sequences: BTreeSet<String>,
}

/// The names inside one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableShape {
    pub columns: BTreeSet<String>,
    /// Named indexes, including those behind primary keys and unique constraints where the
    /// server names them (PostgreSQL, MariaDB); SQLite's automatic indexes are not counted.
    pub indexes: BTreeSet<String>,
    /// Named foreign keys (PostgreSQL, MariaDB; SQLite's are unnamed).
    pub foreign_keys: BTreeSet<String>,
}

/// Something the live database lacks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missing {
    Table(String),
    Column { table: String, column: String },
    Index { table: String, index: String },
    ForeignKey { table: String, name: String },
    Sequence(String),
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Table(t) => write!(f, "missing table {t}"),
            Missing::Column { table, column } => write!(f, "missing column {table}.{column}"),
            Missing::Index { table, index } => write!(f, "missing index {index} on {table}"),
            Missing::ForeignKey { table, name } => {
                write!(f, "missing foreign key {name} on {table}")
            }
            Missing::Sequence(s) => write!(f, "missing sequence {s}"),
        }
    }
}

impl Shape {
    /// Everything `self` (the expected schema) has and `live` lacks. The columns and
    /// indexes of a missing table are not listed separately.
    pub fn missing_in(&self, live: &Shape) -> Vec<Missing> {
        let mut out = Vec::new();
        for (name, want) in &self.tables {
            let Some(have) = live.tables.get(name) else {
                out.push(Missing::Table(name.clone()));
                continue;
            };
            for c in want.columns.difference(&have.columns) {
                out.push(Missing::Column {
                    table: name.clone(),
                    column: c.clone(),
                });
            }
            for i in want.indexes.difference(&have.indexes) {
                out.push(Missing::Index {
                    table: name.clone(),
                    index: i.clone(),
                });
            }
            for k in want.foreign_keys.difference(&have.foreign_keys) {
                out.push(Missing::ForeignKey {
                    table: name.clone(),
                    name: k.clone(),
                });
            }
        }
        for s in self.sequences.difference(&live.sequences) {
            out.push(Missing::Sequence(s.clone()));
        }
        out
    }
}

/// One flavour's schema: its statements in execution order and the names they create.
#[derive(Debug)]
pub struct KnownSchema {
    pub statements: Vec<Statement>,
    pub shape: Shape,
}

impl KnownSchema {
    /// The tables in creation order (a table's foreign keys only reference earlier ones or,
    /// on PostgreSQL, are added after every table).
    pub fn tables(&self) -> Vec<&str> {
        self.statements
            .iter()
            .filter_map(|s| match &s.owner {
                Owner::Table(t) if is_create_table(s.sql) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The statements that create the given tables and sequences, in file order, without
    /// the stamp.
    pub fn statements_for<'a>(
        &'a self,
        tables: &'a BTreeSet<String>,
        sequences: &'a BTreeSet<String>,
    ) -> impl Iterator<Item = &'a Statement> + 'a {
        self.statements.iter().filter(move |s| match &s.owner {
            Owner::Table(t) => tables.contains(t),
            Owner::Sequence(q) => sequences.contains(q),
            Owner::Stamp => false,
        })
    }

    /// The stamp statement.
    pub fn stamp(&self) -> Option<&Statement> {
        self.statements.iter().find(|s| s.owner == Owner::Stamp)
    }

    /// Split and classify a DDL file. The files are fixed, so an unknown statement shape is
    /// a programming error caught by the unit tests.
    fn parse(ddl: &'static str) -> KnownSchema {
        let mut statements = Vec::new();
        let mut shape = Shape::default();
        for raw in split_sql_statements(ddl) {
            let sql = strip_leading_comments(raw);
            let owner = classify(sql).unwrap_or_else(|| panic!("unclassified DDL: {sql}"));
            match &owner {
                Owner::Sequence(s) => {
                    shape.sequences.insert(s.clone());
                }
                Owner::Table(t) => {
                    let table = shape.tables.entry(t.clone()).or_default();
                    describe(sql, table);
                }
                Owner::Stamp => {}
            }
            statements.push(Statement { sql, owner });
        }
        KnownSchema { statements, shape }
    }
}

fn strip_leading_comments(sql: &str) -> &str {
    let mut s = sql.trim_start();
    while s.starts_with("--") {
        s = s.find('\n').map_or("", |i| &s[i + 1..]).trim_start();
    }
    s
}

const IDENT: &str = r#"[`"]?(\w+)[`"]?"#;

fn re(cell: &'static OnceLock<Regex>, pattern: impl FnOnce() -> String) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&pattern()).expect("static regex"))
}

fn is_create_table(sql: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, || r"(?i)^CREATE\s+TABLE\s".into()).is_match(sql)
}

fn classify(sql: &str) -> Option<Owner> {
    static SEQ: OnceLock<Regex> = OnceLock::new();
    static TABLE: OnceLock<Regex> = OnceLock::new();
    static INDEX: OnceLock<Regex> = OnceLock::new();
    static ALTER: OnceLock<Regex> = OnceLock::new();
    static STAMP: OnceLock<Regex> = OnceLock::new();
    let seq = re(&SEQ, || format!(r"(?i)^CREATE\s+SEQUENCE\s+{IDENT}"));
    let table = re(&TABLE, || format!(r"(?i)^CREATE\s+TABLE\s+{IDENT}"));
    let index = re(&INDEX, || {
        format!(r"(?i)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+{IDENT}\s+ON\s+(?:ONLY\s+)?{IDENT}")
    });
    let alter = re(&ALTER, || {
        format!(r"(?i)^ALTER\s+TABLE\s+(?:ONLY\s+)?{IDENT}")
    });
    let stamp = re(&STAMP, || r"(?i)^INSERT\s+INTO\s+alembic_version\b".into());
    if let Some(c) = seq.captures(sql) {
        return Some(Owner::Sequence(c[1].to_string()));
    }
    if let Some(c) = table.captures(sql) {
        return Some(Owner::Table(c[1].to_string()));
    }
    if let Some(c) = index.captures(sql) {
        return Some(Owner::Table(c[2].to_string()));
    }
    if let Some(c) = alter.captures(sql) {
        return Some(Owner::Table(c[1].to_string()));
    }
    stamp.is_match(sql).then_some(Owner::Stamp)
}

/// Record the names one statement of a table creates.
fn describe(sql: &str, table: &mut TableShape) {
    static INDEX: OnceLock<Regex> = OnceLock::new();
    static CONSTRAINT: OnceLock<Regex> = OnceLock::new();
    let index = re(&INDEX, || {
        format!(r"(?i)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+{IDENT}")
    });
    // PostgreSQL: ALTER TABLE ONLY t ADD CONSTRAINT name (PRIMARY KEY|UNIQUE|FOREIGN KEY) …
    let constraint = re(&CONSTRAINT, || {
        format!(r"(?i)ADD\s+CONSTRAINT\s+{IDENT}\s+(PRIMARY|UNIQUE|FOREIGN)")
    });
    if is_create_table(sql) {
        describe_table_body(sql, table);
    } else if let Some(c) = index.captures(sql) {
        table.indexes.insert(c[1].to_string());
    } else if let Some(c) = constraint.captures(sql) {
        if c[2].eq_ignore_ascii_case("FOREIGN") {
            table.foreign_keys.insert(c[1].to_string());
        } else {
            // PostgreSQL backs primary keys and unique constraints with an index of that name.
            table.indexes.insert(c[1].to_string());
        }
    }
}

/// The columns, inline indexes (MariaDB `KEY`, `UNIQUE KEY`, `PRIMARY KEY`) and named
/// foreign keys of a `CREATE TABLE` body.
fn describe_table_body(sql: &str, table: &mut TableShape) {
    let (Some(open), Some(close)) = (sql.find('('), sql.rfind(')')) else {
        return;
    };
    static KEY: OnceLock<Regex> = OnceLock::new();
    static FK: OnceLock<Regex> = OnceLock::new();
    // `KEY name (…)`: MariaDB's inline index. A column called `key` (PostgreSQL, SQLite) is
    // followed by its type instead.
    let key = re(&KEY, || format!(r"(?i)^(?:UNIQUE\s+)?KEY\s+{IDENT}\s*\("));
    let fk = re(&FK, || {
        format!(r"(?i)^CONSTRAINT\s+{IDENT}\s+FOREIGN\s+KEY")
    });
    // Only MySQL/MariaDB show constraint names in their catalogue (SQLite's are lost).
    let mariadb = sql.contains('`');
    for item in top_level_items(&sql[open + 1..close]) {
        let item = item.trim();
        let first = item
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        match first.to_ascii_uppercase().as_str() {
            "PRIMARY" => {
                if mariadb {
                    table.indexes.insert("PRIMARY".into());
                }
            }
            "KEY" | "UNIQUE" if key.is_match(item) || first.eq_ignore_ascii_case("UNIQUE") => {
                if let Some(c) = key.captures(item) {
                    table.indexes.insert(c[1].to_string());
                }
            }
            "CONSTRAINT" => {
                if let Some(c) = fk.captures(item).filter(|_| mariadb) {
                    table.foreign_keys.insert(c[1].to_string());
                }
            }
            "FOREIGN" | "CHECK" | "INDEX" | "" => {}
            _ => {
                let name = first.trim_matches(|c| c == '`' || c == '"');
                table.columns.insert(name.to_string());
            }
        }
    }
}

/// Split a parenthesised list at its top-level commas.
fn top_level_items(body: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start, mut quote) = (0i32, 0, None::<char>);
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Flavour; 4] = [
        Flavour::Sqlite,
        Flavour::Postgres,
        Flavour::Mariadb,
        Flavour::Mysql,
    ];

    #[test]
    fn every_flavour_has_the_68_tables_of_the_release() {
        let sqlite: BTreeSet<_> = Flavour::Sqlite.known().shape.tables.keys().collect();
        assert_eq!(sqlite.len(), 68);
        for f in ALL {
            let k = f.known();
            assert_eq!(k.tables().len(), 68, "{f:?}");
            let names: BTreeSet<_> = k.shape.tables.keys().collect();
            assert_eq!(names, sqlite, "{f:?}");
            assert!(k.stamp().unwrap().sql.contains(ALEMBIC_HEAD), "{f:?}");
            // Same columns everywhere: the models are the same.
            for (t, shape) in &k.shape.tables {
                assert_eq!(
                    shape.columns,
                    Flavour::Sqlite.known().shape.tables[t].columns,
                    "{f:?} {t}"
                );
            }
        }
    }

    #[test]
    fn sequences_where_privacyidea_uses_them() {
        assert_eq!(Flavour::Postgres.known().shape.sequences.len(), 45);
        assert_eq!(Flavour::Mariadb.known().shape.sequences.len(), 45);
        assert!(Flavour::Mysql.known().shape.sequences.is_empty());
        assert!(Flavour::Sqlite.known().shape.sequences.is_empty());
        assert!(Flavour::Postgres
            .known()
            .shape
            .sequences
            .contains("challenge_seq"));
    }

    #[test]
    fn names_of_indexes_and_foreign_keys() {
        let pg = &Flavour::Postgres.known().shape.tables["tokenrealm"];
        assert!(pg.indexes.contains("tokenrealm_pkey"), "{pg:?}");
        assert!(pg.indexes.contains("trix_2"), "{pg:?}");
        assert_eq!(pg.foreign_keys.len(), 2, "{pg:?}");
        let my = &Flavour::Mariadb.known().shape.tables["usersetting"];
        assert_eq!(
            my.indexes,
            [
                "PRIMARY",
                "uq_usersetting_subject",
                "realm_id",
                "ix_usersetting_user",
                "ix_usersetting_subject_type_username"
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        );
        assert_eq!(
            my.foreign_keys,
            BTreeSet::from(["usersetting_ibfk_1".to_string()])
        );
        let lite = &Flavour::Sqlite.known().shape.tables["token"];
        assert_eq!(
            lite.indexes,
            BTreeSet::from(["ix_token_tokentype".into(), "ix_token_serial".into()])
        );
    }

    #[test]
    fn statements_of_missing_tables_only() {
        let k = Flavour::Postgres.known();
        let tables = BTreeSet::from(["resolverrealm".to_string()]);
        let seqs = BTreeSet::from(["resolverrealm_seq".to_string()]);
        let sql: Vec<_> = k.statements_for(&tables, &seqs).map(|s| s.sql).collect();
        assert!(sql
            .iter()
            .any(|s| s.starts_with("CREATE SEQUENCE resolverrealm_seq")));
        assert!(sql
            .iter()
            .any(|s| s.starts_with("CREATE TABLE resolverrealm")));
        assert!(sql.iter().all(|s| s.contains("resolverrealm")));
        assert_eq!(sql.iter().filter(|s| s.contains("FOREIGN KEY")).count(), 2);
    }

    #[test]
    fn missing_lists_tables_columns_indexes_and_sequences() {
        let want = Flavour::Postgres.known().shape.clone();
        let mut live = want.clone();
        live.tables.remove("resolver");
        live.tables
            .get_mut("token")
            .unwrap()
            .columns
            .remove("serial");
        live.tables
            .get_mut("token")
            .unwrap()
            .indexes
            .remove("ix_token_tokentype");
        live.sequences.remove("resolver_seq");
        assert_eq!(
            want.missing_in(&live)
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>(),
            [
                "missing table resolver",
                "missing column token.serial",
                "missing index ix_token_tokentype on token",
                "missing sequence resolver_seq"
            ]
        );
        assert!(want.missing_in(&want).is_empty());
    }

    #[test]
    fn mariadb_versions() {
        assert!(mariadb_with_sequences("10.11.19-MariaDB-0+deb12u1"));
        assert!(mariadb_with_sequences("5.5.5-10.3.39-MariaDB"));
        assert!(!mariadb_with_sequences("10.2.44-MariaDB"));
        assert!(!mariadb_with_sequences("8.0.36"));
    }
}
