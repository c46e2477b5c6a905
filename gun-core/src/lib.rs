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
//! - The disk stores ([`store::FileStore`], [`store::SledStore`]), and TLS
//!   configuration ([`tls`], feature `tls`) for `wss://` peers and relays.
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
pub mod error;
mod keys;
pub mod net;
mod options;
pub mod store;
pub mod tls;
pub mod url;
mod verify;
pub mod webrtc;
pub mod ws;

pub use api::{Chain, Gun, OnceCall};
pub use async_gun::{AsyncGun, Transports};
pub use completion::{Completer, Completion, Then, completion};
pub use driver::{Callback, DriverEvent, Link, Shared, StopHook, Transport};
pub use error::{GunError, GunResult};
pub use gun_proto::auth::{Signer, TrustPolicy};
pub use gun_proto::{PeerId, Role};
pub use keys::{PublicKey, SecretKey, keypair_from_seed};
pub use options::{DEFAULT_PORT, GunOptions, MessagePredicate, StoreKind, TlsOptions};
pub use webrtc::WebRTCOptions;

/// The names a user program of the original port imports from `gun::types`.
pub mod types {
    pub use crate::options::MessagePredicate;
}
