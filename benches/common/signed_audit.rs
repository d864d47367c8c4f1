//! Audit rows whose signatures each cost a full RSA check, shared by the `verify` and
//! `maintenance` (`audit_dump_signed`) benchmarks.
//!
//! Signing 10^6 rows would take longer than a benchmark, so the first [`POOL`] rows carry
//! their own valid signature and every later row the valid signature of one of those:
//! checking it costs exactly as much as checking its own (the RSA operation, the PSS decoding
//! and the hash all run; only the final comparison differs), and it fails. A check therefore
//! finds exactly [`POOL`] good rows.

use pi_manage::crypto::audit_sign::{signed_string, AuditRecord, AuditSigner};

/// Rows with a signature of their own.
pub const POOL: i64 = 1000;
/// Every row's `date`.
pub const DATE: &str = "2026-11-22 10:00:00.123456";

/// The record pi-manage reads back for a row stored by [`fill`] (the other columns NULL).
fn record(id: i64) -> AuditRecord {
    AuditRecord {
        id,
        date: chrono::NaiveDateTime::parse_from_str(DATE, "%Y-%m-%d %H:%M:%S%.f").ok(),
        action: Some("POST /validate/check".into()),
        success: Some(1),
        serial: Some("HOTP0001".into()),
        user: Some("alice".into()),
        realm: Some("realm1".into()),
        ..Default::default()
    }
}

/// Insert `rows` audit rows with ids 1..=rows into an existing `pidea_audit` (inside the
/// caller's transaction); `rows` must be at least [`POOL`].
pub fn fill(c: &rusqlite::Connection, rows: i64, signer: &AuditSigner) -> rusqlite::Result<()> {
    assert!(rows >= POOL, "at least {POOL} rows");
    c.execute_batch("CREATE TEMP TABLE pool (k INTEGER PRIMARY KEY, sig TEXT)")?;
    {
        let mut ins = c.prepare("INSERT INTO pool VALUES (?1, ?2)")?;
        for id in 1..=POOL {
            ins.execute(rusqlite::params![
                id,
                signer.sign(&signed_string(&record(id)))
            ])?;
        }
    }
    c.execute(
        &format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) \
             INSERT INTO pidea_audit (id, date, action, success, serial, \"user\", realm, signature) \
             SELECT x, '{DATE}', 'POST /validate/check', 1, 'HOTP0001', 'alice', 'realm1', \
             (SELECT sig FROM pool WHERE k = ((x - 1) % {POOL}) + 1) FROM c"
        ),
        [],
    )?;
    c.execute_batch("DROP TABLE temp.pool")
}
