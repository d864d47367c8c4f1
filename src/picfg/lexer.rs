//! Python's tokens for the pi.cfg subset: names, numbers, every string form (quotes, triple
//! quotes, `r`/`b`/`u` prefixes, escapes, f-strings), operators, logical newlines with
//! implicit and explicit line joining, comments.
//!
//! The lexer recovers after an error (it skips the offending text) so that the parser can
//! report every problem of the file in one run. Error messages never copy text from the file.

use super::diagnostic::{Position, Problem};

/// A string literal's value; which one decides `str` vs `bytes`.
#[derive(Debug)]
pub(crate) enum Lit {
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
    fn push_code(&mut self, code: u32, pos: Position) -> Result<(), Problem> {
        match self {
            Lit::Text(s) => match char::from_u32(code) {
                Some(c) => s.push(c),
                None => return Err(Problem::new(pos, "escape is not a valid Unicode character")),
            },
            Lit::Bytes(b) => match u8::try_from(code) {
                Ok(byte) => b.push(byte),
                Err(_) => {
                    return Err(Problem::new(
                        pos,
                        "octal escape above \\377 in a bytes literal",
                    ))
                }
            },
        }
        Ok(())
    }
}

/// One part of an f-string.
#[derive(Debug)]
pub(crate) enum FPiece {
    Lit(String),
    Field(FField),
}

/// A replacement field `{expression!conversion:spec}`; the expression is lexed and parsed
/// later from `chars`, which start at `pos` in the file.
#[derive(Debug)]
pub(crate) struct FField {
    pub chars: Vec<char>,
    pub pos: Position,
    pub conversion: Option<char>,
    pub spec: String,
}

#[derive(Debug)]
pub(crate) enum Tok {
    Name(String),
    Str(Lit),
    FStr(Vec<FPiece>),
    /// The magnitude; a sign is a separate token.
    Int(u64),
    Float(f64),
    /// Punctuation, brackets and operators.
    Op(&'static str),
    /// End of a logical line (never emitted inside brackets).
    Newline,
    Eof,
}

#[derive(Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Position,
    /// The first token of a line that starts with whitespace (Python's "unexpected indent",
    /// or the body of a compound statement).
    pub indented: bool,
}

/// Python's operators and delimiters, longest first so the first match is the longest.
const OPERATORS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=",
    ":=", "<<", "<=", "==", ">=", ">>", "@=", "^=", "|=", "%", "&", "(", ")", "*", "+", ",", "-",
    ".", "/", ":", ";", "<", "=", ">", "@", "[", "]", "^", "{", "|", "}", "~",
];

pub(crate) const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The keyword as a `'static` string (so messages never copy text from the file).
pub(crate) fn keyword(name: &str) -> Option<&'static str> {
    KEYWORDS.iter().copied().find(|k| *k == name)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

const NON_ASCII_BYTES: &str =
    "bytes literals can only contain ASCII characters; use \\x escapes for other bytes";
pub(crate) const INT_RANGE: &str =
    "integer is out of range (only 64-bit signed integers are supported)";

pub(crate) struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
    line: usize,
    column: usize,
    /// Open brackets: inside them a newline is plain whitespace (implicit line joining).
    depth: usize,
    /// No token yet on the current logical line; only then does leading whitespace matter.
    at_line_start: bool,
}

type LResult<T> = Result<T, Problem>;

fn err<T>(pos: Position, message: impl Into<String>) -> LResult<T> {
    Err(Problem::new(pos, message))
}

impl<'a> Lexer<'a> {
    pub fn new(chars: &'a [char]) -> Self {
        Lexer {
            chars,
            i: 0,
            line: 1,
            column: 1,
            depth: 0,
            at_line_start: true,
        }
    }

    /// A lexer for an f-string's replacement field, which behaves as if inside brackets.
    pub fn nested(chars: &'a [char], start: Position) -> Self {
        Lexer {
            chars,
            i: 0,
            line: start.line,
            column: start.column,
            depth: 1,
            at_line_start: false,
        }
    }

    fn pos(&self) -> Position {
        Position::new(self.line, self.column)
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

    /// Recovery: skip to the end of the physical line (the newline itself stays).
    fn skip_rest_of_line(&mut self) {
        while !matches!(self.peek(), None | Some('\n')) {
            self.bump();
        }
    }

    pub fn next_token(&mut self) -> LResult<Token> {
        loop {
            let mut indented = false;
            while let Some(c @ (' ' | '\t' | '\x0c')) = self.peek() {
                indented |= c != '\x0c';
                self.bump();
            }
            let pos = self.pos();
            let Some(c) = self.peek() else {
                return Ok(Token {
                    tok: Tok::Eof,
                    pos,
                    indented: false,
                });
            };
            match c {
                '#' => self.skip_rest_of_line(),
                '\n' => {
                    self.bump();
                    // Blank and comment-only lines end no statement.
                    if self.depth == 0 && !self.at_line_start {
                        self.at_line_start = true;
                        return Ok(Token {
                            tok: Tok::Newline,
                            pos,
                            indented: false,
                        });
                    }
                }
                '\\' => {
                    self.bump();
                    if self.peek() != Some('\n') {
                        return err(
                            pos,
                            "a backslash outside a string must be the last character of its line",
                        );
                    }
                    self.bump();
                }
                _ => {
                    let indented = indented && self.at_line_start && self.depth == 0;
                    self.at_line_start = false;
                    let tok = self.lex_token(c, pos)?;
                    return Ok(Token { tok, pos, indented });
                }
            }
        }
    }

    fn lex_token(&mut self, c: char, pos: Position) -> LResult<Tok> {
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
                    "f" => return self.lex_fstring(pos, false),
                    "fr" | "rf" => return self.lex_fstring(pos, true),
                    "t" | "tr" | "rt" => {
                        // Skip the string so the rest of the line is not misread.
                        let _ = self.lex_string(pos, true, false);
                        return err(pos, "template strings (t-strings) are not supported");
                    }
                    // A name followed by a string: the parser reports it.
                    _ => {}
                }
            }
            return Ok(Tok::Name(name));
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
            self.bump();
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
        Ok(Tok::Op(op))
    }

    /// The opening quote(s); returns (quote, triple, error message if unterminated).
    fn open_quote(&mut self) -> (char, bool, &'static str) {
        let quote = self.bump().unwrap_or('\'');
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
        (quote, triple, unterminated)
    }

    /// At a quote inside a string: consumes it and says whether it closes the string.
    fn closes(&mut self, quote: char, triple: bool) -> bool {
        self.bump();
        if !triple {
            return true;
        }
        if self.peek() == Some(quote) && self.peek_at(1) == Some(quote) {
            self.bump();
            self.bump();
            return true;
        }
        false
    }

    /// A string literal; the lexer stands on the opening quote, `start` is where the prefix
    /// (if any) began.
    fn lex_string(&mut self, start: Position, raw: bool, bytes: bool) -> LResult<Tok> {
        let quote_pos = self.pos();
        let (quote, triple, unterminated) = self.open_quote();
        let mut lit = if bytes {
            Lit::Bytes(Vec::new())
        } else {
            Lit::Text(String::new())
        };
        // The first problem inside the string; the rest of the string is still consumed.
        let mut problem: Option<Problem> = None;
        loop {
            let here = self.pos();
            let Some(c) = self.peek() else {
                return err(quote_pos, unterminated);
            };
            if c == quote {
                if self.closes(quote, triple) {
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
                            problem.get_or_insert(Problem::new(self.pos(), NON_ASCII_BYTES));
                        }
                        self.bump();
                        lit.push_char('\\');
                        lit.push_char(next);
                    } else if let Err(p) = self.escape(&mut lit, here, bytes) {
                        if self.peek().is_none() {
                            return err(quote_pos, unterminated);
                        }
                        problem.get_or_insert(p);
                    }
                }
                _ => {
                    if bytes && !c.is_ascii() {
                        problem.get_or_insert(Problem::new(here, NON_ASCII_BYTES));
                    }
                    self.bump();
                    lit.push_char(c);
                }
            }
        }
        let _ = start;
        match problem {
            Some(p) => Err(p),
            None => Ok(Tok::Str(lit)),
        }
    }

    /// An f-string: literal parts (with escapes unless raw) and replacement fields.
    fn lex_fstring(&mut self, start: Position, raw: bool) -> LResult<Tok> {
        let quote_pos = self.pos();
        let (quote, triple, unterminated) = self.open_quote();
        let mut pieces = Vec::new();
        let mut lit = Lit::Text(String::new());
        let mut problem: Option<Problem> = None;
        loop {
            let here = self.pos();
            let Some(c) = self.peek() else {
                return err(quote_pos, unterminated);
            };
            if c == quote {
                if self.closes(quote, triple) {
                    break;
                }
                lit.push_char(c);
                continue;
            }
            match c {
                '\n' if !triple => return err(quote_pos, unterminated),
                '{' if self.peek_at(1) == Some('{') => {
                    self.bump();
                    self.bump();
                    lit.push_char('{');
                }
                '}' if self.peek_at(1) == Some('}') => {
                    self.bump();
                    self.bump();
                    lit.push_char('}');
                }
                '}' => {
                    self.bump();
                    problem.get_or_insert(Problem::new(
                        here,
                        "f-string: single '}' is not allowed (write '}}' for a literal brace)",
                    ));
                }
                '{' => {
                    self.bump();
                    match self.fstring_field(quote, triple) {
                        Ok(field) => {
                            if let Lit::Text(s) =
                                std::mem::replace(&mut lit, Lit::Text(String::new()))
                            {
                                if !s.is_empty() {
                                    pieces.push(FPiece::Lit(s));
                                }
                            }
                            pieces.push(FPiece::Field(field));
                        }
                        Err(p) => {
                            if self.peek().is_none() {
                                return err(quote_pos, unterminated);
                            }
                            problem.get_or_insert(p);
                        }
                    }
                }
                '\\' => {
                    self.bump();
                    if raw {
                        let Some(next) = self.bump() else {
                            return err(quote_pos, unterminated);
                        };
                        lit.push_char('\\');
                        lit.push_char(next);
                    } else if let Err(p) = self.escape(&mut lit, here, false) {
                        if self.peek().is_none() {
                            return err(quote_pos, unterminated);
                        }
                        problem.get_or_insert(p);
                    }
                }
                _ => {
                    self.bump();
                    lit.push_char(c);
                }
            }
        }
        if let Lit::Text(s) = lit {
            if !s.is_empty() {
                pieces.push(FPiece::Lit(s));
            }
        }
        let _ = start;
        match problem {
            Some(p) => Err(p),
            None => Ok(Tok::FStr(pieces)),
        }
    }

    /// A replacement field after its `{`: the expression up to a top-level `!`, `:` or `}`,
    /// then the conversion and the format spec. Strings inside the expression are skipped as
    /// wholes so their brackets and colons do not count.
    fn fstring_field(&mut self, quote: char, triple: bool) -> LResult<FField> {
        let pos = self.pos();
        let mut chars = Vec::new();
        let mut depth = 0usize;
        let ends_string = |lx: &Self, c: char| {
            c == quote
                && (!triple || (lx.peek_at(1) == Some(quote) && lx.peek_at(2) == Some(quote)))
        };
        loop {
            let Some(c) = self.peek() else {
                return err(pos, "f-string: expecting '}'");
            };
            if (c == '\n' && !triple) || (depth == 0 && ends_string(self, c)) {
                return err(pos, "f-string: expecting '}'");
            }
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                '}' if depth > 0 => depth -= 1,
                '}' | ':' if depth == 0 => break,
                '!' if depth == 0 && self.peek_at(1) != Some('=') => break,
                '\'' | '"' => {
                    // A string inside the expression: copy it whole.
                    let q = c;
                    chars.push(c);
                    self.bump();
                    loop {
                        match self.peek() {
                            None => return err(pos, "f-string: expecting '}'"),
                            Some('\n') if !triple => return err(pos, "f-string: expecting '}'"),
                            Some('\\') => {
                                chars.push('\\');
                                self.bump();
                                if let Some(n) = self.bump() {
                                    chars.push(n);
                                }
                            }
                            Some(n) => {
                                chars.push(n);
                                self.bump();
                                if n == q {
                                    break;
                                }
                            }
                        }
                    }
                    continue;
                }
                _ => {}
            }
            chars.push(c);
            self.bump();
        }
        if chars.iter().all(|c| c.is_whitespace()) {
            self.skip_field_rest();
            return err(pos, "f-string: empty expression not allowed");
        }
        let mut conversion = None;
        if self.peek() == Some('!') {
            self.bump();
            let conv_pos = self.pos();
            match self.peek() {
                Some(c @ ('s' | 'r' | 'a')) => {
                    self.bump();
                    conversion = Some(c);
                }
                _ => {
                    self.skip_field_rest();
                    return err(
                        conv_pos,
                        "f-string: invalid conversion character: expected 's', 'r', or 'a'",
                    );
                }
            }
        }
        let mut spec = String::new();
        if self.peek() == Some(':') {
            self.bump();
            loop {
                match self.peek() {
                    None => return err(pos, "f-string: expecting '}'"),
                    Some('\n') if !triple => return err(pos, "f-string: expecting '}'"),
                    Some('}') => break,
                    Some('{') => {
                        let here = self.pos();
                        self.skip_field_rest();
                        return err(
                            here,
                            "f-string: nested replacement fields in a format spec are not supported",
                        );
                    }
                    Some(c) if ends_string(self, c) => return err(pos, "f-string: expecting '}'"),
                    Some(c) => {
                        spec.push(c);
                        self.bump();
                    }
                }
            }
        }
        if self.peek() != Some('}') {
            let here = self.pos();
            self.skip_field_rest();
            return err(here, "f-string: expecting '}'");
        }
        self.bump();
        Ok(FField {
            chars,
            pos,
            conversion,
            spec,
        })
    }

    /// Recovery inside a replacement field: skip to just after its `}` (or the line end).
    fn skip_field_rest(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            if c == '\n' {
                return;
            }
            self.bump();
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => return,
                '}' => depth -= 1,
                _ => {}
            }
        }
    }

    /// One escape sequence in a non-raw string; the lexer stands just after the backslash.
    fn escape(&mut self, lit: &mut Lit, esc_pos: Position, bytes: bool) -> LResult<()> {
        let Some(c) = self.peek() else {
            return err(esc_pos, "unterminated string");
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

    /// Recovery after a bad number: skip the rest of the word.
    fn number_error<T>(&mut self, pos: Position, message: impl Into<String>) -> LResult<T> {
        while self
            .peek()
            .is_some_and(|c| is_ident_continue(c) || c == '.')
        {
            self.bump();
        }
        err(pos, message)
    }

    /// An int or float literal; the lexer stands on a digit or on `.` followed by a digit.
    fn lex_number(&mut self, start: Position) -> LResult<Tok> {
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
                    return self.number_error(start, invalid);
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
                return self.number_error(start, invalid);
            }
            return match u64::from_str_radix(&digits, radix) {
                Ok(value) => Ok(Tok::Int(value)),
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
            return self.number_error(start, "complex numbers are not supported");
        }
        if self.peek().is_some_and(is_ident_continue) {
            return self.number_error(start, "invalid decimal literal");
        }
        if is_float {
            // Rust's parser wants digits on both sides of the point; Python does not.
            if text.starts_with('.') {
                text.insert(0, '0');
            }
            let text = text.replace(".e", ".0e");
            return match text.parse::<f64>() {
                Ok(value) => Ok(Tok::Float(value)),
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
            Ok(value) => Ok(Tok::Int(value)),
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
