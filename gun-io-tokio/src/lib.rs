//! # gun-io-tokio: Gun on tokio
//!
//! The gun-rs async API over tokio-tungstenite (`ws://` and `wss://`), and
//! the `gun` relay binary.
//!
//! ```no_run
//! use gun_io_tokio::{Gun, GunOptions};
//! use serde_json::json;
//!
//! # async fn demo() -> Result<(), gun_io_tokio::GunError> {
//! let gun = Gun::without_keys(GunOptions::with_relay("ws://127.0.0.1:8765/gun")).await?;
//! gun.wait_for_connection(2_000).await;
//! let alice = gun.get("user/alice");
//! alice.put(json!({"name": "Alice"})).await?;              // settled locally
//! alice.get("age").put_acked(json!(30)).await?;            // acked by the relay
//! alice.get("name").on(|value, key| println!("{key:?} = {value}"));
//! alice.get("name").once(|v, _| println!("once: {v}")).await?;
//! let item = gun.get("list").set(json!({"item": 1})).await?;
//! gun.shutdown().await?;
//! # drop(item); Ok(()) }
//! ```
//!
//! [`Gun`] is [`gun_core::AsyncGun`] (it derefs to [`gun_core::Gun`]), and chains are [`gun_core::Chain`]:
//! the async API is runtime-neutral (its futures are [`Completion`]s), so the
//! async-std driver shares it. This crate adds only the tokio transports.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod rtc;
mod ws;

use std::net::SocketAddr;

#[cfg(feature = "sled")]
pub use gun_core::store::SledStore;
pub use gun_core::store::{BoxStore, FileStore};
pub use gun_core::{
    Chain, Completion, GunError, GunOptions, GunResult, MessagePredicate, MulticastOptions,
    OnceCall, PublicKey, Quotas, SecretKey, Signer, StoreKind, Then, TlsOptions, TrustPolicy, User,
    UserInfo, keypair_from_seed, sea, types, webrtc,
};

/// The names the original port's users import from `gun::error`.
pub mod error {
    pub use gun_core::error::{Detail, GunError, GunResult};
}

/// The names the original port's users import from `gun::chain`.
pub mod chain {
    pub use gun_core::Chain;
}

/// A Gun instance driven on tokio: `Gun::new(sk, pk)`,
/// `Gun::with_options(sk, pk, opts).await`, `Gun::without_keys(opts).await`,
/// … It derefs to the runtime-neutral [`gun_core::Gun`].
pub type Gun = gun_core::AsyncGun<Tokio>;

/// gun-io-tokio's transports: tokio-tungstenite on the current runtime,
/// over TCP or TLS (tokio-rustls).
#[derive(Debug)]
pub struct Tokio;

impl gun_core::transport::Transports for Tokio {
    async fn start(core: &gun_core::Gun, opts: &GunOptions) -> GunResult<Option<SocketAddr>> {
        let rt = ws::Rt(tokio::runtime::Handle::current());
        let tls = gun_core::transport::tls::Configs::for_options(opts)?;
        let mut addr = None;
        if opts.super_peer {
            let port = opts.serve_port();
            let listener = tokio::net::TcpListener::bind((opts.host.as_str(), port))
                .await
                .map_err(|e| GunError::io(format!("cannot listen on {}:{port}", opts.host), e))?;
            addr = listener.local_addr().ok();
            tracing::info!(addr = ?addr, "relay listening");
            tokio::spawn(ws::serve(
                listener,
                core.transport(),
                rt.clone(),
                tls.clone(),
            ));
        }
        for url in &opts.peers {
            let url = gun_core::transport::url::PeerUrl::parse(url)?;
            tokio::spawn(ws::dial(
                url,
                opts.max_backoff,
                core.transport(),
                rt.clone(),
                tls.clone(),
            ));
        }
        if opts.webrtc.enabled {
            rtc::start(core.transport(), &opts.webrtc)
                .map_err(|e| GunError::io("cannot start the WebRTC peers", e))?;
        }
        Ok(addr)
    }
}
