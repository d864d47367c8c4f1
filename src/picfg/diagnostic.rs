//! Positions and problems found in a pi.cfg, and how they are shown: every problem of a file
//! as `file:line:column: message`, then one hint naming `--picfg-python`.
//!
//! Messages are built from fixed text, Python type names, identifiers and environment variable
//! names written literally in the file — never from a value, which may be a secret.

use std::fmt;
use std::path::Path;

/// 1-based line and column; columns count characters, not bytes. Line 0 means "no position"
/// (settings taken back from `--picfg-python`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    pub(crate) fn new(line: usize, column: usize) -> Self {
        Position { line, column }
    }
}

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: Position,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(pos: Position, message: impl Into<String>) -> Self {
        Problem {
            pos,
            message: message.into(),
        }
    }
}

/// The hint after a list of problems.
pub const HINT: &str = concat!(
    "hint: pi-manage reads pi.cfg without running it and understands a subset of Python (README, \"pi.cfg\"): ",
    "imports of os, os.path and logging, assignments, literals, f-strings, + - * / // %, comparisons, and/or/not, ",
    "A if C else B, subscripts, and the calls ",
    "os.getenv, os.environ.get, os.environ[...], os.path.join/exists/isfile/isdir/dirname/basename/abspath/expanduser, open(path).read(), the str methods strip/rstrip/lstrip/split/lower/upper/replace/format/startswith/endswith, int, str, bool, float, len, logging.getLevelName. ",
    "For a file beyond that, pass --picfg-python PATH (or set PIM_PICFG_PYTHON) to let that Python interpreter, e.g. privacyIDEA's own venv python, execute the file"
);

/// `path:line:column` when the file is known, else `line L, column C`; `path` alone (or
/// nothing) without a position.
pub(crate) struct Location<'a>(pub Option<&'a Path>, pub Position);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Position { line, column } = self.1;
        match (self.0, line) {
            (Some(path), 0) => write!(f, "{}", path.display()),
            (Some(path), _) => write!(f, "{}:{line}:{column}", path.display()),
            (None, 0) => f.write_str("pi.cfg"),
            (None, _) => write!(f, "line {line}, column {column}"),
        }
    }
}
