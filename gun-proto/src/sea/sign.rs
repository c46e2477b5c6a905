//! `SEA.sign` and `SEA.verify`: ECDSA P-256 over SHA-256 of SHA-256 of the
//! signed text (WebCrypto hashes the 32-byte digest SEA hands it), the
//! signature raw `r ‖ s` in standard base64.
//!
//! Signing uses the `p256` crate (RFC 6979 nonces: no randomness needed, so
//! the engine can sign its user's writes); verifying uses `ring`, whose
//! P-256 is several times faster, for relays verify every user write.

use p256::ecdsa::signature::Signer as _;
use sha2::{Digest, Sha256};

use super::json::Js;
use super::keys::{self, Pair};
use super::{SeaError, b64};

/// One signature to check: `sig` by the key `key` over the digest of a
/// text. Made where the rules are applied (cheap), verified where the
/// driver chooses (the expensive part).
#[derive(Clone, PartialEq, Eq)]
pub struct Proof {
    key: [u8; 65],
    digest: [u8; 32],
    sig: Vec<u8>,
    why: &'static str,
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proof")
            .field("why", &self.why)
            .finish_non_exhaustive()
    }
}

impl Proof {
    /// `sig` (base64) by `pub_key` (`x.y`) over `text`; a refusal saying
    /// `why` when either is malformed.
    pub fn new(
        pub_key: &str,
        text: &str,
        sig: &str,
        why: &'static str,
    ) -> Result<Self, &'static str> {
        let key = keys::public_key_bytes(pub_key).map_err(|_| why)?;
        let sig = b64::decode(sig).filter(|s| s.len() == 64).ok_or(why)?;
        Ok(Self {
            key,
            digest: Sha256::digest(text.as_bytes()).into(),
            sig,
            why,
        })
    }

    /// Whether the signature is good.
    pub fn verify(&self) -> bool {
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &self.key[..],
        );
        key.verify(&self.digest, &self.sig).is_ok()
    }

    /// What a refusal says when it fails (Gun.js's words).
    pub fn why(&self) -> &'static str {
        self.why
    }
}

/// The signature (standard base64 of `r ‖ s`) of `text` by `pair`.
pub(crate) fn signature(text: &str, pair: &Pair) -> Result<String, SeaError> {
    let sk = keys::secret_key(&pair.priv_key)?;
    let key = p256::ecdsa::SigningKey::from(&sk);
    let digest = Sha256::digest(text.as_bytes());
    let sig: p256::ecdsa::Signature = key.sign(&digest);
    Ok(b64::std(&sig.to_bytes()))
}

/// `SEA.sign(data, pair)`: `SEA{"m":data,"s":signature}`. A string that is
/// JSON is signed as the value it holds (as Gun.js does); data already
/// signed by this pair comes back as it is.
pub fn sign(data: &serde_json::Value, pair: &Pair) -> Result<String, SeaError> {
    let m = match data {
        serde_json::Value::String(s) => Js::parse_lenient(s),
        other => Js::from_serde(other),
    };
    sign_js(m, pair)
}

/// [`sign`] of a value already in JavaScript's form (its key order kept).
pub fn sign_js(m: Js, pair: &Pair) -> Result<String, SeaError> {
    if m.get("m").is_some() && m.get("s").is_some() && verify_js(&m, &pair.pub_key).is_ok() {
        return Ok(format!("SEA{}", m.stringify()));
    }
    let s = signature(&m.hash_text(), pair)?;
    Ok(format!(
        "SEA{}",
        Js::object([("m", m), ("s", Js::String(s))]).stringify()
    ))
}

/// `SEA.verify(signed, pub)`: the signed data when `pub` signed it.
pub fn verify(signed: &str, pub_key: &str) -> Result<serde_json::Value, SeaError> {
    verify_js(&Js::parse_lenient(signed), pub_key).map(|m| m.to_serde())
}

/// [`verify`] of a parsed `{m, s}`: `m` (a string `m` parsed when it is JSON).
pub fn verify_js(signed: &Js, pub_key: &str) -> Result<Js, SeaError> {
    let m = signed.get("m").ok_or(SeaError::NotSigned)?;
    let s = signed
        .get("s")
        .and_then(Js::as_str)
        .ok_or(SeaError::NotSigned)?;
    let proof = Proof::new(pub_key, &m.hash_text(), s, "Signature did not match.")
        .map_err(|_| SeaError::BadSignature)?;
    if !proof.verify() {
        return Err(SeaError::BadSignature);
    }
    Ok(match m {
        Js::String(text) => Js::parse_lenient(text),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify() {
        let pair = Pair::from_seed(&[3]);
        let other = Pair::from_seed(&[4]);
        let data = serde_json::json!({"b": 1, "a": "x"});
        let signed = sign(&data, &pair).expect("sign");
        assert!(
            signed.starts_with(r#"SEA{"m":{"a":"x","b":1},"s":""#),
            "{signed}"
        );
        assert_eq!(verify(&signed, &pair.pub_key).expect("verify"), data);
        assert_eq!(verify(&signed, &other.pub_key), Err(SeaError::BadSignature));
        let again = sign(&serde_json::Value::String(signed.clone()), &pair).expect("sign");
        assert_eq!(again, signed, "already signed: as it is");
        let hello = sign(&serde_json::json!("hello"), &pair).expect("sign");
        assert!(hello.starts_with(r#"SEA{"m":"hello","s":"#));
        let tampered = hello.replace("hello", "hullo");
        assert!(verify(&tampered, &pair.pub_key).is_err());
    }
}
