//! MariaDB Galera specifics of a MySQL-protocol session (privacyIDEA's HA setups run Galera).
//!
//! A Galera node applies the other nodes' committed writesets asynchronously: a read on one
//! node right after a commit through another may not see it yet. Maintenance decides what to
//! delete from what it reads (the watermark's count and last id, the rows a chunk deletes, the
//! run ledger's last slot), so on a Galera node every pi-manage session turns on causal reads
//! (`wsrep_sync_wait`: reads, updates and deletes first wait until the node has applied
//! everything the cluster committed before). Nothing else needs to differ: writes are
//! certified cluster-wide, and a transaction that loses certification fails with a deadlock
//! error (1213), which the chunked delete retries and the run ledger reads as "taken".

use mysql::prelude::Queryable;
use mysql::Conn;

/// `wsrep_sync_wait` bits: 1 = SELECT/SHOW/BEGIN, 2 = UPDATE/DELETE.
const CAUSAL_READS_AND_DELETES: u32 = 1 | 2;

/// Turn on causal reads when the server is an active Galera node and its configuration has
/// not already chosen a `wsrep_sync_wait`. Servers without wsrep (MySQL, plain MariaDB) are
/// left as they are.
pub(super) fn configure_session(conn: &mut Conn) -> mysql::Result<()> {
    // SHOW VARIABLES works on every server; selecting @@wsrep_on fails where it is unknown.
    let vars: Vec<(String, String)> = conn
        .query("SHOW SESSION VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_sync_wait')")?;
    let get = |name: &str| {
        vars.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if !get("wsrep_on").is_some_and(|v| v.eq_ignore_ascii_case("ON")) {
        return Ok(());
    }
    if get("wsrep_sync_wait").is_some_and(|v| v == "0") {
        conn.query_drop(format!(
            "SET SESSION wsrep_sync_wait = {CAUSAL_READS_AND_DELETES}"
        ))?;
    }
    Ok(())
}
