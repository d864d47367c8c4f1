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
mod backup_kill;
mod challenge_cleanup;
mod cleanups;
mod cleanups_cli;
mod cleanups_real;
mod cli;
mod cli_docs;
mod cli_help;
mod cli_keys;
mod closed_output;
mod concurrency;
mod create_tables;
mod db_cli;
// The drivers answer the same questions the same way (server-backed driver tests).
mod driver_conformance;
mod editor;
mod galera;
mod hostile;
mod jobs;
mod keys;
mod outage_servers;
mod package;
mod periodic;
mod periodic_real;
mod picfg;
mod policies;
mod policies_cli;
mod refused_values;
mod scheduler;
mod scheduler_monitoring;
mod scheduler_outage;
mod schema;
mod script_output;
mod systemd_units;
mod task_schedules;
mod tls;
mod tls_servers;
mod unix_sockets;
mod validation;
