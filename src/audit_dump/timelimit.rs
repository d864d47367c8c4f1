//! `--timelimit` as privacyIDEA parses it (`lib/utils.parse_timedelta`):
//! `^\s*([+-]?)\s*(\d+)\s*([smhdy])\s*$` with `y` = 365 days, and the cut-off
//! `now_local - delta` that `_create_filter` applies (`if timelimit:`, so a zero delta
//! filters nothing).

use chrono::{NaiveDateTime, TimeDelta};

use crate::policy::model::py_isspace;

/// A parsed `DELTA`, in seconds (negative for `-5d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timelimit {
    pub seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimelimitError {
    /// privacyIDEA's message, wrapped by click into `Invalid value for '-t' / '--timelimit'`.
    #[error("Could not parse timelimit ({text}): Unsupported timedelta '{text}'")]
    Unsupported { text: String },
    /// privacyIDEA ends with an `OverflowError` traceback here.
    #[error("timelimit {text} is out of range")]
    OutOfRange { text: String },
}

impl Timelimit {
    /// Parse `DELTA`. Python's `$` also matches before one trailing newline. Only ASCII digits
    /// are taken (Python's `\d` would also take other Unicode decimal digits).
    pub fn parse(text: &str) -> Result<Timelimit, TimelimitError> {
        let unsupported = || TimelimitError::Unsupported {
            text: text.to_string(),
        };
        let body = text.strip_suffix('\n').unwrap_or(text);
        let s = body.trim_start_matches(py_isspace);
        let (negative, s) = match s.strip_prefix(['+', '-']) {
            Some(rest) => (s.starts_with('-'), rest.trim_start_matches(py_isspace)),
            None => (false, s),
        };
        let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, rest) = s.split_at(digits_end);
        let rest = rest.trim_start_matches(py_isspace);
        let mut chars = rest.chars();
        let unit = chars.next().ok_or_else(unsupported)?;
        if digits.is_empty() || !chars.as_str().chars().all(py_isspace) {
            return Err(unsupported());
        }
        let per_unit: i64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'y' => 365 * 86_400,
            _ => return Err(unsupported()),
        };
        // Python's timedelta allows at most 999999999 days.
        let out_of_range = || TimelimitError::OutOfRange {
            text: text.to_string(),
        };
        let count: i64 = digits.parse().map_err(|_| out_of_range())?;
        let seconds = count.checked_mul(per_unit).ok_or_else(out_of_range)?;
        if seconds / 86_400 > 999_999_999 {
            return Err(out_of_range());
        }
        Ok(Timelimit {
            seconds: if negative { -seconds } else { seconds },
        })
    }

    /// The `date >=` bound for "now" in local time; `None` for a zero delta (no filter, as
    /// privacyIDEA's `if timelimit:`). Out of range where Python's datetime would overflow.
    pub fn cutoff(self, now_local: NaiveDateTime) -> Result<Option<NaiveDateTime>, TimelimitError> {
        if self.seconds == 0 {
            return Ok(None);
        }
        let bound = now_local
            .checked_sub_signed(TimeDelta::seconds(self.seconds))
            .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
            .ok_or_else(|| TimelimitError::OutOfRange {
                text: format!("{}s", self.seconds),
            })?;
        Ok(Some(bound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_parse_timedelta() {
        for (text, secs) in [
            ("5d", 5 * 86_400),
            ("3h", 10_800),
            ("30m", 1_800),
            ("10s", 10),
            ("1y", 365 * 86_400),
            (" + 2 h ", 7_200),
            ("-1d", -86_400),
            ("0d", 0),
            ("7d\n", 7 * 86_400),
            ("1d\n\n", 86_400),
        ] {
            assert_eq!(Timelimit::parse(text).unwrap().seconds, secs, "{text:?}");
        }
        for bad in ["3x", "", "d", "1.5d", "1dd", "--1d", "1 d x", "5D"] {
            assert_eq!(
                Timelimit::parse(bad),
                Err(TimelimitError::Unsupported { text: bad.into() }),
                "{bad:?}"
            );
        }
        assert_eq!(
            Timelimit::parse("3x").unwrap_err().to_string(),
            "Could not parse timelimit (3x): Unsupported timedelta '3x'"
        );
        assert!(matches!(
            Timelimit::parse("10000000000d"),
            Err(TimelimitError::OutOfRange { .. })
        ));
    }

    #[test]
    fn cutoff_is_now_minus_delta_and_zero_is_no_filter() {
        let now = crate::db::Value::Text("2026-11-22 12:00:00.5".into())
            .as_datetime()
            .unwrap();
        let t = Timelimit::parse("1d").unwrap();
        assert_eq!(
            crate::pytext::datetime_str(&t.cutoff(now).unwrap().unwrap()),
            "2026-11-21 12:00:00.500000"
        );
        assert_eq!(Timelimit::parse("0s").unwrap().cutoff(now).unwrap(), None);
        assert!(Timelimit::parse("100000y").unwrap().cutoff(now).is_err());
    }
}
