//! The allow-list check, before anything is evaluated: every import, name, attribute, call
//! and operator of the file is checked against what pi-manage supports, also in branches a
//! conditional expression would never take, and every refusal is reported with its place.
//!
//! The file has no loops or branches at statement level, so which names are bound where is
//! known exactly: a name used before any assignment is reported here (Python's `NameError`).

use std::collections::{HashMap, HashSet};

use super::ast::*;
use super::builtins::{builtin, module_attr, Attr, Func, Module, REFUSED_BUILTINS, STR_METHODS};
use super::diagnostic::{Position, Problem};

/// What a name or expression is, as far as the checker can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Value,
    Module(Module),
    Func(Func),
    /// The result of `open(...)`: only `.read()` may follow.
    File,
    /// A name already reported (undefined, or bound by a refused import): its uses are not
    /// reported again.
    Unknown,
}

/// Python's `str.isupper()`: the names Flask's `from_object` takes as settings.
pub(crate) fn is_setting(name: &str) -> bool {
    name.chars().any(char::is_uppercase) && !name.chars().any(char::is_lowercase)
}

pub(crate) fn check(stmts: &[Stmt], has_file: bool) -> Vec<Problem> {
    let mut c = Checker {
        scope: HashMap::new(),
        refused_imports: HashSet::new(),
        problems: Vec::new(),
    };
    if has_file {
        c.scope.insert("__file__".into(), Kind::Value);
    }
    for s in stmts {
        c.stmt(s);
    }
    c.problems
}

struct Checker {
    scope: HashMap<String, Kind>,
    /// Names bound by refused imports (their calls are reported too).
    refused_imports: HashSet<String>,
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, pos: Position, message: impl Into<String>) {
        self.problems.push(Problem::new(pos, message));
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Pass => {}
            StmtKind::Expr(e) => {
                self.expr(e);
            }
            StmtKind::Import(names) => {
                for n in names {
                    let dotted = n.module.join(".");
                    let module = match dotted.as_str() {
                        "os" => Module::Os,
                        "os.path" => Module::OsPath,
                        "logging" => Module::Logging,
                        _ => {
                            self.problem(
                                n.pos,
                                format!("importing '{dotted}' is not supported (only os, os.path and logging)"),
                            );
                            let bound = n.alias.clone().unwrap_or_else(|| n.module[0].clone());
                            self.refused_imports.insert(bound.clone());
                            self.scope.insert(bound, Kind::Unknown);
                            continue;
                        }
                    };
                    match &n.alias {
                        Some(alias) => {
                            self.scope.insert(alias.clone(), Kind::Module(module));
                        }
                        // `import os.path` binds `os`.
                        None => {
                            let top = if module == Module::Logging {
                                Module::Logging
                            } else {
                                Module::Os
                            };
                            self.scope.insert(n.module[0].clone(), Kind::Module(top));
                        }
                    }
                }
            }
            StmtKind::FromImport { module, names } => {
                let dotted = module.join(".");
                if dotted != "os" {
                    self.problem(
                        s.pos,
                        format!("'from {dotted} import ...' is not supported (only 'from os import environ, getenv, path', 'import os' and 'import logging')"),
                    );
                    for n in names {
                        let bound = n.alias.clone().unwrap_or_else(|| n.module[0].clone());
                        self.refused_imports.insert(bound.clone());
                        self.scope.insert(bound, Kind::Unknown);
                    }
                    return;
                }
                for n in names {
                    let name = &n.module[0];
                    let kind = match module_attr(Module::Os, name) {
                        Some(Attr::Module(m)) => Kind::Module(m),
                        Some(Attr::Func(f)) => Kind::Func(f),
                        _ => {
                            self.problem(
                                n.pos,
                                format!("'from os import {name}' is not supported (only environ, getenv and path)"),
                            );
                            self.scope.insert(
                                n.alias.clone().unwrap_or_else(|| name.clone()),
                                Kind::Unknown,
                            );
                            continue;
                        }
                    };
                    self.scope
                        .insert(n.alias.clone().unwrap_or_else(|| name.clone()), kind);
                }
            }
            StmtKind::Assign { targets, value } => {
                let kind = self.expr(value);
                for (name, pos) in targets {
                    if !matches!(kind, Kind::Value | Kind::Unknown) && is_setting(name) {
                        self.problem(
                            *pos,
                            format!("the setting {name} must be a value, not a module, function or file"),
                        );
                    }
                    self.scope.insert(name.clone(), kind);
                }
            }
            StmtKind::AugAssign { target, value, .. } => {
                match self.scope.get(target) {
                    None => self.problem(
                        s.pos,
                        "this name is not defined (it is not assigned before this line)",
                    ),
                    Some(Kind::Value | Kind::Unknown) => {}
                    Some(_) => {
                        self.problem(s.pos, "a module or function cannot be used as a value")
                    }
                }
                self.value(value);
                self.scope.insert(target.clone(), Kind::Value);
            }
        }
    }

    /// An expression that must be a plain value.
    fn value(&mut self, e: &Expr) {
        if !matches!(self.expr(e), Kind::Value | Kind::Unknown) {
            self.problem(
                e.pos,
                "a module, function or file cannot be used as a value here",
            );
        }
    }

    fn expr(&mut self, e: &Expr) -> Kind {
        match &e.kind {
            ExprKind::Const(_) => Kind::Value,
            ExprKind::FString(parts) => {
                for p in parts {
                    if let FPart::Field { expr, .. } = p {
                        self.value(expr);
                    }
                }
                Kind::Value
            }
            ExprKind::Name(n) => self.name(n, e.pos),
            ExprKind::Attr(obj, name) => match self.expr(obj) {
                Kind::Unknown => Kind::Unknown,
                Kind::Module(m) => match module_attr(m, name) {
                    Some(Attr::Module(m)) => Kind::Module(m),
                    Some(Attr::Func(f)) => Kind::Func(f),
                    Some(Attr::Const(_)) => Kind::Value,
                    None => {
                        self.problem(
                            e.pos,
                            format!(
                                "'{}.{name}' is not supported (not in the allow-list)",
                                m.name()
                            ),
                        );
                        Kind::Value
                    }
                },
                Kind::Value if STR_METHODS.contains(&name.as_str()) => {
                    self.problem(
                        e.pos,
                        format!("the method '{name}' can only be called, as in x.{name}(...)"),
                    );
                    Kind::Value
                }
                _ => {
                    self.problem(
                        e.pos,
                        format!("the attribute '{name}' is not supported (not in the allow-list)"),
                    );
                    Kind::Value
                }
            },
            ExprKind::Call { func, args, kwargs } => {
                for a in args {
                    self.value(a);
                }
                for (_, v) in kwargs {
                    self.value(v);
                }
                let f = if let ExprKind::Attr(obj, name) = &func.kind {
                    match self.expr(obj) {
                        Kind::Unknown => {
                            // `subprocess.run(...)` after a refused `import subprocess`.
                            if let ExprKind::Name(module) = &obj.kind {
                                if self.refused_imports.contains(module) {
                                    self.problem(
                                        func.pos,
                                        format!("calling '{module}.{name}' is not supported (not in the allow-list)"),
                                    );
                                }
                            }
                            return Kind::Unknown;
                        }
                        Kind::Module(m) => match module_attr(m, name) {
                            Some(Attr::Func(f)) => Some(f),
                            Some(_) => {
                                self.problem(
                                    func.pos,
                                    format!("'{}.{name}' cannot be called", m.name()),
                                );
                                None
                            }
                            None => {
                                self.problem(
                                    func.pos,
                                    format!("calling '{}.{name}' is not supported (not in the allow-list)", m.name()),
                                );
                                None
                            }
                        },
                        Kind::Value => {
                            if !STR_METHODS.contains(&name.as_str()) {
                                self.problem(
                                    func.pos,
                                    format!("the method '{name}' is not supported (not in the allow-list)"),
                                );
                            }
                            return Kind::Value;
                        }
                        Kind::File => {
                            if name != "read" {
                                self.problem(func.pos, format!("'open(...).{name}()' is not supported; only open(path).read() is"));
                            }
                            return Kind::Value;
                        }
                        Kind::Func(f) => {
                            self.problem(
                                func.pos,
                                format!("'{}' has no attribute '{name}'", f.name()),
                            );
                            None
                        }
                    }
                } else {
                    let before = self.problems.len();
                    match self.expr(func) {
                        Kind::Func(f) => Some(f),
                        Kind::Unknown => return Kind::Unknown,
                        // An unknown or refused name was reported already.
                        _ if self.problems.len() > before => None,
                        _ => {
                            self.problem(
                                func.pos,
                                "this call is not supported (not in the allow-list)",
                            );
                            None
                        }
                    }
                };
                match f {
                    Some(Func::Open) => Kind::File,
                    _ => Kind::Value,
                }
            }
            ExprKind::Subscript(obj, idx) => {
                let k = self.expr(obj);
                match (k, &idx.kind) {
                    (Kind::Value | Kind::Unknown, _) => {}
                    (Kind::Module(Module::Environ), ExprKind::Slice(..)) => {
                        self.problem(idx.pos, "os.environ cannot be sliced")
                    }
                    (Kind::Module(Module::Environ), _) => {}
                    _ => self.problem(obj.pos, "only values and os.environ can be subscripted"),
                }
                if let ExprKind::Slice(a, b, c) = &idx.kind {
                    for part in [a, b, c].into_iter().flatten() {
                        self.value(part);
                    }
                } else {
                    self.value(idx);
                }
                Kind::Value
            }
            ExprKind::Slice(a, b, c) => {
                for part in [a, b, c].into_iter().flatten() {
                    self.value(part);
                }
                Kind::Value
            }
            ExprKind::Unary(op, operand) => {
                if *op == UnaryOp::Invert {
                    self.problem(e.pos, "the operator '~' is not supported");
                }
                self.value(operand);
                Kind::Value
            }
            ExprKind::Binary(op, a, b) => {
                if let BinOp::Unsupported(sym) = op {
                    self.problem(
                        e.pos,
                        format!("the operator '{sym}' is not supported (only + - * / // % are)"),
                    );
                }
                self.value(a);
                self.value(b);
                Kind::Value
            }
            ExprKind::Compare(first, rest) => {
                self.value(first);
                for (op, _, rhs) in rest {
                    let k = self.expr(rhs);
                    let environ_ok = matches!(op, CmpOp::In | CmpOp::NotIn)
                        && k == Kind::Module(Module::Environ);
                    if !matches!(k, Kind::Value | Kind::Unknown) && !environ_ok {
                        self.problem(
                            rhs.pos,
                            "a module, function or file cannot be used as a value here",
                        );
                    }
                }
                Kind::Value
            }
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.value(a);
                self.value(b);
                Kind::Value
            }
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                self.value(cond);
                self.value(then);
                self.value(otherwise);
                Kind::Value
            }
            ExprKind::List(items) | ExprKind::Tuple(items) => {
                for i in items {
                    self.value(i);
                }
                Kind::Value
            }
            ExprKind::Dict(pairs) => {
                for (k, v) in pairs {
                    self.value(k);
                    self.value(v);
                }
                Kind::Value
            }
        }
    }

    fn name(&mut self, n: &str, pos: Position) -> Kind {
        if let Some(k) = self.scope.get(n) {
            return *k;
        }
        if let Some(f) = builtin(n) {
            return Kind::Func(f);
        }
        if REFUSED_BUILTINS.contains(&n) {
            self.problem(
                pos,
                format!("'{n}' is not supported (not in the allow-list)"),
            );
        } else if n == "__file__" {
            self.problem(
                pos,
                "__file__ is not known here (the text was not read from a file)",
            );
        } else if matches!(n, "os" | "logging") {
            self.problem(
                pos,
                format!("name '{n}' is not defined (add 'import {n}' before this line)"),
            );
        } else {
            // Not named: an unquoted secret (`SECRET_KEY = abc123`) reads as a name.
            self.problem(pos, "this name is not defined (it is not assigned before this line; a string needs quotes)");
        }
        Kind::Unknown
    }
}
