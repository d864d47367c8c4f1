//! Python's `str()` and `isoformat()` of a naive `datetime`, and `str()` of a `timedelta`.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};

/// Python's `str(datetime)`: `YYYY-MM-DD HH:MM:SS`, plus `.ffffff` only when the microsecond
/// is not zero. privacyIDEA prints cut-off dates this way, signs audit rows over it, and rules
/// mode matches regexes against this form of `date`.
pub fn datetime_str(dt: &NaiveDateTime) -> String {
    with_separator(dt, ' ')
}

/// Python's `datetime.isoformat()`: [`datetime_str`] with a `T` between date and time.
pub fn isoformat(dt: &NaiveDateTime) -> String {
    with_separator(dt, 'T')
}

fn with_separator(dt: &NaiveDateTime, sep: char) -> String {
    // chrono keeps a leap second as nanosecond ≥ 1e9; Python has none, so it is folded away.
    let micros = (dt.nanosecond() / 1000) % 1_000_000;
    let mut out = String::with_capacity(26);
    // Written field by field: a dump formats two dates per entry, and chrono's `format`
    // re-reads its format string on every call. Years outside 0..=9999 (which Python cannot
    // hold) keep chrono's `%Y`, sign and all.
    if (0..=9999).contains(&dt.year()) {
        let _ = write!(out, "{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day());
    } else {
        let _ = write!(out, "{}", dt.format("%Y-%m-%d"));
    }
    out.push(sep);
    // A leap second prints as 60, as chrono's `%S` does.
    let second = dt.second() + u32::from(dt.nanosecond() >= 1_000_000_000);
    let _ = write!(out, "{:02}:{:02}:{second:02}", dt.hour(), dt.minute());
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out
}

/// Python's `str(timedelta)`: `[-]D day[s], H:MM:SS[.ffffff]`, the day count omitted when
/// zero; negative durations are a negative day count plus a positive time of day.
pub fn timedelta_str(delta: TimeDelta) -> String {
    let micros =
        i128::from(delta.num_seconds()) * 1_000_000 + i128::from(delta.subsec_nanos() / 1000);
    timedelta_str_micros(micros)
}

/// [`timedelta_str`] of a total in microseconds (wide enough for PostgreSQL intervals).
pub fn timedelta_str_micros(total: i128) -> String {
    const DAY: i128 = 86_400_000_000;
    let days = total.div_euclid(DAY);
    let rest = total.rem_euclid(DAY);
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let mut out = String::new();
    if days != 0 {
        let plural = if days.abs() == 1 { "" } else { "s" };
        let _ = write!(out, "{days} day{plural}, ");
    }
    let _ = write!(
        out,
        "{}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text before it was written field by field, through chrono's `format`.
    fn with_chrono(dt: &NaiveDateTime, sep: char) -> String {
        let micros = (dt.nanosecond() / 1000) % 1_000_000;
        let mut out = dt.format("%Y-%m-%d").to_string();
        out.push(sep);
        let _ = write!(out, "{}", dt.format("%H:%M:%S"));
        if micros != 0 {
            let _ = write!(out, ".{micros:06}");
        }
        out
    }

    #[test]
    fn field_by_field_text_is_chronos() {
        let at = |y, mo, d, h, mi, s, nano| {
            chrono::NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_nano_opt(h, mi, s, nano)
                .unwrap()
        };
        for dt in [
            at(2026, 11, 21, 12, 9, 34, 381_899_000),
            at(2026, 1, 2, 3, 4, 5, 0),
            at(2026, 1, 2, 3, 4, 5, 999),
            at(2016, 12, 31, 23, 59, 59, 1_000_000_000),
            at(2016, 12, 31, 23, 59, 59, 1_500_000_000),
            at(0, 1, 1, 0, 0, 0, 0),
            at(9999, 12, 31, 23, 59, 59, 999_999_000),
            at(10_000, 1, 1, 0, 0, 0, 0),
            at(-1, 12, 31, 0, 0, 0, 1000),
        ] {
            for sep in [' ', 'T'] {
                assert_eq!(with_separator(&dt, sep), with_chrono(&dt, sep), "{dt:?}");
            }
        }
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    /// Expected texts are CPython 3.11's `str()` / `isoformat()` of the same values.
    #[test]
    fn datetime_text_matches_python() {
        assert_eq!(
            datetime_str(&dt("2026-11-12 12:09:49")),
            "2026-11-12 12:09:49"
        );
        assert_eq!(
            datetime_str(&dt("2026-11-12 12:09:49.000000")),
            "2026-11-12 12:09:49"
        );
        assert_eq!(
            datetime_str(&dt("2026-11-12 12:09:49.225763")),
            "2026-11-12 12:09:49.225763"
        );
        assert_eq!(
            isoformat(&dt("2026-01-02 03:04:05.00001")),
            "2026-01-02T03:04:05.000010"
        );
        assert_eq!(isoformat(&dt("0001-01-01 00:00:00")), "0001-01-01T00:00:00");
        assert_eq!(
            datetime_str(&dt("0999-01-02 03:04:05.5")),
            "0999-01-02 03:04:05.500000"
        );
        // Nanoseconds below a microsecond are dropped, as the database never has them.
        assert_eq!(
            datetime_str(&dt("2026-11-12 12:09:49.000000999")),
            "2026-11-12 12:09:49"
        );
    }

    #[test]
    fn timedelta_text_matches_python() {
        let us = |n: i64| timedelta_str(TimeDelta::microseconds(n));
        let s = |n: i64| timedelta_str(TimeDelta::seconds(n));
        assert_eq!(s(0), "0:00:00");
        assert_eq!(s(5), "0:00:05");
        assert_eq!(s(86_400), "1 day, 0:00:00");
        assert_eq!(
            us((2 * 86_400 + 3661) * 1_000_000 + 7),
            "2 days, 1:01:01.000007"
        );
        assert_eq!(s(-86_400 + 5), "-1 day, 0:00:05");
        assert_eq!(us(-1), "-1 day, 23:59:59.999999");
        assert_eq!(s(-3 * 86_400), "-3 days, 0:00:00");
        assert_eq!(
            timedelta_str_micros(999_999_999 * 86_400_000_000),
            "999999999 days, 0:00:00"
        );
    }
}
