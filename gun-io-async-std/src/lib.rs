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
//! gun.get("user/alice").put(json!({"name": "Alice"})).await?;     // settled locally
//! gun.get("user/alice").put_acked(json!({"age": 30})).await?;     // acked by the relay
//! gun.shutdown().await?;
//! # Ok::<(), gun_io_async_std::GunError>(()) });
//! ```
//!
//! Like gun-io-tokio, [`Gun`] is [`gun_core::AsyncGun`] (it derefs to the
//! runtime-neutral [`gun_core::Gun`]) and chains are [`gun_core::Chain`]; the connection loop
//! is [`gun_core::transport::ws`]. This crate adds the constructors, accepting and
//! connecting with async-net, and an executor thread for the transport tasks
//! (so they run whichever runtime the program uses).
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

/// A Gun instance driven on async-io (smol, async-std): `Gun::new(sk, pk)`,
/// `Gun::with_options(sk, pk, opts).await`, … It derefs to the
/// runtime-neutral [`gun_core::Gun`].
pub type Gun = gun_core::AsyncGun<AsyncIo>;

/// gun-io-async-std's transports: async-tungstenite over async-net, over
/// TCP or TLS (futures-rustls).
#[derive(Debug)]
pub struct AsyncIo;

impl gun_core::transport::Transports for AsyncIo {
    async fn start(core: &gun_core::Gun, opts: &GunOptions) -> GunResult<Option<SocketAddr>> {
        let rt = ws::Rt::get()?;
        let tls = gun_core::transport::tls::Configs::for_options(opts)?;
        let mut addr = None;
        if opts.super_peer {
            let port = opts.serve_port();
            let listener = async_net::TcpListener::bind((opts.host.as_str(), port))
                .await
                .map_err(|e| GunError::io(format!("cannot listen on {}:{port}", opts.host), e))?;
            addr = listener.local_addr().ok();
            tracing::info!(addr = ?addr, "relay listening");
            gun_core::transport::ws::Runtime::spawn(
                &rt,
                Box::pin(ws::serve(
                    listener,
                    core.transport(),
                    rt.clone(),
                    tls.clone(),
                )),
            );
        }
        for url in &opts.peers {
            let url = gun_core::transport::url::PeerUrl::parse(url)?;
            gun_core::transport::ws::Runtime::spawn(
                &rt,
                Box::pin(ws::dial(
                    url,
                    opts.max_backoff,
                    core.transport(),
                    rt.clone(),
                    tls.clone(),
                )),
            );
        }
        if opts.webrtc.enabled {
            rtc::start(core.transport(), &opts.webrtc, &rt)
                .map_err(|e| GunError::io("cannot start the WebRTC peers", e))?;
        }
        Ok(addr)
    }
}
