//! # gun-io-tokio: Gun on tokio
//!
//! The gun-rs async API over tokio-tungstenite, and the `gun` relay binary.
//!
//! ```no_run
//! use gun_io_tokio::{Gun, GunOptions};
//! use serde_json::json;
//!
//! # async fn demo() -> Result<(), gun_io_tokio::GunError> {
//! let gun = Gun::without_keys(GunOptions::with_relay("ws://127.0.0.1:8765/gun")).await?;
//! gun.wait_for_connection(2_000).await?;
//! let alice = gun.get("user/alice");
//! alice.put(json!({"name": "Alice"})).await?;
//! alice.get("name").on(|value, key| println!("{key:?} = {value}"));
//! let name = alice.get("name").once(|v, _| println!("once: {v}")).await?;
//! let soul = gun.get("list").set(json!({"item": 1})).await?;
//! gun.shutdown().await?;
//! # drop((name, soul)); Ok(()) }
//! ```
//!
//! [`Gun`] derefs to [`gun_core::Gun`], and chains are [`gun_core::Chain`]:
//! the async API is runtime-neutral (its futures are [`Completion`]s), so the
//! async-std driver shares it. This crate adds only the constructors and the
//! tokio transports.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ws;

use std::net::SocketAddr;
use std::ops::Deref;

#[cfg(feature = "sled")]
pub use gun_core::store::SledStore;
pub use gun_core::store::{BoxStore, FileStore};
pub use gun_core::{
    Chain, Completion, GunError, GunOptions, GunResult, PublicKey, SecretKey, keypair_from_seed,
};

/// A Gun instance driven on tokio. Derefs to the runtime-neutral
/// [`gun_core::Gun`] for `get`, `root`, `state`, `wait_for_connection`,
/// `shutdown` and the rest.
#[derive(Debug, Clone)]
pub struct Gun {
    core: gun_core::Gun,
    addr: Option<SocketAddr>,
}

impl Deref for Gun {
    type Target = gun_core::Gun;

    fn deref(&self) -> &gun_core::Gun {
        &self.core
    }
}

impl Gun {
    /// An instance with a BLS key pair and default options.
    pub async fn new(secret_key: SecretKey, public_key: PublicKey) -> GunResult<Self> {
        Self::with_options(secret_key, public_key, GunOptions::default()).await
    }

    /// An instance with a BLS key pair and the given options.
    pub async fn with_options(
        secret_key: SecretKey,
        public_key: PublicKey,
        opts: GunOptions,
    ) -> GunResult<Self> {
        Self::start(opts, Some((secret_key, public_key)), None).await
    }

    /// An instance without keys: a plain peer, as a Gun.js peer is.
    pub async fn without_keys(opts: GunOptions) -> GunResult<Self> {
        Self::start(opts, None, None).await
    }

    /// An instance on a store of your own.
    pub async fn with_store(opts: GunOptions, store: BoxStore) -> GunResult<Self> {
        Self::start(opts, None, Some(store)).await
    }

    /// Starts the instance's transports on the current tokio runtime.
    async fn start(
        opts: GunOptions,
        keys: Option<(SecretKey, PublicKey)>,
        store: Option<BoxStore>,
    ) -> GunResult<Self> {
        let core = gun_core::Gun::start(opts.clone(), keys, store)?;
        let rt = ws::Tokio(tokio::runtime::Handle::current());
        let mut addr = None;
        if opts.super_peer {
            let listener =
                match tokio::net::TcpListener::bind((opts.host.as_str(), opts.port)).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = core.shutdown().await;
                        return Err(GunError::Io(format!(
                            "cannot listen on {}:{}: {e}",
                            opts.host, opts.port
                        )));
                    }
                };
            addr = listener.local_addr().ok();
            tracing::info!(addr = ?addr, "relay listening");
            tokio::spawn(ws::serve(listener, core.transport(), rt.clone()));
        }
        for url in &opts.peers {
            let url = gun_core::url::PeerUrl::parse(url)?;
            tokio::spawn(ws::dial(
                url,
                opts.max_backoff,
                core.transport(),
                rt.clone(),
            ));
        }
        Ok(Self { core, addr })
    }

    /// The address the relay listens on (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The runtime-neutral handle underneath.
    pub fn core(&self) -> &gun_core::Gun {
        &self.core
    }
}
