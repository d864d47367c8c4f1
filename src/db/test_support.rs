//! Helpers shared by the drivers' unit tests. Tests that need a database server live in the
//! integration suite (tests/it/driver_conformance.rs), whose harness creates and drops the
//! test databases; what stays here needs no server.

use std::time::Duration;

use super::OpenOptions;

/// Options for test connections: fail fast when a server is unreachable.
pub fn opts() -> OpenOptions {
    OpenOptions {
        connect_timeout: Duration::from_secs(5),
        ..OpenOptions::default()
    }
}
