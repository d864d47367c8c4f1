//! A file of policies, as `config import -i` and the `files:` of a `policies` task read it:
//! privacyIDEA's export (JSON, YAML or a Python literal, detected in that order, as
//! privacyIDEA does), or the friendlier YAML form (a list of policies, or a `policies:` list).
//!
//! Every node keeps its position, so each problem is reported as `file:line:column`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

use super::entry::{entry_name, json_type, parse_entry, PolicyEntry};
use super::pyyaml::resolves_to_str;
use crate::job::diagnostic::Diagnostic;
use crate::job::source::{escape_segment, Pos, Source};
use crate::picfg::{literal_eval, PyValue};

/// The privacyIDEA release whose formats pi-manage writes and expects.
pub const PRIVACYIDEA_VERSION: &str = "3.14";

/// How a document was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocFormat {
    Json,
    Yaml,
    Python,
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub path: PathBuf,
    pub format: DocFormat,
    pub value: Value,
    /// Node positions (JSON and YAML; a Python literal has none).
    source: Option<Source>,
}

/// Where the policies of a document are, and which other configuration types it has (they
/// are not applied: pi-manage manages policies only).
#[derive(Debug)]
pub struct PolicyList<'a> {
    pub pointer: String,
    pub items: &'a [Value],
    pub other_types: Vec<String>,
}

/// What the document says about the privacyIDEA version it was exported from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionCheck {
    /// Not privacyIDEA's export layout (a friendly list): nothing to check.
    NotAnExport,
    Missing,
    Matches,
    /// The major.minor version of the export, which is not 3.14.
    Differs(String),
}

impl PolicyDocument {
    /// Read and parse a file.
    pub fn read(path: &Path) -> Result<PolicyDocument, Diagnostic> {
        let text =
            crate::input_file::read_text(path, crate::input_file::MAX_DOCUMENT).map_err(|e| {
                let (line, column) = e.line_column();
                Diagnostic::error(
                    path,
                    Pos { line, column },
                    "",
                    format!("cannot read policy file: {e}"),
                )
            })?;
        PolicyDocument::parse(path, &text)
    }

    /// Parse text: JSON, then YAML, then a Python literal; the first that succeeds wins.
    pub fn parse(path: &Path, text: &str) -> Result<PolicyDocument, Diagnostic> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let doc = |format, value, source| PolicyDocument {
            path: path.to_path_buf(),
            format,
            value,
            source,
        };
        let json_err = match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                // The YAML reader also reads JSON and knows where every node is.
                let source = Source::parse(path, text).ok();
                return Ok(doc(DocFormat::Json, value, source));
            }
            Err(e) => e,
        };
        let yaml_err = match Source::parse(path, text) {
            Ok(source) => {
                let mut value = source.value.clone();
                for (pointer, raw) in yaml11_strings(text) {
                    if let Some(v) = value.pointer_mut(&pointer) {
                        *v = Value::String(raw);
                    }
                }
                return Ok(doc(DocFormat::Yaml, value, Some(source)));
            }
            Err(e) => e,
        };
        if let Some(value) = python_literal(text) {
            return Ok(doc(DocFormat::Python, value, None));
        }
        let looks_like_json = text.trim_start().starts_with(['{', '[']);
        let (pos, why) = if looks_like_json {
            (
                Pos {
                    line: json_err.line().max(1),
                    column: json_err.column().max(1),
                },
                json_err.to_string(),
            )
        } else {
            (yaml_err.pos, yaml_err.message)
        };
        Err(Diagnostic::error(
            path,
            pos,
            "",
            format!("not JSON, YAML or a Python literal: {why}"),
        )
        .with_hint(
            "privacyIDEA's export (pi-manage config export -t policy) or a YAML list of policies",
        ))
    }

    /// Where the node at `pointer` is (the nearest ancestor for a missing one).
    pub fn pos(&self, pointer: &str) -> Pos {
        self.source
            .as_ref()
            .map(|s| s.pos(pointer))
            .unwrap_or(Pos { line: 1, column: 1 })
    }

    pub fn error(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.path, self.pos(pointer), pointer, message)
    }

    /// Find the policies: privacyIDEA's `policy:` list, a `policies:` list, or a list at the
    /// top.
    pub fn policy_list(&self) -> Result<PolicyList<'_>, Diagnostic> {
        let layouts = "expected privacyIDEA's export (with a 'policy' list), a 'policies' list or a list of policies";
        match &self.value {
            Value::Array(items) => Ok(PolicyList {
                pointer: String::new(),
                items,
                other_types: Vec::new(),
            }),
            Value::Object(map) => {
                let key =
                    match (map.get("policy"), map.get("policies")) {
                        (Some(_), Some(_)) => return Err(self.error(
                            "/policies",
                            "give either 'policy' (privacyIDEA's export) or 'policies', not both",
                        )),
                        (Some(_), None) => "policy",
                        (None, Some(_)) => "policies",
                        (None, None) => {
                            return Err(self.error("", format!("no policies found: {layouts}")))
                        }
                    };
                let pointer = format!("/{key}");
                let Some(items) = map[key].as_array() else {
                    return Err(self.error(
                        &pointer,
                        format!("'{key}' must be a list, found {}", json_type(&map[key])),
                    ));
                };
                // An export of every type also has empty entries for the other types.
                let other_types = map
                    .iter()
                    .filter(|(k, v)| {
                        *k != key
                            && *k != "privacyIDEA_version"
                            && !matches!(v, Value::Null)
                            && v.as_array().is_none_or(|a| !a.is_empty())
                            && v.as_object().is_none_or(|o| !o.is_empty())
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                Ok(PolicyList {
                    pointer,
                    items,
                    other_types,
                })
            }
            other => Err(self.error(
                "",
                format!("no policies found: {layouts}, found {}", json_type(other)),
            )),
        }
    }

    /// privacyIDEA's version check: the major.minor of `privacyIDEA_version` against 3.14.
    pub fn version(&self) -> VersionCheck {
        let Value::Object(map) = &self.value else {
            return VersionCheck::NotAnExport;
        };
        if !map.contains_key("policy") && map.contains_key("policies") {
            return VersionCheck::NotAnExport;
        }
        match map.get("privacyIDEA_version") {
            None => VersionCheck::Missing,
            Some(v) => {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                let minor = major_minor(&text);
                if minor == PRIVACYIDEA_VERSION {
                    VersionCheck::Matches
                } else {
                    VersionCheck::Differs(minor)
                }
            }
        }
    }
}

/// Plain scalars that YAML 1.2 (our reader) types as numbers but PyYAML's YAML 1.1 reads as
/// strings — `0o17`, `1e3`: PyYAML writes such strings unquoted, so privacyIDEA's YAML export
/// must be read with its rules. Returns each one's pointer and text.
fn yaml11_strings(text: &str) -> Vec<(String, String)> {
    #[derive(Default)]
    struct Plain {
        /// Per open collection: its pointer, and the next item index (sequence) or the
        /// pending key (mapping; `None` while a key is expected).
        stack: Vec<(String, Option<usize>, Option<String>)>,
        found: Vec<(String, String)>,
    }
    impl Plain {
        /// The pointer of the next value, or `None` when the next scalar is a mapping key.
        fn next(&mut self) -> Option<String> {
            match self.stack.last_mut() {
                None => Some(String::new()),
                Some((p, Some(i), _)) => {
                    *i += 1;
                    Some(format!("{p}/{}", *i - 1))
                }
                Some((p, None, key)) => key.take().map(|k| format!("{p}/{}", escape_segment(&k))),
            }
        }
    }
    impl MarkedEventReceiver for Plain {
        fn on_event(&mut self, ev: Event, _: Marker) {
            match ev {
                Event::Scalar(text, style, ..) => match self.next() {
                    Some(pointer) => {
                        let typed = !matches!(Yaml::from_str(&text), Yaml::String(_));
                        if style == TScalarStyle::Plain && typed && resolves_to_str(&text) {
                            self.found.push((pointer, text));
                        }
                    }
                    None => {
                        if let Some((_, None, key)) = self.stack.last_mut() {
                            *key = Some(text);
                        }
                    }
                },
                Event::Alias(_) => {
                    self.next();
                }
                Event::SequenceStart(..) => {
                    let p = self.next().unwrap_or_default();
                    self.stack.push((p, Some(0), None));
                }
                Event::MappingStart(..) => {
                    let p = self.next().unwrap_or_default();
                    self.stack.push((p, None, None));
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    self.stack.pop();
                }
                _ => {}
            }
        }
    }
    let mut plain = Plain::default();
    if Parser::new_from_str(text).load(&mut plain, false).is_err() {
        return Vec::new();
    }
    plain.found
}

/// privacyIDEA's `minver`: the first two dot-separated parts.
pub fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Entries that could not be used, with everything wrong with them.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub name: Option<String>,
    pub at: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Check every entry of a list. `file` and `pos` place the problems; `base` is the list's
/// pointer in that file.
pub fn parse_entries(
    items: &[Value],
    base: &str,
    require_scope: bool,
    file: &Path,
    pos: &dyn Fn(&str) -> Pos,
) -> (Vec<PolicyEntry>, Vec<Invalid>) {
    let locate = |ptr: &str| {
        let p = pos(ptr);
        if file.as_os_str().is_empty() {
            "the command line".to_string()
        } else {
            format!("{}:{}:{}", file.display(), p.line, p.column)
        }
    };
    let mut entries = Vec::new();
    let mut invalid = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let entry_ptr = format!("{base}/{i}");
        let located = |rel: &str| locate(&format!("{entry_ptr}{rel}"));
        match parse_entry(item, require_scope, &located) {
            Ok(e) => entries.push(e),
            Err(problems) => invalid.push(Invalid {
                name: entry_name(item).map(str::to_string),
                at: located(""),
                diagnostics: problems
                    .into_iter()
                    .map(|p| {
                        let ptr = format!("{entry_ptr}{}", p.pointer);
                        let mut d = Diagnostic::error(file, pos(&ptr), &ptr, p.message);
                        d.hint = p.hint;
                        d
                    })
                    .collect(),
            }),
        }
    }
    (entries, invalid)
}

/// A Python literal (`ast.literal_eval`), for `config policy create -f` files and privacyIDEA's
/// third import format. `None` when the text is not one.
pub fn python_literal(text: &str) -> Option<Value> {
    py_to_json(&literal_eval(text)?)
}

fn py_to_json(v: &PyValue) -> Option<Value> {
    Some(match v {
        PyValue::Str(s) => Value::String(s.clone()),
        PyValue::Bytes(b) => Value::String(String::from_utf8(b.clone()).ok()?),
        PyValue::Int(i) => Value::from(*i),
        PyValue::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number)?,
        PyValue::Bool(b) => Value::Bool(*b),
        PyValue::None => Value::Null,
        PyValue::List(items) | PyValue::Tuple(items) => {
            Value::Array(items.iter().map(py_to_json).collect::<Option<_>>()?)
        }
        PyValue::Dict(pairs) => {
            let mut m = serde_json::Map::new();
            for (k, v) in pairs {
                m.insert(k.as_str()?.to_string(), py_to_json(v)?);
            }
            Value::Object(m)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> PolicyDocument {
        PolicyDocument::parse(Path::new("p"), text).unwrap()
    }

    #[test]
    fn formats_are_detected_in_privacyideas_order() {
        assert_eq!(parse("{\"policy\": []}").format, DocFormat::Json);
        assert_eq!(parse("policy: []\n").format, DocFormat::Yaml);
        let py = parse("{'name': 'p', 'active': True, 'realm': ('a', 'b'), 'd': None}");
        assert_eq!(py.format, DocFormat::Python);
        assert_eq!(py.value["active"], Value::Bool(true));
        assert_eq!(py.value["realm"][1], "b");
        assert!(py.value["d"].is_null());
        let err = PolicyDocument::parse(Path::new("p"), "{\"policy\": [}").unwrap_err();
        assert_eq!((err.line, err.column), (1, 13));
    }

    #[test]
    fn yaml_is_read_with_pyyamls_rules() {
        let d = parse("a: [0o17, 1e3, 12, 1.5, '0o17', x]\nb: {c: 1E5}\n");
        assert_eq!(
            d.value,
            serde_json::json!({"a": ["0o17", "1e3", 12, 1.5, "0o17", "x"], "b": {"c": "1E5"}})
        );
    }

    #[test]
    fn policy_lists_and_versions() {
        let d = parse("{\"policy\": [{\"name\": \"a\"}], \"realm\": {}, \"resolver\": {\"r\": {}}, \"privacyIDEA_version\": \"3.14.1\"}");
        let l = d.policy_list().unwrap();
        assert_eq!((l.pointer.as_str(), l.items.len()), ("/policy", 1));
        assert_eq!(l.other_types, ["resolver"]);
        assert_eq!(d.version(), VersionCheck::Matches);
        assert_eq!(
            parse("{\"policy\": [], \"privacyIDEA_version\": \"3.12\"}").version(),
            VersionCheck::Differs("3.12".into())
        );
        assert_eq!(parse("{\"policy\": []}").version(), VersionCheck::Missing);
        assert_eq!(parse("- name: a\n").version(), VersionCheck::NotAnExport);
        assert_eq!(
            parse("policies: []\n").policy_list().unwrap().pointer,
            "/policies"
        );
        assert!(parse("realm: {}\n").policy_list().is_err());
    }

    #[test]
    fn entry_problems_have_file_positions() {
        let d = parse("policies:\n  - name: a\n    scope: admn\n  - name: b\n    scope: admin\n");
        let l = d.policy_list().unwrap();
        let (ok, bad) = parse_entries(l.items, &l.pointer, true, &d.path, &|p| d.pos(p));
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].at, "p:4:5");
        assert_eq!(bad[0].name.as_deref(), Some("a"));
        assert_eq!(
            bad[0].diagnostics[0].to_string(),
            "p:3:12: unknown scope 'admn' (at /policies/0/scope)\n  hint: did you mean 'admin'?"
        );
    }
}
