//! The engine: one Gun peer as a sans-IO state machine.
//!
//! The state lives in sub-machines, each owning one concern:
//! - `storage`: which souls are in memory, reads in flight, jobs parked on
//!   them, the turn's write batch and who waits for it;
//! - `mesh`: connected peers and their queues, subscriptions, dedup and reply
//!   routes, held not-founds, forwards kept for upstream;
//! - `queries`: the application's `once`s, listeners and gets to peers;
//! - `own`: our writes, their two answers (local, peer) and the outbox;
//! - `admission`: the signed mesh's checks and the message predicate, with
//!   signature verification asked of the driver as an effect;
//! - `timers`, `deferred` (future-state properties and the acks they owe);
//! - `rooms`: the WebRTC rooms joined, and the signalling ids that are ours.
//!
//! This module takes inputs and hands out outputs, routing each to the flow
//! that handles it: `merging` (puts from anywhere, merged by HAM, stored,
//! pushed on), `serving` (gets from peers and the replies we route),
//! `calls` (API calls and our own writes), `reading` (chain resolution,
//! `once`, listeners) and `signing` (the signed mesh).

mod acks;
mod admission;
mod budget;
mod calls;
mod config;
mod deferred;
mod jobs;
mod mapping;
mod merging;
mod mesh;
mod outbox;
mod own;
mod queries;
mod reading;
mod rooms;
mod sending;
mod serving;
mod signing;
mod spaces;
mod stats;
mod storage;
mod timers;
mod types;

use std::collections::VecDeque;
use std::time::Duration;

use compact_str::CompactString;
use tracing::{debug, warn};

use crate::graph::{Graph, Resident};
use crate::ids::{PeerId, Rng};
use crate::state::StateClock;
use crate::wire::{self, Message};
pub use admission::Predicate;
pub use config::Config;
use jobs::Job;
pub use stats::{Refusal, Stats};
use timers::{Timer, Timers};
pub use types::{Call, Check, Error, Event, Input, Now, Output, Path, PutFailure, Role, SeaProof};

/// One Gun peer: graph, mesh, queries and listeners, with no I/O.
///
/// Drive it with a loop (the crate's documentation shows one): feed
/// [`Engine::handle_input`] (and [`Engine::handle_timeout`] when
/// [`Engine::poll_timeout`] passes), then drain [`Engine::poll_output`] until
/// it returns `None`, carrying out each output. Inputs fed before a drain are
/// batched: one store write covers every put they carried (group commit),
/// and messages to one peer share a frame.
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    pid: String,
    rng: Rng,
    clock: StateClock,
    now: Now,
    graph: Resident,
    storage: storage::Storage,
    mesh: mesh::Mesh,
    queries: queries::Queries,
    own: own::OwnWrites,
    deferred: deferred::Deferred,
    admission: admission::Admission,
    timers: Timers,
    outputs: VecDeque<Output>,
    /// Whether the whole store was read and sent upstream since start.
    repaired: bool,
    stats: Stats,
    rooms: rooms::Rooms,
    /// Our user (SEA): its writes into its space are signed.
    #[cfg(feature = "sea")]
    user: Option<crate::sea::Pair>,
}

impl Engine {
    /// A new engine. `now` seeds its view of time; no output is pending.
    pub fn new(cfg: Config, now: Now) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let pid = cfg.pid.clone().unwrap_or_else(|| rng.text(9));
        Self {
            clock: StateClock::new(cfg.clock_drift),
            pid,
            rng,
            now,
            graph: Resident::new(),
            storage: storage::Storage::new(
                cfg.store,
                cfg.max_parked,
                cfg.max_parked_per_peer,
                cfg.max_cached_souls,
            ),
            mesh: mesh::Mesh::new(&cfg),
            queries: queries::Queries::default(),
            own: own::OwnWrites::new(cfg.max_outbox),
            deferred: deferred::Deferred::new(cfg.max_deferred, cfg.max_deferred_per_peer),
            admission: admission::Admission::new(&cfg),
            stats: Stats::default(),
            timers: Timers::default(),
            outputs: VecDeque::new(),
            repaired: false,
            rooms: rooms::Rooms::default(),
            #[cfg(feature = "sea")]
            user: None,
            cfg,
        }
    }

    /// Our peer id (`pid`), sent in greetings.
    pub fn pid(&self) -> &str {
        &self.pid
    }

    /// The graph as held in memory.
    pub fn graph(&self) -> &Resident {
        &self.graph
    }

    /// The number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.mesh.len()
    }

    /// How many souls are in memory, read from the store (with a store).
    pub fn cached_souls(&self) -> usize {
        self.storage.cached()
    }

    /// What the engine has counted: refusals by reason, acks.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether `peer` has more of its messages waiting here (for the store,
    /// for signature checks, or past its message rate) than it should send
    /// more now. A driver stops reading that peer's socket while this holds
    /// (and looks again after each turn), so the peer's TCP connection
    /// pushes back instead of its messages piling up in memory.
    pub fn backlogged(&self, now: Now, peer: PeerId) -> bool {
        self.admission.backlogged(peer)
            || self.storage.backlogged(peer)
            || self.mesh.backlogged(peer, now.mono.max(self.now.mono))
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
                if !self.mesh.contains(peer) {
                    return Err(Error::UnknownPeer(peer));
                }
                self.on_frame(peer, data);
                Ok(())
            }
            Input::StoreRead { id, result } => self.read_done(id, result),
            Input::StoreWritten {
                id,
                result,
                acks_sent,
            } => self.write_done(id, result, acks_sent),
            Input::StoreSouls { index } => {
                self.storage.index_souls(index);
                Ok(())
            }
            Input::Verified { id, result } => {
                let done = self.admission.verified(id, result);
                for r in done.refused {
                    let why = if r.answer {
                        Refusal::Sea
                    } else {
                        Refusal::Auth
                    };
                    self.refused(r.peer, why, format_args!("message {}: {}", r.id, r.why));
                    if r.answer {
                        self.nack(r.peer, Some(r.id), &r.why);
                    }
                }
                for (id, peer, check) in done.verify {
                    self.outputs.push_back(Output::Verify { id, peer, check });
                }
                for (peer, msg) in done.ready {
                    self.on_message(peer, msg);
                }
                Ok(())
            }
            Input::Call(call) => self.call(call),
        }
    }

    /// When [`Engine::handle_timeout`] is next due (monotonic time), if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.next()
    }

    /// Runs the timers due at `now`: deferred future states, `once` waits,
    /// put timeouts, route expiry. After this, drain [`Engine::poll_output`].
    pub fn handle_timeout(&mut self, now: Now) {
        self.advance(now);
        while let Some(timer) = self.timers.pop_due(now.mono) {
            self.fire(timer);
        }
    }

    /// The next thing for the driver to do, or `None` when all is done.
    /// Drain it to `None` after every `handle_*` call.
    ///
    /// Frames come before the turn's store write: forwards reach
    /// subscribers while the write is being made durable (as Gun.js's
    /// relays forward before their disk write). Acks are not among them:
    /// a put is acked only once [`Input::StoreWritten`] says it is stored
    /// (or they go with the write, [`Output::StoreWrite`]'s `acks`, for the
    /// driver to send once it is durable).
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.outputs.pop_front() {
            return Some(o);
        }
        if let Some((peer, frame)) = self.mesh.next_frame() {
            return Some(Output::Transmit { peer, frame });
        }
        // Acks are made ready with the write (see `acks`), unless the mesh
        // signs them.
        let unsigned = self.cfg.signer.is_none();
        let (mesh, rng) = (&self.mesh, &mut self.rng);
        let mut acks = acks::ReadyAcks::new(self.cfg.batch_bytes);
        let (id, batch) = self.storage.flush(|peer, id| {
            let ready = unsigned && mesh.contains(peer);
            if ready {
                acks.push(rng, peer, id);
            }
            ready
        })?;
        Some(Output::StoreWrite {
            id,
            batch,
            acks: acks.frames(),
        })
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

    /// What HAM compares incoming states against: the wall clock, or the
    /// last state we gave our own writes if that is ahead of it.
    fn machine_state(&self) -> f64 {
        self.clock.machine(self.now.unix_ms)
    }

    /// A message id of ours: nine characters, held inline.
    fn new_id(&mut self) -> CompactString {
        let mut id = CompactString::default();
        self.rng.each_char(9, |c| id.push(c));
        id
    }

    fn set_timer(&mut self, after: Duration, timer: Timer) {
        self.timers.set(self.now.mono + after, timer);
    }

    /// How long a message id of ours routes replies.
    fn route_age(&self) -> Duration {
        self.cfg.get_route_age.max(self.cfg.put_timeout)
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::PutTimeout(req) => self.put_timed_out(req),
            Timer::OnceWait(req) => self.once_timeout(req),
            Timer::RouteExpire(id) => {
                self.mesh.expire_route(&id);
                self.own.expire_id(&id);
                self.get_expired(&id);
            }
            Timer::HeldExpire(id) => self.release_held(&id),
            Timer::Deferred {
                soul,
                key,
                value,
                state,
                ticket,
                owner,
            } => {
                self.deferred.applied(owner);
                let mut diff = Graph::new();
                diff.insert(&soul, &key, value, state);
                self.run(Job::Deferred {
                    diff,
                    ticket,
                    owner,
                });
            }
        }
    }

    // ----- peers ------------------------------------------------------------

    fn connect(&mut self, peer: PeerId, role: Role) -> Result<(), Error> {
        self.mesh.connect(peer, role, self.now.mono)?;
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
            Role::Dialed => {
                self.resync(peer);
                self.announce(&[peer]);
            }
            Role::Direct => self.resync(peer),
        }
        Ok(())
    }

    fn disconnect(&mut self, peer: PeerId) -> Result<(), Error> {
        let gone = self.mesh.disconnect(peer, self.now.mono)?;
        self.admission.peer_gone(peer);
        for (id, to) in gone.released {
            self.send_not_found(to, id);
        }
        self.peer_gone(peer);
        Ok(())
    }

    fn on_dam(&mut self, peer: PeerId, dam: &str, msg: Message) {
        match dam {
            "?" => {
                if let Some(pid) = msg.pid.as_deref()
                    && pid.len() > mesh::MAX_LABEL
                {
                    self.refused(
                        peer,
                        Refusal::TooLong,
                        format_args!("a pid of {} bytes", pid.len()),
                    );
                } else if let Some(pid) = msg.pid.clone() {
                    if pid == self.pid {
                        warn!(?peer, "peer has our own pid: a connection to ourselves");
                    }
                    self.mesh.greeted(peer, &pid, self.now.mono);
                    self.outputs
                        .push_back(Output::Event(Event::PeerGreeted { peer, pid }));
                }
                if msg.ack.is_none() {
                    let id = self.new_id();
                    let reply = Message {
                        id: Some(id),
                        ack: msg.id,
                        dam: Some("?".into()),
                        pid: Some(self.pid.clone()),
                        ..Message::default()
                    };
                    self.send(peer, &reply);
                }
            }
            "!" => warn!(
                ?peer,
                err = msg.err.as_deref().unwrap_or(""),
                "peer reported an error"
            ),
            other => debug!(?peer, dam = other, "mesh message ignored"),
        }
    }

    // ----- frames in ----------------------------------------------------------

    fn on_frame(&mut self, peer: PeerId, data: &[u8]) {
        match wire::split_frame(data, &self.cfg.limits) {
            Ok(wire::Split::One(text)) => {
                self.mesh.took_messages(peer, 1, self.now.mono);
                self.on_item(peer, text, true);
            }
            Ok(wire::Split::Batch(items)) => {
                self.mesh.took_messages(peer, items.len(), self.now.mono);
                for item in items {
                    self.on_item(peer, item.get(), false);
                }
            }
            Err(e) => self.refuse_frame(peer, &e),
        }
    }

    /// A frame that cannot be read: a `dam:"!"` notice.
    fn refuse_frame(&mut self, peer: PeerId, e: &wire::FrameError) {
        self.refused(peer, Refusal::Frame, e);
        let id = self.new_id();
        self.send(peer, &Message::dam_error(id, e.to_string()));
    }

    /// One message of a frame: admitted (its signatures checked, then
    /// verified by the driver), read, and handled. A message that is neither
    /// signed nor looked at by the policy or the predicate is read in one
    /// pass, with no JSON tree. A `lone` message is the whole frame, not yet
    /// known to be JSON: when it is not, the frame is refused.
    fn on_item(&mut self, peer: PeerId, text: &str, lone: bool) {
        // A put or an ack in the usual shape carries no `sigs` (the quick
        // reader takes no other field): unless every message is inspected,
        // it is read with no search for them.
        if !self.admission.inspects_all()
            && let Some(msg) = wire::quick_message(text)
        {
            return self.admit(peer, msg, None, None);
        }
        let inspect = self.admission.inspects_all() || text.contains("\"sigs\"");
        let (read, json, signed) = if inspect {
            let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
                if lone {
                    return self.refuse_frame(peer, &wire::FrameError::Json);
                }
                return self.refuse_message(peer, None, &wire::MessageError::Json);
            };
            let signed = match self.admission.check(&json) {
                Ok(s) => s,
                Err(why) => {
                    let id = json.get("#").and_then(|v| v.as_str()).unwrap_or("");
                    let id: String = id.chars().take(mesh::MAX_LABEL).collect();
                    return self.refused(peer, Refusal::Auth, format_args!("message {id}: {why}"));
                }
            };
            if let Some(s) = &signed
                && let Some(id) = json.get("#").and_then(|v| v.as_str())
                && self.mesh.seen(id, self.now.mono)
            {
                // A replay: dropped before its signatures cost anything.
                debug!(
                    ?peer,
                    id,
                    entries = s.entries.len(),
                    "duplicate message dropped"
                );
                return;
            }
            let keep = self.cfg.predicate.is_some().then(|| json.clone());
            (wire::message(json), keep, signed)
        } else {
            (wire::message_text_unusual(text), None, None)
        };
        let msg = match read {
            Ok(msg) => msg,
            Err((None, wire::MessageError::Json)) if lone => {
                return self.refuse_frame(peer, &wire::FrameError::Json);
            }
            Err((id, e)) => return self.refuse_message(peer, id.map(Into::into), &e),
        };
        self.admit(peer, msg, json, signed);
    }

    /// A message read from `peer`: held to the limits and the protected
    /// spaces' rules, then handled once admitted (`json`, its tree, where
    /// the predicate looks at it; `signed`, its checked signatures).
    fn admit(
        &mut self,
        peer: PeerId,
        mut msg: Message,
        json: Option<serde_json::Value>,
        signed: Option<crate::auth::Signed>,
    ) {
        if let Err(e) = self.cfg.limits.check(&msg) {
            // Answered by id only when the id itself is not what is too long.
            let id = msg.id.filter(|i| i.len() <= self.cfg.limits.max_id_bytes);
            return self.refuse_message(peer, id, &e);
        }
        let sea = match self.data_in(&mut msg, signed.is_some()) {
            Ok(sea) => sea,
            Err(why) => {
                let id = msg.id.clone().unwrap_or_default();
                let id: String = id.chars().take(mesh::MAX_LABEL).collect();
                self.refused(peer, Refusal::Sea, format_args!("message {id}: {why}"));
                if msg.ack.is_none() {
                    self.nack(peer, msg.id, why);
                }
                return;
            }
        };
        let check = Check { mesh: signed, sea };
        match self.admission.at_once(peer, &msg, json.as_ref(), &check) {
            Some(true) => return self.on_message(peer, msg),
            Some(false) => return,
            None => {}
        }
        match self.admission.arrived(peer, msg, json, check) {
            admission::Verdict::Verify(id, check) => {
                self.outputs.push_back(Output::Verify { id, peer, check });
            }
            admission::Verdict::Wait => {}
            admission::Verdict::Refuse(why) => self.refused(peer, Refusal::Auth, why),
        }
    }

    /// The protected spaces' rules on a message's data ([`spaces`]): the
    /// signatures it stands on, or why it is refused. Expired values are
    /// dropped from it (a reply left with none is a reply without data); a
    /// message of the signed mesh is taken whole or not at all, its bytes
    /// being what was signed.
    fn data_in(&self, msg: &mut Message, signed: bool) -> Result<Vec<SeaProof>, &'static str> {
        let Some(put) = &mut msg.put else {
            return Ok(Vec::new());
        };
        // Counted only where it matters: a signed message must come whole.
        let before = signed.then(|| put.prop_count());
        match self.check_spaces(put) {
            Ok(_) if before.is_some_and(|n| n != put.prop_count()) => Err(spaces::EXPIRED),
            Ok(proofs) => Ok(proofs),
            Err(why) if msg.ack.is_some() && why == spaces::EXPIRED && !signed => {
                msg.put = None;
                Ok(Vec::new())
            }
            Err(why) => Err(why),
        }
    }

    /// A message that cannot be read: a nack it can route when it has an
    /// id, else a `dam:"!"` notice.
    fn refuse_message(&mut self, peer: PeerId, id: Option<CompactString>, e: &wire::MessageError) {
        let why = match e {
            wire::MessageError::TooLong(_) => Refusal::TooLong,
            _ => Refusal::Message,
        };
        self.refused(peer, why, e);
        let reply_id = self.new_id();
        let reply = match id {
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

    /// Routes one message: mesh control, a reply, a get or a put.
    fn on_message(&mut self, peer: PeerId, mut msg: Message) {
        if msg.id.is_none() {
            msg.id = Some(self.new_id());
        }
        let id = msg.id.as_deref().unwrap_or_default();
        // A reply's id routes nothing: it need not be remembered, unless it
        // is signed (a replay then costs no signature check) or is WebRTC
        // signalling (answered in turn: an offer by an answer).
        let remember =
            msg.ack.is_none() || msg.extra.contains_key("sigs") || merging::is_signal(&msg);
        let fresh = if remember {
            self.mesh.arrive(id, peer, self.now.mono)
        } else {
            !self.mesh.seen(id, self.now.mono)
        };
        if !fresh {
            debug!(?peer, id, "duplicate message dropped");
            return;
        }
        self.stats.messages_in += 1;
        if let Some(dam) = msg.dam.clone() {
            self.on_dam(peer, &dam, msg);
        } else if msg.ack.is_some() {
            self.on_reply(peer, msg);
        } else if msg.get.is_some() {
            self.on_get(peer, msg);
        } else if msg.put.is_some() {
            self.rtc_put(peer, &msg);
            self.run_peer_put(peer, msg);
        }
    }

    // ----- messages out ---------------------------------------------------------

    /// Counts a refusal of what `peer` sent, and logs it while the peer's
    /// log budget lasts (a flood of refusals writes a few lines, then one
    /// saying how many more there were).
    pub(super) fn refused(&mut self, peer: PeerId, why: Refusal, detail: impl std::fmt::Display) {
        self.stats.count(why);
        match self.mesh.log_budget(peer, self.now.mono) {
            Some(missed) => {
                if missed > 0 {
                    warn!(?peer, missed, "refusals of this peer went unlogged");
                }
                warn!(?peer, reason = why.as_str(), detail = %detail, "refused");
            }
            None => self.stats.logs_suppressed += 1,
        }
    }
}
