//! privacyIDEA policies as code: the policy record and its stored encodings ([`model`]),
//! privacyIDEA's export format and its byte-exact JSON/YAML ([`export`], [`pyjson`],
//! [`pyyaml`]), input documents and entries ([`document`], [`entry`]), the checks privacyIDEA
//! makes before storing a policy ([`validate`]), the database rows ([`rows`]) and the diff of
//! what a run changes ([`diff`]).
//!
//! The commands (`config policy …`, `config export`, `config import`) and the `policies`
//! task kind are built on this module; see docs/policies.md.

pub mod diff;
pub mod document;
pub mod entry;
pub mod export;
pub mod model;
pub mod pyjson;
pub mod pyyaml;
pub mod rows;
pub mod validate;
