//! Admin password hashes, compatible with privacyIDEA's passlib `CryptContext(['argon2',
//! 'pbkdf2_sha512'], argon2__rounds=9)` (spec §0.5).
//!
//! The hashed input is always `PI_PEPPER + password` (plain string concatenation, pepper
//! first). New hashes are argon2id PHC strings with privacyIDEA's default parameters;
//! verification accepts any argon2 PHC string and passlib's `$pbkdf2-sha512$` form.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use sha2::Sha512;
use zeroize::Zeroizing;

/// passlib's argon2 defaults as privacyIDEA configures them: 64 MiB, 9 passes, 4 lanes.
const ARGON2_M_KIB: u32 = 65536;
const ARGON2_T: u32 = 9;
const ARGON2_P: u32 = 4;
const ARGON2_OUTPUT_LEN: usize = 32;
const ARGON2_SALT_LEN: usize = 16;

/// passlib `pbkdf2_sha512` checksum size.
const PBKDF2_SHA512_LEN: usize = 64;

/// `$argon2id$v=19$m=65536,t=9,p=4$<16-byte salt, b64 no padding>$<32-byte hash, b64 no
/// padding>` over `pepper + password`: what `pi-manage admin add` stores.
pub fn hash_admin_password(pepper: &str, password: &str) -> String {
    let input = peppered(pepper, password);
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(ARGON2_OUTPUT_LEN))
        .expect("valid argon2 parameters");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt_bytes: [u8; ARGON2_SALT_LEN] = super::random_bytes();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16-byte salt encodes");
    argon2
        .hash_password(input.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters")
        .to_string()
}

/// Does `hash` (argon2 PHC with any parameters, or passlib `$pbkdf2-sha512$rounds$salt$hash`)
/// match `pepper + password`? A malformed or unknown format is `false`.
pub fn verify_admin_password(pepper: &str, password: &str, hash: &str) -> bool {
    let input = peppered(pepper, password);
    if hash.starts_with("$argon2") {
        verify_argon2(input.as_bytes(), hash)
    } else if hash.starts_with("$pbkdf2-sha512$") {
        verify_pbkdf2_sha512(&input, hash)
    } else {
        false
    }
}

/// passlib's `pbkdf2_sha512.using(salt=…, rounds=…).hash(password)`:
/// `$pbkdf2-sha512$<rounds>$<ab64 salt>$<ab64 64-byte hash>`.
pub fn pbkdf2_sha512_passlib(password: &str, salt: &[u8], rounds: u32) -> String {
    let dk = pbkdf2_sha512(password.as_bytes(), salt, rounds, PBKDF2_SHA512_LEN);
    format!(
        "$pbkdf2-sha512${rounds}${}${}",
        ab64_encode(salt),
        ab64_encode(&dk)
    )
}

fn peppered(pepper: &str, password: &str) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(pepper.len() + password.len()));
    s.push_str(pepper);
    s.push_str(password);
    s
}

fn verify_argon2(input: &[u8], hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(input, &parsed).is_ok(),
        Err(_) => false,
    }
}

fn verify_pbkdf2_sha512(input: &str, hash: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let ["", "pbkdf2-sha512", rounds, salt, checksum] = parts[..] else {
        return false;
    };
    if rounds.is_empty() || !rounds.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(rounds) = rounds.parse::<u32>() else {
        return false;
    };
    if rounds == 0 {
        return false;
    }
    let (Some(salt), Some(expected)) = (ab64_decode(salt), ab64_decode(checksum)) else {
        return false;
    };
    if expected.len() != PBKDF2_SHA512_LEN {
        return false;
    }
    let dk = pbkdf2_sha512(input.as_bytes(), &salt, rounds, expected.len());
    super::ct_eq(&dk, &expected)
}

fn pbkdf2_sha512(password: &[u8], salt: &[u8], rounds: u32, len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, rounds, &mut out);
    out
}

/// passlib's "adapted base64": standard alphabet with `.` instead of `+`, no padding.
fn ab64_encode(data: &[u8]) -> String {
    STANDARD_NO_PAD.encode(data).replace('+', ".")
}

fn ab64_decode(text: &str) -> Option<Vec<u8>> {
    if text.contains('+') {
        return None;
    }
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(text.replace('.', "+")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const PASSWORDS_JSON: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/passwords.json"
    ));

    fn installations() -> Vec<Value> {
        let v: Value = serde_json::from_str(PASSWORDS_JSON).unwrap();
        v["installations"].as_array().unwrap().clone()
    }

    fn s(v: &Value) -> &str {
        v.as_str().unwrap()
    }

    #[test]
    fn vector_installations_cover_three_peppers() {
        let peppers: Vec<String> = installations()
            .iter()
            .map(|i| s(&i["pepper"]).to_string())
            .collect();
        assert_eq!(peppers, ["vecPepper#2024", "", "Never know..."]);
    }

    #[test]
    fn every_argon2_admin_hash_verifies_with_pepper_plus_password() {
        let mut n = 0;
        for inst in installations() {
            let pepper = s(&inst["pepper"]);
            for a in inst["cli_admins"].as_array().unwrap() {
                let user = s(&a["username"]);
                let pw = s(&a["password"]);
                let hash = s(&a["admin_row"]["password"]);
                assert_eq!(format!("{pepper}{pw}"), s(&a["hashed_input"]));
                assert!(hash.starts_with("$argon2id$v=19$m=65536,t=9,p=4$"));
                assert!(verify_admin_password(pepper, pw, hash), "{user}");
                assert!(
                    !verify_admin_password(pepper, &format!("{pw}x"), hash),
                    "{user}"
                );
                // The pepper is prepended: without it only the empty-pepper install matches.
                let without = a["passlib argon2.verify(password without pepper, hash)"]
                    .as_bool()
                    .unwrap();
                assert_eq!(verify_admin_password("", pw, hash), without, "{user}");
                assert_eq!(without, pepper.is_empty());
                n += 1;
            }
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn every_pbkdf2_hash_verifies_and_the_fixed_salt_hash_is_reproduced() {
        let mut n = 0;
        for inst in installations() {
            let pepper = s(&inst["pepper"]);
            for e in inst["pbkdf2_sha512"].as_array().unwrap() {
                let user = s(&e["username"]);
                let pw = s(&e["password"]);
                let hash = s(&e["hash"]);
                let random = s(&e["hash_random_salt_default_rounds"]);
                assert!(verify_admin_password(pepper, pw, hash), "{user}");
                assert!(verify_admin_password(pepper, pw, random), "{user}");
                assert!(!verify_admin_password(pepper, "wrong", hash), "{user}");
                assert!(!verify_admin_password(pepper, "wrong", random), "{user}");
                let without = e["verify_pass_hash(password without pepper, hash)"]
                    .as_bool()
                    .unwrap();
                assert_eq!(verify_admin_password("", pw, hash), without, "{user}");
                let salt = hex::decode(s(&e["salt_hex"])).unwrap();
                let rounds = e["rounds"].as_u64().unwrap() as u32;
                assert_eq!(
                    pbkdf2_sha512_passlib(s(&e["hashed_input"]), &salt, rounds),
                    hash
                );
                n += 1;
            }
        }
        assert_eq!(n, 6);
    }

    #[test]
    fn spec_argon2_example_verifies() {
        let h = "$argon2id$v=19$m=65536,t=9,p=4$ZcyZs7ZWqvWecy5lrLWW0g$4zXkyAgkndVBmwMcOsJHJ2c8OzfXpzKt16/7ltzxLO4";
        assert!(verify_admin_password("pepper", "test", h));
        assert!(!verify_admin_password("", "test", h));
    }

    #[test]
    fn own_argon2_hash_has_privacyidea_parameters_and_verifies() {
        let pepper = "vecPepper#2024";
        let pw = "pässwört-€-秘密";
        let h = hash_admin_password(pepper, pw);
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(parts.len(), 6);
        assert_eq!(&parts[..4], ["", "argon2id", "v=19", "m=65536,t=9,p=4"]);
        assert_eq!(STANDARD_NO_PAD.decode(parts[4]).unwrap().len(), 16);
        assert_eq!(STANDARD_NO_PAD.decode(parts[5]).unwrap().len(), 32);
        assert!(!parts[4].contains('=') && !parts[5].contains('='));
        assert!(verify_admin_password(pepper, pw, &h));
        assert!(!verify_admin_password(pepper, "pässwört", &h));
        assert!(!verify_admin_password("", pw, &h));
        // The hash is over pepper + password, nothing else.
        assert!(verify_admin_password("", &format!("{pepper}{pw}"), &h));
        assert_ne!(h, hash_admin_password(pepper, pw), "fresh salt");
    }

    #[test]
    fn unknown_or_malformed_hashes_are_false() {
        let good = "$pbkdf2-sha512$25000$dmVjLWZpeGVkLXNhbHQxNg$zOyPlZ8UEFLN0SHoLNEX8W5sTkr2t1F7pXQqHALF9xAtuahWsphNS4sosqe/w/eQZC8qZZpWI1PlFwzt22R2Bw";
        assert!(verify_admin_password(
            "vecPepper#2024",
            "Legacy-Pass1",
            good
        ));
        for bad in [
            "",
            "Legacy-Pass1",
            "$1$abc$def",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$pbkdf2-sha256$29000$AAECAwQFBgcICQoLDA0ODw$abc",
            "$pbkdf2-sha512$$dmVjLWZpeGVkLXNhbHQxNg$zOy",
            "$pbkdf2-sha512$0$dmVjLWZpeGVkLXNhbHQxNg$zOyPlZ8UEFLN0SHoLNEX8W5sTkr2t1F7pXQqHALF9xAtuahWsphNS4sosqe/w/eQZC8qZZpWI1PlFwzt22R2Bw",
            "$pbkdf2-sha512$-1$dmVjLWZpeGVkLXNhbHQxNg$zOyPlZ8UEFLN0SHoLNEX8W5sTkr2t1F7pXQqHALF9xAtuahWsphNS4sosqe/w/eQZC8qZZpWI1PlFwzt22R2Bw",
            "$pbkdf2-sha512$25000$dmVjLWZpeGVkLXNhbHQxNg$zOyPlZ8UEFLN0SHoLNEX8W5sTkr2t1F7pXQqHALF9xAtuahWsphNS4sosqe",
            "$pbkdf2-sha512$25000$dmVjLWZpeGVkLXNhbHQxNg$zOyPlZ8UEFLN0SHoLNEX8W5sTkr2t1F7pXQqHALF9xAtuahWsphNS4sosqe/w/eQZC8qZZpWI1PlFwzt22R2Bw$",
            "$pbkdf2-sha512$25000$!!$zOyPlZ8UEFLN0SHoLNEX8W5sTkr2t1F7pXQqHALF9xAtuahWsphNS4sosqe/w/eQZC8qZZpWI1PlFwzt22R2Bw",
            "$argon2id$v=19$m=65536,t=9,p=4$garbage",
            "$argon2id$",
            "$argon2xyz$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!verify_admin_password("vecPepper#2024", "Legacy-Pass1", bad), "{bad:?}");
        }
    }

    #[test]
    fn ab64_round_trip() {
        let data: Vec<u8> = (0u8..=255).collect();
        let enc = ab64_encode(&data);
        assert!(!enc.contains('+') && !enc.contains('='));
        assert!(enc.contains('.'));
        assert_eq!(ab64_decode(&enc).unwrap(), data);
    }
}
