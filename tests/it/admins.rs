//! admin on every backend: created with privacyIDEA's hash (pepper + password), upserted,
//! idempotent, deleted; passwords only from files or the environment.

use pi_manage::crypto::password::verify_admin_password;
use pi_manage::db::{Connection, Value};
use pi_manage::interrupt::Interrupt;
use pi_manage::job::model::{Admin, Presence, TaskSpec};
use pi_manage::tasks::TaskStatus;

use crate::harness::*;

fn admin_row(c: &mut dyn Connection, user: &str) -> Option<(String, Option<String>)> {
    let d = c.dialect();
    c.query_rows(
        &format!(
            "SELECT {}, {} FROM {} WHERE {} = ?",
            d.quote("password"),
            d.quote("email"),
            d.quote("admin"),
            d.quote("username")
        ),
        &[Value::Text(user.into())],
    )
    .unwrap()
    .first()
    .map(|r| {
        (
            r.get(0).as_str().unwrap().to_string(),
            r.get(1).as_str().map(str::to_string),
        )
    })
}

#[test]
fn admin_lifecycle_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pässwört-€-秘密\n").unwrap();
    for db in privacyidea_databases() {
        let mut settings = db.settings();
        settings.pepper = pi_manage::secret::Secret::new("vecPepper#2024");
        let run = |spec: Admin, dry: bool| {
            let mut d = Vec::new();
            let task = pi_manage::tasks::prepare(
                &TaskSpec::Admin(spec),
                &pi_manage::tasks::TaskSite::command_line(dir.path()),
                &mut d,
            )
            .unwrap_or_else(|| panic!("{d:?}"));
            run_task(&db, task, dry, &clock_utc(), &Interrupt::new(), &settings)
        };
        let base = Admin {
            username: "jörg".into(),
            email: Some("j@example.com".into()),
            password_file: Some(pw.clone()),
            ..Default::default()
        };
        let dry = run(base.clone(), true);
        assert_eq!(dry.outcome().status, TaskStatus::DryRun);
        let mut c = db.connect();
        assert!(admin_row(c.as_mut(), "jörg").is_none());
        let r = run(base.clone(), false);
        assert_eq!(
            r.outcome().status,
            TaskStatus::Created,
            "{}: {:?}",
            db.label(),
            r.report
        );
        let (hash, email) = admin_row(c.as_mut(), "jörg").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=65536,t=9,p=4$"),
            "{hash}"
        );
        assert!(verify_admin_password(
            "vecPepper#2024",
            "pässwört-€-秘密",
            &hash
        ));
        assert_eq!(email.as_deref(), Some("j@example.com"));
        // Idempotent: same state, nothing changes (the hash is not rewritten).
        let r = run(
            Admin {
                update_password: true,
                ..base.clone()
            },
            false,
        );
        assert_eq!(r.outcome().status, TaskStatus::Unchanged, "{}", db.label());
        assert_eq!(admin_row(c.as_mut(), "jörg").unwrap().0, hash);
        // Email only.
        let r = run(
            Admin {
                email: Some("new@example.com".into()),
                ..base.clone()
            },
            false,
        );
        assert_eq!(r.outcome().status, TaskStatus::Updated);
        assert_eq!(
            admin_row(c.as_mut(), "jörg").unwrap(),
            (hash.clone(), Some("new@example.com".into()))
        );
        // Password update only when asked for.
        std::fs::write(&pw, "Test123!").unwrap();
        let r = run(
            Admin {
                email: None,
                ..base.clone()
            },
            false,
        );
        assert_eq!(r.outcome().status, TaskStatus::Unchanged);
        let r = run(
            Admin {
                email: None,
                update_password: true,
                ..base.clone()
            },
            false,
        );
        assert_eq!(r.outcome().status, TaskStatus::Updated);
        assert!(verify_admin_password(
            "vecPepper#2024",
            "Test123!",
            &admin_row(c.as_mut(), "jörg").unwrap().0
        ));
        std::fs::write(&pw, "pässwört-€-秘密\n").unwrap();
        // Absent.
        let gone = Admin {
            state: Presence::Absent,
            password_file: None,
            email: None,
            ..base.clone()
        };
        assert_eq!(
            run(gone.clone(), false).outcome().status,
            TaskStatus::Updated
        );
        assert!(admin_row(c.as_mut(), "jörg").is_none());
        assert_eq!(run(gone, false).outcome().status, TaskStatus::Unchanged);
        // A new admin without a password source is refused, and nothing is written.
        let r = run(
            Admin {
                username: "nopw".into(),
                ..Default::default()
            },
            false,
        );
        assert_eq!(r.outcome().status, TaskStatus::Failed);
        assert!(admin_row(c.as_mut(), "nopw").is_none());
    }
}

#[test]
fn privacyideas_own_admin_hashes_verify() {
    // Hashes privacyIDEA 3.14 wrote (argon2id and passlib pbkdf2_sha512), from the vectors.
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/passwords.json")).unwrap();
    let mut checked = 0;
    for inst in v["installations"].as_array().unwrap() {
        let pepper = inst["pepper"].as_str().unwrap_or("Never know...");
        for admin in inst["cli_admins"].as_array().into_iter().flatten() {
            let (Some(hash), Some(pw)) = (
                admin["admin_row"]["password"].as_str(),
                admin["password"].as_str(),
            ) else {
                continue;
            };
            assert!(
                verify_admin_password(pepper, pw, hash),
                "{}",
                admin["admin_row"]["username"]
            );
            assert!(!verify_admin_password(pepper, "wrong", hash));
            checked += 1;
        }
    }
    assert!(checked >= 3, "checked {checked} hashes");
}
