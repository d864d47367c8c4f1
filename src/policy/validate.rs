//! The checks privacyIDEA's `set_policy` makes that need nothing but the input: the time
//! range syntax, client addresses, condition tuples, column lengths. What needs the database
//! (realms, resolvers and nodes that must exist) is [`Known`].

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

/// Condition sections (`ConditionSection` in privacyIDEA 3.14).
pub const CONDITION_SECTIONS: &[&str] = &[
    "userinfo",
    "tokeninfo",
    "token",
    "HTTP Request header",
    "HTTP Environment",
    "container",
    "container_info",
];

/// Every comparator name privacyIDEA's condition check accepts, aliases included.
pub const COMPARATORS: &[&str] = &[
    "equals",
    "=",
    "==",
    "==_any",
    "=_any",
    "!equals",
    "!=",
    "!=_any",
    "contains",
    "!contains",
    "matches",
    "!matches",
    "in",
    "!in",
    "<",
    "<_any",
    "<=",
    "=<",
    ">",
    ">_any",
    ">=",
    "=>",
    "date_before",
    "date_after",
    "date_within_last",
    "!date_within_last",
    "string_contains",
    "!string_contains",
];

/// What a condition does when its data is missing (`ConditionHandleMissingData`).
pub const HANDLE_MISSING_DATA: &[&str] =
    &["raise_error", "condition_is_true", "condition_is_false"];

/// Column lengths of the policy tables (characters; PostgreSQL and MariaDB enforce them,
/// SQLite does not, so they are checked before anything is written).
pub const MAX_NAME: usize = 64;
pub const MAX_LIST: usize = 256;
pub const MAX_TIME: usize = 64;
pub const MAX_CONDITION_FIELD: usize = 255;
pub const MAX_CONDITION_VALUE: usize = 2000;

/// A policy name: what the `policy.name` column and privacyIDEA's lookups can hold.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the policy name must not be empty".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!(
            "the policy name is longer than {MAX_NAME} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the policy name contains a control character".into());
    }
    if name.trim() != name {
        return Err("the policy name starts or ends with whitespace".into());
    }
    Ok(())
}

/// privacyIDEA's time range syntax (`check_time_in_range`): comma-separated
/// `<dow>[-<dow>]: <hh>[:<mm>]-<hh>[:<mm>]`, whitespace ignored, days `Mon`…`Sun` in any case.
pub fn check_time(time: &str) -> Result<(), String> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    if time.is_empty() {
        return Ok(());
    }
    if time.chars().count() > MAX_TIME {
        return Err(format!("the time is longer than {MAX_TIME} characters"));
    }
    let compact: String = time.chars().filter(|c| !c.is_whitespace()).collect();
    for range in compact.split(',') {
        let bad = |why: &str| {
            Err(format!(
                "invalid time range '{range}': {why} (expected e.g. 'Mon-Fri: 08:00-18:00')"
            ))
        };
        let Some((dow, hours)) = range.split_once(':') else {
            return bad("no ':' after the days");
        };
        let dow = dow.to_lowercase();
        let (d1, d2) = dow.split_once('-').unwrap_or((&dow, &dow));
        for d in [d1, d2] {
            if !DAYS.contains(&d) {
                return bad(&format!("unknown day '{d}'"));
            }
        }
        let Some((from, to)) = hours.split_once('-') else {
            return bad("the times need the form HH:MM-HH:MM");
        };
        for t in [from, to] {
            let parts: Vec<&str> = t.split(':').collect();
            let number = |s: &str| {
                (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
                    .then(|| s.parse::<u32>().ok())
                    .flatten()
            };
            let ok = match parts.as_slice() {
                [h] => number(h).is_some_and(|h| h < 24),
                [h, m] => number(h).is_some_and(|h| h < 24) && number(m).is_some_and(|m| m < 60),
                _ => false,
            };
            if !ok {
                return bad(&format!("'{t}' is not a time of day"));
            }
        }
    }
    Ok(())
}

/// One `client` entry: an IPv4/IPv6 address or network (`10.0.0.0/8`, `10.0.0.0/255.0.0.0`,
/// `fd00::/8`), optionally negated with a leading `!` or `-`.
pub fn check_client(item: &str) -> Result<(), String> {
    let addr = item
        .strip_prefix('!')
        .or_else(|| item.strip_prefix('-'))
        .unwrap_or(item);
    let bad = || {
        Err(format!(
            "'{item}' is not an IP address or network (e.g. 192.168.0.0/24, !10.0.0.5)"
        ))
    };
    let (ip, prefix) = match addr.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (addr, None),
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return bad();
    };
    match (ip, prefix) {
        (_, None) => Ok(()),
        (IpAddr::V4(_), Some(p)) if p.parse::<u8>().is_ok_and(|n| n <= 32) => Ok(()),
        (IpAddr::V4(_), Some(p)) if p.parse::<Ipv4Addr>().is_ok() => Ok(()),
        (IpAddr::V6(_), Some(p)) if p.parse::<u8>().is_ok_and(|n| n <= 128) => Ok(()),
        _ => bad(),
    }
}

/// What a realm, resolver or node reference in a policy points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Realm,
    Resolver,
    Node,
}

impl RefKind {
    pub fn noun(self) -> &'static str {
        match self {
            RefKind::Realm => "realm",
            RefKind::Resolver => "resolver",
            RefKind::Node => "node",
        }
    }
}

/// A realm, resolver or node a policy names, with where it is written (`file:line:column`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: RefKind,
    pub name: String,
    pub at: String,
}

/// The realms, resolvers and nodes of the installation, for [`Known::check`]. A set is
/// `None` when its table does not exist (a partial schema): then nothing can be checked.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Lower-cased: privacyIDEA stores realm names in lower case and matches them so.
    pub realms: Option<HashSet<String>>,
    /// Lower-cased resolver names.
    pub resolvers: Option<HashSet<String>>,
    /// Node names from `nodename`.
    pub nodes: Option<HashSet<String>>,
}

impl Known {
    /// Why a reference does not resolve, if it does not. `*` and negations (`!name`,
    /// `-name`) are matched by privacyIDEA too, so the name after the sign must exist.
    pub fn check(&self, r: &Reference) -> Option<String> {
        let name = r
            .name
            .strip_prefix('!')
            .or_else(|| r.name.strip_prefix('-'))
            .unwrap_or(&r.name);
        if name == "*" || name.is_empty() {
            return None;
        }
        let (set, key) = match r.kind {
            RefKind::Realm => (&self.realms, name.to_lowercase()),
            RefKind::Resolver => (&self.resolvers, name.to_lowercase()),
            RefKind::Node => (&self.nodes, name.to_string()),
        };
        let set = set.as_ref()?;
        if set.contains(&key) {
            return None;
        }
        let mut known: Vec<&String> = set.iter().collect();
        known.sort();
        let list = if known.is_empty() {
            "there are none".to_string()
        } else {
            format!(
                "known: {}",
                known
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Some(format!(
            "{} '{name}' does not exist ({list}) (at {})",
            r.kind.noun(),
            r.at
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ranges() {
        for ok in [
            "",
            "Mon-Fri: 08:00-18:00",
            "mon-fri:8-18, Sat: 9:30-12:00",
            "Sun:0:00-23:59",
        ] {
            assert!(check_time(ok).is_ok(), "{ok}");
        }
        for bad in [
            "Mon-Fri 08:00-18:00",
            "Mon-Fry: 08:00-18:00",
            "Mon: 8:00",
            "Mon: 24:00-25:00",
            "Mon: 08:60-09:00",
            "Mon: 08:00:00-09:00",
            "Mon: a-b",
        ] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clients() {
        for ok in [
            "10.0.0.0/8",
            "192.168.1.1",
            "!10.0.0.5",
            "-10.0.0.5",
            "fd00::/8",
            "::1",
            "10.0.0.0/255.0.0.0",
        ] {
            assert!(check_client(ok).is_ok(), "{ok}");
        }
        for bad in [
            "10.0.0.0/33",
            "host.example.com",
            "10.0.0",
            "",
            "fd00::/129",
            "!",
        ] {
            assert!(check_client(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references() {
        let known = Known {
            realms: Some(["realm1".to_string()].into()),
            resolvers: Some(HashSet::new()),
            nodes: None,
        };
        let r = |kind, name: &str| Reference {
            kind,
            name: name.into(),
            at: "f:1:1".into(),
        };
        assert!(known.check(&r(RefKind::Realm, "Realm1")).is_none());
        assert!(known.check(&r(RefKind::Realm, "!realm1")).is_none());
        assert!(known.check(&r(RefKind::Realm, "*")).is_none());
        assert!(known.check(&r(RefKind::Node, "anything")).is_none());
        assert_eq!(
            known.check(&r(RefKind::Resolver, "ldap")).unwrap(),
            "resolver 'ldap' does not exist (there are none) (at f:1:1)"
        );
        assert_eq!(
            known.check(&r(RefKind::Realm, "realm2")).unwrap(),
            "realm 'realm2' does not exist (known: realm1) (at f:1:1)"
        );
    }
}
