//! Python's `repr()` of `str`, `bytes` and `float` (for a `str` or a `float`, `str()` is the
//! same text for floats and the bare text for strings).

use std::fmt::Write as _;

use unicode_general_category::{get_general_category, GeneralCategory};

/// Python's `repr()` of a `str`: single quotes unless the text has a `'` and no `"`;
/// backslash, `\n`, `\r`, `\t` and the quote escaped; characters that are not printable
/// (`str.isprintable()`) as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let code = u32::from(c);
                let _ = if code < 0x100 {
                    write!(out, "\\x{code:02x}")
                } else if code < 0x10000 {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character: everything but the space and the
/// categories "Other" (Cc, Cf, Cs, Co, Cn) and "Separator" (Zs, Zl, Zp). The table is
/// Unicode 16 (the `unicode-general-category` crate, already in the tree through
/// `jsonschema`); a Python on an older Unicode escapes characters assigned since.
fn is_printable(c: char) -> bool {
    use GeneralCategory as G;
    c == ' '
        || !matches!(
            get_general_category(c),
            G::Control
                | G::Format
                | G::Surrogate
                | G::PrivateUse
                | G::Unassigned
                | G::SpaceSeparator
                | G::LineSeparator
                | G::ParagraphSeparator
        )
}

/// Python's `repr()` of a `bytes`: `b'…'` with the same quote choice as [`str_repr`],
/// printable ASCII as is, everything else as `\xNN`.
pub fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(char::from(quote));
    for &byte in b {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            q if q == quote => {
                out.push('\\');
                out.push(char::from(q));
            }
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push(char::from(quote));
    out
}

/// Python's `repr()` (and `str()`) of a `float`: the shortest digits that read back as the
/// same number, positional for decimal exponents -4..=15 (whole numbers keep a `.0`), else
/// `1e+16` / `1e-05` style; `inf`, `-inf`, `nan`.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python, as `d.dddde<exp>`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected texts are CPython 3.11's `repr()` of the same values.
    #[test]
    fn str_repr_matches_python() {
        for (s, want) in [
            ("", "''"),
            ("it's", "\"it's\""),
            ("a'b\"c", "'a\\'b\"c'"),
            ("say \"hi\"", "'say \"hi\"'"),
            ("back\\slash", "'back\\\\slash'"),
            ("tab\there\n\r\x01é", "'tab\\there\\n\\r\\x01é'"),
            ("\x1b[0m", "'\\x1b[0m'"),
            (
                "\x7f\u{80}\u{85}\u{a0}\u{ad}",
                "'\\x7f\\x80\\x85\\xa0\\xad'",
            ),
            (
                "\u{200b}\u{2028}\u{e000}\u{10ffff}\u{1F600}",
                "'\\u200b\\u2028\\ue000\\U0010ffff\u{1F600}'",
            ),
            ("\u{378}", "'\\u0378'"),
            ("jörg – ä 中", "'jörg – ä 中'"),
        ] {
            assert_eq!(str_repr(s), want, "{s:?}");
        }
    }

    #[test]
    fn bytes_repr_matches_python() {
        assert_eq!(bytes_repr(b"a\xff'"), "b\"a\\xff'\"");
        assert_eq!(bytes_repr(b"\"'"), "b'\"\\''");
        assert_eq!(bytes_repr(b"\x00\x7f~"), "b'\\x00\\x7f~'");
        assert_eq!(bytes_repr(b""), "b''");
    }

    #[test]
    fn float_repr_matches_python() {
        for (x, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (9_999_999_999_999_998.0, "9999999999999998.0"),
            (123_456_789_012_345.0, "123456789012345.0"),
            (123_456_789.0, "123456789.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1_795_352_435.577_65, "1795352435.57765"),
            (1_795_352_435.0, "1795352435.0"),
            (123_456_789_012_345.6, "123456789012345.6"),
            (1.5e300, "1.5e+300"),
            (1e22, "1e+22"),
            (2e300, "2e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(float_repr(x), want, "{x}");
        }
    }
}
