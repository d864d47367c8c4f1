//! PyYAML's `yaml.safe_dump(value)`, byte for byte, for JSON-shaped data: privacyIDEA writes
//! its YAML exports with it. This is a port of the parts of PyYAML's emitter that such data
//! reaches: block mappings with sorted keys, indentless block sequences inside mappings,
//! `[]`/`{}` for empty collections, and PyYAML's choice between plain, single-quoted and
//! double-quoted scalars (including its YAML 1.1 implicit-type check, ASCII-only output with
//! `\xE4`/`\u2013` escapes, and folding of long scalars at 80 columns).
//!
//! The functions mirror PyYAML's `Emitter` method by method (same names, same state), so that
//! a difference can be traced back to the Python source.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

const BEST_INDENT: usize = 2;
const BEST_WIDTH: usize = 80;

/// `yaml.safe_dump(value)` (it ends with a newline, as PyYAML's output does).
pub fn safe_dump(value: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: None,
        indents: Vec::new(),
    };
    e.node(value, Ctx::default());
    // expect_document_end: an implicit document ends with a line break.
    e.write_indent();
    e.out
}

/// Where a node sits (PyYAML's `root_context`, `sequence_context`, … flags).
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    mapping: bool,
    simple_key: bool,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
}

/// PyYAML's `ScalarAnalysis`.
#[derive(Debug, Clone, Copy)]
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

/// Scalar styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

impl Emitter {
    fn node(&mut self, value: &Value, ctx: Ctx) {
        match value {
            Value::Object(map) if map.is_empty() => self.flow_empty("{", "}"),
            Value::Array(items) if items.is_empty() => self.flow_empty("[", "]"),
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                self.increase_indent(false, false);
                for key in keys {
                    self.write_indent();
                    let key_value = Value::String(key.clone());
                    if check_simple_key(key) {
                        self.node(
                            &key_value,
                            Ctx {
                                mapping: true,
                                simple_key: true,
                            },
                        );
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.node(
                            &key_value,
                            Ctx {
                                mapping: true,
                                simple_key: false,
                            },
                        );
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(
                        &map[key.as_str()],
                        Ctx {
                            mapping: true,
                            simple_key: false,
                        },
                    );
                }
                self.indent = self.indents.pop().expect("balanced indents");
            }
            Value::Array(items) => {
                let indentless = ctx.mapping && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, Ctx::default());
                }
                self.indent = self.indents.pop().expect("balanced indents");
            }
            Value::String(s) => self.scalar(s, true, ctx),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, false, ctx),
            Value::Null => self.scalar("null", false, ctx),
            Value::Number(n) => {
                let text = match n.as_f64() {
                    Some(f) if !n.is_i64() && !n.is_u64() => float_text(f),
                    _ => n.to_string(),
                };
                self.scalar(&text, false, ctx)
            }
        }
    }

    /// An empty collection in flow style (`expect_flow_sequence` / `expect_flow_mapping`).
    fn flow_empty(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.indent = self.indents.pop().expect("balanced indents");
        self.write_indicator(close, false, false, false);
    }

    /// `expect_scalar` + `process_scalar`. `is_str` says whether the value is a string (which
    /// must not look like another YAML type when written plain); bools, numbers and null are
    /// always written plain.
    fn scalar(&mut self, text: &str, is_str: bool, ctx: Ctx) {
        self.increase_indent(true, false);
        let analysis = analyze_scalar(text);
        let implicit_plain = !is_str || resolves_to_str(text);
        let style = choose_style(&analysis, implicit_plain, ctx.simple_key);
        let split = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(text, split),
            Style::Single => self.write_single_quoted(text, split),
            Style::Double => self.write_double_quoted(text, split),
        }
        self.indent = self.indents.pop().expect("balanced indents");
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None => Some(if flow { BEST_INDENT } else { 0 }),
            Some(i) if !indentless => Some(i + BEST_INDENT),
            Some(i) => Some(i),
        };
    }

    fn write(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        whitespace: bool,
        indention: bool,
    ) {
        let data = if self.whitespace || !need_whitespace {
            indicator.to_string()
        } else {
            format!(" {indicator}")
        };
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.write(&data);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break();
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn write_line_break(&mut self) {
        self.whitespace = true;
        self.indention = true;
        self.out.push('\n');
        self.column = 0;
    }

    fn write_plain(&mut self, text: &str, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0usize, 0usize);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if ch.is_none_or(|c| !is_break(c)) {
                    if chars[start] == '\n' {
                        self.write_line_break();
                    }
                    for _ in start..end {
                        self.write_line_break();
                    }
                    self.write_indent();
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0usize, 0usize);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > BEST_WIDTH
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if ch.is_none_or(|c| !is_break(c)) {
                    if chars[start] == '\n' {
                        self.write_line_break();
                    }
                    for _ in start..end {
                        self.write_line_break();
                    }
                    self.write_indent();
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c) || c == '\'') && start < end {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut start, mut end) = (0usize, 0usize);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            let needs_escape = match ch {
                None => true,
                Some(c) => {
                    matches!(
                        c,
                        '"' | '\\' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
                    ) || !(' '..='~').contains(&c)
                }
            };
            if needs_escape {
                if start < end {
                    let data: String = chars[start..end].iter().collect();
                    self.write(&data);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = escape(c);
                    self.write(&data);
                    start = end + 1;
                }
            }
            if 0 < end
                && end + 1 < chars.len()
                && (ch == Some(' ') || start >= end)
                // Python computes `end - start` signed: it is -1 right after an escape.
                && self.column as isize + end as isize - start as isize > BEST_WIDTH as isize
                && split
            {
                let mut data: String = chars[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if chars.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
            end += 1;
        }
        self.write_indicator("\"", false, false, false);
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// PyYAML's escape for one character of a double-quoted scalar.
fn escape(c: char) -> String {
    let short = match c {
        '\0' => Some('0'),
        '\u{7}' => Some('a'),
        '\u{8}' => Some('b'),
        '\t' => Some('t'),
        '\n' => Some('n'),
        '\u{b}' => Some('v'),
        '\u{c}' => Some('f'),
        '\r' => Some('r'),
        '\u{1b}' => Some('e'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        '\u{85}' => Some('N'),
        '\u{a0}' => Some('_'),
        '\u{2028}' => Some('L'),
        '\u{2029}' => Some('P'),
        _ => None,
    };
    match short {
        Some(s) => format!("\\{s}"),
        None if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
        None if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
        None => format!("\\U{:08X}", c as u32),
    }
}

/// PyYAML's `check_simple_key` for a scalar key.
fn check_simple_key(key: &str) -> bool {
    let a = analyze_scalar(key);
    key.chars().count() < 128 && !a.empty && !a.multiline
}

/// PyYAML's `choose_scalar_style` (block context, no requested style).
fn choose_style(a: &Analysis, implicit_plain: bool, simple_key: bool) -> Style {
    if implicit_plain && !(simple_key && (a.empty || a.multiline)) && a.allow_block_plain {
        return Style::Plain;
    }
    if a.allow_single_quoted && !(simple_key && a.multiline) {
        return Style::Single;
    }
    Style::Double
}

/// PyYAML's `analyze_scalar` with `allow_unicode=False` (safe_dump's default), reduced to the
/// facts block-context output needs.
fn analyze_scalar(scalar: &str) -> Analysis {
    if scalar.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let chars: Vec<char> = scalar.chars().collect();
    let ws = |c: char| {
        matches!(
            c,
            '\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'
        )
    };
    let mut block_indicators = scalar.starts_with("---") || scalar.starts_with("...");
    let mut line_breaks = false;
    let mut special_characters = false;
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut followed_by_whitespace = chars.len() == 1 || ws(chars[1]);
    let (mut previous_space, mut previous_break) = (false, false);
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                block_indicators = true;
            }
            if (ch == '?' || ch == ':') && followed_by_whitespace {
                block_indicators = true;
            }
            if ch == '-' && followed_by_whitespace {
                block_indicators = true;
            }
        } else {
            if ch == ':' && followed_by_whitespace {
                block_indicators = true;
            }
            if ch == '#' && preceded_by_whitespace {
                block_indicators = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            // Printable non-ASCII counts as special too: safe_dump escapes it.
            special_characters = true;
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = ws(ch);
        followed_by_whitespace = index + 2 >= chars.len() || ws(chars[index + 2]);
    }
    let mut allow_block_plain = true;
    let mut allow_single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_block_plain = false;
    }
    if break_space {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if space_break || special_characters {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if line_breaks {
        allow_block_plain = false;
    }
    if block_indicators {
        allow_block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_block_plain,
        allow_single_quoted,
    }
}

/// Whether PyYAML's (YAML 1.1) resolver reads `value`, written plain, back as a string, i.e.
/// no implicit resolver (bool, int, float, null, timestamp, merge, value, yaml) claims it.
/// Resolvers are looked up by the first character, as PyYAML does.
pub(crate) fn resolves_to_str(value: &str) -> bool {
    struct Resolvers {
        bool_: Regex,
        float: Regex,
        int: Regex,
        merge: Regex,
        null: Regex,
        timestamp: Regex,
        value: Regex,
        yaml: Regex,
    }
    static R: OnceLock<Resolvers> = OnceLock::new();
    // Python's `$` also matches before one final newline, hence `\n?$`.
    let r = R.get_or_init(|| {
        let re = |body: &str| Regex::new(&format!(r"^(?:{body})\n?$")).expect("static regex");
        Resolvers {
            bool_: re("yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"),
            float: re(concat!(
                r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
                r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
                r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
                r"|[-+]?\.(?:inf|Inf|INF)",
                r"|\.(?:nan|NaN|NAN)"
            )),
            int: re(concat!(
                r"[-+]?0b[0-1_]+",
                r"|[-+]?0[0-7_]+",
                r"|[-+]?(?:0|[1-9][0-9_]*)",
                r"|[-+]?0x[0-9a-fA-F_]+",
                r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
            )),
            merge: re("<<"),
            null: re("~|null|Null|NULL|"),
            timestamp: re(concat!(
                r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
                r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?",
                r"(?:[Tt]|[ \t]+)[0-9][0-9]?",
                r":[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?",
                r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?"
            )),
            value: re("="),
            yaml: re(r"!|&|\*"),
        }
    });
    let Some(first) = value.chars().next() else {
        return !r.null.is_match(value);
    };
    let candidates: Vec<&Regex> = match first {
        'y' | 'Y' | 'n' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' => {
            let mut v = vec![&r.bool_];
            if matches!(first, 'n' | 'N') {
                v.push(&r.null);
            }
            v
        }
        '-' | '+' => vec![&r.float, &r.int],
        '0'..='9' => vec![&r.float, &r.int, &r.timestamp],
        '.' => vec![&r.float],
        '<' => vec![&r.merge],
        '~' => vec![&r.null],
        '=' => vec![&r.value],
        '!' | '&' | '*' => vec![&r.yaml],
        _ => vec![],
    };
    !candidates.iter().any(|re| re.is_match(value))
}

/// PyYAML's `represent_float`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let mut s = crate::pytext::float_repr(f).to_lowercase();
    if !s.contains('.') && s.contains('e') {
        let (m, e) = s.split_once('e').expect("has e");
        s = format!("{m}.0e{e}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn styles_follow_pyyaml() {
        let v = json!({
            "b": "8", "a": "", "c": "Mon-Fri: 08:00-18:00", "d": "!10.0.0.5",
            "e": "j\u{f6}rg", "f": "x\\, y", "g": true, "h": null, "i": [], "j": {},
            "k": "it's", "l": "yes", "m": "10.0.0.0/8", "n": "2026-01-01", "o": 3
        });
        assert_eq!(
            safe_dump(&v),
            "a: ''\nb: '8'\nc: 'Mon-Fri: 08:00-18:00'\nd: '!10.0.0.5'\ne: \"j\\xF6rg\"\nf: x\\, y\ng: true\nh: null\ni: []\nj: {}\nk: it's\nl: 'yes'\nm: 10.0.0.0/8\nn: '2026-01-01'\no: 3\n"
        );
    }

    #[test]
    fn nested_sequences() {
        let v = json!({"p": [{"c": [["a", true], []], "z": 1}]});
        assert_eq!(
            safe_dump(&v),
            "p:\n- c:\n  - - a\n    - true\n  - []\n  z: 1\n"
        );
    }

    #[test]
    fn empty_key_is_a_complex_key() {
        let v = json!({"action": {"": true}});
        assert_eq!(safe_dump(&v), "action:\n  ? ''\n  : true\n");
    }
}
