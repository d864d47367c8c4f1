//! challenge_cleanup on every backend: expiry and age in naive UTC, chunk boundaries,
//! dry-run agreement.

use chrono::TimeDelta;
use pi_manage::clock::Clock;
use pi_manage::job::model::{ChallengeCleanup, Duration, TaskSpec};

use crate::harness::*;

fn spec(older_than: Option<Duration>, chunksize: Option<u64>) -> TaskSpec {
    TaskSpec::ChallengeCleanup(ChallengeCleanup {
        name: None,
        older_than,
        chunksize,
    })
}

#[test]
fn expired_challenges_are_found_in_utc() {
    // Local time is UTC+2; challenge times are UTC, so local time would be two hours off.
    let clock = clock_at("2026-11-22T12:00:00+02:00");
    let now = clock.now_utc();
    let m = TimeDelta::minutes;
    for chunk in [None, Some(1), Some(2), Some(3), Some(100)] {
        for db in privacyidea_databases() {
            let mut c = db.connect();
            insert_challenges(
                c.as_mut(),
                &[
                    (1, now - m(10), now - m(8)),    // expired
                    (2, now - m(3), now - m(1)),     // expired
                    (3, now - m(2), now),            // expires exactly now: kept (expiration < now)
                    (4, now - m(1), now + m(1)),     // valid
                    (5, now - m(30), now + m(60)),   // valid; in local time it would look expired
                    (6, now - m(200), now - m(198)), // expired
                ],
            );
            let dry = run_spec(&db, spec(None, chunk), true, &clock);
            assert_eq!(
                dry.lines,
                [
                    "Deleting expired challenges.",
                    "Would delete 3 challenge entries."
                ],
                "{}",
                db.label()
            );
            let r = run_spec(&db, spec(None, chunk), false, &clock);
            assert_eq!(
                r.lines,
                ["Deleting expired challenges.", "3 entries deleted."],
                "{} {chunk:?}",
                db.label()
            );
            assert_eq!(
                ids(c.as_mut(), "challenge"),
                vec![3, 4, 5],
                "{} {chunk:?}",
                db.label()
            );
        }
    }
}

#[test]
fn older_than_deletes_by_creation_time_even_if_valid() {
    let clock = clock_at("2026-11-22T12:00:00-07:00");
    let now = clock.now_utc();
    let m = TimeDelta::minutes;
    for db in privacyidea_databases() {
        let mut c = db.connect();
        insert_challenges(
            c.as_mut(),
            &[
                (1, now - m(120), now + m(60)),
                (2, now - m(91), now + m(60)),
                (3, now - m(90), now),
                (4, now - m(5), now - m(3)),
            ],
        );
        let r = run_spec(
            &db,
            spec(Some(Duration::from_minutes(90)), Some(1)),
            false,
            &clock,
        );
        assert_eq!(
            r.lines,
            [
                "Deleting challenges older than 2026-11-22 17:30:00",
                "2 entries deleted."
            ],
            "{}",
            db.label()
        );
        assert_eq!(ids(c.as_mut(), "challenge"), vec![3, 4], "{}", db.label());
    }
}
