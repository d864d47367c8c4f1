//! Audit row signatures (`lib/auditmodules/sqlaudit.py`, `lib/crypto.py:Sign`;
//! `reference/schema.md` §11).
//!
//! privacyIDEA signs, for every audit row, a string built from the **stored** column values
//! ([`signed_string`], `Audit._log_to_string`) with RSA-PSS (SHA-256, MGF1-SHA-256, maximum
//! salt length) and stores `"rsa_sha256_pss:" + hex(signature)`.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pss, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use super::CryptoError;
use crate::pytext::{datetime_str, timedelta_str};

const SIGNATURE_PREFIX: &str = "rsa_sha256_pss";
/// Key sizes we generate and accept: privacyIDEA's `signature` column holds 1100 characters,
/// enough for RSA-4096 (1039).
const MIN_BITS: usize = 1024;
const MAX_BITS: usize = 4096;

/// The columns the signed string needs, already read from the database (text as stored;
/// dates as `NaiveDateTime`; duration as `TimeDelta`; success as `i64`; `None` for NULL).
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub id: i64,
    pub date: Option<NaiveDateTime>,
    pub action: Option<String>,
    pub success: Option<i64>,
    pub serial: Option<String>,
    pub token_type: Option<String>,
    pub user: Option<String>,
    pub realm: Option<String>,
    pub administrator: Option<String>,
    pub action_detail: Option<String>,
    pub info: Option<String>,
    pub privacyidea_server: Option<String>,
    pub client: Option<String>,
    pub loglevel: Option<String>,
    pub clearance_level: Option<String>,
    pub startdate: Option<NaiveDateTime>,
    pub duration: Option<TimeDelta>,
    pub container_serial: Option<String>,
    pub container_type: Option<String>,
}

/// Exactly privacyIDEA's `Audit._log_to_string`:
/// `id=…,date=…,action=…,succ=…,serial=…,t=…,u=…,r=…,adm=…,ad=…,i=…,ps=…,c=…,l=…,cl=…`, then
/// `,<startdate>` if not NULL, `,<duration>` if not NULL and not zero, `,c_serial=…` and
/// `,ct=…` if not NULL and not empty. Values use Python's `str()`: NULL is `None`, datetimes
/// drop a zero fraction, durations are `H:MM:SS[.ffffff]` with an optional `N day(s), `.
pub fn signed_string(r: &AuditRecord) -> String {
    let mut s = format!(
        "id={},date={},action={},succ={},serial={},t={},u={},r={},adm={},ad={},i={},ps={},c={},l={},cl={}",
        r.id,
        r.date.as_ref().map_or_else(|| "None".to_owned(), datetime_str),
        py_str(&r.action),
        r.success.map_or_else(|| "None".to_owned(), |v| v.to_string()),
        py_str(&r.serial),
        py_str(&r.token_type),
        py_str(&r.user),
        py_str(&r.realm),
        py_str(&r.administrator),
        py_str(&r.action_detail),
        py_str(&r.info),
        py_str(&r.privacyidea_server),
        py_str(&r.client),
        py_str(&r.loglevel),
        py_str(&r.clearance_level),
    );
    if let Some(start) = &r.startdate {
        s.push(',');
        s.push_str(&datetime_str(start));
    }
    if let Some(d) = r.duration.as_ref().and_then(py_timedelta) {
        s.push(',');
        s.push_str(&d);
    }
    if let Some(v) = r.container_serial.as_deref().filter(|v| !v.is_empty()) {
        s.push_str(",c_serial=");
        s.push_str(v);
    }
    if let Some(v) = r.container_type.as_deref().filter(|v| !v.is_empty()) {
        s.push_str(",ct=");
        s.push_str(v);
    }
    s
}

fn py_str(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("None")
}

/// Python `str(timedelta)`, or `None` for a zero duration (falsy in Python, so omitted).
fn py_timedelta(d: &TimeDelta) -> Option<String> {
    (!d.is_zero()).then(|| timedelta_str(*d))
}

/// Parse a datetime as SQLite stores it for privacyIDEA (`YYYY-MM-DD HH:MM:SS[.ffffff]`,
/// also accepted with a `T`).
pub fn parse_sqlite_datetime(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// A `duration` stored as a datetime (SQLite, MySQL/MariaDB: `1970-01-01 00:00:00` + the
/// interval) back as the interval.
pub fn duration_since_epoch(stored: NaiveDateTime) -> TimeDelta {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
        .expect("valid date")
        .and_hms_opt(0, 0, 0)
        .expect("valid time");
    stored - epoch
}

/// `emLen − hLen − 2` with `emLen = ceil((modBits − 1) / 8)`: PSS `MAX_LENGTH` for SHA-256
/// (222 bytes for RSA-2048).
fn max_salt_len(key: &RsaPublicKey) -> usize {
    let em_len = (key.n().bits() - 1).div_ceil(8);
    em_len.saturating_sub(32 + 2)
}

fn check_size(bits: usize) -> Result<(), CryptoError> {
    if (MIN_BITS..=MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(CryptoError::Rsa(format!(
            "key size {bits} bits not supported ({MIN_BITS}..={MAX_BITS})"
        )))
    }
}

/// Checks audit signatures with the public key (`PI_AUDIT_KEY_PUBLIC`).
#[derive(Clone)]
pub struct AuditVerifier {
    key: RsaPublicKey,
}

impl AuditVerifier {
    /// SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`, what pi-manage writes) or PKCS#1
    /// (`BEGIN RSA PUBLIC KEY`).
    pub fn from_public_pem(pem: &str) -> Result<Self, CryptoError> {
        let pem = pem.trim();
        let key = RsaPublicKey::from_public_key_pem(pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
            .map_err(|_| {
                CryptoError::Rsa(
                    "not a PEM RSA public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)".into(),
                )
            })?;
        check_size(key.n().bits())?;
        Ok(AuditVerifier { key })
    }

    /// `true` iff `signature` is `rsa_sha256_pss:<hex>` and a valid RSA-PSS signature
    /// (SHA-256, MGF1-SHA-256, maximum salt length) of `signed` in UTF-8. Everything else
    /// (empty, old-style decimal signatures, other prefixes, bad hex) is `false`.
    pub fn verify(&self, signed: &str, signature: &str) -> bool {
        let mut parts = signature.split(':');
        let (Some(SIGNATURE_PREFIX), Some(hex_sig), None) =
            (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(sig) = hex::decode(hex_sig) else {
            return false;
        };
        let digest = Sha256::digest(signed.as_bytes());
        self.key
            .verify(
                Pss::new_with_salt::<Sha256>(max_salt_len(&self.key)),
                &digest,
                &sig,
            )
            .is_ok()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }
}

impl fmt::Debug for AuditVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditVerifier(RSA-{})", self.bits())
    }
}

/// Signs audit strings with the private key (`PI_AUDIT_KEY_PRIVATE`).
pub struct AuditSigner {
    key: RsaPrivateKey,
}

impl AuditSigner {
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`, what pi-manage writes) or unencrypted PKCS#8
    /// (`BEGIN PRIVATE KEY`).
    pub fn from_private_pem(pem: &str) -> Result<Self, CryptoError> {
        let pem = pem.trim();
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|_| {
                CryptoError::Rsa(
                    "not an unencrypted PEM RSA private key (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)"
                        .into(),
                )
            })?;
        check_size(key.n().bits())?;
        key.validate()
            .map_err(|_| CryptoError::Rsa("inconsistent RSA private key".into()))?;
        Ok(AuditSigner { key })
    }

    /// `"rsa_sha256_pss:" + hex(RSA-PSS-SHA256(utf8(signed)))`, salt length = maximum,
    /// randomized (as privacyIDEA's `Sign.sign`).
    pub fn sign(&self, signed: &str) -> String {
        let digest = Sha256::digest(signed.as_bytes());
        let salt_len = max_salt_len(&self.key.to_public_key());
        let sig = self
            .key
            .sign_with_rng(
                &mut rand::rngs::OsRng,
                Pss::new_with_salt::<Sha256>(salt_len),
                &digest,
            )
            .expect("PSS signing with a validated key of at least 1024 bits");
        format!("{SIGNATURE_PREFIX}:{}", hex::encode(sig))
    }

    /// The matching verifier (the public half of this key).
    pub fn verifier(&self) -> AuditVerifier {
        AuditVerifier {
            key: self.key.to_public_key(),
        }
    }
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditSigner(RSA-{}, ***)", self.key.n().bits())
    }
}

/// A new key pair in privacyIDEA's PEM forms (`setup create_audit_keys`): private PKCS#1
/// `BEGIN RSA PRIVATE KEY`, public SubjectPublicKeyInfo `BEGIN PUBLIC KEY`, e = 65537.
/// Returns `(private_pem, public_pem)`. `bits` must be 1024..=4096.
pub fn generate_audit_keys(bits: usize) -> Result<(String, String), CryptoError> {
    check_size(bits)?;
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|e| CryptoError::Rsa(format!("key generation failed: {e}")))?;
    let private_pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| CryptoError::Rsa(format!("PEM encoding failed: {e}")))?;
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| CryptoError::Rsa(format!("PEM encoding failed: {e}")))?;
    Ok((private_pem.to_string(), public_pem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const ROWS_JSON: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/audit/audit-rows.json"
    ));
    const PUBLIC_PEM: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/audit/public.pem"
    ));
    const PRIVATE_PEM: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/audit/private.pem"
    ));

    fn rows() -> Vec<Value> {
        let v: Value = serde_json::from_str(ROWS_JSON).unwrap();
        v["rows"].as_array().unwrap().clone()
    }

    fn text(row: &Value, col: &str) -> Option<String> {
        match &row[col] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => panic!("{col}: {other}"),
        }
    }

    fn dt(row: &Value, col: &str) -> Option<NaiveDateTime> {
        text(row, col).map(|t| parse_sqlite_datetime(&t).unwrap())
    }

    /// An `AuditRecord` from the SQLite row as stored.
    fn record(row: &Value) -> AuditRecord {
        AuditRecord {
            id: row["id"].as_i64().unwrap(),
            date: dt(row, "date"),
            action: text(row, "action"),
            success: row["success"].as_i64(),
            serial: text(row, "serial"),
            token_type: text(row, "token_type"),
            user: text(row, "user"),
            realm: text(row, "realm"),
            administrator: text(row, "administrator"),
            action_detail: text(row, "action_detail"),
            info: text(row, "info"),
            privacyidea_server: text(row, "privacyidea_server"),
            client: text(row, "client"),
            loglevel: text(row, "loglevel"),
            clearance_level: text(row, "clearance_level"),
            startdate: dt(row, "startdate"),
            duration: dt(row, "duration").map(duration_since_epoch),
            container_serial: text(row, "container_serial"),
            container_type: text(row, "container_type"),
        }
    }

    #[test]
    fn signed_string_matches_every_vector_row() {
        let rows = rows();
        assert_eq!(rows.len(), 6);
        for r in &rows {
            let rec = record(&r["row"]);
            let s = signed_string(&rec);
            assert_eq!(s, r["signed_string"].as_str().unwrap(), "row {}", rec.id);
            assert_eq!(
                hex::encode(s.as_bytes()),
                r["signed_string_utf8_hex"].as_str().unwrap()
            );
        }
    }

    #[test]
    fn every_vector_signature_verifies_and_tampered_strings_fail() {
        let verifier = AuditVerifier::from_public_pem(PUBLIC_PEM).unwrap();
        assert_eq!(verifier.bits(), 2048);
        assert_eq!(max_salt_len(&verifier.key), 222);
        let rows = rows();
        for r in &rows {
            let signed = signed_string(&record(&r["row"]));
            let sig = r["row"]["signature"].as_str().unwrap();
            assert_eq!(sig.len(), 527);
            assert_eq!(r["privacyidea_sig_check"], "OK");
            assert!(verifier.verify(&signed, sig), "{}", r["label"]);
            assert!(!verifier.verify(r["tampered_string"].as_str().unwrap(), sig));
        }
        // A signature does not verify another row's string.
        let s1 = signed_string(&record(&rows[0]["row"]));
        assert!(!verifier.verify(&s1, rows[1]["row"]["signature"].as_str().unwrap()));
    }

    #[test]
    fn other_signature_forms_are_false() {
        let verifier = AuditVerifier::from_public_pem(PUBLIC_PEM).unwrap();
        let r = &rows()[0];
        let signed = r["signed_string"].as_str().unwrap();
        let sig = r["row"]["signature"].as_str().unwrap();
        let hex_part = sig.strip_prefix("rsa_sha256_pss:").unwrap();
        for bad in [
            String::new(),
            "rsa_sha256_pss:".into(),
            "rsa_sha256_pss:zz".into(),
            hex_part.to_string(),
            format!("rsa_sha256:{hex_part}"),
            format!("{sig}:00"),
            format!("{sig}00"),
            "123456789012345678901234567890".into(),
        ] {
            assert!(!verifier.verify(signed, &bad), "{bad:?}");
        }
        // Uppercase hex is still the same signature.
        assert!(verifier.verify(
            signed,
            &format!("rsa_sha256_pss:{}", hex_part.to_uppercase())
        ));
        // A PSS signature with the default salt length (32) is not privacyIDEA's form.
        let key = RsaPrivateKey::from_pkcs1_pem(PRIVATE_PEM).unwrap();
        let digest = Sha256::digest(signed.as_bytes());
        let short = key
            .sign_with_rng(&mut rand::rngs::OsRng, Pss::new::<Sha256>(), &digest)
            .unwrap();
        assert!(!verifier.verify(signed, &format!("rsa_sha256_pss:{}", hex::encode(short))));
    }

    #[test]
    fn sign_with_vector_private_key_round_trips() {
        let signer = AuditSigner::from_private_pem(PRIVATE_PEM).unwrap();
        let verifier = AuditVerifier::from_public_pem(PUBLIC_PEM).unwrap();
        assert!(
            signer.verifier().key == verifier.key,
            "private.pem and public.pem match"
        );
        for r in rows() {
            let signed = signed_string(&record(&r["row"]));
            let sig = signer.sign(&signed);
            assert!(sig.starts_with("rsa_sha256_pss:"));
            assert_eq!(sig.len(), 527);
            assert!(sig[15..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(verifier.verify(&signed, &sig));
            assert!(!verifier.verify(r["tampered_string"].as_str().unwrap(), &sig));
            assert_ne!(sig, signer.sign(&signed), "PSS is randomized");
        }
        assert_eq!(format!("{signer:?}"), "AuditSigner(RSA-2048, ***)");
    }

    #[test]
    fn generated_keys_have_privacyidea_pem_forms_and_round_trip() {
        let (private_pem, public_pem) = generate_audit_keys(1024).unwrap();
        assert!(private_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert!(private_pem.ends_with("-----END RSA PRIVATE KEY-----\n"));
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(public_pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(private_pem.lines().all(|l| l.len() <= 64));
        let signer = AuditSigner::from_private_pem(&private_pem).unwrap();
        let verifier = AuditVerifier::from_public_pem(&public_pem).unwrap();
        assert_eq!(verifier.bits(), 1024);
        assert_eq!(verifier.key.e(), &rsa::BigUint::from(65_537u32));
        let s = "id=1,date=2026-11-22 13:00:42,action=x";
        let sig = signer.sign(s);
        assert_eq!(sig.len(), 15 + 256);
        assert!(verifier.verify(s, &sig));
        assert!(!verifier.verify("id=2", &sig));
        // The vector key does not verify our signature.
        assert!(!AuditVerifier::from_public_pem(PUBLIC_PEM)
            .unwrap()
            .verify(s, &sig));
        for bits in [0usize, 512, 8192] {
            assert!(
                matches!(generate_audit_keys(bits), Err(CryptoError::Rsa(_))),
                "{bits}"
            );
        }
    }

    #[test]
    fn pem_parsing_accepts_pkcs8_and_pkcs1_public_and_rejects_garbage() {
        use rsa::pkcs8::EncodePrivateKey;
        let key = RsaPrivateKey::from_pkcs1_pem(PRIVATE_PEM).unwrap();
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let signer = AuditSigner::from_private_pem(&pkcs8).unwrap();
        let pkcs1_pub =
            rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_pem(&key.to_public_key(), LineEnding::LF)
                .unwrap();
        let verifier = AuditVerifier::from_public_pem(&pkcs1_pub).unwrap();
        assert!(verifier.verify("x", &signer.sign("x")));
        assert!(AuditVerifier::from_public_pem("").is_err());
        assert!(AuditVerifier::from_public_pem(PRIVATE_PEM).is_err());
        assert!(AuditSigner::from_private_pem(PUBLIC_PEM).is_err());
        assert!(AuditSigner::from_private_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        )
        .is_err());
        // Errors carry no key material.
        let e = AuditSigner::from_private_pem(&PRIVATE_PEM[..800])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("MII"), "{e}");
    }

    /// `reference/schema.md` §11.7: rows that privacyIDEA 3.14dev2 signed with another key.
    #[test]
    fn schema_reference_vectors() {
        const PUB: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAt9j4SevEEX/urivSA1Gj
1jTEns8ZBdyF1Z4uoOpJaXLUD4mQYFnkCqcQ/Yc95Z7cvkiNE5liodvKGYV+E8Im
IM8vyPRJRIBUcSsyIqFAzLrIvJgvTfFZXoxNm39QdMbH1kCmzIbvOwk2TJEKYgxw
thJ6yDmcMbL2mySrFTcMdB1nXJb/H4wsnntu/LGKk7w/u7GsRxBuwpNTdnQFRzpj
dxW+rUgUAVzokRK+5XwBF4JAU8WxvZuDfmB7Kt714AhXieCmsIg5pxCXvQtIY+gw
Ct4Lt/gpMWThxcEv8fT/ZguZiwSV8uCGV1H2wvfclMwdBFsPO31yT55+OmL1uBdb
5wIDAQAB
-----END PUBLIC KEY-----
";
        let v = AuditVerifier::from_public_pem(PUB).unwrap();
        let p = |t: &str| parse_sqlite_datetime(t);
        let s = |t: &str| Some(t.to_string());
        let r1 = AuditRecord {
            id: 1,
            date: p("2026-11-22 12:09:37.040646"),
            startdate: p("2026-11-22 12:09:35.992717"),
            duration: p("1970-01-01 00:00:01.047929").map(duration_since_epoch),
            action: s("POST /validate/check"),
            success: Some(1),
            serial: s("HOTP0001"),
            token_type: s("hotp"),
            user: s("cornelius"),
            realm: s("realm1"),
            administrator: s(""),
            action_detail: s(""),
            info: s("wrong otp value, äöü"),
            privacyidea_server: s("pi.example.com"),
            client: s("10.0.0.1"),
            loglevel: s("INFO"),
            clearance_level: s("default"),
            container_serial: s("CONT01"),
            container_type: s("generic"),
        };
        let s1 = signed_string(&r1);
        assert_eq!(s1, "id=1,date=2026-11-22 12:09:37.040646,action=POST /validate/check,succ=1,serial=HOTP0001,t=hotp,u=cornelius,r=realm1,adm=,ad=,i=wrong otp value, äöü,ps=pi.example.com,c=10.0.0.1,l=INFO,cl=default,2026-11-22 12:09:35.992717,0:00:01.047929,c_serial=CONT01,ct=generic");
        assert!(v.verify(&s1, "rsa_sha256_pss:3e278818e2aa24704cbf207f880c20f2d2a9b1bdbf6078413a9b270e39d6a7856925a936e39d6031d6410cf194f5e761eb23668a0a9ea4a307179197c4791b5fea5e6c9d318d31edb72850a6277d1db67d0cbe5e3e41e9ee6db0651b3b8143cc2d0e45add119cd7e23f42e4faf28cc8b8650cf9d69ddf6f4b95b8c2663854e1d5e2b1bab83b39cae3e940c7ce9743bc60b2612a0c8aa31811c00fed57450708b4c8d7668b07cd2febb30d838e480ed693707b3170387541e18b498a8b015c3313f241d40d809453f55433e7ba8dacb71fbd7601b3c953c8841283a6be13038b9545830020d9ac1844af2f2be1e4a523cd6b2442ce1fd44a02e9a1ba2cf9e4f3b"));
        let e = || s("");
        let r2 = AuditRecord {
            id: 4,
            date: p("2025-03-01 10:00:05.000000"),
            startdate: p("2025-03-01 10:00:00.000000"),
            duration: p("1970-01-01 00:00:05.000000").map(duration_since_epoch),
            action: s("POST /auth"),
            success: Some(1),
            user: s("admin"),
            loglevel: s("default"),
            clearance_level: s("default"),
            serial: e(),
            token_type: e(),
            realm: e(),
            administrator: e(),
            action_detail: e(),
            info: e(),
            privacyidea_server: e(),
            client: e(),
            container_serial: e(),
            container_type: e(),
        };
        let s2 = signed_string(&r2);
        assert_eq!(s2, "id=4,date=2025-03-01 10:00:05,action=POST /auth,succ=1,serial=,t=,u=admin,r=,adm=,ad=,i=,ps=,c=,l=default,cl=default,2025-03-01 10:00:00,0:00:05");
        assert!(v.verify(&s2, "rsa_sha256_pss:01ec28fb3c5af0c6e1cce564208a779f66193987adcfad6f0a6dde8d7499e9ec8666ed99c0cebcec3459d3aa29fd64fd696d256c98f8bc910a91e360e948bfcf7bbd82be3c62a096c03913730f439067597bece152bb4e41001670aff257666974f879cf06aeebb8c0bd9268209ed479b15e019a1985f65c78e6e9f4d580680462889a2e673e7587d142dafdcdad2d74737ace89f957252cf44296add92bfe81b25462930eb1f5eebfc703310a23426b492b6afd15e79c9c2bbcf817086f24f89f2053dddcd2a789f90719716938be14540c5949af4261936352ed72c55b3400b09963269a202f43ec324d7d7bb891eb0d0edf15b4a688a967e7bb3eb1147ba7"));
    }

    #[test]
    fn python_str_forms() {
        // str(datetime) and str(timedelta) themselves are pytext's (tested there).
        let d = |t: &str| parse_sqlite_datetime(t).unwrap();
        let td = |us: i64| py_timedelta(&TimeDelta::microseconds(us));
        assert_eq!(td(0), None);
        assert_eq!(td(1).as_deref(), Some("0:00:00.000001"));
        assert_eq!(td(5_000_000).as_deref(), Some("0:00:05"));
        assert_eq!(td(36_000_000_000).as_deref(), Some("10:00:00"));
        assert_eq!(td(86_400_000_000).as_deref(), Some("1 day, 0:00:00"));
        assert_eq!(
            td(190_842_160_277).as_deref(),
            Some("2 days, 5:00:42.160277")
        );
        assert_eq!(td(-500_000).as_deref(), Some("-1 day, 23:59:59.500000"));
        assert_eq!(td(-2 * 86_400_000_000).as_deref(), Some("-2 days, 0:00:00"));
        assert_eq!(
            duration_since_epoch(d("1970-01-03 05:00:42.160277")),
            TimeDelta::microseconds(190_842_160_277)
        );
        // A zero duration is omitted from the string; NULL date renders as None.
        let rec = AuditRecord {
            id: 7,
            startdate: Some(d("2025-03-01 11:00:00.000500")),
            duration: Some(TimeDelta::zero()),
            container_serial: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(
            signed_string(&rec),
            "id=7,date=None,action=None,succ=None,serial=None,t=None,u=None,r=None,adm=None,ad=None,i=None,ps=None,c=None,l=None,cl=None,2025-03-01 11:00:00.000500"
        );
    }
}
