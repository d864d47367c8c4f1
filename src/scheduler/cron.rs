//! Standard 5-field cron expressions (`minute hour day-of-month month day-of-week`), parsed
//! into sets of allowed values. The dialect is Vixie cron's, fixed and documented:
//! `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month and weekday
//! names, 0 and 7 both Sunday, and the macros `@hourly`, `@daily`/`@midnight`, `@weekly`,
//! `@monthly`, `@yearly`/`@annually`. When both day fields are restricted, a day matches if
//! *either* does (as in Vixie cron).
//!
//! Written here rather than taken from the `cron` crate because that crate's expressions
//! have a seconds field and number weekdays from 1 = Sunday, which would silently shift
//! every weekday of an operator's existing crontab line by one.

use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    /// Allowed seconds; only `0` unless the expression has a seconds field.
    pub seconds: u64,
    pub minutes: u64,
    pub hours: u32,
    pub days_of_month: u32,
    pub months: u16,
    pub days_of_week: u8,
    pub dom_restricted: bool,
    pub dow_restricted: bool,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CronError {
    pub message: String,
}

fn err(message: impl Into<String>) -> CronError {
    CronError {
        message: message.into(),
    }
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Field {
    fn value(&self, s: &str) -> Result<u32, CronError> {
        if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + if self.name == "month" { 1 } else { 0 });
        }
        let v: u32 = s.parse().map_err(|_| {
            err(format!(
                "'{s}' is not a valid {} (expected {}-{}{})",
                self.name,
                self.min,
                self.max,
                if self.names.is_empty() {
                    String::new()
                } else {
                    format!(" or a name like {}", self.names[0])
                }
            ))
        })?;
        if v < self.min || v > self.max {
            return Err(err(format!(
                "{} {v} is out of range {}-{}",
                self.name, self.min, self.max
            )));
        }
        Ok(v)
    }

    /// The bit set of a field and whether it restricts anything (is not `*`).
    fn parse(&self, text: &str) -> Result<(u64, bool), CronError> {
        let mut bits = 0u64;
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => {
                    // A step beyond the field's largest value would select only the start.
                    let step: u32 = s
                        .parse()
                        .ok()
                        .filter(|s| (1..=self.max.max(1)).contains(s))
                        .ok_or_else(|| {
                            err(format!(
                                "'{s}' is not a valid step in the {} field (allowed: 1 to {})",
                                self.name,
                                self.max.max(1)
                            ))
                        })?;
                    (r, step)
                }
                None => (part, 1),
            };
            let (lo, hi) = if range == "*" {
                (
                    self.min,
                    if self.name == "day of week" {
                        6
                    } else {
                        self.max
                    },
                )
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if a > b {
                    return Err(err(format!(
                        "range {range} in the {} field runs backwards",
                        self.name
                    )));
                }
                (a, b)
            } else {
                let a = self.value(range)?;
                // `5/15` means 5, 20, 35, 50 (from 5 to the end, every 15).
                (a, if part.contains('/') { self.max } else { a })
            };
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                let Some(next) = v.checked_add(step) else {
                    break;
                };
                v = next;
            }
        }
        if self.name == "day of week" && bits & (1 << 7) != 0 {
            bits = (bits | 1) & !(1 << 7);
        }
        Ok((bits, !text.starts_with('*')))
    }
}

impl CronExpr {
    /// A standard 5-field expression (or macro).
    pub fn parse(text: &str) -> Result<CronExpr, CronError> {
        Self::parse_fields(text, false)
    }

    /// A 6-field expression with a leading seconds field (`*/5 * * * * *`), accepted only
    /// where a job file asks for it explicitly (`schedule_seconds: true`).
    pub fn parse_with_seconds(text: &str) -> Result<CronExpr, CronError> {
        Self::parse_fields(text, true)
    }

    fn parse_fields(text: &str, with_seconds: bool) -> Result<CronExpr, CronError> {
        let t = text.trim();
        let expanded = match t.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            s if s.starts_with('@') => {
                return Err(err(format!(
                    "unknown macro '{t}' (use @hourly, @daily, @weekly, @monthly or @yearly)"
                )))
            }
            _ => t,
        };
        let mut fields: Vec<&str> = expanded.split_whitespace().collect();
        let seconds = if with_seconds && !t.starts_with('@') {
            if fields.len() != 6 {
                return Err(err(format!(
                    "with schedule_seconds, a cron expression has 6 fields (second minute hour day-of-month month day-of-week), found {}",
                    fields.len()
                )));
            }
            SECOND.parse(fields.remove(0))?.0
        } else {
            1
        };
        if fields.len() != 5 {
            return Err(err(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found {}{}",
                fields.len(),
                if fields.len() == 6 { " (a seconds field needs schedule_seconds: true)" } else { "" }
            )));
        }
        let (minutes, _) = MINUTE.parse(fields[0])?;
        let (hours, _) = HOUR.parse(fields[1])?;
        let (dom, dom_restricted) = DOM.parse(fields[2])?;
        let (months, _) = MONTH.parse(fields[3])?;
        let (dow, dow_restricted) = DOW.parse(fields[4])?;
        Ok(CronExpr {
            seconds,
            minutes,
            hours: hours as u32,
            days_of_month: dom as u32,
            months: months as u16,
            days_of_week: dow as u8,
            dom_restricted,
            dow_restricted,
            text: t.to_string(),
        })
    }
}

impl CronExpr {
    /// Whether the expression names fixed times of day (an explicit hour and minute), which
    /// decides its DST behaviour: fixed-time slots run once, wildcard slots follow real time.
    pub fn is_fixed_time(&self) -> bool {
        self.hours.count_ones() <= 2 && self.minutes.count_ones() <= 2 && self.hours != 0
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << d.day()) != 0;
        let dow = self.days_of_week & (1 << d.weekday().num_days_from_sunday()) != 0;
        // Vixie cron: when both day fields are restricted, either may match.
        if self.dom_restricted && self.dow_restricted {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The wall-clock times this expression names on one day, in order.
    fn times_of_day(&self) -> impl Iterator<Item = NaiveTime> + '_ {
        (0..24u32)
            .filter(move |h| self.hours & (1 << h) != 0)
            .flat_map(move |h| {
                (0..60u32)
                    .filter(move |m| self.minutes & (1 << m) != 0)
                    .flat_map(move |m| {
                        (0..60u32)
                            .filter(move |s| self.seconds & (1 << s) != 0)
                            .filter_map(move |s| NaiveTime::from_hms_opt(h, m, s))
                    })
            })
    }

    /// The first slot strictly after `after`, as an instant, evaluating the expression in
    /// `tz`. DST rules (documented in docs/scheduler.md):
    /// * a wall-clock time that does not exist (spring forward) fires once, at the end of the
    ///   gap; several such times collapse into that one instant;
    /// * a wall-clock time that exists twice (fall back) fires once for fixed-time
    ///   expressions (the first occurrence) and at both instants for wildcard expressions.
    ///
    /// `None` when no slot exists within eight years (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&tz).naive_local();
        // Start a day early: a gap can map an earlier wall-clock time after `after`.
        let mut day = local_after.date() - TimeDelta::days(1);
        let last = local_after.date() + TimeDelta::days(366 * 8);
        while day <= last {
            if self.day_matches(day) {
                for t in self.times_of_day() {
                    let naive = NaiveDateTime::new(day, t);
                    for instant in self.instants(naive, tz) {
                        if instant > after {
                            return Some(instant);
                        }
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// The instants a wall-clock slot stands for in `tz`.
    fn instants(&self, naive: NaiveDateTime, tz: Tz) -> Vec<DateTime<Utc>> {
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(dt) => vec![dt.with_timezone(&Utc)],
            LocalResult::Ambiguous(first, second) => {
                if self.is_fixed_time() {
                    vec![first.with_timezone(&Utc)]
                } else {
                    vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
                }
            }
            LocalResult::None => {
                // In a spring-forward gap: the first wall-clock second after it.
                let mut probe = naive;
                for _ in 0..(4 * 3600) {
                    probe += TimeDelta::seconds(1);
                    if let Some(dt) = tz.from_local_datetime(&probe).earliest() {
                        return vec![dt.with_timezone(&Utc)];
                    }
                }
                Vec::new()
            }
        }
    }

    /// The slots in `(after, until]`, at most `limit` of them.
    pub fn slots_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        tz: Tz,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = after;
        while out.len() < limit {
            match self.next_after(t, tz) {
                Some(n) if n <= until => {
                    out.push(n);
                    t = n;
                }
                _ => break,
            }
        }
        out
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_standard_dialect() {
        let c = CronExpr::parse("30 2 * * *").unwrap();
        assert_eq!(c.minutes, 1 << 30);
        assert_eq!(c.hours, 1 << 2);
        assert!(!c.dom_restricted && !c.dow_restricted);
        let c = CronExpr::parse("*/15 9-17 * jan-mar mon-fri").unwrap();
        assert_eq!(c.minutes, (1 << 0) | (1 << 15) | (1 << 30) | (1 << 45));
        assert_eq!(c.months, 0b1110);
        assert_eq!(c.days_of_week, 0b0111110);
        assert_eq!(CronExpr::parse("0 0 * * 7").unwrap().days_of_week, 1);
        assert_eq!(CronExpr::parse("@weekly").unwrap().days_of_week, 1);
        assert_eq!(
            CronExpr::parse("5/20 * * * *").unwrap().minutes,
            (1 << 5) | (1 << 25) | (1 << 45)
        );
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn berlin() -> Tz {
        "Europe/Berlin".parse().unwrap()
    }

    #[test]
    fn next_fire_in_a_time_zone() {
        let c = CronExpr::parse("30 2 * * *").unwrap();
        // 02:30 Berlin in winter is 01:30 UTC.
        assert_eq!(
            c.next_after(utc("2026-11-22T12:00:00Z"), berlin()),
            Some(utc("2026-11-23T01:30:00Z"))
        );
        let c = CronExpr::parse("*/15 * * * *").unwrap();
        assert_eq!(
            c.next_after(utc("2026-11-22T12:00:00Z"), Tz::UTC),
            Some(utc("2026-11-22T12:15:00Z"))
        );
        assert_eq!(
            c.next_after(utc("2026-11-22T12:07:59Z"), Tz::UTC),
            Some(utc("2026-11-22T12:15:00Z"))
        );
        // Day-of-month OR day-of-week when both are restricted (Vixie).
        let c = CronExpr::parse("0 0 1 * mon").unwrap();
        assert_eq!(
            c.next_after(utc("2026-11-22T12:00:00Z"), Tz::UTC),
            Some(utc("2026-11-23T00:00:00Z"))
        );
        assert_eq!(
            c.next_after(utc("2026-11-23T00:00:00Z"), Tz::UTC),
            Some(utc("2026-11-30T00:00:00Z"))
        );
        assert_eq!(
            c.next_after(utc("2026-11-30T00:00:00Z"), Tz::UTC),
            Some(utc("2026-12-01T00:00:00Z"))
        );
        // Leap day: four years on.
        let c = CronExpr::parse("0 12 29 2 *").unwrap();
        assert_eq!(
            c.next_after(utc("2026-11-22T12:00:00Z"), Tz::UTC),
            Some(utc("2028-02-29T12:00:00Z"))
        );
        assert_eq!(
            CronExpr::parse("0 0 30 2 *")
                .unwrap()
                .next_after(utc("2026-01-01T00:00:00Z"), Tz::UTC),
            None
        );
    }

    #[test]
    fn spring_forward_runs_a_fixed_time_job_once() {
        // 2026-03-29 in Berlin: 02:00 -> 03:00, so 02:30 does not exist.
        let c = CronExpr::parse("30 2 * * *").unwrap();
        let slots = c.slots_between(
            utc("2026-03-27T12:00:00Z"),
            utc("2026-03-30T12:00:00Z"),
            berlin(),
            10,
        );
        assert_eq!(
            slots,
            [
                utc("2026-03-28T01:30:00Z"),
                utc("2026-03-29T01:00:00Z"),
                utc("2026-03-30T00:30:00Z")
            ],
            "once on the transition day, at 03:00 local (the end of the gap)"
        );
        // A wildcard job: the gap's slots collapse into one instant.
        let c = CronExpr::parse("*/30 * * * *").unwrap();
        let slots = c.slots_between(
            utc("2026-03-29T00:00:00Z"),
            utc("2026-03-29T01:30:00Z"),
            berlin(),
            10,
        );
        assert_eq!(
            slots,
            [
                utc("2026-03-29T00:30:00Z"),
                utc("2026-03-29T01:00:00Z"),
                utc("2026-03-29T01:30:00Z")
            ]
        );
    }

    #[test]
    fn fall_back_runs_a_fixed_time_job_once_and_wildcards_in_real_time() {
        // 2026-10-25 in Berlin: 03:00 -> 02:00, so 02:30 exists twice.
        let c = CronExpr::parse("30 2 * * *").unwrap();
        let slots = c.slots_between(
            utc("2026-10-24T12:00:00Z"),
            utc("2026-10-26T12:00:00Z"),
            berlin(),
            10,
        );
        assert_eq!(
            slots,
            [utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")],
            "once, at the first 02:30"
        );
        let c = CronExpr::parse("30 * * * *").unwrap();
        let slots = c.slots_between(
            utc("2026-10-24T23:00:00Z"),
            utc("2026-10-25T02:00:00Z"),
            berlin(),
            10,
        );
        assert_eq!(
            slots,
            [
                utc("2026-10-24T23:30:00Z"),
                utc("2026-10-25T00:30:00Z"),
                utc("2026-10-25T01:30:00Z")
            ],
            "hourly: both 02:30s run (they are an hour apart in real time)"
        );
    }

    #[test]
    fn seconds_field_only_when_asked_for() {
        let e = CronExpr::parse("*/5 * * * * *").unwrap_err();
        assert!(e.message.contains("schedule_seconds"), "{e}");
        let c = CronExpr::parse_with_seconds("*/5 * * * * *").unwrap();
        assert_eq!(
            c.next_after(utc("2026-11-22T12:00:01Z"), Tz::UTC),
            Some(utc("2026-11-22T12:00:05Z"))
        );
        assert_eq!(
            CronExpr::parse_with_seconds("@hourly")
                .unwrap()
                .next_after(utc("2026-11-22T12:00:00Z"), Tz::UTC),
            Some(utc("2026-11-22T13:00:00Z"))
        );
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(CronExpr::parse("* * * *")
            .unwrap_err()
            .message
            .contains("5 fields"));
        assert!(CronExpr::parse("60 * * * *")
            .unwrap_err()
            .message
            .contains("out of range 0-59"));
        assert!(CronExpr::parse("0 0 * * funday")
            .unwrap_err()
            .message
            .contains("not a valid day of week"));
        assert!(CronExpr::parse("*/0 * * * *")
            .unwrap_err()
            .message
            .contains("step"));
        assert!(CronExpr::parse("5-1 * * * *")
            .unwrap_err()
            .message
            .contains("backwards"));
        assert!(CronExpr::parse("@often")
            .unwrap_err()
            .message
            .contains("unknown macro"));
    }
}
