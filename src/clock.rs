//! The clock tasks read "now" from. Injectable, so tests fix time instead of sleeping.
//!
//! privacyIDEA stores naive timestamps with a per-table convention (reference/schema.md §7):
//! audit dates in the server's local time, challenge timestamps in UTC. A clock therefore
//! answers both questions.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, Utc};

pub trait Clock: Send + Sync {
    /// Now, as a naive UTC timestamp (challenge, authcache, … columns).
    fn now_utc(&self) -> NaiveDateTime;
    /// Now, as a naive timestamp in the local time zone (audit `date` columns).
    fn now_local(&self) -> NaiveDateTime;
}

/// The real clock; "local" is the process's time zone (`TZ`, `/etc/localtime`), which is
/// what privacyIDEA's `datetime.now()` uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_utc(&self) -> NaiveDateTime {
        Utc::now().naive_utc()
    }
    fn now_local(&self) -> NaiveDateTime {
        Local::now().naive_local()
    }
}

/// A clock stopped at one instant, in a given UTC offset (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock {
    pub at: DateTime<FixedOffset>,
}

impl FixedClock {
    /// `rfc3339` like `2026-11-22T12:00:00+01:00`.
    pub fn at(rfc3339: &str) -> FixedClock {
        FixedClock {
            at: DateTime::parse_from_rfc3339(rfc3339).expect("valid RFC 3339 time"),
        }
    }
}

impl Clock for FixedClock {
    fn now_utc(&self) -> NaiveDateTime {
        self.at.naive_utc()
    }
    fn now_local(&self) -> NaiveDateTime {
        self.at.naive_local()
    }
}

/// Python's `str(datetime)`: `YYYY-MM-DD HH:MM:SS`, plus `.ffffff` only when the microsecond
/// is not zero. privacyIDEA prints cut-off dates this way, and rules mode matches regexes
/// against this form of `date`.
pub fn python_datetime_str(dt: &NaiveDateTime) -> String {
    use chrono::Timelike;
    if dt.nanosecond() / 1000 == 0 {
        dt.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// Python's `datetime.isoformat()`: [`python_datetime_str`] with a `T` (the audit dump).
pub fn python_isoformat(dt: &NaiveDateTime) -> String {
    python_datetime_str(dt).replacen(' ', "T", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_gives_utc_and_local() {
        let c = FixedClock::at("2026-11-22T12:30:00+01:00");
        assert_eq!(python_datetime_str(&c.now_utc()), "2026-11-22 11:30:00");
        assert_eq!(python_datetime_str(&c.now_local()), "2026-11-22 12:30:00");
    }

    #[test]
    fn python_str_drops_zero_fraction() {
        let dt =
            NaiveDateTime::parse_from_str("2026-11-12 12:09:49.225763", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap();
        assert_eq!(python_datetime_str(&dt), "2026-11-12 12:09:49.225763");
    }
}
