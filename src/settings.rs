//! Resolved settings for one run: which pi.cfg was read and what it (or a job file, or the
//! environment) says about the databases, keys and secrets — with privacyIDEA's defaults.
//!
//! Precedence, as privacyIDEA (reference §0.1): pi.cfg wins over `PRIVACYIDEA_<KEY>`
//! environment variables, which win over the built-in defaults (`DATABASE_URL` for the
//! database URI, `"Never know..."` for the pepper). A job file's `connection.database`
//! wins over all of them.

use std::path::{Path, PathBuf};

use crate::dburl::{DbUrl, DbUrlError};
use crate::picfg::{PiCfg, PiCfgError};
use crate::secret::Secret;

/// Where privacyIDEA looks for its configuration when `PRIVACYIDEA_CONFIGFILE` is not set.
pub const DEFAULT_PICFG: &str = "/etc/privacyidea/pi.cfg";
/// privacyIDEA's pepper when pi.cfg sets none (not an empty string).
pub const DEFAULT_PEPPER: &str = "Never know...";

/// Everything the tasks need to know about an installation.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The pi.cfg that was read, if any.
    pub picfg_path: Option<PathBuf>,
    pub database: DbUrl,
    /// `PI_AUDIT_SQL_URI` when it names another database than `database`.
    pub audit_database: Option<DbUrl>,
    pub encfile: Option<PathBuf>,
    pub secret_key: Option<Secret>,
    pub pepper: Secret,
    pub audit_key_private: Option<PathBuf>,
    pub audit_key_public: Option<PathBuf>,
    pub audit_module: Option<String>,
    /// Notes about reading pi.cfg for the operator (settings `--picfg-python` left out).
    pub notes: Vec<String>,
    /// `PI_AUDIT_NO_SIGN` (Python truthiness): audit entries are not signed, and privacyIDEA
    /// neither needs nor checks the audit keys.
    pub audit_no_sign: bool,
    /// How this node names itself to privacyIDEA's periodic tasks and node-specific realms.
    pub node: NodeSettings,
    /// `PI_REDIS_CACHE_AUTH` (Python truthiness): cached authentications live in Redis and the
    /// `authcache` table only gets entries written while Redis was unreachable (reference §6).
    pub redis_cache_auth: bool,
}

/// The pi.cfg keys that name this privacyIDEA node (reference §0.1, §0.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSettings {
    /// `PI_NODE`, the node name periodic tasks are scheduled on.
    pub pi_node: Option<String>,
    /// `PI_AUDIT_SERVERNAME`, the node name when `PI_NODE` is not set.
    pub audit_servername: Option<String>,
    /// `PI_NODE_UUID`, the node's UUID for node-specific realm resolvers.
    pub node_uuid: Option<String>,
    /// `PI_UUID_FILE`, where privacyIDEA keeps the UUID otherwise.
    pub uuid_file: Option<PathBuf>,
}

/// What to read settings from.
#[derive(Debug, Clone, Default)]
pub struct SettingsRequest {
    /// A pi.cfg named explicitly (`--picfg`, or a job file's `connection.picfg`): it must exist.
    pub explicit_picfg: Option<PathBuf>,
    /// Database URLs given directly (a job file's `connection`), overriding pi.cfg.
    pub database: Option<String>,
    pub audit_database: Option<String>,
    /// `--picfg-python`: the interpreter that executes pi.cfg instead of pi-manage's own
    /// evaluator.
    pub picfg_python: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    PiCfg(#[from] PiCfgError),
    #[error("pi.cfg not found at {path}{hint}")]
    NotFound { path: PathBuf, hint: &'static str },
    /// `place` names the file with `:line:column` (the file's start: nothing is there).
    #[error("{place}: pi.cfg sets no SQLALCHEMY_DATABASE_URI, so there is no database to work on")]
    NoDatabase { place: String },
    /// A key file setting names something that is not a regular file within the limit
    /// (`/dev/zero`, a FIFO, a directory, a huge file). Missing files are left to the tasks
    /// that create them.
    #[error("{place}: {key} names {path}: {error}")]
    BadKeyFile {
        key: &'static str,
        place: String,
        path: String,
        error: crate::input_file::InputFileError,
    },
    /// `place` is `file:line:column` of the assignment, or where the value came from.
    #[error("{place}: {key}: {error}")]
    BadUrl {
        key: &'static str,
        place: String,
        error: DbUrlError,
    },
}

/// Read an environment variable (injectable for tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The pi.cfg privacyIDEA itself would read: `PRIVACYIDEA_CONFIGFILE`, else the default.
pub fn default_picfg_path(env: Env<'_>) -> PathBuf {
    env("PRIVACYIDEA_CONFIGFILE")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PICFG))
}

impl Settings {
    /// Settings for a database given directly, with privacyIDEA's defaults for the rest.
    pub fn for_database(database: DbUrl) -> Settings {
        Settings {
            picfg_path: None,
            database,
            audit_database: None,
            encfile: None,
            secret_key: None,
            pepper: Secret::new(DEFAULT_PEPPER),
            audit_key_private: None,
            audit_key_public: None,
            audit_module: None,
            notes: Vec::new(),
            audit_no_sign: false,
            node: NodeSettings::default(),
            redis_cache_auth: false,
        }
    }

    /// Resolve settings for a request. A relative pi.cfg path is taken relative to the working
    /// directory here, once, so that everything after (its directory for backups, `__file__`,
    /// messages) sees the absolute path.
    pub fn resolve(req: &SettingsRequest, env: Env<'_>) -> Result<Settings, SettingsError> {
        let (path, explicit) = match &req.explicit_picfg {
            Some(p) => (p.clone(), true),
            None => (default_picfg_path(env), false),
        };
        let path = absolute(&path);
        let cfg = if path.exists() {
            Some(match &req.picfg_python {
                Some(python) => PiCfg::load_python(&path, python)?,
                None => PiCfg::load_with(&path, env)?,
            })
        } else if explicit || req.database.is_none() {
            return Err(SettingsError::NotFound {
                path,
                hint: if explicit {
                    ""
                } else {
                    " (pass --picfg PATH, set PRIVACYIDEA_CONFIGFILE, or name the database in the job file's connection)"
                },
            });
        } else {
            None
        };
        Settings::from_parts(cfg.as_ref(), req, env)
    }

    /// Build settings from a parsed pi.cfg (if any), the request's overrides and the environment.
    pub fn from_parts(
        cfg: Option<&PiCfg>,
        req: &SettingsRequest,
        env: Env<'_>,
    ) -> Result<Settings, SettingsError> {
        let source_name = cfg
            .and_then(|c| c.path().map(|p| p.display().to_string()))
            .unwrap_or_else(|| "the configuration".to_string());
        // pi.cfg first, then PRIVACYIDEA_<KEY> from the environment.
        let get = |key: &str| -> Result<Option<String>, SettingsError> {
            if let Some(c) = cfg {
                if let Some(v) = c.get_str(key)? {
                    return Ok(Some(v.to_string()));
                }
            }
            Ok(env(&format!("PRIVACYIDEA_{key}")).map(|v| unquote_json_string(&v)))
        };
        // Where a setting was written: pi.cfg's assignment (file:line:column) when it came
        // from there, else the environment variable or the job file.
        let place = |key: &str| -> String {
            let in_file = cfg.and_then(|c| {
                let path = c.path()?;
                let pos = c.position(key).filter(|p| p.line > 0)?;
                c.get(key)?;
                Some(format!("{}:{}:{}", path.display(), pos.line, pos.column))
            });
            in_file.unwrap_or_else(|| match cfg.and_then(|c| c.get(key)) {
                Some(_) => source_name.clone(),
                None if key == "database" => "the job file's connection".to_string(),
                None if key == "SQLALCHEMY_DATABASE_URI"
                    && env(&format!("PRIVACYIDEA_{key}")).is_none() =>
                {
                    "the environment (DATABASE_URL)".to_string()
                }
                None => format!("the environment (PRIVACYIDEA_{key})"),
            })
        };
        let parse_url = |key: &'static str, text: &str| {
            DbUrl::parse(text).map_err(|error| SettingsError::BadUrl {
                key,
                place: place(key),
                error,
            })
        };
        let database = match &req.database {
            Some(u) => parse_url("database", u)?,
            None => match get("SQLALCHEMY_DATABASE_URI")?.or_else(|| env("DATABASE_URL")) {
                Some(u) => parse_url("SQLALCHEMY_DATABASE_URI", &u)?,
                None => {
                    let place = match cfg.and_then(|c| c.path()) {
                        Some(p) => format!("{}:1:1", p.display()),
                        None => source_name.clone(),
                    };
                    return Err(SettingsError::NoDatabase { place });
                }
            },
        };
        let audit_text = match &req.audit_database {
            Some(u) => Some(u.clone()),
            None if req.database.is_some() => None,
            None => get("PI_AUDIT_SQL_URI")?,
        };
        let audit_database = match audit_text {
            Some(u) => Some(parse_url("PI_AUDIT_SQL_URI", &u)?).filter(|a| *a != database),
            None => None,
        };
        // Key files are read by tasks; one that could never be read is refused now (exit 2),
        // at the setting that names it.
        for key in ["PI_ENCFILE", "PI_AUDIT_KEY_PRIVATE", "PI_AUDIT_KEY_PUBLIC"] {
            let Some(path) = get(key)? else { continue };
            if let Err(error) =
                crate::input_file::check_regular(Path::new(&path), crate::input_file::MAX_SECRET)
            {
                if !error.is_not_found() {
                    return Err(SettingsError::BadKeyFile {
                        key,
                        place: place(key),
                        path,
                        error,
                    });
                }
            }
        }
        Ok(Settings {
            picfg_path: cfg.and_then(|c| c.path().map(Path::to_path_buf)),
            database,
            audit_database,
            encfile: get("PI_ENCFILE")?.map(PathBuf::from),
            secret_key: get("SECRET_KEY")?.map(Secret::new),
            pepper: Secret::new(get("PI_PEPPER")?.unwrap_or_else(|| DEFAULT_PEPPER.to_string())),
            audit_key_private: get("PI_AUDIT_KEY_PRIVATE")?.map(PathBuf::from),
            audit_key_public: get("PI_AUDIT_KEY_PUBLIC")?.map(PathBuf::from),
            audit_module: get("PI_AUDIT_MODULE")?,
            notes: cfg.map(|c| c.notes().to_vec()).unwrap_or_default(),
            audit_no_sign: match cfg.and_then(|c| c.get("PI_AUDIT_NO_SIGN")) {
                Some(v) => v.truthy(),
                None => env("PRIVACYIDEA_PI_AUDIT_NO_SIGN").is_some_and(|v| json_truthy(&v)),
            },
            node: NodeSettings {
                pi_node: get("PI_NODE")?,
                audit_servername: get("PI_AUDIT_SERVERNAME")?,
                node_uuid: get("PI_NODE_UUID")?,
                uuid_file: get("PI_UUID_FILE")?.map(PathBuf::from),
            },
            redis_cache_auth: match cfg.and_then(|c| c.get("PI_REDIS_CACHE_AUTH")) {
                Some(v) => v.truthy(),
                None => env("PRIVACYIDEA_PI_REDIS_CACHE_AUTH").is_some_and(|v| json_truthy(&v)),
            },
        })
    }
}

/// `path` made absolute against the working directory (unchanged when that is unknown).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Python's truth value of a `PRIVACYIDEA_*` value, which Flask parses as JSON when it can.
fn json_truthy(v: &str) -> bool {
    use serde_json::Value as J;
    match serde_json::from_str::<J>(v) {
        Ok(J::Null) => false,
        Ok(J::Bool(b)) => b,
        Ok(J::Number(n)) => n.as_f64() != Some(0.0),
        Ok(J::String(s)) => !s.is_empty(),
        Ok(J::Array(a)) => !a.is_empty(),
        Ok(J::Object(o)) => !o.is_empty(),
        Err(_) => !v.is_empty(),
    }
}

/// Flask parses `PRIVACYIDEA_*` values as JSON when it can; for strings that means a quoted
/// value loses its quotes.
fn unquote_json_string(v: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn audit_no_sign_is_python_truthiness() {
        let s = |text: &str, env: &dyn Fn(&str) -> Option<String>| {
            let cfg =
                PiCfg::parse(&format!("SQLALCHEMY_DATABASE_URI = 'sqlite://'\n{text}")).unwrap();
            Settings::from_parts(Some(&cfg), &SettingsRequest::default(), env)
                .unwrap()
                .audit_no_sign
        };
        assert!(!s("", &no_env));
        assert!(s("PI_AUDIT_NO_SIGN = True", &no_env));
        assert!(s("PI_AUDIT_NO_SIGN = 1", &no_env));
        assert!(!s("PI_AUDIT_NO_SIGN = False", &no_env));
        assert!(!s("PI_AUDIT_NO_SIGN = ''", &no_env));
        let env_true = |k: &str| (k == "PRIVACYIDEA_PI_AUDIT_NO_SIGN").then(|| "true".to_string());
        let env_false =
            |k: &str| (k == "PRIVACYIDEA_PI_AUDIT_NO_SIGN").then(|| "false".to_string());
        assert!(s("", &env_true));
        assert!(!s("", &env_false));
    }

    #[test]
    fn node_keys_and_the_redis_auth_cache() {
        let cfg = PiCfg::parse(
            "SQLALCHEMY_DATABASE_URI = 'sqlite://'\nPI_NODE = 'n1'\nPI_AUDIT_SERVERNAME = 'a1'\nPI_NODE_UUID = 'u'\nPI_REDIS_CACHE_AUTH = True\n",
        )
        .unwrap();
        let s = Settings::from_parts(Some(&cfg), &SettingsRequest::default(), &no_env).unwrap();
        assert_eq!(s.node.pi_node.as_deref(), Some("n1"));
        assert_eq!(s.node.audit_servername.as_deref(), Some("a1"));
        assert_eq!(s.node.node_uuid.as_deref(), Some("u"));
        assert!(s.redis_cache_auth);
        let cfg = PiCfg::parse("SQLALCHEMY_DATABASE_URI = 'sqlite://'\n").unwrap();
        let env = |k: &str| (k == "PRIVACYIDEA_PI_REDIS_CACHE_AUTH").then(|| "false".to_string());
        let s = Settings::from_parts(Some(&cfg), &SettingsRequest::default(), &env).unwrap();
        assert!(!s.redis_cache_auth);
        assert_eq!(s.node, NodeSettings::default());
    }

    #[test]
    fn reads_picfg_with_defaults() {
        let cfg = PiCfg::parse(
            "SQLALCHEMY_DATABASE_URI = 'sqlite:////var/lib/pi.sqlite'\nSECRET_KEY = 's3cr3t'\n",
        )
        .unwrap();
        let s = Settings::from_parts(Some(&cfg), &SettingsRequest::default(), &no_env).unwrap();
        assert_eq!(
            s.database.redacted(),
            "sqlite:///var/lib/pi.sqlite".replace("sqlite:/", "sqlite://")
        );
        assert_eq!(s.pepper.expose(), DEFAULT_PEPPER);
        assert_eq!(s.secret_key.as_ref().unwrap().expose(), "s3cr3t");
        assert!(s.audit_database.is_none());
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }

    #[test]
    fn separate_audit_database_and_env_fallbacks() {
        let cfg = PiCfg::parse("SQLALCHEMY_DATABASE_URI = 'postgresql://pi:pw@db/pi'\nPI_AUDIT_SQL_URI = 'postgresql://pi:pw@db/audit'\n").unwrap();
        let env = |k: &str| match k {
            "PRIVACYIDEA_PI_PEPPER" => Some("\"pep\"".to_string()),
            "PRIVACYIDEA_SQLALCHEMY_DATABASE_URI" => Some("sqlite:////ignored".to_string()),
            _ => None,
        };
        let s = Settings::from_parts(Some(&cfg), &SettingsRequest::default(), &env).unwrap();
        assert_eq!(s.database.database.as_deref(), Some("pi"));
        assert_eq!(s.audit_database.unwrap().database.as_deref(), Some("audit"));
        assert_eq!(s.pepper.expose(), "pep");
    }

    #[test]
    fn job_connection_overrides_and_missing_uri() {
        let cfg = PiCfg::parse("PI_PEPPER = 'x'\n").unwrap();
        let err =
            Settings::from_parts(Some(&cfg), &SettingsRequest::default(), &no_env).unwrap_err();
        assert!(err.to_string().contains("sets no SQLALCHEMY_DATABASE_URI"));
        let req = SettingsRequest {
            database: Some("sqlite:////tmp/x.sqlite".into()),
            ..Default::default()
        };
        let s = Settings::from_parts(Some(&cfg), &req, &no_env).unwrap();
        assert_eq!(s.database.database.as_deref(), Some("/tmp/x.sqlite"));
        let env = |k: &str| (k == "DATABASE_URL").then(|| "sqlite:////env.sqlite".to_string());
        let s = Settings::from_parts(None, &SettingsRequest::default(), &env).unwrap();
        assert_eq!(s.database.database.as_deref(), Some("/env.sqlite"));
    }

    #[test]
    fn missing_picfg_is_reported_with_a_hint() {
        let env =
            |k: &str| (k == "PRIVACYIDEA_CONFIGFILE").then(|| "/nonexistent/pi.cfg".to_string());
        let e = Settings::resolve(&SettingsRequest::default(), &env).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("pi.cfg not found at /nonexistent/pi.cfg (pass --picfg"),
            "{e}"
        );
    }
}
