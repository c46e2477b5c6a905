//! [`Chain`]: a place in the graph, and the calls made there.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use gun_proto::Path;
use tracing::warn;

use crate::api::Gun;
use crate::completion::{Completer, Completion, Then, completion};
use crate::driver::command::{Callback, Command, OnceAnswer, Settle};
use crate::error::{GunError, GunResult};

/// A place in the graph: a soul and keys followed from it, as
/// `gun.get(soul).get(key)…` in Gun.js. A cheap clone (the instance handle
/// and the path); every call that returns a chain returns such a clone.
///
/// Writes resolve once the write is settled locally, in the disk store or
/// in memory ([`Chain::put`]); [`Chain::put_acked`] waits for a peer instead.
/// Calls return futures that blocking code can also [`Then::wait`] on.
#[derive(Clone)]
pub struct Chain {
    pub(crate) gun: Gun,
    pub(crate) path: Vec<String>,
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
        self.write(data, None, None, Settle::Local)
    }

    /// Like [`Chain::put`], resolving when the first peer acks the write
    /// instead: use it when the write must have left this machine (a relay
    /// has stored it) before you go on. Fails with [`GunError::Network`] if
    /// a peer refuses it, or if none acks it within the options'
    /// `put_timeout`; the write is still kept locally and sent again when a
    /// relay connects.
    pub fn put_acked(&self, data: serde_json::Value) -> Then<(), Self> {
        self.write(data, None, None, Settle::Peer)
    }

    /// Writes `data` into another user's space with a certificate its
    /// owner made for our user ([`crate::sea::certify`]; Gun.js's
    /// `put(data, cb, {opt: {cert}})`): each value is signed by our user
    /// and carries the certificate, so relays let it in. Resolves on the
    /// first peer's ack, as [`Chain::put_acked`] (a relay is what checks
    /// the certificate); fails with [`GunError::Crypto`] without a user.
    pub fn put_certified(
        &self,
        data: serde_json::Value,
        cert: impl Into<String>,
    ) -> Then<(), Self> {
        self.write(data, None, Some(cert.into()), Settle::Peer)
    }

    /// Like [`Chain::put`], with `state` as the HAM state of every property
    /// written instead of the clock's. For imports and replication tools
    /// that carry states over, and for tests of concurrent writes: two peers
    /// writing one key at one state keep the greater value (JSON text by
    /// UTF-16 code units), as Gun.js does. A state ahead of the clock is
    /// applied when its time comes. Fails with [`GunError::InvalidData`]
    /// unless `state` is finite and positive.
    pub fn put_with_state(&self, data: serde_json::Value, state: f64) -> Then<(), Self> {
        self.write(data, Some(state), None, Settle::Local)
    }

    fn write(
        &self,
        data: serde_json::Value,
        state: Option<f64>,
        cert: Option<String>,
        settle: Settle,
    ) -> Then<(), Self> {
        let chain = self.clone();
        let done = self.ask(|path, done| Command::Put {
            path,
            data,
            state,
            cert,
            settle,
            done,
        });
        Then::new(done, move |()| Ok(chain))
    }

    /// Sends the command `make` builds for this chain's path; its answer,
    /// or at once the error of a path that names no soul.
    fn ask<T>(&self, make: impl FnOnce(Path, Completer<T>) -> Command) -> Completion<T> {
        match self.proto_path() {
            Ok(path) => {
                let (done, c) = completion();
                self.gun.command(make(path, done));
                c
            }
            Err(e) => Completion::ready(Err(e)),
        }
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
        let done = self.ask(|path, done| Command::Set {
            path,
            data,
            settle,
            done,
        });
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
        let wait = self.gun.options().once_wait;
        self.ask(|path, done| Command::Once {
            path,
            keys,
            wait,
            done,
        })
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
