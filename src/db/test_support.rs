//! Helpers shared by the server drivers' unit tests: which server to test against (from the
//! environment), connection options, and unique database names.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::OpenOptions;
use crate::dburl::DbUrl;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Whether the tests run under CI (`CI=true` or `CI=1`, as the integration harness reads it):
/// then a test that cannot run fails instead of being skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The admin URL in the environment variable `var`; `None` (the test is skipped) when unset,
/// except under CI (`CI=true` or `CI=1`), where a missing server configuration is a failure.
pub fn admin_url(var: &str, test: &str) -> Option<DbUrl> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => {
            Some(DbUrl::parse(&u).unwrap_or_else(|e| panic!("{var}: {e}")))
        }
        _ => {
            if in_ci() {
                panic!("{test}: {var} is not set (required under CI)");
            }
            eprintln!("{test}: skipped, {var} is not set");
            None
        }
    }
}

/// Options for test connections: fail fast when a server is unreachable.
pub fn opts() -> OpenOptions {
    OpenOptions {
        connect_timeout: Duration::from_secs(5),
        ..OpenOptions::default()
    }
}

/// A name no other test (or concurrent test run) uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Wait until `done` holds, polling; fail naming `what` after a deadline meant for a very slow
/// machine (never a measure of speed). For a test that needs another session to have reached
/// a state — blocked on a lock — before it goes on, instead of sleeping and hoping it has.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
