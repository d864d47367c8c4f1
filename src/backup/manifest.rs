//! The manifest of a pi-manage archive: what it holds and how to check it.
//!
//! It travels as the pax global header record `PIMANAGE.manifest` at the start of the archive
//! (compact JSON), so it is read before any member and privacyIDEA's restore, Python's
//! `tarfile` and GNU tar all skip it. Read it by hand with
//! `python3 -c 'import tarfile,sys; print(tarfile.open(sys.argv[1]).pax_headers["PIMANAGE.manifest"])' FILE`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::BackupError;

/// The pax record key that carries the manifest.
pub const PAX_KEY: &str = "PIMANAGE.manifest";
/// The manifest format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Everything the archive declares about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of this manifest format.
    pub format_version: u32,
    /// `pi-manage` and its version.
    pub tool: String,
    pub tool_version: String,
    /// When the backup started, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_utc: String,
    /// The same instant in the server's local time (the archive name uses it).
    pub created_local: String,
    pub database: DatabaseInfo,
    /// The directories archived (absolute paths).
    pub config_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_dir: Option<String>,
    /// Whether the encryption key (`PI_ENCFILE`, or a passphrase-encrypted copy) is inside.
    pub contains_enckey: bool,
    /// The members that are encryption keys.
    #[serde(default)]
    pub enckey_members: Vec<String>,
    /// Every member in archive order.
    pub members: Vec<ManifestMember>,
}

/// The database dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// `sqlite`, `mysql` or `postgresql`.
    pub kind: String,
    /// The dump member's name.
    pub dump_member: String,
    /// privacyIDEA's schema revision (`alembic_version`), if the database has one.
    #[serde(default)]
    pub alembic_revision: Option<String>,
    /// Rows per table at the time of the dump.
    pub tables: BTreeMap<String, u64>,
    /// `snapshot`: the counts come from the dump's own snapshot (SQLite, PostgreSQL);
    /// `before_dump`: from a consistent snapshot taken just before the dump tool's own
    /// (MySQL/MariaDB, which cannot share snapshots), so a busy server may differ slightly.
    pub row_counts: String,
}

/// One member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestMember {
    pub name: String,
    /// `file` or `dir`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub size: u64,
    /// Hex SHA-256 of a file's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The file mode as octal text (`0640`).
    pub mode: String,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("manifest serialises")
    }

    /// Parse a manifest; an unknown (newer) format version is refused rather than half-read.
    pub fn from_json(text: &str) -> Result<Manifest, BackupError> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let v: Version = serde_json::from_str(text).map_err(|e| {
            BackupError::invalid(format!("the archive's manifest is unreadable: {e}"))
        })?;
        if v.format_version != FORMAT_VERSION {
            return Err(BackupError::invalid(format!(
                "the archive's manifest has format version {}, this pi-manage reads version {FORMAT_VERSION}; use a newer pi-manage",
                v.format_version
            )));
        }
        serde_json::from_str(text)
            .map_err(|e| BackupError::invalid(format!("the archive's manifest is unreadable: {e}")))
    }

    /// The manifest entry of a member.
    pub fn member(&self, name: &str) -> Option<&ManifestMember> {
        self.members.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            tool: "pi-manage".into(),
            tool_version: "0.1.0".into(),
            created_utc: "2026-11-22T12:00:05Z".into(),
            created_local: "2026-11-22T13:00:05+01:00".into(),
            database: DatabaseInfo {
                kind: "sqlite".into(),
                dump_member: "var/backup/dbdump-20261122-1300.sqlite".into(),
                alembic_revision: Some("b7c1e4d2a9f3".into()),
                tables: [("admin".to_string(), 2u64)].into_iter().collect(),
                row_counts: "snapshot".into(),
            },
            config_dir: "/etc/privacyidea".into(),
            radius_dir: None,
            contains_enckey: false,
            enckey_members: vec![],
            members: vec![ManifestMember {
                name: "etc/privacyidea".into(),
                kind: "dir".into(),
                size: 0,
                sha256: None,
                mode: "0755".into(),
            }],
        }
    }

    #[test]
    fn round_trip_and_version_check() {
        let m = sample();
        assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
        let newer = m
            .to_json()
            .replace("\"format_version\":1", "\"format_version\":2");
        let e = Manifest::from_json(&newer).unwrap_err();
        assert!(e.to_string().contains("format version 2"), "{e}");
        assert!(Manifest::from_json("{").is_err());
    }
}
