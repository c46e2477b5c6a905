//! Messages from peers: greetings, puts, gets and replies, and forwarding.

use std::collections::BTreeSet;

use tracing::{debug, warn};

use super::{Engine, Loaded, Role, Waiter, app::AppJob};
use crate::graph::Graph;
use crate::ids::{PeerId, ReadId};
use crate::store::{StoreError, StoreQuery};
use crate::value::Value;
use crate::wire::{Get, Message};

/// A peer's get waiting to be answered.
#[derive(Debug)]
pub(super) struct GetJob {
    peer: PeerId,
    msg: Message,
    /// A pending store read of the souls a lex selects.
    read: Option<ReadId>,
    /// The upstream peers the get was forwarded to.
    upstream: BTreeSet<PeerId>,
}

/// Work that may have to wait for souls to be read from the store.
#[derive(Debug)]
pub(super) enum Job {
    /// A peer's put, to merge, ack and forward.
    PeerPut { peer: PeerId, msg: Message },
    /// A peer's get, to answer.
    PeerGet(GetJob),
    /// Data from a reply, to merge and push on to subscribers but `except`.
    Data { except: Option<PeerId>, diff: Graph },
    /// A future-state property whose time has come (`ticket`: the ack it owes to).
    Deferred { diff: Graph, ticket: Option<u64> },
    /// An application write.
    App(AppJob),
}

impl Engine {
    /// Runs a job now, or parks it until the store has answered its reads.
    pub(super) fn run(&mut self, job: Job) {
        let Some(job) = self.try_job(job) else { return };
        if self.parked_count >= self.cfg.max_parked {
            warn!("too many jobs waiting on the store; refusing one");
            let why = "Busy: too many requests waiting on storage";
            self.refuse(job, why, StoreError::new(why));
            return;
        }
        self.parked_count += 1;
        match self.last_missing.take() {
            Some(soul) => self.parked.entry(soul).or_default().push(job),
            None => self.parked_other.push(job),
        }
    }

    /// Refuses a job: a peer gets `why` as its `err`; the application gets
    /// `err`, which may name local files a peer has no business seeing.
    fn refuse(&mut self, job: Job, why: &str, err: StoreError) {
        match job {
            Job::PeerPut { peer, msg } | Job::PeerGet(GetJob { peer, msg, .. }) => {
                let id = self.new_id();
                let reply = Message {
                    id: Some(id),
                    ack: msg.id,
                    err: Some(why.to_owned()),
                    ..Message::default()
                };
                self.send(peer, &reply);
            }
            Job::App(job) => self.app_refuse(job, err),
            Job::Data { .. } | Job::Deferred { .. } => {}
        }
    }

    fn try_job(&mut self, job: Job) -> Option<Job> {
        match job {
            Job::PeerPut { peer, msg } => {
                let loaded = msg
                    .put
                    .as_ref()
                    .map_or(Loaded::Yes, |g| self.ensure_diff_loaded(g));
                match loaded {
                    Loaded::No => Some(Job::PeerPut { peer, msg }),
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
            Job::PeerGet(job) => self.peer_get(job).map(Job::PeerGet),
            Job::Data { except, diff } => match self.ensure_diff_loaded(&diff) {
                Loaded::No => Some(Job::Data { except, diff }),
                Loaded::Failed(_) => None,
                Loaded::Yes => {
                    let merged = self.merge(&diff, None);
                    self.push(&merged.accepted, except, false);
                    None
                }
            },
            Job::Deferred { diff, ticket } => match self.ensure_diff_loaded(&diff) {
                Loaded::No => Some(Job::Deferred { diff, ticket }),
                Loaded::Failed(_) => None,
                Loaded::Yes => {
                    let merged = self.graph.merge(self.now.unix_ms, &diff);
                    if merged.deferred.is_empty() {
                        // Applied (or superseded meanwhile): the put's ack may be due.
                        let waiter = ticket.and_then(|t| self.ticket_done(t));
                        self.write(&merged.accepted, waiter);
                        self.changed(&merged.accepted);
                        self.push(&merged.accepted, None, true);
                    } else {
                        self.defer(&merged.deferred, ticket);
                    }
                    None
                }
            },
            Job::App(job) => self.try_app(job).map(Job::App),
        }
    }

    /// [`Engine::ensure_loaded`] for every soul of a diff.
    pub(super) fn ensure_diff_loaded(&mut self, diff: &Graph) -> Loaded {
        let souls: Vec<String> = diff.souls().map(str::to_owned).collect();
        self.ensure_loaded(souls.iter().map(String::as_str))
    }

    pub(super) fn on_message(&mut self, peer: PeerId, mut msg: Message) {
        let id = match msg.id.clone() {
            Some(id) => id,
            None => {
                let id = self.new_id();
                msg.id = Some(id.clone());
                id
            }
        };
        if self.dup.contains(&id, self.now.mono) {
            debug!(?peer, id, "duplicate message dropped");
            return;
        }
        self.dup.track(&id, Some(peer), self.now.mono);
        if let Some(dam) = msg.dam.clone() {
            self.on_dam(peer, &dam, msg);
            return;
        }
        if msg.ack.is_some() {
            self.on_reply(peer, msg);
            return;
        }
        if msg.get.is_some() {
            let upstream = self.forward_get(peer, &msg);
            self.run(Job::PeerGet(GetJob {
                peer,
                msg,
                read: None,
                upstream,
            }));
            return;
        }
        if msg.put.is_some() {
            self.run(Job::PeerPut { peer, msg });
        }
    }

    fn on_dam(&mut self, peer: PeerId, dam: &str, msg: Message) {
        match dam {
            "?" => {
                if let Some(pid) = msg.pid.clone() {
                    if pid == self.pid {
                        warn!(?peer, "peer has our own pid: a connection to ourselves");
                    }
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.pid = Some(pid.clone());
                        p.label = pid.clone();
                    }
                    self.restore_subs(peer, &pid);
                    self.outputs
                        .push_back(super::Output::Event(super::Event::PeerGreeted {
                            peer,
                            pid,
                        }));
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

    fn peer_put(&mut self, peer: PeerId, mut msg: Message) {
        let Some(diff) = msg.put.take() else { return };
        let id = msg.id.clone().unwrap_or_default();
        let serves = self
            .peers
            .get(&peer)
            .is_some_and(|p| p.role == Role::Accepted);
        let merged = self.graph.merge(self.now.unix_ms, &diff);
        // Ack what we serve once written: also a put that lost entirely, since
        // what it wrote is superseded by what is stored. A put with properties
        // from the future is acked once they have been applied and written
        // (Gun.js never acks those).
        let waiter = serves.then_some(Waiter::Peer { peer, id });
        let waiter = match (waiter, merged.deferred.prop_count()) {
            (Some(w), n) if n > 0 => {
                let t = self.ticket(w, n);
                self.defer(&merged.deferred, Some(t));
                None
            }
            (w, _) => {
                self.defer(&merged.deferred, None);
                w
            }
        };
        self.write(&merged.accepted, waiter);
        self.changed(&merged.accepted);
        if !merged.accepted.is_empty() {
            msg.put = Some(diff);
            self.forward_put(peer, &msg);
        }
    }

    /// Forwards a peer's put, same id, to the peers that want its souls and to
    /// our upstream peers, with `><` naming everyone it went to.
    fn forward_put(&mut self, origin: PeerId, msg: &Message) {
        let Some(put) = &msg.put else { return };
        let seen: Vec<&str> = msg
            .seen
            .as_deref()
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let mut targets: Vec<PeerId> = Vec::new();
        for (&id, p) in &self.peers {
            if id == origin || seen.contains(&p.label.as_str()) {
                continue;
            }
            let wants = p.role == Role::Dialed
                || put
                    .souls()
                    .any(|s| self.subs.get(s).is_some_and(|set| set.contains(&id)));
            if wants {
                targets.push(id);
            }
        }
        // Only writes flowing up (from a peer we serve) are kept for the
        // upstream peers until acked; pushes coming down from them are not.
        let from_below = self
            .peers
            .get(&origin)
            .is_some_and(|p| p.role == Role::Accepted);
        if targets.is_empty() {
            if from_below
                && self.cfg.has_upstream
                && let Some(id) = &msg.id
            {
                self.keep_for_upstream(id.clone(), put.clone());
            }
            return;
        }
        let mut labels: Vec<String> = seen
            .iter()
            .map(|s| (*s).to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        for id in std::iter::once(&origin).chain(&targets) {
            if let Some(p) = self.peers.get(id)
                && !labels.contains(&p.label)
            {
                labels.push(p.label.clone());
            }
        }
        let mut out = msg.clone();
        out.seen = Some(labels.join(","));
        // A reply passed on as a push loses its `@`, unless it is signed:
        // then every field but `#`, `sigs` and `><` is what was signed.
        if !out.extra.contains_key("sigs") {
            out.ack = None;
        }
        self.countersign(&mut out);
        let text = out.encode();
        // Kept for upstream even when no upstream peer is connected now: it
        // goes out when one connects.
        let upstream = from_below
            && (self.cfg.has_upstream
                || targets
                    .iter()
                    .any(|t| self.peers.get(t).is_some_and(|p| p.role == Role::Dialed)));
        for t in targets {
            self.send_text(t, text.clone(), msg.id.as_deref());
        }
        if upstream && let Some(id) = &msg.id {
            self.keep_for_upstream(id.clone(), put.clone());
        }
    }

    /// Keeps a put sent upstream until an upstream peer acks it.
    fn keep_for_upstream(&mut self, id: String, put: Graph) {
        if self.relay_outbox.len() >= self.cfg.max_outbox
            && let Some((old, _)) = self.relay_outbox.pop_first()
        {
            warn!(
                old,
                "relay outbox full: an unacked forward will not be resent"
            );
        }
        self.next_relay += 1;
        let entry = self.next_relay;
        self.relay_outbox.insert(entry, put);
        self.track_relay_id(id, entry);
    }

    pub(super) fn track_relay_id(&mut self, id: String, entry: u64) {
        self.relay_ids.insert(id.clone(), entry);
        let age = self.cfg.get_route_age.max(self.cfg.put_timeout);
        self.set_timer(age, super::Timer::GetExpire(id));
    }

    /// An upstream peer (re)connected: resend what it has not acked.
    pub(super) fn resend_to_upstream(&mut self, peer: PeerId) {
        let pending: Vec<(u64, Graph)> = self
            .relay_outbox
            .iter()
            .map(|(e, g)| (*e, g.clone()))
            .collect();
        for (entry, put) in pending {
            let mut msg = Message {
                id: Some(self.new_id()),
                put: Some(put),
                ..Message::default()
            };
            let id = self.seal(&mut msg).unwrap_or_default();
            self.track_relay_id(id.clone(), entry);
            self.send_text(peer, msg.encode(), Some(&id));
        }
    }

    /// Pushes properties we accepted from elsewhere to the peers subscribed to
    /// their souls (and to upstream peers when `upstream`), as a new message.
    pub(super) fn push(&mut self, accepted: &Graph, except: Option<PeerId>, upstream: bool) {
        if accepted.is_empty() {
            return;
        }
        let mut targets: Vec<PeerId> = Vec::new();
        for (&id, p) in &self.peers {
            if Some(id) == except {
                continue;
            }
            let wants = (upstream && p.role == Role::Dialed)
                || accepted
                    .souls()
                    .any(|s| self.subs.get(s).is_some_and(|set| set.contains(&id)));
            if wants {
                targets.push(id);
            }
        }
        if targets.is_empty() {
            if upstream && self.cfg.has_upstream {
                let id = self.new_id();
                self.keep_for_upstream(id, accepted.clone());
            }
            return;
        }
        let mut msg = Message {
            id: Some(self.new_id()),
            put: Some(accepted.clone()),
            ..Message::default()
        };
        let id = self.seal(&mut msg).unwrap_or_default();
        let text = msg.encode();
        let to_upstream = upstream
            && (self.cfg.has_upstream
                || targets
                    .iter()
                    .any(|t| self.peers.get(t).is_some_and(|p| p.role == Role::Dialed)));
        for t in targets {
            self.send_text(t, text.clone(), msg.id.as_deref());
        }
        if to_upstream {
            self.keep_for_upstream(id, accepted.clone());
        }
    }

    /// Sends what was just read from the store upstream (read repair): a
    /// write this peer stored and acked before a crash still reaches the
    /// peers above it. Kept until acked, like any forward.
    pub(super) fn repair_upstream(&mut self, found: &Graph) {
        if !self.cfg.has_upstream || found.is_empty() {
            return;
        }
        let upstream: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.role == Role::Dialed)
            .map(|(id, _)| *id)
            .collect();
        // In chunks, so that a large store stays within frame limits.
        for chunk in chunks(found, REPAIR_CHUNK) {
            let mut msg = Message {
                id: Some(self.new_id()),
                put: Some(chunk.clone()),
                ..Message::default()
            };
            let id = self.seal(&mut msg).unwrap_or_default();
            let text = msg.encode();
            for &t in &upstream {
                self.send_text(t, text.clone(), Some(&id));
            }
            self.keep_for_upstream(id, chunk);
        }
    }
    /// A get from a peer we serve goes on to our upstream peers, same id;
    /// their replies come back by `@` through dedup's `via`.
    fn forward_get(&mut self, origin: PeerId, msg: &Message) -> BTreeSet<PeerId> {
        if self
            .peers
            .get(&origin)
            .is_none_or(|p| p.role != Role::Accepted)
        {
            return BTreeSet::new();
        }
        let seen: Vec<String> = msg
            .seen
            .as_deref()
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let targets: BTreeSet<PeerId> = self
            .peers
            .iter()
            .filter(|(id, p)| **id != origin && p.role == Role::Dialed && !seen.contains(&p.label))
            .map(|(id, _)| *id)
            .collect();
        if targets.is_empty() {
            return targets;
        }
        let mut out = msg.clone();
        let mut labels = seen;
        if let Some(p) = self.peers.get(&origin) {
            labels.push(p.label.clone());
        }
        out.seen = Some(labels.join(","));
        self.countersign(&mut out);
        let text = out.encode();
        for &t in &targets {
            self.send_text(t, text.clone(), msg.id.as_deref());
        }
        targets
    }

    pub(super) fn subscribe(&mut self, peer: PeerId, soul: &str) {
        let limit = self.cfg.max_subs_per_peer;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let set = self.subs.entry(soul.to_owned()).or_default();
        if set.contains(&peer) {
            return;
        }
        if p.subs >= limit {
            warn!(?peer, "peer reached its subscription limit");
            return;
        }
        p.subs += 1;
        set.insert(peer);
    }

    /// Answers a get, or returns it to wait for the store.
    fn peer_get(&mut self, mut job: GetJob) -> Option<GetJob> {
        let get = job.msg.get.clone()?;
        if let Some(soul) = get.soul.as_exact() {
            self.subscribe(job.peer, soul);
            match self.ensure_loaded([soul]) {
                Loaded::No => return Some(job),
                Loaded::Failed(e) => {
                    self.refuse(Job::PeerGet(job), "storage read failed", e);
                    return None;
                }
                Loaded::Yes => {}
            }
        } else if self.cfg.store {
            match job.read {
                None => {
                    job.read = Some(self.read(StoreQuery {
                        soul: get.soul.clone(),
                    }));
                    return Some(job);
                }
                Some(id) if self.reads.contains_key(&id) => return Some(job),
                Some(_) => {}
            }
        }
        let GetJob {
            peer,
            msg,
            upstream,
            ..
        } = job;
        let answer = self.answer(&get);
        let get_id = msg.id.clone().unwrap_or_default();
        if answer.is_empty() && !upstream.is_empty() {
            // Not found here, but asked upstream: say so only once they all
            // have (or the wait is over), so the asker does not stop early.
            let still: BTreeSet<PeerId> = upstream
                .into_iter()
                .filter(|p| self.peers.contains_key(p))
                .collect();
            if !still.is_empty() {
                self.held.insert(
                    get_id.clone(),
                    super::Held {
                        to: peer,
                        waiting: still,
                    },
                );
                let wait = self.cfg.upstream_wait;
                self.set_timer(wait, super::Timer::HeldExpire(get_id));
                return None;
            }
        }
        let id = self.new_id();
        let mut reply = Message {
            id: Some(id),
            ack: msg.id,
            ..Message::default()
        };
        if !answer.is_empty() {
            reply.hash = Some(f64::from(answer.wire_hash()));
            reply.put = Some(answer);
        }
        self.send(peer, &reply);
        None
    }

    /// What the local graph holds for a get.
    fn answer(&self, get: &Get) -> Graph {
        let mut out = Graph::new();
        let mut budget = Budget::new(get.budget, self.cfg.max_reply_props);
        if let Some(soul) = get.soul.as_exact() {
            let Some(node) = self.graph.node(soul) else {
                return out;
            };
            match &get.key {
                None => {
                    if !node.is_empty() {
                        out.insert_node(soul.to_owned(), node.clone());
                    }
                }
                Some(lex) => {
                    if let Some(key) = lex.as_exact() {
                        if let Some(p) = node.get(key) {
                            out.insert(soul, key, p.value.clone(), p.state);
                        }
                        return out;
                    }
                    let mut items: Vec<_> = node
                        .range(lex.lower_bound())
                        .filter(|(k, _)| lex.matches(k))
                        .collect();
                    if get.reverse {
                        items.reverse();
                    }
                    for (k, p) in items {
                        if !budget.take(&p.value) {
                            break;
                        }
                        out.insert(soul, k, p.value.clone(), p.state);
                    }
                }
            }
            return out;
        }
        'souls: for (soul, node) in self
            .graph
            .with_prefix(get.soul.prefix.as_deref().unwrap_or(""))
        {
            if !get.soul.matches(soul) || node.is_empty() {
                continue;
            }
            for (k, p) in node.iter() {
                if !budget.take(&p.value) {
                    break 'souls;
                }
                out.insert(soul, k, p.value.clone(), p.state);
            }
        }
        out
    }

    fn on_reply(&mut self, peer: PeerId, msg: Message) {
        // An upstream ack of a put we forwarded: it is stored there now.
        if msg.err.is_none()
            && msg.ok.is_some()
            && let Some(entry) = msg.ack.as_deref().and_then(|a| self.relay_ids.remove(a))
        {
            self.relay_outbox.remove(&entry);
        }
        if self.app_reply(peer, &msg) {
            return;
        }
        let Some(ack) = msg.ack.as_deref() else {
            return;
        };
        let Some(to) = self.dup.via(ack, self.now.mono) else {
            debug!(?peer, ack, "reply with no route dropped");
            return;
        };
        if to == peer || !self.peers.contains_key(&to) {
            return;
        }
        if let Some(put) = &msg.put {
            self.held.remove(ack);
            self.run(Job::Data {
                except: Some(to),
                diff: put.clone(),
            });
        } else if msg.ok.is_none() && msg.err.is_none() {
            // An upstream not-found: pass one on only when every upstream said so.
            if let Some(h) = self.held.get_mut(ack) {
                h.waiting.remove(&peer);
                if h.waiting.is_empty() {
                    self.release_held(ack);
                }
                return;
            }
        }
        self.relay(to, &msg);
    }

    /// Sends a held not-found to the peer that asked.
    pub(super) fn release_held(&mut self, get_id: &str) {
        if let Some(h) = self.held.remove(get_id) {
            let id = self.new_id();
            let reply = Message {
                id: Some(id),
                ack: Some(get_id.to_owned()),
                ..Message::default()
            };
            self.send(h.to, &reply);
        }
    }
}

/// Properties per read-repair message.
const REPAIR_CHUNK: usize = 1000;

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
            cur.insert(soul, key, p.value.clone(), p.state);
            count += 1;
        }
    }
    if count > 0 {
        out.push(cur);
    }
    out
}

/// Gun.js's reply budget (`%`): strings count their length, other values 9.
struct Budget {
    left: Option<f64>,
    props: usize,
}

impl Budget {
    fn new(budget: Option<f64>, max_props: usize) -> Self {
        Self {
            left: budget,
            props: max_props,
        }
    }

    fn take(&mut self, v: &Value) -> bool {
        if self.props == 0 {
            return false;
        }
        if let Some(left) = &mut self.left {
            if *left <= 0.0 {
                return false;
            }
            *left -= match v {
                Value::String(s) => s.chars().count() as f64,
                _ => 9.0,
            };
        }
        self.props -= 1;
        true
    }
}
