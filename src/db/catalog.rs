//! Reading a live database's catalogue (pg_catalog, information_schema, SQLite's pragmas) into
//! one dialect-independent [`Catalog`]: tables with their columns (type, nullability,
//! default), indexes (columns, uniqueness), constraints, foreign keys (with ON DELETE) and
//! sequences (with their parameters).
//!
//! `db check`, `create_tables`' repair and the tests that compare our schema with
//! privacyIDEA's all read databases through this module. It only ever runs SELECTs (and
//! SQLite's read-only pragmas): reading the catalogue changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::schema::{Shape, TableShape};
use super::{Connection, DbResult, Dialect, Row, Value};

/// Everything the catalogue says about the tables and sequences of the connected database
/// (PostgreSQL: the current schema; MySQL/MariaDB: the current database).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub tables: BTreeMap<String, Table>,
    pub sequences: BTreeMap<String, Sequence>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// In table order.
    pub columns: Vec<Column>,
    pub indexes: BTreeMap<String, Index>,
    /// Primary key, unique and check constraints by name, as the server renders them
    /// (PostgreSQL `pg_get_constraintdef`, MariaDB's check clause). Unnamed on SQLite, where
    /// they show up as its automatic indexes instead.
    pub constraints: BTreeMap<String, String>,
    /// Foreign keys by name (SQLite: by their columns, as they have no name).
    pub foreign_keys: BTreeMap<String, ForeignKey>,
    /// MySQL/MariaDB: engine and default collation. Empty elsewhere.
    pub options: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The full type as the server spells it (`character varying(255)`, `varchar(255)`,
    /// `VARCHAR(255)`), with MySQL's collation where it has one.
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// PostgreSQL identity (`a`/`d`), MySQL `auto_increment`; empty otherwise.
    pub extra: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub columns: Vec<String>,
    pub unique: bool,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `CASCADE`, `SET NULL`, `NO ACTION`, … in the SQL spelling.
    pub on_delete: String,
    pub on_update: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// PostgreSQL's sequence type (`bigint`, `integer`); empty on MariaDB.
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
}

impl Catalog {
    /// Read the catalogue of the connected database.
    pub fn read(conn: &mut dyn Connection) -> DbResult<Catalog> {
        match conn.dialect() {
            Dialect::Sqlite => read_sqlite(conn),
            Dialect::Postgres => read_postgres(conn),
            Dialect::Mysql => read_mysql(conn),
        }
    }

    /// The names in this catalogue, for comparison with a [`Shape`] parsed from DDL.
    pub fn shape(&self) -> Shape {
        Shape {
            tables: self
                .tables
                .iter()
                .map(|(name, t)| {
                    (
                        name.clone(),
                        TableShape {
                            columns: t.columns.iter().map(|c| c.name.clone()).collect(),
                            indexes: t
                                .indexes
                                .keys()
                                .filter(|k| !k.starts_with("sqlite_autoindex_"))
                                .cloned()
                                .collect(),
                            foreign_keys: t
                                .foreign_keys
                                .keys()
                                .filter(|k| !k.starts_with('('))
                                .cloned()
                                .collect(),
                        },
                    )
                })
                .collect(),
            sequences: self.sequences.keys().cloned().collect(),
        }
    }

    /// The tables of this catalogue out of `names`.
    pub fn has_tables(&self, names: &BTreeSet<String>) -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| self.tables.contains_key(*n))
            .cloned()
            .collect()
    }

    /// Human-readable differences to `other` (empty when equal), one line each: what tests
    /// print when two catalogues differ.
    pub fn differences(&self, other: &Catalog) -> Vec<String> {
        let mut out = Vec::new();
        let names: BTreeSet<&String> = self.tables.keys().chain(other.tables.keys()).collect();
        for name in names {
            match (self.tables.get(name), other.tables.get(name)) {
                (Some(a), Some(b)) if a != b => {
                    if a.columns != b.columns {
                        let len = a.columns.len().max(b.columns.len());
                        for i in 0..len {
                            let (x, y) = (a.columns.get(i), b.columns.get(i));
                            if x != y {
                                out.push(format!("{name}: column {i}: {x:?} != {y:?}"));
                            }
                        }
                    }
                    diff_maps(&mut out, name, "index", &a.indexes, &b.indexes);
                    diff_maps(&mut out, name, "constraint", &a.constraints, &b.constraints);
                    diff_maps(
                        &mut out,
                        name,
                        "foreign key",
                        &a.foreign_keys,
                        &b.foreign_keys,
                    );
                    if a.options != b.options {
                        out.push(format!(
                            "{name}: options {:?} != {:?}",
                            a.options, b.options
                        ));
                    }
                }
                (Some(_), None) => out.push(format!("table {name} only on the left")),
                (None, Some(_)) => out.push(format!("table {name} only on the right")),
                _ => {}
            }
        }
        diff_maps(&mut out, "", "sequence", &self.sequences, &other.sequences);
        out
    }
}

fn diff_maps<V: PartialEq + std::fmt::Debug>(
    out: &mut Vec<String>,
    table: &str,
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            out.push(format!("{table}: {what} {k}: {x:?} != {y:?}"));
        }
    }
}

fn text(row: &Row, i: usize) -> String {
    match row.get(i) {
        Value::Text(t) => t.clone(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::DateTime(d) => d.to_string(),
        Value::Null => String::new(),
    }
}

fn opt_text(row: &Row, i: usize) -> Option<String> {
    (!row.get(i).is_null()).then(|| text(row, i))
}

fn int(row: &Row, i: usize) -> i64 {
    row.get(i).as_i64().unwrap_or(0)
}

fn split_list(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_string).collect()
    }
}

// ---------------------------------------------------------------------------------------
// SQLite

fn read_sqlite(conn: &mut dyn Connection) -> DbResult<Catalog> {
    let mut cat = Catalog::default();
    let names: Vec<String> = conn
        .query_rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            &[],
        )?
        .iter()
        .map(|r| text(r, 0))
        .collect();
    for name in names {
        let mut t = Table::default();
        for r in conn.query_rows(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
            &[Value::Text(name.clone())],
        )? {
            t.columns.push(Column {
                name: text(&r, 0),
                data_type: text(&r, 1),
                nullable: int(&r, 2) == 0,
                default: opt_text(&r, 3),
                extra: if int(&r, 4) > 0 {
                    format!("pk{}", int(&r, 4))
                } else {
                    String::new()
                },
            });
        }
        let indexes: Vec<(String, bool, String)> = conn
            .query_rows(
                "SELECT name, \"unique\", origin FROM pragma_index_list(?)",
                &[Value::Text(name.clone())],
            )?
            .iter()
            .map(|r| (text(r, 0), int(r, 1) != 0, text(r, 2)))
            .collect();
        for (iname, unique, origin) in indexes {
            let columns = conn
                .query_rows(
                    "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                    &[Value::Text(iname.clone())],
                )?
                .iter()
                .map(|r| text(r, 0))
                .collect();
            t.indexes.insert(
                iname,
                Index {
                    columns,
                    unique,
                    primary: origin == "pk",
                },
            );
        }
        let mut fks: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for r in conn.query_rows(
            "SELECT id, \"table\", \"from\", \"to\", on_delete, on_update FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            &[Value::Text(name.clone())],
        )? {
            let fk = fks.entry(int(&r, 0)).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                ref_table: text(&r, 1),
                ref_columns: Vec::new(),
                on_delete: text(&r, 4),
                on_update: text(&r, 5),
            });
            fk.columns.push(text(&r, 2));
            fk.ref_columns.push(text(&r, 3));
        }
        for fk in fks.into_values() {
            // SQLite's foreign keys have no name: key them by what they link.
            let key = format!(
                "({}) -> {}({})",
                fk.columns.join(","),
                fk.ref_table,
                fk.ref_columns.join(",")
            );
            t.foreign_keys.insert(key, fk);
        }
        cat.tables.insert(name, t);
    }
    Ok(cat)
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

const PG_SCHEMA: &str = "n.nspname = current_schema()";

fn pg_action(code: &str) -> String {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        other => other,
    }
    .to_string()
}

fn read_postgres(conn: &mut dyn Connection) -> DbResult<Catalog> {
    let mut cat = Catalog::default();
    for r in conn.query_rows(
        &format!(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {PG_SCHEMA} AND c.relkind IN ('r', 'p') ORDER BY 1"
        ),
        &[],
    )? {
        cat.tables.insert(text(&r, 0), Table::default());
    }
    for r in conn.query_rows(
        &format!(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
             CASE WHEN a.attnotnull THEN 1 ELSE 0 END, pg_get_expr(d.adbin, d.adrelid), \
             a.attidentity::text \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE {PG_SCHEMA} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY c.relname, a.attnum"
        ),
        &[],
    )? {
        if let Some(t) = cat.tables.get_mut(&text(&r, 0)) {
            t.columns.push(Column {
                name: text(&r, 1),
                data_type: text(&r, 2),
                nullable: int(&r, 3) == 0,
                default: opt_text(&r, 4),
                extra: text(&r, 5),
            });
        }
    }
    for r in conn.query_rows(
        &format!(
            "SELECT t.relname::text, i.relname::text, \
             CASE WHEN x.indisunique THEN 1 ELSE 0 END, CASE WHEN x.indisprimary THEN 1 ELSE 0 END, \
             array_to_string(ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) \
               FROM generate_series(1, x.indnatts) k ORDER BY k), ','), \
             am.amname::text \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am am ON am.oid = i.relam \
             JOIN pg_namespace n ON n.oid = t.relnamespace WHERE {PG_SCHEMA}"
        ),
        &[],
    )? {
        if let Some(t) = cat.tables.get_mut(&text(&r, 0)) {
            let mut columns = split_list(&text(&r, 4));
            if text(&r, 5) != "btree" {
                columns.insert(0, format!("using {}", text(&r, 5)));
            }
            t.indexes.insert(
                text(&r, 1),
                Index {
                    columns,
                    unique: int(&r, 2) != 0,
                    primary: int(&r, 3) != 0,
                },
            );
        }
    }
    for r in conn.query_rows(
        &format!(
            "SELECT c.relname::text, co.conname::text, co.contype::text, pg_get_constraintdef(co.oid), \
             rc.relname::text, \
             (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) FROM unnest(co.conkey) WITH ORDINALITY k(att, n) \
               JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.att), \
             (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) FROM unnest(co.confkey) WITH ORDINALITY k(att, n) \
               JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.att), \
             co.confdeltype::text, co.confupdtype::text \
             FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_class rc ON rc.oid = co.confrelid \
             WHERE {PG_SCHEMA} AND co.contype IN ('p', 'u', 'c', 'f', 'x')"
        ),
        &[],
    )? {
        let Some(t) = cat.tables.get_mut(&text(&r, 0)) else {
            continue;
        };
        if text(&r, 2) == "f" {
            t.foreign_keys.insert(
                text(&r, 1),
                ForeignKey {
                    columns: split_list(&text(&r, 5)),
                    ref_table: text(&r, 4),
                    ref_columns: split_list(&text(&r, 6)),
                    on_delete: pg_action(&text(&r, 7)),
                    on_update: pg_action(&text(&r, 8)),
                },
            );
        } else {
            t.constraints.insert(text(&r, 1), text(&r, 3));
        }
    }
    for r in conn.query_rows(
        &format!(
            "SELECT c.relname::text, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
             s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN 1 ELSE 0 END \
             FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {PG_SCHEMA}"
        ),
        &[],
    )? {
        cat.sequences.insert(
            text(&r, 0),
            Sequence {
                data_type: text(&r, 1),
                start: int(&r, 2),
                increment: int(&r, 3),
                min: int(&r, 4),
                max: int(&r, 5),
                cache: int(&r, 6),
                cycle: int(&r, 7) != 0,
            },
        );
    }
    Ok(cat)
}

// ---------------------------------------------------------------------------------------
// MySQL / MariaDB

fn read_mysql(conn: &mut dyn Connection) -> DbResult<Catalog> {
    let mut cat = Catalog::default();
    let mut sequence_names = Vec::new();
    for r in conn.query_rows(
        "SELECT TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, ''), COALESCE(TABLE_COLLATION, '') \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
        &[],
    )? {
        match text(&r, 1).as_str() {
            "BASE TABLE" => {
                cat.tables.insert(
                    text(&r, 0),
                    Table {
                        options: format!("ENGINE={} COLLATE={}", text(&r, 2), text(&r, 3)),
                        ..Default::default()
                    },
                );
            }
            "SEQUENCE" => sequence_names.push(text(&r, 0)),
            _ => {}
        }
    }
    for r in conn.query_rows(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
         COALESCE(COLLATION_NAME, '') FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
        &[],
    )? {
        if let Some(t) = cat.tables.get_mut(&text(&r, 0)) {
            let collation = text(&r, 6);
            t.columns.push(Column {
                name: text(&r, 1),
                data_type: if collation.is_empty() {
                    text(&r, 2)
                } else {
                    format!("{} COLLATE {collation}", text(&r, 2))
                },
                nullable: text(&r, 3) == "YES",
                default: opt_text(&r, 4),
                extra: text(&r, 5).to_ascii_lowercase(),
            });
        }
    }
    for r in conn.query_rows(
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, COALESCE(SUB_PART, 0) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        &[],
    )? {
        if let Some(t) = cat.tables.get_mut(&text(&r, 0)) {
            let name = text(&r, 1);
            let ix = t.indexes.entry(name.clone()).or_insert_with(|| Index {
                columns: Vec::new(),
                unique: int(&r, 2) == 0,
                primary: name == "PRIMARY",
            });
            let part = int(&r, 4);
            ix.columns.push(if part > 0 {
                format!("{}({part})", text(&r, 3))
            } else {
                text(&r, 3)
            });
        }
    }
    for r in conn.query_rows(
        "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, \
         k.REFERENCED_COLUMN_NAME, r.DELETE_RULE, r.UPDATE_RULE \
         FROM information_schema.KEY_COLUMN_USAGE k \
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
           ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
          AND r.TABLE_NAME = k.TABLE_NAME \
         WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        &[],
    )? {
        if let Some(t) = cat.tables.get_mut(&text(&r, 0)) {
            let fk = t
                .foreign_keys
                .entry(text(&r, 1))
                .or_insert_with(|| ForeignKey {
                    columns: Vec::new(),
                    ref_table: text(&r, 3),
                    ref_columns: Vec::new(),
                    on_delete: text(&r, 5),
                    on_update: text(&r, 6),
                });
            fk.columns.push(text(&r, 2));
            fk.ref_columns.push(text(&r, 4));
        }
    }
    // MariaDB names column checks after their column, so names repeat across tables: its
    // CHECK_CONSTRAINTS has the table; MySQL 8's does not and needs TABLE_CONSTRAINTS.
    let mariadb = super::schema::Flavour::detect(conn)? == super::schema::Flavour::Mariadb;
    let checks = if mariadb {
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = DATABASE()"
    } else {
        "SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE \
         FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.CHECK_CONSTRAINTS cc \
           ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME \
         WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'"
    };
    for r in conn.query_rows(checks, &[])? {
        if let Some(t) = cat.tables.get_mut(&text(&r, 0)) {
            t.constraints.insert(text(&r, 1), text(&r, 2));
        }
    }
    for name in sequence_names {
        // Reading a MariaDB sequence as a table shows its parameters and does not advance it.
        let sql = format!(
            "SELECT start_value, increment, minimum_value, maximum_value, cache_size, cycle_option FROM {}",
            Dialect::Mysql.quote(&name)
        );
        if let Some(r) = conn.query_rows(&sql, &[])?.first() {
            cat.sequences.insert(
                name,
                Sequence {
                    data_type: String::new(),
                    start: int(r, 0),
                    increment: int(r, 1),
                    min: int(r, 2),
                    max: int(r, 3),
                    cache: int(r, 4),
                    cycle: int(r, 5) != 0,
                },
            );
        }
    }
    Ok(cat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::Flavour;
    use crate::db::test_support::opts;

    fn memory() -> Box<dyn Connection> {
        let url = crate::dburl::DbUrl::parse("sqlite://").unwrap();
        crate::db::open(&url, &opts()).unwrap()
    }

    #[test]
    fn sqlite_catalogue_of_the_known_schema() {
        let mut c = memory();
        c.execute_batch(Flavour::Sqlite.ddl()).unwrap();
        let cat = Catalog::read(c.as_mut()).unwrap();
        assert_eq!(cat.tables.len(), 68);
        let tr = &cat.tables["tokenrealm"];
        assert_eq!(tr.foreign_keys.len(), 2);
        let fk = tr
            .foreign_keys
            .values()
            .find(|f| f.ref_table == "token")
            .unwrap();
        assert_eq!(fk.columns, ["token_id"]);
        assert!(tr
            .indexes
            .values()
            .any(|i| i.unique && i.columns == ["token_id", "realm_id"]));
        let id = &cat.tables["challenge"].columns[0];
        assert_eq!((id.name.as_str(), id.nullable), ("id", false));
        // The names parsed from the DDL are the names the catalogue shows.
        let missing = Flavour::Sqlite.known().shape.missing_in(&cat.shape());
        assert!(missing.is_empty(), "{missing:?}");
        assert_eq!(cat.shape(), Flavour::Sqlite.known().shape);
    }

    #[test]
    fn differences_name_what_differs() {
        let mut c = memory();
        c.execute_batch(Flavour::Sqlite.ddl()).unwrap();
        let a = Catalog::read(c.as_mut()).unwrap();
        c.execute_batch(
            "DROP INDEX ix_token_serial; CREATE INDEX ix_token_serial ON token (serial)",
        )
        .unwrap();
        let b = Catalog::read(c.as_mut()).unwrap();
        let d = a.differences(&b);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("token: index ix_token_serial"), "{d:?}");
    }
}
