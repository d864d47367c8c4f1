//! Reading privacyIDEA's `pi.cfg`.
//!
//! privacyIDEA loads `pi.cfg` by executing it as Python (Flask's `from_pyfile`). pi-manage
//! never runs the file's code by itself: it understands a small, safe subset of Python —
//! imports of `os`, `os.path` and `logging`; assignments (lowercase helper names are bound,
//! UPPERCASE names become settings); literals, f-strings, arithmetic and `%` formatting,
//! comparisons, `and`/`or`/`not`, conditional expressions, subscripts; and calls from a fixed
//! allow-list ([`builtins`]) — and evaluates it with Python's semantics. Every construct
//! beyond that is reported, all of them in one run, each as `file:line:column: message`.
//! `--picfg-python` ([`python`]) is the way out for files beyond the subset.
//!
//! Pipeline: [`lexer`] → [`parser`] (syntax tree in [`ast`]) → [`check`] (the allow-list,
//! over the whole file) → [`eval`] (with [`ops`], [`format`] and [`builtins`]) → settings.
//!
//! Values may be secrets (`SECRET_KEY`, `PI_PEPPER`, database passwords, anything from the
//! environment or a file): no error message and no `Debug` output ever contains a value.

mod ast;
pub mod builtins;
mod check;
mod diagnostic;
mod eval;
mod format;
mod lexer;
mod ops;
mod parser;
pub mod python;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use diagnostic::{Position, Problem, HINT};
pub use value::PyValue;

use builtins::Host;
use diagnostic::Location;

/// The largest pi.cfg read (real ones are a few KiB).
pub const MAX_FILE: u64 = 1 << 20;

/// An environment lookup (injectable for tests, like `settings::Env`).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn no_env(_: &str) -> Option<String> {
    None
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The settings of one `pi.cfg`. `Debug` shows the path and the setting names only.
#[derive(Clone)]
pub struct PiCfg {
    /// In first-assignment order; a later assignment replaces value and position in place.
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    path: Option<PathBuf>,
    notes: Vec<String>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    value: PyValue,
    position: Position,
}

impl PiCfg {
    fn empty(path: Option<&Path>) -> PiCfg {
        PiCfg {
            entries: Vec::new(),
            index: HashMap::new(),
            path: path.map(Path::to_path_buf),
            notes: Vec::new(),
        }
    }

    /// Evaluates pi.cfg text that is not read from the installation's file (a pi.cfg inside a
    /// backup): no environment variable is set, no file can be read, `__file__` is unknown.
    pub fn parse(text: &str) -> Result<PiCfg, PiCfgError> {
        PiCfg::evaluate(
            text,
            None,
            &Host {
                env: &no_env,
                files: false,
            },
        )
    }

    /// Reads and evaluates the file at `path` with the process environment.
    pub fn load(path: &Path) -> Result<PiCfg, PiCfgError> {
        PiCfg::load_with(path, &process_env)
    }

    /// Reads and evaluates the file at `path`; `os.getenv` and friends read `env`.
    pub fn load_with(path: &Path, env: Env<'_>) -> Result<PiCfg, PiCfgError> {
        let text = read_text(path)?;
        PiCfg::evaluate(&text, Some(path), &Host { env, files: true })
    }

    /// Runs the file with a Python interpreter (`--picfg-python`), see [`python`].
    pub fn load_python(path: &Path, interpreter: &Path) -> Result<PiCfg, PiCfgError> {
        let taken = python::run(path, interpreter, python::TIME_LIMIT)?;
        let mut cfg = PiCfg::empty(Some(path));
        for (name, value) in taken.settings {
            cfg.set(name, value, Position::default());
        }
        cfg.notes = taken
            .skipped
            .into_iter()
            .map(|(name, ty)| {
                format!(
                    "{}: the setting {name} was left out: its value is a Python {ty}, which pi-manage cannot take over (only str, int, float, bool, None, lists, tuples and dicts)",
                    path.display()
                )
            })
            .collect();
        Ok(cfg)
    }

    fn evaluate(text: &str, path: Option<&Path>, host: &Host<'_>) -> Result<PiCfg, PiCfgError> {
        // Python ignores a UTF-8 byte order mark and reads source with universal newlines.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut chars = Vec::with_capacity(text.len());
        let mut it = text.chars().peekable();
        while let Some(c) = it.next() {
            if c == '\r' {
                it.next_if_eq(&'\n');
                chars.push('\n');
            } else {
                chars.push(c);
            }
        }
        let problems_err = |mut problems: Vec<Problem>| {
            problems.sort_by_key(|p| p.pos);
            PiCfgError::Problems {
                path: path.map(Path::to_path_buf),
                problems,
            }
        };
        let (stmts, mut problems) = parser::parse_file(&chars);
        problems.extend(check::check(&stmts, path.is_some()));
        if !problems.is_empty() {
            return Err(problems_err(problems));
        }
        let file = path.map(|p| p.display().to_string());
        let (assignments, problems) = eval::run(&stmts, host, file.as_deref());
        if !problems.is_empty() {
            return Err(problems_err(problems));
        }
        let mut cfg = PiCfg::empty(path);
        for a in assignments {
            cfg.set(a.name, a.value, a.pos);
        }
        Ok(cfg)
    }

    pub fn get(&self, name: &str) -> Option<&PyValue> {
        self.entry(name).map(|e| &e.value)
    }

    /// Where the (last) assignment of `name` starts: the name's first character. Line 0 for
    /// settings taken from `--picfg-python`.
    pub fn position(&self, name: &str) -> Option<Position> {
        self.entry(name).map(|e| e.position)
    }

    /// Setting names in first-assignment order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The file this was loaded from; `None` after [`PiCfg::parse`].
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Notes for the operator (settings `--picfg-python` had to leave out); never values.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A string setting: Ok(None) when absent, Err when present but not a str (message names
    /// the key, the expected and actual Python type, and file:line:column). `bytes` that are
    /// valid UTF-8 count as a string, like [`PyValue::as_str`].
    pub fn get_str(&self, name: &str) -> Result<Option<&str>, PiCfgError> {
        let Some(entry) = self.entry(name) else {
            return Ok(None);
        };
        match entry.value.as_str() {
            Some(s) => Ok(Some(s)),
            None => Err(PiCfgError::WrongType {
                path: self.path.clone(),
                position: entry.position,
                name: entry.name.clone(),
                expected: "str",
                found: entry.value.type_name(),
            }),
        }
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    fn set(&mut self, name: String, value: PyValue, position: Position) {
        match self.index.get(&name) {
            Some(&i) => {
                let entry = &mut self.entries[i];
                entry.value = value;
                entry.position = position;
            }
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push(Entry {
                    name,
                    value,
                    position,
                });
            }
        }
    }
}

impl fmt::Debug for PiCfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiCfg")
            .field("path", &self.path)
            .field("names", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// Reads pi.cfg as UTF-8: a regular file (never a FIFO or device), at most [`MAX_FILE`].
fn read_text(path: &Path) -> Result<String, PiCfgError> {
    use crate::input_file::{self, InputFileError};
    let problem = |line, column, message: String| PiCfgError::Problems {
        path: Some(path.to_path_buf()),
        problems: vec![Problem::new(Position::new(line, column), message)],
    };
    match input_file::read_bytes(path, MAX_FILE).and_then(input_file::utf8) {
        Ok(text) => Ok(text),
        Err(InputFileError::Io(source)) => Err(PiCfgError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Err(InputFileError::TooLarge(_)) => Err(problem(
            1,
            1,
            format!(
                "the file is larger than {} KiB; a pi.cfg is a few KiB",
                MAX_FILE / 1024
            ),
        )),
        Err(InputFileError::NotUtf8 { line, column }) => {
            Err(problem(line, column, "the file is not valid UTF-8".into()))
        }
        Err(e) => Err(problem(1, 1, e.to_string())),
    }
}

/// Python's `ast.literal_eval` for strings, bytes, numbers (with a sign), `True`, `False`,
/// `None`, lists, tuples and dicts; `None` when the text is anything else.
pub fn literal_eval(text: &str) -> Option<PyValue> {
    let chars: Vec<char> = text.trim().chars().collect();
    let expr = parser::parse_expression(&chars).ok()?;
    literal(&expr)
}

fn literal(e: &ast::Expr) -> Option<PyValue> {
    use ast::{ExprKind, UnaryOp};
    Some(match &e.kind {
        ExprKind::Const(v) => v.clone(),
        ExprKind::Unary(op @ (UnaryOp::Neg | UnaryOp::Pos), inner) => match &inner.kind {
            ExprKind::Const(v @ (PyValue::Int(_) | PyValue::Float(_))) => {
                ops::negate(v, *op == UnaryOp::Neg).ok()?
            }
            _ => return None,
        },
        ExprKind::List(items) => PyValue::List(items.iter().map(literal).collect::<Option<_>>()?),
        ExprKind::Tuple(items) => PyValue::Tuple(items.iter().map(literal).collect::<Option<_>>()?),
        ExprKind::Dict(pairs) => {
            let mut out: Vec<(PyValue, PyValue)> = Vec::new();
            for (k, v) in pairs {
                let key = literal(k)?;
                if !value::is_hashable(&key) {
                    return None;
                }
                let value = literal(v)?;
                match out.iter_mut().find(|(x, _)| value::py_eq(x, &key)) {
                    Some(pair) => pair.1 = value,
                    None => out.push((key, value)),
                }
            }
            PyValue::Dict(out)
        }
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PiCfgError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem of the file, sorted by position, then the hint.
    #[error("{}", render_problems(.path.as_deref(), .problems))]
    Problems {
        path: Option<PathBuf>,
        problems: Vec<Problem>,
    },
    #[error("{}: {name} must be a {expected}, not {found}", Location(.path.as_deref(), *.position))]
    WrongType {
        path: Option<PathBuf>,
        position: Position,
        name: String,
        expected: &'static str,
        found: &'static str,
    },
    /// `--picfg-python` could not take the settings over.
    #[error("{0}")]
    Python(String),
}

fn render_problems(path: Option<&Path>, problems: &[Problem]) -> String {
    let mut out = String::new();
    if problems.len() > 1 {
        out.push_str(&format!(
            "{} problems in {}:\n",
            problems.len(),
            path.map_or_else(|| "pi.cfg".to_string(), |p| p.display().to_string())
        ));
    }
    for p in problems {
        out.push_str(&format!("{}: {}\n", Location(path, p.pos), p.message));
    }
    out.push_str(HINT);
    out
}

#[cfg(test)]
mod tests;
