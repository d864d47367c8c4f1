//! The syntax tree of the pi.cfg subset: statements and expressions with their positions.
//! It holds constructs pi-manage refuses too (`**`, bitwise operators, any call), so the
//! checker can name each of them with its place.

use super::diagnostic::Position;
use super::value::PyValue;

/// The deepest expression tree accepted; deeper ones are refused while parsing, so neither
/// the parser nor the checker, evaluator or `Drop` can overflow the stack.
pub(crate) const MAX_TREE_DEPTH: u32 = 200;

#[derive(Debug)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: Position,
    /// Height of the tree below and including this node.
    pub depth: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    /// Parsed so it can be refused by name: `**`, `@`, `|`, `&`, `^`, `<<`, `>>`.
    Unsupported(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Pos,
    Not,
    /// `~`, parsed to be refused.
    Invert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
}

#[derive(Debug)]
pub(crate) enum FPart {
    Lit(String),
    Field {
        expr: Expr,
        conversion: Option<char>,
        spec: String,
    },
}

#[derive(Debug)]
pub(crate) enum ExprKind {
    Const(PyValue),
    FString(Vec<FPart>),
    Name(String),
    Attr(Box<Expr>, String),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        kwargs: Vec<(String, Expr)>,
    },
    Subscript(Box<Expr>, Box<Expr>),
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, Vec<(CmpOp, Position, Expr)>),
    IfElse {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
}

impl Expr {
    /// A node; its depth is computed from its children.
    pub fn new(kind: ExprKind, pos: Position) -> Expr {
        let depth = 1 + kind.children().map(|c| c.depth).max().unwrap_or(0);
        Expr { kind, pos, depth }
    }
}

impl ExprKind {
    /// The direct sub-expressions.
    pub fn children(&self) -> Box<dyn Iterator<Item = &Expr> + '_> {
        match self {
            ExprKind::Const(_) | ExprKind::Name(_) => Box::new(std::iter::empty()),
            ExprKind::FString(parts) => Box::new(parts.iter().filter_map(|p| match p {
                FPart::Field { expr, .. } => Some(expr),
                FPart::Lit(_) => None,
            })),
            ExprKind::Attr(e, _) | ExprKind::Unary(_, e) => Box::new(std::iter::once(&**e)),
            ExprKind::Call { func, args, kwargs } => Box::new(
                std::iter::once(&**func)
                    .chain(args.iter())
                    .chain(kwargs.iter().map(|(_, e)| e)),
            ),
            ExprKind::Subscript(a, b)
            | ExprKind::Binary(_, a, b)
            | ExprKind::And(a, b)
            | ExprKind::Or(a, b) => Box::new([&**a, &**b].into_iter()),
            ExprKind::Slice(a, b, c) => {
                Box::new([a, b, c].into_iter().filter_map(|e| e.as_deref()))
            }
            ExprKind::Compare(first, rest) => {
                Box::new(std::iter::once(&**first).chain(rest.iter().map(|(_, _, e)| e)))
            }
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => Box::new([&**cond, &**then, &**otherwise].into_iter()),
            ExprKind::List(items) | ExprKind::Tuple(items) => Box::new(items.iter()),
            ExprKind::Dict(pairs) => Box::new(pairs.iter().flat_map(|(k, v)| [k, v])),
        }
    }
}

/// `import a.b as c`: the dotted module and the optional alias.
#[derive(Debug)]
pub(crate) struct ImportName {
    pub module: Vec<String>,
    pub alias: Option<String>,
    pub pos: Position,
}

#[derive(Debug)]
pub(crate) enum StmtKind {
    /// `a = b = value`: every target is a plain name.
    Assign {
        targets: Vec<(String, Position)>,
        value: Expr,
    },
    /// `a += value`.
    AugAssign {
        target: String,
        op: BinOp,
        value: Expr,
    },
    Import(Vec<ImportName>),
    /// `from module import name as alias, ...`.
    FromImport {
        module: Vec<String>,
        names: Vec<ImportName>,
    },
    /// An expression on its own (a docstring, or a call whose result is dropped).
    Expr(Expr),
    Pass,
}

#[derive(Debug)]
pub(crate) struct Stmt {
    pub kind: StmtKind,
    pub pos: Position,
}
