//! pi-manage: declarative maintenance for privacyIDEA databases.
//!
//! The binary (`src/main.rs`) is a thin shell around [`app::run`]; everything else lives in
//! this library so integration tests and benchmarks use the same code.

pub mod db;
pub mod dburl;
pub mod interrupt;
pub mod secret;
