//! Python's string formatting on pi.cfg values: `str % args` (printf style), the format-spec
//! mini-language (`format(x, spec)`, f-string `{x:spec}`) and `str.format()`.
//!
//! Errors are Python's exception type and a message made of fixed text and type names; they
//! never contain a value or text taken from a format string (either may be a secret).

use super::value::{as_num, dict_get, repr, to_str, Num, PyValue};
use crate::pytext::float_repr;

pub(crate) type FResult<T> = Result<T, String>;

/// Python's `%` on a str: `'%s://%s' % (a, b)`, `'%(k)s' % {'k': v}`, `'%d%%' % n`.
pub(crate) fn percent(fmt: &str, args: &PyValue) -> FResult<String> {
    let positional: Vec<&PyValue> = match args {
        PyValue::Tuple(items) => items.iter().collect(),
        other => vec![other],
    };
    let mapping = match args {
        PyValue::Dict(pairs) => Some(pairs.as_slice()),
        _ => None,
    };
    let mut used = 0usize;
    let mut used_mapping = false;
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let next_arg = |used: &mut usize| -> FResult<&PyValue> {
        let v = positional
            .get(*used)
            .copied()
            .ok_or_else(|| "TypeError: not enough arguments for format string".to_string())?;
        *used += 1;
        Ok(v)
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        // %(key)
        let mut keyed: Option<&PyValue> = None;
        if chars.get(i) == Some(&'(') {
            let Some(map) = mapping else {
                return Err("TypeError: format requires a mapping".into());
            };
            let mut depth = 1;
            let start = i + 1;
            i += 1;
            while i < chars.len() && depth > 0 {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            if depth > 0 {
                return Err("ValueError: incomplete format key".into());
            }
            let key: String = chars[start..i - 1].iter().collect();
            keyed = Some(dict_get(map, &PyValue::Str(key)).ok_or_else(|| {
                "KeyError: a '%(...)' key of the format string is not in the dict".to_string()
            })?);
            used_mapping = true;
        }
        let mut flags = Flags::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => flags.left = true,
                '+' => flags.plus = true,
                ' ' => flags.space = true,
                '#' => flags.alt = true,
                '0' => flags.zero = true,
                _ => break,
            }
            i += 1;
        }
        let mut width = 0usize;
        if chars.get(i) == Some(&'*') {
            i += 1;
            let w = next_arg(&mut used)?;
            match w {
                PyValue::Int(n) => {
                    if *n < 0 {
                        flags.left = true;
                    }
                    width = n.unsigned_abs() as usize;
                }
                _ => return Err("TypeError: * wants int".into()),
            }
        } else {
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                width = width.saturating_mul(10).saturating_add(d as usize);
                i += 1;
            }
        }
        let mut precision = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            if chars.get(i) == Some(&'*') {
                i += 1;
                match next_arg(&mut used)? {
                    PyValue::Int(n) => precision = Some((*n).max(0) as usize),
                    _ => return Err("TypeError: * wants int".into()),
                }
            } else {
                let mut p = 0usize;
                while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                    p = p.saturating_mul(10).saturating_add(d as usize);
                    i += 1;
                }
                precision = Some(p);
            }
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let Some(&kind) = chars.get(i) else {
            return Err("ValueError: incomplete format".into());
        };
        i += 1;
        if kind == '%' {
            out.push('%');
            continue;
        }
        if width > 10_000 || precision.is_some_and(|p| p > 10_000) {
            return Err("ValueError: width or precision too big".into());
        }
        let arg = match keyed {
            Some(v) => v,
            None if mapping.is_some() && positional.len() == 1 => {
                used_mapping = true;
                positional[0]
            }
            None => next_arg(&mut used)?,
        };
        let (sign, body, numeric) = match kind {
            's' => (String::new(), truncate(to_str(arg), precision), false),
            'r' | 'a' => (String::new(), truncate(repr(arg), precision), false),
            'd' | 'i' | 'u' => {
                let n = int_of(arg, kind, "a real number is required")?;
                let (s, digits) = split_sign(n.to_string());
                let digits = match precision {
                    Some(p) if p > digits.len() => {
                        format!("{}{digits}", "0".repeat(p - digits.len()))
                    }
                    _ => digits,
                };
                (s, digits, true)
            }
            'x' | 'X' | 'o' => {
                let n = match arg {
                    PyValue::Int(n) => *n,
                    PyValue::Bool(b) => i64::from(*b),
                    other => {
                        return Err(format!(
                            "TypeError: %{kind} format: an integer is required, not {}",
                            other.type_name()
                        ))
                    }
                };
                let mag = n.unsigned_abs();
                let mut digits = match kind {
                    'x' => format!("{mag:x}"),
                    'X' => format!("{mag:X}"),
                    _ => format!("{mag:o}"),
                };
                if let Some(p) = precision {
                    if p > digits.len() {
                        digits = format!("{}{digits}", "0".repeat(p - digits.len()));
                    }
                }
                if flags.alt {
                    digits = format!("0{}{digits}", if kind == 'o' { 'o' } else { kind });
                }
                (if n < 0 { "-".into() } else { String::new() }, digits, true)
            }
            'f' | 'F' | 'e' | 'E' => {
                let x = float_of(arg, kind)?;
                let p = precision.unwrap_or(6);
                let (s, digits) = split_sign(float_fixed_or_exp(x, p, kind, flags.alt));
                (s, digits, true)
            }
            'c' => {
                let ch = match arg {
                    PyValue::Int(n) => {
                        u32::try_from(*n)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                "OverflowError: %c arg not in range(0x110000)".to_string()
                            })?
                    }
                    PyValue::Str(s) if s.chars().count() == 1 => {
                        s.chars().next().expect("one char")
                    }
                    _ => return Err("TypeError: %c requires an int or a unicode character".into()),
                };
                (String::new(), ch.to_string(), false)
            }
            'g' | 'G' => {
                return Err("ValueError: the '%g' format is not supported by pi-manage".into())
            }
            _ => {
                return Err(format!(
                    "ValueError: unsupported format character at index {}",
                    i - 1
                ))
            }
        };
        let sign = if numeric && sign.is_empty() {
            if flags.plus {
                "+".to_string()
            } else if flags.space {
                " ".to_string()
            } else {
                sign
            }
        } else {
            sign
        };
        let len = sign.chars().count() + body.chars().count();
        if len >= width {
            out.push_str(&sign);
            out.push_str(&body);
        } else if flags.left {
            out.push_str(&sign);
            out.push_str(&body);
            out.push_str(&" ".repeat(width - len));
        } else if flags.zero && numeric {
            out.push_str(&sign);
            out.push_str(&"0".repeat(width - len));
            out.push_str(&body);
        } else {
            out.push_str(&" ".repeat(width - len));
            out.push_str(&sign);
            out.push_str(&body);
        }
    }
    let leftover = match args {
        PyValue::Tuple(items) => used < items.len(),
        PyValue::Dict(_) => false,
        _ => used == 0 && !used_mapping,
    };
    if leftover {
        return Err("TypeError: not all arguments converted during string formatting".into());
    }
    Ok(out)
}

#[derive(Default)]
struct Flags {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
}

fn truncate(s: String, precision: Option<usize>) -> String {
    match precision {
        Some(p) => s.chars().take(p).collect(),
        None => s,
    }
}

fn split_sign(s: String) -> (String, String) {
    match s.strip_prefix('-') {
        Some(rest) => ("-".into(), rest.to_string()),
        None => (String::new(), s),
    }
}

fn int_of(v: &PyValue, kind: char, need: &str) -> FResult<i64> {
    match as_num(v) {
        Some(Num::Int(i)) => Ok(i),
        Some(Num::Float(x)) if x.is_finite() && x.abs() < 9.2e18 => Ok(x.trunc() as i64),
        Some(Num::Float(_)) => {
            Err("OverflowError: cannot convert float infinity or NaN to integer".into())
        }
        None => Err(format!(
            "TypeError: %{kind} format: {need}, not {}",
            v.type_name()
        )),
    }
}

fn float_of(v: &PyValue, kind: char) -> FResult<f64> {
    match as_num(v) {
        Some(Num::Int(i)) => Ok(i as f64),
        Some(Num::Float(x)) => Ok(x),
        None => Err(format!(
            "TypeError: %{kind} format: must be real number, not {}",
            v.type_name()
        )),
    }
}

/// `%.{p}f` / `%.{p}e` as C's printf writes them (`1.500000e+00`).
fn float_fixed_or_exp(x: f64, p: usize, kind: char, alt: bool) -> String {
    if !x.is_finite() {
        let s = if x.is_nan() {
            "nan"
        } else if x > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return if kind.is_uppercase() {
            s.to_uppercase()
        } else {
            s.into()
        };
    }
    let mut s = match kind {
        'f' | 'F' | '%' => format!("{x:.p$}"),
        _ => {
            let t = format!("{x:.p$e}");
            let (m, e) = t.split_once('e').expect("exponent");
            let e: i32 = e.parse().expect("exponent digits");
            let sign = if e < 0 { '-' } else { '+' };
            let m = if alt && p == 0 {
                format!("{m}.")
            } else {
                m.to_string()
            };
            let t = format!("{m}e{sign}{:02}", e.abs());
            if kind == 'E' {
                t.to_uppercase()
            } else {
                t
            }
        }
    };
    if alt && p == 0 && matches!(kind, 'f' | 'F') {
        s.push('.');
    }
    s
}

/// A parsed format spec: `[[fill]align][sign][#][0][width][,|_][.precision][type]`.
struct Spec {
    fill: char,
    align: Option<char>,
    sign: char,
    alt: bool,
    width: usize,
    grouping: Option<char>,
    precision: Option<usize>,
    kind: Option<char>,
}

fn parse_spec(spec: &str) -> FResult<Spec> {
    let c: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut s = Spec {
        fill: ' ',
        align: None,
        sign: '-',
        alt: false,
        width: 0,
        grouping: None,
        precision: None,
        kind: None,
    };
    let is_align = |ch: char| matches!(ch, '<' | '>' | '^' | '=');
    if c.len() >= 2 && is_align(c[1]) {
        s.fill = c[0];
        s.align = Some(c[1]);
        i = 2;
    } else if !c.is_empty() && is_align(c[0]) {
        s.align = Some(c[0]);
        i = 1;
    }
    if let Some(&ch @ ('+' | '-' | ' ')) = c.get(i) {
        s.sign = ch;
        i += 1;
    }
    if c.get(i) == Some(&'z') {
        i += 1;
    }
    if c.get(i) == Some(&'#') {
        s.alt = true;
        i += 1;
    }
    if c.get(i) == Some(&'0') {
        if s.align.is_none() {
            s.fill = '0';
            s.align = Some('=');
        }
        i += 1;
    }
    while let Some(d) = c.get(i).and_then(|ch| ch.to_digit(10)) {
        s.width = s.width.saturating_mul(10).saturating_add(d as usize);
        i += 1;
    }
    if let Some(&g @ (',' | '_')) = c.get(i) {
        s.grouping = Some(g);
        i += 1;
    }
    if c.get(i) == Some(&'.') {
        i += 1;
        let mut p = 0usize;
        let start = i;
        while let Some(d) = c.get(i).and_then(|ch| ch.to_digit(10)) {
            p = p.saturating_mul(10).saturating_add(d as usize);
            i += 1;
        }
        if i == start {
            return Err("ValueError: Format specifier missing precision".into());
        }
        s.precision = Some(p);
    }
    if i < c.len() {
        s.kind = Some(c[i]);
        i += 1;
    }
    if i < c.len() {
        return Err("ValueError: Invalid format specifier".into());
    }
    if s.width > 10_000 || s.precision.is_some_and(|p| p > 10_000) {
        return Err("ValueError: width or precision too big".into());
    }
    Ok(s)
}

/// Python's `format(value, spec)`.
pub(crate) fn format_value(v: &PyValue, spec: &str) -> FResult<String> {
    if spec.is_empty() {
        return Ok(to_str(v));
    }
    let s = parse_spec(spec)?;
    match v {
        PyValue::Str(text) => {
            if !matches!(s.kind, None | Some('s')) {
                return Err("ValueError: Unknown format code for object of type 'str'".into());
            }
            if s.sign != '-' {
                return Err("ValueError: Sign not allowed in string format specifier".into());
            }
            if s.align == Some('=') {
                return Err(
                    "ValueError: '=' alignment not allowed in string format specifier".into(),
                );
            }
            let body = truncate(text.clone(), s.precision);
            Ok(pad(String::new(), body, &s, '<'))
        }
        PyValue::Int(_) | PyValue::Bool(_) => {
            let n = match v {
                PyValue::Int(n) => *n,
                PyValue::Bool(b) => i64::from(*b),
                _ => unreachable!(),
            };
            match s.kind {
                None | Some('d' | 'n') => {
                    if s.precision.is_some() {
                        return Err(
                            "ValueError: Precision not allowed in integer format specifier".into(),
                        );
                    }
                    let digits = group(&n.unsigned_abs().to_string(), s.grouping, 3);
                    Ok(pad(sign_of(n < 0, s.sign), digits, &s, '>'))
                }
                Some(k @ ('x' | 'X' | 'o' | 'b')) => {
                    let mag = n.unsigned_abs();
                    let mut digits = match k {
                        'x' => format!("{mag:x}"),
                        'X' => format!("{mag:X}"),
                        'o' => format!("{mag:o}"),
                        _ => format!("{mag:b}"),
                    };
                    digits = group(&digits, s.grouping.filter(|g| *g == '_'), 4);
                    let prefix = if s.alt {
                        format!("0{k}")
                    } else {
                        String::new()
                    };
                    Ok(pad(
                        format!("{}{prefix}", sign_of(n < 0, s.sign)),
                        digits,
                        &s,
                        '>',
                    ))
                }
                Some('c') => {
                    let ch = u32::try_from(n)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| {
                            "OverflowError: %c arg not in range(0x110000)".to_string()
                        })?;
                    Ok(pad(String::new(), ch.to_string(), &s, '<'))
                }
                Some('e' | 'E' | 'f' | 'F' | '%') => format_float(n as f64, &s),
                Some(_) => Err("ValueError: Unknown format code for object of type 'int'".into()),
            }
        }
        PyValue::Float(x) => format_float(*x, &s),
        other => Err(format!(
            "TypeError: unsupported format string passed to {}.__format__",
            other.type_name()
        )),
    }
}

fn format_float(x: f64, s: &Spec) -> FResult<String> {
    let body = match s.kind {
        None if s.precision.is_none() => float_repr(x),
        Some(k @ ('f' | 'F' | 'e' | 'E')) => {
            float_fixed_or_exp(x, s.precision.unwrap_or(6), k, s.alt)
        }
        Some('%') => format!(
            "{}%",
            float_fixed_or_exp(x * 100.0, s.precision.unwrap_or(6), 'f', s.alt)
        ),
        Some('g' | 'G' | 'n') | None => {
            return Err(
                "ValueError: the 'g' float format is not supported by pi-manage; use 'f' or 'e'"
                    .into(),
            )
        }
        Some(_) => return Err("ValueError: Unknown format code for object of type 'float'".into()),
    };
    let (neg, body) = match body.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, body),
    };
    let body = match body.split_once('.') {
        Some((int, frac)) if x.is_finite() => format!("{}.{frac}", group(int, s.grouping, 3)),
        _ if x.is_finite() && !body.contains('e') => group(&body, s.grouping, 3),
        _ => body,
    };
    Ok(pad(sign_of(neg, s.sign), body, s, '>'))
}

fn sign_of(negative: bool, sign: char) -> String {
    match (negative, sign) {
        (true, _) => "-".into(),
        (false, '+') => "+".into(),
        (false, ' ') => " ".into(),
        _ => String::new(),
    }
}

/// Digits with a separator every `every` digits from the right.
fn group(digits: &str, sep: Option<char>, every: usize) -> String {
    let Some(sep) = sep else {
        return digits.to_string();
    };
    let chars: Vec<char> = digits.chars().collect();
    let mut out = String::new();
    for (k, ch) in chars.iter().enumerate() {
        if k > 0 && (chars.len() - k).is_multiple_of(every) {
            out.push(sep);
        }
        out.push(*ch);
    }
    out
}

fn pad(sign: String, body: String, s: &Spec, default_align: char) -> String {
    let len = sign.chars().count() + body.chars().count();
    if len >= s.width {
        return format!("{sign}{body}");
    }
    let n = s.width - len;
    let fill = |k: usize| s.fill.to_string().repeat(k);
    match s.align.unwrap_or(default_align) {
        '<' => format!("{sign}{body}{}", fill(n)),
        '>' => format!("{}{sign}{body}", fill(n)),
        '^' => format!("{}{sign}{body}{}", fill(n / 2), fill(n - n / 2)),
        _ => format!("{sign}{}{body}", fill(n)),
    }
}

/// `str.format(*args, **kwargs)`: `{}`, `{0}`, `{name}`, with `!s`/`!r` and a format spec.
pub(crate) fn str_format(
    fmt: &str,
    args: &[PyValue],
    kwargs: &[(String, PyValue)],
) -> FResult<String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut auto: Option<usize> = None;
    let mut manual = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '{' if chars.get(i) == Some(&'{') => {
                out.push('{');
                i += 1;
            }
            '}' if chars.get(i) == Some(&'}') => {
                out.push('}');
                i += 1;
            }
            '}' => return Err("ValueError: Single '}' encountered in format string".into()),
            '{' => {
                let start = i;
                let mut depth = 0;
                while i < chars.len() && !(chars[i] == '}' && depth == 0) {
                    match chars[i] {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("ValueError: expected '}' before end of string".into());
                }
                let field: String = chars[start..i].iter().collect();
                i += 1;
                let (head, spec) = match field.split_once(':') {
                    Some((h, s)) => (h.to_string(), s.to_string()),
                    None => (field.clone(), String::new()),
                };
                if spec.contains('{') {
                    return Err("ValueError: nested replacement fields in a format spec are not supported by pi-manage".into());
                }
                let (name, conversion) =
                    match head.split_once('!') {
                        Some((n, conv)) => {
                            let mut cs = conv.chars();
                            match (cs.next(), cs.next()) {
                                (Some(ch @ ('s' | 'r' | 'a')), None) => (n.to_string(), Some(ch)),
                                _ => return Err(
                                    "ValueError: invalid conversion character in a format string"
                                        .into(),
                                ),
                            }
                        }
                        None => (head, None),
                    };
                if name.contains('.') || name.contains('[') {
                    return Err("ValueError: attribute and index access in format fields are not supported by pi-manage".into());
                }
                let value = if name.is_empty() {
                    if manual {
                        return Err("ValueError: cannot switch from manual field specification to automatic field numbering".into());
                    }
                    let k = auto.map_or(0, |k| k + 1);
                    auto = Some(k);
                    args.get(k).ok_or_else(|| {
                        format!("IndexError: Replacement index {k} out of range for positional args tuple")
                    })?
                } else if let Ok(k) = name.parse::<usize>() {
                    if auto.is_some() {
                        return Err("ValueError: cannot switch from automatic field numbering to manual field specification".into());
                    }
                    manual = true;
                    args.get(k).ok_or_else(|| {
                        format!("IndexError: Replacement index {k} out of range for positional args tuple")
                    })?
                } else {
                    kwargs
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v)
                        .ok_or_else(|| {
                            "KeyError: a named replacement field has no matching keyword argument"
                                .to_string()
                        })?
                };
                out.push_str(&convert_and_format(value, conversion, &spec)?);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// An f-string or `str.format` field: `!s`/`!r`/`!a` conversion, then the spec.
pub(crate) fn convert_and_format(
    value: &PyValue,
    conversion: Option<char>,
    spec: &str,
) -> FResult<String> {
    match conversion {
        Some('r' | 'a') => format_value(&PyValue::Str(repr(value)), spec),
        Some(_) => format_value(&PyValue::Str(to_str(value)), spec),
        None => format_value(value, spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> PyValue {
        PyValue::Str(t.into())
    }

    #[test]
    fn percent_formatting_matches_python() {
        let t = |items: Vec<PyValue>| PyValue::Tuple(items);
        assert_eq!(percent("%s", &s("x")).unwrap(), "x");
        assert_eq!(
            percent("%s://%s:%d", &t(vec![s("a"), s("b"), PyValue::Int(5)])).unwrap(),
            "a://b:5"
        );
        assert_eq!(percent("%r", &s("it's")).unwrap(), "\"it's\"");
        assert_eq!(percent("%d%%", &PyValue::Float(7.9)).unwrap(), "7%");
        assert_eq!(
            percent(
                "%05d|%-4s|%4s|%+d",
                &t(vec![PyValue::Int(-42), s("ab"), s("cd"), PyValue::Int(3)])
            )
            .unwrap(),
            "-0042|ab  |  cd|+3"
        );
        assert_eq!(
            percent(
                "%.2f %x %#o %.3s",
                &t(vec![
                    PyValue::Float(2.345),
                    PyValue::Int(255),
                    PyValue::Int(8),
                    s("abcdef")
                ])
            )
            .unwrap(),
            "2.35 ff 0o10 abc"
        );
        assert_eq!(percent("%e", &PyValue::Float(1.5)).unwrap(), "1.500000e+00");
        assert_eq!(
            percent("%s", &t(vec![])).unwrap_err(),
            "TypeError: not enough arguments for format string"
        );
        assert_eq!(
            percent("%s", &t(vec![s("a"), s("b")])).unwrap_err(),
            "TypeError: not all arguments converted during string formatting"
        );
        assert_eq!(
            percent("abc", &s("x")).unwrap_err(),
            "TypeError: not all arguments converted during string formatting"
        );
        assert!(percent("%d", &s("x"))
            .unwrap_err()
            .starts_with("TypeError: %d format: a real number is required, not str"));
        let d = PyValue::Dict(vec![(s("host"), s("db")), (s("port"), PyValue::Int(5432))]);
        assert_eq!(percent("%(host)s:%(port)d", &d).unwrap(), "db:5432");
        // A single list or dict argument is one value.
        assert_eq!(
            percent("%s", &PyValue::List(vec![PyValue::Int(1)])).unwrap(),
            "[1]"
        );
        assert_eq!(
            percent("%s", &t(vec![t(vec![PyValue::Int(1)])])).unwrap(),
            "(1,)"
        );
    }

    #[test]
    fn format_spec_matches_python() {
        let cases: Vec<(PyValue, &str, &str)> = vec![
            (s("ab"), ">5", "   ab"),
            (s("ab"), "*^6", "**ab**"),
            (s("abcdef"), ".2", "ab"),
            (PyValue::Int(42), "05d", "00042"),
            (PyValue::Int(-42), "05", "-0042"),
            (PyValue::Int(1234567), ",", "1,234,567"),
            (PyValue::Int(255), "#x", "0xff"),
            (PyValue::Int(5), "b", "101"),
            (PyValue::Int(7), "<3", "7  "),
            (PyValue::Float(2.345), ".2f", "2.35"),
            (PyValue::Float(0.25), ".1%", "25.0%"),
            (PyValue::Float(1234.5), ",.1f", "1,234.5"),
            (PyValue::Float(2.5), "", "2.5"),
            (PyValue::Float(2.5), ">6", "   2.5"),
            (PyValue::Bool(true), "", "True"),
            (PyValue::Bool(true), "d", "1"),
            (PyValue::None, "", "None"),
            (PyValue::Int(3), "+", "+3"),
        ];
        for (v, spec, want) in cases {
            assert_eq!(format_value(&v, spec).unwrap(), want, "{spec}");
        }
        assert!(format_value(&s("x"), "d").is_err());
        assert!(format_value(&PyValue::None, ">4")
            .unwrap_err()
            .starts_with("TypeError"));
    }

    #[test]
    fn str_format_matches_python() {
        let args = [s("pg"), PyValue::Int(5432)];
        assert_eq!(str_format("{}://{}", &args, &[]).unwrap(), "pg://5432");
        assert_eq!(
            str_format("{1}-{0}-{1}", &args, &[]).unwrap(),
            "5432-pg-5432"
        );
        assert_eq!(
            str_format("{x!r:>6}{{}}", &[], &[("x".into(), s("a"))]).unwrap(),
            "   'a'{}"
        );
        assert_eq!(
            str_format("{:05}", &[PyValue::Int(7)], &[]).unwrap(),
            "00007"
        );
        assert!(str_format("{} {}", &[s("a")], &[])
            .unwrap_err()
            .starts_with("IndexError"));
        assert!(str_format("{0} {}", &args, &[])
            .unwrap_err()
            .starts_with("ValueError"));
        assert!(str_format("{k}", &[], &[])
            .unwrap_err()
            .starts_with("KeyError"));
    }
}
