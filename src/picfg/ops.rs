//! Python's operators on pi.cfg values: arithmetic (`+ - * / // %`, with int vs float
//! division and Python's floor/modulo signs), comparisons, membership and subscripts.
//! Errors are Python's exception type and a message without any value.

use super::ast::{BinOp, CmpOp};
use super::format;
use super::value::{as_num, dict_get, py_eq, Num, PyValue};

pub(crate) type OResult<T> = Result<T, String>;

/// The largest str, bytes or list an operation may build (a `'k' * 10**12` must not exhaust
/// memory).
pub(crate) const MAX_LEN: usize = 16 << 20;

fn too_large() -> String {
    format!("MemoryError: the result would be longer than {MAX_LEN} elements (pi-manage's limit)")
}

fn overflow() -> String {
    "OverflowError: the integer result does not fit in 64 bits (pi-manage's limit)".into()
}

fn unsupported(sym: &str, a: &PyValue, b: &PyValue) -> String {
    format!(
        "TypeError: unsupported operand type(s) for {sym}: '{}' and '{}'",
        a.type_name(),
        b.type_name()
    )
}

fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Unsupported(s) => s,
    }
}

pub(crate) fn binary(op: BinOp, a: &PyValue, b: &PyValue) -> OResult<PyValue> {
    let sym = op_symbol(op);
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return arith(op, x, y);
    }
    match op {
        BinOp::Add => match (a, b) {
            (PyValue::Str(x), PyValue::Str(y)) => {
                check_len(x.len() + y.len())?;
                Ok(PyValue::Str(format!("{x}{y}")))
            }
            (PyValue::Bytes(x), PyValue::Bytes(y)) => {
                check_len(x.len() + y.len())?;
                Ok(PyValue::Bytes([x.as_slice(), y].concat()))
            }
            (PyValue::List(x), PyValue::List(y)) => {
                check_len(x.len() + y.len())?;
                Ok(PyValue::List([x.as_slice(), y].concat()))
            }
            (PyValue::Tuple(x), PyValue::Tuple(y)) => {
                check_len(x.len() + y.len())?;
                Ok(PyValue::Tuple([x.as_slice(), y].concat()))
            }
            (PyValue::Str(_) | PyValue::List(_) | PyValue::Tuple(_) | PyValue::Bytes(_), other) => {
                Err(format!(
                    "TypeError: can only concatenate {} (not \"{}\") to {}",
                    a.type_name(),
                    other.type_name(),
                    a.type_name()
                ))
            }
            _ => Err(unsupported(sym, a, b)),
        },
        BinOp::Mul => {
            let (seq, count) = match (a, b) {
                (s, n) if as_int(n).is_some() && is_sequence(s) => (s, as_int(n)),
                (n, s) if as_int(n).is_some() && is_sequence(s) => (s, as_int(n)),
                (s, n) if is_sequence(s) || is_sequence(n) => {
                    let other = if is_sequence(s) { n } else { s };
                    return Err(format!(
                        "TypeError: can't multiply sequence by non-int of type '{}'",
                        other.type_name()
                    ));
                }
                _ => return Err(unsupported(sym, a, b)),
            };
            let n = usize::try_from(count.unwrap_or(0).max(0)).unwrap_or(usize::MAX);
            repeat(seq, n)
        }
        BinOp::Mod => match a {
            PyValue::Str(f) => format::percent(f, b).map(PyValue::Str),
            _ => Err(unsupported(sym, a, b)),
        },
        _ => Err(unsupported(sym, a, b)),
    }
}

fn check_len(n: usize) -> OResult<()> {
    if n > MAX_LEN {
        return Err(too_large());
    }
    Ok(())
}

fn is_sequence(v: &PyValue) -> bool {
    matches!(
        v,
        PyValue::Str(_) | PyValue::Bytes(_) | PyValue::List(_) | PyValue::Tuple(_)
    )
}

fn as_int(v: &PyValue) -> Option<i64> {
    match v {
        PyValue::Int(i) => Some(*i),
        PyValue::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn repeat(seq: &PyValue, n: usize) -> OResult<PyValue> {
    let len = match seq {
        PyValue::Str(s) => s.len(),
        PyValue::Bytes(b) => b.len(),
        PyValue::List(v) | PyValue::Tuple(v) => v.len(),
        _ => 0,
    };
    if len.checked_mul(n).is_none_or(|total| total > MAX_LEN) {
        return Err(too_large());
    }
    Ok(match seq {
        PyValue::Str(s) => PyValue::Str(s.repeat(n)),
        PyValue::Bytes(b) => PyValue::Bytes(b.repeat(n)),
        PyValue::List(v) => PyValue::List(repeat_items(v, n)),
        PyValue::Tuple(v) => PyValue::Tuple(repeat_items(v, n)),
        other => other.clone(),
    })
}

fn repeat_items(items: &[PyValue], n: usize) -> Vec<PyValue> {
    let mut out = Vec::with_capacity(items.len() * n);
    for _ in 0..n {
        out.extend_from_slice(items);
    }
    out
}

fn arith(op: BinOp, x: Num, y: Num) -> OResult<PyValue> {
    match (x, y) {
        (Num::Int(a), Num::Int(b)) => int_arith(op, a, b),
        (x, y) => {
            let a = to_f64(x);
            let b = to_f64(y);
            let r = match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => {
                    if b == 0.0 {
                        return Err("ZeroDivisionError: float division by zero".into());
                    }
                    a / b
                }
                BinOp::FloorDiv => {
                    if b == 0.0 {
                        return Err("ZeroDivisionError: float floor division by zero".into());
                    }
                    (a / b).floor()
                }
                BinOp::Mod => {
                    if b == 0.0 {
                        return Err("ZeroDivisionError: float modulo by zero".into());
                    }
                    let r = a % b;
                    if r != 0.0 && (r < 0.0) != (b < 0.0) {
                        r + b
                    } else {
                        r
                    }
                }
                BinOp::Unsupported(s) => {
                    return Err(format!("TypeError: the operator '{s}' is not supported"))
                }
            };
            Ok(PyValue::Float(r))
        }
    }
}

fn to_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(x) => x,
    }
}

fn int_arith(op: BinOp, a: i64, b: i64) -> OResult<PyValue> {
    let r = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => {
            if b == 0 {
                return Err("ZeroDivisionError: division by zero".into());
            }
            return Ok(PyValue::Float(a as f64 / b as f64));
        }
        BinOp::FloorDiv => {
            if b == 0 {
                return Err("ZeroDivisionError: integer division or modulo by zero".into());
            }
            a.checked_div(b).map(|q| {
                if a % b != 0 && ((a < 0) != (b < 0)) {
                    q - 1
                } else {
                    q
                }
            })
        }
        BinOp::Mod => {
            if b == 0 {
                return Err("ZeroDivisionError: integer modulo by zero".into());
            }
            a.checked_rem(b).map(|r| {
                if r != 0 && ((r < 0) != (b < 0)) {
                    r + b
                } else {
                    r
                }
            })
        }
        BinOp::Unsupported(s) => {
            return Err(format!("TypeError: the operator '{s}' is not supported"))
        }
    };
    r.map(PyValue::Int).ok_or_else(overflow)
}

pub(crate) fn negate(v: &PyValue, negative: bool) -> OResult<PyValue> {
    match as_num(v) {
        Some(Num::Int(i)) if negative => i.checked_neg().map(PyValue::Int).ok_or_else(overflow),
        Some(Num::Int(i)) => Ok(PyValue::Int(i)),
        Some(Num::Float(x)) => Ok(PyValue::Float(if negative { -x } else { x })),
        None => Err(format!(
            "TypeError: bad operand type for unary {}: '{}'",
            if negative { '-' } else { '+' },
            v.type_name()
        )),
    }
}

/// A comparison other than `in` (which needs the environment for `os.environ`).
pub(crate) fn compare(op: CmpOp, a: &PyValue, b: &PyValue) -> OResult<bool> {
    use std::cmp::Ordering;
    let sym = match op {
        CmpOp::Eq => return Ok(py_eq(a, b)),
        CmpOp::Ne => return Ok(!py_eq(a, b)),
        CmpOp::Is | CmpOp::IsNot => {
            let same = match (a, b) {
                (PyValue::None, PyValue::None) => true,
                (PyValue::Bool(x), PyValue::Bool(y)) => x == y,
                (PyValue::None | PyValue::Bool(_), _) | (_, PyValue::None | PyValue::Bool(_)) => {
                    false
                }
                _ => {
                    return Err("TypeError: 'is' is only supported with None, True and False in pi.cfg; use '=='".into())
                }
            };
            return Ok(same == (op == CmpOp::Is));
        }
        CmpOp::In | CmpOp::NotIn => {
            let found = contains(b, a)?;
            return Ok(found == (op == CmpOp::In));
        }
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    };
    let ord = order(a, b).ok_or_else(|| {
        format!(
            "TypeError: '{sym}' not supported between instances of '{}' and '{}'",
            a.type_name(),
            b.type_name()
        )
    })?;
    Ok(match op {
        CmpOp::Lt => ord == Some(Ordering::Less),
        CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ord == Some(Ordering::Greater),
        _ => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    })
}

/// `None` when the types cannot be ordered; `Some(None)` for NaN comparisons.
fn order(a: &PyValue, b: &PyValue) -> Option<Option<std::cmp::Ordering>> {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return Some(match (x, y) {
            (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
            (x, y) => to_f64(x).partial_cmp(&to_f64(y)),
        });
    }
    match (a, b) {
        (PyValue::Str(x), PyValue::Str(y)) => Some(Some(x.cmp(y))),
        (PyValue::Bytes(x), PyValue::Bytes(y)) => Some(Some(x.cmp(y))),
        (PyValue::List(x), PyValue::List(y)) | (PyValue::Tuple(x), PyValue::Tuple(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !py_eq(p, q) {
                    return order(p, q);
                }
            }
            Some(Some(x.len().cmp(&y.len())))
        }
        _ => None,
    }
}

/// `item in container`.
pub(crate) fn contains(container: &PyValue, item: &PyValue) -> OResult<bool> {
    match container {
        PyValue::Str(s) => match item {
            PyValue::Str(sub) => Ok(s.contains(sub.as_str())),
            other => Err(format!(
                "TypeError: 'in <string>' requires string as left operand, not {}",
                other.type_name()
            )),
        },
        PyValue::List(v) | PyValue::Tuple(v) => Ok(v.iter().any(|x| py_eq(x, item))),
        PyValue::Dict(pairs) => Ok(dict_get(pairs, item).is_some()),
        other => Err(format!(
            "TypeError: argument of type '{}' is not iterable",
            other.type_name()
        )),
    }
}

/// `v[index]` on a value.
pub(crate) fn index(v: &PyValue, idx: &PyValue) -> OResult<PyValue> {
    if let PyValue::Dict(pairs) = v {
        return dict_get(pairs, idx)
            .cloned()
            .ok_or_else(|| "KeyError: the key is not in the dict".to_string());
    }
    let len = seq_len(v)
        .ok_or_else(|| format!("TypeError: '{}' object is not subscriptable", v.type_name()))?;
    let Some(i) = as_int(idx) else {
        return Err(format!(
            "TypeError: {} indices must be integers or slices, not {}",
            v.type_name(),
            idx.type_name()
        ));
    };
    let k = if i < 0 { i + len as i64 } else { i };
    if k < 0 || k >= len as i64 {
        return Err(format!("IndexError: {} index out of range", v.type_name()));
    }
    let k = k as usize;
    Ok(match v {
        PyValue::Str(s) => PyValue::Str(s.chars().nth(k).map(String::from).unwrap_or_default()),
        PyValue::Bytes(b) => PyValue::Int(i64::from(b[k])),
        PyValue::List(items) | PyValue::Tuple(items) => items[k].clone(),
        _ => unreachable!("sequence"),
    })
}

fn seq_len(v: &PyValue) -> Option<usize> {
    match v {
        PyValue::Str(s) => Some(s.chars().count()),
        PyValue::Bytes(b) => Some(b.len()),
        PyValue::List(items) | PyValue::Tuple(items) => Some(items.len()),
        _ => None,
    }
}

/// `v[start:stop:step]` with Python's clamping and negative indices.
pub(crate) fn slice(
    v: &PyValue,
    start: Option<&PyValue>,
    stop: Option<&PyValue>,
    step: Option<&PyValue>,
) -> OResult<PyValue> {
    let len = seq_len(v)
        .ok_or_else(|| format!("TypeError: '{}' object is not subscriptable", v.type_name()))?
        as i64;
    let get = |b: Option<&PyValue>| -> OResult<Option<i64>> {
        match b {
            None | Some(PyValue::None) => Ok(None),
            Some(x) => as_int(x)
                .map(Some)
                .ok_or_else(|| "TypeError: slice indices must be integers or None".to_string()),
        }
    };
    let step = get(step)?.unwrap_or(1);
    if step == 0 {
        return Err("ValueError: slice step cannot be zero".into());
    }
    let clamp = |x: i64, lo: i64, hi: i64| {
        let x = if x < 0 { x + len } else { x };
        x.clamp(lo, hi)
    };
    let (start, stop) = if step > 0 {
        (
            get(start)?.map_or(0, |x| clamp(x, 0, len)),
            get(stop)?.map_or(len, |x| clamp(x, 0, len)),
        )
    } else {
        (
            get(start)?.map_or(len - 1, |x| clamp(x, -1, len - 1)),
            get(stop)?.map_or(-1, |x| clamp(x, -1, len - 1)),
        )
    };
    let mut picks = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        picks.push(i as usize);
        i += step;
    }
    Ok(match v {
        PyValue::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            PyValue::Str(picks.iter().map(|&k| chars[k]).collect())
        }
        PyValue::Bytes(b) => PyValue::Bytes(picks.iter().map(|&k| b[k]).collect()),
        PyValue::List(items) => PyValue::List(picks.iter().map(|&k| items[k].clone()).collect()),
        PyValue::Tuple(items) => PyValue::Tuple(picks.iter().map(|&k| items[k].clone()).collect()),
        _ => unreachable!("sequence"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(n: i64) -> PyValue {
        PyValue::Int(n)
    }

    #[test]
    fn arithmetic_follows_python() {
        assert_eq!(
            binary(BinOp::Div, &i(7), &i(2)).unwrap(),
            PyValue::Float(3.5)
        );
        assert!(matches!(
            binary(BinOp::Div, &i(4), &i(2)).unwrap(),
            PyValue::Float(_)
        ));
        assert!(matches!(
            binary(BinOp::FloorDiv, &i(7), &i(2)).unwrap(),
            PyValue::Int(3)
        ));
        assert!(matches!(
            binary(BinOp::FloorDiv, &i(-7), &i(2)).unwrap(),
            PyValue::Int(-4)
        ));
        assert!(matches!(
            binary(BinOp::Mod, &i(-7), &i(3)).unwrap(),
            PyValue::Int(2)
        ));
        assert!(matches!(
            binary(BinOp::Mod, &i(7), &i(-3)).unwrap(),
            PyValue::Int(-2)
        ));
        assert!(
            matches!(binary(BinOp::Mod, &PyValue::Float(-7.0), &i(3)).unwrap(), PyValue::Float(x) if x == 2.0)
        );
        assert!(matches!(
            binary(BinOp::Add, &PyValue::Bool(true), &i(1)).unwrap(),
            PyValue::Int(2)
        ));
        assert_eq!(
            binary(BinOp::Mul, &PyValue::Str("k".into()), &i(3)).unwrap(),
            PyValue::Str("kkk".into())
        );
        assert_eq!(
            binary(BinOp::Mul, &i(-1), &PyValue::Str("k".into())).unwrap(),
            PyValue::Str(String::new())
        );
        assert_eq!(
            binary(BinOp::Add, &PyValue::Str("a".into()), &i(1)).unwrap_err(),
            "TypeError: can only concatenate str (not \"int\") to str"
        );
        assert_eq!(
            binary(BinOp::Add, &PyValue::None, &PyValue::Str("a".into())).unwrap_err(),
            "TypeError: unsupported operand type(s) for +: 'NoneType' and 'str'"
        );
        assert!(binary(BinOp::Div, &i(1), &i(0))
            .unwrap_err()
            .starts_with("ZeroDivisionError"));
        assert!(binary(BinOp::Add, &i(i64::MAX), &i(1))
            .unwrap_err()
            .starts_with("OverflowError"));
        assert!(binary(BinOp::Mul, &PyValue::Str("k".into()), &i(1 << 40))
            .unwrap_err()
            .starts_with("MemoryError"));
    }

    #[test]
    fn comparisons_and_subscripts_follow_python() {
        let s = |t: &str| PyValue::Str(t.into());
        assert!(compare(CmpOp::Lt, &i(1), &PyValue::Float(1.5)).unwrap());
        assert!(compare(CmpOp::Lt, &s("a"), &s("b")).unwrap());
        assert!(compare(CmpOp::Lt, &s("a"), &i(1)).is_err());
        assert!(compare(CmpOp::In, &s("ab"), &s("xaby")).unwrap());
        assert!(compare(CmpOp::Is, &PyValue::None, &PyValue::None).unwrap());
        assert!(compare(CmpOp::IsNot, &s("x"), &PyValue::None).unwrap());
        assert_eq!(index(&s("abc"), &i(-1)).unwrap(), s("c"));
        assert!(index(&s("abc"), &i(3))
            .unwrap_err()
            .starts_with("IndexError"));
        assert_eq!(
            slice(&s("abcdef"), Some(&i(1)), Some(&i(-1)), None).unwrap(),
            s("bcde")
        );
        assert_eq!(
            slice(&s("abc"), None, None, Some(&i(-1))).unwrap(),
            s("cba")
        );
        let l = PyValue::List(vec![i(1), i(2), i(3)]);
        assert_eq!(
            slice(&l, Some(&i(-2)), None, None).unwrap(),
            PyValue::List(vec![i(2), i(3)])
        );
    }
}
