//! A YAML document read into a JSON value together with where every node came from, so that
//! schema and semantic errors (which speak in JSON pointers such as `/tasks/2/chunksize`) can
//! be reported as `file:line:column`.
//!
//! We parse with `yaml-rust2`'s event API because it reports a position for every node;
//! `serde_yaml` only reports positions for its own errors.
//!
//! Every document is bounded: nesting deeper than [`MAX_DEPTH`] and documents that grow
//! (through aliases, "billion laughs") past [`MAX_EXPANDED_BYTES`] are refused at the node
//! that crossed the line, and tags (`!!python/object:…`) are refused, never ignored. We drive
//! the parser event by event ourselves: its own `load` recurses once per nesting level.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Pos {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// How deep collections may nest. Real job, rules and policy files nest fewer than ten
/// levels; serde_json's reader stops at 128 as well.
pub const MAX_DEPTH: usize = 128;

/// How large a document may grow once aliases are expanded, counted as the bytes of its
/// strings and positions plus 64 per node: 128 MiB, far above any real job, rules or policy
/// file (a large policy export costs a few MiB) and far below what exhausts memory (an alias
/// bomb stops at about 250 MB resident).
pub const MAX_EXPANDED_BYTES: u64 = 128 << 20;

/// The budget a node costs besides its text.
const NODE_COST: u64 = 64;

/// A YAML file that parsed: its name, its value as JSON, and node positions.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub value: Value,
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

/// A YAML syntax error (or a construct we refuse, such as a duplicate key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl Source {
    /// Parse `text`; `path` is only used to name the file in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Source, SyntaxError> {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, mark) = parser.next_token().map_err(|e| SyntaxError {
                pos: Pos::from_marker(e.marker()),
                message: e.info().to_string(),
            })?;
            // Only the first document is read (as `load` without `multi` did).
            let done = matches!(event, Event::DocumentEnd | Event::StreamEnd);
            builder.on_event(event, mark);
            if let Some(err) = builder.error.take() {
                return Err(err);
            }
            if done {
                break;
            }
        }
        Ok(Source {
            path: path.to_path_buf(),
            value: builder.root.unwrap_or(Value::Null),
            values: builder.values,
            keys: builder.keys,
        })
    }

    /// Where the node at a JSON pointer starts; for a pointer that names no node (a missing
    /// property), the nearest existing ancestor.
    pub fn pos(&self, pointer: &str) -> Pos {
        let mut p = pointer.to_string();
        loop {
            if let Some(pos) = self.values.get(&p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return Pos { line: 1, column: 1 },
            }
        }
    }

    /// Where the key of a mapping entry is written (for "unknown field" errors); falls back
    /// to [`Source::pos`].
    pub fn key_pos(&self, pointer: &str) -> Pos {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.pos(pointer))
    }
}

/// Escape one JSON pointer segment (RFC 6901).
pub fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Seq {
        pointer: String,
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        pointer: String,
        map: Map<String, Value>,
        pending_key: Option<(String, Pos)>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
    /// Anchored values with what they cost (charged again at every alias).
    anchors: HashMap<usize, (Value, u64)>,
    /// What the document has cost so far (see [`MAX_EXPANDED_BYTES`]).
    spent: u64,
    error: Option<SyntaxError>,
}

/// What a value costs in the budget: its strings plus [`NODE_COST`] per node.
fn cost(v: &Value) -> u64 {
    // An explicit stack: the value may be as deep as MAX_DEPTH, and aliases are charged often.
    let mut total = 0u64;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        total = total.saturating_add(NODE_COST);
        match v {
            Value::String(s) => total = total.saturating_add(s.len() as u64),
            Value::Array(items) => todo.extend(items.iter()),
            Value::Object(map) => {
                for (k, v) in map {
                    total = total.saturating_add(k.len() as u64);
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    total
}

impl Builder {
    /// The pointer the next value will live at, or `None` when the next scalar is a key.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Seq { pointer, items, .. }) => Some(format!("{pointer}/{}", items.len())),
            Some(Frame::Map {
                pointer,
                pending_key: Some((k, _)),
                ..
            }) => Some(format!("{pointer}/{}", escape_segment(k))),
            Some(Frame::Map { .. }) => None,
        }
    }

    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(SyntaxError { pos, message });
        }
    }

    /// Charge `amount` to the budget; false (with the error set) when it is used up.
    fn charge(&mut self, amount: u64, pos: Pos) -> bool {
        self.spent = self.spent.saturating_add(amount);
        if self.spent > MAX_EXPANDED_BYTES {
            self.fail(
                pos,
                format!(
                    "the document grows past {} MiB (through aliases or sheer size); pi-manage refuses it",
                    MAX_EXPANDED_BYTES >> 20
                ),
            );
            return false;
        }
        true
    }

    /// Refuse a tag: privacyIDEA's safe loaders refuse most, and ignoring one would read
    /// something else than the author meant.
    fn refuse_tag(&mut self, tag: &Option<yaml_rust2::parser::Tag>, pos: Pos) -> bool {
        if let Some(t) = tag {
            self.fail(
                pos,
                format!(
                    "YAML tags are not supported (found '{}{}')",
                    t.handle, t.suffix
                ),
            );
            return true;
        }
        false
    }

    fn push_value(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, pending_key, ..
            }) => {
                if let Some((k, _)) = pending_key.take() {
                    map.insert(k, value);
                }
            }
        }
    }

    fn scalar_value(text: &str, style: TScalarStyle) -> Value {
        if style != TScalarStyle::Plain {
            return Value::String(text.to_string());
        }
        match Yaml::from_str(text) {
            Yaml::Integer(i) => Value::Number(i.into()),
            Yaml::Real(r) => r
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(r)),
            Yaml::Boolean(b) => Value::Bool(b),
            Yaml::Null => Value::Null,
            _ => Value::String(text.to_string()),
        }
    }
}

fn value_to_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::from_marker(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if self.refuse_tag(&tag, pos) || !self.charge(NODE_COST + text.len() as u64, pos) {
                    return;
                }
                let value = Builder::scalar_value(&text, style);
                self.store_anchor(anchor, &value);
                self.node(value, pos);
            }
            Event::Alias(id) => match self.anchors.get(&id).map(|(_, c)| *c) {
                Some(c) => {
                    if self.charge(c, pos) {
                        let v = self.anchors[&id].0.clone();
                        self.node(v, pos);
                    }
                }
                None => self.fail(pos, "alias to an unknown anchor".into()),
            },
            Event::SequenceStart(anchor, tag) => {
                if self.refuse_tag(&tag, pos) || !self.enter(pos) {
                    return;
                }
                if let Some(pointer) = self.begin_collection(pos) {
                    self.stack.push(Frame::Seq {
                        pointer,
                        items: Vec::new(),
                        anchor,
                    });
                }
            }
            Event::MappingStart(anchor, tag) => {
                if self.refuse_tag(&tag, pos) || !self.enter(pos) {
                    return;
                }
                if let Some(pointer) = self.begin_collection(pos) {
                    self.stack.push(Frame::Map {
                        pointer,
                        map: Map::new(),
                        pending_key: None,
                        anchor,
                    });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return,
                };
                self.store_anchor(anchor, &value);
                self.push_value(value);
            }
            _ => {}
        }
    }
}

impl Builder {
    fn store_anchor(&mut self, anchor: usize, value: &Value) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), cost(value)));
        }
    }

    /// A collection opens: refuse it past [`MAX_DEPTH`] and charge it.
    fn enter(&mut self, pos: Pos) -> bool {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(
                pos,
                format!("nesting deeper than {MAX_DEPTH} levels; pi-manage refuses it"),
            );
            return false;
        }
        self.charge(NODE_COST, pos)
    }

    /// A complete node (scalar or alias) arrived: either a mapping key or a value.
    fn node(&mut self, value: Value, pos: Pos) {
        match self.next_pointer() {
            Some(pointer) => {
                if !self.charge(pointer.len() as u64, pos) {
                    return;
                }
                self.values.insert(pointer, pos);
                self.push_value(value);
            }
            None => self.key(value_to_key(&value), pos),
        }
    }

    fn key(&mut self, key: String, pos: Pos) {
        let Some(Frame::Map {
            pointer,
            map,
            pending_key,
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        if map.contains_key(&key) {
            let message = format!("duplicate key '{key}'");
            self.fail(pos, message);
            return;
        }
        let child = format!("{pointer}/{}", escape_segment(&key));
        let spent = child.len() as u64;
        // A block mapping's start event is marked after its first key; the mapping really
        // starts where that key does.
        if map.is_empty() {
            let start = self.values.entry(pointer.clone()).or_insert(pos);
            *start = (*start).min(pos);
        }
        self.keys.insert(child, pos);
        *pending_key = Some((key, pos));
        self.charge(spent, pos);
    }

    /// A collection starts; returns its pointer, or `None` when it was used as a mapping key.
    fn begin_collection(&mut self, pos: Pos) -> Option<String> {
        match self.next_pointer() {
            Some(pointer) => {
                if !self.charge(pointer.len() as u64, pos) {
                    return None;
                }
                self.values.insert(pointer.clone(), pos);
                Some(pointer)
            }
            None => {
                self.fail(
                    pos,
                    "a mapping key must be a plain value, not a list or mapping".into(),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Source {
        Source::parse(Path::new("t.yaml"), text).unwrap()
    }

    #[test]
    fn values_and_positions() {
        let s = parse("version: 1\nname: nightly\ntasks:\n  - kind: audit_rotate\n    chunksize: 10\n  - {kind: x, n: [1, 2.5, true, null, '3']}\n");
        assert_eq!(s.value["version"], 1);
        assert_eq!(s.value["tasks"][0]["chunksize"], 10);
        assert_eq!(s.value["tasks"][1]["n"][1], 2.5);
        assert_eq!(s.value["tasks"][1]["n"][4], "3");
        assert_eq!(
            s.pos("/version"),
            Pos {
                line: 1,
                column: 10
            }
        );
        assert_eq!(
            s.pos("/tasks/0/chunksize"),
            Pos {
                line: 5,
                column: 16
            }
        );
        assert_eq!(s.key_pos("/tasks/0/chunksize"), Pos { line: 5, column: 5 });
        assert_eq!(s.pos("/tasks/0"), Pos { line: 4, column: 5 });
        // missing property: nearest ancestor
        assert_eq!(s.pos("/tasks/0/nope"), Pos { line: 4, column: 5 });
        assert_eq!(
            s.pos("/tasks/1/n/3"),
            Pos {
                line: 6,
                column: 33
            }
        );
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let s = parse("a: '10'\nb: \"true\"\nc: 10d\nd: ~\n");
        assert_eq!(s.value["a"], "10");
        assert_eq!(s.value["b"], "true");
        assert_eq!(s.value["c"], "10d");
        assert!(s.value["d"].is_null());
    }

    #[test]
    fn anchors_and_aliases() {
        let s = parse("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(s.value["copy"]["x"], 1);
    }

    #[test]
    fn nesting_is_bounded_at_the_node_that_crosses_the_line() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Source::parse(Path::new("t"), &ok).is_ok());
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let e = Source::parse(Path::new("t"), &deep).unwrap_err();
        assert_eq!(e.pos.line, 1);
        let block: String = (0..300).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let e = Source::parse(Path::new("t"), &block).unwrap_err();
        assert!(
            e.message.contains("nesting deeper than 128"),
            "{}",
            e.message
        );
        assert_eq!(e.pos.line, 129);
    }

    #[test]
    fn alias_expansion_is_bounded_but_real_files_are_not_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let e = Source::parse(Path::new("t"), &bomb).unwrap_err();
        assert!(e.message.contains("grows past 128 MiB"), "{}", e.message);
        assert!(e.pos.line >= 7, "{:?}", e.pos);
        // A large real document: 20,000 policies (about 3 MiB), with anchors for shared parts.
        let mut big = String::from("common: &c {realm: r, resolver: x, active: true}\npolicies:\n");
        for i in 0..20_000 {
            big.push_str(&format!(
                "  - name: policy-{i}\n    scope: admin\n    action: {{enrollHOTP: true, hotp_hashlib: sha256}}\n    conditions: [[userinfo, groups, contains, admins, true]]\n    shared: *c\n"
            ));
        }
        assert!(big.len() > 3 << 20);
        let s = Source::parse(Path::new("t"), &big).unwrap();
        assert_eq!(s.value["policies"][19_999]["shared"]["realm"], "r");
    }

    #[test]
    fn tags_are_refused() {
        for text in [
            "a: !!python/object:os.system x\n",
            "a: !!str 5\n",
            "- !custom [1]\n",
            "!!map {a: 1}\n",
        ] {
            let e = Source::parse(Path::new("t"), text).unwrap_err();
            assert!(
                e.message.contains("tags are not supported"),
                "{text}: {}",
                e.message
            );
        }
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_positions() {
        let e = Source::parse(Path::new("t"), "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, column: 1 });
        assert!(e.message.contains("duplicate key 'a'"));
        let e = Source::parse(Path::new("t"), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1);
    }
}
