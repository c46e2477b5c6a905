//! The engine: one Gun peer as a sans-IO state machine.
//!
//! Submodules: [`types`] (inputs, outputs, config), `peer` (messages from
//! peers: puts, gets, replies, greetings), `app` (API calls and listeners).

mod app;
mod peer;
mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use tracing::{debug, warn};

use crate::dup::Dup;
use crate::graph::Graph;
use crate::ids::{PeerId, ReadId, ReqId, Rng, WriteId};
use crate::lex::Lex;
use crate::state::StateClock;
use crate::store::StoreQuery;
use crate::value::Value;
use crate::wire::{self, Message};
pub use types::{Call, Config, Error, Event, Input, Now, Output, Path, PutFailure, Role};

/// Longest timer Gun.js sets for a future state (2^31-1 ms).
const MAX_DEFER_MS: f64 = 2_147_483_647.0;

/// One Gun peer: graph, mesh, queries and listeners, with no I/O.
///
/// Drive it with a loop: feed [`Engine::handle_input`] (and
/// [`Engine::handle_timeout`] when [`Engine::poll_timeout`] passes), then drain
/// [`Engine::poll_output`] until it returns `None`, carrying out each output.
/// Inputs fed before a drain are batched: one store write covers every put
/// they carried (group commit), and messages to one peer share a frame.
///
/// ```
/// use std::time::Duration;
/// use gun_proto::{Config, Engine, Input, MemoryStore, Now, Output, Store};
///
/// let mut engine = Engine::new(Config::new(1), Now::new(Duration::ZERO, 1.7e12));
/// let mut store = MemoryStore::new();
/// let now = Now::new(Duration::from_millis(1), 1.7e12 + 1.0);
/// # let _ = &mut store;
/// while let Some(out) = engine.poll_output() {
///     match out {
///         Output::Transmit { peer, frame } => { /* send `frame` to `peer` */ }
///         Output::StoreRead { id, query } => {
///             let result = store.read(&query);
///             engine.handle_input(now, Input::StoreRead { id, result }).unwrap();
///         }
///         Output::StoreWrite { id, batch } => {
///             let result = store.write(&batch);
///             engine.handle_input(now, Input::StoreWritten { id, result }).unwrap();
///         }
///         Output::Event(event) => { /* deliver to the application */ }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    pid: String,
    rng: Rng,
    clock: StateClock,
    now: Now,
    graph: Graph,
    /// Souls whose stored copy has been merged into `graph` (with a store).
    loaded: HashSet<String>,
    /// Souls whose read failed in the current retry round, and why.
    failed: HashMap<String, crate::store::StoreError>,
    reading: HashSet<String>,
    reads: BTreeMap<ReadId, StoreQuery>,
    next_read: u64,
    next_write: u64,
    /// Jobs waiting for a soul's store read, by that soul.
    parked: HashMap<String, Vec<peer::Job>>,
    /// Jobs waiting for another read (a lex read of souls).
    parked_other: Vec<peer::Job>,
    parked_count: usize,
    /// The soul the last `ensure_loaded` that said `No` is waiting for.
    last_missing: Option<String>,
    dup: Dup,
    peers: BTreeMap<PeerId, Peer>,
    /// Peers subscribed to a soul (they asked for it).
    subs: HashMap<String, BTreeSet<PeerId>>,
    /// Subscriptions of disconnected peers, by their `pid`, with the time
    /// they lapse: restored if the peer greets again (`Config::sub_memory`).
    gone_subs: BTreeMap<String, (Duration, Vec<String>)>,
    /// Properties accepted this turn, written at the next drain.
    batch: Graph,
    batch_waiters: Vec<Waiter>,
    writes: BTreeMap<WriteId, Vec<Waiter>>,
    timers: BTreeMap<(Duration, u64), Timer>,
    timer_seq: u64,
    outputs: VecDeque<Output>,
    dirty: BTreeSet<PeerId>,
    deferred: usize,
    app: app::AppState,
    /// Not-found replies held while upstream peers are asked, by get id.
    held: HashMap<String, Held>,
    /// Acks owed for puts with future-state properties, sent once all of
    /// them have been applied and written.
    tickets: HashMap<u64, Ticket>,
    next_ticket: u64,
    /// Peers' puts forwarded upstream and not yet acked there, resent when an
    /// upstream peer (re)connects, so a write a relay acked reaches the root.
    relay_outbox: BTreeMap<u64, Graph>,
    /// Message ids of those forwards (or resends), to match upstream acks.
    relay_ids: HashMap<String, u64>,
    next_relay: u64,
    /// Whether the whole store was read and sent upstream since start.
    repaired: bool,
}

/// An ack waiting for a put's deferred properties.
#[derive(Debug)]
struct Ticket {
    waiter: Waiter,
    left: usize,
}

/// A not-found answer waiting for upstream peers.
#[derive(Debug)]
struct Held {
    to: PeerId,
    waiting: BTreeSet<PeerId>,
}

#[derive(Debug)]
struct Peer {
    role: Role,
    pid: Option<String>,
    label: String,
    queue: Vec<String>,
    subs: usize,
}

/// Who waits for a store write to ack.
#[derive(Debug, Clone)]
enum Waiter {
    Peer { peer: PeerId, id: String },
    Api(ReqId),
}

#[derive(Debug)]
enum Timer {
    PutTimeout(ReqId),
    OnceWait(ReqId),
    GetExpire(String),
    HeldExpire(String),
    Deferred {
        ticket: Option<u64>,
        soul: String,
        key: String,
        value: Value,
        state: f64,
    },
}

impl Engine {
    /// A new engine. `now` seeds its view of time; no output is pending.
    pub fn new(cfg: Config, now: Now) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let pid = cfg.pid.clone().unwrap_or_else(|| rng.text(9));
        Self {
            clock: StateClock::new(cfg.clock_drift),
            dup: Dup::new(cfg.dedup_age, cfg.dedup_max),
            pid,
            rng,
            now,
            graph: Graph::new(),
            loaded: HashSet::new(),
            failed: HashMap::new(),
            reading: HashSet::new(),
            reads: BTreeMap::new(),
            next_read: 0,
            next_write: 0,
            parked: HashMap::new(),
            parked_other: Vec::new(),
            parked_count: 0,
            last_missing: None,
            peers: BTreeMap::new(),
            subs: HashMap::new(),
            gone_subs: BTreeMap::new(),
            batch: Graph::new(),
            batch_waiters: Vec::new(),
            writes: BTreeMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            outputs: VecDeque::new(),
            dirty: BTreeSet::new(),
            deferred: 0,
            app: app::AppState::default(),
            held: HashMap::new(),
            tickets: HashMap::new(),
            next_ticket: 0,
            relay_outbox: BTreeMap::new(),
            relay_ids: HashMap::new(),
            next_relay: 0,
            repaired: false,
            cfg,
        }
    }

    /// Our peer id (`pid`), sent in greetings.
    pub fn pid(&self) -> &str {
        &self.pid
    }

    /// The graph as held in memory.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Feeds one input. A peer's fault becomes a reply; `Err` means the call
    /// itself was wrong (unknown peer, invalid data, reused id). After this,
    /// drain [`Engine::poll_output`].
    pub fn handle_input(&mut self, now: Now, input: Input<'_>) -> Result<(), Error> {
        self.advance(now);
        match input {
            Input::Connected { peer, role } => self.connect(peer, role),
            Input::Disconnected { peer } => self.disconnect(peer),
            Input::Frame { peer, data } => {
                if !self.peers.contains_key(&peer) {
                    return Err(Error::UnknownPeer(peer));
                }
                self.on_frame(peer, data);
                Ok(())
            }
            Input::StoreRead { id, result } => self.read_done(id, result),
            Input::StoreWritten { id, result } => self.write_done(id, result),
            Input::Call(call) => self.call(call),
        }
    }

    /// When [`Engine::handle_timeout`] is next due (monotonic time), if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    /// Runs the timers due at `now`: deferred future states, `once` waits,
    /// put timeouts, route expiry. After this, drain [`Engine::poll_output`].
    pub fn handle_timeout(&mut self, now: Now) {
        self.advance(now);
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now.mono {
                break;
            }
            let timer = entry.remove();
            self.fire(timer);
        }
    }

    /// The next thing for the driver to do, or `None` when all is done.
    /// Drain it to `None` after every `handle_*` call.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.outputs.pop_front() {
            return Some(o);
        }
        if let Some(w) = self.flush_batch() {
            return Some(w);
        }
        let peer = *self.dirty.iter().next()?;
        let frame = self.take_frame(peer);
        Some(Output::Transmit { peer, frame })
    }

    fn advance(&mut self, now: Now) {
        if now.mono >= self.now.mono {
            self.now.mono = now.mono;
        }
        self.now.unix_ms = now.unix_ms;
    }

    fn state(&mut self) -> f64 {
        self.clock.next(self.now.unix_ms)
    }

    fn new_id(&mut self) -> String {
        self.rng.text(9)
    }

    fn set_timer(&mut self, after: Duration, timer: Timer) {
        self.timer_seq += 1;
        self.timers
            .insert((self.now.mono + after, self.timer_seq), timer);
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::PutTimeout(req) => self.app_put_timeout(req),
            Timer::OnceWait(req) => self.once_timeout(req),
            Timer::GetExpire(id) => {
                self.relay_ids.remove(&id);
                self.app_get_expire(&id);
            }
            Timer::HeldExpire(id) => self.release_held(&id),
            Timer::Deferred {
                soul,
                key,
                value,
                state,
                ticket,
            } => {
                self.deferred = self.deferred.saturating_sub(1);
                let mut diff = Graph::new();
                diff.insert(&soul, &key, value, state);
                self.run(peer::Job::Deferred { diff, ticket });
            }
        }
    }

    // ----- peers and frames -------------------------------------------------

    fn connect(&mut self, peer: PeerId, role: Role) -> Result<(), Error> {
        if self.peers.contains_key(&peer) {
            return Err(Error::PeerExists(peer));
        }
        debug!(?peer, ?role, "peer connected");
        let label = format!("~{}", peer.0);
        self.peers.insert(
            peer,
            Peer {
                role,
                pid: None,
                label,
                queue: Vec::new(),
                subs: 0,
            },
        );
        match role {
            Role::Accepted => {
                let id = self.new_id();
                let hi = Message {
                    id: Some(id),
                    dam: Some("?".into()),
                    pid: Some(self.pid.clone()),
                    ..Message::default()
                };
                self.send(peer, &hi);
            }
            Role::Dialed => self.resync(peer),
        }
        Ok(())
    }

    fn disconnect(&mut self, peer: PeerId) -> Result<(), Error> {
        let Some(gone) = self.peers.remove(&peer) else {
            return Err(Error::UnknownPeer(peer));
        };
        debug!(?peer, "peer disconnected");
        self.dirty.remove(&peer);
        let mut souls = Vec::new();
        self.subs.retain(|soul, set| {
            if set.remove(&peer) {
                souls.push(soul.clone());
            }
            !set.is_empty()
        });
        if let Some(pid) = gone.pid {
            self.remember_subs(pid, souls);
        }
        self.dup.forget_peer(peer);
        let mut released: Vec<String> = self
            .held
            .iter_mut()
            .filter_map(|(id, h)| {
                (h.waiting.remove(&peer) && h.waiting.is_empty()).then(|| id.clone())
            })
            .collect();
        released.sort();
        for id in released {
            self.release_held(&id);
        }
        self.held.retain(|_, h| h.to != peer);
        self.app_peer_gone(peer);
        Ok(())
    }

    /// Keeps a departing peer's subscriptions for `sub_memory`.
    fn remember_subs(&mut self, pid: String, mut souls: Vec<String>) {
        let now = self.now.mono;
        self.gone_subs.retain(|_, (until, _)| *until > now);
        if souls.is_empty() || self.cfg.sub_memory_peers == 0 {
            return;
        }
        if self.gone_subs.len() >= self.cfg.sub_memory_peers {
            let oldest = self
                .gone_subs
                .iter()
                .min_by_key(|(_, (until, _))| *until)
                .map(|(pid, _)| pid.clone());
            if let Some(pid) = oldest {
                self.gone_subs.remove(&pid);
            }
        }
        souls.sort();
        let until = now + self.cfg.sub_memory;
        self.gone_subs.insert(pid, (until, souls));
    }

    /// A peer greeted with `pid`: give it back the subscriptions it had.
    fn restore_subs(&mut self, peer: PeerId, pid: &str) {
        let Some((until, souls)) = self.gone_subs.remove(pid) else {
            return;
        };
        if until <= self.now.mono {
            return;
        }
        debug!(?peer, pid, count = souls.len(), "subscriptions restored");
        for soul in souls {
            self.subscribe(peer, &soul);
        }
    }

    /// Queues a message this engine made to a peer (batched into frames at
    /// drain time), signed when there is a signer, and remembers its id so
    /// an echo is dropped.
    fn send(&mut self, peer: PeerId, msg: &Message) {
        if self.cfg.signer.is_some() {
            let mut msg = msg.clone();
            let id = self.seal(&mut msg);
            self.send_text(peer, msg.encode(), id.as_deref());
        } else {
            self.send_text(peer, msg.encode(), msg.id.as_deref());
        }
    }

    /// Queues a message from elsewhere, passed on under its own id, with our
    /// signature appended when it is signed.
    pub(super) fn relay(&mut self, peer: PeerId, msg: &Message) {
        let text = if self.cfg.signer.is_some() {
            let mut msg = msg.clone();
            self.countersign(&mut msg);
            msg.encode()
        } else {
            msg.encode()
        };
        self.send_text(peer, text, msg.id.as_deref());
    }

    /// Makes a message ours for the signed mesh: `#` becomes the SHA-256 of
    /// its body and `sigs` our signature. Without a signer, nothing changes.
    /// Returns the id it goes out with.
    pub(super) fn seal(&mut self, msg: &mut Message) -> Option<String> {
        if let Some(signer) = self.cfg.signer.clone() {
            msg.extra.remove("sigs");
            // A get or greeting may be sent again with the same content: a
            // nonce keeps its id (the body's hash) from being a duplicate's.
            if msg.put.is_none() && msg.ack.is_none() {
                let nonce = self.new_id();
                msg.extra
                    .insert("nonce".into(), serde_json::Value::String(nonce));
            }
            let body = crate::auth::body(&msg.to_map());
            msg.id = Some(crate::auth::message_id(&body));
            msg.extra.insert(
                "sigs".into(),
                serde_json::Value::Array(vec![signer.sign(&body)]),
            );
        }
        msg.id.clone()
    }

    /// Appends our signature to a signed message we pass on (unsigned ones
    /// stay unsigned: their `#` is not the hash of their body).
    pub(super) fn countersign(&self, msg: &mut Message) {
        let Some(signer) = &self.cfg.signer else {
            return;
        };
        let already = match msg.extra.get("sigs") {
            Some(serde_json::Value::Array(sigs)) => sigs
                .iter()
                .any(|e| e.get("pubkey").and_then(|p| p.as_str()) == Some(signer.public_key_hex())),
            _ => return,
        };
        if already {
            return;
        }
        let body = crate::auth::body(&msg.to_map());
        if let Some(serde_json::Value::Array(sigs)) = msg.extra.get_mut("sigs") {
            sigs.push(signer.sign(&body));
        }
    }

    fn send_text(&mut self, peer: PeerId, text: String, id: Option<&str>) {
        if let Some(id) = id
            && !self.dup.contains(id, self.now.mono)
        {
            self.dup.track(id, None, self.now.mono);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.queue.push(text);
            self.dirty.insert(peer);
        }
    }

    fn take_frame(&mut self, peer: PeerId) -> String {
        let budget = self.cfg.batch_bytes;
        let Some(p) = self.peers.get_mut(&peer) else {
            self.dirty.remove(&peer);
            return "[]".into();
        };
        let mut size = 0;
        let mut n = 0;
        for m in &p.queue {
            if n > 0 && size + m.len() + 1 > budget {
                break;
            }
            size += m.len() + 1;
            n += 1;
        }
        let rest = p.queue.split_off(n);
        let taken = std::mem::replace(&mut p.queue, rest);
        if p.queue.is_empty() {
            self.dirty.remove(&peer);
        }
        wire::batch(&taken)
    }

    fn on_frame(&mut self, peer: PeerId, data: &[u8]) {
        let decoded = match wire::decode(data, &self.cfg.limits) {
            Ok(d) => d,
            Err(e) => {
                warn!(?peer, error = %e, "refused frame");
                let id = self.new_id();
                self.send(peer, &Message::dam_error(id, e.to_string()));
                return;
            }
        };
        for item in decoded {
            match item {
                Ok(msg) => self.on_message(peer, msg),
                Err((id, e)) => {
                    warn!(?peer, error = %e, "refused message");
                    let reply_id = self.new_id();
                    let reply = match id {
                        // A put (or any message with an id) gets a nack it can route.
                        Some(id) => Message {
                            id: Some(reply_id),
                            ack: Some(id),
                            err: Some(e.to_string()),
                            ..Message::default()
                        },
                        None => Message::dam_error(reply_id, e.to_string()),
                    };
                    self.send(peer, &reply);
                }
            }
        }
    }

    // ----- storage ------------------------------------------------------------

    /// Whether every soul is merged from the store; asks for the missing ones.
    fn ensure_loaded<'s>(&mut self, souls: impl IntoIterator<Item = &'s str>) -> Loaded {
        if !self.cfg.store {
            return Loaded::Yes;
        }
        let mut state = Loaded::Yes;
        self.last_missing = None;
        for soul in souls {
            if self.loaded.contains(soul) {
                continue;
            }
            if let Some(e) = self.failed.get(soul) {
                return Loaded::Failed(e.clone());
            }
            if state == Loaded::Yes {
                self.last_missing = Some(soul.to_owned());
            }
            state = Loaded::No;
            if self.reading.insert(soul.to_owned()) {
                self.read(StoreQuery {
                    soul: Lex::exact(soul),
                });
            }
        }
        state
    }

    fn read(&mut self, query: StoreQuery) -> ReadId {
        self.next_read += 1;
        let id = ReadId(self.next_read);
        self.reads.insert(id, query.clone());
        self.outputs.push_back(Output::StoreRead { id, query });
        id
    }

    fn read_done(
        &mut self,
        id: ReadId,
        result: Result<Graph, crate::store::StoreError>,
    ) -> Result<(), Error> {
        let query = self.reads.remove(&id).ok_or(Error::UnknownRead(id))?;
        let exact = query.soul.as_exact().map(str::to_owned);
        if let Some(s) = &exact {
            self.reading.remove(s);
        }
        let mut affected: Vec<String> = exact.iter().cloned().collect();
        match result {
            Ok(found) => {
                // Stored data is trusted: merged with no deferral.
                let merged = self.graph.merge(f64::INFINITY, &found);
                for soul in found.souls() {
                    self.loaded.insert(soul.to_owned());
                    if exact.as_deref() != Some(soul) {
                        affected.push(soul.to_owned());
                    }
                }
                if let Some(s) = exact {
                    self.loaded.insert(s);
                }
                self.changed(&merged.accepted);
                self.repair_upstream(&found);
            }
            Err(e) => {
                warn!(error = %e, ?query, "store read failed");
                if let Some(s) = exact {
                    self.failed.insert(s, e);
                }
            }
        }
        self.retry_parked(&affected);
        self.failed.clear();
        Ok(())
    }

    /// Retries the jobs waiting for `souls` (and those waiting on other reads).
    fn retry_parked(&mut self, souls: &[String]) {
        let mut jobs = std::mem::take(&mut self.parked_other);
        for soul in souls {
            if let Some(waiting) = self.parked.remove(soul) {
                jobs.extend(waiting);
            }
        }
        self.parked_count -= jobs.len().min(self.parked_count);
        for job in jobs {
            self.run(job);
        }
        self.app_reload();
    }

    /// Adds accepted properties to this turn's write batch.
    fn write(&mut self, accepted: &Graph, waiter: Option<Waiter>) {
        if self.cfg.store {
            for (soul, node) in accepted.iter() {
                let target = self.batch.node_mut(soul);
                for (key, p) in node.iter() {
                    target.insert(key, p.value.clone(), p.state);
                }
            }
            if let Some(w) = waiter {
                self.batch_waiters.push(w);
            }
        }
    }

    fn flush_batch(&mut self) -> Option<Output> {
        if self.batch.is_empty() && self.batch_waiters.is_empty() {
            return None;
        }
        self.next_write += 1;
        let id = WriteId(self.next_write);
        self.writes
            .insert(id, std::mem::take(&mut self.batch_waiters));
        Some(Output::StoreWrite {
            id,
            batch: std::mem::take(&mut self.batch),
        })
    }

    fn write_done(
        &mut self,
        id: WriteId,
        result: Result<(), crate::store::StoreError>,
    ) -> Result<(), Error> {
        let waiters = self.writes.remove(&id).ok_or(Error::UnknownWrite(id))?;
        if let Err(e) = &result {
            warn!(error = %e, "store write failed");
        }
        for w in waiters {
            match w {
                Waiter::Peer { peer, id } => {
                    let reply_id = self.new_id();
                    let mut ack = Message {
                        id: Some(reply_id),
                        ack: Some(id),
                        ..Message::default()
                    };
                    match &result {
                        Ok(()) => ack.ok = Some(serde_json::Value::Bool(true)),
                        Err(e) => ack.err = Some(e.to_string()),
                    }
                    self.send(peer, &ack);
                }
                Waiter::Api(req) => {
                    let r = result.clone().map_err(PutFailure::Store);
                    self.app_acked(req, r);
                }
            }
        }
        Ok(())
    }

    /// Schedules future-state properties for when the wall clock reaches them.
    /// `ticket` is the ack owed once these properties are applied.
    fn defer(&mut self, deferred: &Graph, ticket: Option<u64>) {
        for (soul, node) in deferred.iter() {
            for (key, p) in node.iter() {
                if self.deferred >= self.cfg.max_deferred {
                    warn!(
                        soul,
                        key, "too many future-state updates held; dropping one"
                    );
                    // Not stored, so never acked.
                    if let Some(t) = ticket {
                        self.tickets.remove(&t);
                    }
                    continue;
                }
                self.deferred += 1;
                let ms = (p.state - self.now.unix_ms).clamp(0.0, MAX_DEFER_MS);
                let after = Duration::from_secs_f64(ms / 1000.0) + Duration::from_millis(1);
                self.set_timer(
                    after,
                    Timer::Deferred {
                        soul: soul.to_owned(),
                        key: key.to_owned(),
                        value: p.value.clone(),
                        state: p.state,
                        ticket,
                    },
                );
            }
        }
    }

    /// Merges `diff` (its souls loaded) into the graph: writes what won, defers
    /// what is from the future, and tells listeners.
    fn merge(&mut self, diff: &Graph, waiter: Option<Waiter>) -> crate::graph::Merged {
        let merged = self.graph.merge(self.now.unix_ms, diff);
        self.defer(&merged.deferred, None);
        self.write(&merged.accepted, waiter);
        self.changed(&merged.accepted);
        merged
    }
}

impl Engine {
    /// Owes `waiter` an ack once `count` deferred properties are applied.
    fn ticket(&mut self, waiter: Waiter, count: usize) -> u64 {
        self.next_ticket += 1;
        self.tickets.insert(
            self.next_ticket,
            Ticket {
                waiter,
                left: count,
            },
        );
        self.next_ticket
    }

    /// One deferred property of a ticket was applied; the waiter when it was the last.
    fn ticket_done(&mut self, ticket: u64) -> Option<Waiter> {
        let t = self.tickets.get_mut(&ticket)?;
        t.left = t.left.saturating_sub(1);
        if t.left > 0 {
            return None;
        }
        self.tickets.remove(&ticket).map(|t| t.waiter)
    }
}

/// Whether the souls a job needs are in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Loaded {
    Yes,
    No,
    /// A read of one of them failed, so the job cannot proceed.
    Failed(crate::store::StoreError),
}
