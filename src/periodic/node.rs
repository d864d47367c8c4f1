//! Which privacyIDEA node this is. The name schedules periodic tasks (`--node`, else
//! `PI_NODE`, else `PI_AUDIT_SERVERNAME`, else `localnode`); the UUID selects the resolvers of
//! node-specific realms (`PI_NODE_UUID`, else the UUID file, else `/etc/machine-id`), as
//! privacyIDEA's `_setup_node_configuration` resolves them (reference §0.2). Unlike
//! privacyIDEA, nothing is written: without any of them there is no UUID, which matches no
//! node-specific resolver, as privacyIDEA's random UUID would not.

use std::path::{Path, PathBuf};

use crate::settings::NodeSettings;

/// The node name when nothing names one.
pub const DEFAULT_NODE: &str = "localnode";
/// privacyIDEA's default `PI_UUID_FILE`.
pub const DEFAULT_UUID_FILE: &str = "/etc/privacyidea/uuid.txt";
const MACHINE_ID: &str = "/etc/machine-id";

/// The node name: `explicit` (`--node`), else the configuration's.
pub fn node_name(explicit: Option<&str>, settings: &NodeSettings) -> String {
    explicit
        .map(str::to_string)
        .or_else(|| settings.pi_node.clone())
        .or_else(|| settings.audit_servername.clone())
        .unwrap_or_else(|| DEFAULT_NODE.to_string())
}

/// The node's UUID, read from the configuration, the UUID file or the machine id.
pub fn node_uuid(settings: &NodeSettings) -> Option<String> {
    let uuid_file = settings
        .uuid_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_UUID_FILE));
    node_uuid_from(settings, &uuid_file, Path::new(MACHINE_ID))
}

/// [`node_uuid`] with the files given (tests).
pub fn node_uuid_from(
    settings: &NodeSettings,
    uuid_file: &Path,
    machine_id: &Path,
) -> Option<String> {
    if let Some(u) = settings.node_uuid.as_deref().and_then(canonical_uuid) {
        return Some(u);
    }
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    read(uuid_file)
        .as_deref()
        .and_then(canonical_uuid)
        .or_else(|| read(machine_id).as_deref().and_then(canonical_uuid))
}

/// Python's `str(uuid.UUID(text))`: 32 hex digits (dashes, braces and a `urn:uuid:` prefix
/// allowed), lower case, dashed 8-4-4-4-12.
fn canonical_uuid(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t.strip_prefix("urn:uuid:").unwrap_or(t);
    let t = t.trim_start_matches('{').trim_end_matches('}');
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_name_precedence() {
        let mut s = NodeSettings::default();
        assert_eq!(node_name(None, &s), "localnode");
        s.audit_servername = Some("audit".into());
        assert_eq!(node_name(None, &s), "audit");
        s.pi_node = Some("pinode".into());
        assert_eq!(node_name(None, &s), "pinode");
        assert_eq!(node_name(Some("cli"), &s), "cli");
    }

    #[test]
    fn uuid_from_config_file_or_machine_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("uuid.txt");
        let mid = dir.path().join("machine-id");
        let mut s = NodeSettings::default();
        assert_eq!(node_uuid_from(&s, &file, &mid), None);
        std::fs::write(&mid, "0123456789ABCDEF0123456789abcdef\n").unwrap();
        assert_eq!(
            node_uuid_from(&s, &file, &mid).as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        std::fs::write(&file, "8e4f3c1a-0000-4000-8000-000000000001\n").unwrap();
        assert_eq!(
            node_uuid_from(&s, &file, &mid).as_deref(),
            Some("8e4f3c1a-0000-4000-8000-000000000001")
        );
        s.node_uuid = Some("{11111111-2222-3333-4444-555555555555}".into());
        assert_eq!(
            node_uuid_from(&s, &file, &mid).as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
    }
}
