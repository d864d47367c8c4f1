//! A privacyIDEA policy as its three tables store it ([`StoredPolicy`]), and the two string
//! encodings privacyIDEA uses inside those rows: comma-separated lists (`"realm1, realm2"`)
//! and the action string (`"otppin=userstore, passthru"`, with `\,` escaping a comma).
//!
//! Comparisons (is a policy unchanged?) are made on this stored form, so that applying the
//! same input twice writes nothing the second time.

use serde_json::{Map, Value};

/// Every scope privacyIDEA 3.14 accepts (`policy.scope`).
pub const SCOPES: &[&str] = &[
    "admin",
    "user",
    "authentication",
    "authorization",
    "enrollment",
    "webui",
    "register",
    "container",
    "token",
    "hardening",
    "conditional_access",
];

/// The list columns of `policy`, in the order privacyIDEA's export writes them.
pub const LIST_FIELDS: [ListField; 8] = [
    ListField::Realm,
    ListField::Adminrealm,
    ListField::Adminuser,
    ListField::Resolver,
    ListField::Pinode,
    ListField::User,
    ListField::Client,
    ListField::UserAgents,
];

/// One comma-separated list column of `policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListField {
    Realm,
    Adminrealm,
    Adminuser,
    Resolver,
    Pinode,
    User,
    Client,
    UserAgents,
}

impl ListField {
    /// The column name, which is also the key in privacyIDEA's export.
    pub fn name(self) -> &'static str {
        match self {
            ListField::Realm => "realm",
            ListField::Adminrealm => "adminrealm",
            ListField::Adminuser => "adminuser",
            ListField::Resolver => "resolver",
            ListField::Pinode => "pinode",
            ListField::User => "user",
            ListField::Client => "client",
            ListField::UserAgents => "user_agents",
        }
    }

    pub fn from_name(name: &str) -> Option<ListField> {
        LIST_FIELDS.into_iter().find(|f| f.name() == name)
    }
}

/// The default of `policycondition.handle_missing_data` (privacyIDEA stores it for 5-tuples).
pub const DEFAULT_HANDLE_MISSING_DATA: &str = "raise_error";

/// One `policycondition` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCondition {
    pub section: String,
    pub key: String,
    pub comparator: String,
    pub value: String,
    pub active: bool,
    pub handle_missing_data: Option<String>,
}

impl StoredCondition {
    /// privacyIDEA's export form: `[section, key, comparator, value, active, handle_missing_data]`.
    pub fn to_export(&self) -> Value {
        Value::Array(vec![
            self.section.clone().into(),
            self.key.clone().into(),
            self.comparator.clone().into(),
            self.value.clone().into(),
            self.active.into(),
            self.handle_missing_data
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        ])
    }

    /// One line for diffs and reports.
    pub fn describe(&self) -> String {
        format!(
            "{} '{}' {} '{}'{}, if data is missing: {}",
            self.section,
            self.key,
            self.comparator,
            self.value,
            if self.active { "" } else { " (inactive)" },
            self.handle_missing_data.as_deref().unwrap_or("(none)")
        )
    }
}

/// A policy with everything privacyIDEA keeps about it: its `policy` row (strings exactly as
/// stored; `None` is SQL NULL), its conditions in id order, and its description text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub name: String,
    pub scope: String,
    pub action: Option<String>,
    pub realm: Option<String>,
    pub adminrealm: Option<String>,
    pub adminuser: Option<String>,
    pub resolver: Option<String>,
    pub pinode: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    pub user_agents: Option<String>,
    pub time: Option<String>,
    pub priority: i64,
    pub active: Option<bool>,
    pub check_all_resolvers: Option<bool>,
    pub user_case_insensitive: Option<bool>,
    pub conditions: Vec<StoredCondition>,
    /// The text of the policy's `description` row (NULL and "no row" read the same).
    pub description: Option<String>,
}

impl StoredPolicy {
    /// A new policy with privacyIDEA's defaults (active, priority 1, everything else empty).
    pub fn new(name: &str, scope: &str) -> StoredPolicy {
        StoredPolicy {
            name: name.to_string(),
            scope: scope.to_string(),
            action: Some(String::new()),
            realm: Some(String::new()),
            adminrealm: Some(String::new()),
            adminuser: Some(String::new()),
            resolver: Some(String::new()),
            pinode: Some(String::new()),
            user: Some(String::new()),
            client: Some(String::new()),
            user_agents: Some(String::new()),
            time: Some(String::new()),
            priority: 1,
            active: Some(true),
            check_all_resolvers: Some(false),
            user_case_insensitive: Some(false),
            conditions: Vec::new(),
            description: None,
        }
    }

    pub fn list(&self, field: ListField) -> Option<&str> {
        match field {
            ListField::Realm => self.realm.as_deref(),
            ListField::Adminrealm => self.adminrealm.as_deref(),
            ListField::Adminuser => self.adminuser.as_deref(),
            ListField::Resolver => self.resolver.as_deref(),
            ListField::Pinode => self.pinode.as_deref(),
            ListField::User => self.user.as_deref(),
            ListField::Client => self.client.as_deref(),
            ListField::UserAgents => self.user_agents.as_deref(),
        }
    }

    pub fn list_mut(&mut self, field: ListField) -> &mut Option<String> {
        match field {
            ListField::Realm => &mut self.realm,
            ListField::Adminrealm => &mut self.adminrealm,
            ListField::Adminuser => &mut self.adminuser,
            ListField::Resolver => &mut self.resolver,
            ListField::Pinode => &mut self.pinode,
            ListField::User => &mut self.user,
            ListField::Client => &mut self.client,
            ListField::UserAgents => &mut self.user_agents,
        }
    }

    /// The policy as privacyIDEA's `Policy.get()` (and so its export) shows it: same keys, same
    /// order, lists split, the action string parsed into a dictionary.
    pub fn to_export(&self) -> Value {
        let mut m = Map::new();
        let b = |v: Option<bool>| v.map(Value::Bool).unwrap_or(Value::Null);
        let list = |f: ListField| Value::from(split_list(self.list(f)));
        m.insert("name".into(), self.name.clone().into());
        m.insert(
            "user_case_insensitive".into(),
            b(self.user_case_insensitive),
        );
        m.insert("active".into(), b(self.active));
        m.insert("scope".into(), self.scope.clone().into());
        for f in [
            ListField::Realm,
            ListField::Adminrealm,
            ListField::Adminuser,
            ListField::Resolver,
            ListField::Pinode,
        ] {
            m.insert(f.name().into(), list(f));
        }
        m.insert("check_all_resolvers".into(), b(self.check_all_resolvers));
        m.insert("user".into(), list(ListField::User));
        m.insert("client".into(), list(ListField::Client));
        m.insert(
            "time".into(),
            self.time.clone().map(Value::String).unwrap_or(Value::Null),
        );
        m.insert(
            "conditions".into(),
            Value::Array(
                self.conditions
                    .iter()
                    .map(StoredCondition::to_export)
                    .collect(),
            ),
        );
        m.insert("priority".into(), self.priority.into());
        m.insert(
            "description".into(),
            self.description
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        m.insert("user_agents".into(), list(ListField::UserAgents));
        m.insert(
            "action".into(),
            Value::Object(parse_actions(self.action.as_deref().unwrap_or(""))),
        );
        Value::Object(m)
    }
}

/// Python's `str.isspace()`, which `str.strip()` uses: Unicode whitespace plus the
/// information separators U+001C..U+001F.
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// A list column as privacyIDEA reads it: split on `,`, each part stripped; `""` (and NULL)
/// give an empty list.
pub fn split_list(stored: Option<&str>) -> Vec<String> {
    let s = stored.unwrap_or("");
    let parts: Vec<String> = s.split(',').map(|p| py_strip(p).to_string()).collect();
    if parts.len() == 1 && parts[0].is_empty() {
        Vec::new()
    } else {
        parts
    }
}

/// A list column as privacyIDEA writes it: the items joined with `", "`.
pub fn join_list(items: &[String]) -> String {
    items.join(", ")
}

/// One action: a bare key (`true`) or `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionValue {
    Set,
    Text(String),
}

/// The action string as privacyIDEA writes it from a dictionary: `k=v, k2` (a `True` value
/// is the bare key), in the given order.
pub fn encode_actions(items: &[(String, ActionValue)]) -> String {
    items
        .iter()
        .map(|(k, v)| match v {
            ActionValue::Set => k.clone(),
            ActionValue::Text(t) => format!("{k}={t}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Split the action string on commas that are not escaped as `\,` (privacyIDEA's
/// `re.split(r'(?<!\\),', …)`).
pub fn split_unescaped_commas(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut prev = None;
    for (i, c) in s.char_indices() {
        if c == ',' && prev != Some('\\') {
            parts.push(&s[start..i]);
            start = i + 1;
        }
        prev = Some(c);
    }
    parts.push(&s[start..]);
    parts
}

/// The action string parsed as privacyIDEA's `Policy.get()` does: split on unescaped commas,
/// strip each part, split it on the first `=`; a part without `=` is `true`. A later
/// duplicate key replaces the value but keeps the first key's place (a Python dict).
/// Note that `""` gives `{"": true}`, exactly as privacyIDEA exports an empty action.
pub fn parse_actions(stored: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for part in split_unescaped_commas(stored) {
        let part = py_strip(part);
        match part.split_once('=') {
            Some((k, v)) => m.insert(k.to_string(), Value::String(v.to_string())),
            None => m.insert(part.to_string(), Value::Bool(true)),
        };
    }
    m
}

/// The action string as ordered `(key, value)` pairs (for diffs).
pub fn action_pairs(stored: Option<&str>) -> Vec<(String, ActionValue)> {
    parse_actions(stored.unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => ActionValue::Text(s),
                _ => ActionValue::Set,
            };
            (k, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_and_join_like_privacyidea() {
        assert_eq!(split_list(Some("realm1, realm2")), ["realm1", "realm2"]);
        assert_eq!(split_list(Some("a,b ,\u{1f}c")), ["a", "b", "c"]);
        assert!(split_list(Some("")).is_empty());
        assert!(split_list(None).is_empty());
        assert_eq!(split_list(Some("a, ")), ["a", ""]);
        assert_eq!(join_list(&["a".into(), "b".into()]), "a, b");
    }

    #[test]
    fn actions_parse_like_privacyidea() {
        let m = parse_actions(
            "otppin=userstore, challenge_text=Please enter the OTP\\, then press Enter, passthru",
        );
        assert_eq!(
            Value::Object(m).to_string(),
            r#"{"otppin":"userstore","challenge_text":"Please enter the OTP\\, then press Enter","passthru":true}"#
        );
        assert_eq!(
            Value::Object(parse_actions("a=1, b, a=2, c=x=y")).to_string(),
            r#"{"a":"2","b":true,"c":"x=y"}"#
        );
        assert_eq!(Value::Object(parse_actions("")).to_string(), r#"{"":true}"#);
    }

    #[test]
    fn actions_encode_like_set_policy() {
        let items = vec![
            ("tokenlist".to_string(), ActionValue::Set),
            ("auditlog_age".to_string(), ActionValue::Text("30d".into())),
        ];
        assert_eq!(encode_actions(&items), "tokenlist, auditlog_age=30d");
    }
}
