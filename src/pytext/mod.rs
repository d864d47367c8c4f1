//! Python's text forms, in one place: `repr()` of strings, bytes and floats, and `str()` /
//! `isoformat()` of `datetime` and `timedelta`. privacyIDEA prints these forms in its
//! messages, matches rule regexes against them and signs them, so pi-manage must produce them
//! byte for byte; every caller in the crate goes through this module rather than keeping its
//! own copy.
//!
//! The unit tests compare with what CPython 3.11 prints for the same values.

mod datetime;
mod repr;

pub use datetime::{datetime_str, isoformat, timedelta_str, timedelta_str_micros};
pub use repr::{bytes_repr, float_repr, str_repr};
