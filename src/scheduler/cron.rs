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

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
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
                    let step: u32 = s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        err(format!(
                            "'{s}' is not a valid step in the {} field",
                            self.name
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
                v += step;
            }
        }
        if self.name == "day of week" && bits & (1 << 7) != 0 {
            bits = (bits | 1) & !(1 << 7);
        }
        Ok((bits, !text.starts_with('*')))
    }
}

impl CronExpr {
    pub fn parse(text: &str) -> Result<CronExpr, CronError> {
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
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            )));
        }
        let (minutes, _) = MINUTE.parse(fields[0])?;
        let (hours, _) = HOUR.parse(fields[1])?;
        let (dom, dom_restricted) = DOM.parse(fields[2])?;
        let (months, _) = MONTH.parse(fields[3])?;
        let (dow, dow_restricted) = DOW.parse(fields[4])?;
        Ok(CronExpr {
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
