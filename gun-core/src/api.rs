//! [`Gun`]: an instance (its driver thread, callback thread and store) and
//! the calls made on it as a whole. Shared by every driver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;
use gun_proto::state::StateClock;
use gun_proto::{Config, SubId};
use tracing::warn;

use crate::chain::Chain;
use crate::completion::{Completion, completion};
use crate::driver::Driver;
use crate::driver::command::{Command, Inbox};
use crate::error::{GunError, GunResult};
use crate::keys::{PublicKey, SecretKey};
use crate::options::GunOptions;
use crate::store::{self, BoxStore};
use crate::transport::{Shared, Transport};

/// A Gun instance: a handle to its driver thread. Clones share the instance;
/// it shuts down when [`Gun::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct Gun {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Sender<Inbox>,
    shared: Arc<Shared>,
    opts: GunOptions,
    keys: Option<(SecretKey, PublicKey)>,
    next_sub: AtomicU64,
    clock: Mutex<StateClock>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The SEA user logged in, if any (the engine signs its writes).
    user: Mutex<Option<(crate::sea::Pair, crate::user::UserInfo)>>,
    /// Whether logins are remembered (`user().recall()`).
    remember: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Gun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gun")
            .field("opts", &self.inner.opts)
            .field("connected", &self.connected_peer_count())
            .finish()
    }
}

impl Gun {
    /// An instance with a BLS key pair, in memory, with no peers: no
    /// networking, nothing to fail. Every message it sends is signed.
    ///
    /// A public key that is not the secret key's is logged as an error and
    /// replaced by the secret key's own ([`Gun::start`] refuses it instead).
    ///
    /// # Panics
    /// If the OS cannot start a thread, as `std::thread::spawn` does.
    pub fn new(secret_key: SecretKey, public_key: PublicKey) -> Self {
        let own = secret_key.public_key();
        if own != public_key {
            tracing::error!(given = %public_key, used = %own, "the public key does not belong to the secret key; using the secret key's own");
        }
        match Self::start(GunOptions::default(), Some((secret_key, own)), None) {
            Ok(g) => g,
            Err(e) => panic!("cannot start a Gun instance: {e}"),
        }
    }

    /// Starts an instance: its store (from the options, or `store`; memory
    /// when they name no disk store), its driver thread and its callback
    /// thread. Transports are the driver crate's part.
    ///
    /// `keys` is a BLS key pair (min_pk); the public key must belong to the
    /// secret key. With keys, every message sent is signed (see
    /// `gun_proto::auth`); `opts.trust` says what is accepted.
    pub fn start(
        opts: GunOptions,
        keys: Option<(SecretKey, PublicKey)>,
        store: Option<BoxStore>,
    ) -> GunResult<Self> {
        if let Some((sk, pk)) = &keys
            && sk.public_key() != *pk
        {
            return Err(GunError::Crypto(
                "the public key does not belong to the secret key".into(),
            ));
        }
        opts.webrtc.check()?;
        for url in &opts.peers {
            crate::transport::url::PeerUrl::parse(url)?;
        }
        // Offline first: with no disk store, puts are settled in memory,
        // and sent to peers whenever one is connected.
        let store = match store {
            Some(s) => s,
            None => store::open(&opts)?.unwrap_or_else(store::memory),
        };
        let mut seed = [0u8; 8];
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        seed.copy_from_slice(&t.to_le_bytes()[..8]);
        let mut cfg = Config::new(u64::from_le_bytes(seed) ^ u64::from(std::process::id()));
        cfg.put_timeout = opts.put_timeout;
        opts.quotas.apply(&mut cfg);
        // A relay keeps a bounded cache of souls; a client keeps what it read.
        if opts.super_peer {
            cfg.max_cached_souls = opts.quotas.max_cached_souls;
        }
        cfg.has_upstream = !opts.peers.is_empty();
        // With keys, every message this instance sends is signed.
        cfg.signer = keys
            .as_ref()
            .map(|(sk, _)| Arc::new(gun_proto::auth::Signer::new(sk.as_blst().clone())));
        cfg.trust = opts.trust.clone();
        cfg.predicate = opts.message_predicate.clone().map(gun_proto::Predicate);

        let (tx, rx) = crossbeam_channel::unbounded();
        let (dtx, drx) = crossbeam_channel::unbounded::<Box<dyn FnOnce() + Send>>();
        let shared = Arc::new(Shared::new(opts.quotas.clone()));
        let driver = Driver::new(cfg, Some(store), dtx, shared.clone(), tx.clone())?;
        let _ = shared.pid.set(driver.pid().to_owned());
        let driver = std::thread::Builder::new()
            .name("gun-driver".into())
            .spawn(move || driver.run(&rx))?;
        let callbacks = std::thread::Builder::new()
            .name("gun-callbacks".into())
            .spawn(move || {
                for f in drx {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                        warn!("a callback panicked");
                    }
                }
            })?;
        let mut threads = vec![driver, callbacks];
        if opts.multicast.enabled {
            let transport = Transport::new(tx.clone(), shared.clone());
            match crate::transport::multicast::start(transport, &opts.multicast) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // As Gun.js does: say so, and go on without it.
                    warn!(error = %e, "cannot join the multicast group: multicast is off");
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                shared,
                opts,
                keys,
                next_sub: AtomicU64::new(1),
                clock: Mutex::new(StateClock::default()),
                threads: Mutex::new(threads),
                user: Mutex::new(None),
                remember: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// The options the instance was started with.
    pub fn options(&self) -> &GunOptions {
        &self.inner.opts
    }

    /// The public key, when started with a key pair.
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.inner.keys.as_ref().map(|(_, pk)| pk)
    }

    /// For driver crates: the handle their transports use.
    pub fn transport(&self) -> Transport {
        Transport::new(self.inner.tx.clone(), self.inner.shared.clone())
    }

    /// For driver crates: a thread to join at shutdown.
    pub fn adopt_thread(&self, handle: JoinHandle<()>) {
        self.inner
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
    }

    /// The node at `soul`.
    pub fn get(&self, soul: impl Into<String>) -> Chain {
        self.root().get(soul)
    }

    /// The root of the graph (`get` from here names a soul).
    pub fn root(&self) -> Chain {
        Chain {
            gun: self.clone(),
            path: Vec::new(),
        }
    }

    /// A fresh state (ms since the epoch, Gun.js's `Gun.state()`).
    pub fn state(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64);
        self.inner
            .clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next(ms)
    }

    /// Connected peers now.
    pub fn connected_peer_count(&self) -> usize {
        self.inner.shared.connected()
    }

    /// Whether any peer is connected.
    pub fn is_connected(&self) -> bool {
        self.connected_peer_count() > 0
    }

    /// Resolves `true` once a peer is connected, `false` after `timeout_ms`.
    pub fn wait_for_connection(&self, timeout_ms: u64) -> Completion<bool> {
        let (done, c) = completion();
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        self.command(Command::WaitConnected { deadline, done });
        c
    }

    /// How many WebRTC peers are connected now (see
    /// [`crate::WebRTCOptions`]).
    pub fn webrtc_peers(&self) -> usize {
        self.inner.shared.rtc_peers.load(Ordering::Acquire)
    }

    /// Stops the instance: pending writes are flushed, connections closed and
    /// the store closed; resolves when that is done. Later calls fail with
    /// `Network`. (Threads are joined when the last handle is dropped, or by
    /// [`Gun::shutdown_blocking`].)
    pub fn shutdown(&self) -> Completion<()> {
        self.inner.begin_shutdown()
    }

    /// [`Gun::shutdown`], waited for, then the instance's threads joined.
    pub fn shutdown_blocking(&self) -> GunResult<()> {
        self.inner.shutdown_blocking()
    }

    pub(crate) fn set_user(&self, user: Option<(crate::sea::Pair, crate::user::UserInfo)>) {
        let pair = user.as_ref().map(|(p, _)| Box::new(p.clone()));
        *self
            .inner
            .user
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = user;
        self.command(Command::User(pair));
    }

    pub(crate) fn current_user(&self) -> Option<(crate::sea::Pair, crate::user::UserInfo)> {
        self.inner
            .user
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn remember_sessions(&self) {
        self.inner.remember.store(true, Ordering::Relaxed);
    }

    pub(crate) fn remembers_sessions(&self) -> bool {
        self.inner.remember.load(Ordering::Relaxed)
    }

    pub(crate) fn command(&self, cmd: Command) {
        // If the driver is gone the command's completer drops: the caller sees "shut down".
        let _ = self.inner.tx.send(Inbox::Command(cmd));
    }

    pub(crate) fn next_sub(&self) -> SubId {
        SubId(self.inner.next_sub.fetch_add(1, Ordering::Relaxed))
    }
}

impl Inner {
    fn begin_shutdown(&self) -> Completion<()> {
        self.shared.set_stopping();
        let (done, c) = completion();
        if self
            .tx
            .send(Inbox::Command(Command::Shutdown { done }))
            .is_err()
        {
            return Completion::ready(Ok(()));
        }
        c
    }

    fn shutdown_blocking(&self) -> GunResult<()> {
        let done = self.begin_shutdown();
        let on_callback_thread = std::thread::current().name() == Some("gun-callbacks");
        // The driver answers through the callback thread, after earlier
        // callbacks; a callback that shuts down cannot wait for itself.
        if !on_callback_thread {
            let _ = done.wait_timeout(Duration::from_secs(30));
        }
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        let me = std::thread::current().id();
        for t in threads {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown_blocking();
    }
}
