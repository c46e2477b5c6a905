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
//! [`Gun`] is [`gun_core::AsyncGun`] (it derefs to [`gun_core::Gun`]), and chains are [`gun_core::Chain`]:
//! the async API is runtime-neutral (its futures are [`Completion`]s), so the
//! async-std driver shares it. This crate adds only the tokio transports.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ws;

use std::net::SocketAddr;

#[cfg(feature = "sled")]
pub use gun_core::store::SledStore;
pub use gun_core::store::{BoxStore, FileStore};
pub use gun_core::{
    Chain, Completion, GunError, GunOptions, GunResult, PublicKey, SecretKey, Signer, TrustPolicy,
    keypair_from_seed,
};

/// A Gun instance driven on tokio: `Gun::with_options(sk, pk, opts).await`,
/// `Gun::without_keys(opts).await`, … It derefs to the runtime-neutral
/// [`gun_core::Gun`].
pub type Gun = gun_core::AsyncGun<Tokio>;

/// gun-io-tokio's transports: tokio-tungstenite on the current runtime.
#[derive(Debug)]
pub struct Tokio;

impl gun_core::Transports for Tokio {
    async fn start(core: &gun_core::Gun, opts: &GunOptions) -> GunResult<Option<SocketAddr>> {
        let rt = ws::Rt(tokio::runtime::Handle::current());
        let mut addr = None;
        if opts.super_peer {
            let listener = tokio::net::TcpListener::bind((opts.host.as_str(), opts.port))
                .await
                .map_err(|e| {
                    GunError::Io(format!("cannot listen on {}:{}: {e}", opts.host, opts.port))
                })?;
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
        Ok(addr)
    }
}
