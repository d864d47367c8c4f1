//! Which backup archives to keep: grandfather-father-son by creation time, as a pure function
//! of the archives' names and times, "now" and the policy — no file system here, so every rule
//! is tested exactly.
//!
//! * `keep_last N`: the N newest archives.
//! * `keep_daily N` / `keep_weekly N` / `keep_monthly N`: the newest archive of each of the N
//!   newest days / ISO weeks / months that have archives (periods without a backup do not use
//!   up the count, as in borg and restic). Periods are calendar periods in local time, the
//!   time archive names record.
//! * An archive is kept when any rule keeps it. Without any `keep_*` rule, every archive is
//!   kept (subject to `max_age`).
//! * `max_age`: archives older than this are removed even when a rule would keep them (an
//!   upper bound, e.g. for data protection).
//! * Never removed, whatever the rules say: the archive just made (`protect`), and archives
//!   dated in the future (a clock problem is not a reason to delete).

use chrono::{Datelike, NaiveDateTime, TimeDelta};

/// The retention rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub max_age: Option<TimeDelta>,
}

impl Policy {
    fn has_keep_rule(&self) -> bool {
        self.keep_last.is_some()
            || self.keep_daily.is_some()
            || self.keep_weekly.is_some()
            || self.keep_monthly.is_some()
    }

    /// Whether the policy says anything at all.
    pub fn is_empty(&self) -> bool {
        !self.has_keep_rule() && self.max_age.is_none()
    }
}

/// An archive in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub name: String,
    /// When it was made (local time, from its name).
    pub created: NaiveDateTime,
}

/// The verdict on one archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub name: String,
    pub created: NaiveDateTime,
    pub keep: bool,
    /// Why: the rules that keep it, or why it goes.
    pub reasons: Vec<String>,
}

/// Decide for every archive, newest first.
pub fn decide(
    archives: &[Archive],
    now: NaiveDateTime,
    policy: &Policy,
    protect: Option<&str>,
) -> Vec<Decision> {
    let mut sorted: Vec<&Archive> = archives.iter().collect();
    sorted.sort_by(|a, b| newer_first(&a.created, &a.name, &b.created, &b.name));
    let mut out: Vec<Decision> = sorted
        .iter()
        .map(|a| Decision {
            name: a.name.clone(),
            created: a.created,
            keep: false,
            reasons: Vec::new(),
        })
        .collect();
    // Archives dated in the future take part in no rule.
    let present: Vec<usize> = (0..out.len()).filter(|&i| out[i].created <= now).collect();
    for d in out.iter_mut().filter(|d| d.created > now) {
        d.keep = true;
        d.reasons.push("dated in the future; never removed".into());
    }
    if let Some(n) = policy.keep_last {
        for (rank, &i) in present.iter().take(n as usize).enumerate() {
            out[i].keep = true;
            out[i]
                .reasons
                .push(format!("keep_last ({} of {n})", rank + 1));
        }
    }
    let mut period_rule = |n: Option<u32>, rule: &str, key: &dyn Fn(&NaiveDateTime) -> String| {
        let Some(n) = n else { return };
        let mut seen: Vec<String> = Vec::new();
        for &i in &present {
            let k = key(&out[i].created);
            if seen.contains(&k) {
                continue;
            }
            if seen.len() == n as usize {
                break;
            }
            seen.push(k.clone());
            out[i].keep = true;
            out[i].reasons.push(format!("{rule} {k}"));
        }
    };
    period_rule(policy.keep_daily, "daily", &|t| {
        t.format("%Y-%m-%d").to_string()
    });
    period_rule(policy.keep_weekly, "weekly", &|t| {
        let w = t.iso_week();
        format!("{}-W{:02}", w.year(), w.week())
    });
    period_rule(policy.keep_monthly, "monthly", &|t| {
        t.format("%Y-%m").to_string()
    });
    if !policy.has_keep_rule() {
        for &i in &present {
            out[i].keep = true;
            out[i].reasons.push("no keep_* rule".into());
        }
    }
    if let Some(max) = policy.max_age {
        for &i in &present {
            if now - out[i].created > max {
                out[i].keep = false;
                out[i].reasons = vec![format!("older than max_age ({})", human(max))];
            }
        }
    }
    for d in out.iter_mut() {
        if protect == Some(d.name.as_str()) && !d.keep {
            d.keep = true;
            d.reasons = vec!["the backup just made; never removed".into()];
        } else if protect == Some(d.name.as_str()) {
            d.reasons.push("the backup just made".into());
        }
        if !d.keep && d.reasons.is_empty() {
            d.reasons.push("not kept by any rule".into());
        }
    }
    out
}

/// Newest first; within the same second, `…-2.tar.xz` was made after `….tar.xz` (a longer
/// name carries a higher `-N` suffix).
pub fn newer_first(
    ta: &NaiveDateTime,
    na: &str,
    tb: &NaiveDateTime,
    nb: &str,
) -> std::cmp::Ordering {
    tb.cmp(ta)
        .then_with(|| nb.len().cmp(&na.len()))
        .then_with(|| nb.cmp(na))
}

fn human(d: TimeDelta) -> String {
    let s = d.num_seconds();
    if s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 30, 0)
            .unwrap()
    }

    fn archive(t: NaiveDateTime) -> Archive {
        Archive {
            name: format!("privacyidea-backup-{}.tar.xz", t.format("%Y%m%d-%H%M%S")),
            created: t,
        }
    }

    fn kept(ds: &[Decision]) -> Vec<String> {
        ds.iter()
            .filter(|d| d.keep)
            .map(|d| d.created.format("%Y-%m-%d %H").to_string())
            .collect()
    }

    /// One archive a day at 02:30 for two years, ending "today" (2026-11-22, a Sunday).
    fn two_years() -> (Vec<Archive>, NaiveDateTime) {
        let end = at(2026, 11, 22, 2);
        let v = (0..730)
            .map(|i| archive(end - TimeDelta::days(i)))
            .collect::<Vec<_>>();
        (v, end + TimeDelta::hours(1))
    }

    #[test]
    fn grandfather_father_son_over_two_years() {
        let (v, now) = two_years();
        let p = Policy {
            keep_last: Some(2),
            keep_daily: Some(7),
            keep_weekly: Some(4),
            keep_monthly: Some(6),
            max_age: None,
        };
        let ds = decide(&v, now, &p, Some(&v[0].name));
        let expect = [
            // daily: the last 7 days (the last 2 are also keep_last)
            "2026-11-22 02",
            "2026-11-21 02",
            "2026-11-20 02",
            "2026-11-19 02",
            "2026-11-18 02",
            "2026-11-17 02",
            "2026-11-16 02",
            // weekly: ISO weeks 47, 46, 45, 44 -> their Sundays (the 22nd is already in)
            "2026-11-15 02",
            "2026-11-08 02",
            "2026-11-01 02",
            // monthly: Nov (22nd), Oct 31, Sep 30, Aug 31, Jul 31, Jun 30
            "2026-10-31 02",
            "2026-09-30 02",
            "2026-08-31 02",
            "2026-07-31 02",
            "2026-06-30 02",
        ];
        let mut want: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
        want.sort();
        want.reverse();
        assert_eq!(kept(&ds), want);
        assert_eq!(ds.len(), 730);
        let first = &ds[0];
        assert!(
            first.reasons.contains(&"keep_last (1 of 2)".to_string()),
            "{:?}",
            first.reasons
        );
        assert!(first.reasons.contains(&"daily 2026-11-22".to_string()));
        assert!(first.reasons.contains(&"weekly 2026-W47".to_string()));
        assert!(first.reasons.contains(&"monthly 2026-11".to_string()));
        assert!(first.reasons.contains(&"the backup just made".to_string()));
        let sunday = ds.iter().find(|d| d.created == at(2026, 11, 8, 2)).unwrap();
        assert_eq!(sunday.reasons, ["weekly 2026-W45"]);
        let gone = ds.iter().find(|d| d.created == at(2026, 11, 9, 2)).unwrap();
        assert!(!gone.keep);
        assert_eq!(gone.reasons, ["not kept by any rule"]);
    }

    #[test]
    fn periods_without_backups_do_not_count_and_newest_of_a_period_wins() {
        let v = vec![
            archive(at(2026, 11, 22, 23)),
            archive(at(2026, 11, 22, 2)),
            archive(at(2026, 11, 15, 2)),
            archive(at(2026, 10, 1, 2)),
        ];
        let now = at(2026, 11, 23, 0);
        let p = Policy {
            keep_daily: Some(3),
            ..Default::default()
        };
        assert_eq!(
            kept(&decide(&v, now, &p, None)),
            ["2026-11-22 23", "2026-11-15 02", "2026-10-01 02"]
        );
    }

    #[test]
    fn max_age_is_an_upper_bound_but_never_touches_the_new_backup() {
        let (v, now) = two_years();
        let p = Policy {
            keep_monthly: Some(24),
            max_age: Some(TimeDelta::days(365)),
            ..Default::default()
        };
        let ds = decide(&v, now, &p, Some(&v[0].name));
        let k = kept(&ds);
        // Month ends within the last 365 days (2025-11-22 03:30 .. now), newest of each month.
        assert_eq!(k.len(), 13, "{k:?}");
        assert_eq!(k.last().unwrap(), "2025-11-30 02");
        let old = ds
            .iter()
            .find(|d| d.created == at(2025, 11, 22, 2))
            .unwrap();
        assert_eq!(old.reasons, ["older than max_age (365d)"]);
        // Only max_age: everything younger is kept.
        let only = Policy {
            max_age: Some(TimeDelta::days(10)),
            ..Default::default()
        };
        assert_eq!(kept(&decide(&v, now, &only, None)).len(), 10);
        // A max_age shorter than the newest backup's age still keeps the backup just made.
        let tiny = Policy {
            max_age: Some(TimeDelta::seconds(1)),
            ..Default::default()
        };
        let ds = decide(&v, now + TimeDelta::days(1), &tiny, Some(&v[0].name));
        assert_eq!(kept(&ds), ["2026-11-22 02"]);
        assert_eq!(ds[0].reasons, ["the backup just made; never removed"]);
    }

    #[test]
    fn future_archives_are_kept_and_take_no_slot() {
        let v = vec![
            archive(at(2027, 1, 1, 0)),
            archive(at(2026, 11, 22, 2)),
            archive(at(2026, 11, 21, 2)),
        ];
        let p = Policy {
            keep_last: Some(1),
            ..Default::default()
        };
        let ds = decide(&v, at(2026, 11, 22, 3), &p, None);
        assert_eq!(kept(&ds), ["2027-01-01 00", "2026-11-22 02"]);
        assert_eq!(ds[0].reasons, ["dated in the future; never removed"]);
    }

    #[test]
    fn keep_last_alone_and_ties_by_name() {
        let t = at(2026, 11, 22, 2);
        let mut a = archive(t);
        let mut b = archive(t);
        a.name = "privacyidea-backup-20261122-023000.tar.xz".into();
        b.name = "privacyidea-backup-20261122-023000-1.tar.xz".into();
        let p = Policy {
            keep_last: Some(1),
            ..Default::default()
        };
        let ds = decide(&[a, b.clone()], at(2026, 11, 22, 3), &p, None);
        assert!(ds[0].keep && ds[0].name == b.name);
        assert!(!ds[1].keep);
        assert!(Policy::default().is_empty());
    }
}
