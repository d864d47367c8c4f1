//! The values that cross the [`Connection`](super::Connection) trait: bind parameters and
//! the cells of result rows, independent of the backend.

use chrono::NaiveDateTime;

/// One bind parameter or result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    /// A naive timestamp. Each driver binds it in the form its backend compares correctly
    /// (SQLite: the text `YYYY-MM-DD HH:MM:SS.ffffff` that SQLAlchemy writes).
    DateTime(NaiveDateTime),
}

/// The text form SQLAlchemy stores naive datetimes in on SQLite: always six fraction digits.
pub const SQLITE_DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            Value::Float(f) => Some(*f as i64),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Null | Value::DateTime(_) => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A timestamp cell, whether the backend returned a typed value or SQLite's text
    /// (with or without fraction, `T` or space separator).
    pub fn as_datetime(&self) -> Option<NaiveDateTime> {
        match self {
            Value::DateTime(dt) => Some(*dt),
            Value::Text(t) => parse_datetime_text(t),
            _ => None,
        }
    }
}

/// Parse the timestamp texts SQLite databases written by privacyIDEA (or by hand) contain.
pub fn parse_datetime_text(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt);
        }
    }
    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// One result row: its cells in select-list order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// The cell at `index`; `Value::Null` past the end, so callers need no bounds dance.
    pub fn get(&self, index: usize) -> &Value {
        const NULL: Value = Value::Null;
        self.0.get(index).unwrap_or(&NULL)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlalchemy_sqlite_text() {
        let dt = parse_datetime_text("2026-11-21 12:09:34.381899").unwrap();
        assert_eq!(
            dt.format(SQLITE_DATETIME_FORMAT).to_string(),
            "2026-11-21 12:09:34.381899"
        );
        assert!(parse_datetime_text("2026-11-21 12:09:34").is_some());
        assert!(parse_datetime_text("2026-11-21T12:09:34.5").is_some());
        assert!(parse_datetime_text("2026-11-21").is_some());
        assert!(parse_datetime_text("yesterday").is_none());
    }
}
