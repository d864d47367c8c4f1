//! privacyIDEA's policy export (`pi-manage config export -t policy`): the policies sorted by
//! priority (stably, so ties keep id order), each as `Policy.get()` shows it, followed by
//! `privacyIDEA_version`, serialised exactly as Python's `json.dumps(indent=2)` or PyYAML's
//! `safe_dump` do, plus the newline privacyIDEA appends.

use serde_json::{Map, Value};

use super::document::PRIVACYIDEA_VERSION;
use super::model::StoredPolicy;
use super::{pyjson, pyyaml};

/// The two formats of `config export -f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Yaml,
}

/// Policies in privacyIDEA's list order: by priority, ties in the given (id) order.
pub fn by_priority<'a>(
    policies: impl IntoIterator<Item = &'a StoredPolicy>,
) -> Vec<&'a StoredPolicy> {
    let mut v: Vec<&StoredPolicy> = policies.into_iter().collect();
    v.sort_by_key(|p| p.priority); // stable
    v
}

/// The export document: `{"policy": [...], "privacyIDEA_version": "3.14"}`. `name` keeps
/// only the policy of that name (`-n`).
pub fn export_document(policies: &[StoredPolicy], name: Option<&str>) -> Value {
    let list: Vec<Value> =
        by_priority(policies.iter().filter(|p| name.is_none_or(|n| p.name == n)))
            .into_iter()
            .map(StoredPolicy::to_export)
            .collect();
    let mut doc = Map::new();
    doc.insert("policy".into(), Value::Array(list));
    doc.insert("privacyIDEA_version".into(), PRIVACYIDEA_VERSION.into());
    Value::Object(doc)
}

/// The export text, byte for byte as privacyIDEA writes it.
pub fn render(doc: &Value, format: ExportFormat) -> String {
    let mut text = match format {
        ExportFormat::Json => pyjson::dumps(doc),
        ExportFormat::Yaml => pyyaml::safe_dump(doc),
    };
    text.push('\n');
    text
}
