//! The values a pi.cfg setting can hold ([`PyValue`]) and the parts of Python's data model
//! the evaluator needs on them: truthiness, equality, `repr()` and `str()`.
//!
//! Values may be secrets (`SECRET_KEY`, `PI_PEPPER`, database passwords, anything read from the
//! environment or a file), so `Debug` never shows a value's content, only its shape.

use std::fmt;

use crate::pytext::{bytes_repr, float_repr, str_repr};

/// A value from `pi.cfg`. `Debug` prints the type of each scalar, never its content.
#[derive(Clone)]
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

impl PartialEq for PyValue {
    /// Python's `==` (so `1 == 1.0 == True`, and dicts compare regardless of order).
    fn eq(&self, other: &PyValue) -> bool {
        py_eq(self, other)
    }
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
            PyValue::None => "NoneType",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
        }
    }

    /// Python's truth value (`bool(x)`).
    pub fn truthy(&self) -> bool {
        match self {
            PyValue::Str(s) => !s.is_empty(),
            PyValue::Bytes(b) => !b.is_empty(),
            PyValue::Int(i) => *i != 0,
            PyValue::Float(x) => *x != 0.0,
            PyValue::Bool(b) => *b,
            PyValue::None => false,
            PyValue::List(v) | PyValue::Tuple(v) => !v.is_empty(),
            PyValue::Dict(d) => !d.is_empty(),
        }
    }
}

impl fmt::Debug for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::Str(_) => f.write_str("Str(***)"),
            PyValue::Bytes(_) => f.write_str("Bytes(***)"),
            PyValue::Int(_) => f.write_str("Int(***)"),
            PyValue::Float(_) => f.write_str("Float(***)"),
            PyValue::Bool(_) => f.write_str("Bool(***)"),
            PyValue::None => f.write_str("None"),
            PyValue::List(items) => f.debug_tuple("List").field(items).finish(),
            PyValue::Tuple(items) => f.debug_tuple("Tuple").field(items).finish(),
            PyValue::Dict(pairs) => f.debug_tuple("Dict").field(pairs).finish(),
        }
    }
}

/// A number as Python's numeric tower sees it (`bool` is an `int`).
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

pub(crate) fn as_num(v: &PyValue) -> Option<Num> {
    match v {
        PyValue::Int(i) => Some(Num::Int(*i)),
        PyValue::Bool(b) => Some(Num::Int(i64::from(*b))),
        PyValue::Float(x) => Some(Num::Float(*x)),
        _ => None,
    }
}

/// Python's `==`.
pub fn py_eq(a: &PyValue, b: &PyValue) -> bool {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return match (x, y) {
            (Num::Int(x), Num::Int(y)) => x == y,
            (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => int_float_eq(i, f),
            (Num::Float(x), Num::Float(y)) => x == y,
        };
    }
    match (a, b) {
        (PyValue::Str(x), PyValue::Str(y)) => x == y,
        (PyValue::Bytes(x), PyValue::Bytes(y)) => x == y,
        (PyValue::None, PyValue::None) => true,
        (PyValue::List(x), PyValue::List(y)) | (PyValue::Tuple(x), PyValue::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (PyValue::Dict(x), PyValue::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| dict_get(y, k).is_some_and(|w| py_eq(v, w)))
        }
        _ => false,
    }
}

/// Exact comparison of an int with a float (no rounding of large ints).
fn int_float_eq(i: i64, f: f64) -> bool {
    f.fract() == 0.0
        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
        && f as i64 == i
}

pub fn dict_get<'a>(pairs: &'a [(PyValue, PyValue)], key: &PyValue) -> Option<&'a PyValue> {
    pairs.iter().find(|(k, _)| py_eq(k, key)).map(|(_, v)| v)
}

/// Whether Python could use the value as a dict key.
pub fn is_hashable(value: &PyValue) -> bool {
    match value {
        PyValue::List(_) | PyValue::Dict(_) => false,
        PyValue::Tuple(items) => items.iter().all(is_hashable),
        _ => true,
    }
}

/// Python's `str()`.
pub fn to_str(v: &PyValue) -> String {
    match v {
        PyValue::Str(s) => s.clone(),
        other => repr(other),
    }
}

/// Python's `repr()`.
pub fn repr(v: &PyValue) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    out
}

fn write_repr(v: &PyValue, out: &mut String) {
    match v {
        PyValue::Str(s) => out.push_str(&str_repr(s)),
        PyValue::Bytes(b) => out.push_str(&bytes_repr(b)),
        PyValue::Int(i) => out.push_str(&i.to_string()),
        PyValue::Float(x) => out.push_str(&float_repr(*x)),
        PyValue::Bool(true) => out.push_str("True"),
        PyValue::Bool(false) => out.push_str("False"),
        PyValue::None => out.push_str("None"),
        PyValue::List(items) => {
            out.push('[');
            write_items(items, out);
            out.push(']');
        }
        PyValue::Tuple(items) => {
            out.push('(');
            write_items(items, out);
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        PyValue::Dict(pairs) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(k, out);
                out.push_str(": ");
                write_repr(v, out);
            }
            out.push('}');
        }
    }
}

fn write_items(items: &[PyValue], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_repr(item, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_and_str_match_python() {
        let s = |t: &str| PyValue::Str(t.into());
        assert_eq!(repr(&s("it's")), "\"it's\"");
        assert_eq!(repr(&s("a'b\"c")), "'a\\'b\"c'");
        assert_eq!(repr(&s("tab\there\n\x01é")), "'tab\\there\\n\\x01é'");
        assert_eq!(repr(&PyValue::Bytes(b"a\xff'".to_vec())), "b\"a\\xff'\"");
        let v = PyValue::List(vec![
            PyValue::Int(1),
            PyValue::Tuple(vec![s("x")]),
            PyValue::Dict(vec![(s("k"), PyValue::None)]),
            PyValue::Bool(true),
            PyValue::Float(2.0),
        ]);
        assert_eq!(repr(&v), "[1, ('x',), {'k': None}, True, 2.0]");
        assert_eq!(to_str(&s("x")), "x");
        assert_eq!(to_str(&PyValue::None), "None");
    }

    #[test]
    fn equality_and_truthiness_match_python() {
        assert!(py_eq(&PyValue::Int(1), &PyValue::Float(1.0)));
        assert!(py_eq(&PyValue::Bool(true), &PyValue::Int(1)));
        assert!(!py_eq(&PyValue::Str("1".into()), &PyValue::Int(1)));
        assert!(!py_eq(&PyValue::List(vec![]), &PyValue::Tuple(vec![])));
        let d1 = PyValue::Dict(vec![
            (PyValue::Int(1), PyValue::Int(2)),
            (PyValue::Int(3), PyValue::Int(4)),
        ]);
        let d2 = PyValue::Dict(vec![
            (PyValue::Int(3), PyValue::Int(4)),
            (PyValue::Float(1.0), PyValue::Int(2)),
        ]);
        assert!(py_eq(&d1, &d2));
        for falsy in [
            PyValue::Str(String::new()),
            PyValue::Int(0),
            PyValue::Float(0.0),
            PyValue::None,
            PyValue::List(vec![]),
            PyValue::Dict(vec![]),
        ] {
            assert!(!falsy.truthy());
        }
        assert!(PyValue::Str("0".into()).truthy());
        assert!(PyValue::Tuple(vec![PyValue::None]).truthy());
    }

    #[test]
    fn debug_never_shows_content() {
        let v = PyValue::List(vec![
            PyValue::Str("t0p".into()),
            PyValue::Int(4711),
            PyValue::None,
        ]);
        assert_eq!(format!("{v:?}"), "List([Str(***), Int(***), None])");
    }
}
