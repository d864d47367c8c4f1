//! Reading privacyIDEA's `pi.cfg` without running it.
//!
//! privacyIDEA loads `pi.cfg` by executing it as Python. We never do that: executing the file
//! would run whatever code it contains with our privileges (and would need a Python
//! interpreter). This module owns the literal subset real installations use:
//! `UPPERCASE_NAME = <literal>` statements whose values are strings, bytes, numbers,
//! `True`/`False`/`None`, lists, tuples and dicts. Anything that would need evaluation
//! (imports, names, calls, attribute access, operators, f-strings) is rejected at the first
//! offending token, with its line and column, so the operator can simplify the file.
//!
//! Values may be secrets (`SECRET_KEY`, `PI_PEPPER`, database passwords): no error message and
//! no `Debug` output ever contains a value's content, nor any other text copied from the file
//! except Python keywords and operators.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

const LITERALS_ONLY: &str =
    "only literal values are supported (strings, numbers, True/False/None, lists, tuples, dicts)";
const UPPERCASE_ONLY: &str = "only UPPERCASE names can be assigned";

/// A literal value from `pi.cfg`. `Debug` prints strings and bytes as `***`.
#[derive(Clone, PartialEq)]
pub enum PyValue {
    Str(String),
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
}

impl PyValue {
    /// A `str`, or `bytes` that are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            PyValue::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// A `bool`, or the `int` 0 or 1 (Python treats both alike in settings).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            PyValue::Bool(b) => Some(*b),
            PyValue::Int(0) => Some(false),
            PyValue::Int(1) => Some(true),
            _ => None,
        }
    }

    /// Python's truth value (`if value:`).
    pub fn is_truthy(&self) -> bool {
        match self {
            PyValue::Str(s) => !s.is_empty(),
            PyValue::Bytes(b) => !b.is_empty(),
            PyValue::Int(i) => *i != 0,
            PyValue::Float(f) => *f != 0.0,
            PyValue::Bool(b) => *b,
            PyValue::None => false,
            PyValue::List(v) | PyValue::Tuple(v) => !v.is_empty(),
            PyValue::Dict(d) => !d.is_empty(),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            PyValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Python's name for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::Str(_) => "str",
            PyValue::Bytes(_) => "bytes",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Bool(_) => "bool",
            PyValue::None => "None",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
        }
    }
}

impl fmt::Debug for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::Str(_) => f.write_str("Str(***)"),
            PyValue::Bytes(_) => f.write_str("Bytes(***)"),
            PyValue::Int(i) => f.debug_tuple("Int").field(i).finish(),
            PyValue::Float(x) => f.debug_tuple("Float").field(x).finish(),
            PyValue::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            PyValue::None => f.write_str("None"),
            PyValue::List(items) => f.debug_tuple("List").field(items).finish(),
            PyValue::Tuple(items) => f.debug_tuple("Tuple").field(items).finish(),
            PyValue::Dict(pairs) => f.debug_tuple("Dict").field(pairs).finish(),
        }
    }
}

/// 1-based line and column; columns count characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The settings of one `pi.cfg`. `Debug` shows the path and the setting names only.
#[derive(Clone)]
pub struct PiCfg {
    /// In first-assignment order; a later assignment replaces value and position in place.
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    path: Option<PathBuf>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    value: PyValue,
    position: Position,
}

impl PiCfg {
    /// Parses `pi.cfg` text. Stops at the first error.
    pub fn parse(text: &str) -> Result<PiCfg, PiCfgError> {
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
        Parser::new(&chars)
            .parse_file()
            .map_err(|e| PiCfgError::Syntax {
                path: None,
                line: e.pos.line,
                column: e.pos.column,
                message: e.message,
            })
    }

    /// Reads and parses the file at `path`; errors carry the path.
    pub fn load(path: &Path) -> Result<PiCfg, PiCfgError> {
        let bytes = std::fs::read(path).map_err(|source| PiCfgError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let pos = end_position(std::str::from_utf8(valid).unwrap_or_default());
                return Err(PiCfgError::Syntax {
                    path: Some(path.to_path_buf()),
                    line: pos.line,
                    column: pos.column,
                    message: "the file is not valid UTF-8".to_string(),
                });
            }
        };
        let mut cfg = PiCfg::parse(&text).map_err(|e| e.with_path(path))?;
        cfg.path = Some(path.to_path_buf());
        Ok(cfg)
    }

    pub fn get(&self, name: &str) -> Option<&PyValue> {
        self.entry(name).map(|e| &e.value)
    }

    /// Where the (last) assignment of `name` starts: the name's first character.
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
                line: entry.position.line,
                column: entry.position.column,
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

#[derive(Debug, thiserror::Error)]
pub enum PiCfgError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", Location(.path.as_deref(), *.line, *.column))]
    Syntax {
        path: Option<PathBuf>,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {name} must be a {expected}, not {found}", Location(.path.as_deref(), *.line, *.column))]
    WrongType {
        path: Option<PathBuf>,
        line: usize,
        column: usize,
        name: String,
        expected: &'static str,
        found: &'static str,
    },
}

impl PiCfgError {
    fn with_path(mut self, file: &Path) -> Self {
        match &mut self {
            PiCfgError::Syntax { path, .. } | PiCfgError::WrongType { path, .. } => {
                *path = Some(file.to_path_buf());
            }
            PiCfgError::Io { .. } => {}
        }
        self
    }
}

/// `path:line:column` when the file is known, else `line L, column C`.
struct Location<'a>(Option<&'a Path>, usize, usize);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "{}:{}:{}", path.display(), self.1, self.2),
            None => write!(f, "line {}, column {}", self.1, self.2),
        }
    }
}

/// The position just after `text`.
fn end_position(text: &str) -> Position {
    let line = text.matches('\n').count() + 1;
    let last = text.rsplit('\n').next().unwrap_or_default();
    Position {
        line,
        column: last.chars().count() + 1,
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

/// A syntax error before the file path is known.
struct Located {
    pos: Position,
    message: String,
}

type PResult<T> = Result<T, Located>;

fn err<T>(pos: Position, message: impl Into<String>) -> PResult<T> {
    Err(Located {
        pos,
        message: message.into(),
    })
}

/// A string literal's value; which one decides `str` vs `bytes`.
enum Lit {
    Text(String),
    Bytes(Vec<u8>),
}

impl Lit {
    fn push_char(&mut self, c: char) {
        match self {
            Lit::Text(s) => s.push(c),
            // Callers only push ASCII into bytes literals (checked where the source is read).
            Lit::Bytes(b) => b.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }

    /// A character given by number (octal or `\x` escape): a code point in `str`, a byte in
    /// `bytes`.
    fn push_code(&mut self, code: u32, pos: Position) -> PResult<()> {
        match self {
            Lit::Text(s) => match char::from_u32(code) {
                Some(c) => s.push(c),
                None => return err(pos, "escape is not a valid Unicode character"),
            },
            Lit::Bytes(b) => match u8::try_from(code) {
                Ok(byte) => b.push(byte),
                Err(_) => return err(pos, "octal escape above \\377 in a bytes literal"),
            },
        }
        Ok(())
    }
}

enum Tok {
    Name(String),
    Str(Lit),
    /// The magnitude; a sign is a separate token, and the range check happens after it is
    /// applied so that `-9223372036854775808` works.
    Int(u64),
    Float(f64),
    /// Punctuation, brackets and operators.
    Op(&'static str),
    /// End of a logical line (never emitted inside brackets).
    Newline,
    Eof,
}

struct Token {
    tok: Tok,
    pos: Position,
}

/// Python's operators and delimiters, longest first so the first match is the longest. We lex
/// operators we never accept so errors can name them (`found the operator '+='`).
const OPERATORS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=",
    ":=", "<<", "<=", "==", ">=", ">>", "@=", "^=", "|=", "%", "&", "(", ")", "*", "+", ",", "-",
    ".", "/", ":", ";", "<", "=", ">", "@", "[", "]", "^", "{", "|", "}", "~",
];

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Keywords that begin a statement, for "'def' statements are not supported".
const STATEMENT_KEYWORDS: &[&str] = &[
    "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
    "except", "finally", "for", "global", "if", "lambda", "nonlocal", "pass", "raise", "return",
    "try", "while", "with", "yield",
];

/// The keyword as a `'static` string (so messages never copy text from the file).
fn keyword(name: &str) -> Option<&'static str> {
    KEYWORDS.iter().copied().find(|k| *k == name)
}

fn is_uppercase_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokens on demand, so the first error in the file is the one reported. Cloneable for cheap
/// look-ahead when describing an error.
#[derive(Clone)]
struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
    line: usize,
    column: usize,
    /// Open brackets: inside them a newline is plain whitespace (implicit line joining).
    depth: usize,
    /// No token yet on the current logical line; only then does leading whitespace matter.
    at_line_start: bool,
}

impl<'a> Lexer<'a> {
    fn new(chars: &'a [char]) -> Self {
        Lexer {
            chars,
            i: 0,
            line: 1,
            column: 1,
            depth: 0,
            at_line_start: true,
        }
    }

    fn pos(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.i + n).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn next_token(&mut self) -> PResult<Token> {
        loop {
            let mut indented = false;
            while let Some(c @ (' ' | '\t' | '\x0c')) = self.peek() {
                indented |= c != '\x0c';
                self.bump();
            }
            let pos = self.pos();
            let Some(c) = self.peek() else {
                return Ok(Token { tok: Tok::Eof, pos });
            };
            match c {
                '#' => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.bump();
                    }
                }
                '\n' => {
                    self.bump();
                    // Blank and comment-only lines end no statement.
                    if self.depth == 0 && !self.at_line_start {
                        self.at_line_start = true;
                        return Ok(Token {
                            tok: Tok::Newline,
                            pos,
                        });
                    }
                }
                '\\' => {
                    if self.peek_at(1) != Some('\n') {
                        return err(
                            pos,
                            "a backslash outside a string must be the last character of its line",
                        );
                    }
                    self.bump();
                    self.bump();
                }
                _ => {
                    // Python rejects an indented statement ("unexpected indent"); accepting it
                    // would hide a mangled file.
                    if self.at_line_start && indented {
                        return err(
                            pos,
                            "unexpected indentation: a statement must start at the beginning of its line",
                        );
                    }
                    self.at_line_start = false;
                    return self.lex_token(c, pos);
                }
            }
        }
    }

    fn lex_token(&mut self, c: char, pos: Position) -> PResult<Token> {
        if c == '\'' || c == '"' {
            return self.lex_string(pos, false, false);
        }
        if is_ident_start(c) {
            let mut name = String::new();
            while let Some(c) = self.peek().filter(|&c| is_ident_continue(c)) {
                name.push(c);
                self.bump();
            }
            if matches!(self.peek(), Some('\'' | '"')) {
                match name.to_ascii_lowercase().as_str() {
                    "r" => return self.lex_string(pos, true, false),
                    "u" => return self.lex_string(pos, false, false),
                    "b" => return self.lex_string(pos, false, true),
                    "br" | "rb" => return self.lex_string(pos, true, true),
                    "f" | "fr" | "rf" => {
                        return err(
                            pos,
                            "f-strings are not supported: pi.cfg is read, never executed; write a plain string",
                        )
                    }
                    "t" | "tr" | "rt" => {
                        return err(
                            pos,
                            "template strings (t-strings) are not supported: pi.cfg is read, never executed; write a plain string",
                        )
                    }
                    // A name followed by a string: the parser reports the name.
                    _ => {}
                }
            }
            return Ok(Token {
                tok: Tok::Name(name),
                pos,
            });
        }
        if c.is_ascii_digit() || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            return self.lex_number(pos);
        }
        let op = OPERATORS.iter().copied().find(|op| {
            op.chars()
                .enumerate()
                .all(|(k, oc)| self.peek_at(k) == Some(oc))
        });
        let Some(op) = op else {
            return err(pos, "unexpected character outside a string");
        };
        for _ in 0..op.len() {
            self.bump();
        }
        match op {
            "(" | "[" | "{" => self.depth += 1,
            ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok(Token {
            tok: Tok::Op(op),
            pos,
        })
    }

    /// A string literal; the lexer stands on the opening quote, `start` is where the prefix
    /// (if any) began.
    fn lex_string(&mut self, start: Position, raw: bool, bytes: bool) -> PResult<Token> {
        let quote_pos = self.pos();
        let Some(quote) = self.bump() else {
            return err(quote_pos, "expected a quote");
        };
        let triple = self.peek() == Some(quote) && self.peek_at(1) == Some(quote);
        if triple {
            self.bump();
            self.bump();
        }
        let unterminated = if triple {
            "unterminated triple-quoted string: the closing quotes are missing"
        } else {
            "unterminated string: the closing quote is missing on this line"
        };
        let mut lit = if bytes {
            Lit::Bytes(Vec::new())
        } else {
            Lit::Text(String::new())
        };
        loop {
            let here = self.pos();
            let Some(c) = self.peek() else {
                return err(quote_pos, unterminated);
            };
            if c == quote {
                self.bump();
                if !triple {
                    break;
                }
                if self.peek() == Some(quote) && self.peek_at(1) == Some(quote) {
                    self.bump();
                    self.bump();
                    break;
                }
                lit.push_char(c);
                continue;
            }
            match c {
                '\n' if !triple => return err(quote_pos, unterminated),
                '\\' => {
                    self.bump();
                    if raw {
                        // A raw string keeps the backslash and the character after it; the
                        // backslash still stops a quote from closing the string.
                        let Some(next) = self.peek() else {
                            return err(quote_pos, unterminated);
                        };
                        if bytes && !next.is_ascii() {
                            return err(self.pos(), NON_ASCII_BYTES);
                        }
                        self.bump();
                        lit.push_char('\\');
                        lit.push_char(next);
                    } else {
                        self.escape(&mut lit, here, quote_pos, unterminated, bytes)?;
                    }
                }
                _ => {
                    if bytes && !c.is_ascii() {
                        return err(here, NON_ASCII_BYTES);
                    }
                    self.bump();
                    lit.push_char(c);
                }
            }
        }
        Ok(Token {
            tok: Tok::Str(lit),
            pos: start,
        })
    }

    /// One escape sequence in a non-raw string; the lexer stands just after the backslash.
    fn escape(
        &mut self,
        lit: &mut Lit,
        esc_pos: Position,
        quote_pos: Position,
        unterminated: &str,
        bytes: bool,
    ) -> PResult<()> {
        let Some(c) = self.peek() else {
            return err(quote_pos, unterminated);
        };
        let simple = match c {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(ch) = simple {
            self.bump();
            lit.push_char(ch);
            return Ok(());
        }
        match c {
            // Backslash-newline inside a string is nothing at all.
            '\n' => {
                self.bump();
                Ok(())
            }
            '0'..='7' => {
                let mut code = 0;
                for _ in 0..3 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            code = code * 8 + d;
                            self.bump();
                        }
                        None => break,
                    }
                }
                lit.push_code(code, esc_pos)
            }
            'x' => {
                self.bump();
                let Some(code) = self.hex_digits(2) else {
                    return err(
                        esc_pos,
                        "truncated \\x escape: \\x must be followed by exactly 2 hex digits",
                    );
                };
                lit.push_code(code, esc_pos)
            }
            'u' | 'U' if !bytes => {
                self.bump();
                let (digits, message) = if c == 'u' {
                    (4, "truncated \\u escape: \\u must be followed by exactly 4 hex digits")
                } else {
                    (8, "truncated \\U escape: \\U must be followed by exactly 8 hex digits")
                };
                let Some(code) = self.hex_digits(digits) else {
                    return err(esc_pos, message);
                };
                match char::from_u32(code) {
                    Some(ch) => {
                        lit.push_char(ch);
                        Ok(())
                    }
                    None => err(
                        esc_pos,
                        "unicode escape is not a valid character (surrogates and values above \\U0010FFFF are not supported)",
                    ),
                }
            }
            'N' if !bytes => err(
                esc_pos,
                "named unicode escapes (\\N{...}) are not supported; write the character itself or use a \\u escape",
            ),
            // Python keeps unknown escapes such as `\d` (and `\u` in bytes) as written: the
            // backslash stays and the next character is read normally.
            _ => {
                lit.push_char('\\');
                Ok(())
            }
        }
    }

    /// Exactly `n` hex digits, or None (consuming nothing).
    fn hex_digits(&mut self, n: usize) -> Option<u32> {
        let mut code = 0;
        for k in 0..n {
            code = code * 16 + self.peek_at(k)?.to_digit(16)?;
        }
        for _ in 0..n {
            self.bump();
        }
        Some(code)
    }

    /// An int or float literal; the lexer stands on a digit or on `.` followed by a digit.
    fn lex_number(&mut self, start: Position) -> PResult<Token> {
        let radix = match (self.peek(), self.peek_at(1)) {
            (Some('0'), Some('x' | 'X')) => Some((16, "hexadecimal")),
            (Some('0'), Some('o' | 'O')) => Some((8, "octal")),
            (Some('0'), Some('b' | 'B')) => Some((2, "binary")),
            _ => None,
        };
        if let Some((radix, kind)) = radix {
            self.bump();
            self.bump();
            let invalid = format!("invalid {kind} literal");
            let mut digits = String::new();
            // Python allows one underscore after the prefix and between digits.
            loop {
                if self.peek() == Some('_') {
                    self.bump();
                }
                if !self.peek().is_some_and(|c| c.is_digit(radix)) {
                    return err(start, invalid);
                }
                while let Some(c) = self.peek().filter(|c| c.is_digit(radix)) {
                    digits.push(c);
                    self.bump();
                }
                if self.peek() != Some('_') {
                    break;
                }
            }
            if self.peek().is_some_and(is_ident_continue) {
                return err(start, invalid);
            }
            return match u64::from_str_radix(&digits, radix) {
                Ok(value) => Ok(Token {
                    tok: Tok::Int(value),
                    pos: start,
                }),
                Err(_) => err(start, INT_RANGE),
            };
        }

        let mut text = String::new();
        let mut is_float = false;
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.digit_part(&mut text);
        }
        if self.peek() == Some('.') {
            self.bump();
            text.push('.');
            is_float = true;
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.digit_part(&mut text);
            }
        }
        let exponent = match (self.peek(), self.peek_at(1), self.peek_at(2)) {
            (Some('e' | 'E'), Some(d), _) if d.is_ascii_digit() => true,
            (Some('e' | 'E'), Some('+' | '-'), Some(d)) => d.is_ascii_digit(),
            _ => false,
        };
        if exponent {
            is_float = true;
            self.bump();
            text.push('e');
            if let Some(sign @ ('+' | '-')) = self.peek() {
                self.bump();
                text.push(sign);
            }
            self.digit_part(&mut text);
        }
        if matches!(self.peek(), Some('j' | 'J')) {
            return err(start, "complex numbers are not supported");
        }
        if self.peek().is_some_and(is_ident_continue) {
            return err(start, "invalid decimal literal");
        }
        if is_float {
            // Rust's parser wants digits on both sides of the point; Python does not.
            if text.starts_with('.') {
                text.insert(0, '0');
            }
            let text = text.replace(".e", ".0e");
            return match text.parse::<f64>() {
                Ok(value) => Ok(Token {
                    tok: Tok::Float(value),
                    pos: start,
                }),
                Err(_) => err(start, "invalid float literal"),
            };
        }
        if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
            return err(
                start,
                "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
            );
        }
        match text.parse::<u64>() {
            Ok(value) => Ok(Token {
                tok: Tok::Int(value),
                pos: start,
            }),
            Err(_) => err(start, INT_RANGE),
        }
    }

    /// Decimal digits with single underscores between them (dropped). A trailing or doubled
    /// underscore is left for the caller, which then rejects the literal.
    fn digit_part(&mut self, text: &mut String) {
        loop {
            while let Some(c) = self.peek().filter(|c| c.is_ascii_digit()) {
                text.push(c);
                self.bump();
            }
            if self.peek() == Some('_') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            } else {
                break;
            }
        }
    }
}

const NON_ASCII_BYTES: &str =
    "bytes literals can only contain ASCII characters; use \\x escapes for other bytes";
const INT_RANGE: &str = "integer is out of range (only 64-bit signed integers are supported)";

// ---------------------------------------------------------------------------------------------
// Parser

/// The shape of the token after a name, to tell `f(x)` from `a.b` from `a[0]` in errors.
#[derive(PartialEq)]
enum Shape {
    Dot,
    Call,
    Subscript,
    Name,
    Other,
}

fn shape(tok: &Tok) -> Shape {
    match tok {
        Tok::Op(".") => Shape::Dot,
        Tok::Op("(") => Shape::Call,
        Tok::Op("[") => Shape::Subscript,
        Tok::Name(_) => Shape::Name,
        _ => Shape::Other,
    }
}

/// Delimiters that can legitimately follow a value; finding one where a value was expected is
/// a structural mistake, not an attempt at an expression.
fn is_delimiter(op: &str) -> bool {
    matches!(op, "," | ":" | ";" | "=" | ")" | "]" | "}")
}

/// What a token is, in words, without copying text from the file (keywords and operators are
/// fixed strings, so they may be named).
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Name(n) => match keyword(n) {
            Some(kw) => format!("the keyword '{kw}'"),
            None => "a name".to_string(),
        },
        Tok::Str(Lit::Text(_)) => "a string".to_string(),
        Tok::Str(Lit::Bytes(_)) => "a bytes literal".to_string(),
        Tok::Int(_) | Tok::Float(_) => "a number".to_string(),
        Tok::Op(op) => format!("'{op}'"),
        Tok::Newline => "the end of the line".to_string(),
        Tok::Eof => "the end of the file".to_string(),
    }
}

fn is_hashable(value: &PyValue) -> bool {
    match value {
        PyValue::List(_) | PyValue::Dict(_) => false,
        PyValue::Tuple(items) => items.iter().all(is_hashable),
        _ => true,
    }
}

/// Recursive descent over the token stream with one token of look-ahead.
struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
}

impl<'a> Parser<'a> {
    fn new(chars: &'a [char]) -> Self {
        Parser {
            lexer: Lexer::new(chars),
            peeked: None,
        }
    }

    fn peek(&mut self) -> PResult<&Token> {
        let tok = match self.peeked.take() {
            Some(tok) => tok,
            None => self.lexer.next_token()?,
        };
        Ok(self.peeked.insert(tok))
    }

    fn next(&mut self) -> PResult<Token> {
        match self.peeked.take() {
            Some(tok) => Ok(tok),
            None => self.lexer.next_token(),
        }
    }

    fn peek_is_op(&mut self, op: &str) -> PResult<bool> {
        Ok(matches!(self.peek()?.tok, Tok::Op(o) if o == op))
    }

    fn parse_file(mut self) -> PResult<PiCfg> {
        let mut cfg = PiCfg {
            entries: Vec::new(),
            index: HashMap::new(),
            path: None,
        };
        loop {
            let tok = self.next()?;
            match tok.tok {
                Tok::Newline => {}
                Tok::Eof => return Ok(cfg),
                Tok::Name(name) => {
                    self.assignment_target(&name, tok.pos)?;
                    let value = self.parse_rhs()?;
                    cfg.set(name, value, tok.pos);
                    self.end_statement()?;
                }
                // A bare string statement (a docstring) does nothing in Python; allow it.
                Tok::Str(lit) => {
                    self.concat_strings(lit)?;
                    self.end_statement()?;
                }
                other => {
                    return err(
                        tok.pos,
                        format!(
                            "expected an assignment such as NAME = 'value', found {}",
                            describe(&other)
                        ),
                    )
                }
            }
        }
    }

    /// Checks the name at the start of a statement and consumes the `=` after it.
    fn assignment_target(&mut self, name: &str, pos: Position) -> PResult<()> {
        if let Some(kw) = keyword(name) {
            let what = match kw {
                "import" => "'import' statements are not supported".to_string(),
                "from" => "'from ... import' statements are not supported".to_string(),
                _ if STATEMENT_KEYWORDS.contains(&kw) => {
                    format!("'{kw}' statements are not supported")
                }
                _ => format!("found the keyword '{kw}'"),
            };
            return err(pos, format!("{UPPERCASE_ONLY}; {what}"));
        }
        let not_uppercase =
            format!("{UPPERCASE_ONLY}; this name is not UPPERCASE (A-Z, 0-9 and '_' only)");
        if self.peek_is_op("=")? {
            if !is_uppercase_name(name) {
                return err(pos, not_uppercase);
            }
            self.next()?;
            return Ok(());
        }
        if !is_uppercase_name(name) {
            // Not an assignment: say what it is (`print(...)`, `os.environ[...] = ...`).
            return match self.describe_name_use() {
                Some(what) => err(pos, format!("{UPPERCASE_ONLY}; found {what}")),
                None => err(pos, not_uppercase),
            };
        }
        let tok = self.next()?;
        let message = match tok.tok {
            Tok::Op(":") => {
                "annotated assignments (NAME: type = value) are not supported; write NAME = value"
                    .to_string()
            }
            Tok::Op(",") => {
                "assigning several names at once is not supported; write one NAME = value per line"
                    .to_string()
            }
            Tok::Op(op)
                if op.len() > 1
                    && op.ends_with('=')
                    && !matches!(op, "==" | "!=" | "<=" | ">=") =>
            {
                format!("augmented assignments ('{op}') are not supported; write NAME = value")
            }
            other => format!("expected '=' after the name, found {}", describe(&other)),
        };
        err(tok.pos, message)
    }

    /// After a name that is not a value: is it a call, an attribute access, a subscript?
    /// Looks ahead on a copy of the lexer and ignores lexer errors there, because the name
    /// itself is the first error.
    fn describe_name_use(&self) -> Option<&'static str> {
        let mut look = self.lexer.clone();
        let mut pending = self.peeked.as_ref().map(|t| shape(&t.tok));
        let mut next = move || {
            pending
                .take()
                .unwrap_or_else(|| look.next_token().map_or(Shape::Other, |t| shape(&t.tok)))
        };
        let mut dotted = false;
        loop {
            match next() {
                Shape::Call => return Some("a function call"),
                Shape::Subscript if !dotted => return Some("a subscript"),
                Shape::Dot => {
                    dotted = true;
                    if next() != Shape::Name {
                        return Some("an attribute access");
                    }
                }
                _ if dotted => return Some("an attribute access"),
                _ => return None,
            }
        }
    }

    /// The right-hand side of an assignment: a value, or a bare tuple `1, 2`.
    fn parse_rhs(&mut self) -> PResult<PyValue> {
        let first = self.parse_value()?;
        if !self.peek_is_op(",")? {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek_is_op(",")? {
            self.next()?;
            if matches!(self.peek()?.tok, Tok::Newline | Tok::Eof | Tok::Op(";")) {
                break;
            }
            items.push(self.parse_value()?);
        }
        Ok(PyValue::Tuple(items))
    }

    /// After a statement: end of line, end of file, or `;` (another statement may follow).
    fn end_statement(&mut self) -> PResult<()> {
        let tok = self.next()?;
        match tok.tok {
            Tok::Newline | Tok::Eof | Tok::Op(";") => Ok(()),
            _ => Err(self.unexpected_after_value(tok, "the end of the line")),
        }
    }

    fn parse_value(&mut self) -> PResult<PyValue> {
        let tok = self.next()?;
        let pos = tok.pos;
        match tok.tok {
            Tok::Str(lit) => self.concat_strings(lit),
            Tok::Int(magnitude) => int_value(magnitude, false, pos),
            Tok::Float(x) => Ok(PyValue::Float(x)),
            Tok::Name(ref n) if n == "True" => Ok(PyValue::Bool(true)),
            Tok::Name(ref n) if n == "False" => Ok(PyValue::Bool(false)),
            Tok::Name(ref n) if n == "None" => Ok(PyValue::None),
            Tok::Op(sign @ ("-" | "+")) => self.parse_signed(sign == "-", pos),
            Tok::Op("[") => Ok(PyValue::List(self.parse_items("[", "]", pos)?)),
            Tok::Op("(") => self.parse_paren(pos),
            Tok::Op("{") => self.parse_dict(pos),
            _ => Err(self.not_a_value(tok)),
        }
    }

    /// Adjacent string literals are one string, as in Python (`'a' "b"`).
    fn concat_strings(&mut self, first: Lit) -> PResult<PyValue> {
        let mut acc = first;
        while matches!(self.peek()?.tok, Tok::Str(_)) {
            let Token {
                tok: Tok::Str(lit),
                pos,
            } = self.next()?
            else {
                break;
            };
            match (&mut acc, lit) {
                (Lit::Text(a), Lit::Text(b)) => a.push_str(&b),
                (Lit::Bytes(a), Lit::Bytes(b)) => a.extend(b),
                _ => return err(pos, "cannot concatenate bytes and str literals"),
            }
        }
        Ok(match acc {
            Lit::Text(s) => PyValue::Str(s),
            Lit::Bytes(b) => PyValue::Bytes(b),
        })
    }

    /// A number after a unary sign (possibly several: `- -1`).
    fn parse_signed(&mut self, negative: bool, sign_pos: Position) -> PResult<PyValue> {
        let mut negative = negative;
        loop {
            if self.peek_is_op("-")? {
                negative = !negative;
            } else if !self.peek_is_op("+")? {
                break;
            }
            self.next()?;
        }
        let tok = self.next()?;
        match tok.tok {
            Tok::Int(magnitude) => int_value(magnitude, negative, tok.pos),
            Tok::Float(x) => Ok(PyValue::Float(if negative { -x } else { x })),
            Tok::Str(_) | Tok::Op("[" | "(" | "{") => err(
                sign_pos,
                "a sign ('-' or '+') can only be applied to a number",
            ),
            Tok::Name(ref n) if matches!(n.as_str(), "True" | "False" | "None") => err(
                sign_pos,
                "a sign ('-' or '+') can only be applied to a number",
            ),
            _ => Err(self.not_a_value(tok)),
        }
    }

    /// Items up to `close`, after `open` at `open_pos`; trailing comma allowed.
    fn parse_items(
        &mut self,
        open: &str,
        close: &str,
        open_pos: Position,
    ) -> PResult<Vec<PyValue>> {
        let mut items = Vec::new();
        loop {
            self.check_closed(open, open_pos)?;
            if self.peek_is_op(close)? {
                self.next()?;
                return Ok(items);
            }
            items.push(self.parse_value()?);
            self.check_closed(open, open_pos)?;
            let tok = self.next()?;
            match tok.tok {
                Tok::Op(op) if op == close => return Ok(items),
                Tok::Op(",") => {}
                _ => return Err(self.unexpected_after_value(tok, &format!("',' or '{close}'"))),
            }
        }
    }

    /// `()`, `(x,)`, `(x, y)` are tuples; `(x)` is just x.
    fn parse_paren(&mut self, open_pos: Position) -> PResult<PyValue> {
        self.check_closed("(", open_pos)?;
        if self.peek_is_op(")")? {
            self.next()?;
            return Ok(PyValue::Tuple(Vec::new()));
        }
        let first = self.parse_value()?;
        self.check_closed("(", open_pos)?;
        let tok = self.next()?;
        match tok.tok {
            Tok::Op(")") => Ok(first),
            Tok::Op(",") => {
                let mut items = vec![first];
                items.extend(self.parse_items("(", ")", open_pos)?);
                Ok(PyValue::Tuple(items))
            }
            _ => Err(self.unexpected_after_value(tok, "',' or ')'")),
        }
    }

    fn parse_dict(&mut self, open_pos: Position) -> PResult<PyValue> {
        let mut pairs: Vec<(PyValue, PyValue)> = Vec::new();
        loop {
            self.check_closed("{", open_pos)?;
            if self.peek_is_op("}")? {
                self.next()?;
                return Ok(PyValue::Dict(pairs));
            }
            let key_pos = self.peek()?.pos;
            let key = self.parse_value()?;
            self.check_closed("{", open_pos)?;
            let tok = self.next()?;
            match tok.tok {
                Tok::Op(":") => {}
                Tok::Op("," | "}") => {
                    return err(open_pos, format!("{LITERALS_ONLY}; found a set"));
                }
                _ => return Err(self.unexpected_after_value(tok, "':'")),
            }
            if !is_hashable(&key) {
                return err(key_pos, "a dict key cannot be a list or a dict");
            }
            self.check_closed("{", open_pos)?;
            let value = self.parse_value()?;
            // Like Python: a repeated key keeps its first place and takes the last value.
            match pairs.iter_mut().find(|(k, _)| *k == key) {
                Some(pair) => pair.1 = value,
                None => pairs.push((key, value)),
            }
            self.check_closed("{", open_pos)?;
            let tok = self.next()?;
            match tok.tok {
                Tok::Op("}") => return Ok(PyValue::Dict(pairs)),
                Tok::Op(",") => {}
                _ => return Err(self.unexpected_after_value(tok, "',' or '}'")),
            }
        }
    }

    /// Reports an unclosed bracket at the bracket, as Python does, instead of at the end of
    /// the file.
    fn check_closed(&mut self, open: &str, open_pos: Position) -> PResult<()> {
        if matches!(self.peek()?.tok, Tok::Eof) {
            return err(open_pos, format!("'{open}' was never closed"));
        }
        Ok(())
    }

    /// The error for a token where a value should start.
    fn not_a_value(&self, tok: Token) -> Located {
        let message = match tok.tok {
            Tok::Name(ref n) => match keyword(n) {
                Some(kw) => format!("{LITERALS_ONLY}; found the keyword '{kw}'"),
                None => {
                    let what = self
                        .describe_name_use()
                        .unwrap_or("a name (a value cannot refer to variables or other settings)");
                    format!("{LITERALS_ONLY}; found {what}")
                }
            },
            Tok::Op(op) if !is_delimiter(op) => {
                format!("{LITERALS_ONLY}; found the operator '{op}'")
            }
            ref other => format!("expected a value, found {}", describe(other)),
        };
        Located {
            pos: tok.pos,
            message,
        }
    }

    /// The error for a token after a complete value that cannot follow it.
    fn unexpected_after_value(&self, tok: Token, expected: &str) -> Located {
        let what = match tok.tok {
            Tok::Op("(") => Some("a function call".to_string()),
            Tok::Op(".") => Some("an attribute access".to_string()),
            Tok::Op("[") => Some("a subscript".to_string()),
            Tok::Op(op) if !is_delimiter(op) => Some(format!("the operator '{op}'")),
            Tok::Name(ref n) => Some(match keyword(n) {
                Some(kw) => format!("the keyword '{kw}'"),
                None => "a name".to_string(),
            }),
            _ => None,
        };
        let message = match what {
            Some(what) => format!("{LITERALS_ONLY}; found {what}"),
            None => format!("expected {expected}, found {}", describe(&tok.tok)),
        };
        Located {
            pos: tok.pos,
            message,
        }
    }
}

fn int_value(magnitude: u64, negative: bool, pos: Position) -> PResult<PyValue> {
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    match i64::try_from(value) {
        Ok(v) => Ok(PyValue::Int(v)),
        Err(_) => err(pos, INT_RANGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PiCfg {
        match PiCfg::parse(text) {
            Ok(cfg) => cfg,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn value(text: &str) -> PyValue {
        parse(text).get("A").expect("A is set").clone()
    }

    fn s(text: &str) -> PyValue {
        PyValue::Str(text.to_string())
    }

    /// (line, column, message) of a parse error.
    fn syntax_error(text: &str) -> (usize, usize, String) {
        match PiCfg::parse(text) {
            Err(PiCfgError::Syntax {
                path: None,
                line,
                column,
                message,
            }) => (line, column, message),
            Err(other) => panic!("expected a syntax error, got {other}"),
            Ok(cfg) => panic!("expected a syntax error, parsed {cfg:?}"),
        }
    }

    fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
        let (l, c, message) = syntax_error(text);
        assert_eq!((l, c), (line, column), "position for {text:?}: {message}");
        assert!(
            message.contains(needle),
            "message for {text:?} should contain {needle:?}: {message}"
        );
    }

    const REALISTIC: &str = "\
# privacyIDEA test-vector installation
SQLALCHEMY_DATABASE_URI = 'sqlite:////var/lib/privacyidea/privacyidea.sqlite'
SECRET_KEY = 'vec-jwt-secret-key-0123456789abcdef'
PI_PEPPER = 'vecPepper#2024'
PI_ENCFILE = '/etc/privacyidea/enckey'
PI_AUDIT_MODULE = 'privacyidea.lib.auditmodules.sqlaudit'
PI_AUDIT_KEY_PRIVATE = '/etc/privacyidea/private.pem'
PI_AUDIT_KEY_PUBLIC = '/etc/privacyidea/public.pem'
PI_AUDIT_SERVERNAME = 'vecnode'
PI_NODE = 'vecnode'
PI_NODE_UUID = '8c1f3e2a-5b7d-4c9e-a1f0-0123456789ab'
PI_LOGFILE = '/var/log/privacyidea/privacyidea.log'
PI_LOGLEVEL = 20
SUPERUSER_REALM = ['superuser']
";

    #[test]
    fn realistic_pi_cfg() {
        let cfg = parse(REALISTIC);
        let expected_strings = [
            (
                "SQLALCHEMY_DATABASE_URI",
                "sqlite:////var/lib/privacyidea/privacyidea.sqlite",
            ),
            ("SECRET_KEY", "vec-jwt-secret-key-0123456789abcdef"),
            ("PI_PEPPER", "vecPepper#2024"),
            ("PI_ENCFILE", "/etc/privacyidea/enckey"),
            ("PI_AUDIT_MODULE", "privacyidea.lib.auditmodules.sqlaudit"),
            ("PI_AUDIT_KEY_PRIVATE", "/etc/privacyidea/private.pem"),
            ("PI_AUDIT_KEY_PUBLIC", "/etc/privacyidea/public.pem"),
            ("PI_AUDIT_SERVERNAME", "vecnode"),
            ("PI_NODE", "vecnode"),
            ("PI_NODE_UUID", "8c1f3e2a-5b7d-4c9e-a1f0-0123456789ab"),
            ("PI_LOGFILE", "/var/log/privacyidea/privacyidea.log"),
        ];
        for (name, want) in expected_strings {
            assert_eq!(cfg.get_str(name).unwrap(), Some(want), "{name}");
        }
        assert_eq!(cfg.get("PI_LOGLEVEL"), Some(&PyValue::Int(20)));
        assert_eq!(
            cfg.get("SUPERUSER_REALM"),
            Some(&PyValue::List(vec![s("superuser")]))
        );
        let names: Vec<&str> = cfg.names().collect();
        assert_eq!(names.len(), 13);
        assert_eq!(names[0], "SQLALCHEMY_DATABASE_URI");
        assert_eq!(names[12], "SUPERUSER_REALM");
        assert_eq!(
            cfg.position("SECRET_KEY"),
            Some(Position { line: 3, column: 1 })
        );
        assert_eq!(cfg.get("PI_MISSING"), None);
        assert_eq!(cfg.position("PI_MISSING"), None);
        assert_eq!(cfg.get_str("PI_MISSING").unwrap(), None);
        assert!(cfg.path().is_none());
    }

    #[test]
    fn every_quote_form_and_prefix() {
        let cfg = parse(
            r#"A = 'single'
B = "double"
C = '''triple
single'''
D = """triple "double" with 'quotes'"""
E = r'raw' R"RAW"
F = u'unicode' U"UNICODE"
G = b'bytes'
H = B"BYTES"
I = br'\d' Br"\d" bR'\d' BR"\d" rb'\d' rB"\d" Rb'\d' RB"\d"
J = ''
K = """"""
L = "it's"
M = '''a'b''c'''
N = b'''x''' rb"""y"""
"#,
        );
        assert_eq!(cfg.get("A"), Some(&s("single")));
        assert_eq!(cfg.get("B"), Some(&s("double")));
        assert_eq!(cfg.get("C"), Some(&s("triple\nsingle")));
        assert_eq!(cfg.get("D"), Some(&s("triple \"double\" with 'quotes'")));
        assert_eq!(cfg.get("E"), Some(&s("rawRAW")));
        assert_eq!(cfg.get("F"), Some(&s("unicodeUNICODE")));
        assert_eq!(cfg.get("G"), Some(&PyValue::Bytes(b"bytes".to_vec())));
        assert_eq!(cfg.get("H"), Some(&PyValue::Bytes(b"BYTES".to_vec())));
        assert_eq!(
            cfg.get("I"),
            Some(&PyValue::Bytes(br"\d\d\d\d\d\d\d\d".to_vec()))
        );
        assert_eq!(cfg.get("J"), Some(&s("")));
        assert_eq!(cfg.get("K"), Some(&s("")));
        assert_eq!(cfg.get("L"), Some(&s("it's")));
        assert_eq!(cfg.get("M"), Some(&s("a'b''c")));
        assert_eq!(cfg.get("N"), Some(&PyValue::Bytes(b"xy".to_vec())));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            value(r#"A = '\\ \' \" \n \r \t \a \b \f \v \0'"#),
            s("\\ ' \" \n \r \t \x07 \x08 \x0c \x0b \0")
        );
        // Octal takes at most three digits; \x exactly two; \u four; \U eight.
        assert_eq!(value(r"A = '\101\1234\7'"), s("AS4\x07"));
        assert_eq!(value(r"A = '\x41\x7e'"), s("A~"));
        assert_eq!(value(r"A = '\u00e9\U0001F600'"), s("é😀"));
        assert_eq!(value(r"A = '\777'"), s("\u{1ff}"));
        // Unknown escapes keep the backslash, as in Python.
        assert_eq!(value(r"A = '\d+\w\['"), s("\\d+\\w\\["));
        // Backslash-newline inside a string is nothing.
        assert_eq!(value("A = 'ab\\\ncd'"), s("abcd"));
        assert_eq!(value("A = '''ab\\\ncd'''"), s("abcd"));
        // In bytes, \x is a byte and \u / \N are not escapes.
        assert_eq!(
            value(r"A = b'\xff\x00\101\u00e9\N'"),
            PyValue::Bytes(b"\xff\x00A\\u00e9\\N".to_vec())
        );
    }

    #[test]
    fn raw_strings_keep_backslashes() {
        assert_eq!(value(r"A = r'\d+'"), s(r"\d+"));
        assert_eq!(value(r"A = r'\''"), s(r"\'"));
        assert_eq!(value(r"A = R'\n\x00\u1234'"), s(r"\n\x00\u1234"));
        assert_eq!(value(r"A = rb'\x00'"), PyValue::Bytes(br"\x00".to_vec()));
        assert_eq!(value("A = r'a\\\nb'"), s("a\\\nb"));
    }

    #[test]
    fn implicit_concatenation() {
        let text = "A = ('first '\n     \"second \"  # a comment\n     '''third''')\n";
        assert_eq!(value(text), s("first second third"));
        assert_eq!(value("A = 'a' \"b\" r'\\c'"), s("ab\\c"));
        assert_eq!(
            value("A = [\n  'x'\n  'y',\n  'z',\n]"),
            PyValue::List(vec![s("xy"), s("z")])
        );
        assert_eq!(value("A = b'a' B'b'"), PyValue::Bytes(b"ab".to_vec()));
        assert_error(
            "A = 'a' b'b'",
            1,
            9,
            "cannot concatenate bytes and str literals",
        );
    }

    #[test]
    fn backslash_continuation() {
        let cfg = parse("A = \\\n    'x'\nB = 'y' \\\n  'z'\nC = 1\n");
        assert_eq!(cfg.get("A"), Some(&s("x")));
        assert_eq!(cfg.get("B"), Some(&s("yz")));
        assert_eq!(cfg.get("C"), Some(&PyValue::Int(1)));
        assert_error(
            "A = 1 \\ # no\n",
            1,
            7,
            "backslash outside a string must be the last character",
        );
    }

    #[test]
    fn containers_nest_with_trailing_commas() {
        let v = value(
            "A = {\n  'list': [1, [2, 3,], (), (4,), (5, 6,)],\n  ('t', 1): {'inner': None,},\n  'paren': ( 'a' 'b' ),\n}\n",
        );
        let want = PyValue::Dict(vec![
            (
                s("list"),
                PyValue::List(vec![
                    PyValue::Int(1),
                    PyValue::List(vec![PyValue::Int(2), PyValue::Int(3)]),
                    PyValue::Tuple(vec![]),
                    PyValue::Tuple(vec![PyValue::Int(4)]),
                    PyValue::Tuple(vec![PyValue::Int(5), PyValue::Int(6)]),
                ]),
            ),
            (
                PyValue::Tuple(vec![s("t"), PyValue::Int(1)]),
                PyValue::Dict(vec![(s("inner"), PyValue::None)]),
            ),
            (s("paren"), s("ab")),
        ]);
        assert_eq!(v, want);
        assert_eq!(value("A = []"), PyValue::List(vec![]));
        assert_eq!(value("A = {}"), PyValue::Dict(vec![]));
        assert_eq!(value("A = (((1)))"), PyValue::Int(1));
        // A bare tuple on the right-hand side, as Python allows.
        assert_eq!(
            value("A = 1, 'b',"),
            PyValue::Tuple(vec![PyValue::Int(1), s("b")])
        );
        // Repeated dict keys: first place, last value.
        assert_eq!(
            value("A = {'k': 1, 'j': 2, 'k': 3}"),
            PyValue::Dict(vec![(s("k"), PyValue::Int(3)), (s("j"), PyValue::Int(2))])
        );
    }

    #[test]
    fn integers_in_all_bases() {
        let cases = [
            ("42", 42),
            ("0", 0),
            ("00", 0),
            ("1_000_000", 1_000_000),
            ("0x_FF", 255),
            ("0XdeadBEEF", 0xdead_beef),
            ("0o755", 0o755),
            ("0O7_7", 0o77),
            ("0b1010", 10),
            ("0B_1_0", 2),
            ("-5", -5),
            ("+7", 7),
            ("- -3", 3),
            ("-0x10", -16),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, want) in cases {
            assert_eq!(value(&format!("A = {text}")), PyValue::Int(want), "{text}");
        }
        assert_error("A = 9223372036854775808", 1, 5, "out of range");
        assert_error("A = -9223372036854775809", 1, 6, "out of range");
        assert_error("A = 0x1_0000_0000_0000_0000", 1, 5, "out of range");
        assert_error("A = 0123", 1, 5, "leading zeros");
        assert_error("A = 0x", 1, 5, "invalid hexadecimal literal");
        assert_error("A = 0b102", 1, 5, "invalid binary literal");
        assert_error("A = 1__0", 1, 5, "invalid decimal literal");
        assert_error("A = 10_", 1, 5, "invalid decimal literal");
        assert_error("A = 12abc", 1, 5, "invalid decimal literal");
        assert_error("A = 1j", 1, 5, "complex numbers are not supported");
    }

    #[test]
    fn floats() {
        let cases = [
            ("1.5", 1.5),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("-2.0", -2.0),
            ("1.", 1.0),
            ("1.e2", 100.0),
            ("2E-3", 0.002),
            ("1_0.2_5", 10.25),
            ("+.25e+1", 2.5),
        ];
        for (text, want) in cases {
            assert_eq!(
                value(&format!("A = {text}")),
                PyValue::Float(want),
                "{text}"
            );
        }
    }

    #[test]
    fn constants() {
        let cfg = parse("A = True\nB = False\nC = None\n");
        assert_eq!(cfg.get("A"), Some(&PyValue::Bool(true)));
        assert_eq!(cfg.get("B"), Some(&PyValue::Bool(false)));
        assert_eq!(cfg.get("C"), Some(&PyValue::None));
    }

    #[test]
    fn later_assignment_wins_and_keeps_its_position() {
        let cfg = parse("A = 1\nB = 2\n\nA = 'x'  # override\n");
        assert_eq!(cfg.get("A"), Some(&s("x")));
        assert_eq!(cfg.position("A"), Some(Position { line: 4, column: 1 }));
        assert_eq!(cfg.names().collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn comments_blank_lines_and_semicolons() {
        let cfg = parse(
            "# header\n\n   # indented comment\nA = [  # open\n  1,  # one\n  # alone\n  2,\n]  # close\nB = '# not a comment' # but this is\nC = 1;\nD = 2; E = \"#\"\n\"\"\"A docstring\nstatement.\"\"\"\n",
        );
        assert_eq!(
            cfg.get("A"),
            Some(&PyValue::List(vec![PyValue::Int(1), PyValue::Int(2)]))
        );
        assert_eq!(cfg.get("B"), Some(&s("# not a comment")));
        assert_eq!(cfg.get("C"), Some(&PyValue::Int(1)));
        assert_eq!(cfg.get("D"), Some(&PyValue::Int(2)));
        assert_eq!(cfg.get("E"), Some(&s("#")));
        assert_eq!(cfg.names().count(), 5);
    }

    #[test]
    fn crlf_bom_and_no_final_newline() {
        let cfg = parse("\u{feff}A = 'x'\r\nB = [1,\r\n 2]\r\nC = '''l1\r\nl2'''");
        assert_eq!(cfg.get("A"), Some(&s("x")));
        assert_eq!(
            cfg.get("B"),
            Some(&PyValue::List(vec![PyValue::Int(1), PyValue::Int(2)]))
        );
        assert_eq!(cfg.get("C"), Some(&s("l1\nl2")));
        assert_eq!(cfg.position("B"), Some(Position { line: 2, column: 1 }));
        assert!(parse("").names().next().is_none());
    }

    #[test]
    fn import_statements_are_rejected() {
        let (line, column, message) = syntax_error("A = 1\n\nimport os\n");
        assert_eq!((line, column), (3, 1));
        assert_eq!(
            message,
            "only UPPERCASE names can be assigned; 'import' statements are not supported"
        );
        assert_error(
            "from os import environ",
            1,
            1,
            "'from ... import' statements are not supported",
        );
        assert_error(
            "def f():\n  pass",
            1,
            1,
            "'def' statements are not supported",
        );
    }

    #[test]
    fn names_that_are_not_uppercase_are_rejected() {
        let (line, column, message) = syntax_error("x = 1");
        assert_eq!((line, column), (1, 1));
        assert!(message.starts_with("only UPPERCASE names can be assigned"));
        assert_error("A = 1\nPi_Node = 'x'", 2, 1, "not UPPERCASE");
        assert_error("print('hi')", 1, 1, "found a function call");
        assert_error("os.environ['X'] = 'y'", 1, 1, "found an attribute access");
        assert_error("True = 1", 1, 1, "found the keyword 'True'");
        assert_error("A: str = 'x'", 1, 2, "annotated assignments");
        assert_error("A += 'x'", 1, 3, "augmented assignments ('+=')");
        assert_error("A, B = 1, 2", 1, 2, "several names");
        assert_error("A == 1", 1, 3, "expected '=' after the name, found '=='");
        assert_error("A = 1\n  B = 2", 2, 3, "unexpected indentation");
        assert_error("1 = A", 1, 1, "expected an assignment");
    }

    #[test]
    fn expressions_are_rejected_with_positions() {
        let literal_only = "only literal values are supported (strings, numbers, True/False/None, lists, tuples, dicts); found";
        let (line, column, message) = syntax_error("PI_LOGLEVEL = logging.INFO");
        assert_eq!((line, column), (1, 15));
        assert_eq!(message, format!("{literal_only} an attribute access"));
        let (_, column, message) = syntax_error("PI_NODE = socket.gethostname()");
        assert_eq!(column, 11);
        assert_eq!(message, format!("{literal_only} a function call"));
        assert_error("A = os.environ['X']", 1, 5, "an attribute access");
        assert_error("A = foo(1)", 1, 5, "a function call");
        assert_error("A = CONFIG['x']", 1, 5, "a subscript");
        assert_error("A = B", 1, 5, "found a name");
        assert_error("A = B = 1", 1, 5, "found a name");
        assert_error("A = 1 + 2", 1, 7, "found the operator '+'");
        assert_error("A = 'a' % 'b'", 1, 9, "found the operator '%'");
        assert_error("A = [1, 2] * 3", 1, 12, "found the operator '*'");
        assert_error("A = 'x'.upper()", 1, 8, "an attribute access");
        assert_error("A = -B", 1, 6, "found a name");
        assert_error("A = -'x'", 1, 5, "can only be applied to a number");
        assert_error("A = not True", 1, 5, "found the keyword 'not'");
        assert_error("A = 1 if B else 2", 1, 7, "found the keyword 'if'");
        assert_error("A = lambda: 1", 1, 5, "found the keyword 'lambda'");
        assert_error("A = [x for x in B]", 1, 6, "found a name");
        assert_error("A = {1, 2}", 1, 5, "found a set");
        assert_error("A = {**B}", 1, 6, "found the operator '**'");
        assert_error("A = {[1]: 2}", 1, 6, "dict key cannot be a list");
        assert_error("A = f'abc'", 1, 5, "f-strings are not supported");
        assert_error("A = 'a' F'{B}'", 1, 9, "f-strings are not supported");
        assert_error("A = rf'x'", 1, 5, "f-strings are not supported");
    }

    #[test]
    fn f_string_secret_key() {
        let (line, column, message) = syntax_error("SECRET_KEY = f'abc'");
        assert_eq!((line, column), (1, 14));
        assert!(
            message.starts_with("f-strings are not supported"),
            "{message}"
        );
    }

    #[test]
    fn structural_errors() {
        assert_error("A =", 1, 4, "expected a value, found the end of the file");
        assert_error(
            "A =\nB = 1",
            1,
            4,
            "expected a value, found the end of the line",
        );
        assert_error(
            "A = 1 2",
            1,
            7,
            "expected the end of the line, found a number",
        );
        assert_error("A = [1 2]", 1, 8, "expected ',' or ']', found a number");
        assert_error("A = [1,, 2]", 1, 8, "expected a value, found ','");
        assert_error("A = (1 2)", 1, 8, "expected ',' or ')', found a number");
        assert_error("A = [1, 2)", 1, 10, "expected ',' or ']', found ')'");
        assert_error("A = {'a' 1}", 1, 10, "expected ':', found a number");
        assert_error("A = [1,\n 2,\n", 1, 5, "'[' was never closed");
        assert_error("A = {'a': (1,", 1, 11, "'(' was never closed");
        assert_error("A = 1;;", 1, 7, "expected an assignment");
        assert_error("A = 1 $", 1, 7, "unexpected character");
        assert_error("A = \\", 1, 5, "backslash outside a string");
    }

    #[test]
    fn string_errors_point_at_the_opening_quote() {
        assert_error("A = 1\nB = 'abc\n", 2, 5, "unterminated string");
        assert_error("A = r'abc", 1, 6, "unterminated string");
        assert_error("A = 'abc\\", 1, 5, "unterminated string");
        assert_error("A = r'\\'", 1, 6, "unterminated string");
        assert_error(
            "A = '''abc\n\ndef''\n",
            1,
            5,
            "unterminated triple-quoted string",
        );
        assert_error("A = \"\"\"x", 1, 5, "unterminated triple-quoted string");
        assert_error("A = 'a\\x4g'", 1, 7, "truncated \\x escape");
        assert_error("A = 'a\\u12'", 1, 7, "truncated \\u escape");
        assert_error("A = '\\U00110000'", 1, 6, "not a valid character");
        assert_error("A = '\\ud800'", 1, 6, "not a valid character");
        assert_error("A = '\\N{BULLET}'", 1, 6, "\\N{...}");
        assert_error("A = b'\\400'", 1, 7, "above \\377");
        assert_error("A = b'caf\u{e9}'", 1, 10, "ASCII");
    }

    #[test]
    fn columns_count_characters_and_the_first_error_wins() {
        // 'é' and '€' are one column each though several bytes in UTF-8.
        assert_error("A = ('é€', x)", 1, 12, "found a name");
        assert_error("A = 'ü'\nB = x\nimport os", 2, 5, "found a name");
        // The name is reported, not the broken string after it.
        assert_error("A = x 'unterminated", 1, 5, "found a name");
    }

    #[test]
    fn display_with_and_without_path() {
        let e = PiCfg::parse("A = 1\nB = foo").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 5: only literal values are supported (strings, numbers, True/False/None, lists, tuples, dicts); found a name (a value cannot refer to variables or other settings)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pi.cfg");
        std::fs::write(&path, "A = 1\nimport os\n").unwrap();
        let e = PiCfg::load(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2:1: only UPPERCASE names can be assigned; 'import' statements are not supported",
                path.display()
            )
        );
    }

    #[test]
    fn load_reads_the_file_and_remembers_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pi.cfg");
        std::fs::write(&path, REALISTIC).unwrap();
        let cfg = PiCfg::load(&path).unwrap();
        assert_eq!(cfg.path(), Some(path.as_path()));
        assert_eq!(cfg.get_str("PI_NODE").unwrap(), Some("vecnode"));

        let missing = dir.path().join("missing.cfg");
        let e = PiCfg::load(&missing).unwrap_err();
        assert!(matches!(e, PiCfgError::Io { .. }), "{e:?}");
        assert!(e
            .to_string()
            .starts_with(&format!("{}: ", missing.display())));

        let latin1 = dir.path().join("latin1.cfg");
        std::fs::write(&latin1, b"A = 1\nB = 'caf\xe9'\n").unwrap();
        let e = PiCfg::load(&latin1).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}:2:9: the file is not valid UTF-8", latin1.display())
        );
    }

    #[test]
    fn get_str_wrong_type() {
        let cfg = parse(REALISTIC);
        let e = cfg.get_str("PI_LOGLEVEL").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 13, column 1: PI_LOGLEVEL must be a str, not int"
        );
        assert!(matches!(
            e,
            PiCfgError::WrongType {
                expected: "str",
                found: "int",
                ..
            }
        ));
        let e = cfg.get_str("SUPERUSER_REALM").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 14, column 1: SUPERUSER_REALM must be a str, not list"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pi.cfg");
        std::fs::write(&path, "PI_PEPPER = None\nA = b'ok'\nB = b'\\xff'\n").unwrap();
        let cfg = PiCfg::load(&path).unwrap();
        assert_eq!(
            cfg.get_str("PI_PEPPER").unwrap_err().to_string(),
            format!("{}:1:1: PI_PEPPER must be a str, not None", path.display())
        );
        // UTF-8 bytes count as a string; other bytes do not.
        assert_eq!(cfg.get_str("A").unwrap(), Some("ok"));
        assert_eq!(
            cfg.get_str("B").unwrap_err().to_string(),
            format!("{}:3:1: B must be a str, not bytes", path.display())
        );
    }

    #[test]
    fn value_helpers() {
        assert_eq!(s("x").as_str(), Some("x"));
        assert_eq!(PyValue::Bytes(b"x".to_vec()).as_str(), Some("x"));
        assert_eq!(PyValue::Bytes(vec![0xff]).as_str(), None);
        assert_eq!(PyValue::Int(1).as_str(), None);
        assert_eq!(PyValue::Bool(true).as_bool(), Some(true));
        assert_eq!(PyValue::Int(0).as_bool(), Some(false));
        assert_eq!(PyValue::Int(1).as_bool(), Some(true));
        assert_eq!(PyValue::Int(2).as_bool(), None);
        assert_eq!(s("True").as_bool(), None);
        assert_eq!(PyValue::Int(-3).as_i64(), Some(-3));
        assert_eq!(PyValue::Float(1.0).as_i64(), None);
        let names: Vec<&str> = [
            s(""),
            PyValue::Bytes(vec![]),
            PyValue::Int(0),
            PyValue::Float(0.0),
            PyValue::Bool(false),
            PyValue::None,
            PyValue::List(vec![]),
            PyValue::Tuple(vec![]),
            PyValue::Dict(vec![]),
        ]
        .iter()
        .map(PyValue::type_name)
        .collect();
        assert_eq!(
            names,
            ["str", "bytes", "int", "float", "bool", "None", "list", "tuple", "dict"]
        );
    }

    #[test]
    fn secrets_never_reach_errors_or_debug() {
        const SECRET: &str = "t0p-s3cret";
        let cfg = parse(
            "SECRET_KEY = 't0p-s3cret'\nPI_PEPPER = b't0p-s3cret'\nA = ['t0p-s3cret', ('t0p-s3cret',), {'t0p-s3cret': 't0p-s3cret'}]\nB = 1\n",
        );
        let debug = format!("{cfg:?} {:?} {:?}", cfg.get("A"), cfg.get("PI_PEPPER"));
        assert!(!debug.contains("t0p"), "{debug}");
        assert!(debug.contains("SECRET_KEY"), "{debug}");
        assert_eq!(
            format!("{:?}", cfg.get("A").unwrap()),
            "List([Str(***), Tuple([Str(***)]), Dict([(Str(***), Str(***))])])"
        );
        let e = cfg.get_str("A").unwrap_err();
        assert!(!format!("{e} {e:?}").contains("t0p"));

        let broken = [
            "SECRET_KEY = t0p-s3cret",
            "SECRET_KEY = 't0p-s3cret' + X",
            "SECRET_KEY = 't0p-s3cret\nB = 1",
            "SECRET_KEY = '''t0p-s3cret",
            "SECRET_KEY = f't0p-s3cret'",
            "SECRET_KEY = 't0p-s3cret' 't0p-s3cret'.x",
            "SECRET_KEY = ['t0p-s3cret' 1]",
            "SECRET_KEY = 't0p-s3cret\\x1'",
            "SECRET_KEY = 't0p-s3cret' b't0p-s3cret'",
            "SECRET_KEY = {'t0p-s3cret', 1}",
            "SECRET_KEY = t0p-s3cret()",
            "SECRET_KEY = 't0p'-'s3cret'",
            "t0p-s3cret",
            "t0p_s3cret = 1",
            "SECRET_KEY = 0t0p-s3cret",
            "SECRET_KEY = 't0p-s3cret'\n  t0p-s3cret",
            "SECRET_KEY = b't0p-s3cret\u{e9}'",
        ];
        for text in broken {
            assert!(text.contains(SECRET) || text.contains("t0p"));
            let e = PiCfg::parse(text).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains("t0p") && !shown.contains("s3cret"),
                "{text:?} leaked: {shown}"
            );
        }
    }
}
