//! pi-manage: declarative maintenance for privacyIDEA databases.
//!
//! The binary (`src/main.rs`) is a thin shell around [`app::run`]; everything else lives in
//! this library so integration tests and benchmarks use the same code.

// Tests may print freely; the program itself never uses println! (see clippy.toml).
#![cfg_attr(test, allow(clippy::disallowed_macros))]

pub mod app;
pub mod archive;
pub mod audit_dump;
pub mod backup;
pub mod cli;
pub mod cli_docs;
pub mod clock;
pub mod commands;
pub mod crypto;
pub mod db;
pub mod dbtls;
pub mod dburl;
pub mod executor;
pub mod input_file;
pub mod interrupt;
pub mod job;
pub mod periodic;
pub mod picfg;
pub mod policy;
pub mod pytext;
pub mod report;
pub mod schedule_log;
pub mod scheduler;
pub mod secret;
pub mod secret_input;
pub mod settings;
pub mod tasks;
