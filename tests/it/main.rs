//! Integration tests: one binary. The task suites run on every configured database backend
//! (see `harness`); CLI tests run the built binary.

mod harness;

mod admins;
mod audit_rotate;
mod audit_verify;
mod backup;
mod challenge_cleanup;
mod cli;
mod cli_keys;
mod concurrency;
mod create_tables;
mod galera;
mod jobs;
mod keys;
mod policies;
mod policies_cli;
mod scheduler;
mod validation;
