//! The write path: puts from peers, data from replies, future states whose
//! time came and our own writes are merged by HAM (once the souls they touch
//! are in memory), written in the turn's batch, shown to listeners, and
//! pushed on to the peers that want them.

use std::time::Duration;

use compact_str::CompactString;
use tracing::warn;

use super::jobs::Job;
use super::storage::{Loaded, Waiter};
use super::timers::Timer;
use super::{Engine, Error, Message, Output, Refusal, Role};
use crate::graph::{Graph, Merged};
use crate::ids::{PeerId, ReadId, WriteId};
use crate::store::{StoreError, WriteFailure};

/// Longest timer Gun.js sets for a future state (2^31-1 ms).
const MAX_DEFER_MS: f64 = 2_147_483_647.0;

/// Properties per read-repair message.
const REPAIR_CHUNK: usize = 1000;

impl Engine {
    /// Runs a job now, or parks it until the store has answered its reads.
    pub(super) fn run(&mut self, job: Job) {
        if let Some((job, waits_for)) = self.try_job(job) {
            self.park(job, waits_for);
        }
    }

    /// [`Engine::run`] of a peer's put (no job made unless it must wait).
    pub(super) fn run_peer_put(&mut self, peer: PeerId, msg: Message) {
        if let Some((job, waits_for)) = self.try_peer_put(peer, msg) {
            self.park(job, waits_for);
        }
    }

    /// Parks a job until the store has answered its reads (for the soul it
    /// waits for; `None`: any read), or refuses it when too many wait.
    fn park(&mut self, job: Job, waits_for: Option<String>) {
        if let Some(job) = self.storage.park(job, waits_for) {
            let why = "Busy: too many requests waiting on storage";
            match job.peer() {
                Some(peer) => self.refused(peer, Refusal::Busy, why),
                None => warn!("too many jobs waiting on the store; refusing one"),
            }
            self.refuse(job, why, StoreError::new(why));
        }
    }

    /// Refuses a job: a peer gets `why` as its `err`; the application gets
    /// `err`, which may name local files a peer has no business seeing.
    pub(super) fn refuse(&mut self, job: Job, why: &str, err: StoreError) {
        match job {
            Job::PeerPut { peer, msg } => self.nack(peer, msg.id, why),
            Job::PeerGet(get) => self.nack(get.peer, get.msg.id, why),
            Job::Write(write) => self.write_refused(write.req, err),
            Job::Data { .. } | Job::Deferred { .. } => {}
        }
    }

    /// Does a job if its souls are in memory; else gives it back with the
    /// soul it waits for (`None`: any read).
    fn try_job(&mut self, job: Job) -> Option<(Job, Option<String>)> {
        match job {
            Job::PeerPut { peer, msg } => self.try_peer_put(peer, msg),
            Job::PeerGet(get) => self.peer_get(get),
            Job::Data { except, diff } => match self.ensure_diff_loaded(&diff) {
                Loaded::No(soul) => Some((Job::Data { except, diff }, Some(soul))),
                Loaded::Failed(_) => None,
                Loaded::Yes => {
                    let merged = self.merge(&diff, None);
                    self.push(&merged.accepted, except, false);
                    None
                }
            },
            Job::Deferred {
                diff,
                ticket,
                owner,
            } => match self.ensure_diff_loaded(&diff) {
                Loaded::No(soul) => Some((
                    Job::Deferred {
                        diff,
                        ticket,
                        owner,
                    },
                    Some(soul),
                )),
                Loaded::Failed(_) => None,
                Loaded::Yes => {
                    let merged = self.graph.merge(self.machine_state(), &diff);
                    if merged.deferred.is_empty() {
                        // Applied (or superseded meanwhile): the put's ack may be due.
                        let waiter = ticket.and_then(|t| self.deferred.ticket_done(t));
                        self.changed(&merged.accepted);
                        self.push(&merged.accepted, None, true);
                        self.storage.write(merged.accepted, merged.prior, waiter);
                    } else {
                        self.defer(&merged.deferred, ticket, owner);
                    }
                    None
                }
            },
            Job::Write(write) => self.try_write(write),
        }
    }

    /// [`Engine::try_job`] of a peer's put.
    fn try_peer_put(&mut self, peer: PeerId, msg: Message) -> Option<(Job, Option<String>)> {
        let loaded = match &msg.put {
            Some(g) => self.ensure_put_loaded(g),
            None => Loaded::Yes,
        };
        match loaded {
            Loaded::No(soul) => Some((Job::PeerPut { peer, msg }, Some(soul))),
            Loaded::Failed(e) => {
                self.refuse(Job::PeerPut { peer, msg }, "storage read failed", e);
                None
            }
            Loaded::Yes => {
                self.peer_put(peer, msg);
                None
            }
        }
    }

    /// [`Engine::ensure_loaded`] for every soul of a diff.
    pub(super) fn ensure_diff_loaded(&mut self, diff: &Graph) -> Loaded {
        self.storage.ensure_loaded(diff.souls(), &mut self.outputs)
    }

    /// What a peer's put needs in memory: the properties it touches, or the
    /// whole node where a local listener watches a soul (it is shown whole)
    /// or a rule reads the whole node (an alias's claims).
    fn ensure_put_loaded(&mut self, diff: &Graph) -> Loaded {
        let whole = diff.souls().any(super::spaces::reads_whole_node);
        if !whole && !self.queries.watches_any(diff.souls()) {
            self.storage.ensure_keys_loaded(diff, &mut self.outputs)
        } else {
            self.ensure_diff_loaded(diff)
        }
    }

    /// Whether `souls` are in memory; reads the missing ones.
    pub(super) fn ensure_loaded<'s>(&mut self, souls: impl IntoIterator<Item = &'s str>) -> Loaded {
        self.storage.ensure_loaded(souls, &mut self.outputs)
    }

    /// A peer's put, its souls in memory: merge, ack once written, forward.
    fn peer_put(&mut self, peer: PeerId, mut msg: Message) {
        let Some(diff) = msg.put.take() else { return };
        let serves = self.mesh.role(peer).is_some_and(Role::served);
        if serves && let Some(why) = self.alias_taken(&diff) {
            let id = msg.id.as_deref().unwrap_or_default();
            self.refused(peer, Refusal::Sea, format_args!("message {id}: {why}"));
            self.nack(peer, msg.id, why);
            return;
        }
        // A put that can go nowhere else (no other peer, no upstream) is
        // not kept for a forward: its new nodes move into the write, and
        // its id into the ack's waiter.
        let forwarding = self.mesh.len() > 1 || self.cfg.has_upstream;
        let id = if forwarding {
            msg.id.clone()
        } else {
            msg.id.take()
        }
        .unwrap_or_default();
        let now = self.machine_state();
        let (merged, diff) = if forwarding {
            (self.graph.merge(now, &diff), Some(diff))
        } else {
            (self.graph.merge_owned(now, diff), None)
        };
        // Ack what we serve once written: also a put that lost entirely, since
        // what it wrote is superseded by what is stored. A put with properties
        // from the future is acked once they have been applied and written
        // (Gun.js never acks those).
        let waiter = serves.then_some(Waiter::Peer { peer, id });
        let waiter = match (waiter, merged.deferred.prop_count()) {
            (Some(w), n) if n > 0 => {
                let t = self.deferred.ticket(w, n);
                self.defer(&merged.deferred, Some(t), Some(peer));
                None
            }
            (w, _) => {
                self.defer(&merged.deferred, None, Some(peer));
                w
            }
        };
        self.changed(&merged.accepted);
        let accepted_any = !merged.accepted.is_empty();
        self.storage.write(merged.accepted, merged.prior, waiter);
        if accepted_any && let Some(diff) = diff {
            msg.put = Some(diff);
            self.forward_put(peer, &msg);
        }
    }

    /// Forwards a peer's put, same id, to the peers that want its souls and to
    /// our upstream peers. Only those upstream may answer it (their acks
    /// come back to the writer); the subscribers it is pushed to may not.
    fn forward_put(&mut self, origin: PeerId, msg: &Message) {
        let Some(put) = &msg.put else { return };
        let seen = self.mesh.seen_by(origin, msg.seen.as_deref());
        let mut targets = self.mesh.targets(put.souls(), Some(origin), &seen, true);
        // A room's announcements stay on relays (see `ask`).
        if put.souls().all(is_rtc_room) {
            targets.retain(|t| self.mesh.role(*t) != Some(Role::Direct));
        }
        // Only writes flowing up (from a peer we serve) are kept for the
        // upstream peers until acked; pushes coming down from them are not.
        let from_below = self.mesh.role(origin).is_some_and(Role::served);
        if targets.is_empty() {
            if from_below
                && self.cfg.has_upstream
                && let Some(id) = &msg.id
            {
                self.keep_for_upstream(id.clone(), put.clone());
            }
            return;
        }
        let text = self.passed_on(msg).encode();
        // Kept for upstream even when no upstream peer is connected now: it
        // goes out when one connects.
        let upstream = from_below && (self.cfg.has_upstream || self.any_upstream(&targets));
        self.mesh
            .broadcast(&targets, text, msg.id.as_deref(), self.now.mono);
        if let Some(id) = &msg.id {
            // A WebRTC announcement (a put into a Gun.js room, `/RTC/…`) is
            // answered by the subscribers it reaches: their offers come
            // back as replies to it (`ok.rtc`), for us to route.
            let signalling = put.souls().all(is_rtc_room);
            let above: Vec<PeerId> = targets
                .iter()
                .copied()
                .filter(|t| signalling || self.mesh.role(*t).is_some_and(Role::upstream))
                .collect();
            self.mesh.sent_to(id, &above);
            if upstream {
                self.keep_for_upstream(id.clone(), put.clone());
            }
        }
    }

    /// A reply as we pass it back to the asker: what answering needs (`#`,
    /// `@`, `put`, `ok`, `err`, `##`), or, signed, all of it.
    pub(super) fn reply_passed_on(&self, msg: &Message) -> Message {
        if msg.extra.contains_key("sigs") {
            return msg.clone();
        }
        Message {
            id: msg.id.clone(),
            ack: msg.ack.clone(),
            put: msg.put.clone(),
            ok: msg.ok.clone(),
            err: msg.err.clone(),
            hash: msg.hash,
            ..Message::default()
        }
    }

    /// A peer's message as we pass it on: its id and its put or get, with
    /// `><` naming only us (never the peers it reached: their ids are not
    /// another peer's business, and a long `><` would be copied to every
    /// target). A signed message keeps every field, being what was signed
    /// (`><` is not), and gets our signature.
    pub(super) fn passed_on(&self, msg: &Message) -> Message {
        let mut out = if msg.extra.contains_key("sigs") {
            msg.clone()
        } else {
            Message {
                id: msg.id.clone(),
                put: msg.put.clone(),
                get: msg.get.clone(),
                ..Message::default()
            }
        };
        out.seen = Some(self.pid.clone());
        self.countersign(&mut out);
        out
    }

    fn any_upstream(&self, targets: &[PeerId]) -> bool {
        targets
            .iter()
            .any(|t| self.mesh.role(*t).is_some_and(Role::upstream))
    }

    /// Keeps a put sent upstream as message `id` until an upstream peer acks it.
    fn keep_for_upstream(&mut self, id: CompactString, put: Graph) {
        self.mesh.keep_for_upstream(id.clone(), put);
        let age = self.route_age();
        self.set_timer(age, Timer::RouteExpire(id));
    }

    /// An upstream peer (re)connected: resend what no upstream peer has acked.
    pub(super) fn resend_to_upstream(&mut self, peer: PeerId) {
        for (entry, put) in self.mesh.kept_for_upstream() {
            let msg = Message {
                id: Some(self.new_id()),
                put: Some(put),
                ..Message::default()
            };
            let id = self.broadcast(&[peer], msg);
            self.mesh.resent(id.clone(), entry);
            let age = self.route_age();
            self.set_timer(age, Timer::RouteExpire(id));
        }
    }

    /// Pushes properties we accepted from elsewhere to the peers subscribed to
    /// their souls (and to upstream peers when `upstream`), as a new message.
    pub(super) fn push(&mut self, accepted: &Graph, except: Option<PeerId>, upstream: bool) {
        if accepted.is_empty() {
            return;
        }
        let targets = self.mesh.targets(accepted.souls(), except, &[], upstream);
        if targets.is_empty() {
            if upstream && self.cfg.has_upstream {
                let id = self.new_id();
                self.keep_for_upstream(id, accepted.clone());
            }
            return;
        }
        let to_upstream = upstream && (self.cfg.has_upstream || self.any_upstream(&targets));
        let msg = Message {
            id: Some(self.new_id()),
            put: Some(accepted.clone()),
            ..Message::default()
        };
        let id = self.broadcast(&targets, msg);
        if to_upstream {
            self.keep_for_upstream(id, accepted.clone());
        }
    }

    /// Sends what was just read from the store upstream (read repair): a
    /// write this peer stored and acked before a crash still reaches the
    /// peers above it. Kept until acked, like any forward.
    fn repair_upstream(&mut self, found: &Graph) {
        if !self.cfg.has_upstream || found.is_empty() {
            return;
        }
        let upstream = self.mesh.upstream();
        // In chunks, so that a large store stays within frame limits.
        for chunk in chunks(found, REPAIR_CHUNK) {
            let msg = Message {
                id: Some(self.new_id()),
                put: Some(chunk.clone()),
                ..Message::default()
            };
            let id = self.broadcast(&upstream, msg);
            self.keep_for_upstream(id, chunk);
        }
    }

    /// Merges `diff` (its souls loaded) into the graph: writes what won, defers
    /// what is from the future, and tells listeners.
    pub(super) fn merge(&mut self, diff: &Graph, waiter: Option<Waiter>) -> Merged {
        let mut merged = self.graph.merge(self.machine_state(), diff);
        self.defer(&merged.deferred, None, None);
        let prior = std::mem::take(&mut merged.prior);
        self.storage.write(merged.accepted.clone(), prior, waiter);
        self.changed(&merged.accepted);
        merged
    }

    /// Schedules future-state properties for when the wall clock reaches them.
    /// `ticket` is the ack owed once these properties are applied; `owner`
    /// whose put they came in, whose share of the holds they take.
    fn defer(&mut self, deferred: &Graph, ticket: Option<u64>, owner: Option<PeerId>) {
        let mut dropped = 0;
        for (soul, node) in deferred.iter() {
            for (key, p) in node.iter() {
                if !self.deferred.hold(owner) {
                    // Not stored, so never acked.
                    if let Some(t) = ticket {
                        self.deferred.cancel(t);
                    }
                    dropped += 1;
                    continue;
                }
                let ms = (p.state - self.now.unix_ms).clamp(0.0, MAX_DEFER_MS);
                let after = Duration::from_secs_f64(ms / 1000.0) + Duration::from_millis(1);
                self.set_timer(
                    after,
                    Timer::Deferred {
                        soul: soul.to_owned(),
                        key: key.to_owned(),
                        value: p.value.to_value(),
                        state: p.state,
                        ticket,
                        owner,
                    },
                );
            }
        }
        if dropped > 0 {
            let detail = format_args!("{dropped} future-state properties over the share held");
            match owner {
                Some(peer) => self.refused(peer, Refusal::FutureStates, detail),
                None => warn!(%detail, "too many future-state updates held; dropped"),
            }
        }
    }

    /// The store answered a read: merge what it found, run what waited.
    pub(super) fn read_done(
        &mut self,
        id: ReadId,
        result: Result<Graph, StoreError>,
    ) -> Result<(), Error> {
        let done = self.storage.read_done(id, result)?;
        if let Some(found) = &done.found {
            // Stored data is trusted: merged with no deferral.
            let merged = self.graph.merge(f64::INFINITY, found);
            self.changed(&merged.accepted);
            self.repair_upstream(found);
        }
        for job in self.storage.unpark(&done.affected) {
            self.run(job);
        }
        self.reload();
        self.storage.clear_failed();
        let queries = &self.queries;
        self.storage
            .evict(&mut self.graph, |soul| queries.watches_any([soul]));
        Ok(())
    }

    /// The store wrote a batch, or some or all of its parts failed: ack
    /// what is stored (unless the driver sent those acks already), refuse
    /// what is not (memory is set back already).
    pub(super) fn write_done(
        &mut self,
        id: WriteId,
        result: Result<(), WriteFailure>,
        acks_sent: bool,
    ) -> Result<(), Error> {
        if let Err(e) = &result {
            warn!(error = %e, "store write failed");
        }
        let done = self
            .storage
            .write_done(id, result, acks_sent, &mut self.graph)?;
        self.stats.puts_acked += done.acked_ahead;
        for w in done.stored {
            self.write_answered(w, Ok(()));
        }
        for (w, e) in done.refused {
            if let Some(w) = w {
                self.write_answered(w, Err(e));
            }
        }
        if !done.undone.is_empty() {
            self.changed(&done.undone);
        }
        Ok(())
    }

    /// Tells whoever waited for a write how it went: a peer gets its ack
    /// (or an error ack that names no local detail), our own write settles.
    fn write_answered(&mut self, w: Waiter, result: Result<(), StoreError>) {
        match w {
            Waiter::Peer { peer, id } if result.is_ok() && self.cfg.signer.is_none() => {
                self.stats.puts_acked += 1;
                let rng = &mut self.rng;
                self.mesh.send_with(peer, None, self.now.mono, |out| {
                    super::acks::push_ack(rng, &id, out);
                });
            }
            Waiter::Peer { peer, id } => {
                let reply_id = self.new_id();
                let mut ack = Message {
                    id: Some(reply_id),
                    ack: Some(id),
                    ..Message::default()
                };
                match &result {
                    Ok(()) => {
                        self.stats.puts_acked += 1;
                        ack.ok = Some(serde_json::Value::Bool(true));
                    }
                    Err(_) => {
                        self.refused(peer, Refusal::Store, "the store refused a put");
                        ack.err = Some("storage refused the write".to_owned());
                    }
                }
                self.send(peer, &ack);
            }
            Waiter::Own(req) => self.settled(req, result.map_err(super::PutFailure::Store)),
        }
    }

    /// Hands an event to the application.
    pub(super) fn emit(&mut self, event: super::Event) {
        self.outputs.push_back(Output::Event(event));
    }
}

/// Splits a graph into graphs of at most `n` properties (whole nodes kept
/// together where they fit).
fn chunks(g: &Graph, n: usize) -> Vec<Graph> {
    let mut out = Vec::new();
    let mut cur = Graph::new();
    let mut count = 0;
    for (soul, node) in g.iter() {
        for (key, p) in node.iter() {
            if count == n {
                out.push(std::mem::take(&mut cur));
                count = 0;
            }
            cur.node_mut(soul).set(key, p);
            count += 1;
        }
    }
    if count > 0 {
        out.push(cur);
    }
    out
}

/// Whether `soul` is a Gun.js WebRTC room (`/RTC/<room>…`): peers meet
/// there and signal to each other in replies to its puts.
pub(super) fn is_rtc_room(soul: &str) -> bool {
    soul.starts_with("/RTC/")
}

/// Whether a reply is WebRTC signalling (`ok: {"rtc": …}`: an offer, an
/// answer or a candidate), which we route between peers, not an ack.
pub(super) fn is_signal(msg: &Message) -> bool {
    msg.ok.as_ref().is_some_and(|ok| ok.get("rtc").is_some()) && msg.put.is_none()
}
