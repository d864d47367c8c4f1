//! privacyIDEA's value encryption (`lib/crypto.py`, `lib/security/default.py`).
//!
//! AES-256-CBC with a 32-byte slot key of the enckey and PKCS#7 padding. One-column values
//! (`encryptPassword`, `encryptPin`, challenge data, the `@@` token PIN) are stored as
//! `hex(iv) ":" hex(ciphertext)`; token seeds and user/SO PINs keep the IV in a second column
//! ([`encrypt_with_iv`] / [`decrypt_with_iv`]).
//!
//! Decryption mirrors privacyIDEA's `aes_decrypt`: a strict PKCS#7 unpad, and if that fails
//! the legacy layout `hexlify(data) + 01 02 + 00…`: cut at the last `01 02`, then unhex.

use ::aes::Aes256;
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use zeroize::Zeroizing;

use super::CryptoError;

type Enc = cbc::Encryptor<Aes256>;
type Dec = cbc::Decryptor<Aes256>;

const BLOCK: usize = 16;

/// Encrypt with a fresh random IV and PKCS#7: lowercase `hex(iv):hex(ct)`, the form of
/// `encryptPassword` (slot 1) and `encryptPin` (slot 0).
pub fn encrypt_value(key: &[u8; 32], plaintext: &[u8]) -> String {
    let iv: [u8; 16] = super::random_bytes();
    let ct = encrypt_with_iv(key, &iv, plaintext);
    format!("{}:{}", hex::encode(iv), hex::encode(ct))
}

/// Decrypt a `hex(iv):hex(ct)` value (split at the first `:`). Strict PKCS#7, else the legacy
/// layout; anything else (not hex, wrong IV length, wrong key, …) is an error.
pub fn decrypt_value(key: &[u8; 32], text: &str) -> Result<Vec<u8>, CryptoError> {
    let (iv_hex, ct_hex) = text
        .split_once(':')
        .ok_or_else(|| CryptoError::Decrypt("expected hex(iv):hex(ciphertext)".into()))?;
    let iv = hex::decode(iv_hex).map_err(|_| CryptoError::Decrypt("IV is not hex".into()))?;
    let ct =
        hex::decode(ct_hex).map_err(|_| CryptoError::Decrypt("ciphertext is not hex".into()))?;
    decrypt_with_iv(key, &iv, &ct)
}

/// [`decrypt_value`] followed by UTF-8 decoding, like privacyIDEA's `decryptPassword` /
/// `decryptPin`, which return text.
pub fn decrypt_value_str(key: &[u8; 32], text: &str) -> Result<String, CryptoError> {
    let bytes = decrypt_value(key, text)?;
    String::from_utf8(bytes)
        .map_err(|_| CryptoError::Decrypt("decrypted value is not UTF-8 (wrong key?)".into()))
}

/// Raw AES-256-CBC with PKCS#7 and the given IV (`lib.crypto.encrypt`, token `key_enc`).
pub fn encrypt_with_iv(key: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    Enc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

/// Inverse of [`encrypt_with_iv`], with the legacy fallback of [`decrypt_value`].
pub fn decrypt_with_iv(
    key: &[u8; 32],
    iv: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let raw = cbc_decrypt_raw(key, iv, ciphertext)?;
    unpad_or_legacy(&raw)
}

/// AES-256-CBC decryption without removing any padding. The ciphertext must be a non-empty
/// multiple of 16 bytes, the IV 16 bytes.
pub(crate) fn cbc_decrypt_raw(
    key: &[u8; 32],
    iv: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let iv: &[u8; 16] = iv
        .try_into()
        .map_err(|_| CryptoError::Decrypt(format!("IV must be 16 bytes, found {}", iv.len())))?;
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK) {
        return Err(CryptoError::Decrypt(format!(
            "ciphertext must be a non-empty multiple of 16 bytes, found {}",
            ciphertext.len()
        )));
    }
    Dec::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<NoPadding>(ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Decrypt("bad ciphertext length".into()))
}

/// Raw AES-256-CBC encryption of a plaintext that is already a multiple of 16 bytes.
pub(crate) fn cbc_encrypt_raw(key: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    debug_assert_eq!(plaintext.len() % BLOCK, 0);
    Enc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<NoPadding>(plaintext)
}

/// Length of a valid PKCS#7 padding at the end of `raw`, if there is one.
fn pkcs7_len(raw: &[u8]) -> Option<usize> {
    let n = *raw.last()? as usize;
    if n == 0 || n > BLOCK || n > raw.len() {
        return None;
    }
    raw[raw.len() - n..]
        .iter()
        .all(|&b| b as usize == n)
        .then_some(n)
}

/// Position of the last `01 02` in `raw`.
pub(crate) fn rfind_marker(raw: &[u8]) -> Option<usize> {
    raw.windows(2).rposition(|w| w == [1, 2])
}

/// privacyIDEA's `aes_decrypt` tail: strict PKCS#7, else cut at the last `01 02` (if any)
/// and unhexlify.
fn unpad_or_legacy(raw: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if let Some(n) = pkcs7_len(raw) {
        return Ok(raw[..raw.len() - n].to_vec());
    }
    let body = match rfind_marker(raw) {
        Some(pos) => &raw[..pos],
        None => raw,
    };
    hex::decode(body).map_err(|_| {
        CryptoError::Decrypt("neither PKCS#7 nor the legacy layout (wrong key?)".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const CRYPTO_JSON: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/crypto.json"
    ));
    const ENCKEY: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crypto/enckey"
    ));

    fn vectors() -> Value {
        serde_json::from_str(CRYPTO_JSON).unwrap()
    }

    fn slot(n: usize) -> [u8; 32] {
        ENCKEY[n * 32..(n + 1) * 32].try_into().unwrap()
    }

    fn s(v: &Value) -> &str {
        v.as_str().unwrap()
    }

    #[test]
    fn key_file_slots_match_vectors() {
        let v = vectors();
        assert_eq!(hex::encode(ENCKEY), s(&v["enckey"]["hex"]));
        assert_eq!(hex::encode(slot(0)), s(&v["enckey"]["slot0_token_key_hex"]));
        assert_eq!(
            hex::encode(slot(1)),
            s(&v["enckey"]["slot1_config_key_hex"])
        );
        assert_eq!(hex::encode(slot(2)), s(&v["enckey"]["slot2_value_key_hex"]));
    }

    #[test]
    fn decrypts_every_encrypt_password_vector_with_slot1() {
        let v = vectors();
        let entries = v["encryptPassword_slot1"].as_array().unwrap();
        assert_eq!(entries.len(), 10);
        for e in entries {
            let got = decrypt_value_str(&slot(1), s(&e["ciphertext"])).unwrap();
            assert!(got == s(&e["plaintext"]), "{}", s(&e["label"]));
            assert_eq!(got, s(&e["decryptPassword_result"]));
            // The raw CBC output shows the PKCS#7 padding privacyIDEA applied.
            let raw = cbc_decrypt_raw(
                &slot(1),
                &hex::decode(s(&e["iv_hex"])).unwrap(),
                &hex::decode(s(&e["ct_hex"])).unwrap(),
            )
            .unwrap();
            assert_eq!(hex::encode(&*raw), s(&e["raw_aes_cbc_decrypted_hex"]));
            // …and we produce the identical ciphertext with the same IV.
            let iv: [u8; 16] = hex::decode(s(&e["iv_hex"])).unwrap().try_into().unwrap();
            assert_eq!(
                hex::encode(encrypt_with_iv(&slot(1), &iv, got.as_bytes())),
                s(&e["ct_hex"])
            );
        }
    }

    #[test]
    fn decrypts_every_encrypt_pin_vector_with_slot0() {
        let v = vectors();
        let entries = v["encryptPin_slot0"].as_array().unwrap();
        assert_eq!(entries.len(), 4);
        for e in entries {
            let got = decrypt_value_str(&slot(0), s(&e["ciphertext"])).unwrap();
            assert!(got == s(&e["plaintext"]), "{}", s(&e["label"]));
            assert_eq!(got, s(&e["decryptPin_result"]));
        }
    }

    #[test]
    fn slot2_encrypt_vector() {
        let v = vectors();
        let e = &v["encrypt_slot2_value_key"];
        let iv = hex::decode(s(&e["iv_hex"])).unwrap();
        let ct = hex::decode(s(&e["ct_hex"])).unwrap();
        let got = decrypt_with_iv(&slot(2), &iv, &ct).unwrap();
        assert_eq!(hex::encode(&got), s(&e["decrypt_result_bytes_hex"]));
        assert_eq!(got, s(&e["plaintext"]).as_bytes());
        let iv: [u8; 16] = iv.try_into().unwrap();
        assert_eq!(encrypt_with_iv(&slot(2), &iv, &got), ct);
    }

    #[test]
    fn token_row_columns_decrypt_with_slot0() {
        let v = vectors();
        let t = &v["token_row"];
        let row = &t["row"];
        // key_enc / key_iv: the plaintext is the ASCII hex string of the seed.
        let seed = decrypt_with_iv(
            &slot(0),
            &hex::decode(s(&row["key_iv"])).unwrap(),
            &hex::decode(s(&row["key_enc"])).unwrap(),
        )
        .unwrap();
        assert_eq!(hex::encode(&seed), s(&t["key_enc_decrypted_bytes_hex"]));
        assert_eq!(seed, s(&t["key_enc_decrypted_ascii"]).as_bytes());
        assert_eq!(seed, s(&t["otpkey_hex_input"]).as_bytes());
        // pin_hash = "@@" + iv:ct
        let pin_hash = s(&row["pin_hash"]);
        let enc_pin = pin_hash.strip_prefix("@@").unwrap();
        assert_eq!(
            decrypt_value_str(&slot(0), enc_pin).unwrap(),
            s(&t["pin_plaintext"])
        );
        assert_eq!(
            s(&t["pin_plaintext"]),
            s(&t["pin_hash_decryptPin_of_suffix"])
        );
        // user_pin / user_pin_iv
        let user_pin = decrypt_with_iv(
            &slot(0),
            &hex::decode(s(&row["user_pin_iv"])).unwrap(),
            &hex::decode(s(&row["user_pin"])).unwrap(),
        )
        .unwrap();
        assert_eq!(
            hex::encode(&user_pin),
            s(&t["user_pin_decrypted_bytes_hex"])
        );
        assert_eq!(user_pin, s(&t["user_pin_plaintext"]).as_bytes());
    }

    #[test]
    fn token_key_encrypt_direct_vectors() {
        let v = vectors();
        for e in v["token_key_encrypt_direct"]["entries"].as_array().unwrap() {
            let iv: [u8; 16] = hex::decode(s(&e["key_iv"])).unwrap().try_into().unwrap();
            let ct = hex::decode(s(&e["key_enc"])).unwrap();
            let got = decrypt_with_iv(&slot(0), &iv, &ct).unwrap();
            assert_eq!(got, s(&e["decrypt_result_ascii"]).as_bytes());
            assert_eq!(got, s(&e["otpkey_hex"]).as_bytes());
            assert_eq!(encrypt_with_iv(&slot(0), &iv, &got), ct);
        }
    }

    #[test]
    fn decrypts_every_legacy_entry() {
        let v = vectors();
        let entries = v["legacy_format"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 6);
        for e in entries {
            let label = s(&e["label"]);
            assert_eq!(e["decrypts_to_plaintext"], Value::Bool(true));
            let key = slot(e["slot"].as_u64().unwrap() as usize);
            let got = if let Some(ct) = e.get("ciphertext") {
                decrypt_value(&key, s(ct)).unwrap()
            } else {
                decrypt_with_iv(
                    &key,
                    &hex::decode(s(&e["key_iv"])).unwrap(),
                    &hex::decode(s(&e["key_enc"])).unwrap(),
                )
                .unwrap()
            };
            assert!(got == s(&e["plaintext"]).as_bytes(), "{label}");
            if let Some(r) = e.get("decrypt_result") {
                assert!(got == s(r).as_bytes(), "{label}");
            }
            if let Some(r) = e.get("decrypt_result_bytes_hex") {
                assert!(hex::encode(&got) == s(r), "{label}");
            }
        }
    }

    #[test]
    fn negative_entries_fail() {
        let v = vectors();
        let entries = v["negative"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        for e in entries {
            let r = decrypt_value_str(&slot(1), s(&e["ciphertext"]));
            assert!(r.is_err(), "{}", s(&e["label"]));
        }
    }

    #[test]
    fn malformed_values_fail_without_panicking() {
        let k = slot(1);
        for bad in [
            "",
            ":",
            "no colon",
            "00112233445566778899aabbccddeeff:",
            "00112233445566778899aabbccddeeff:00",
            "0011:7abbcf53377ce6849bf8566be32367a1",
            "eafd974e7e5e9be7ae29abe378c81463:7abbcf53377ce6849bf8566be32367a1:00",
            "eafd974e7e5e9be7ae29abe378c81463:7abbcf53377ce6849bf8566be32367a",
        ] {
            assert!(decrypt_value(&k, bad).is_err(), "{bad:?}");
        }
        assert!(decrypt_with_iv(&k, &[0u8; 15], &[0u8; 16]).is_err());
        assert!(decrypt_with_iv(&k, &[0u8; 16], &[]).is_err());
    }

    #[test]
    fn own_output_has_privacyidea_format_and_round_trips() {
        let re = regex::Regex::new("^[0-9a-f]{32}:([0-9a-f]{32})+$").unwrap();
        let key = slot(1);
        let mut seen = std::collections::HashSet::new();
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let ct = encrypt_value(&key, &pt);
            assert!(re.is_match(&ct), "length {len}");
            // PKCS#7 always adds 1..=16 bytes.
            assert_eq!(ct.len(), 33 + 2 * (len / 16 + 1) * 16);
            assert_eq!(decrypt_value(&key, &ct).unwrap(), pt);
            assert!(seen.insert(ct[..32].to_string()), "IVs must be fresh");
        }
        let text = "Pässwörd-€-日本語";
        assert_eq!(
            decrypt_value_str(&key, &encrypt_value(&key, text.as_bytes())).unwrap(),
            text
        );
    }

    #[test]
    fn pkcs7_is_strict() {
        assert_eq!(pkcs7_len(&[0x10; 16]), Some(16));
        assert_eq!(pkcs7_len(&[1, 2, 3, 1]), Some(1));
        assert_eq!(pkcs7_len(&[3, 2, 2]), Some(2));
        assert_eq!(pkcs7_len(&[1, 3, 2]), None);
        assert_eq!(pkcs7_len(&[0; 16]), None);
        assert_eq!(pkcs7_len(&[0x11; 32]), None);
        assert_eq!(pkcs7_len(&[]), None);
    }
}
