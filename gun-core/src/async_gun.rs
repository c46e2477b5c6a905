//! The async user handle, shared by the async drivers: a driver supplies only
//! how its transports start ([`Transports`]).

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::ops::Deref;

use crate::store::BoxStore;
use crate::transport::Transports;
use crate::{Gun, GunOptions, GunResult, PublicKey, SecretKey};

/// A Gun instance driven by an async driver `D`. Its status calls
/// (`connected_peer_count`, `is_connected`, `wait_for_connection`,
/// `shutdown`) are async, as the original port's were; it derefs to [`Gun`]
/// for `get`, `root`, `state` and the rest, whose futures run on any executor.
pub struct AsyncGun<D> {
    core: Gun,
    addr: Option<SocketAddr>,
    _driver: PhantomData<fn() -> D>,
}

impl<D> Clone for AsyncGun<D> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
            addr: self.addr,
            _driver: PhantomData,
        }
    }
}

impl<D> std::fmt::Debug for AsyncGun<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncGun")
            .field("core", &self.core)
            .field("addr", &self.addr)
            .finish()
    }
}

impl<D> Deref for AsyncGun<D> {
    type Target = Gun;

    fn deref(&self) -> &Gun {
        &self.core
    }
}

impl<D: Transports> AsyncGun<D> {
    /// An instance with a BLS key pair, in memory, with no peers: nothing
    /// to await, nothing to fail (see [`Gun::new`]).
    ///
    /// # Panics
    /// If the OS cannot start a thread, as `std::thread::spawn` does.
    pub fn new(secret_key: SecretKey, public_key: PublicKey) -> Self {
        Self {
            core: Gun::new(secret_key, public_key),
            addr: None,
            _driver: PhantomData,
        }
    }

    /// An instance with a BLS key pair and the given options: its store
    /// opened, its relay listening (when `super_peer`), its peers being dialed.
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
        let core = Gun::start(opts.clone(), keys, store)?;
        match D::start(&core, &opts).await {
            Ok(addr) => Ok(Self {
                core,
                addr,
                _driver: PhantomData,
            }),
            Err(e) => {
                let _ = core.shutdown().await;
                Err(e)
            }
        }
    }

    /// The address the relay listens on (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Connected peers now.
    pub async fn connected_peer_count(&self) -> usize {
        self.core.connected_peer_count()
    }

    /// Whether any peer is connected.
    pub async fn is_connected(&self) -> bool {
        self.core.is_connected()
    }

    /// Resolves `true` once a peer is connected, `false` after `timeout_ms`
    /// (or if the instance is shut down).
    pub async fn wait_for_connection(&self, timeout_ms: u64) -> bool {
        self.core
            .wait_for_connection(timeout_ms)
            .await
            .unwrap_or(false)
    }

    /// How many WebRTC peers are connected now.
    pub fn webrtc_peers(&self) -> usize {
        self.core.webrtc_peers()
    }

    /// Stops the instance: pending writes are flushed, connections closed
    /// and the store closed; resolves when that is done.
    pub async fn shutdown(&self) -> GunResult<()> {
        self.core.shutdown().await
    }

    /// The runtime-neutral handle underneath.
    pub fn core(&self) -> &Gun {
        &self.core
    }
}
