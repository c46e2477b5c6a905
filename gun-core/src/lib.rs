//! # gun-core: what every gun-rs driver shares
//!
//! - The user API, written once: [`Gun`], [`Chain`], [`GunOptions`],
//!   [`GunError`]. Calls return [`Completion`]s, which blocking code waits on
//!   ([`Completion::wait`]) and async code awaits, on any runtime.
//! - The driver thread that runs the [`gun_proto::Engine`]: it feeds the
//!   engine every event that is waiting, then drains its outputs once, so one
//!   store write (one flush) serves every put of that turn.
//! - A callback thread: listener callbacks run outside the driver, so a
//!   callback may call the API (even a blocking `put`) without deadlock.
//! - The disk stores ([`store::FileStore`], [`store::SledStore`]).
//! - For async drivers: [`AsyncGun`], the async handle with its constructors,
//!   and [`ws`], the WebSocket connection loop, generic over the socket and a
//!   small [`ws::Runtime`] (spawn, sleep).
//!
//! Driver crates add only transports: they report connections and frames to
//! the driver through a [`Transport`] and take frames from their [`Link`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod async_gun;
mod completion;
mod driver;
mod error;
mod gate;
pub mod net;
mod options;
pub mod store;
pub mod url;
pub mod ws;

pub use api::{Chain, Gun};
pub use async_gun::{AsyncGun, Transports};
pub use blst::min_pk::{PublicKey, SecretKey};
pub use completion::{Completer, Completion, completion};
pub use driver::{Callback, DriverEvent, Link, OnceCallback, Shared, StopHook, Transport};
pub use error::{GunError, GunResult};
pub use gun_proto::auth::{Signer, TrustPolicy};
pub use gun_proto::{PeerId, Role};
pub use options::{GunOptions, MessagePredicate, StoreKind};

/// A BLS key pair (min_pk, 48-byte public keys) from 32 or more bytes of
/// seed, as the original port's `SecretKey::from_seed` (chia-bls) derives
/// it: `key_gen_v3` with empty key info.
pub fn keypair_from_seed(ikm: &[u8]) -> GunResult<(SecretKey, PublicKey)> {
    let sk = SecretKey::key_gen_v3(ikm, &[]).map_err(|e| GunError::Crypto(format!("{e:?}")))?;
    let pk = sk.sk_to_pk();
    Ok((sk, pk))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keypair_from_seed_matches_chia_bls() {
        // chia-bls `PrivateKey.FromSeed` of the BIP-39 seed of "abandon
        // abandon abandon" (empty passphrase).
        let seed = gun_proto::auth::unhex(
            "d7d26a9d0e4b7a2728216a2897481449d02653b9079bbfd5551f82da21a6710d\
             bf763cea70d68cbf5ba614c15b29690315c5c2163488b2e838875af7a6a4a811",
        )
        .unwrap();
        let (sk, pk) = super::keypair_from_seed(&seed).unwrap();
        assert_eq!(
            gun_proto::auth::hex(&sk.to_bytes()),
            "01c0f8ba369c670f348b31d6fd86102953e6099d9404bafe510133b889b16d63"
        );
        assert_eq!(sk.sk_to_pk(), pk);
        assert!(super::keypair_from_seed(&[0; 31]).is_err());
    }
}
