//! pi.cfg as real installations write it: privacyIDEA's documented example, the official
//! Docker image's environment-driven file, a hand-written one with helpers — each evaluated
//! with an injected environment to the expected settings; a refused file reports every
//! problem with its place (library and binary, never a secret); `--picfg-python` runs a file
//! beyond the subset with the system's python3.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use pi_manage::picfg::{python, PiCfg, PiCfgError, PyValue};
use pi_manage::settings::{Settings, SettingsRequest};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/picfg");

/// A fixture copied to `dir/pi.cfg` (so `__file__` is the temporary file).
fn install(dir: &Path, fixture: &str) -> PathBuf {
    let path = dir.join("pi.cfg");
    std::fs::copy(Path::new(FIXTURES).join(fixture), &path).unwrap();
    path
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

fn s(t: &str) -> PyValue {
    PyValue::Str(t.into())
}

fn strs(cfg: &PiCfg, name: &str) -> String {
    cfg.get_str(name)
        .unwrap()
        .unwrap_or_else(|| panic!("{name} is set"))
        .to_string()
}

fn int(cfg: &PiCfg, name: &str) -> i64 {
    match cfg.get(name) {
        Some(PyValue::Int(i)) => *i,
        other => panic!("{name}: not an int: {other:?}"),
    }
}

#[test]
fn privacyideas_documented_example() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), "canonical.cfg");
    let cfg = PiCfg::load_with(&path, &env(&[])).unwrap();
    assert_eq!(
        cfg.names().collect::<Vec<_>>(),
        [
            "SUPERUSER_REALM",
            "SQLALCHEMY_DATABASE_URI",
            "SECRET_KEY",
            "PI_PEPPER",
            "PI_ENCFILE",
            "PI_AUDIT_KEY_PRIVATE",
            "PI_AUDIT_KEY_PUBLIC",
            "PI_LOGFILE",
            "PI_LOGLEVEL"
        ]
    );
    assert_eq!(int(&cfg, "PI_LOGLEVEL"), 20);
    assert_eq!(
        cfg.get("SUPERUSER_REALM"),
        Some(&PyValue::List(vec![s("super"), s("administrators")]))
    );
    let settings =
        Settings::from_parts(Some(&cfg), &SettingsRequest::default(), &env(&[])).unwrap();
    assert_eq!(
        settings.database.database.as_deref(),
        Some("/etc/privacyidea/data.sqlite")
    );
    assert_eq!(settings.secret_key.unwrap().expose(), "t0p s3cr3t");
    assert_eq!(settings.pepper.expose(), "Never know...");
    assert_eq!(
        settings.encfile,
        Some(PathBuf::from("/etc/privacyidea/enckey"))
    );
}

#[test]
fn the_docker_images_environment_driven_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), "docker.cfg");
    let secret_file = dir.path().join("secret_key");
    std::fs::write(&secret_file, "jwt-secret-from-a-docker-secret\n").unwrap();
    let secret_path = secret_file.display().to_string();
    // A server database, SECRET_KEY from a file, PI_PEPPER directly from the environment.
    let server = env(&[
        ("DB_VENDOR", "mysql+pymysql"),
        ("DB_USER", "pi"),
        ("DB_PASSWORD", "db-pass-w0rd"),
        ("DB_HOST", "mariadb"),
        ("DB_PORT", "3306"),
        ("DB_NAME", "privacyidea"),
        ("PI_SECRET", &secret_path),
        ("PI_PEPPER", "pepper-from-env"),
        ("PI_LOGLEVEL", "warning"),
        ("PI_SUPERUSER_REALM", "admins"),
        ("PI_AUDIT_SQL_TRUNCATE", "false"),
    ]);
    let cfg = PiCfg::load_with(&path, &server).unwrap();
    assert_eq!(
        strs(&cfg, "SQLALCHEMY_DATABASE_URI"),
        "mysql+pymysql://pi:db-pass-w0rd@mariadb:3306/privacyidea"
    );
    assert_eq!(strs(&cfg, "SECRET_KEY"), "jwt-secret-from-a-docker-secret");
    assert_eq!(strs(&cfg, "PI_PEPPER"), "pepper-from-env");
    assert_eq!(int(&cfg, "PI_LOGLEVEL"), 30);
    assert_eq!(
        cfg.get("SUPERUSER_REALM"),
        Some(&PyValue::List(vec![s("admins")]))
    );
    assert!(matches!(
        cfg.get("PI_AUDIT_SQL_TRUNCATE"),
        Some(PyValue::Bool(false))
    ));
    assert_eq!(strs(&cfg, "PI_NODE"), "localnode");
    assert_eq!(strs(&cfg, "PI_ENCFILE"), "/etc/privacyidea/enckey");
    // The same through settings resolution, which passes its environment on.
    let req = SettingsRequest {
        explicit_picfg: Some(path.clone()),
        ..Default::default()
    };
    let settings = Settings::resolve(&req, &server).unwrap();
    assert_eq!(settings.database.host.as_deref(), Some("mariadb"));
    assert_eq!(
        settings.database.password.as_ref().unwrap().expose(),
        "db-pass-w0rd"
    );
    assert_eq!(
        settings.secret_key.as_ref().unwrap().expose(),
        "jwt-secret-from-a-docker-secret"
    );
    assert!(!format!("{settings:?} {cfg:?}").contains("db-pass-w0rd"));

    // Nothing set: the SQLite default; the secrets are None (as in privacyIDEA).
    let cfg = PiCfg::load_with(&path, &env(&[])).unwrap();
    assert_eq!(
        strs(&cfg, "SQLALCHEMY_DATABASE_URI"),
        "sqlite:////data/privacyidea.sqlite"
    );
    assert!(matches!(cfg.get("SECRET_KEY"), Some(PyValue::None)));
    assert_eq!(int(&cfg, "PI_LOGLEVEL"), 20);
    assert!(matches!(
        cfg.get("PI_AUDIT_SQL_TRUNCATE"),
        Some(PyValue::Bool(true))
    ));
    assert_eq!(
        cfg.get("SUPERUSER_REALM"),
        Some(&PyValue::List(vec![s("admin"), s("helpdesk")]))
    );
    // A level name logging does not know: getLevelName returns the text "Level X".
    let cfg = PiCfg::load_with(&path, &env(&[("PI_LOGLEVEL", "verbose")])).unwrap();
    assert_eq!(strs(&cfg, "PI_LOGLEVEL"), "Level VERBOSE");
    // A secret file that is not there: the environment value itself is used.
    let cfg = PiCfg::load_with(&path, &env(&[("PI_SECRET", "/nonexistent/secret")])).unwrap();
    assert_eq!(strs(&cfg, "SECRET_KEY"), "/nonexistent/secret");
}

#[test]
fn a_hand_written_file_with_helpers() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), "handwritten.cfg");
    let base = path.parent().unwrap().display().to_string();
    let cfg = PiCfg::load_with(&path, &env(&[("PI_WORKERS", "6"), ("PI_DEBUG", "1")])).unwrap();
    assert_eq!(
        strs(&cfg, "SQLALCHEMY_DATABASE_URI"),
        format!("sqlite:///{base}/data/privacyidea.sqlite")
    );
    assert_eq!(strs(&cfg, "PI_ENCFILE"), format!("{base}/enckey"));
    assert_eq!(
        strs(&cfg, "PI_AUDIT_KEY_PRIVATE"),
        format!("{base}/private.pem")
    );
    assert_eq!(
        strs(&cfg, "PI_AUDIT_KEY_PUBLIC"),
        format!("{base}/public.pem")
    );
    assert_eq!(strs(&cfg, "SECRET_KEY"), "k".repeat(40));
    assert_eq!(strs(&cfg, "PI_PEPPER"), "pepper-2024");
    assert_eq!(
        strs(&cfg, "PI_LOGFILE"),
        format!("{base}/log/privacyidea.log")
    );
    assert_eq!(int(&cfg, "PI_LOGLEVEL"), 10);
    assert_eq!(int(&cfg, "PI_TOKEN_LIMIT"), 75);
    assert!(matches!(cfg.get("PI_RATIO"), Some(PyValue::Float(x)) if *x == 0.75));
    assert_eq!(
        cfg.get("PI_NODES"),
        Some(&PyValue::List(vec![
            s("node-01"),
            s("node-2"),
            s("node-  6")
        ]))
    );
    assert_eq!(
        cfg.get("PI_CUSTOM"),
        Some(&PyValue::Dict(vec![
            (s("title"), s("privacyIDEA on TEST")),
            (s("port"), PyValue::Int(443))
        ]))
    );
    assert!(matches!(
        cfg.get("PI_AUDIT_SQL_TRUNCATE"),
        Some(PyValue::Bool(true))
    ));
    // Lowercase helpers are not settings.
    assert!(cfg.get("basedir").is_none() && cfg.get("workers").is_none());
    assert_eq!(cfg.names().count(), 14);
    let cfg = PiCfg::load_with(&path, &env(&[("PI_DB_NAME", "other")])).unwrap();
    assert!(strs(&cfg, "SQLALCHEMY_DATABASE_URI").ends_with("/data/other.sqlite"));
    assert_eq!(int(&cfg, "PI_LOGLEVEL"), 20);
    assert_eq!(int(&cfg, "PI_TOKEN_LIMIT"), 50);
}

#[test]
fn every_refused_construct_is_reported_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), "refused.cfg");
    let e = PiCfg::load_with(&path, &env(&[])).unwrap_err();
    let PiCfgError::Problems { problems, .. } = &e else {
        panic!("{e}");
    };
    let got: Vec<(usize, usize)> = problems
        .iter()
        .map(|p| (p.pos.line, p.pos.column))
        .collect();
    assert_eq!(
        got,
        [(2, 8), (4, 1), (6, 25), (7, 31), (8, 23), (9, 22)],
        "{e}"
    );
    let text = e.to_string();
    let p = path.display();
    for line in [
        format!("{p}:2:8: importing 'subprocess' is not supported"),
        format!("{p}:4:1: 'for' statements are not supported"),
        format!("{p}:6:25: calling 'subprocess.check_output' is not supported"),
        format!("{p}:7:31: the operator '**' is not supported"),
        format!("{p}:8:23: comprehensions are not supported"),
        format!("{p}:9:22: calling 'os.path.realpath' is not supported"),
    ] {
        assert!(text.contains(&line), "{line}\n{text}");
    }
    assert!(text.starts_with(&format!("6 problems in {p}:\n")), "{text}");
    assert!(text.contains("--picfg-python"), "{text}");
}

fn pi_manage(cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pi-manage"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("PRIVACYIDEA_CONFIGFILE")
        .env_remove("PIM_PICFG_PYTHON");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn the_binary_lists_every_problem_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), "refused.cfg");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("PI_AUDIT_KEY_PRIVATE = os.environ['PIM_TEST_PEPPER'] + 1\n");
    std::fs::write(&path, text).unwrap();
    let o = pi_manage(
        dir.path(),
        &["--picfg", "pi.cfg", "audit", "rotate"],
        &[("PIM_TEST_PEPPER", "hunter2-pepper")],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    // The relative --picfg is shown resolved; every problem on its own line.
    let p = dir.path().join("pi.cfg");
    let p = p.display();
    assert!(
        err.starts_with(&format!("pi-manage: 6 problems in {p}:\n")),
        "{err}"
    );
    for at in ["2:8", "4:1", "6:25", "7:31", "8:23", "9:22"] {
        assert!(err.contains(&format!("\n{p}:{at}: ")), "{at}: {err}");
    }
    assert!(err.contains("--picfg-python"), "{err}");
    assert!(o.stdout.is_empty());
    // Once the refused constructs are gone, the runtime error is reported, without the value.
    std::fs::write(
        dir.path().join("pi.cfg"),
        "import os\nSQLALCHEMY_DATABASE_URI = 'sqlite:///x'\nPI_PEPPER = os.environ['PIM_TEST_PEPPER'] + 1\n",
    )
    .unwrap();
    let o = pi_manage(
        dir.path(),
        &["--picfg", "pi.cfg", "audit", "rotate"],
        &[("PIM_TEST_PEPPER", "hunter2-pepper")],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{p}:3:43: TypeError: can only concatenate str (not \"int\") to str"
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2") && !String::from_utf8_lossy(&o.stdout).contains("hunter2"));
}

#[test]
fn picfg_python_takes_over_a_file_beyond_the_subset() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), "loop.cfg");
    // pi-manage's own reader refuses the loop.
    assert!(PiCfg::load(&path).is_err());
    let cfg = PiCfg::load_python(&path, Path::new("python3")).unwrap();
    assert_eq!(int(&cfg, "PI_ONE"), 10);
    assert_eq!(int(&cfg, "PI_TWO"), 20);
    assert_eq!(int(&cfg, "PI_THREE"), 30);
    assert_eq!(
        strs(&cfg, "SQLALCHEMY_DATABASE_URI"),
        format!("sqlite:///{}/pi.sqlite", dir.path().display())
    );
    assert_eq!(
        cfg.get("PI_TUPLE"),
        Some(&PyValue::Tuple(vec![
            PyValue::Int(1),
            s("x"),
            PyValue::None,
            PyValue::Bool(true),
            PyValue::Float(2.5)
        ]))
    );
    assert_eq!(
        cfg.get("PI_MAP"),
        Some(&PyValue::Dict(vec![
            (
                PyValue::Int(1),
                PyValue::List(vec![PyValue::Bytes(b"raw".to_vec())])
            ),
            (
                s("k"),
                PyValue::Dict(vec![(s("nested"), PyValue::Tuple(vec![PyValue::Int(1)]))])
            ),
        ]))
    );
    assert!(cfg.get("PI_SET").is_none());
    assert!(cfg.get("lowercase_is_not_a_setting").is_none());
    assert_eq!(cfg.notes().len(), 1);
    assert!(
        cfg.notes()[0].contains("PI_SET was left out: its value is a Python set"),
        "{:?}",
        cfg.notes()
    );
    assert!(!format!("{cfg:?}").contains("loop-secret-value"));

    // Through the binary (PIM_PICFG_PYTHON): create_tables on the SQLite database it names.
    let o = pi_manage(
        dir.path(),
        &["--picfg", path.to_str().unwrap(), "setup", "create_tables"],
        &[
            ("PIM_PICFG_PYTHON", "python3"),
            ("PIM_TEST_SECRET", "hunter2-secret"),
        ],
    );
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(dir.path().join("pi.sqlite").exists());
    assert!(
        err.contains("note: ") && err.contains("PI_SET was left out"),
        "{err}"
    );
    assert!(!out.contains("hunter2") && !err.contains("hunter2"));

    // A file that fails: the exception's type and line, never its message.
    std::fs::write(
        &path,
        "SECRET_KEY = 'hunter2-secret'\n\nraise ValueError(SECRET_KEY)\n",
    )
    .unwrap();
    let e = PiCfg::load_python(&path, Path::new("python3"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("{}:3: ", path.display())), "{e}");
    assert!(e.contains("failed with ValueError"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    std::fs::write(&path, "A = (\n").unwrap();
    let e = PiCfg::load_python(&path, Path::new("python3"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("failed with SyntaxError"), "{e}");
    // A file that prints its secret: stdout is not the result channel.
    std::fs::write(&path, "SECRET_KEY = 'hunter2-secret'\nprint(SECRET_KEY)\n").unwrap();
    let cfg = PiCfg::load_python(&path, Path::new("python3")).unwrap();
    assert_eq!(strs(&cfg, "SECRET_KEY"), "hunter2-secret");
    // A file that hangs is stopped at the time limit.
    std::fs::write(&path, "while True:\n    pass\n").unwrap();
    let started = std::time::Instant::now();
    let e = python::run(&path, Path::new("python3"), Duration::from_secs(1)).unwrap_err();
    assert!(
        e.to_string()
            .contains("did not finish executing the file within 1 s"),
        "{e}"
    );
    // The message proves the limit fired; the bound only catches a run that waited for the
    // file instead of stopping it (generous, for a loaded machine).
    assert!(started.elapsed() < Duration::from_secs(30));
    // An interpreter that does not exist.
    let e = PiCfg::load_python(&path, Path::new("/nonexistent/python")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("--picfg-python: cannot run /nonexistent/python"),
        "{e}"
    );
}
