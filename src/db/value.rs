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
    if let Some(dt) = parse_canonical(t.as_bytes()) {
        return Some(dt);
    }
    parse_with_formats(t)
}

/// The form SQLAlchemy writes, `YYYY-MM-DD HH:MM:SS[.f…]` (or with `T`), read digit by digit:
/// every timestamp of a dump or a verification passes here, and chrono's `parse_from_str`
/// re-reads its format string on every call. `None` for anything else, which then goes
/// through chrono ([`parse_with_formats`]), so both give the same value for every text
/// (tested against each other).
fn parse_canonical(b: &[u8]) -> Option<NaiveDateTime> {
    fn digits(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            digits(frac)? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if second > 59 {
        return None; // leap seconds: chrono's own rules
    }
    chrono::NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?
    .and_hms_nano_opt(hour, minute, second, nanos)
}

/// [`parse_datetime_text`] through chrono's formats, for every form but the canonical one.
fn parse_with_formats(t: &str) -> Option<NaiveDateTime> {
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

    /// The digit-by-digit path gives what chrono's formats give, for texts it takes and for
    /// texts it hands on.
    #[test]
    fn canonical_path_agrees_with_chrono() {
        let texts = [
            "2026-11-21 12:09:34.381899",
            "2026-11-21T12:09:34.381899",
            "2026-11-21 12:09:34",
            "2026-11-21 12:09:34.5",
            "2026-11-21 12:09:34.123456789",
            "2026-11-21 12:09:34.1234567890",
            "2026-11-21 12:09:34.",
            "2026-11-21 12:09:34.12a",
            "2024-02-29 00:00:00",
            "2023-02-29 00:00:00",
            "2026-13-01 00:00:00",
            "2026-00-10 00:00:00",
            "2026-11-31 00:00:00",
            "2026-11-21 24:00:00",
            "2026-11-21 23:60:00",
            "2026-11-21 23:59:60",
            "2026-11-21 23:59:60.5",
            "0000-01-01 00:00:00",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
            "2026-1-21 12:09:34",
            "2026-11-21 2:09:34",
            "+2026-11-21 12:09:34",
            "2026-11-21 12:09:34Z",
            "2026-11-21 12:09:34+01:00",
            "2026-11-21 12:09",
            "2026-11-21",
            "2026/11/21 12:09:34",
            "2026-11-21 12:09:3x",
            "２０２６-11-21 12:09:34",
            "",
        ];
        for t in texts {
            assert_eq!(parse_datetime_text(t), parse_with_formats(t), "{t:?}");
        }
        assert!(parse_canonical(b"2026-11-21 12:09:34.381899").is_some());
        assert!(parse_canonical(b"2026-11-21 23:59:60").is_none());
    }
}
