//! SEA key pairs: P-256 keys as Gun.js writes them.
//!
//! `pub` and `epub` are the public points' coordinates `x.y`, each 32 bytes
//! in base64url without padding; `priv` and `epriv` the private scalars,
//! likewise. `pub`/`priv` sign (ECDSA), `epub`/`epriv` agree keys (ECDH).

use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde::{Deserialize, Serialize};

use super::{SeaError, b64};

/// A user's key pair, as Gun.js's `SEA.pair()` makes it. Its JSON form is
/// Gun.js's: `{"pub","priv","epub","epriv"}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The signing public key, `x.y`.
    #[serde(rename = "pub")]
    pub pub_key: String,
    /// The signing private key.
    #[serde(rename = "priv")]
    pub priv_key: String,
    /// The encryption (ECDH) public key, `x.y`.
    pub epub: String,
    /// The encryption private key.
    pub epriv: String,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("pub", &self.pub_key)
            .field("epub", &self.epub)
            .finish_non_exhaustive()
    }
}

impl Pair {
    /// A new pair from random bytes that `fill` supplies (a CSPRNG's: the
    /// engine has none, so the caller brings it).
    pub fn generate(mut fill: impl FnMut(&mut [u8])) -> Self {
        let mut scalar = || loop {
            let mut bytes = [0u8; 32];
            fill(&mut bytes);
            if let Ok(sk) = p256::SecretKey::from_slice(&bytes) {
                return sk;
            }
        };
        let sign = scalar();
        let dh = scalar();
        Self::from_keys(&sign, &dh)
    }

    /// A pair derived from `seed` (SHA-256 of a label, the seed and a
    /// counter, until a valid scalar comes out): the same seed, the same
    /// pair. For tests, benchmarks and tools that need repeatable users;
    /// a user's real pair comes from [`Pair::generate`]. (Gun.js 0.2020.1241
    /// has no seeded pairs; these are not any other library's.)
    pub fn from_seed(seed: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let scalar = |label: &[u8]| {
            (0u32..)
                .find_map(|n| {
                    let digest = Sha256::new()
                        .chain_update(label)
                        .chain_update(seed)
                        .chain_update(n.to_be_bytes())
                        .finalize();
                    p256::SecretKey::from_slice(&digest).ok()
                })
                .unwrap_or_else(|| unreachable!("a valid scalar turns up at once"))
        };
        Self::from_keys(&scalar(b"gun-rs sea sign"), &scalar(b"gun-rs sea dh"))
    }

    /// The pair of two private scalars (32 bytes each, big-endian).
    pub fn from_secrets(sign: &[u8; 32], dh: &[u8; 32]) -> Result<Self, SeaError> {
        let key = |b: &[u8; 32]| {
            p256::SecretKey::from_slice(b).map_err(|_| SeaError::BadKey("private key"))
        };
        Ok(Self::from_keys(&key(sign)?, &key(dh)?))
    }

    /// The whole pair from its two private keys as Gun.js writes them
    /// (`priv`, `epriv`), the public halves derived.
    pub fn from_private(priv_key: &str, epriv: &str) -> Result<Self, SeaError> {
        Ok(Self::from_keys(&secret_key(priv_key)?, &secret_key(epriv)?))
    }

    fn from_keys(sign: &p256::SecretKey, dh: &p256::SecretKey) -> Self {
        Self {
            pub_key: point_text(&sign.public_key()),
            priv_key: b64::url(&sign.to_bytes()),
            epub: point_text(&dh.public_key()),
            epriv: b64::url(&dh.to_bytes()),
        }
    }

    /// Whether the public keys are the private keys' (a pair read from
    /// elsewhere may not be).
    pub fn is_consistent(&self) -> bool {
        Self::from_private(&self.priv_key, &self.epriv).is_ok_and(|p| p == *self)
    }
}

/// `x.y` of a public point.
fn point_text(pk: &p256::PublicKey) -> String {
    let point = pk.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        // An uncompressed point always has both coordinates.
        return String::new();
    };
    format!("{}.{}", b64::url(x), b64::url(y))
}

/// A private scalar from its base64url text.
pub(crate) fn secret_key(text: &str) -> Result<p256::SecretKey, SeaError> {
    let bytes = b64::decode(text).ok_or(SeaError::BadKey("private key"))?;
    p256::SecretKey::from_slice(&bytes).map_err(|_| SeaError::BadKey("private key"))
}

/// A public key `x.y` as SEC1 uncompressed bytes (`04 ‖ x ‖ y`), its
/// coordinates 32 bytes each. Whether it is a point of the curve is checked
/// where it is used.
pub fn public_key_bytes(text: &str) -> Result<[u8; 65], SeaError> {
    let bad = SeaError::BadKey("public key");
    let (x, y) = text.split_once('.').ok_or(bad.clone())?;
    let (x, y) = (
        b64::decode(x).ok_or(bad.clone())?,
        b64::decode(y).ok_or(bad.clone())?,
    );
    if x.len() != 32 || y.len() != 32 {
        return Err(bad);
    }
    let mut out = [0u8; 65];
    out[0] = 4;
    out[1..33].copy_from_slice(&x);
    out[33..].copy_from_slice(&y);
    Ok(out)
}

/// A public key `x.y` as a curve point.
pub(crate) fn public_key(text: &str) -> Result<p256::PublicKey, SeaError> {
    p256::PublicKey::from_sec1_bytes(&public_key_bytes(text)?)
        .map_err(|_| SeaError::BadKey("public key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_halves_derive_from_the_private_ones() {
        let pair = Pair::generate(|b| b.fill(7));
        assert!(pair.is_consistent());
        assert_eq!(pair.pub_key.len(), 87);
        assert_eq!(pair.priv_key.len(), 43);
        let again = Pair::from_private(&pair.priv_key, &pair.epriv).expect("pair");
        assert_eq!(again, pair);
        assert!(public_key(&pair.pub_key).is_ok());
        assert!(public_key("AAAA.BBBB").is_err());
    }

    #[test]
    fn seeded_pairs_repeat() {
        assert_eq!(Pair::from_seed(b"a"), Pair::from_seed(b"a"));
        assert_ne!(Pair::from_seed(b"a"), Pair::from_seed(b"b"));
        assert!(Pair::from_seed(b"a").is_consistent());
    }

    #[test]
    fn json_form_is_gunjs() {
        let pair = Pair::generate(|b| b.fill(9));
        let v = serde_json::to_value(&pair).expect("json");
        assert_eq!(v["pub"], pair.pub_key.as_str());
        assert_eq!(v["epriv"], pair.epriv.as_str());
        assert!(!format!("{pair:?}").contains(&pair.priv_key));
    }
}
