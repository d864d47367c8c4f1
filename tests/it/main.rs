//! Integration tests: one binary. The task suites run on every configured database backend
//! (see `harness`); CLI tests run the built binary.

// Test and benchmark programs print their own results (the program itself never does; see
// clippy.toml).
#![allow(clippy::disallowed_macros)]

mod harness;

mod admins;
mod audit_dump;
mod audit_rotate;
mod audit_verify;
mod backup;
mod challenge_cleanup;
mod cleanups;
mod cleanups_cli;
mod cli;
mod cli_keys;
mod closed_output;
mod concurrency;
mod create_tables;
mod db_cli;
mod galera;
mod hostile;
mod jobs;
mod keys;
mod picfg;
mod policies;
mod policies_cli;
mod refused_values;
mod scheduler;
mod schema;
mod script_output;
mod tls;
mod tls_servers;
mod validation;
