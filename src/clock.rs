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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pytext::datetime_str;

    #[test]
    fn fixed_clock_gives_utc_and_local() {
        let c = FixedClock::at("2026-11-22T12:30:00+01:00");
        assert_eq!(datetime_str(&c.now_utc()), "2026-11-22 11:30:00");
        assert_eq!(datetime_str(&c.now_local()), "2026-11-22 12:30:00");
    }
}
