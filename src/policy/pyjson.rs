//! Python's `json.dumps(value, indent=2)`, byte for byte: privacyIDEA writes its exports with
//! it, and operators diff our exports against theirs, so "equivalent JSON" is not enough.
//!
//! What differs from serde_json's pretty printer: non-ASCII is escaped as `\uXXXX` (surrogate
//! pairs above U+FFFF, `ensure_ascii=True`), DEL is escaped too, floats use Python's `repr`, and
//! empty containers are written `[]` / `{}`. Key order is the map's insertion order.

use serde_json::Value;

use crate::pytext::float_repr;

/// `json.dumps(value, indent=2)` (no trailing newline, as Python).
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (None, Some(u), _) => out.push_str(&u.to_string()),
            (None, None, Some(f)) => out.push_str(&float_repr(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_value(out, item, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_string(out, k);
                out.push_str(": ");
                write_value(out, v, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// A JSON string literal as Python's `json.dumps` writes it (`ensure_ascii`).
pub fn string(s: &str) -> String {
    let mut out = String::new();
    write_string(&mut out, s);
    out
}

/// A JSON string as Python's `ensure_ascii` encoder writes it.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout_matches_python() {
        let v = json!({"a": [], "b": {}, "c": [1, true, null], "d": {"x": "y"}});
        assert_eq!(
            dumps(&v),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    true,\n    null\n  ],\n  \"d\": {\n    \"x\": \"y\"\n  }\n}"
        );
    }

    #[test]
    fn ascii_escapes() {
        // json.dumps("jörg – ä\\, \"q\"\t\x7f😀")
        let v = json!("jörg – ä\\, \"q\"\t\u{7f}😀");
        assert_eq!(
            dumps(&v),
            r#""j\u00f6rg \u2013 \u00e4\\, \"q\"\t\u007f\ud83d\ude00""#
        );
    }
}
