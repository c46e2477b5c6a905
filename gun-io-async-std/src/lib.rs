//! # gun-io-async-std: Gun on async-std and smol
//!
//! The gun-rs async API over async-tungstenite on the async-io reactor, the
//! one smol and async-std share. Pick either runtime for your program; both
//! work, as does none (`futures_lite::future::block_on`):
//!
//! ```no_run
//! use gun_io_async_std::{Gun, GunOptions};
//! use serde_json::json;
//!
//! // smol::block_on(async { ... }) or async_std::task::block_on(async { ... })
//! # futures_lite::future::block_on(async {
//! let gun = Gun::without_keys(GunOptions::with_relay("ws://127.0.0.1:8765/gun")).await?;
//! gun.get("user/alice").put(json!({"name": "Alice"})).await?;
//! gun.shutdown().await?;
//! # Ok::<(), gun_io_async_std::GunError>(()) });
//! ```
//!
//! Like gun-io-tokio, [`Gun`] derefs to the runtime-neutral
//! [`gun_core::Gun`] and chains are [`gun_core::Chain`]; the connection loop
//! is [`gun_core::ws`]. This crate adds the constructors, accepting and
//! connecting with async-net, and an executor thread for the transport tasks
//! (so they run whichever runtime the program uses).
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

/// A Gun instance driven on async-io. Derefs to [`gun_core::Gun`].
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

    async fn start(
        opts: GunOptions,
        keys: Option<(SecretKey, PublicKey)>,
        store: Option<BoxStore>,
    ) -> GunResult<Self> {
        let core = gun_core::Gun::start(opts.clone(), keys, store)?;
        let rt = ws::AsyncIo::get()?;
        let mut addr = None;
        if opts.super_peer {
            let listener = match async_net::TcpListener::bind((opts.host.as_str(), opts.port)).await
            {
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
            gun_core::ws::Runtime::spawn(
                &rt,
                Box::pin(ws::serve(listener, core.transport(), rt.clone())),
            );
        }
        for url in &opts.peers {
            let url = gun_core::url::PeerUrl::parse(url)?;
            gun_core::ws::Runtime::spawn(
                &rt,
                Box::pin(ws::dial(
                    url,
                    opts.max_backoff,
                    core.transport(),
                    rt.clone(),
                )),
            );
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
