//! Audit signatures checked on every core, in bounded batches, results in batch order.
//!
//! One RSA-PSS verification costs tens of microseconds, far more than reading the row it
//! belongs to, so checking a large audit table is bound by the CPU. A batch (a page of rows the
//! caller read) is split into one contiguous share per worker thread, and the shares' results
//! are joined back in batch order, so the caller reports failures in the order it read the
//! rows. [`overlapped`] checks one batch while the caller reads the next one from the database,
//! so memory holds at most two batches, whatever the size of the table.
//!
//! Shared by `audit verify` (the `audit_verify` task) and `audit dump`.

use super::audit_sign::{signed_string, AuditRecord, AuditVerifier};

/// The number of worker threads for `threads` (0: one per available core).
pub fn worker_threads(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Whether each entry's signature verifies, in the order of `entries`. `parts` gives an
/// entry's record and signature; an entry without a signature does not verify. The work is
/// split over `threads` worker threads (0: every core; 1: checked on this thread, one after
/// the other).
pub fn verify_batch<T, F>(
    verifier: &AuditVerifier,
    entries: &[T],
    threads: usize,
    parts: F,
) -> Vec<bool>
where
    T: Sync,
    F: Fn(&T) -> (&AuditRecord, Option<&str>) + Sync,
{
    let check = |e: &T| {
        let (record, signature) = parts(e);
        signature.is_some_and(|s| verifier.verify(&signed_string(record), s))
    };
    let threads = worker_threads(threads);
    if threads <= 1 || entries.len() <= 1 {
        return entries.iter().map(check).collect();
    }
    let share = entries.len().div_ceil(threads).max(1);
    let check = &check;
    std::thread::scope(|s| {
        let workers: Vec<_> = entries
            .chunks(share)
            .map(|chunk| s.spawn(move || chunk.iter().map(check).collect::<Vec<bool>>()))
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for w in workers {
            out.extend(w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}

/// Run `check` (the verification of one batch) on a thread of its own while `read` (fetching
/// the next batch from the database) runs on this one; both results. `read` keeps this thread
/// so it can use the caller's database connection.
pub fn overlapped<C, R>(check: impl FnOnce() -> C + Send, read: impl FnOnce() -> R) -> (C, R)
where
    C: Send,
{
    std::thread::scope(|s| {
        let checking = s.spawn(check);
        let read = read();
        let checked = checking
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (checked, read)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::audit_sign::{generate_audit_keys, AuditSigner};

    #[test]
    fn every_thread_count_gives_the_sequential_results_in_order() {
        let (private, _public) = generate_audit_keys(1024).unwrap();
        let signer = AuditSigner::from_private_pem(&private).unwrap();
        let verifier = signer.verifier();
        let entries: Vec<(AuditRecord, Option<String>)> = (1..=23)
            .map(|id| {
                let rec = AuditRecord {
                    id,
                    action: Some(format!("POST /validate/check {id}")),
                    ..Default::default()
                };
                let sig = match id {
                    // unsigned, tampered, and a signature of another row
                    5 => None,
                    9 => Some(signer.sign("id=9,tampered")),
                    17 => Some(signer.sign(&signed_string(&AuditRecord {
                        id: 18,
                        ..rec.clone()
                    }))),
                    _ => Some(signer.sign(&signed_string(&rec))),
                };
                (rec, sig)
            })
            .collect();
        fn parts(e: &(AuditRecord, Option<String>)) -> (&AuditRecord, Option<&str>) {
            (&e.0, e.1.as_deref())
        }
        let sequential = verify_batch(&verifier, &entries, 1, parts);
        let failed: Vec<i64> = entries
            .iter()
            .zip(&sequential)
            .filter(|(_, ok)| !**ok)
            .map(|(e, _)| e.0.id)
            .collect();
        assert_eq!(failed, [5, 9, 17]);
        for threads in [0, 2, 3, 7, 64] {
            assert_eq!(
                verify_batch(&verifier, &entries, threads, parts),
                sequential,
                "{threads} threads"
            );
        }
        assert!(verify_batch(&verifier, &entries[..0], 4, parts).is_empty());
    }

    #[test]
    fn overlapped_returns_both_results() {
        let (a, b) = overlapped(|| 2 + 2, || "read");
        assert_eq!((a, b), (4, "read"));
    }
}
