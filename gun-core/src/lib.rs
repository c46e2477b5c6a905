//! # gun-core: what every gun-rs driver shares
//!
//! - The user API, written once: [`Gun`], [`Chain`], [`GunOptions`],
//!   [`GunError`], [`SecretKey`]/[`PublicKey`], with the names and
//!   signatures the original port (`gun` 1.0.4) documented. Calls return
//!   futures ([`Completion`], [`Then`], [`OnceCall`]) that blocking code
//!   waits on (`wait()`) and async code awaits, on any runtime.
//! - Offline first: an instance without a disk store keeps a memory store,
//!   so a put is settled locally at once and reaches peers when they connect.
//! - The driver thread that runs the [`gun_proto::Engine`]: it feeds the
//!   engine every event that is waiting, then drains its outputs once, so one
//!   store write (one flush) serves every put of that turn.
//! - A callback thread: listener callbacks run outside the driver, so a
//!   callback may call the API (even a blocking `put`) without deadlock.
//! - The disk stores ([`store::KvStore`] on redb, fjall or sled,
//!   [`store::SledStore`], [`store::FileStore`]), and TLS
//!   configuration ([`transport::tls`], feature `tls`) for `wss://` peers and relays.
//! - For async drivers: [`AsyncGun`], the async handle with its constructors.
//!
//! The root is the user API. Driver crates add only transports, through
//! [`transport`]: they report connections and frames to the driver through
//! a [`transport::Transport`] and take frames from their
//! [`transport::Link`]; the async WebSocket loop they share is
//! [`transport::ws`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod async_gun;
mod chain;
mod completion;
mod driver;
pub mod error;
mod keys;
mod metrics;
mod options;
pub mod sea;
pub mod store;
pub mod transport;
mod user;
pub mod webrtc;

pub use api::Gun;
pub use async_gun::AsyncGun;
pub use chain::{Chain, OnceCall};
pub use completion::{Completion, Then};
pub use error::{GunError, GunResult};
pub use gun_proto::auth::{Signer, TrustPolicy};
pub use keys::{PublicKey, SecretKey, keypair_from_seed};
pub use options::{DEFAULT_PORT, GunOptions, MessagePredicate, Quotas, StoreKind, TlsOptions};
pub use transport::multicast::MulticastOptions;
pub use user::{User, UserInfo};
pub use webrtc::WebRTCOptions;

/// The names a user program of the original port imports from `gun::types`.
pub mod types {
    pub use crate::options::MessagePredicate;
}
