//! The user API: [`Gun`] and [`Chain`], shared by every driver. Calls return
//! [`Completion`]s: blocking drivers wait on them, async ones await them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;
use gun_proto::state::StateClock;
use gun_proto::{Config, Path, SubId};
use tracing::warn;

use crate::completion::{Completion, Then, completion};
use crate::driver::{Callback, Command, Driver, Inbox, OnceAnswer, Settle, Shared, Transport};
use crate::error::{GunError, GunResult};
use crate::keys::{PublicKey, SecretKey};
use crate::options::GunOptions;
use crate::store::{self, BoxStore};

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
        if opts.webrtc.enabled {
            return Err(GunError::WebRTC(
                "the WebRTC transport is not built yet: set `webrtc.enabled = false`".into(),
            ));
        }
        for url in &opts.peers {
            crate::url::PeerUrl::parse(url)?;
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
        cfg.has_upstream = !opts.peers.is_empty();
        // With keys, every message this instance sends is signed.
        cfg.signer = keys
            .as_ref()
            .map(|(sk, _)| Arc::new(gun_proto::auth::Signer::new(sk.as_blst().clone())));
        cfg.trust = opts.trust.clone();
        cfg.predicate = opts.message_predicate.clone().map(gun_proto::Predicate);

        let (tx, rx) = crossbeam_channel::unbounded();
        let (dtx, drx) = crossbeam_channel::unbounded::<Box<dyn FnOnce() + Send>>();
        let shared = Arc::new(Shared::default());
        let driver = Driver::new(cfg, Some(store), dtx, shared.clone());
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
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                shared,
                opts,
                keys,
                next_sub: AtomicU64::new(1),
                clock: Mutex::new(StateClock::default()),
                threads: Mutex::new(vec![driver, callbacks]),
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

    fn command(&self, cmd: Command) {
        // If the driver is gone the command's completer drops: the caller sees "shut down".
        let _ = self.inner.tx.send(Inbox::Command(cmd));
    }

    fn next_sub(&self) -> SubId {
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

/// A place in the graph: a soul and keys followed from it, as
/// `gun.get(soul).get(key)…` in Gun.js. A cheap clone (the instance handle
/// and the path); every call that returns a chain returns such a clone.
///
/// Writes resolve once the write is settled locally, in the disk store or
/// in memory ([`Chain::put`]); [`Chain::put_acked`] waits for a peer instead.
/// Calls return futures that blocking code can also [`Then::wait`] on.
#[derive(Clone)]
pub struct Chain {
    gun: Gun,
    path: Vec<String>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("path", &self.path).finish()
    }
}

impl Chain {
    /// The soul or key below this one.
    #[must_use]
    pub fn get(&self, key: impl Into<String>) -> Self {
        let mut path = self.path.clone();
        path.push(key.into());
        Self {
            gun: self.gun.clone(),
            path,
        }
    }

    /// Up `amount` levels (`Some(1)`: the parent), or to the root (`None`);
    /// `None` when the chain is not that deep.
    pub fn back(&self, amount: Option<usize>) -> Option<Self> {
        let keep = match amount {
            None => 0,
            Some(n) => self.path.len().checked_sub(n)?,
        };
        Some(Self {
            gun: self.gun.clone(),
            path: self.path[..keep].to_vec(),
        })
    }

    /// The soul and keys of this chain (empty at the root).
    pub fn path(&self) -> &[String] {
        &self.path
    }

    fn proto_path(&self) -> GunResult<Path> {
        let (soul, keys) = self
            .path
            .split_first()
            .ok_or_else(|| GunError::InvalidSoul("the root has no soul: use get(soul)".into()))?;
        if soul.is_empty() || keys.iter().any(String::is_empty) {
            return Err(GunError::InvalidSoul(
                "souls and keys must be non-empty".into(),
            ));
        }
        Ok(Path {
            soul: soul.clone(),
            keys: keys.to_vec(),
        })
    }

    /// Writes `data` here: an object merges into the node (nested objects
    /// become linked nodes), anything else sets this key. Resolves with this
    /// chain once the write is settled locally, in the disk store or in
    /// memory, whether or not a peer is connected; it goes to every
    /// connected relay at once, and to relays that connect later (with its
    /// original state). Never waits for a peer: see [`Chain::put_acked`].
    pub fn put(&self, data: serde_json::Value) -> Then<(), Self> {
        self.write(data, None, Settle::Local)
    }

    /// Like [`Chain::put`], resolving when the first peer acks the write
    /// instead: use it when the write must have left this machine (a relay
    /// has stored it) before you go on. Fails with [`GunError::Network`] if
    /// a peer refuses it, or if none acks it within the options'
    /// `put_timeout`; the write is still kept locally and sent again when a
    /// relay connects.
    pub fn put_acked(&self, data: serde_json::Value) -> Then<(), Self> {
        self.write(data, None, Settle::Peer)
    }

    /// Like [`Chain::put`], with `state` as the HAM state of every property
    /// written instead of the clock's. For imports and replication tools
    /// that carry states over, and for tests of concurrent writes: two peers
    /// writing one key at one state keep the greater value (JSON text by
    /// UTF-16 code units), as Gun.js does. A state ahead of the clock is
    /// applied when its time comes. Fails with [`GunError::InvalidData`]
    /// unless `state` is finite and positive.
    pub fn put_with_state(&self, data: serde_json::Value, state: f64) -> Then<(), Self> {
        self.write(data, Some(state), Settle::Local)
    }

    fn write(&self, data: serde_json::Value, state: Option<f64>, settle: Settle) -> Then<(), Self> {
        let chain = self.clone();
        let done = match self.proto_path() {
            Ok(path) => {
                let (done, c) = completion();
                self.gun.command(Command::Put {
                    path,
                    data,
                    state,
                    settle,
                    done,
                });
                c
            }
            Err(e) => Completion::ready(Err(e)),
        };
        Then::new(done, move |()| Ok(chain))
    }

    /// Adds `item` to the set here (Gun.js's `set`): under a new soul for an
    /// object (its own `_['#']` or link, when it has one), else under a new
    /// key. Resolves with the item's chain once settled locally.
    pub fn set(&self, item: serde_json::Value) -> Then<String, Self> {
        self.add(item, Settle::Local)
    }

    /// [`Chain::set`], resolving on the first peer's ack (see
    /// [`Chain::put_acked`]).
    pub fn set_acked(&self, item: serde_json::Value) -> Then<String, Self> {
        self.add(item, Settle::Peer)
    }

    fn add(&self, data: serde_json::Value, settle: Settle) -> Then<String, Self> {
        let chain = self.clone();
        let done = match self.proto_path() {
            Ok(path) => {
                let (done, c) = completion();
                self.gun.command(Command::Set {
                    path,
                    data,
                    settle,
                    done,
                });
                c
            }
            Err(e) => Completion::ready(Err(e)),
        };
        Then::new(done, move |soul| Ok(chain.get(soul)))
    }

    /// Calls `cb(value, key)` once with what is here (`null` if nothing is
    /// found within the options' `once_wait`), then resolves with this
    /// chain. The callback runs where the call is awaited (or waited for),
    /// so it may borrow from the caller.
    pub fn once<F>(&self, cb: F) -> OnceCall<F>
    where
        F: FnOnce(serde_json::Value, Option<String>),
    {
        OnceCall {
            done: self.ask_once(None),
            cb: Some(cb),
            chain: self.clone(),
        }
    }

    /// The value here, or `None` if nothing is found within `once_wait`.
    pub fn once_value(&self) -> Then<OnceAnswer, Option<serde_json::Value>> {
        Then::new(self.ask_once(None), |(v, _)| Ok(v))
    }

    /// The value here; [`GunError::NodeNotFound`] if nothing is found
    /// within `once_wait`.
    pub fn value(&self) -> Then<OnceAnswer, serde_json::Value> {
        Then::new(self.ask_once(None), |(v, _)| {
            v.ok_or(GunError::NodeNotFound)
        })
    }

    /// The properties of the node here whose keys start with `prefix`, with
    /// Gun's `_` metadata (`None` if none is found within `once_wait`). When
    /// the node is not held locally this asks peers with a lex get, as
    /// Gun.js's `get({'.': {'*': prefix}})` does, so only the matching part
    /// travels; that part is then what is held locally of the node.
    pub fn once_prefix(&self, prefix: &str) -> Then<OnceAnswer, Option<serde_json::Value>> {
        let keys = gun_proto::lex::Lex {
            prefix: Some(prefix.to_owned()),
            ..gun_proto::lex::Lex::default()
        };
        Then::new(self.ask_once(Some(keys)), |(v, _)| Ok(v))
    }

    fn ask_once(&self, keys: Option<gun_proto::lex::Lex>) -> Completion<OnceAnswer> {
        let path = match self.proto_path() {
            Ok(p) => p,
            Err(e) => return Completion::ready(Err(e)),
        };
        let (done, c) = completion();
        let wait = self.gun.inner.opts.once_wait;
        self.gun.command(Command::Once {
            path,
            keys,
            wait,
            done,
        });
        c
    }

    /// Calls `cb(value, key)` with what is here now and on every change,
    /// until [`Chain::off`]. Callbacks run on the instance's callback
    /// thread, one at a time; a callback may call the API.
    pub fn on(
        &self,
        cb: impl Fn(serde_json::Value, Option<String>) + Send + Sync + 'static,
    ) -> Self {
        self.listen(false, Arc::new(cb));
        self.clone()
    }

    /// Calls `cb(value, key)` for each property of the node here (linked
    /// nodes resolved), now and on every change, until [`Chain::off`].
    pub fn map(
        &self,
        cb: impl Fn(serde_json::Value, Option<String>) + Send + Sync + 'static,
    ) -> Self {
        self.listen(true, Arc::new(cb));
        self.clone()
    }

    fn listen(&self, map: bool, cb: Callback) {
        let Ok(path) = self.proto_path() else {
            warn!("on/map at the root ignored: use get(soul) first");
            return;
        };
        let sub = self.gun.next_sub();
        self.gun.command(Command::Listen { sub, path, map, cb });
    }

    /// Removes every listener at this place (added through this chain or
    /// any other chain to the same soul and keys); listeners of parent and
    /// child places stay.
    pub fn off(&self) -> Self {
        if !self.path.is_empty() {
            self.gun.command(Command::Off {
                at: self.path.clone(),
            });
        }
        self.clone()
    }
}

/// The answer to [`Chain::once`]: the callback runs when it comes, then
/// the chain is returned. Await it, or [`OnceCall::wait`] for it.
#[must_use = "the callback runs only when this is awaited or waited for"]
pub struct OnceCall<F> {
    done: Completion<OnceAnswer>,
    cb: Option<F>,
    chain: Chain,
}

// The callback is only ever moved out, never pinned.
impl<F> Unpin for OnceCall<F> {}

impl<F> std::fmt::Debug for OnceCall<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceCall")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl<F: FnOnce(serde_json::Value, Option<String>)> OnceCall<F> {
    /// Blocks until the value comes, runs the callback, returns the chain.
    pub fn wait(mut self) -> GunResult<Chain> {
        let answer = self.done.wait_ref()?;
        Ok(self.finish(answer))
    }

    fn finish(&mut self, (value, key): OnceAnswer) -> Chain {
        if let Some(cb) = self.cb.take() {
            cb(value.unwrap_or(serde_json::Value::Null), Some(key));
        }
        self.chain.clone()
    }
}

impl<F: FnOnce(serde_json::Value, Option<String>)> Future for OnceCall<F> {
    type Output = GunResult<Chain>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.done).poll(cx) {
            Poll::Ready(Ok(answer)) => Poll::Ready(Ok(this.finish(answer))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
