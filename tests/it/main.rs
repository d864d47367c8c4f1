//! Integration tests: one binary. The task suites run on every configured database backend
//! (see `harness`); CLI tests run the built binary.

mod harness;

mod audit_rotate;
mod challenge_cleanup;
mod cli;
mod concurrency;
mod create_tables;
mod jobs;
mod validation;
