//! One policy as given in an input (privacyIDEA's export format, a `config policy create`
//! dictionary, or the friendlier YAML form of job files), checked field by field and turned
//! into a [`PolicyEntry`] whose values are already in stored form.
//!
//! The friendly form is a superset of privacyIDEA's export entry, so one parser serves all
//! inputs: list fields may also be a comma-separated string, `action` may also be a list of
//! `key`/`key=value` strings or privacyIDEA's action string, and a condition may also be a
//! mapping with named fields. Every problem is reported with a JSON pointer relative to the
//! entry, and all problems of an entry are reported at once.

use serde_json::Value;

use super::model::{
    encode_actions, py_isspace, py_strip, split_unescaped_commas, ActionValue, ListField,
    StoredCondition, StoredPolicy, DEFAULT_HANDLE_MISSING_DATA, SCOPES,
};
use super::validate::{
    check_client, check_name, check_time, RefKind, Reference, COMPARATORS, CONDITION_SECTIONS,
    HANDLE_MISSING_DATA, MAX_CONDITION_FIELD, MAX_CONDITION_VALUE, MAX_LIST,
};
use crate::job::diagnostic::did_you_mean;
use crate::job::source::escape_segment;

/// Every key a policy entry may have.
pub const ENTRY_KEYS: &[&str] = &[
    "name",
    "scope",
    "action",
    "realm",
    "adminrealm",
    "adminuser",
    "resolver",
    "pinode",
    "user",
    "client",
    "user_agents",
    "time",
    "priority",
    "active",
    "check_all_resolvers",
    "user_case_insensitive",
    "conditions",
    "description",
];

const CONDITION_KEYS: &[&str] = &[
    "section",
    "key",
    "comparator",
    "value",
    "active",
    "handle_missing_data",
];

/// What an absent field means when an entry meets the stored policy of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// The entry is the whole truth (job files): absent fields take privacyIDEA's defaults.
    Declare,
    /// privacyIDEA's `set_policy` (`config import`, `config policy create`): absent fields
    /// keep their stored values.
    Upsert,
}

/// A checked policy entry. `None` means "not given"; given values are in stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    pub name: String,
    pub scope: Option<String>,
    pub action: Option<String>,
    pub lists: Vec<(ListField, String)>,
    pub time: Option<String>,
    pub priority: Option<i64>,
    pub active: Option<bool>,
    pub check_all_resolvers: Option<bool>,
    pub user_case_insensitive: Option<bool>,
    pub conditions: Option<Vec<StoredCondition>>,
    /// `Some(None)`: explicitly no description.
    pub description: Option<Option<String>>,
    /// Realms, resolvers and nodes the entry names; they must exist in the database.
    pub references: Vec<Reference>,
    /// Where the entry is written (`file:line:column`), for messages.
    pub at: String,
}

/// A problem in an entry: the pointer is relative to the entry (`/action/otppin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pointer: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            pointer: pointer.into(),
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// Place a problem found in a part of the entry (an action) under that part's pointer.
    fn with_pointer(mut self, ptr: &str) -> Problem {
        self.pointer = format!("{ptr}{}", self.pointer);
        self
    }
}

/// The name of an entry if it has a usable one (for messages about invalid entries).
pub fn entry_name(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

/// Check one entry. `locate` turns a pointer relative to the entry into `file:line:column`
/// (for the references that are checked against the database later). `require_scope`: job
/// files must name the scope; privacyIDEA's import may leave it out for an existing policy.
pub fn parse_entry(
    v: &Value,
    require_scope: bool,
    locate: &dyn Fn(&str) -> String,
) -> Result<PolicyEntry, Vec<Problem>> {
    let mut p = Parser {
        problems: Vec::new(),
    };
    let Some(obj) = v.as_object() else {
        return Err(vec![Problem::new(
            "",
            format!("a policy must be a mapping, found {}", json_type(v)),
        )]);
    };
    for key in obj.keys() {
        if !ENTRY_KEYS.contains(&key.as_str()) {
            let mut pr = Problem::new(
                format!("/{}", escape_segment(key)),
                format!("unknown policy field '{key}'"),
            );
            if let Some(s) = did_you_mean(key, ENTRY_KEYS.iter().copied()) {
                pr = pr.hint(format!("did you mean '{s}'?"));
            }
            p.problems.push(pr);
        }
    }
    let given = |k: &str| obj.get(k).filter(|v| !v.is_null());

    let name = match obj.get("name") {
        Some(Value::String(s)) => {
            if let Err(e) = check_name(s) {
                p.problems.push(Problem::new("/name", e));
            }
            s.clone()
        }
        Some(other) => {
            p.type_error("/name", "a string", other);
            String::new()
        }
        None => {
            p.problems
                .push(Problem::new("", "missing required field 'name'"));
            String::new()
        }
    };
    let scope = match given("scope") {
        Some(Value::String(s)) => {
            if !SCOPES.contains(&s.as_str()) {
                let mut pr = Problem::new("/scope", format!("unknown scope '{s}'"));
                pr = match did_you_mean(s, SCOPES.iter().copied()) {
                    Some(m) => pr.hint(format!("did you mean '{m}'?")),
                    None => pr.hint(format!("scopes: {}", SCOPES.join(", "))),
                };
                p.problems.push(pr);
            }
            Some(s.clone())
        }
        Some(other) => {
            p.type_error("/scope", "a string", other);
            None
        }
        None => {
            if require_scope {
                p.problems.push(
                    Problem::new("", "missing required field 'scope'")
                        .hint(format!("scopes: {}", SCOPES.join(", "))),
                );
            }
            None
        }
    };
    let action = given("action").and_then(|a| p.action(a));
    let mut lists = Vec::new();
    let mut references = Vec::new();
    for (key, value) in obj {
        let Some(field) = ListField::from_name(key) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let ptr = format!("/{key}");
        if let Some(items) = p.list(&ptr, field, value) {
            let kind = match field {
                ListField::Realm => Some(RefKind::Realm),
                ListField::Resolver => Some(RefKind::Resolver),
                ListField::Pinode => Some(RefKind::Node),
                _ => None,
            };
            if let Some(kind) = kind {
                for (i, item) in items.iter().enumerate() {
                    let item_ptr = if value.is_array() {
                        format!("{ptr}/{i}")
                    } else {
                        ptr.clone()
                    };
                    references.push(Reference {
                        kind,
                        name: item.clone(),
                        at: locate(&item_ptr),
                    });
                }
            }
            lists.push((field, items.join(", ")));
        }
    }
    let time = match given("time") {
        Some(Value::String(t)) => {
            if let Err(e) = check_time(t) {
                p.problems.push(Problem::new("/time", e));
            }
            Some(t.clone())
        }
        Some(other) => {
            p.type_error("/time", "a string", other);
            None
        }
        None => None,
    };
    let priority = match given("priority") {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            match n.as_i64().filter(|i| (1..=i64::from(i32::MAX)).contains(i)) {
                Some(i) => Some(i),
                None => {
                    p.problems.push(Problem::new(
                        "/priority",
                        format!("priority {n} is out of range (1 to {})", i32::MAX),
                    ));
                    None
                }
            }
        }
        Some(other) => {
            p.type_error("/priority", "an integer", other);
            None
        }
        None => None,
    };
    let mut flag = |k: &str| match given(k) {
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            p.type_error(&format!("/{k}"), "true or false", other);
            None
        }
        None => None,
    };
    let active = flag("active");
    let check_all_resolvers = flag("check_all_resolvers");
    let user_case_insensitive = flag("user_case_insensitive");
    let conditions = match given("conditions") {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, c)| p.condition(&format!("/conditions/{i}"), c))
                .collect(),
        ),
        Some(other) => {
            p.type_error("/conditions", "a list", other);
            None
        }
        None => None,
    };
    let description = match obj.get("description") {
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(Value::Null) => Some(None),
        Some(other) => {
            p.type_error("/description", "a string", other);
            None
        }
        None => None,
    };
    if !p.problems.is_empty() {
        return Err(p.problems);
    }
    Ok(PolicyEntry {
        name,
        scope,
        action,
        lists,
        time,
        priority,
        active,
        check_all_resolvers,
        user_case_insensitive,
        conditions,
        description,
        references,
        at: locate(""),
    })
}

impl PolicyEntry {
    /// The policy this entry asks for, given the stored policy of the same name (if any).
    pub fn resolve(
        &self,
        existing: Option<&StoredPolicy>,
        semantics: Semantics,
    ) -> Result<StoredPolicy, String> {
        let mut p = match (existing, semantics) {
            (Some(e), Semantics::Upsert) => e.clone(),
            _ => {
                let scope = self
                    .scope
                    .clone()
                    .or_else(|| existing.map(|e| e.scope.clone()))
                    .ok_or_else(|| {
                        format!(
                            "policy '{}' does not exist yet and has no scope (at {})",
                            self.name, self.at
                        )
                    })?;
                StoredPolicy::new(&self.name, &scope)
            }
        };
        p.name = self.name.clone();
        if let Some(s) = &self.scope {
            p.scope = s.clone();
        }
        if let Some(a) = &self.action {
            p.action = Some(a.clone());
        }
        for (field, value) in &self.lists {
            *p.list_mut(*field) = Some(value.clone());
        }
        if let Some(t) = &self.time {
            p.time = Some(t.clone());
        }
        if let Some(prio) = self.priority {
            p.priority = prio;
        }
        if let Some(b) = self.active {
            p.active = Some(b);
        }
        if let Some(b) = self.check_all_resolvers {
            p.check_all_resolvers = Some(b);
        }
        if let Some(b) = self.user_case_insensitive {
            p.user_case_insensitive = Some(b);
        }
        if let Some(c) = &self.conditions {
            p.conditions = c.clone();
        }
        if let Some(d) = &self.description {
            p.description = d.clone();
        }
        Ok(p)
    }
}

struct Parser {
    problems: Vec<Problem>,
}

impl Parser {
    fn type_error(&mut self, pointer: &str, expected: &str, found: &Value) {
        self.problems.push(Problem::new(
            pointer,
            format!("expected {expected}, found {}", json_type(found)),
        ));
    }

    /// `action` in any of its three forms, as the stored action string.
    fn action(&mut self, v: &Value) -> Option<String> {
        let before = self.problems.len();
        let mut pairs: Vec<(String, ActionValue, String)> = Vec::new();
        match v {
            Value::Object(map) => {
                // privacyIDEA exports an empty action string as {"": true}.
                if map.len() == 1 && map.get("") == Some(&Value::Bool(true)) {
                    return Some(String::new());
                }
                for (k, val) in map {
                    let ptr = format!("/action/{}", escape_segment(k));
                    let value = match val {
                        Value::Bool(true) => Some(ActionValue::Set),
                        Value::Bool(false) => {
                            self.problems.push(
                                Problem::new(&ptr, format!("action '{k}' is false")).hint(
                                    "privacyIDEA has no 'false' actions: leave the action out",
                                ),
                            );
                            None
                        }
                        Value::String(s) => Some(ActionValue::Text(s.clone())),
                        Value::Number(n) => Some(ActionValue::Text(number_text(n))),
                        other => {
                            self.type_error(&ptr, "true, a string or a number", other);
                            None
                        }
                    };
                    if let Some(value) = value {
                        pairs.push((k.clone(), value, ptr));
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let ptr = format!("/action/{i}");
                    match item {
                        Value::String(s) => pairs.push(split_action(s, ptr)),
                        other => self.type_error(&ptr, "'key' or 'key=value'", other),
                    }
                }
            }
            Value::String(s) => {
                if py_strip(s).is_empty() {
                    return Some(String::new());
                }
                for part in split_unescaped_commas(s) {
                    pairs.push(split_action(py_strip(part), "/action".into()));
                }
            }
            other => self.type_error("/action", "a mapping, a list or a string", other),
        }
        let mut seen: Vec<&str> = Vec::new();
        for (k, value, ptr) in &pairs {
            if seen.contains(&k.as_str()) {
                self.problems
                    .push(Problem::new(ptr, format!("action '{k}' is given twice")));
            }
            seen.push(k);
            if let Err(e) = check_action(k, value) {
                self.problems.push(e.with_pointer(ptr));
            }
        }
        if self.problems.len() > before {
            return None;
        }
        let items: Vec<(String, ActionValue)> = pairs.into_iter().map(|(k, v, _)| (k, v)).collect();
        Some(encode_actions(&items))
    }

    /// A list field: a list of strings (numbers allowed) or a comma-separated string.
    fn list(&mut self, ptr: &str, field: ListField, v: &Value) -> Option<Vec<String>> {
        let before = self.problems.len();
        let items: Vec<(String, String)> = match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let p = format!("{ptr}/{i}");
                    match item {
                        Value::String(s) => Some((s.clone(), p)),
                        Value::Number(n) => Some((number_text(n), p)),
                        other => {
                            self.type_error(&p, "a string", other);
                            None
                        }
                    }
                })
                .collect(),
            Value::String(s) if py_strip(s).is_empty() => Vec::new(),
            Value::String(s) => s
                .split(',')
                .map(|part| (py_strip(part).to_string(), ptr.to_string()))
                .collect(),
            other => {
                self.type_error(ptr, "a list or a comma-separated string", other);
                return None;
            }
        };
        for (item, p) in &items {
            if item.is_empty() {
                self.problems
                    .push(Problem::new(p, format!("empty entry in {}", field.name())));
            } else if item.contains(',') {
                self.problems.push(
                    Problem::new(p, format!("'{item}' contains a comma")).hint(
                        "privacyIDEA stores lists comma-separated: give each item on its own",
                    ),
                );
            } else if item.starts_with(py_isspace) || item.ends_with(py_isspace) {
                self.problems.push(Problem::new(
                    p,
                    format!("'{item}' starts or ends with whitespace, which privacyIDEA strips"),
                ));
            } else if field == ListField::Client {
                if let Err(e) = check_client(item) {
                    self.problems.push(Problem::new(p, e));
                }
            }
        }
        let joined: Vec<String> = items.into_iter().map(|(i, _)| i).collect();
        let len = joined.join(", ").chars().count();
        if len > MAX_LIST {
            self.problems.push(Problem::new(
                ptr,
                format!(
                    "{} is {len} characters long when stored; the column holds {MAX_LIST}",
                    field.name()
                ),
            ));
        }
        (self.problems.len() == before).then_some(joined)
    }

    /// One condition: privacyIDEA's 5- or 6-tuple, or a mapping with named fields.
    fn condition(&mut self, ptr: &str, v: &Value) -> Option<StoredCondition> {
        let before = self.problems.len();
        let text = |this: &mut Parser, p: String, v: Option<&Value>, what: &str| match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) if what == "value" => Some(number_text(n)),
            Some(other) => {
                this.type_error(&p, "a string", other);
                None
            }
            None => {
                this.problems
                    .push(Problem::new(ptr, format!("the condition has no {what}")));
                None
            }
        };
        let (section, key, comparator, value, active, hmd) = match v {
            Value::Array(items) => {
                if !(5..=6).contains(&items.len()) {
                    self.problems.push(
                        Problem::new(
                            ptr,
                            format!("a condition has 5 or 6 elements, found {}", items.len()),
                        )
                        .hint("[section, key, comparator, value, active, handle_missing_data]"),
                    );
                    return None;
                }
                let at = |i: usize| format!("{ptr}/{i}");
                (
                    text(self, at(0), items.first(), "section"),
                    text(self, at(1), items.get(1), "key"),
                    text(self, at(2), items.get(2), "comparator"),
                    text(self, at(3), items.get(3), "value"),
                    match &items[4] {
                        Value::Bool(b) => Some(*b),
                        other => {
                            self.type_error(&at(4), "true or false", other);
                            None
                        }
                    },
                    match items.get(5) {
                        None | Some(Value::Null) => Some(None),
                        Some(Value::String(s)) => Some(Some(s.clone())),
                        Some(other) => {
                            self.type_error(&at(5), "a string", other);
                            None
                        }
                    },
                )
            }
            Value::Object(map) => {
                for k in map.keys() {
                    if !CONDITION_KEYS.contains(&k.as_str()) {
                        let mut pr = Problem::new(
                            format!("{ptr}/{}", escape_segment(k)),
                            format!("unknown condition field '{k}'"),
                        );
                        if let Some(s) = did_you_mean(k, CONDITION_KEYS.iter().copied()) {
                            pr = pr.hint(format!("did you mean '{s}'?"));
                        }
                        self.problems.push(pr);
                    }
                }
                let at = |k: &str| format!("{ptr}/{k}");
                (
                    text(self, at("section"), map.get("section"), "section"),
                    text(self, at("key"), map.get("key"), "key"),
                    text(self, at("comparator"), map.get("comparator"), "comparator"),
                    text(self, at("value"), map.get("value"), "value"),
                    match map.get("active") {
                        None => Some(true),
                        Some(Value::Bool(b)) => Some(*b),
                        Some(other) => {
                            self.type_error(&at("active"), "true or false", other);
                            None
                        }
                    },
                    match map.get("handle_missing_data") {
                        None | Some(Value::Null) => Some(None),
                        Some(Value::String(s)) => Some(Some(s.clone())),
                        Some(other) => {
                            self.type_error(&at("handle_missing_data"), "a string", other);
                            None
                        }
                    },
                )
            }
            other => {
                self.type_error(ptr, "a list or a mapping", other);
                return None;
            }
        };
        let (Some(section), Some(key), Some(comparator), Some(value), Some(active), Some(hmd)) =
            (section, key, comparator, value, active, hmd)
        else {
            return None;
        };
        let condition = StoredCondition {
            section,
            key,
            comparator,
            value,
            active,
            // privacyIDEA stores the default for a 5-tuple (and for None).
            handle_missing_data: Some(hmd.unwrap_or_else(|| DEFAULT_HANDLE_MISSING_DATA.into())),
        };
        self.check_condition(ptr, &condition);
        (self.problems.len() == before).then_some(condition)
    }

    /// privacyIDEA validates the parts of active conditions only (an inactive one may hold
    /// anything, so that it can be kept while being repaired); lengths always matter.
    fn check_condition(&mut self, ptr: &str, c: &StoredCondition) {
        let hmd = c.handle_missing_data.as_deref().unwrap_or_default();
        for (what, text, max) in [
            ("section", c.section.as_str(), MAX_CONDITION_FIELD),
            ("key", c.key.as_str(), MAX_CONDITION_FIELD),
            ("comparator", c.comparator.as_str(), MAX_CONDITION_FIELD),
            ("value", c.value.as_str(), MAX_CONDITION_VALUE),
            ("handle_missing_data", hmd, MAX_CONDITION_FIELD),
        ] {
            if text.chars().count() > max {
                self.problems.push(Problem::new(
                    ptr,
                    format!("the condition's {what} is longer than {max} characters"),
                ));
            }
        }
        if !c.active {
            return;
        }
        let mut one_of = |what: &str, v: &str, allowed: &[&str]| {
            if !allowed.contains(&v) {
                let mut pr = Problem::new(ptr, format!("unknown condition {what} '{v}'"));
                pr = match did_you_mean(v, allowed.iter().copied()) {
                    Some(s) => pr.hint(format!("did you mean '{s}'?")),
                    None => pr.hint(format!("one of: {}", allowed.join(", "))),
                };
                self.problems.push(pr);
            }
        };
        one_of("section", &c.section, CONDITION_SECTIONS);
        one_of("comparator", &c.comparator, COMPARATORS);
        one_of("handle_missing_data", hmd, HANDLE_MISSING_DATA);
        if c.key.is_empty() {
            self.problems
                .push(Problem::new(ptr, "the condition's key must not be empty"));
        }
        if c.value.is_empty() {
            self.problems
                .push(Problem::new(ptr, "the condition's value must not be empty"));
        }
    }
}

/// `key` or `key=value` from the list and string forms of `action`.
fn split_action(s: &str, ptr: String) -> (String, ActionValue, String) {
    match s.split_once('=') {
        Some((k, v)) => (k.to_string(), ActionValue::Text(v.to_string()), ptr),
        None => (s.to_string(), ActionValue::Set, ptr),
    }
}

/// Refuse what the action string cannot hold without changing it: a key with `=` or `,`,
/// whitespace privacyIDEA would strip, and a comma inside a value that is not escaped (it
/// would split the value into a second action).
fn check_action(key: &str, value: &ActionValue) -> Result<(), Problem> {
    if key.is_empty() {
        return Err(Problem::new("", "an action name must not be empty"));
    }
    if key.contains('=') || key.contains(',') {
        return Err(Problem::new(
            "",
            format!("action name '{key}' contains '=' or ','"),
        ));
    }
    if key.starts_with(py_isspace) || key.ends_with(py_isspace) {
        return Err(Problem::new(
            "",
            format!("action name '{key}' starts or ends with whitespace"),
        ));
    }
    if let ActionValue::Text(v) = value {
        if split_unescaped_commas(v).len() > 1 {
            return Err(Problem::new(
                "",
                format!("the value of action '{key}' contains a comma that is not escaped"),
            )
            .hint(
                "privacyIDEA separates actions with commas: write '\\,' for a comma inside a value",
            ));
        }
        if v.ends_with(py_isspace) {
            return Err(Problem::new(
                "",
                format!(
                    "the value of action '{key}' ends with whitespace, which privacyIDEA strips"
                ),
            ));
        }
    }
    Ok(())
}

/// A number as Python's `str()` writes it (privacyIDEA formats action values with `{0!s}`).
fn number_text(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        n.to_string()
    } else {
        crate::pytext::float_repr(n.as_f64().unwrap_or(0.0))
    }
}

/// The JSON type of a value, for messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<PolicyEntry, Vec<Problem>> {
        parse_entry(&v, true, &|p| format!("t.yaml{p}"))
    }

    #[test]
    fn privacyidea_export_entry() {
        let e = parse(json!({
            "name": "auth-otppin", "user_case_insensitive": false, "active": true,
            "scope": "authentication", "realm": ["realm1"], "adminrealm": [], "adminuser": [],
            "resolver": ["vecresolver"], "pinode": [], "check_all_resolvers": true, "user": [],
            "client": ["10.0.0.0/8", "192.168.1.1", "!10.0.0.5"], "time": "",
            "conditions": [["userinfo", "email", "matches", ".*@example\\.com", true, "condition_is_false"],
                           ["HTTP Request header", "User-Agent", "contains", "privacyidea-cp", false]],
            "priority": 3, "description": null, "user_agents": [],
            "action": {"otppin": "userstore", "challenge_text": "Please enter the OTP\\, then press Enter", "passthru": true}
        }))
        .unwrap();
        let p = e.resolve(None, Semantics::Declare).unwrap();
        assert_eq!(
            p.action.as_deref(),
            Some("otppin=userstore, challenge_text=Please enter the OTP\\, then press Enter, passthru")
        );
        assert_eq!(
            p.client.as_deref(),
            Some("10.0.0.0/8, 192.168.1.1, !10.0.0.5")
        );
        assert_eq!(
            p.conditions[1].handle_missing_data.as_deref(),
            Some("raise_error")
        );
        assert_eq!(p.check_all_resolvers, Some(true));
        assert_eq!(e.references.len(), 2);
        assert_eq!(e.references[1].at, "t.yaml/resolver/0");
    }

    #[test]
    fn friendly_forms() {
        let e = parse(json!({
            "name": "x", "scope": "webui", "realm": "realm1, realm2",
            "action": ["login_mode=userstore", "tokenwizard", "logout_time=300"],
            "conditions": [{"section": "userinfo", "key": "email", "comparator": "matches", "value": ".*"}]
        }))
        .unwrap();
        let p = e.resolve(None, Semantics::Declare).unwrap();
        assert_eq!(p.realm.as_deref(), Some("realm1, realm2"));
        assert_eq!(
            p.action.as_deref(),
            Some("login_mode=userstore, tokenwizard, logout_time=300")
        );
        assert!(p.conditions[0].active);
        let e = parse(json!({"name": "x", "scope": "admin", "action": {"max": 3}})).unwrap();
        assert_eq!(e.action.as_deref(), Some("max=3"));
    }

    #[test]
    fn every_problem_at_once() {
        let errs = parse(json!({
            "name": "x", "scope": "admn", "priorty": 3, "priority": 0, "active": "yes",
            "action": {"a": "b, c", "d": false}, "client": ["10.0.0.0/33"], "time": "Mon 8-9",
            "conditions": [["userinfo", "email", "matches"], ["nope", "k", "==", "v", true]],
            "realm": ["a,b"]
        }))
        .unwrap_err();
        let ptrs: Vec<&str> = errs.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/priorty",
                "/scope",
                "/action/d",
                "/action/a",
                "/client/0",
                "/realm/0",
                "/time",
                "/priority",
                "/active",
                "/conditions/0",
                "/conditions/1"
            ]
        );
        assert_eq!(errs[0].hint.as_deref(), Some("did you mean 'priority'?"));
    }

    #[test]
    fn upsert_keeps_what_is_not_given() {
        let base = parse(
            json!({"name": "x", "scope": "admin", "realm": ["r"], "priority": 4,
            "description": "d", "active": false}),
        )
        .unwrap()
        .resolve(None, Semantics::Declare)
        .unwrap();
        let e = parse_entry(&json!({"name": "x", "action": "enable"}), false, &|_| {
            String::new()
        })
        .unwrap();
        let up = e.resolve(Some(&base), Semantics::Upsert).unwrap();
        assert_eq!(
            (up.priority, up.realm.as_deref(), up.active),
            (4, Some("r"), Some(false))
        );
        assert_eq!(up.description.as_deref(), Some("d"));
        assert_eq!(up.action.as_deref(), Some("enable"));
        let declared = e.resolve(Some(&base), Semantics::Declare).unwrap();
        assert_eq!(
            (declared.priority, declared.realm.as_deref()),
            (1, Some(""))
        );
        assert!(e.resolve(None, Semantics::Upsert).is_err());
    }
}
