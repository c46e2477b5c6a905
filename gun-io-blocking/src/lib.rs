//! # gun-io-blocking: Gun on OS threads
//!
//! The gun-rs user API with blocking calls, over a tungstenite WebSocket
//! client (reconnecting with backoff, resubscribing) and relay server.
//!
//! ```no_run
//! use gun_io_blocking::{Gun, GunOptions};
//! use serde_json::json;
//!
//! let relay = Gun::without_keys(GunOptions::relay_server(8765))?;
//! let alice = Gun::without_keys(GunOptions::with_relay("ws://127.0.0.1:8765/gun"))?;
//! alice.wait_for_connection(2_000);
//! alice.get("user/alice").put(json!({"name": "Alice"}))?;
//! let name = alice.get("user/alice").get("name").once(|v, _key| println!("{v}"))?;
//! # drop((relay, name));
//! # Ok::<(), gun_io_blocking::GunError>(())
//! ```
//!
//! Each instance runs a driver thread (the engine and its store), a callback
//! thread, and a thread per connection. Callbacks run on the callback thread,
//! so a callback may call the API, a blocking `put` included.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ws;

use std::net::SocketAddr;

#[cfg(feature = "sled")]
pub use gun_core::store::SledStore;
pub use gun_core::store::{BoxStore, FileStore};
pub use gun_core::{
    GunError, GunOptions, GunResult, PublicKey, SecretKey, Signer, TrustPolicy, keypair_from_seed,
};

/// A Gun instance whose calls block.
#[derive(Debug, Clone)]
pub struct Gun {
    core: gun_core::Gun,
    addr: Option<SocketAddr>,
}

impl Gun {
    /// An instance with a BLS key pair and default options (memory, no peers).
    pub fn new(secret_key: SecretKey, public_key: PublicKey) -> GunResult<Self> {
        Self::with_options(secret_key, public_key, GunOptions::default())
    }

    /// An instance with a BLS key pair and the given options.
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
        let core = gun_core::Gun::start(opts.clone(), keys, store)?;
        let mut addr = None;
        if opts.super_peer {
            match ws::serve(&opts.host, opts.port, core.transport()) {
                Ok((a, h)) => {
                    addr = Some(a);
                    core.adopt_thread(h);
                }
                Err(e) => {
                    core.shutdown_blocking()?;
                    return Err(GunError::Io(format!(
                        "cannot listen on {}:{}: {e}",
                        opts.host, opts.port
                    )));
                }
            }
        }
        for url in &opts.peers {
            let url = gun_core::url::PeerUrl::parse(url)?;
            core.adopt_thread(ws::dial(url, opts.max_backoff, core.transport())?);
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

    /// Stops the instance: writes flushed, connections closed, threads joined.
    pub fn shutdown(&self) -> GunResult<()> {
        self.core.shutdown_blocking()
    }

    /// The runtime-neutral handle underneath.
    pub fn core(&self) -> &gun_core::Gun {
        &self.core
    }
}

/// A place in the graph, with blocking calls.
#[derive(Debug, Clone)]
pub struct Chain(gun_core::Chain);

impl Chain {
    /// The soul or key below this one.
    #[must_use]
    pub fn get(&self, key: impl Into<String>) -> Self {
        Self(self.0.get(key))
    }

    /// Writes `data`; returns once it is stored (local disk store, else the
    /// first peer's ack) or fails after the put timeout.
    pub fn put(&self, data: serde_json::Value) -> GunResult<()> {
        self.0.put(data).wait()
    }

    /// Writes `data` at an explicit HAM state (see
    /// [`gun_core::Chain::put_with_state`]).
    pub fn put_with_state(&self, data: serde_json::Value, state: f64) -> GunResult<()> {
        self.0.put_with_state(data, state).wait()
    }

    /// Adds `item` to the set here; returns its soul.
    pub fn set(&self, item: serde_json::Value) -> GunResult<String> {
        self.0.set(item).wait()
    }

    /// Calls `cb(value, key)` once (`null` if not found within `once_wait`)
    /// and returns the value.
    pub fn once(
        &self,
        cb: impl FnOnce(serde_json::Value, Option<String>) + Send + 'static,
    ) -> GunResult<Option<serde_json::Value>> {
        self.0.once(cb).wait()
    }

    /// The value here, `None` if not found within `once_wait`.
    pub fn once_value(&self) -> GunResult<Option<serde_json::Value>> {
        self.0.once_value().wait()
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
    ) -> &Self {
        self.0.on(cb);
        self
    }

    /// Calls `cb(value, key)` for every property of the node here.
    pub fn map(
        &self,
        cb: impl Fn(serde_json::Value, Option<String>) + Send + Sync + 'static,
    ) -> &Self {
        self.0.map(cb);
        self
    }

    /// Up `n` levels (`None`: one).
    #[must_use]
    pub fn back(&self, n: Option<usize>) -> Self {
        Self(self.0.back(n))
    }

    /// Removes this chain's listeners.
    pub fn off(&self) {
        self.0.off();
    }

    /// The soul and keys of this chain.
    pub fn path(&self) -> &[String] {
        self.0.path()
    }
}
