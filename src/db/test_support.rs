//! Helpers shared by the server drivers' unit tests: which server to test against (from the
//! environment), connection options, and unique database names.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::OpenOptions;
use crate::dburl::DbUrl;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The admin URL in the environment variable `var`; `None` (the test is skipped) when unset,
/// except under `CI=true`, where a missing server configuration is a failure.
pub fn admin_url(var: &str, test: &str) -> Option<DbUrl> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => {
            Some(DbUrl::parse(&u).unwrap_or_else(|e| panic!("{var}: {e}")))
        }
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{test}: {var} is not set (required when CI=true)");
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
