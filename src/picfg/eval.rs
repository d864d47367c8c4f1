//! Evaluation of a checked pi.cfg: statements in order, Python's semantics for the supported
//! subset (short-circuit `and`/`or` returning an operand, lazy conditional expressions, ...),
//! with environment variables and files reached only through [`Host`].
//!
//! A failing statement is reported (Python's exception type and message, at the failing
//! expression) and the names it would bind are marked failed: later statements using them are
//! skipped silently instead of reporting the same cause again. Messages never contain values.

use std::collections::HashMap;
use std::path::PathBuf;

use super::ast::*;
use super::builtins::{self, builtin, module_attr, Attr, Called, Func, Host, Module};
use super::check::is_setting;
use super::diagnostic::{Position, Problem};
use super::format::convert_and_format;
use super::ops;
use super::value::{is_hashable, py_eq, PyValue};

/// A runtime value: data, or one of the allowed modules, functions or an opened file.
#[derive(Clone)]
enum Val {
    Data(PyValue),
    Module(Module),
    Func(Func),
    File(PathBuf),
}

enum Fail {
    Error(Problem),
    /// Depends on a name whose assignment failed (already reported).
    Poisoned,
}

type EResult<T> = Result<T, Fail>;

fn fail<T>(pos: Position, message: impl Into<String>) -> EResult<T> {
    Err(Fail::Error(Problem::new(pos, message)))
}

/// One assignment to a setting, in file order.
pub(crate) struct Assignment {
    pub name: String,
    pub value: PyValue,
    pub pos: Position,
}

pub(crate) fn run(
    stmts: &[Stmt],
    host: &Host<'_>,
    file: Option<&str>,
) -> (Vec<Assignment>, Vec<Problem>) {
    let mut ev = Evaluator {
        host,
        scope: HashMap::new(),
    };
    if let Some(f) = file {
        ev.scope.insert(
            "__file__".into(),
            Some(Val::Data(PyValue::Str(f.to_string()))),
        );
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for s in stmts {
        let result = ev.stmt(s, &mut out);
        match result {
            Ok(()) => {}
            Err(Fail::Error(p)) => problems.push(p),
            Err(Fail::Poisoned) => {}
        }
    }
    (out, problems)
}

struct Evaluator<'h, 'e> {
    host: &'h Host<'e>,
    /// `None`: the name's assignment failed.
    scope: HashMap<String, Option<Val>>,
}

impl Evaluator<'_, '_> {
    fn stmt(&mut self, s: &Stmt, out: &mut Vec<Assignment>) -> EResult<()> {
        match &s.kind {
            StmtKind::Pass => Ok(()),
            StmtKind::Expr(e) => self.eval(e).map(|_| ()),
            StmtKind::Import(names) => {
                for n in names {
                    let (name, m) = match (n.module.join(".").as_str(), &n.alias) {
                        ("os.path", Some(a)) => (a.clone(), Module::OsPath),
                        ("logging", a) => (
                            a.clone().unwrap_or_else(|| "logging".into()),
                            Module::Logging,
                        ),
                        (_, a) => (a.clone().unwrap_or_else(|| "os".into()), Module::Os),
                    };
                    self.scope.insert(name, Some(Val::Module(m)));
                }
                Ok(())
            }
            StmtKind::FromImport { names, .. } => {
                for n in names {
                    let name = &n.module[0];
                    let v = match module_attr(Module::Os, name) {
                        Some(Attr::Module(m)) => Val::Module(m),
                        Some(Attr::Func(f)) => Val::Func(f),
                        _ => return fail(n.pos, "unsupported import"),
                    };
                    self.scope
                        .insert(n.alias.clone().unwrap_or_else(|| name.clone()), Some(v));
                }
                Ok(())
            }
            StmtKind::Assign { targets, value } => {
                let v = self.eval(value);
                let v = match v {
                    Ok(v) => v,
                    Err(e) => {
                        for (name, _) in targets {
                            self.scope.insert(name.clone(), None);
                        }
                        return Err(e);
                    }
                };
                for (name, pos) in targets {
                    if let (Val::Data(d), true) = (&v, is_setting(name)) {
                        out.push(Assignment {
                            name: name.clone(),
                            value: d.clone(),
                            pos: *pos,
                        });
                    }
                    self.scope.insert(name.clone(), Some(v.clone()));
                }
                Ok(())
            }
            StmtKind::AugAssign { target, op, value } => {
                let result = (|| {
                    let current = self.lookup(target, s.pos)?;
                    let current = self.data(current, s.pos)?;
                    let rhs = self.value(value)?;
                    ops::binary(*op, &current, &rhs).or_else(|m| fail(value.pos, m))
                })();
                match result {
                    Ok(v) => {
                        if is_setting(target) {
                            out.push(Assignment {
                                name: target.clone(),
                                value: v.clone(),
                                pos: s.pos,
                            });
                        }
                        self.scope.insert(target.clone(), Some(Val::Data(v)));
                        Ok(())
                    }
                    Err(e) => {
                        self.scope.insert(target.clone(), None);
                        Err(e)
                    }
                }
            }
        }
    }

    fn lookup(&self, name: &str, pos: Position) -> EResult<Val> {
        match self.scope.get(name) {
            Some(Some(v)) => Ok(v.clone()),
            Some(None) => Err(Fail::Poisoned),
            None => match builtin(name) {
                Some(f) => Ok(Val::Func(f)),
                None => fail(pos, "NameError: this name is not defined"),
            },
        }
    }

    fn data(&self, v: Val, pos: Position) -> EResult<PyValue> {
        match v {
            Val::Data(d) => Ok(d),
            _ => fail(
                pos,
                "TypeError: a module, function or file cannot be used as a value",
            ),
        }
    }

    fn value(&mut self, e: &Expr) -> EResult<PyValue> {
        let v = self.eval(e)?;
        self.data(v, e.pos)
    }

    fn eval(&mut self, e: &Expr) -> EResult<Val> {
        let pos = e.pos;
        let data = |r: Result<PyValue, String>| match r {
            Ok(v) => Ok(Val::Data(v)),
            Err(m) => fail(pos, m),
        };
        match &e.kind {
            ExprKind::Const(v) => Ok(Val::Data(v.clone())),
            ExprKind::FString(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        FPart::Lit(l) => s.push_str(l),
                        FPart::Field {
                            expr,
                            conversion,
                            spec,
                        } => {
                            let v = self.value(expr)?;
                            match convert_and_format(&v, *conversion, spec) {
                                Ok(t) => s.push_str(&t),
                                Err(m) => return fail(expr.pos, m),
                            }
                            if s.len() > ops::MAX_LEN {
                                return fail(
                                    pos,
                                    "MemoryError: the f-string is too long (pi-manage's limit)",
                                );
                            }
                        }
                    }
                }
                Ok(Val::Data(PyValue::Str(s)))
            }
            ExprKind::Name(n) => self.lookup(n, pos),
            ExprKind::Attr(obj, name) => match self.eval(obj)? {
                Val::Module(m) => match module_attr(m, name) {
                    Some(Attr::Module(m)) => Ok(Val::Module(m)),
                    Some(Attr::Func(f)) => Ok(Val::Func(f)),
                    Some(Attr::Const(c)) => Ok(Val::Data(c)),
                    None => fail(
                        pos,
                        format!(
                            "AttributeError: '{}' has no supported attribute '{name}'",
                            m.name()
                        ),
                    ),
                },
                _ => fail(
                    pos,
                    format!("AttributeError: the attribute '{name}' is not supported"),
                ),
            },
            ExprKind::Call { func, args, kwargs } => self.call(func, args, kwargs),
            ExprKind::Subscript(obj, idx) => {
                let o = self.eval(obj)?;
                match o {
                    Val::Module(Module::Environ) => {
                        let key = self.value(idx)?;
                        let PyValue::Str(k) = &key else {
                            return fail(
                                idx.pos,
                                format!("TypeError: str expected, not {}", key.type_name()),
                            );
                        };
                        match (self.host.env)(k) {
                            Some(v) => Ok(Val::Data(PyValue::Str(v))),
                            None => fail(pos, environ_key_error(idx)),
                        }
                    }
                    Val::Data(v) => {
                        if let ExprKind::Slice(a, b, c) = &idx.kind {
                            let mut bound = |x: &Option<Box<Expr>>| -> EResult<Option<PyValue>> {
                                x.as_deref().map(|x| self.value(x)).transpose()
                            };
                            let (a, b, c) = (bound(a)?, bound(b)?, bound(c)?);
                            data(ops::slice(&v, a.as_ref(), b.as_ref(), c.as_ref()))
                        } else {
                            let i = self.value(idx)?;
                            data(ops::index(&v, &i))
                        }
                    }
                    _ => fail(pos, "TypeError: this object is not subscriptable"),
                }
            }
            ExprKind::Slice(..) => fail(pos, "SyntaxError: a slice outside a subscript"),
            ExprKind::Unary(op, operand) => {
                let v = self.value(operand)?;
                match op {
                    UnaryOp::Not => Ok(Val::Data(PyValue::Bool(!v.truthy()))),
                    UnaryOp::Neg => data(ops::negate(&v, true)),
                    UnaryOp::Pos => data(ops::negate(&v, false)),
                    UnaryOp::Invert => fail(pos, "TypeError: the operator '~' is not supported"),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.value(a)?;
                let y = self.value(b)?;
                data(ops::binary(*op, &x, &y))
            }
            ExprKind::And(a, b) => {
                let x = self.value(a)?;
                if !x.truthy() {
                    return Ok(Val::Data(x));
                }
                Ok(Val::Data(self.value(b)?))
            }
            ExprKind::Or(a, b) => {
                let x = self.value(a)?;
                if x.truthy() {
                    return Ok(Val::Data(x));
                }
                Ok(Val::Data(self.value(b)?))
            }
            ExprKind::Compare(first, rest) => {
                let mut left = self.value(first)?;
                for (op, op_pos, rhs) in rest {
                    let r = self.eval(rhs)?;
                    let ok = match (&r, op) {
                        (Val::Module(Module::Environ), CmpOp::In | CmpOp::NotIn) => {
                            let PyValue::Str(k) = &left else {
                                return fail(
                                    *op_pos,
                                    format!("TypeError: str expected, not {}", left.type_name()),
                                );
                            };
                            (self.host.env)(k).is_some() == (*op == CmpOp::In)
                        }
                        (Val::Data(r), _) => match ops::compare(*op, &left, r) {
                            Ok(b) => b,
                            Err(m) => return fail(*op_pos, m),
                        },
                        _ => {
                            return fail(
                                rhs.pos,
                                "TypeError: a module, function or file cannot be compared",
                            )
                        }
                    };
                    if !ok {
                        return Ok(Val::Data(PyValue::Bool(false)));
                    }
                    if let Val::Data(r) = r {
                        left = r;
                    }
                }
                Ok(Val::Data(PyValue::Bool(true)))
            }
            ExprKind::IfElse {
                cond,
                then,
                otherwise,
            } => {
                if self.value(cond)?.truthy() {
                    self.eval(then)
                } else {
                    self.eval(otherwise)
                }
            }
            ExprKind::List(items) => Ok(Val::Data(PyValue::List(self.values(items)?))),
            ExprKind::Tuple(items) => Ok(Val::Data(PyValue::Tuple(self.values(items)?))),
            ExprKind::Dict(pairs) => {
                let mut out: Vec<(PyValue, PyValue)> = Vec::new();
                for (k, v) in pairs {
                    let key = self.value(k)?;
                    if !is_hashable(&key) {
                        return fail(
                            k.pos,
                            format!("TypeError: unhashable type: '{}'", key.type_name()),
                        );
                    }
                    let value = self.value(v)?;
                    // Like Python: a repeated key keeps its first place and takes the last value.
                    match out.iter_mut().find(|(x, _)| py_eq(x, &key)) {
                        Some(pair) => pair.1 = value,
                        None => out.push((key, value)),
                    }
                }
                Ok(Val::Data(PyValue::Dict(out)))
            }
        }
    }

    fn values(&mut self, items: &[Expr]) -> EResult<Vec<PyValue>> {
        items.iter().map(|i| self.value(i)).collect()
    }

    fn call(&mut self, func: &Expr, args: &[Expr], kwargs: &[(String, Expr)]) -> EResult<Val> {
        let pos = func.pos;
        let callee = match &func.kind {
            ExprKind::Attr(obj, name) => match self.eval(obj)? {
                Val::Module(m) => match module_attr(m, name) {
                    Some(Attr::Func(f)) => Val::Func(f),
                    _ => {
                        return fail(
                            pos,
                            format!("TypeError: '{}.{name}' is not callable", m.name()),
                        )
                    }
                },
                Val::Data(v) => {
                    let (a, k) = self.arguments(args, kwargs)?;
                    return match builtins::method(&v, name, a, k) {
                        Ok(v) => Ok(Val::Data(v)),
                        Err(m) => fail(pos, m),
                    };
                }
                Val::File(path) => {
                    let (a, _) = self.arguments(args, kwargs)?;
                    if name != "read" {
                        return fail(pos, "AttributeError: only read() is supported on open(...)");
                    }
                    return match builtins::read_file(&path, &a) {
                        Ok(v) => Ok(Val::Data(v)),
                        Err(m) => fail(pos, m),
                    };
                }
                Val::Func(f) => {
                    return fail(
                        pos,
                        format!("AttributeError: '{}' has no attribute '{name}'", f.name()),
                    )
                }
            },
            _ => self.eval(func)?,
        };
        let Val::Func(f) = callee else {
            return fail(pos, "TypeError: this object is not callable");
        };
        let (a, k) = self.arguments(args, kwargs)?;
        match builtins::call(f, a, k, self.host) {
            Ok(Called::Value(v)) => Ok(Val::Data(v)),
            Ok(Called::File(p)) => Ok(Val::File(p)),
            Err(m) => fail(pos, m),
        }
    }

    #[allow(clippy::type_complexity)]
    fn arguments(
        &mut self,
        args: &[Expr],
        kwargs: &[(String, Expr)],
    ) -> EResult<(Vec<PyValue>, Vec<(String, PyValue)>)> {
        let a = self.values(args)?;
        let mut k = Vec::new();
        for (name, e) in kwargs {
            k.push((name.clone(), self.value(e)?));
        }
        Ok((a, k))
    }
}

/// `os.environ[...]` of an unset variable: the variable's name when the file spells it as a
/// literal (a name, not a value), else no name.
fn environ_key_error(idx: &Expr) -> String {
    match &idx.kind {
        ExprKind::Const(PyValue::Str(name))
            if name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            format!("KeyError: the environment variable {name} is not set")
        }
        _ => "KeyError: the environment variable is not set".into(),
    }
}
