//! Message authentication for the signed mesh: BLS12-381 signatures, as the
//! original Rust port made them (chia-bls: min_pk, 48-byte public keys and
//! 96-byte signatures, the augmented scheme), over bytes every peer computes
//! the same way.
//!
//! - The signed **body** is the message without `#`, `sigs` and `><` (fields
//!   a hop may change), as compact JSON with object keys sorted at every
//!   depth, strings escaped and numbers printed as JavaScript prints them.
//!   Bodies are computed from parsed values, so re-encoding a message on the
//!   way does not change them.
//! - `#` is the lowercase hex SHA-256 of the body.
//! - `sigs` is `[{"sig": hex, "pubkey": hex}, …]`: the origin's signature
//!   first, then one per hop that passed the message on. Every signature is
//!   over the same body (augmented: the signer's public key is prefixed), so
//!   one aggregate check verifies them all; [`verify_batch`] checks many
//!   messages at once with random weights the caller draws from a CSPRNG.
//!
//! Pure computation: no clock, I/O or threads (blst is built `no-threads`).

use std::collections::BTreeSet;
use std::fmt;

use blst::BLST_ERROR;
use blst::min_pk::{AggregateSignature, PublicKey, SecretKey, Signature};
use sha2::{Digest, Sha256};

use crate::jstext;

/// The augmented scheme's domain separation tag (chia-bls `AugSchemeMPL`).
pub const DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_AUG_";

/// Length of a compressed public key.
pub const PUBLIC_KEY_LEN: usize = 48;
/// Length of a compressed signature.
pub const SIGNATURE_LEN: usize = 96;

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `sigs`, and the policy wants them.
    #[error("unsigned message refused by policy")]
    Unsigned,
    /// `#` is not the SHA-256 of the body.
    #[error("message id is not the SHA-256 of its body")]
    WrongId,
    /// `sigs` is not a non-empty array of `{sig, pubkey}` hex entries.
    #[error("malformed sigs entry: {0}")]
    Malformed(String),
    /// A public key or signature is not a valid point.
    #[error("invalid {0}")]
    BadPoint(&'static str),
    /// The signatures do not verify over the body.
    #[error("signature does not verify")]
    BadSignature,
    /// A signer is not among the trusted keys.
    #[error("signer {0} is not trusted")]
    Untrusted(String),
    /// A SEA signature of the message's data does not verify (Gun.js's
    /// words: `Unverified data.`, `Certificate verification fail.`).
    #[error("{0}")]
    Unverified(&'static str),
}

/// A signing key pair.
#[derive(Clone)]
pub struct Signer {
    sk: SecretKey,
    pk: PublicKey,
    pk_hex: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("pubkey", &self.pk_hex)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// From a secret key.
    pub fn new(sk: SecretKey) -> Self {
        let pk = sk.sk_to_pk();
        let pk_hex = hex(&pk.compress());
        Self { sk, pk, pk_hex }
    }

    /// The key pair chia-bls's `SecretKey::from_seed(seed)` gives (and so the
    /// original port's): the IETF draft's `KeyGen` v3 (`key_gen_v3`) with
    /// empty key info. The seed must be at least 32 bytes.
    pub fn from_seed(seed: &[u8]) -> Result<Self, AuthError> {
        SecretKey::key_gen_v3(seed, &[])
            .map(Self::new)
            .map_err(|_| AuthError::Malformed("a seed needs at least 32 bytes".into()))
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.pk
    }

    /// The public key as lowercase hex (96 characters).
    pub fn public_key_hex(&self) -> &str {
        &self.pk_hex
    }

    /// This signer's `sigs` entry for `body`.
    pub fn sign(&self, body: &[u8]) -> serde_json::Value {
        let sig = self.sk.sign(body, DST, &self.pk.compress());
        serde_json::json!({ "sig": hex(&sig.compress()), "pubkey": self.pk_hex })
    }
}

/// Which messages a peer accepts.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// Accept messages without `sigs` (Gun.js peers send none).
    pub accept_unsigned: bool,
    /// `None`: any valid signer. `Some`: every signer of a message must be
    /// one of these (public keys as lowercase hex).
    pub signers: Option<BTreeSet<String>>,
}

impl Default for TrustPolicy {
    /// Unsigned messages accepted; signed ones must verify.
    fn default() -> Self {
        Self {
            accept_unsigned: true,
            signers: None,
        }
    }
}

impl TrustPolicy {
    /// Signed messages only, from any valid signer.
    pub fn signed_only() -> Self {
        Self {
            accept_unsigned: false,
            signers: None,
        }
    }

    /// Whether `pubkey` (hex) may sign.
    pub fn trusts(&self, pubkey: &str) -> bool {
        self.signers.as_ref().is_none_or(|s| s.contains(pubkey))
    }
}

/// A message's signatures, decoded, with the body they sign.
#[derive(Debug, Clone, PartialEq)]
pub struct Signed {
    /// The canonical body.
    pub body: Vec<u8>,
    /// `(public key, its hex, signature)` per entry, in order.
    pub entries: Vec<(PublicKey, String, Signature)>,
}

/// The canonical body of a message: every field but `#`, `sigs` and `><`.
pub fn body(msg: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    let mut out = String::new();
    push_object(
        &mut out,
        msg.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "#" | "sigs" | "><")),
    );
    out.into_bytes()
}

/// An object with its keys sorted, values canonical.
fn push_object<'a>(
    out: &mut String,
    entries: impl Iterator<Item = (&'a String, &'a serde_json::Value)>,
) {
    let mut entries: Vec<_> = entries.collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        jstext::push_string(out, k);
        out.push(':');
        push_canonical(out, v);
    }
    out.push('}');
}

fn push_canonical(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => jstext::push_number(out, n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => jstext::push_string(out, s),
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_canonical(out, item);
            }
            out.push(']');
        }
        J::Object(o) => push_object(out, o.iter()),
    }
}

/// The id a signed message carries: lowercase hex SHA-256 of its body.
pub fn message_id(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// Reads a message's `sigs` (`None` if it has none) and checks its `#`.
/// Points are decoded and validated; signatures are not verified yet.
pub fn signed(
    msg: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<Signed>, AuthError> {
    let Some(sigs) = msg.get("sigs") else {
        return Ok(None);
    };
    let list = sigs
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| AuthError::Malformed("sigs must be a non-empty array".into()))?;
    let body = body(msg);
    if msg.get("#").and_then(serde_json::Value::as_str) != Some(message_id(&body).as_str()) {
        return Err(AuthError::WrongId);
    }
    let mut entries = Vec::with_capacity(list.len());
    for e in list {
        let field = |name: &str, len: usize| {
            e.get(name)
                .and_then(serde_json::Value::as_str)
                .and_then(unhex)
                .filter(|b| b.len() == len)
                .ok_or_else(|| AuthError::Malformed(format!("{name} must be {len} bytes of hex")))
        };
        let pk_bytes = field("pubkey", PUBLIC_KEY_LEN)?;
        let sig_bytes = field("sig", SIGNATURE_LEN)?;
        let pk =
            PublicKey::key_validate(&pk_bytes).map_err(|_| AuthError::BadPoint("public key"))?;
        let sig = Signature::sig_validate(&sig_bytes, true)
            .map_err(|_| AuthError::BadPoint("signature"))?;
        entries.push((pk, hex(&pk_bytes), sig));
    }
    Ok(Some(Signed { body, entries }))
}

/// Checks the signers against the policy.
pub fn check_trust(s: &Signed, policy: &TrustPolicy) -> Result<(), AuthError> {
    match s.entries.iter().find(|(_, h, _)| !policy.trusts(h)) {
        Some((_, h, _)) => Err(AuthError::Untrusted(h.clone())),
        None => Ok(()),
    }
}

/// Verifies all of one message's signatures in one aggregate check.
pub fn verify(s: &Signed) -> Result<(), AuthError> {
    let augmented: Vec<Vec<u8>> = s
        .entries
        .iter()
        .map(|(pk, _, _)| [pk.compress().as_slice(), &s.body].concat())
        .collect();
    let msgs: Vec<&[u8]> = augmented.iter().map(Vec::as_slice).collect();
    let pks: Vec<&PublicKey> = s.entries.iter().map(|(pk, _, _)| pk).collect();
    let sigs: Vec<&Signature> = s.entries.iter().map(|(_, _, sig)| sig).collect();
    let agg = AggregateSignature::aggregate(&sigs, false)
        .map_err(|_| AuthError::BadPoint("signature"))?
        .to_signature();
    match agg.aggregate_verify(false, &msgs, DST, &pks, false) {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(AuthError::BadSignature),
    }
}

/// Verifies the signatures of many messages at once: one multi-pairing with
/// a random 64-bit weight per signature. `random` must come from a CSPRNG
/// and hold 8 bytes per signature (counting every entry of every message).
/// `true` only if every signature verifies; on `false`, check one by one
/// with [`verify`] to find the bad ones.
pub fn verify_batch(messages: &[&Signed], random: &[u8]) -> bool {
    let mut augmented = Vec::new();
    let mut pks = Vec::new();
    let mut sigs = Vec::new();
    for s in messages {
        for (pk, _, sig) in &s.entries {
            augmented.push([pk.compress().as_slice(), &s.body].concat());
            pks.push(pk);
            sigs.push(sig);
        }
    }
    if sigs.is_empty() || random.len() < 8 * sigs.len() {
        return false;
    }
    let rands: Vec<blst::blst_scalar> = random
        .chunks_exact(8)
        .take(sigs.len())
        .map(|c| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(c);
            // A zero weight would let a bad signature through.
            b[0] |= 1;
            blst::blst_scalar { b }
        })
        .collect();
    let msgs: Vec<&[u8]> = augmented.iter().map(Vec::as_slice).collect();
    Signature::verify_multiple_aggregate_signatures(
        &msgs, DST, &pks, false, &sigs, false, &rands, 64,
    ) == BLST_ERROR::BLST_SUCCESS
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Decodes hex (either case); `None` if it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn keys_match_chia_bls_from_seed() {
        // chia-bls `PrivateKey.FromSeed` of the BIP-39 seed of "abandon
        // abandon abandon" (empty passphrase) is 01c0f8ba…6d63.
        let seed = unhex(
            "d7d26a9d0e4b7a2728216a2897481449d02653b9079bbfd5551f82da21a6710d\
             bf763cea70d68cbf5ba614c15b29690315c5c2163488b2e838875af7a6a4a811",
        )
        .unwrap();
        let s = Signer::from_seed(&seed).unwrap();
        assert_eq!(
            hex(&s.sk.to_bytes()),
            "01c0f8ba369c670f348b31d6fd86102953e6099d9404bafe510133b889b16d63"
        );
        assert!(Signer::from_seed(&[1; 31]).is_err());
    }

    #[test]
    fn the_body_ignores_hop_fields_key_order_and_number_spelling() {
        let a = map(json!({"#": "x", "><": "a,b", "sigs": [], "put": {"s": {"b": 1.0, "a": "é"}}}));
        let b = map(serde_json::from_str(r###"{"put":{"s":{"a":"é","b":1}},"#":"y"}"###).unwrap());
        assert_eq!(body(&a), body(&b));
        assert_eq!(
            String::from_utf8(body(&a)).unwrap(),
            r#"{"put":{"s":{"a":"é","b":1}}}"#
        );
    }

    fn sealed(
        signers: &[&Signer],
        msg: serde_json::Value,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut m = map(msg);
        let b = body(&m);
        m.insert("#".into(), json!(message_id(&b)));
        let sigs: Vec<_> = signers.iter().map(|s| s.sign(&b)).collect();
        m.insert("sigs".into(), json!(sigs));
        m
    }

    #[test]
    fn signatures_verify_one_aggregate_and_batched_and_tampering_fails() {
        let a = Signer::from_seed(&[1; 32]).unwrap();
        let b = Signer::from_seed(&[2; 32]).unwrap();
        let m = sealed(
            &[&a, &b],
            json!({"put": {"s": {"_": {"#": "s", ">": {"k": 1}}, "k": "v"}}}),
        );
        let s = signed(&m).unwrap().unwrap();
        assert_eq!(s.entries.len(), 2);
        verify(&s).unwrap();
        let m2 = sealed(&[&b], json!({"get": {"#": "s"}}));
        let s2 = signed(&m2).unwrap().unwrap();
        assert!(verify_batch(&[&s, &s2], &[7; 24]));
        // A tampered value keeps its old id: the id no longer matches.
        let mut t = m.clone();
        t["put"]["s"]["k"] = json!("w");
        assert_eq!(signed(&t).unwrap_err(), AuthError::WrongId);
        // …and with the id recomputed, the signatures fail.
        let nb = body(&t);
        t.insert("#".into(), json!(message_id(&nb)));
        let ts = signed(&t).unwrap().unwrap();
        assert_eq!(verify(&ts), Err(AuthError::BadSignature));
        assert!(!verify_batch(&[&ts, &s2], &[7; 24]));
        // A truncated signature is malformed.
        let mut tr = m.clone();
        let sig = tr["sigs"][0]["sig"].as_str().unwrap()[..100].to_owned();
        tr["sigs"][0]["sig"] = json!(sig);
        assert!(matches!(signed(&tr), Err(AuthError::Malformed(_))));
        // Trust.
        let only_a = TrustPolicy {
            accept_unsigned: false,
            signers: Some([a.public_key_hex().to_owned()].into()),
        };
        assert!(matches!(
            check_trust(&s, &only_a),
            Err(AuthError::Untrusted(_))
        ));
        assert!(check_trust(&s, &TrustPolicy::default()).is_ok());
    }
}
