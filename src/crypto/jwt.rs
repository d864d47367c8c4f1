//! The API tokens of `pi-manage api createtoken` (spec §9): HS256 JWTs over `SECRET_KEY`.
//!
//! The token is built by hand rather than with a JWT library so that it is byte for byte what
//! PyJWT writes for privacyIDEA: header `{"alg":"HS256","typ":"JWT"}` (sorted keys), a compact
//! payload in privacyIDEA's claim order, and Python's `json.dumps` ASCII escaping
//! (`\u00f6`). Verification is what privacyIDEA's server does: HS256 only, signature first,
//! then the `exp` check.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::CryptoError;
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// PyJWT's header for HS256 (keys sorted).
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The role an API token grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiRole {
    /// `"admin"`: the admin API, as the admin named in `username`.
    Admin,
    /// `"validate"`: the role the deprecated `api_key_required` policy asks for.
    Validate,
}

impl ApiRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Admin => "admin",
            ApiRole::Validate => "validate",
        }
    }
}

impl fmt::Display for ApiRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiRole {
    type Err = String;
    fn from_str(s: &str) -> Result<ApiRole, String> {
        match s {
            "admin" => Ok(ApiRole::Admin),
            "validate" => Ok(ApiRole::Validate),
            other => Err(format!("role must be admin or validate, not {other:?}")),
        }
    }
}

/// The claims of an API token, in privacyIDEA's order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiTokenClaims {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub role: String,
    pub authtype: String,
    pub exp: i64,
    pub rights: String,
}

/// A new API token: HS256 over `secret_key`, header `{"alg":"HS256","typ":"JWT"}`, payload
/// `{"username":…,"realm":…,"nonce":<40 lowercase hex>,"role":…,"authtype":"API",
/// "exp":now_epoch+days·86400,"rights":"TODO"}` (compact, Python ASCII escaping).
pub fn create_api_token(
    secret_key: &Secret,
    username: &str,
    realm: &str,
    role: ApiRole,
    days: u64,
    now_epoch: i64,
) -> String {
    let nonce: [u8; 20] = super::random_bytes();
    let validity = i64::try_from(days)
        .unwrap_or(i64::MAX)
        .saturating_mul(86_400);
    let claims = ApiTokenClaims {
        username: username.to_owned(),
        realm: realm.to_owned(),
        nonce: hex::encode(nonce),
        role: role.as_str().to_owned(),
        authtype: "API".to_owned(),
        exp: now_epoch.saturating_add(validity),
        rights: "TODO".to_owned(),
    };
    encode(secret_key, &claims)
}

/// Sign `claims` as privacyIDEA/PyJWT would.
fn encode(secret_key: &Secret, claims: &ApiTokenClaims) -> String {
    let payload = payload_json(claims);
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER_JSON),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = hmac_for(secret_key);
    mac.update(signing_input.as_bytes());
    let sig = mac.finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn hmac_for(secret_key: &Secret) -> HmacSha256 {
    HmacSha256::new_from_slice(secret_key.expose().as_bytes()).expect("HMAC takes any key length")
}

/// Compact JSON in privacyIDEA's claim order, as `json.dumps(separators=(",", ":"))` writes it.
fn payload_json(c: &ApiTokenClaims) -> String {
    format!(
        r#"{{"username":{},"realm":{},"nonce":{},"role":{},"authtype":{},"exp":{},"rights":{}}}"#,
        py_json_str(&c.username),
        py_json_str(&c.realm),
        py_json_str(&c.nonce),
        py_json_str(&c.role),
        py_json_str(&c.authtype),
        c.exp,
        py_json_str(&c.rights)
    )
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
fn py_json_str(s: &str) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for u in ch.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

/// Verify an API token: HS256 only, the signature with `secret_key`, and, when `now_epoch`
/// is given, that it has not expired (`now < exp`, PyJWT's rule). Returns the claims.
pub fn verify_api_token(
    secret_key: &Secret,
    token: &str,
    now_epoch: Option<i64>,
) -> Result<ApiTokenClaims, CryptoError> {
    let jwt = |m: &str| CryptoError::Jwt(m.to_owned());
    let mut parts = token.trim().split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(jwt("not a JWT (expected three dot-separated parts)"));
    };
    let header: serde_json::Value = b64url_decode(h64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| jwt("malformed header"))?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(jwt("the algorithm is not HS256"));
    }
    let sig = b64url_decode(s64).ok_or_else(|| jwt("malformed signature"))?;
    let mut mac = hmac_for(secret_key);
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(p64.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| jwt("signature verification failed"))?;
    let claims: ApiTokenClaims = b64url_decode(p64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| jwt("the payload does not hold privacyIDEA's API token claims"))?;
    if let Some(now) = now_epoch {
        if claims.exp <= now {
            return Err(jwt("the token has expired"));
        }
    }
    Ok(claims)
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    const URL_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    URL_ANY_PAD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const JWT_JSON: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/jwt.json"
    ));

    fn vectors() -> Value {
        serde_json::from_str(JWT_JSON).unwrap()
    }

    fn secret(v: &Value) -> Secret {
        Secret::new(v["SECRET_KEY"].as_str().unwrap())
    }

    fn s(v: &Value) -> &str {
        v.as_str().unwrap()
    }

    fn parts(token: &str) -> (String, String) {
        let p: Vec<&str> = token.split('.').collect();
        assert_eq!(p.len(), 3);
        (
            String::from_utf8(URL_SAFE_NO_PAD.decode(p[0]).unwrap()).unwrap(),
            String::from_utf8(URL_SAFE_NO_PAD.decode(p[1]).unwrap()).unwrap(),
        )
    }

    #[test]
    fn every_vector_token_verifies_to_its_claims() {
        let v = vectors();
        let key = secret(&v);
        let tokens = v["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 3);
        for t in tokens {
            let name = s(&t["name"]);
            let expected: ApiTokenClaims = serde_json::from_value(t["claims"].clone()).unwrap();
            let created = t["created_at_epoch_utc"].as_i64().unwrap();
            assert_eq!(
                expected.exp - created,
                t["validity_days"].as_i64().unwrap() * 86_400
            );
            for clock in [
                Some(created),
                Some(created + 1),
                Some(expected.exp - 1),
                None,
            ] {
                let got = verify_api_token(&key, s(&t["token"]), clock)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(got, expected, "{name}");
            }
            // Expired at exp (PyJWT: exp <= now).
            for clock in [expected.exp, expected.exp + 86_400] {
                assert!(matches!(
                    verify_api_token(&key, s(&t["token"]), Some(clock)),
                    Err(CryptoError::Jwt(_))
                ));
            }
            // Tampered payload and wrong keys fail, even without the expiry check.
            assert!(verify_api_token(&key, s(&t["tampered_payload_token"]), None).is_err());
            for wrong in ["", "vec-jwt-secret-key-0123456789abcdeF", "other"] {
                assert!(verify_api_token(&Secret::new(wrong), s(&t["token"]), None).is_err());
            }
            // The parts are privacyIDEA's exact JSON texts.
            let (h, p) = parts(s(&t["token"]));
            assert_eq!(h, s(&t["header_json_text"]));
            assert_eq!(p, s(&t["payload_json_text"]));
        }
    }

    #[test]
    fn reproduces_vector_tokens_byte_for_byte_given_their_nonce() {
        let v = vectors();
        let key = secret(&v);
        for t in v["tokens"].as_array().unwrap() {
            let claims: ApiTokenClaims = serde_json::from_value(t["claims"].clone()).unwrap();
            assert_eq!(payload_json(&claims), s(&t["payload_json_text"]));
            assert_eq!(encode(&key, &claims), s(&t["token"]));
        }
    }

    #[test]
    fn own_token_has_privacyidea_form() {
        let v = vectors();
        let key = secret(&v);
        let t = &v["tokens"][0]; // pi-manage api createtoken -u admin
        let created = t["created_at_epoch_utc"].as_i64().unwrap();
        let token = create_api_token(&key, "admin", "API", ApiRole::Admin, 365, created);
        let (h, p) = parts(&token);
        assert_eq!(h, s(&t["header_json_text"]));
        assert_eq!(h, HEADER_JSON);
        // Same key order and types as privacyIDEA's payload.
        let ours: serde_json::Map<String, Value> = serde_json::from_str(&p).unwrap();
        let theirs: serde_json::Map<String, Value> =
            serde_json::from_str(s(&t["payload_json_text"])).unwrap();
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>()
        );
        let nonce = ours["nonce"].as_str().unwrap();
        assert_eq!(nonce.len(), 40);
        assert!(nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(ours["exp"].is_i64());
        assert_eq!(ours["exp"], theirs["exp"]);
        // Byte-identical once the random nonce is swapped in.
        let expected = s(&t["payload_json_text"]).replace(s(&t["claims"]["nonce"]), nonce);
        assert_eq!(p, expected);
        let claims = verify_api_token(&key, &token, Some(created)).unwrap();
        assert_eq!(claims.rights, "TODO");
        assert_eq!(claims.authtype, "API");
        assert_eq!(claims.role, "admin");
        // Fresh nonces.
        let other = create_api_token(&key, "admin", "API", ApiRole::Admin, 365, created);
        assert_ne!(token, other);
    }

    #[test]
    fn validate_role_and_expiry_arithmetic() {
        let key = Secret::new("k");
        let token = create_api_token(&key, "validateclient", "API", ApiRole::Validate, 730, 1000);
        let c = verify_api_token(&key, &token, Some(1000)).unwrap();
        assert_eq!(c.role, "validate");
        assert_eq!(c.exp, 1000 + 730 * 86_400);
        // -d 0 gives an already expired token, as in privacyIDEA.
        let t0 = create_api_token(&key, "u", "API", ApiRole::Admin, 0, 1000);
        assert!(verify_api_token(&key, &t0, Some(1000)).is_err());
        assert!(verify_api_token(&key, &t0, None).is_ok());
        assert_eq!("admin".parse::<ApiRole>(), Ok(ApiRole::Admin));
        assert_eq!("validate".parse::<ApiRole>(), Ok(ApiRole::Validate));
        assert!("user".parse::<ApiRole>().is_err());
        assert_eq!(ApiRole::Validate.to_string(), "validate");
    }

    #[test]
    fn python_ascii_escaping() {
        assert_eq!(py_json_str("admin"), r#""admin""#);
        assert_eq!(py_json_str("jörg"), r#""j\u00f6rg""#);
        assert_eq!(py_json_str("€😀"), r#""\u20ac\ud83d\ude00""#);
        assert_eq!(
            py_json_str("a\"b\\c\n\t\u{1}\u{7f}/"),
            r#""a\"b\\c\n\t\u0001\u007f/""#
        );
        let key = Secret::new("k");
        let token = create_api_token(&key, "jörg", "réalm", ApiRole::Admin, 1, 0);
        let (_, p) = parts(&token);
        assert!(p.is_ascii());
        assert!(p.contains(r#""username":"j\u00f6rg","realm":"r\u00e9alm""#));
        let c = verify_api_token(&key, &token, None).unwrap();
        assert_eq!((c.username.as_str(), c.realm.as_str()), ("jörg", "réalm"));
    }

    #[test]
    fn malformed_tokens_and_other_algorithms_fail() {
        let key = Secret::new("k");
        let good = create_api_token(&key, "u", "API", ApiRole::Admin, 1, 0);
        let (_, p64) = {
            let v: Vec<&str> = good.split('.').collect();
            (v[0].to_string(), v[1].to_string())
        };
        let forge = |header: &str| {
            let h64 = URL_SAFE_NO_PAD.encode(header);
            let mut mac = hmac_for(&key);
            mac.update(format!("{h64}.{p64}").as_bytes());
            format!(
                "{h64}.{p64}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        assert!(verify_api_token(&key, &forge(HEADER_JSON), None).is_ok());
        for bad in [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{good}.x"),
            forge(r#"{"alg":"none","typ":"JWT"}"#),
            forge(r#"{"alg":"HS512","typ":"JWT"}"#),
            forge(r#"{"typ":"JWT"}"#),
            forge("not json"),
            format!("{}.", &good[..good.rfind('.').unwrap()]),
        ] {
            assert!(verify_api_token(&key, &bad, None).is_err(), "{bad:?}");
        }
    }
}
