//! Statements and expressions of the pi.cfg subset, by recursive descent over the lexer's
//! tokens, with positions. A statement with a syntax error is reported and skipped to the end
//! of its logical line, so every problem of the file is found in one run; compound statements
//! (`if`, `for`, `def`, ...) are reported once and their indented bodies skipped.
//!
//! Nesting is bounded (brackets, unary operators and the height of the tree), so no input can
//! overflow the stack.

use super::ast::*;
use super::diagnostic::{Position, Problem};
use super::lexer::{keyword, FPiece, Lexer, Lit, Tok, Token, INT_RANGE};
use super::value::PyValue;

/// Nested brackets, unary operators and conditional expressions accepted (CPython allows 200
/// parentheses; real pi.cfg files use a handful).
const MAX_NESTING: u32 = 50;

type PResult<T> = Result<T, Problem>;

fn err<T>(pos: Position, message: impl Into<String>) -> PResult<T> {
    Err(Problem::new(pos, message))
}

/// Statements that open an indented block.
const COMPOUND: &[&str] = &[
    "if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally",
    "async",
];
/// Other statement keywords we refuse.
const SIMPLE_REFUSED: &[&str] = &[
    "global", "nonlocal", "del", "assert", "return", "raise", "break", "continue", "yield",
    "await", "lambda",
];

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
        Tok::FStr(_) => "an f-string".to_string(),
        Tok::Int(_) | Tok::Float(_) => "a number".to_string(),
        Tok::Op(op) => format!("'{op}'"),
        Tok::Newline => "the end of the line".to_string(),
        Tok::Eof => "the end of the file".to_string(),
    }
}

/// Parses a whole file: its statements, and every problem found.
pub(crate) fn parse_file(chars: &[char]) -> (Vec<Stmt>, Vec<Problem>) {
    let mut p = Parser::new(Lexer::new(chars), 0);
    let mut stmts = Vec::new();
    let mut problems = Vec::new();
    // Inside the body of a refused compound statement: its indented lines are skipped.
    let mut in_block = false;
    loop {
        let tok = match p.peek() {
            Ok(t) => t,
            Err(e) => {
                problems.push(e);
                p.skip_statement();
                continue;
            }
        };
        let (pos, indented) = (tok.pos, tok.indented);
        match tok.tok {
            Tok::Newline => {
                p.bump();
                continue;
            }
            Tok::Eof => break,
            _ => {}
        }
        if indented {
            if !in_block {
                problems.push(Problem::new(
                    pos,
                    "unexpected indentation: a statement must start at the beginning of its line",
                ));
            }
            p.skip_statement();
            continue;
        }
        in_block = false;
        if let Tok::Name(n) = &tok.tok {
            if let Some(kw) = keyword(n).filter(|k| COMPOUND.contains(k)) {
                problems.push(Problem::new(
                    pos,
                    format!("'{kw}' statements are not supported (pi.cfg may only assign values, import os or logging, and use conditional expressions such as A if C else B)"),
                ));
                p.skip_statement();
                in_block = true;
                continue;
            }
        }
        loop {
            match p.simple_statement() {
                Ok(s) => stmts.push(s),
                Err(e) => {
                    problems.push(e);
                    p.skip_statement();
                    break;
                }
            }
            match p.end_of_statement() {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    problems.push(e);
                    p.skip_statement();
                    break;
                }
            }
        }
    }
    (stmts, problems)
}

/// Parses one expression that must make up the whole text (for `ast.literal_eval`).
pub(crate) fn parse_expression(chars: &[char]) -> PResult<Expr> {
    let mut p = Parser::new(Lexer::new(chars), 0);
    let e = p.test_list()?;
    let mut tok = p.next()?;
    while matches!(tok.tok, Tok::Newline) {
        tok = p.next()?;
    }
    match tok.tok {
        Tok::Eof => Ok(e),
        other => err(
            tok.pos,
            format!(
                "expected the end of the expression, found {}",
                describe(&other)
            ),
        ),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    depth: u32,
}

impl<'a> Parser<'a> {
    fn new(lexer: Lexer<'a>, depth: u32) -> Self {
        Parser {
            lexer,
            peeked: None,
            depth,
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

    /// Drops the peeked token.
    fn bump(&mut self) {
        self.peeked = None;
    }

    fn peek_op(&mut self, op: &str) -> PResult<bool> {
        Ok(matches!(self.peek()?.tok, Tok::Op(o) if o == op))
    }

    fn peek_keyword(&mut self, kw: &str) -> PResult<bool> {
        Ok(matches!(&self.peek()?.tok, Tok::Name(n) if n == kw))
    }

    fn eat_op(&mut self, op: &str) -> PResult<bool> {
        let found = self.peek_op(op)?;
        if found {
            self.bump();
        }
        Ok(found)
    }

    fn eat_keyword(&mut self, kw: &str) -> PResult<bool> {
        let found = self.peek_keyword(kw)?;
        if found {
            self.bump();
        }
        Ok(found)
    }

    /// Recovery: skip tokens to the end of the logical line (lexer errors there are part of
    /// the same broken statement and not reported again).
    fn skip_statement(&mut self) {
        loop {
            if let Ok(Token {
                tok: Tok::Newline | Tok::Eof,
                ..
            }) = self.next()
            {
                return;
            }
            if self.lexer_at_end() {
                return;
            }
        }
    }

    fn lexer_at_end(&mut self) -> bool {
        matches!(self.peek(), Ok(Token { tok: Tok::Eof, .. }))
    }

    /// After a statement: `;` (true: another follows), or the end of the line (false).
    fn end_of_statement(&mut self) -> PResult<bool> {
        let tok = self.next()?;
        match tok.tok {
            Tok::Op(";") => {
                if matches!(self.peek()?.tok, Tok::Newline | Tok::Eof) {
                    self.bump();
                    return Ok(false);
                }
                Ok(true)
            }
            Tok::Newline | Tok::Eof => Ok(false),
            other => err(
                tok.pos,
                format!(
                    "expected the end of the statement, found {}",
                    describe(&other)
                ),
            ),
        }
    }

    fn node(&self, kind: ExprKind, pos: Position) -> PResult<Expr> {
        let e = Expr::new(kind, pos);
        if e.depth > MAX_TREE_DEPTH {
            return err(
                pos,
                format!("the expression is too deeply nested (more than {MAX_TREE_DEPTH} levels)"),
            );
        }
        Ok(e)
    }

    /// Runs `f` one nesting level deeper, refusing more than [`MAX_NESTING`] levels.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            let pos = self.peek().map(|t| t.pos).unwrap_or_default();
            return err(
                pos,
                format!("too many nested brackets or operators (more than {MAX_NESTING} levels)"),
            );
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    // -----------------------------------------------------------------------------------
    // Statements

    fn simple_statement(&mut self) -> PResult<Stmt> {
        let tok = self.peek()?;
        let pos = tok.pos;
        if let Tok::Name(n) = &tok.tok {
            match keyword(n) {
                Some("import") => {
                    self.bump();
                    let names = self.import_names(false)?;
                    return Ok(Stmt {
                        kind: StmtKind::Import(names),
                        pos,
                    });
                }
                Some("from") => {
                    self.bump();
                    return self.parse_from_import(pos);
                }
                Some("pass") => {
                    self.bump();
                    return Ok(Stmt {
                        kind: StmtKind::Pass,
                        pos,
                    });
                }
                Some(kw) if SIMPLE_REFUSED.contains(&kw) => {
                    return err(pos, format!("'{kw}' is not supported in pi.cfg"));
                }
                _ => {}
            }
        }
        let first = self.test_list()?;
        let tok = self.peek()?;
        let op_pos = tok.pos;
        match tok.tok {
            Tok::Op("=") => {
                let mut targets = vec![first];
                let mut value;
                loop {
                    self.bump();
                    value = self.test_list()?;
                    if !self.peek_op("=")? {
                        break;
                    }
                    targets.push(value);
                }
                let targets = targets
                    .into_iter()
                    .map(assign_target)
                    .collect::<PResult<Vec<_>>>()?;
                Ok(Stmt {
                    kind: StmtKind::Assign { targets, value },
                    pos,
                })
            }
            Tok::Op(op @ ("+=" | "-=" | "*=" | "/=" | "//=" | "%=")) => {
                self.bump();
                let (target, _) = assign_target(first)?;
                let op = match op {
                    "+=" => BinOp::Add,
                    "-=" => BinOp::Sub,
                    "*=" => BinOp::Mul,
                    "/=" => BinOp::Div,
                    "//=" => BinOp::FloorDiv,
                    _ => BinOp::Mod,
                };
                let value = self.test_list()?;
                Ok(Stmt {
                    kind: StmtKind::AugAssign { target, op, value },
                    pos,
                })
            }
            Tok::Op(op)
                if op.len() > 1
                    && op.ends_with('=')
                    && !matches!(op, "==" | "!=" | "<=" | ">=") =>
            {
                err(
                    op_pos,
                    format!("the augmented assignment '{op}' is not supported"),
                )
            }
            Tok::Op(":") => err(
                op_pos,
                "annotated assignments (NAME: type = value) are not supported; write NAME = value",
            ),
            _ => Ok(Stmt {
                kind: StmtKind::Expr(first),
                pos,
            }),
        }
    }

    /// `a.b as c, d` after `import` (or the names after `from m import`, undotted).
    fn import_names(&mut self, single: bool) -> PResult<Vec<ImportName>> {
        let mut names = Vec::new();
        let parens = single && self.eat_op("(")?;
        loop {
            let tok = self.next()?;
            let pos = tok.pos;
            let mut module = match tok.tok {
                Tok::Name(n) if keyword(&n).is_none() => vec![n],
                Tok::Op("*") if single => {
                    return err(
                        pos,
                        "'from ... import *' is not supported; name what you import",
                    )
                }
                other => {
                    return err(
                        pos,
                        format!("expected a module name, found {}", describe(&other)),
                    )
                }
            };
            while !single && self.eat_op(".")? {
                let tok = self.next()?;
                match tok.tok {
                    Tok::Name(n) if keyword(&n).is_none() => module.push(n),
                    other => {
                        return err(
                            tok.pos,
                            format!("expected a module name, found {}", describe(&other)),
                        )
                    }
                }
            }
            let alias = if self.eat_keyword("as")? {
                let tok = self.next()?;
                match tok.tok {
                    Tok::Name(n) if keyword(&n).is_none() => Some(n),
                    other => {
                        return err(
                            tok.pos,
                            format!("expected a name, found {}", describe(&other)),
                        )
                    }
                }
            } else {
                None
            };
            names.push(ImportName { module, alias, pos });
            if !self.eat_op(",")? {
                break;
            }
            if parens && self.peek_op(")")? {
                break;
            }
        }
        if parens && !self.eat_op(")")? {
            let tok = self.next()?;
            return err(
                tok.pos,
                format!("expected ')', found {}", describe(&tok.tok)),
            );
        }
        Ok(names)
    }

    fn parse_from_import(&mut self, pos: Position) -> PResult<Stmt> {
        let tok = self.next()?;
        let mut module = match tok.tok {
            Tok::Name(n) if keyword(&n).is_none() => vec![n],
            Tok::Op("." | "...") => return err(tok.pos, "relative imports are not supported"),
            other => {
                return err(
                    tok.pos,
                    format!("expected a module name, found {}", describe(&other)),
                )
            }
        };
        while self.eat_op(".")? {
            let tok = self.next()?;
            match tok.tok {
                Tok::Name(n) if keyword(&n).is_none() => module.push(n),
                other => {
                    return err(
                        tok.pos,
                        format!("expected a module name, found {}", describe(&other)),
                    )
                }
            }
        }
        if !self.eat_keyword("import")? {
            let tok = self.next()?;
            return err(
                tok.pos,
                format!("expected 'import', found {}", describe(&tok.tok)),
            );
        }
        let names = self.import_names(true)?;
        Ok(Stmt {
            kind: StmtKind::FromImport { module, names },
            pos,
        })
    }

    // -----------------------------------------------------------------------------------
    // Expressions

    /// `a, b, c` (a tuple without brackets) or a single expression.
    fn test_list(&mut self) -> PResult<Expr> {
        let first = self.test()?;
        if !self.peek_op(",")? {
            return Ok(first);
        }
        let pos = first.pos;
        let mut items = vec![first];
        while self.eat_op(",")? {
            if matches!(
                self.peek()?.tok,
                Tok::Newline | Tok::Eof | Tok::Op(";" | "=" | ")" | "]" | "}")
            ) {
                break;
            }
            items.push(self.test()?);
        }
        self.node(ExprKind::Tuple(items), pos)
    }

    /// A full expression: a conditional expression or anything below it.
    fn test(&mut self) -> PResult<Expr> {
        self.nested(|p| {
            if p.peek_keyword("lambda")? {
                let pos = p.peek()?.pos;
                return err(pos, "lambda expressions are not supported");
            }
            let body = p.or_test()?;
            if !p.peek_keyword("if")? {
                if p.peek_op(":=")? {
                    let pos = p.peek()?.pos;
                    return err(pos, "assignment expressions (':=') are not supported");
                }
                return Ok(body);
            }
            p.bump();
            let cond = p.or_test()?;
            if !p.eat_keyword("else")? {
                let tok = p.next()?;
                return err(
                    tok.pos,
                    format!(
                        "expected 'else' in the conditional expression, found {}",
                        describe(&tok.tok)
                    ),
                );
            }
            let otherwise = p.test()?;
            let pos = body.pos;
            p.node(
                ExprKind::IfElse {
                    cond: Box::new(cond),
                    then: Box::new(body),
                    otherwise: Box::new(otherwise),
                },
                pos,
            )
        })
    }

    fn or_test(&mut self) -> PResult<Expr> {
        let mut left = self.and_test()?;
        while self.peek_keyword("or")? {
            let pos = self.next()?.pos;
            let right = self.and_test()?;
            left = self.node(ExprKind::Or(Box::new(left), Box::new(right)), pos)?;
        }
        Ok(left)
    }

    fn and_test(&mut self) -> PResult<Expr> {
        let mut left = self.not_test()?;
        while self.peek_keyword("and")? {
            let pos = self.next()?.pos;
            let right = self.not_test()?;
            left = self.node(ExprKind::And(Box::new(left), Box::new(right)), pos)?;
        }
        Ok(left)
    }

    fn not_test(&mut self) -> PResult<Expr> {
        if self.peek_keyword("not")? {
            let pos = self.next()?.pos;
            let operand = self.nested(|p| p.not_test())?;
            return self.node(ExprKind::Unary(UnaryOp::Not, Box::new(operand)), pos);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let first = self.bitwise()?;
        let mut rest = Vec::new();
        loop {
            let tok = self.peek()?;
            let pos = tok.pos;
            let op = match &tok.tok {
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Name(n) if n == "in" => CmpOp::In,
                Tok::Name(n) if n == "is" => CmpOp::Is,
                Tok::Name(n) if n == "not" => CmpOp::NotIn,
                _ => break,
            };
            self.bump();
            let op = match op {
                CmpOp::Is if self.eat_keyword("not")? => CmpOp::IsNot,
                CmpOp::NotIn if !self.eat_keyword("in")? => {
                    let tok = self.next()?;
                    return err(
                        tok.pos,
                        format!("expected 'in' after 'not', found {}", describe(&tok.tok)),
                    );
                }
                op => op,
            };
            rest.push((op, pos, self.bitwise()?));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        let pos = first.pos;
        self.node(ExprKind::Compare(Box::new(first), rest), pos)
    }

    /// `| ^ & << >>`: parsed (at one level, as they are refused anyway) to be named.
    fn bitwise(&mut self) -> PResult<Expr> {
        let mut left = self.arith()?;
        loop {
            let tok = self.peek()?;
            let op = match tok.tok {
                Tok::Op(op @ ("|" | "^" | "&" | "<<" | ">>")) => op,
                _ => return Ok(left),
            };
            let pos = tok.pos;
            self.bump();
            let right = self.arith()?;
            left = self.node(
                ExprKind::Binary(BinOp::Unsupported(op), Box::new(left), Box::new(right)),
                pos,
            )?;
        }
    }

    fn arith(&mut self) -> PResult<Expr> {
        let mut left = self.term()?;
        loop {
            let tok = self.peek()?;
            let op = match tok.tok {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            let pos = tok.pos;
            self.bump();
            let right = self.term()?;
            left = self.node(ExprKind::Binary(op, Box::new(left), Box::new(right)), pos)?;
        }
    }

    fn term(&mut self) -> PResult<Expr> {
        let mut left = self.factor()?;
        loop {
            let tok = self.peek()?;
            let op = match tok.tok {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("//") => BinOp::FloorDiv,
                Tok::Op("%") => BinOp::Mod,
                Tok::Op("@") => BinOp::Unsupported("@"),
                _ => return Ok(left),
            };
            let pos = tok.pos;
            self.bump();
            let right = self.factor()?;
            left = self.node(ExprKind::Binary(op, Box::new(left), Box::new(right)), pos)?;
        }
    }

    fn factor(&mut self) -> PResult<Expr> {
        let tok = self.peek()?;
        let pos = tok.pos;
        let op = match tok.tok {
            Tok::Op("-") => UnaryOp::Neg,
            Tok::Op("+") => UnaryOp::Pos,
            Tok::Op("~") => UnaryOp::Invert,
            _ => return self.power(),
        };
        self.bump();
        // `-9223372036854775808` is in range although its magnitude alone is not.
        if op == UnaryOp::Neg {
            if let Tok::Int(m) = self.peek()?.tok {
                if m == 1u64 << 63 {
                    self.bump();
                    if !self.peek_op("**")?
                        && !self.peek_op("(")?
                        && !self.peek_op("[")?
                        && !self.peek_op(".")?
                    {
                        return self.node(ExprKind::Const(PyValue::Int(i64::MIN)), pos);
                    }
                    return err(pos, INT_RANGE);
                }
            }
        }
        let operand = self.nested(|p| p.factor())?;
        self.node(ExprKind::Unary(op, Box::new(operand)), pos)
    }

    fn power(&mut self) -> PResult<Expr> {
        let base = self.primary()?;
        if self.peek_op("**")? {
            let pos = self.next()?.pos;
            let exp = self.nested(|p| p.factor())?;
            return self.node(
                ExprKind::Binary(BinOp::Unsupported("**"), Box::new(base), Box::new(exp)),
                pos,
            );
        }
        Ok(base)
    }

    /// An atom followed by calls, subscripts and attribute accesses.
    fn primary(&mut self) -> PResult<Expr> {
        let mut e = self.atom()?;
        loop {
            let tok = self.peek()?;
            let pos = tok.pos;
            match tok.tok {
                Tok::Op("(") => {
                    self.bump();
                    let (args, kwargs) = self.nested(|p| p.call_args(pos))?;
                    e = self.node(
                        ExprKind::Call {
                            func: Box::new(e),
                            args,
                            kwargs,
                        },
                        pos,
                    )?;
                }
                Tok::Op("[") => {
                    self.bump();
                    let index = self.nested(|p| p.subscript(pos))?;
                    e = self.node(ExprKind::Subscript(Box::new(e), Box::new(index)), pos)?;
                }
                Tok::Op(".") => {
                    self.bump();
                    let tok = self.next()?;
                    match tok.tok {
                        Tok::Name(n) if keyword(&n).is_none() => {
                            e = self.node(ExprKind::Attr(Box::new(e), n), tok.pos)?;
                        }
                        other => {
                            return err(
                                tok.pos,
                                format!(
                                    "expected an attribute name after '.', found {}",
                                    describe(&other)
                                ),
                            )
                        }
                    }
                }
                _ => return Ok(e),
            }
        }
    }

    /// Fails with "'(' was never closed" when the file ends inside brackets.
    fn check_open(&mut self, open: &str, open_pos: Position) -> PResult<()> {
        if matches!(self.peek()?.tok, Tok::Eof) {
            return err(open_pos, format!("'{open}' was never closed"));
        }
        Ok(())
    }

    /// Expects `close` or `,` after an item; true when the bracket closed.
    fn item_end(&mut self, open: &str, close: &str, open_pos: Position) -> PResult<bool> {
        self.check_open(open, open_pos)?;
        let tok = self.next()?;
        match tok.tok {
            Tok::Op(op) if op == close => Ok(true),
            Tok::Op(",") => Ok(false),
            Tok::Name(ref n) if n == "for" => err(tok.pos, "comprehensions are not supported"),
            ref other => err(
                tok.pos,
                format!("expected ',' or '{close}', found {}", describe(other)),
            ),
        }
    }

    /// An item inside brackets; `*x` is refused.
    fn item(&mut self, open: &str, open_pos: Position) -> PResult<Expr> {
        self.check_open(open, open_pos)?;
        if self.peek_op("*")? || self.peek_op("**")? {
            let pos = self.peek()?.pos;
            return err(pos, "unpacking with '*' or '**' is not supported");
        }
        self.test()
    }

    fn call_args(&mut self, open_pos: Position) -> PResult<CallArgs> {
        let mut args = Vec::new();
        let mut kwargs: Vec<(String, Expr)> = Vec::new();
        loop {
            self.check_open("(", open_pos)?;
            if self.eat_op(")")? {
                return Ok((args, kwargs));
            }
            let e = self.item("(", open_pos)?;
            if self.peek_op("=")? {
                let ExprKind::Name(name) = e.kind else {
                    let pos = self.peek()?.pos;
                    return err(pos, "expected a keyword argument name before '='");
                };
                self.bump();
                let value = self.test()?;
                kwargs.push((name, value));
            } else {
                if !kwargs.is_empty() {
                    return err(e.pos, "positional argument follows keyword argument");
                }
                args.push(e);
            }
            if self.item_end("(", ")", open_pos)? {
                return Ok((args, kwargs));
            }
        }
    }

    /// The inside of `x[...]`: an index (a tuple for `x[a, b]`) or a slice.
    fn subscript(&mut self, open_pos: Position) -> PResult<Expr> {
        self.check_open("[", open_pos)?;
        let pos = self.peek()?.pos;
        let start = if self.peek_op(":")? {
            None
        } else {
            Some(self.test()?)
        };
        if self.peek_op(":")? {
            self.bump();
            let bound = |p: &mut Self| -> PResult<Option<Box<Expr>>> {
                p.check_open("[", open_pos)?;
                if p.peek_op(":")? || p.peek_op("]")? {
                    Ok(None)
                } else {
                    Ok(Some(Box::new(p.test()?)))
                }
            };
            let stop = bound(self)?;
            let step = if self.eat_op(":")? {
                bound(self)?
            } else {
                None
            };
            self.expect_close("[", "]", open_pos)?;
            return self.node(ExprKind::Slice(start.map(Box::new), stop, step), pos);
        }
        let first = start.expect("not a slice");
        if self.peek_op(",")? {
            let mut items = vec![first];
            while !self.item_end("[", "]", open_pos)? {
                if self.peek_op("]")? {
                    self.bump();
                    break;
                }
                items.push(self.item("[", open_pos)?);
            }
            return self.node(ExprKind::Tuple(items), pos);
        }
        self.expect_close("[", "]", open_pos)?;
        Ok(first)
    }

    fn expect_close(&mut self, open: &str, close: &str, open_pos: Position) -> PResult<()> {
        self.check_open(open, open_pos)?;
        let tok = self.next()?;
        match tok.tok {
            Tok::Op(op) if op == close => Ok(()),
            other => err(
                tok.pos,
                format!("expected '{close}', found {}", describe(&other)),
            ),
        }
    }

    fn atom(&mut self) -> PResult<Expr> {
        let tok = self.next()?;
        let pos = tok.pos;
        match tok.tok {
            Tok::Name(n) => match keyword(&n) {
                Some("True") => self.node(ExprKind::Const(PyValue::Bool(true)), pos),
                Some("False") => self.node(ExprKind::Const(PyValue::Bool(false)), pos),
                Some("None") => self.node(ExprKind::Const(PyValue::None), pos),
                Some("lambda") => err(pos, "lambda expressions are not supported"),
                Some("yield" | "await") => err(pos, "'yield' and 'await' are not supported"),
                Some(kw) => err(
                    pos,
                    format!("expected an expression, found the keyword '{kw}'"),
                ),
                None => self.node(ExprKind::Name(n), pos),
            },
            Tok::Int(m) => match i64::try_from(m) {
                Ok(v) => self.node(ExprKind::Const(PyValue::Int(v)), pos),
                Err(_) => err(pos, INT_RANGE),
            },
            Tok::Float(x) => self.node(ExprKind::Const(PyValue::Float(x)), pos),
            Tok::Str(lit) => self.strings(Piece::Plain(lit), pos),
            Tok::FStr(pieces) => self.strings(Piece::F(pieces), pos),
            Tok::Op("(") => self.nested(|p| p.paren(pos)),
            Tok::Op("[") => self.nested(|p| {
                let mut items = Vec::new();
                loop {
                    p.check_open("[", pos)?;
                    if p.eat_op("]")? {
                        break;
                    }
                    items.push(p.item("[", pos)?);
                    if p.item_end("[", "]", pos)? {
                        break;
                    }
                }
                p.node(ExprKind::List(items), pos)
            }),
            Tok::Op("{") => self.nested(|p| p.dict(pos)),
            Tok::Op("...") => err(pos, "'...' (Ellipsis) is not supported"),
            Tok::Op("*" | "**") => err(pos, "unpacking with '*' or '**' is not supported"),
            other => err(
                pos,
                format!("expected an expression, found {}", describe(&other)),
            ),
        }
    }

    fn paren(&mut self, pos: Position) -> PResult<Expr> {
        self.check_open("(", pos)?;
        if self.eat_op(")")? {
            return self.node(ExprKind::Tuple(Vec::new()), pos);
        }
        if self.peek_keyword("yield")? {
            return err(self.peek()?.pos, "'yield' is not supported");
        }
        let first = self.item("(", pos)?;
        if self.item_end("(", ")", pos)? {
            // `(x)` is x itself.
            return Ok(first);
        }
        let mut items = vec![first];
        loop {
            self.check_open("(", pos)?;
            if self.eat_op(")")? {
                break;
            }
            items.push(self.item("(", pos)?);
            if self.item_end("(", ")", pos)? {
                break;
            }
        }
        self.node(ExprKind::Tuple(items), pos)
    }

    fn dict(&mut self, pos: Position) -> PResult<Expr> {
        let mut pairs = Vec::new();
        loop {
            self.check_open("{", pos)?;
            if self.eat_op("}")? {
                break;
            }
            let key = self.item("{", pos)?;
            self.check_open("{", pos)?;
            let tok = self.next()?;
            match tok.tok {
                Tok::Op(":") => {}
                Tok::Op("," | "}") => return err(pos, "sets are not supported"),
                Tok::Name(ref n) if n == "for" => {
                    return err(tok.pos, "comprehensions are not supported")
                }
                ref other => {
                    return err(tok.pos, format!("expected ':', found {}", describe(other)))
                }
            }
            let value = self.item("{", pos)?;
            pairs.push((key, value));
            if self.item_end("{", "}", pos)? {
                break;
            }
        }
        self.node(ExprKind::Dict(pairs), pos)
    }

    /// Adjacent string literals are one string (`'a' "b" f'{c}'`), as in Python.
    fn strings(&mut self, first: Piece, pos: Position) -> PResult<Expr> {
        let mut pieces = vec![first];
        loop {
            let tok = self.peek()?;
            let piece = match tok.tok {
                Tok::Str(_) | Tok::FStr(_) => match self.next()?.tok {
                    Tok::Str(lit) => Piece::Plain(lit),
                    Tok::FStr(f) => Piece::F(f),
                    _ => unreachable!("peeked a string"),
                },
                _ => break,
            };
            pieces.push(piece);
        }
        let bytes = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Plain(Lit::Bytes(_))))
            .count();
        if bytes > 0 && bytes < pieces.len() {
            return err(pos, "cannot mix bytes and str literals");
        }
        if bytes > 0 {
            let mut all = Vec::new();
            for p in pieces {
                if let Piece::Plain(Lit::Bytes(b)) = p {
                    all.extend(b);
                }
            }
            return self.node(ExprKind::Const(PyValue::Bytes(all)), pos);
        }
        if !pieces.iter().any(|p| matches!(p, Piece::F(_))) {
            let mut all = String::new();
            for p in pieces {
                if let Piece::Plain(Lit::Text(s)) = p {
                    all.push_str(&s);
                }
            }
            return self.node(ExprKind::Const(PyValue::Str(all)), pos);
        }
        let mut parts = Vec::new();
        for p in pieces {
            match p {
                Piece::Plain(Lit::Text(s)) => parts.push(FPart::Lit(s)),
                Piece::Plain(Lit::Bytes(_)) => {}
                Piece::F(fp) => {
                    for f in fp {
                        match f {
                            FPiece::Lit(s) => parts.push(FPart::Lit(s)),
                            FPiece::Field(field) => {
                                let mut sub = Parser::new(
                                    Lexer::nested(&field.chars, field.pos),
                                    self.depth + 1,
                                );
                                let expr = sub.nested(|p| p.test_list())?;
                                let tok = sub.next()?;
                                if !matches!(tok.tok, Tok::Eof) {
                                    return err(
                                        tok.pos,
                                        format!(
                                            "f-string: expected '}}' after the expression, found {}",
                                            describe(&tok.tok)
                                        ),
                                    );
                                }
                                parts.push(FPart::Field {
                                    expr,
                                    conversion: field.conversion,
                                    spec: field.spec,
                                });
                            }
                        }
                    }
                }
            }
        }
        self.node(ExprKind::FString(parts), pos)
    }
}

/// Positional and keyword arguments of a call.
type CallArgs = (Vec<Expr>, Vec<(String, Expr)>);

enum Piece {
    Plain(Lit),
    F(Vec<FPiece>),
}

/// The name an assignment binds, or why this target cannot be assigned.
fn assign_target(e: Expr) -> PResult<(String, Position)> {
    let what = match e.kind {
        ExprKind::Name(n) => return Ok((n, e.pos)),
        ExprKind::Tuple(_) | ExprKind::List(_) => {
            "assigning several names at once is not supported; write one NAME = value per line"
        }
        ExprKind::Subscript(..) => "assigning to a subscript (x[...] = ...) is not supported",
        ExprKind::Attr(..) => "assigning to an attribute (x.y = ...) is not supported",
        _ => "only names can be assigned",
    };
    err(e.pos, what)
}
