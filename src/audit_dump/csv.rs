//! One line of privacyIDEA's audit CSV (`sqlaudit.csv_generator`): every value through
//! `_csv_cell` (the spreadsheet formula guard), then Python's `csv.writer` with the default
//! dialect and `lineterminator="\n"`.

use std::sync::OnceLock;

use regex::Regex;

use crate::policy::model::{py_isspace, py_strip};

/// `_CELL_TEXT_PREFIXES`: what makes a spreadsheet read a cell as a formula.
const FORMULA_PREFIXES: [char; 7] = ['=', '+', '-', '@', '|', '\t', '\r'];

/// `_NUMBER`: a plain number keeps its sign. `\d` is Unicode (`Nd`) in both Python's `re` and
/// the `regex` crate.
fn number() -> &'static Regex {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    NUMBER.get_or_init(|| {
        Regex::new(r"\A[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\z").expect("valid regex")
    })
}

/// Whether `_csv_cell` prefixes the text with `'`: its left-trimmed text starts with a
/// formula character and its trimmed text is not a plain number.
fn needs_guard(text: &str) -> bool {
    text.trim_start_matches(py_isspace)
        .starts_with(FORMULA_PREFIXES)
        && !number().is_match(py_strip(text))
}

/// Append one field as `csv.writer` (QUOTE_MINIMAL) writes it: in double quotes, with `"`
/// doubled, when it contains the delimiter, the quote character or a line break. A lone CR
/// is quoted as CPython does since gh-67044 (3.11.9, 3.12.3, 3.13); older CPythons only
/// quoted the characters of `lineterminator`.
fn push_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        for c in text.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// Append one CSV line (with its `\n`) for the values `str()`-ed already (`None` for NULL).
pub fn push_row<'a>(out: &mut String, values: impl IntoIterator<Item = &'a str>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if needs_guard(v) {
            let mut guarded = String::with_capacity(v.len() + 1);
            guarded.push('\'');
            guarded.push_str(v);
            push_field(out, &guarded);
        } else {
            push_field(out, v);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(values: &[&str]) -> String {
        let mut s = String::new();
        push_row(&mut s, values.iter().copied());
        s
    }

    #[test]
    fn quotes_like_pythons_csv_writer() {
        // Python: csv.writer(buf, lineterminator="\n").writerow([...])
        assert_eq!(
            line(&["c\nd", "e,f", "g\"h", " x", "", "a b", "it's"]),
            "\"c\nd\",\"e,f\",\"g\"\"h\", x,,a b,it's\n"
        );
        assert_eq!(line(&["a\r\nb"]), "\"a\r\nb\"\n");
        assert_eq!(line(&["a\rb"]), "\"a\rb\"\n");
        assert_eq!(line(&["None", "1"]), "None,1\n");
    }

    #[test]
    fn formula_guard_like_csv_cell() {
        for (v, want) in [
            ("=1+2", "'=1+2"),
            (" @x", "' @x"),
            ("-", "'-"),
            ("+49 170", "'+49 170"),
            ("|cmd", "'|cmd"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-5", "-5"),
            ("+1.5e3", "+1.5e3"),
            ("  -7", "  -7"),
            ("-.5", "-.5"),
            ("-5.", "-5."),
            ("-1e", "'-1e"),
            ("-inf", "'-inf"),
            ("-1_0", "'-1_0"),
            ("-\u{663}", "-\u{663}"),
            ("\u{1f}=x", "'\u{1f}=x"),
            ("a=b", "a=b"),
            ("-1,5", "\"'-1,5\""),
        ] {
            assert_eq!(line(&[v]), format!("{want}\n"), "{v:?}");
        }
    }
}
