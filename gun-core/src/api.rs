//! The user API: [`Gun`] and [`Chain`], shared by every driver. Calls return
//! [`Completion`]s: blocking drivers wait on them, async ones await them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blst::min_pk::{PublicKey, SecretKey};
use crossbeam_channel::Sender;
use gun_proto::state::StateClock;
use gun_proto::{Config, Path, SubId};
use tracing::warn;

use crate::completion::{Completion, completion};
use crate::driver::{Callback, Command, Driver, Inbox, Shared, Transport};
use crate::error::{GunError, GunResult};
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
    /// Starts an instance: its store (from the options, or `store`), its driver
    /// thread and its callback thread. Transports are the driver crate's part.
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
            && sk.sk_to_pk() != *pk
        {
            return Err(GunError::Crypto(
                "the public key does not belong to the secret key".into(),
            ));
        }
        if opts.webrtc {
            return Err(GunError::WebRTC(
                "WebRTC transport is not available in this build yet".into(),
            ));
        }
        for url in &opts.peers {
            crate::url::PeerUrl::parse(url)?;
        }
        let store = match store {
            Some(s) => Some(s),
            None => match store::open(&opts)? {
                Some(s) => Some(s),
                // A relay without a disk keeps what it serves in memory and acks from there.
                None if opts.super_peer => Some(store::memory()),
                None => None,
            },
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
            .map(|(sk, _)| Arc::new(gun_proto::auth::Signer::new(sk.clone())));

        let (tx, rx) = crossbeam_channel::unbounded();
        let (dtx, drx) = crossbeam_channel::unbounded::<Box<dyn FnOnce() + Send>>();
        let shared = Arc::new(Shared::default());
        let driver = Driver::new(
            cfg,
            store,
            dtx,
            shared.clone(),
            crate::gate::Gate::new(opts.trust.clone(), opts.message_predicate.clone()),
        );
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
            subs: Arc::default(),
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
/// `gun.get(soul).get(key)…` in Gun.js.
#[derive(Clone)]
pub struct Chain {
    gun: Gun,
    path: Vec<String>,
    subs: Arc<Mutex<Vec<SubId>>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("path", &self.path).finish()
    }
}

impl Chain {
    /// The soul or key below this one.
    pub fn get(&self, key: impl Into<String>) -> Self {
        let mut path = self.path.clone();
        path.push(key.into());
        Self {
            gun: self.gun.clone(),
            path,
            subs: Arc::default(),
        }
    }

    /// Up `n` levels (`None`: one); past the top, the root.
    pub fn back(&self, n: Option<usize>) -> Self {
        let n = n.unwrap_or(1).min(self.path.len());
        let path = self.path[..self.path.len() - n].to_vec();
        Self {
            gun: self.gun.clone(),
            path,
            subs: Arc::default(),
        }
    }

    /// The soul and keys of this chain.
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

    /// Writes `data` here. Resolves once stored: by the local disk store when
    /// there is one, else by the first peer that acks it.
    pub fn put(&self, data: serde_json::Value) -> Completion<()> {
        self.put_at(data, None)
    }

    /// Like [`Chain::put`], with `state` as the HAM state of every property
    /// written instead of the clock's. For imports and replication tools
    /// that carry states over, and for tests of concurrent writes: two peers
    /// writing one key at one state keep the greater value (JSON text by
    /// UTF-16 code units), as Gun.js does. A state ahead of the clock is
    /// applied when its time comes. Fails with [`GunError::InvalidData`]
    /// unless `state` is finite and positive.
    pub fn put_with_state(&self, data: serde_json::Value, state: f64) -> Completion<()> {
        self.put_at(data, Some(state))
    }

    fn put_at(&self, data: serde_json::Value, state: Option<f64>) -> Completion<()> {
        let path = match self.proto_path() {
            Ok(p) => p,
            Err(e) => return Completion::ready(Err(e)),
        };
        let (done, c) = completion();
        self.gun.command(Command::Put {
            path,
            data,
            state,
            done,
        });
        c
    }

    /// Adds `item` to the set here; resolves with the item's soul (or key).
    pub fn set(&self, item: serde_json::Value) -> Completion<String> {
        let path = match self.proto_path() {
            Ok(p) => p,
            Err(e) => return Completion::ready(Err(e)),
        };
        let (done, c) = completion();
        self.gun.command(Command::Set {
            path,
            data: item,
            done,
        });
        c
    }

    /// Calls `cb(value, key)` once with what is here (`null` if nothing is
    /// found within the options' `once_wait`), then resolves with the same
    /// value (`None` when not found).
    pub fn once(
        &self,
        cb: impl FnOnce(serde_json::Value, Option<String>) + Send + 'static,
    ) -> Completion<Option<serde_json::Value>> {
        self.once_with(None, Some(Box::new(cb)))
    }

    /// The properties of the node here whose keys start with `prefix`, with
    /// Gun's `_` metadata (`None` if none is found within `once_wait`). When
    /// the node is not held locally this asks peers with a lex get, as
    /// Gun.js's `get({'.': {'*': prefix}})` does, so only the matching part
    /// travels; that part is then what is held locally of the node.
    pub fn once_prefix(&self, prefix: &str) -> Completion<Option<serde_json::Value>> {
        let keys = gun_proto::lex::Lex {
            prefix: Some(prefix.to_owned()),
            ..gun_proto::lex::Lex::default()
        };
        self.once_with(Some(keys), None)
    }

    fn once_with(
        &self,
        keys: Option<gun_proto::lex::Lex>,
        cb: Option<crate::driver::OnceCallback>,
    ) -> Completion<Option<serde_json::Value>> {
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
            cb,
            done,
        });
        c
    }

    /// The value here, or `None` if nothing is found within `once_wait`.
    pub fn once_value(&self) -> Completion<Option<serde_json::Value>> {
        self.once_with(None, None)
    }

    /// Calls `cb(value, key)` with what is here now and on every change,
    /// until [`Chain::off`].
    pub fn on(
        &self,
        cb: impl Fn(serde_json::Value, Option<String>) + Send + Sync + 'static,
    ) -> &Self {
        self.listen(false, Arc::new(cb));
        self
    }

    /// Calls `cb(value, key)` for each property of the node here (linked
    /// nodes resolved), now and on every change, until [`Chain::off`].
    pub fn map(
        &self,
        cb: impl Fn(serde_json::Value, Option<String>) + Send + Sync + 'static,
    ) -> &Self {
        self.listen(true, Arc::new(cb));
        self
    }

    fn listen(&self, map: bool, cb: Callback) {
        let Ok(path) = self.proto_path() else {
            warn!("on/map at the root ignored: use get(soul) first");
            return;
        };
        let sub = self.gun.next_sub();
        self.subs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sub);
        self.gun.command(Command::Listen { sub, path, map, cb });
    }

    /// Removes the listeners this chain added.
    pub fn off(&self) {
        let subs = std::mem::take(&mut *self.subs.lock().unwrap_or_else(PoisonError::into_inner));
        if !subs.is_empty() {
            self.gun.command(Command::Off { subs });
        }
    }
}
