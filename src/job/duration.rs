//! Durations as job files write them: a whole number with a unit (`90s`, `10m`, `36h`,
//! `180d`, `2w`). A bare number is refused, because "30" means days to `audit rotate --age`
//! and minutes to `challenge cleanup --age`; the unit removes that trap.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// The pattern every duration string must match (also used in the JSON Schema).
pub const DURATION_PATTERN: &str = "^[0-9]+(s|m|h|d|w)$";

/// The one bound on every duration and age, wherever it enters (job files, rules files,
/// command-line flags): 36500 days, about 100 years. Longer ages mean nothing for a
/// privacyIDEA database, and keeping `now - age` far inside every database's date range
/// means no cut-off can overflow.
pub const MAX_AGE_DAYS: u64 = 36_500;
const MAX_SECONDS: u64 = MAX_AGE_DAYS * 86_400;

/// A non-negative span of time, kept in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    seconds: u64,
    text_unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Unit {
    fn seconds(self) -> u64 {
        match self {
            Unit::Seconds => 1,
            Unit::Minutes => 60,
            Unit::Hours => 3600,
            Unit::Days => 86_400,
            Unit::Weeks => 604_800,
        }
    }

    fn suffix(self) -> char {
        match self {
            Unit::Seconds => 's',
            Unit::Minutes => 'm',
            Unit::Hours => 'h',
            Unit::Days => 'd',
            Unit::Weeks => 'w',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration needs a unit: write e.g. '{0}d' for days, '{0}h' for hours, '{0}m' for minutes or '{0}s' for seconds")]
    MissingUnit(String),
    #[error("'{0}' is not a duration: write a whole number followed by s, m, h, d or w (e.g. '90s', '10m', '36h', '180d')")]
    Invalid(String),
    #[error("'{0}' is out of range: durations go up to {max}d (about 100 years)", max = MAX_AGE_DAYS)]
    TooLarge(String),
}

impl Duration {
    pub fn from_secs(seconds: u64) -> Self {
        Duration {
            seconds,
            text_unit: Unit::Seconds,
        }
    }

    /// A whole number of days given by a user (privacyIDEA's `--age` of `audit rotate`),
    /// refused beyond the range.
    pub fn try_from_days(days: u64) -> Result<Self, DurationError> {
        Duration::checked(days, Unit::Days)
    }

    /// A whole number of minutes given by a user (privacyIDEA's `--age` of `challenge
    /// cleanup`), refused beyond the range.
    pub fn try_from_minutes(minutes: u64) -> Result<Self, DurationError> {
        Duration::checked(minutes, Unit::Minutes)
    }

    /// Days for constants in code; clamped to the range, so it never wraps (user input goes
    /// through [`Duration::try_from_days`]).
    pub fn from_days(days: u64) -> Self {
        Duration::checked(days.min(MAX_AGE_DAYS), Unit::Days).unwrap_or(Duration::MAX)
    }

    /// Minutes for constants in code; clamped like [`Duration::from_days`].
    pub fn from_minutes(minutes: u64) -> Self {
        Duration::checked(minutes.min(MAX_AGE_DAYS * 1440), Unit::Minutes).unwrap_or(Duration::MAX)
    }

    /// The longest duration there is.
    pub const MAX: Duration = Duration {
        seconds: MAX_SECONDS,
        text_unit: Unit::Seconds,
    };

    /// `n` units, refused beyond [`MAX_AGE_DAYS`] (checked: never wraps).
    fn checked(n: u64, unit: Unit) -> Result<Self, DurationError> {
        n.checked_mul(unit.seconds())
            .filter(|s| *s <= MAX_SECONDS)
            .map(|seconds| Duration {
                seconds,
                text_unit: unit,
            })
            .ok_or_else(|| DurationError::TooLarge(format!("{n}{}", unit.suffix())))
    }

    /// The instant this long before `t`; never panics (ages are bounded, and an impossible
    /// one would give the earliest date, which selects nothing).
    pub fn before(self, t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
        t.checked_sub_signed(self.to_chrono())
            .unwrap_or(chrono::NaiveDateTime::MIN)
    }

    pub fn as_secs(self) -> u64 {
        self.seconds
    }

    pub fn is_zero(self) -> bool {
        self.seconds == 0
    }

    pub fn to_chrono(self) -> chrono::TimeDelta {
        i64::try_from(self.seconds)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
            .unwrap_or(chrono::TimeDelta::MAX)
    }

    pub fn parse(text: &str) -> Result<Duration, DurationError> {
        let t = text.trim();
        if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
            return Err(DurationError::MissingUnit(t.to_string()));
        }
        let unit = match t.chars().last() {
            Some('s') => Unit::Seconds,
            Some('m') => Unit::Minutes,
            Some('h') => Unit::Hours,
            Some('d') => Unit::Days,
            Some('w') => Unit::Weeks,
            _ => return Err(DurationError::Invalid(t.to_string())),
        };
        let digits = &t[..t.len() - 1];
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(DurationError::Invalid(t.to_string()));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| DurationError::TooLarge(t.to_string()))?;
        Duration::checked(n, unit).map_err(|_| DurationError::TooLarge(t.to_string()))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = self.text_unit;
        write!(f, "{}{}", self.seconds / u.seconds(), u.suffix())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as '90s', '10m', '36h' or '180d'")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(E::custom(DurationError::MissingUnit(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(DurationError::MissingUnit(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A whole number with a unit: s (seconds), m (minutes), h (hours), d (days), w (weeks). Examples: 90s, 10m, 36h, 180d.",
            "examples": ["180d", "10m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(Duration::parse("90s").unwrap().as_secs(), 90);
        assert_eq!(Duration::parse("10m").unwrap().as_secs(), 600);
        assert_eq!(Duration::parse("36h").unwrap().as_secs(), 129_600);
        assert_eq!(Duration::parse("180d").unwrap().as_secs(), 15_552_000);
        assert_eq!(Duration::parse("2w").unwrap().as_secs(), 1_209_600);
        assert_eq!(Duration::parse("180d").unwrap().to_string(), "180d");
    }

    #[test]
    fn bare_numbers_and_garbage_are_refused_with_a_hint() {
        let e = Duration::parse("30").unwrap_err();
        assert!(e.to_string().contains("'30d' for days"), "{e}");
        assert!(matches!(
            Duration::parse("-3d"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            Duration::parse("3 days"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            Duration::parse("d"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            Duration::parse("99999999999999999999d"),
            Err(DurationError::TooLarge(_))
        ));
    }

    #[test]
    fn one_range_for_every_age_and_no_arithmetic_that_can_panic() {
        assert_eq!(
            Duration::parse("36500d").unwrap().as_secs(),
            36_500 * 86_400
        );
        assert_eq!(Duration::parse("5214w").unwrap().as_secs(), 5214 * 604_800);
        for text in [
            "36501d",
            "5215w",
            "3000000d",
            "213503982334602d",
            "18446744073709551615s",
        ] {
            let e = Duration::parse(text).unwrap_err();
            assert!(
                e.to_string()
                    .contains("out of range: durations go up to 36500d"),
                "{e}"
            );
        }
        // privacyIDEA's `--age 213503982334602` wrapped to about 17 hours.
        assert!(Duration::try_from_days(213_503_982_334_602).is_err());
        assert!(Duration::try_from_minutes(u64::MAX).is_err());
        assert_eq!(
            Duration::try_from_days(36_500).unwrap(),
            Duration::from_days(36_500)
        );
        // Constants clamp instead of wrapping.
        assert_eq!(
            Duration::from_days(u64::MAX).as_secs(),
            Duration::MAX.as_secs()
        );
        assert_eq!(
            Duration::from_secs(u64::MAX).to_chrono(),
            chrono::TimeDelta::MAX
        );
        // `now - age` never panics, even from the earliest date there is.
        let min = chrono::NaiveDateTime::MIN;
        assert_eq!(Duration::MAX.before(min), min);
        let now = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(Duration::MAX.before(now).date().to_string(), "1926-01-26");
    }

    #[test]
    fn serde_rejects_numbers() {
        let e = serde_json::from_str::<Duration>("30").unwrap_err();
        assert!(e.to_string().contains("needs a unit"));
        let d: Duration = serde_json::from_str("\"7d\"").unwrap();
        assert_eq!(d, Duration::from_days(7));
    }
}
