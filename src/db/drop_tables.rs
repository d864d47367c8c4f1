//! `setup drop_tables`: drop privacyIDEA's tables and sequences, as privacyIDEA's
//! `drop_all` plus its drop of `alembic_version` does. Only the objects of the known schema
//! are dropped (pi-manage's own ledger tables and anything else stay), dependents first.

use std::collections::BTreeSet;

use super::catalog::Catalog;
use super::schema::Flavour;
use super::{Connection, DbResult, Dialect};

/// What was dropped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    pub tables: Vec<String>,
    pub sequences: Vec<String>,
}

/// Drop every table and sequence of privacyIDEA's schema that exists. SQLite and PostgreSQL
/// do it in one transaction; MySQL/MariaDB commit each DROP.
pub fn drop_privacyidea_tables(conn: &mut dyn Connection) -> DbResult<Dropped> {
    let flavour = Flavour::detect(conn)?;
    let known = &flavour.known().shape;
    let live = Catalog::read(conn)?;
    let mut remaining: BTreeSet<String> = known
        .tables
        .keys()
        .filter(|t| live.tables.contains_key(*t))
        .cloned()
        .collect();
    // Drop a table only once no other remaining table references it.
    let mut order = Vec::new();
    while !remaining.is_empty() {
        let free: Vec<String> = remaining
            .iter()
            .filter(|t| {
                !remaining.iter().any(|other| {
                    other != *t
                        && live.tables[other]
                            .foreign_keys
                            .values()
                            .any(|fk| &fk.ref_table == *t)
                })
            })
            .cloned()
            .collect();
        // A reference cycle (not in privacyIDEA's schema): drop the rest in name order and let
        // the server say what holds them.
        let next = if free.is_empty() {
            remaining.iter().cloned().collect()
        } else {
            free
        };
        for t in next {
            remaining.remove(&t);
            order.push(t);
        }
    }
    let sequences: Vec<String> = known
        .sequences
        .iter()
        .filter(|s| live.sequences.contains_key(*s))
        .cloned()
        .collect();
    let d = conn.dialect();
    let transactional = d != Dialect::Mysql;
    if transactional {
        conn.begin()?;
    }
    let result = (|| {
        for t in &order {
            conn.execute_batch(&format!("DROP TABLE {}", d.quote(t)))?;
        }
        for s in &sequences {
            conn.execute_batch(&format!("DROP SEQUENCE IF EXISTS {}", d.quote(s)))?;
        }
        Ok(())
    })();
    match result {
        Ok(()) if transactional => conn.commit()?,
        Ok(()) => {}
        Err(e) => {
            if transactional {
                let _ = conn.rollback();
            }
            return Err(e);
        }
    }
    Ok(Dropped {
        tables: order,
        sequences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_known_tables_and_keeps_others() {
        let url = crate::dburl::DbUrl::parse("sqlite://").unwrap();
        let mut c = crate::db::open(&url, &Default::default()).unwrap();
        c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        c.execute_batch(Flavour::Sqlite.ddl()).unwrap();
        c.execute_batch("CREATE TABLE mine (x INTEGER)").unwrap();
        c.execute_batch("INSERT INTO token (id, serial, active) VALUES (1, 'S1', 1); INSERT INTO tokeninfo (id, token_id, \"Key\", \"Value\") VALUES (1, 1, 'k', 'v')").unwrap();
        let dropped = drop_privacyidea_tables(c.as_mut()).unwrap();
        assert_eq!(dropped.tables.len(), 68);
        let at = |t: &str| dropped.tables.iter().position(|x| x == t).unwrap();
        assert!(at("tokeninfo") < at("token"));
        assert!(at("tokenrealm") < at("realm"));
        let left = Catalog::read(c.as_mut()).unwrap();
        assert_eq!(left.tables.keys().collect::<Vec<_>>(), ["mine"]);
        // Nothing left to drop.
        assert_eq!(
            drop_privacyidea_tables(c.as_mut()).unwrap(),
            Dropped::default()
        );
    }
}
