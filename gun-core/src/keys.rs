//! BLS key pairs (BLS12-381, min_pk: 48-byte public keys, 96-byte
//! signatures), with the names and derivation the original port took from
//! chia-bls: `SecretKey::from_seed(&seed)` and `secret_key.public_key()`.

use std::fmt;

use crate::error::{GunError, GunResult};

/// A BLS secret key. Its `Debug` form does not show the key.
#[derive(Clone)]
pub struct SecretKey(blst::min_pk::SecretKey);

/// A BLS public key (48 bytes compressed).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(blst::min_pk::PublicKey);

impl SecretKey {
    /// The key chia-bls's `SecretKey::from_seed` derives from `seed` (EIP-2333
    /// `key_gen_v3` with empty key info), as the original port made them.
    ///
    /// # Panics
    /// If `seed` is shorter than 32 bytes, as chia-bls does.
    /// [`SecretKey::try_from_seed`] returns an error instead.
    pub fn from_seed(seed: &[u8]) -> Self {
        match Self::try_from_seed(seed) {
            Ok(k) => k,
            Err(e) => panic!("SecretKey::from_seed: {e}"),
        }
    }

    /// [`SecretKey::from_seed`], failing with [`GunError::Crypto`] when
    /// `seed` is shorter than 32 bytes.
    pub fn try_from_seed(seed: &[u8]) -> GunResult<Self> {
        if seed.len() < 32 {
            return Err(GunError::Crypto(format!(
                "a key seed needs at least 32 bytes, not {}",
                seed.len()
            )));
        }
        blst::min_pk::SecretKey::key_gen_v3(seed, &[])
            .map(Self)
            .map_err(|e| GunError::Crypto(format!("{e:?}")))
    }

    /// The public key of this secret key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.sk_to_pk())
    }

    /// The key's 32 bytes (big-endian scalar).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> GunResult<Self> {
        blst::min_pk::SecretKey::from_bytes(bytes)
            .map(Self)
            .map_err(|e| GunError::Crypto(format!("not a secret key: {e:?}")))
    }

    /// The blst key underneath.
    pub fn as_blst(&self) -> &blst::min_pk::SecretKey {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl PublicKey {
    /// The key's 48 bytes (compressed G1 point).
    pub fn to_bytes(&self) -> [u8; 48] {
        self.0.compress()
    }

    /// A key from its 48 bytes; fails unless they are a valid point of the
    /// group.
    pub fn from_bytes(bytes: &[u8; 48]) -> GunResult<Self> {
        blst::min_pk::PublicKey::key_validate(bytes)
            .map(Self)
            .map_err(|e| GunError::Crypto(format!("not a public key: {e:?}")))
    }

    /// The key as lowercase hex, as the signed mesh writes it in `sigs`.
    pub fn to_hex(&self) -> String {
        gun_proto::auth::hex(&self.to_bytes())
    }

    /// The blst key underneath.
    pub fn as_blst(&self) -> &blst::min_pk::PublicKey {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A key pair from 32 or more bytes of seed: [`SecretKey::try_from_seed`]
/// and its public key.
pub fn keypair_from_seed(ikm: &[u8]) -> GunResult<(SecretKey, PublicKey)> {
    let sk = SecretKey::try_from_seed(ikm)?;
    let pk = sk.public_key();
    Ok((sk, pk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_seed_matches_chia_bls() {
        // chia-bls `PrivateKey.FromSeed` of the BIP-39 seed of "abandon
        // abandon abandon" (empty passphrase).
        let seed = gun_proto::auth::unhex(
            "d7d26a9d0e4b7a2728216a2897481449d02653b9079bbfd5551f82da21a6710d\
             bf763cea70d68cbf5ba614c15b29690315c5c2163488b2e838875af7a6a4a811",
        )
        .expect("hex");
        let sk = SecretKey::from_seed(&seed);
        assert_eq!(
            gun_proto::auth::hex(&sk.to_bytes()),
            "01c0f8ba369c670f348b31d6fd86102953e6099d9404bafe510133b889b16d63"
        );
        let (sk2, pk) = keypair_from_seed(&seed).expect("pair");
        assert_eq!(sk2.public_key(), pk);
        assert_eq!(sk.public_key(), pk);
        assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).expect("valid"), pk);
        assert_eq!(
            SecretKey::from_bytes(&sk.to_bytes())
                .expect("valid")
                .public_key(),
            pk
        );
        assert!(keypair_from_seed(&[0; 31]).is_err());
        assert!(PublicKey::from_bytes(&[0; 48]).is_err());
        assert_eq!(format!("{sk:?}"), "SecretKey(…)");
    }

    #[test]
    #[should_panic(expected = "at least 32 bytes")]
    fn from_seed_panics_on_a_short_seed_as_chia_bls_does() {
        let _ = SecretKey::from_seed(&[1; 8]);
    }
}
