//! Integration tests: one binary. The task suites run on every configured database backend
//! (see `harness`); CLI tests run the built binary.

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
mod concurrency;
mod create_tables;
mod db_cli;
mod galera;
mod jobs;
mod keys;
mod periodic;
mod picfg;
mod policies;
mod policies_cli;
mod scheduler;
mod schema;
mod tls;
mod tls_servers;
mod validation;
