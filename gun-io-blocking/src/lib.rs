//! # gun-io-blocking: Gun on OS threads
//!
//! The gun-rs user API with blocking calls, over a tungstenite WebSocket
//! client (reconnecting with backoff, resubscribing, `ws://` and `wss://`)
//! and relay server. The names are the async drivers' (and the original
//! port's); each call returns when its async counterpart would resolve.
//!
//! ```no_run
//! use gun_io_blocking::{Gun, GunOptions};
//! use serde_json::json;
//!
//! let relay = Gun::without_keys(GunOptions::relay_server(8765))?;
//! let alice = Gun::without_keys(GunOptions::with_relay("ws://127.0.0.1:8765/gun"))?;
//! alice.wait_for_connection(2_000);
//! alice.get("user/alice").put(json!({"name": "Alice"}))?;        // settled locally
//! alice.get("user/alice").put_acked(json!({"age": 30}))?;        // acked by the relay
//! alice.get("user/alice").get("name").once(|v, _key| println!("{v}"))?;
//! # drop(relay);
//! # Ok::<(), gun_io_blocking::GunError>(())
//! ```
//!
//! Each instance runs a driver thread (the engine and its store), a callback
//! thread, and a thread per connection. Callbacks run on the callback thread,
//! so a callback may call the API, a blocking `put` included.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod rtc;
mod stream;
mod ws;

use std::net::SocketAddr;

#[cfg(feature = "sled")]
pub use gun_core::store::SledStore;
pub use gun_core::store::{BoxStore, FileStore, open_kind as open_store};
pub use gun_core::{
    GunError, GunOptions, GunResult, MessagePredicate, PublicKey, Quotas, SecretKey, Signer,
    StoreKind, TlsOptions, TrustPolicy, UserInfo, keypair_from_seed, sea, types, webrtc,
};

/// The names the original port's users import from `gun::error`.
pub mod error {
    pub use gun_core::error::{Detail, GunError, GunResult};
}

/// The names the original port's users import from `gun::chain`.
pub mod chain {
    pub use crate::Chain;
}

/// A Gun instance whose calls block. Clones share the instance.
#[derive(Debug, Clone)]
pub struct Gun {
    core: gun_core::Gun,
    addr: Option<SocketAddr>,
}

impl Gun {
    /// An instance with a BLS key pair, in memory, with no peers (see
    /// [`gun_core::Gun::new`]).
    ///
    /// # Panics
    /// If the OS cannot start a thread, as `std::thread::spawn` does.
    pub fn new(secret_key: SecretKey, public_key: PublicKey) -> Self {
        Self {
            core: gun_core::Gun::new(secret_key, public_key),
            addr: None,
        }
    }

    /// An instance with a BLS key pair and the given options: its store
    /// opened, its relay listening (when `super_peer`), its peers being dialed.
    pub fn with_options(
        secret_key: SecretKey,
        public_key: PublicKey,
        opts: GunOptions,
    ) -> GunResult<Self> {
        Self::start(opts, Some((secret_key, public_key)), None)
    }

    /// An instance without keys: a plain peer, as a Gun.js peer is.
    pub fn without_keys(opts: GunOptions) -> GunResult<Self> {
        Self::start(opts, None, None)
    }

    /// An instance on a store of your own (instead of the options' disk store).
    pub fn with_store(opts: GunOptions, store: BoxStore) -> GunResult<Self> {
        Self::start(opts, None, Some(store))
    }

    fn start(
        opts: GunOptions,
        keys: Option<(SecretKey, PublicKey)>,
        store: Option<BoxStore>,
    ) -> GunResult<Self> {
        let tls = gun_core::transport::tls::Configs::for_options(&opts)?;
        let core = gun_core::Gun::start(opts.clone(), keys, store)?;
        let mut addr = None;
        if opts.super_peer {
            match ws::serve(&opts.host, opts.serve_port(), core.transport(), &tls) {
                Ok((a, h)) => {
                    addr = Some(a);
                    core.adopt_thread(h);
                }
                Err(e) => {
                    core.shutdown_blocking()?;
                    let at = format!("cannot listen on {}:{}", opts.host, opts.serve_port());
                    return Err(GunError::io(at, e));
                }
            }
        }
        for url in &opts.peers {
            let url = gun_core::transport::url::PeerUrl::parse(url)?;
            core.adopt_thread(ws::dial(url, opts.max_backoff, core.transport(), &tls)?);
        }
        if opts.webrtc.enabled {
            let threads = match rtc::start(core.transport(), &opts.webrtc) {
                Ok(t) => t,
                Err(e) => {
                    core.shutdown_blocking()?;
                    return Err(GunError::io("cannot start the WebRTC peers", e));
                }
            };
            for t in threads {
                core.adopt_thread(t);
            }
        }
        Ok(Self { core, addr })
    }

    /// The address the relay listens on (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The node at `soul`.
    pub fn get(&self, soul: impl Into<String>) -> Chain {
        Chain(self.core.get(soul))
    }

    /// The root of the graph.
    pub fn root(&self) -> Chain {
        Chain(self.core.root())
    }

    /// A fresh state (Gun.js's `Gun.state()`).
    pub fn state(&self) -> f64 {
        self.core.state()
    }

    /// The instance's user (Gun.js's `gun.user()`; see [`gun_core::User`]).
    pub fn user(&self) -> User {
        User(self.core.user())
    }

    /// The space `~<pub>` of the user with public key `pub_key` (Gun.js's
    /// `gun.user(pub)`).
    pub fn user_at(&self, pub_key: &str) -> Chain {
        Chain(self.core.user_at(pub_key))
    }

    /// Connected peers now.
    pub fn connected_peer_count(&self) -> usize {
        self.core.connected_peer_count()
    }

    /// Whether any peer is connected.
    pub fn is_connected(&self) -> bool {
        self.core.is_connected()
    }

    /// Waits up to `timeout_ms` for a peer; `true` if one is connected.
    pub fn wait_for_connection(&self, timeout_ms: u64) -> bool {
        self.core
            .wait_for_connection(timeout_ms)
            .wait()
            .unwrap_or(false)
    }

    /// How many WebRTC peers are connected now (see [`webrtc::WebRTCOptions`]).
    pub fn webrtc_peers(&self) -> usize {
        self.core.webrtc_peers()
    }

    /// Stops the instance: writes flushed, connections closed, threads joined.
    pub fn shutdown(&self) -> GunResult<()> {
        self.core.shutdown_blocking()
    }

    /// The runtime-neutral handle underneath.
    pub fn core(&self) -> &gun_core::Gun {
        &self.core
    }
}

/// The user of an instance, with blocking calls (see [`gun_core::User`]
/// for what each does).
#[derive(Debug, Clone)]
pub struct User(gun_core::User);

impl User {
    /// Creates an account and logs it in; returns its public key.
    pub fn create(&self, alias: &str, password: &str) -> GunResult<String> {
        self.0.create(alias, password).wait()
    }

    /// Logs in with an alias and password.
    pub fn auth(&self, alias: &str, password: &str) -> GunResult<UserInfo> {
        self.0.auth(alias, password).wait()
    }

    /// Logs in with a key pair.
    pub fn auth_pair(&self, pair: &sea::Pair) -> GunResult<UserInfo> {
        self.0.auth_pair(pair)
    }

    /// Logs out (and forgets a remembered session).
    pub fn leave(&self) {
        self.0.leave();
    }

    /// Remembers sessions from now on, and logs in with one remembered.
    pub fn recall(&self) -> GunResult<Option<UserInfo>> {
        self.0.recall()
    }

    /// Who is logged in.
    pub fn is(&self) -> Option<UserInfo> {
        self.0.is()
    }

    /// The logged-in user's key pair.
    pub fn pair(&self) -> Option<sea::Pair> {
        self.0.pair()
    }

    /// The key `key` of the logged-in user's space.
    pub fn get(&self, key: impl Into<String>) -> GunResult<Chain> {
        self.0.get(key).map(Chain)
    }
}

/// A place in the graph, with blocking calls (see [`gun_core::Chain`] for
/// what each does). A cheap clone: the instance handle and the path.
#[derive(Debug, Clone)]
pub struct Chain(gun_core::Chain);

impl Chain {
    /// The soul or key below this one.
    #[must_use]
    pub fn get(&self, key: impl Into<String>) -> Self {
        Self(self.0.get(key))
    }

    /// Writes `data`; returns this chain once the write is settled locally
    /// (disk store, or memory), without waiting for any peer.
    pub fn put(&self, data: serde_json::Value) -> GunResult<Self> {
        self.0.put(data).wait().map(Self)
    }

    /// Writes `data`; returns once the first peer acks it, or fails with
    /// [`GunError::Network`] after the put timeout (the write stays queued).
    pub fn put_acked(&self, data: serde_json::Value) -> GunResult<Self> {
        self.0.put_acked(data).wait().map(Self)
    }

    /// Writes `data` into another user's space with its owner's
    /// certificate; returns once a peer acks it (see
    /// [`gun_core::Chain::put_certified`]).
    pub fn put_certified(
        &self,
        data: serde_json::Value,
        cert: impl Into<String>,
    ) -> GunResult<Self> {
        self.0.put_certified(data, cert).wait().map(Self)
    }

    /// Writes `data` at an explicit HAM state (see
    /// [`gun_core::Chain::put_with_state`]).
    pub fn put_with_state(&self, data: serde_json::Value, state: f64) -> GunResult<Self> {
        self.0.put_with_state(data, state).wait().map(Self)
    }

    /// Adds `item` to the set here; returns the item's chain.
    pub fn set(&self, item: serde_json::Value) -> GunResult<Self> {
        self.0.set(item).wait().map(Self)
    }

    /// [`Chain::set`], returning once the first peer acks it.
    pub fn set_acked(&self, item: serde_json::Value) -> GunResult<Self> {
        self.0.set_acked(item).wait().map(Self)
    }

    /// Calls `cb(value, key)` once (`null` if not found within `once_wait`)
    /// on this thread, then returns this chain.
    pub fn once<F>(&self, cb: F) -> GunResult<Self>
    where
        F: FnOnce(serde_json::Value, Option<String>),
    {
        self.0.once(cb).wait().map(Self)
    }

    /// The value here, `None` if not found within `once_wait`.
    pub fn once_value(&self) -> GunResult<Option<serde_json::Value>> {
        self.0.once_value().wait()
    }

    /// The value here; [`GunError::NodeNotFound`] if not found within `once_wait`.
    pub fn value(&self) -> GunResult<serde_json::Value> {
        self.0.value().wait()
    }

    /// The properties here whose keys start with `prefix`, by a lex get
    /// when the node is not held (see [`gun_core::Chain::once_prefix`]).
    pub fn once_prefix(&self, prefix: &str) -> GunResult<Option<serde_json::Value>> {
        self.0.once_prefix(prefix).wait()
    }

    /// Calls `cb(value, key)` now and on every change.
    pub fn on(
        &self,
        cb: impl Fn(serde_json::Value, Option<String>) + Send + Sync + 'static,
    ) -> Self {
        Self(self.0.on(cb))
    }

    /// Calls `cb(value, key)` for every property of the node here.
    pub fn map(
        &self,
        cb: impl Fn(serde_json::Value, Option<String>) + Send + Sync + 'static,
    ) -> Self {
        Self(self.0.map(cb))
    }

    /// Up `amount` levels, or to the root (`None`); `None` when the chain
    /// is not that deep.
    pub fn back(&self, amount: Option<usize>) -> Option<Self> {
        self.0.back(amount).map(Self)
    }

    /// Removes every listener at this place.
    pub fn off(&self) -> Self {
        Self(self.0.off())
    }

    /// The soul and keys of this chain.
    pub fn path(&self) -> &[String] {
        self.0.path()
    }

    /// The runtime-neutral chain underneath.
    pub fn core(&self) -> &gun_core::Chain {
        &self.0
    }
}
