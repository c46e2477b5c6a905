//! `SEA.encrypt`/`decrypt` (AES-256-GCM, a 15-byte IV, the key SHA-256 of
//! the key text and the salt read as Latin-1), `SEA.work` (PBKDF2 or
//! SHA-256) and `SEA.secret` (ECDH).

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::generic_array::typenum::U15;
use aes_gcm::aead::{Aead, KeyInit};
use sha2::{Digest, Sha256};

use super::json::Js;
use super::keys::{self, Pair};
use super::{SeaError, b64};

/// AES-256-GCM with SEA's 15-byte IV.
type Aes256Gcm15 = aes_gcm::AesGcm<aes_gcm::aes::Aes256, U15>;

/// PBKDF2 rounds and output length of `SEA.work`.
const WORK_ROUNDS: u32 = 100_000;
const WORK_BYTES: usize = 64;

/// The text SEA encrypts or hashes for `data`: a string as it is, anything
/// else its JSON.
fn data_text(data: &serde_json::Value) -> String {
    match data {
        serde_json::Value::String(s) => s.clone(),
        other => Js::from_serde(other).stringify(),
    }
}

/// The AES key for a key text and a salt: SHA-256 of the key followed by
/// the salt's bytes as Latin-1 characters, as UTF-8.
fn aes_key(key: &str, salt: &[u8]) -> Aes256Gcm15 {
    let mut combo = String::with_capacity(key.len() + salt.len() * 2);
    combo.push_str(key);
    combo.extend(salt.iter().map(|b| char::from(*b)));
    let hash = Sha256::digest(combo.as_bytes());
    Aes256Gcm15::new(&hash)
}

/// `SEA.encrypt(data, key)`: `SEA{"ct","iv","s"}`. `key` is a pair's
/// `epriv` (encrypting for oneself), a [`secret`], a [`work`] proof or any
/// passphrase. `fill` supplies the random salt and IV (a CSPRNG's).
pub fn encrypt(
    data: &serde_json::Value,
    key: &str,
    mut fill: impl FnMut(&mut [u8]),
) -> Result<String, SeaError> {
    let mut salt = [0u8; 9];
    let mut iv = [0u8; 15];
    fill(&mut salt);
    fill(&mut iv);
    let ct = aes_key(key, &salt)
        .encrypt(GenericArray::from_slice(&iv), data_text(data).as_bytes())
        .map_err(|_| SeaError::Cipher)?;
    let out = Js::object([
        ("ct", Js::String(b64::std(&ct))),
        ("iv", Js::String(b64::std(&iv))),
        ("s", Js::String(b64::std(&salt))),
    ]);
    Ok(format!("SEA{}", out.stringify()))
}

/// `SEA.decrypt(data, key)`: the value encrypted (JSON text read back as
/// the value it holds), or an error when the key is wrong.
pub fn decrypt(data: &str, key: &str) -> Result<serde_json::Value, SeaError> {
    let json = Js::parse_lenient(data);
    let field = |k: &str| {
        json.get(k)
            .and_then(Js::as_str)
            .and_then(b64::decode)
            .ok_or(SeaError::NotEncrypted)
    };
    let (ct, iv, salt) = (field("ct")?, field("iv")?, field("s")?);
    if iv.len() != 15 {
        return Err(SeaError::NotEncrypted);
    }
    let plain = aes_key(key, &salt)
        .decrypt(GenericArray::from_slice(&iv), ct.as_slice())
        .map_err(|_| SeaError::Cipher)?;
    let text = String::from_utf8(plain).map_err(|_| SeaError::Cipher)?;
    Ok(Js::parse_lenient(&text).to_serde())
}

/// `SEA.work(data, salt)`: PBKDF2-HMAC-SHA-256, 100,000 rounds, 64 bytes,
/// in standard base64 (what `user.create`/`auth` stretch passwords with).
pub fn work(data: &serde_json::Value, salt: &str) -> String {
    let mut out = [0u8; WORK_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        data_text(data).as_bytes(),
        salt.as_bytes(),
        WORK_ROUNDS,
        &mut out,
    );
    b64::std(&out)
}

/// `SEA.work(data, null, null, {name: "SHA-256"})`: the SHA-256 of the
/// data's text, in standard base64 (content-addressed `#` souls use it).
pub fn work_sha256(data: &serde_json::Value) -> String {
    sha256_b64(&data_text(data))
}

/// Standard base64 of SHA-256 of `text`.
pub(crate) fn sha256_b64(text: &str) -> String {
    b64::std(&Sha256::digest(text.as_bytes()))
}

/// `SEA.secret(their_epub, pair)`: the ECDH shared secret of `pair`'s
/// `epriv` and another's `epub`, base64url (an AES key text for
/// [`encrypt`]; both sides derive the same).
pub fn secret(their_epub: &str, pair: &Pair) -> Result<String, SeaError> {
    let theirs = keys::public_key(their_epub)?;
    let mine = keys::secret_key(&pair.epriv)?;
    let shared = p256::ecdh::diffie_hellman(mine.to_nonzero_scalar(), theirs.as_affine());
    Ok(b64::url(shared.raw_secret_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypt_then_decrypt() {
        let mut n = 0u8;
        let fill = |b: &mut [u8]| {
            for x in b {
                n = n.wrapping_add(37);
                *x = n;
            }
        };
        let data = serde_json::json!({"x": 1});
        let sealed = encrypt(&data, "passphrase", fill).expect("encrypt");
        assert!(sealed.starts_with(r#"SEA{"ct":""#));
        assert_eq!(decrypt(&sealed, "passphrase").expect("decrypt"), data);
        assert_eq!(decrypt(&sealed, "wrong"), Err(SeaError::Cipher));
        assert_eq!(decrypt("SEA{}", "k"), Err(SeaError::NotEncrypted));
    }

    #[test]
    fn secrets_agree() {
        let a = Pair::from_seed(&[5]);
        let b = Pair::from_seed(&[6]);
        assert_eq!(secret(&b.epub, &a), secret(&a.epub, &b));
    }
}
