//! One audit entry as read for the dump: the values `audit_entry_to_dict` writes, each already
//! in Python's `str()` form, and the record its signature is checked against.

use chrono::{NaiveDateTime, TimeDelta};

use crate::crypto::audit_sign::{duration_since_epoch, AuditRecord};
use crate::db::{Row, Value};
use crate::pytext::{datetime_str, float_repr, isoformat};

/// An entry of one round.
#[derive(Debug)]
pub struct Entry {
    pub id: i64,
    pub record: AuditRecord,
    pub signature: Option<String>,
    /// The 23 values after `number, date, sig_check, missing_line`, `str()`-ed.
    pub rest: Vec<String>,
    pub date: String,
}

const NONE: &str = "None";

/// Python's `str()` of a cell as SQLAlchemy returns it.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(t) => Some(t.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(float_repr(*f)),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Value::DateTime(d) => Some(datetime_str(d)),
    }
}

/// The interval in `duration`: an epoch-based datetime (SQLite, MySQL), or seconds
/// (PostgreSQL, read as `EXTRACT(EPOCH FROM duration)`).
fn duration(v: &Value) -> Option<TimeDelta> {
    match v {
        Value::Null => None,
        Value::Float(secs) => Some(TimeDelta::microseconds((secs * 1e6).round() as i64)),
        Value::Int(secs) => Some(TimeDelta::seconds(*secs)),
        Value::Text(t) => match t.trim().parse::<f64>() {
            Ok(secs) => Some(TimeDelta::microseconds((secs * 1e6).round() as i64)),
            Err(_) => v.as_datetime().map(duration_since_epoch),
        },
        other => other.as_datetime().map(duration_since_epoch),
    }
}

/// `duration.total_seconds()` (microseconds / 10**6, correctly rounded like Python's int
/// division), or `None` for NULL and for a zero duration (falsy in Python).
fn total_seconds(d: Option<TimeDelta>) -> String {
    match d.and_then(|d| d.num_microseconds()) {
        None | Some(0) => NONE.into(),
        Some(us) => float_repr(us as f64 / 1e6),
    }
}

/// `date.isoformat()`; `None` for a NULL date (privacyIDEA fails there); a stored text that
/// is no timestamp as it is.
fn iso(v: &Value, parsed: Option<NaiveDateTime>) -> String {
    match (parsed, v) {
        (Some(d), _) => isoformat(&d),
        (None, Value::Null) => NONE.into(),
        (None, other) => text(other).unwrap_or_else(|| NONE.into()),
    }
}

impl Entry {
    /// Build from a row read with [`super::reader::COLUMNS`].
    pub fn from_row(row: &Row) -> Entry {
        let t = |i: usize| text(row.get(i));
        let date = row.get(1).as_datetime();
        let startdate = row.get(23).as_datetime();
        let dur = duration(row.get(24));
        let record = AuditRecord {
            id: row.get(0).as_i64().unwrap_or_default(),
            date,
            action: t(3),
            success: row.get(5).as_i64(),
            serial: t(6),
            token_type: t(7),
            user: t(10),
            realm: t(11),
            administrator: t(13),
            action_detail: t(14),
            info: t(15),
            privacyidea_server: t(16),
            client: t(18),
            loglevel: t(21),
            clearance_level: t(22),
            startdate,
            duration: dur,
            container_serial: t(8),
            container_type: t(9),
        };
        let mut rest: Vec<String> = (3..=22)
            .map(|i| t(i).unwrap_or_else(|| NONE.into()))
            .collect();
        rest.push(if row.get(23).is_null() {
            NONE.into()
        } else {
            iso(row.get(23), startdate)
        });
        rest.push(total_seconds(dur));
        rest.push(t(25).unwrap_or_else(|| NONE.into()));
        Entry {
            id: record.id,
            date: iso(row.get(1), date),
            signature: t(2),
            record,
            rest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_seconds_like_python() {
        let us = |n| Some(TimeDelta::microseconds(n));
        assert_eq!(total_seconds(us(200_327)), "0.200327");
        assert_eq!(total_seconds(us(1)), "1e-06");
        assert_eq!(total_seconds(us(3_600_000_000)), "3600.0");
        assert_eq!(total_seconds(us(176_400_000_001)), "176400.000001");
        assert_eq!(total_seconds(us(-1_050_807_810_328)), "-1050807.810328");
        assert_eq!(total_seconds(us(0)), "None");
        assert_eq!(total_seconds(None), "None");
    }
}
