//! What a running task gets from the executor: the databases (opened lazily), the clock,
//! the interrupt flag, dry-run mode, and where to send its lines and progress.

use crate::clock::Clock;
use crate::db::delete::DeleteObserver;
use crate::db::{self, Connection, DbResult, OpenOptions};
use crate::dburl::DbUrl;
use crate::interrupt::Interrupt;
use crate::settings::Settings;

/// Where a task's output goes. Implemented by the report layer; tasks never print.
pub trait TaskOutput {
    /// One line of task output (shown at once on a terminal, collected for JSON).
    fn message(&mut self, line: &str);
    /// A warning line (privacyIDEA's yellow lines on stderr); by default a plain line.
    fn warning(&mut self, line: &str) {
        self.message(line)
    }
    /// The product of a command that is a secret the operator asked for (the token of `api
    /// createtoken`): shown as `label: value` on a terminal, alone with `-q`, under `key` in
    /// the task's JSON details; never kept in the task's messages. By default a plain line.
    fn product(&mut self, key: &str, label: &str, value: &str) {
        let _ = key;
        self.message(&format!("{label}: {value}"))
    }
    /// A progress observer for a delete of `total` rows (when known).
    fn progress(&mut self, label: &str, total: Option<u64>) -> Box<dyn DeleteObserver>;
    /// Whether progress is shown (then counting rows up front is worth it).
    fn shows_progress(&self) -> bool {
        false
    }
    /// A progress observer for work measured in bytes (backups), `total` when known.
    fn byte_progress(
        &mut self,
        _label: &str,
        _total: Option<u64>,
    ) -> Box<dyn crate::backup::ByteProgress> {
        Box::new(crate::backup::NoByteProgress)
    }
}

/// The main and audit databases of an installation, connected on first use.
pub struct Databases {
    main_url: DbUrl,
    audit_url: DbUrl,
    opts: OpenOptions,
    main: Option<Box<dyn Connection>>,
    audit: Option<Box<dyn Connection>>,
}

impl Databases {
    pub fn new(main_url: DbUrl, audit_url: Option<DbUrl>, opts: OpenOptions) -> Self {
        Databases {
            audit_url: audit_url.unwrap_or_else(|| main_url.clone()),
            main_url,
            opts,
            main: None,
            audit: None,
        }
    }

    /// Databases backed by connections that are already open (tests, benchmarks).
    pub fn from_connections(main: Box<dyn Connection>, audit: Option<Box<dyn Connection>>) -> Self {
        let url = DbUrl::parse("sqlite://").expect("static url");
        Databases {
            main_url: url.clone(),
            audit_url: url,
            opts: OpenOptions::default(),
            main: Some(main),
            audit,
        }
    }

    pub fn main_url(&self) -> &DbUrl {
        &self.main_url
    }

    pub fn audit_is_separate(&self) -> bool {
        self.audit.is_some() || self.audit_url != self.main_url
    }

    /// The main privacyIDEA database (`SQLALCHEMY_DATABASE_URI`).
    pub fn main(&mut self) -> DbResult<&mut dyn Connection> {
        self.main_with(false)
    }

    /// The main database, creating a SQLite file if it does not exist (`create_tables`).
    pub fn main_creating(&mut self) -> DbResult<&mut dyn Connection> {
        self.main_with(true)
    }

    fn main_with(&mut self, create: bool) -> DbResult<&mut dyn Connection> {
        if self.main.is_none() {
            let opts = OpenOptions {
                create,
                ..self.opts.clone()
            };
            self.main = Some(db::open(&self.main_url, &opts)?);
        }
        Ok(self.main.as_deref_mut().expect("just opened"))
    }

    /// The audit database (`PI_AUDIT_SQL_URI`, else the main one).
    pub fn audit(&mut self) -> DbResult<&mut dyn Connection> {
        if self.audit.is_none() {
            if self.audit_url == self.main_url {
                return self.main();
            }
            self.audit = Some(db::open(&self.audit_url, &self.opts)?);
        }
        Ok(self.audit.as_deref_mut().expect("just opened"))
    }
}

/// Everything a task may use while it runs.
pub struct TaskContext<'a> {
    pub dry_run: bool,
    /// The installation: key paths, secrets, pepper (from pi.cfg and the job file).
    pub settings: &'a Settings,
    pub clock: &'a dyn Clock,
    pub interrupt: &'a Interrupt,
    pub databases: &'a mut Databases,
    pub output: &'a mut dyn TaskOutput,
}
