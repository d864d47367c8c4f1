//! What applying a set of policies would change — policies added, updated (field by field)
//! and deleted — and the readable diff the `policies` task prints, before (dry run) or while
//! it writes.

use std::collections::HashSet;

use super::model::{action_pairs, split_list, ActionValue, StoredPolicy, LIST_FIELDS};
use super::rows::ExistingPolicy;

/// One change to the stored policies.
#[derive(Debug, Clone)]
pub enum Change {
    Add(StoredPolicy),
    Update {
        /// Boxed: a change is mostly one policy, this variant is two.
        before: Box<ExistingPolicy>,
        after: StoredPolicy,
    },
    Delete(ExistingPolicy),
}

impl Change {
    pub fn name(&self) -> &str {
        match self {
            Change::Add(p) => &p.name,
            Change::Update { after, .. } => &after.name,
            Change::Delete(e) => &e.policy.name,
        }
    }
}

/// Everything a run would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Names of the given policies that are already stored exactly so.
    pub unchanged: Vec<String>,
}

impl Plan {
    /// Compare `desired` (in input order) with what is stored. With `prune`, stored policies
    /// that are not desired are deleted (in id order).
    pub fn new(existing: &[ExistingPolicy], desired: Vec<StoredPolicy>, prune: bool) -> Plan {
        let mut plan = Plan::default();
        let wanted: HashSet<String> = desired.iter().map(|p| p.name.clone()).collect();
        for after in desired {
            match existing.iter().find(|e| e.policy.name == after.name) {
                None => plan.changes.push(Change::Add(after)),
                Some(e) if e.policy == after => plan.unchanged.push(after.name),
                Some(e) => plan.changes.push(Change::Update {
                    before: Box::new(e.clone()),
                    after,
                }),
            }
        }
        if prune {
            for e in existing.iter().filter(|e| !wanted.contains(&e.policy.name)) {
                plan.changes.push(Change::Delete(e.clone()));
            }
        }
        plan
    }

    pub fn count(&self, kind: fn(&Change) -> bool) -> usize {
        self.changes.iter().filter(|c| kind(c)).count()
    }

    pub fn added(&self) -> usize {
        self.count(|c| matches!(c, Change::Add(_)))
    }

    pub fn updated(&self) -> usize {
        self.count(|c| matches!(c, Change::Update { .. }))
    }

    pub fn deleted(&self) -> usize {
        self.count(|c| matches!(c, Change::Delete(_)))
    }

    /// The diff, one line per fact.
    pub fn render(&self) -> Vec<String> {
        self.changes.iter().flat_map(render_change).collect()
    }
}

const INDENT: &str = "    ";

/// The diff of one change: a header (`+`, `~`, `-` and the name) and indented details.
pub fn render_change(change: &Change) -> Vec<String> {
    match change {
        Change::Add(p) => {
            let mut lines = vec![format!(
                "+ {} ({}, priority {})",
                p.name, p.scope, p.priority
            )];
            lines.extend(describe_new(p).into_iter().map(|l| format!("{INDENT}{l}")));
            lines
        }
        Change::Update { before, after } => {
            let mut lines = vec![format!("~ {}", after.name)];
            lines.extend(
                field_changes(&before.policy, after)
                    .into_iter()
                    .map(|l| format!("{INDENT}{l}")),
            );
            lines
        }
        Change::Delete(e) => vec![format!(
            "- {} ({}, priority {})",
            e.policy.name, e.policy.scope, e.policy.priority
        )],
    }
}

fn show(v: Option<&str>) -> String {
    match v {
        None => "(null)".into(),
        Some("") => "(none)".into(),
        Some(s) => s.to_string(),
    }
}

fn show_flag(v: Option<bool>) -> String {
    v.map(|b| b.to_string()).unwrap_or_else(|| "(null)".into())
}

fn show_description(v: Option<&str>) -> String {
    match v {
        None => "(none)".into(),
        Some(s) => serde_json::Value::String(s.to_string()).to_string(),
    }
}

fn show_action(k: &str, v: &ActionValue) -> String {
    match v {
        ActionValue::Set => k.to_string(),
        ActionValue::Text(t) => format!("{k}={t}"),
    }
}

/// The facts of a new policy that differ from privacyIDEA's defaults.
fn describe_new(p: &StoredPolicy) -> Vec<String> {
    let defaults = StoredPolicy::new(&p.name, &p.scope);
    let mut lines = Vec::new();
    if p.action.as_deref().is_some_and(|a| !a.is_empty()) {
        lines.push(format!("action: {}", show(p.action.as_deref())));
    }
    for f in LIST_FIELDS {
        if p.list(f) != defaults.list(f) {
            lines.push(format!("{}: {}", f.name(), show(p.list(f))));
        }
    }
    if p.time != defaults.time {
        lines.push(format!("time: {}", show(p.time.as_deref())));
    }
    for (name, v, d) in [
        ("active", p.active, defaults.active),
        (
            "check_all_resolvers",
            p.check_all_resolvers,
            defaults.check_all_resolvers,
        ),
        (
            "user_case_insensitive",
            p.user_case_insensitive,
            defaults.user_case_insensitive,
        ),
    ] {
        if v != d {
            lines.push(format!("{name}: {}", show_flag(v)));
        }
    }
    for c in &p.conditions {
        lines.push(format!("condition: {}", c.describe()));
    }
    if p.description.is_some() {
        lines.push(format!(
            "description: {}",
            show_description(p.description.as_deref())
        ));
    }
    lines
}

/// Field-by-field differences of an updated policy.
fn field_changes(a: &StoredPolicy, b: &StoredPolicy) -> Vec<String> {
    let mut lines = Vec::new();
    if a.scope != b.scope {
        lines.push(format!("scope: {} -> {}", a.scope, b.scope));
    }
    if a.priority != b.priority {
        lines.push(format!("priority: {} -> {}", a.priority, b.priority));
    }
    for (name, x, y) in [
        ("active", a.active, b.active),
        (
            "check_all_resolvers",
            a.check_all_resolvers,
            b.check_all_resolvers,
        ),
        (
            "user_case_insensitive",
            a.user_case_insensitive,
            b.user_case_insensitive,
        ),
    ] {
        if x != y {
            lines.push(format!("{name}: {} -> {}", show_flag(x), show_flag(y)));
        }
    }
    if a.action != b.action {
        lines.extend(action_changes(a.action.as_deref(), b.action.as_deref()));
    }
    for f in LIST_FIELDS {
        if a.list(f) != b.list(f) {
            lines.extend(list_changes(f.name(), a.list(f), b.list(f)));
        }
    }
    if a.time != b.time {
        lines.push(format!(
            "time: {} -> {}",
            show(a.time.as_deref()),
            show(b.time.as_deref())
        ));
    }
    if a.conditions != b.conditions {
        for c in a.conditions.iter().filter(|c| !b.conditions.contains(c)) {
            lines.push(format!("condition - {}", c.describe()));
        }
        for c in b.conditions.iter().filter(|c| !a.conditions.contains(c)) {
            lines.push(format!("condition + {}", c.describe()));
        }
        if a.conditions.iter().all(|c| b.conditions.contains(c))
            && b.conditions.iter().all(|c| a.conditions.contains(c))
        {
            lines.push("conditions: same conditions, new order".into());
        }
    }
    if a.description != b.description {
        lines.push(format!(
            "description: {} -> {}",
            show_description(a.description.as_deref()),
            show_description(b.description.as_deref())
        ));
    }
    lines
}

/// Item changes of a list field: `- item` / `+ item`; the whole value when only the order
/// or the stored spelling changed.
fn list_changes(name: &str, a: Option<&str>, b: Option<&str>) -> Vec<String> {
    let (x, y) = (split_list(a), split_list(b));
    let removed: Vec<&String> = x.iter().filter(|i| !y.contains(i)).collect();
    let added: Vec<&String> = y.iter().filter(|i| !x.contains(i)).collect();
    if removed.is_empty() && added.is_empty() {
        return vec![format!("{name}: {} -> {}", show(a), show(b))];
    }
    removed
        .iter()
        .map(|i| format!("{name} - {i}"))
        .chain(added.iter().map(|i| format!("{name} + {i}")))
        .collect()
}

/// Action changes: `- key`, `+ key=value`, `~ key: old -> new`.
fn action_changes(a: Option<&str>, b: Option<&str>) -> Vec<String> {
    let (x, y) = (action_pairs(a), action_pairs(b));
    let mut lines = Vec::new();
    for (k, v) in &x {
        match y.iter().find(|(k2, _)| k2 == k) {
            None => lines.push(format!("action - {}", show_action(k, v))),
            Some((_, v2)) if v2 != v => lines.push(format!(
                "action ~ {k}: {} -> {}",
                match v {
                    ActionValue::Set => "(set)".to_string(),
                    ActionValue::Text(t) => t.clone(),
                },
                match v2 {
                    ActionValue::Set => "(set)".to_string(),
                    ActionValue::Text(t) => t.clone(),
                }
            )),
            Some(_) => {}
        }
    }
    for (k, v) in &y {
        if !x.iter().any(|(k2, _)| k2 == k) {
            lines.push(format!("action + {}", show_action(k, v)));
        }
    }
    if lines.is_empty() {
        lines.push(format!("action: {} -> {}", show(a), show(b)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::StoredCondition;

    fn existing(p: StoredPolicy, id: i64) -> ExistingPolicy {
        ExistingPolicy {
            id,
            description_id: Some(id),
            policy: p,
        }
    }

    #[test]
    fn added_changed_removed_and_unchanged() {
        let mut web = StoredPolicy::new("webui-login", "webui");
        web.action = Some("login_mode=userstore, logout_time=300, tokenwizard".into());
        web.user_agents = Some("privacyidea-cp, PAM".into());
        web.priority = 5;
        web.description = Some("WebUI login".into());
        let same = StoredPolicy::new("same", "admin");
        let gone = StoredPolicy::new("gone", "user");
        let stored = vec![
            existing(web.clone(), 1),
            existing(same.clone(), 2),
            existing(gone, 3),
        ];

        let mut web2 = web.clone();
        web2.action =
            Some("login_mode=userstore, logout_time=600, tokenwizard, hide_welcome_info".into());
        web2.user_agents = Some("privacyidea-cp".into());
        web2.priority = 4;
        web2.description = Some("WebUI login (changed)".into());
        let mut new = StoredPolicy::new("admin-readonly", "admin");
        new.action = Some("tokenlist, auditlog_age=30d".into());
        new.client = Some("127.0.0.1".into());
        new.priority = 7;
        new.conditions = vec![StoredCondition {
            section: "tokeninfo".into(),
            key: "count_auth".into(),
            comparator: "<".into(),
            value: "100".into(),
            active: true,
            handle_missing_data: Some("condition_is_true".into()),
        }];

        let plan = Plan::new(&stored, vec![web2, same, new.clone()], true);
        assert_eq!((plan.added(), plan.updated(), plan.deleted()), (1, 1, 1));
        assert_eq!(plan.unchanged, ["same"]);
        assert_eq!(
            plan.render(),
            [
                "~ webui-login",
                "    priority: 5 -> 4",
                "    action ~ logout_time: 300 -> 600",
                "    action + hide_welcome_info",
                "    user_agents - PAM",
                "    description: \"WebUI login\" -> \"WebUI login (changed)\"",
                "+ admin-readonly (admin, priority 7)",
                "    action: tokenlist, auditlog_age=30d",
                "    client: 127.0.0.1",
                "    condition: tokeninfo 'count_auth' < '100', if data is missing: condition_is_true",
                "- gone (user, priority 1)",
            ]
        );
        let merge = Plan::new(&stored, vec![new], false);
        assert_eq!((merge.added(), merge.deleted()), (1, 0));
    }
}
