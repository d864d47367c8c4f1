//! The check every task that writes runs first: the privacyIDEA tables it needs exist, and
//! if not, one clear error naming all that are missing (instead of the raw SQL error of the
//! first statement that hits one).

use super::TaskError;
use crate::db::Connection;

/// Fail with a message naming every table of `tables` the database lacks.
pub fn require_tables(conn: &mut dyn Connection, tables: &[&str]) -> Result<(), TaskError> {
    let mut missing = Vec::new();
    for t in tables {
        if !conn.table_exists(t)? {
            missing.push(*t);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let (noun, list) = if missing.len() == 1 {
        ("table", missing[0].to_string())
    } else {
        ("tables", missing.join(", "))
    };
    Err(TaskError::Database(format!(
        "{} lacks privacyIDEA's {noun} {list}: is this privacyIDEA's database? 'pi-manage setup create_tables' creates missing tables; 'pi-manage db check' lists everything that is missing.",
        conn.target()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::Flavour;

    #[test]
    fn names_every_missing_table() {
        let url = crate::dburl::DbUrl::parse("sqlite://").unwrap();
        let mut c = crate::db::open(&url, &Default::default()).unwrap();
        c.execute_batch(Flavour::Sqlite.ddl()).unwrap();
        c.execute_batch("DROP TABLE policycondition; DROP TABLE description")
            .unwrap();
        assert!(require_tables(c.as_mut(), &["policy", "config"]).is_ok());
        let e = require_tables(
            c.as_mut(),
            &["policy", "policycondition", "description", "config"],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "sqlite (in memory) lacks privacyIDEA's tables policycondition, description: is this privacyIDEA's database? 'pi-manage setup create_tables' creates missing tables; 'pi-manage db check' lists everything that is missing.");
        let e = require_tables(c.as_mut(), &["description"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("lacks privacyIDEA's table description:"), "{e}");
    }
}
