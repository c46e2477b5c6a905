//! The mesh: connected peers and their outgoing queues, who subscribed to
//! which soul, the dedup window that also routes replies, not-founds held
//! for upstream answers, and forwards kept until an upstream peer acks them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use compact_str::CompactString;
use tracing::{debug, warn};

use super::budget::{LogBudget, Rate};
use super::outbox::Outbox;
use super::{Config, Error, Role};
use crate::dup::Dup;
use crate::graph::Graph;
use crate::ids::PeerId;
use crate::wire::Frame;

/// Most `><` entries read (Gun.js writes at most 7).
const MAX_SEEN: usize = 7;
/// Longest peer label or pid taken (Gun.js reads at most 99 characters).
pub(super) const MAX_LABEL: usize = 99;

/// A connected peer.
#[derive(Debug)]
struct Peer {
    role: Role,
    pid: Option<String>,
    /// How `><` names it: its pid once it greeted, else a local name.
    label: String,
    /// Encoded messages waiting for the next frame.
    queue: Outbox,
    /// The souls it subscribed to.
    subs: Vec<String>,
    /// Its refusals' share of the log.
    log: LogBudget,
    /// Its message rate.
    rate: Rate,
}

/// A not-found answer waiting for upstream peers.
#[derive(Debug)]
struct Held {
    to: PeerId,
    waiting: BTreeSet<PeerId>,
}

/// What a disconnect leaves to do.
#[derive(Debug)]
pub(super) struct Gone {
    /// Held not-founds whose last upstream peer this was: send them now.
    pub(super) released: Vec<(CompactString, PeerId)>,
}

/// Peers, subscriptions, dedup and the upstream outbox.
#[derive(Debug)]
pub(super) struct Mesh {
    peers: BTreeMap<PeerId, Peer>,
    /// Peers subscribed to a soul (they asked for it).
    subs: HashMap<String, BTreeSet<PeerId>>,
    /// Subscriptions of disconnected peers, by their `pid`, with the time
    /// they lapse: restored if the peer greets again.
    gone_subs: HashMap<String, (Duration, Vec<String>)>,
    /// Those pids by when their subscriptions lapse, oldest first.
    gone_order: BTreeSet<(Duration, String)>,
    /// How many souls `gone_subs` holds in all.
    gone_souls: usize,
    /// How many subscriptions all peers hold.
    total_subs: usize,
    max_subs: usize,
    dup: Dup,
    /// Not-found replies held while upstream peers are asked, by get id.
    held: HashMap<CompactString, Held>,
    /// Peers' puts forwarded upstream and not yet acked there, resent when an
    /// upstream peer (re)connects, so a write a relay acked reaches the root.
    relay_outbox: BTreeMap<u64, Graph>,
    /// Message ids of those forwards (or resends), to match upstream acks.
    relay_ids: HashMap<CompactString, u64>,
    next_relay: u64,
    /// Peers with queued messages.
    dirty: BTreeSet<PeerId>,
    max_subs_per_peer: usize,
    sub_memory: Duration,
    sub_memory_peers: usize,
    max_outbox: usize,
    batch_bytes: usize,
    /// Messages a second a peer we serve may send (0: no limit).
    max_msgs_per_sec: f64,
}

impl Mesh {
    pub(super) fn new(cfg: &Config) -> Self {
        Self {
            peers: BTreeMap::new(),
            subs: HashMap::new(),
            gone_subs: HashMap::new(),
            gone_order: BTreeSet::new(),
            gone_souls: 0,
            total_subs: 0,
            max_subs: cfg.max_subs,
            dup: Dup::new(cfg.dedup_age, cfg.dedup_max, cfg.dedup_max_per_peer),
            held: HashMap::new(),
            relay_outbox: BTreeMap::new(),
            relay_ids: HashMap::new(),
            next_relay: 0,
            dirty: BTreeSet::new(),
            max_subs_per_peer: cfg.max_subs_per_peer,
            sub_memory: cfg.sub_memory,
            sub_memory_peers: cfg.sub_memory_peers,
            max_outbox: cfg.max_outbox,
            batch_bytes: cfg.batch_bytes,
            max_msgs_per_sec: cfg.max_msgs_per_sec,
        }
    }

    // ----- peers ------------------------------------------------------------

    pub(super) fn connect(&mut self, peer: PeerId, role: Role, now: Duration) -> Result<(), Error> {
        if self.peers.contains_key(&peer) {
            return Err(Error::PeerExists(peer));
        }
        debug!(?peer, ?role, "peer connected");
        self.peers.insert(
            peer,
            Peer {
                role,
                pid: None,
                label: format!("~{}", peer.0),
                queue: Outbox::default(),
                subs: Vec::new(),
                log: LogBudget::default(),
                rate: Rate::new(self.max_msgs_per_sec, now),
            },
        );
        Ok(())
    }

    pub(super) fn disconnect(&mut self, peer: PeerId, now: Duration) -> Result<Gone, Error> {
        let Some(gone) = self.peers.remove(&peer) else {
            return Err(Error::UnknownPeer(peer));
        };
        debug!(?peer, "peer disconnected");
        self.dirty.remove(&peer);
        self.total_subs -= gone.subs.len();
        for soul in &gone.subs {
            if let Some(set) = self.subs.get_mut(soul) {
                set.remove(&peer);
                if set.is_empty() {
                    self.subs.remove(soul);
                }
            }
        }
        if let Some(pid) = gone.pid {
            self.remember_subs(pid, gone.subs, now);
        }
        let mut released: Vec<CompactString> = self
            .held
            .iter_mut()
            .filter_map(|(id, h)| {
                (h.waiting.remove(&peer) && h.waiting.is_empty()).then(|| id.clone())
            })
            .collect();
        released.sort();
        let released = released
            .into_iter()
            .filter_map(|id| self.held.remove(&id).map(|h| (id, h.to)))
            .collect();
        self.held.retain(|_, h| h.to != peer);
        Ok(Gone { released })
    }

    /// `peer` sent `n` messages: they come off its rate.
    pub(super) fn took_messages(&mut self, peer: PeerId, n: usize, now: Duration) {
        let per_sec = self.max_msgs_per_sec;
        if per_sec <= 0.0 {
            return;
        }
        if let Some(p) = self.peers.get_mut(&peer)
            && p.role.served()
        {
            p.rate.refill(per_sec, now);
            p.rate.tokens -= n as f64;
        }
    }

    /// Whether `peer` is over its message rate now.
    pub(super) fn backlogged(&self, peer: PeerId, now: Duration) -> bool {
        let per_sec = self.max_msgs_per_sec;
        self.peers.get(&peer).is_some_and(|p| {
            let dt = now.saturating_sub(p.rate.at).as_secs_f64();
            per_sec > 0.0 && p.rate.tokens + dt * per_sec < 0.0
        })
    }

    /// Whether a refusal of what `peer` sent may be logged now:
    /// `Some(how many were not, before it)`. A peer that is gone has no
    /// budget: its last refusals are only counted.
    pub(super) fn log_budget(&mut self, peer: PeerId, now: Duration) -> Option<u64> {
        self.peers.get_mut(&peer)?.log.take(now)
    }

    pub(super) fn contains(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer)
    }

    pub(super) fn len(&self) -> usize {
        self.peers.len()
    }

    pub(super) fn role(&self, peer: PeerId) -> Option<Role> {
        self.peers.get(&peer).map(|p| p.role)
    }

    /// The peers our puts and gets go to: those we dialed (our relays) and
    /// those met directly.
    pub(super) fn upstream(&self) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.role.upstream())
            .map(|(id, _)| *id)
            .collect()
    }

    /// A peer greeted with `pid`: it is named so in `><` from now on, and
    /// gets back the subscriptions it had when it left.
    pub(super) fn greeted(&mut self, peer: PeerId, pid: &str, now: Duration) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.pid = Some(pid.to_owned());
            p.label = pid.to_owned();
        }
        let Some((until, souls)) = self.gone_subs.remove(pid) else {
            return;
        };
        self.gone_order.remove(&(until, pid.to_owned()));
        self.gone_souls -= souls.len();
        if until <= now {
            return;
        }
        debug!(?peer, pid, count = souls.len(), "subscriptions restored");
        for soul in souls {
            if !self.subscribe(peer, &soul) {
                break;
            }
        }
    }

    /// Keeps a departing peer's subscriptions for `sub_memory`, within
    /// `sub_memory_peers` peers and `max_subs` souls in all (the oldest
    /// lapse first).
    fn remember_subs(&mut self, pid: String, mut souls: Vec<String>, now: Duration) {
        while let Some((until, _)) = self.gone_order.first()
            && *until <= now
        {
            self.forget_oldest_gone();
        }
        if souls.is_empty() || self.sub_memory_peers == 0 {
            return;
        }
        if let Some((until, old)) = self.gone_subs.remove(&pid) {
            self.gone_order.remove(&(until, pid.clone()));
            self.gone_souls -= old.len();
        }
        while !self.gone_order.is_empty()
            && (self.gone_subs.len() >= self.sub_memory_peers
                || self.gone_souls + souls.len() > self.max_subs)
        {
            self.forget_oldest_gone();
        }
        souls.truncate(self.max_subs);
        souls.sort();
        let until = now + self.sub_memory;
        self.gone_souls += souls.len();
        self.gone_order.insert((until, pid.clone()));
        self.gone_subs.insert(pid, (until, souls));
    }

    fn forget_oldest_gone(&mut self) {
        if let Some((_, pid)) = self.gone_order.pop_first()
            && let Some((_, souls)) = self.gone_subs.remove(&pid)
        {
            self.gone_souls -= souls.len();
        }
    }

    // ----- subscriptions and targets ----------------------------------------

    /// `peer` asked for `soul`: puts on it are pushed to it from now on.
    /// `false` when the peer has all the subscriptions it may have (or
    /// all peers together have).
    pub(super) fn subscribe(&mut self, peer: PeerId, soul: &str) -> bool {
        let limit = self.max_subs_per_peer;
        let Some(p) = self.peers.get_mut(&peer) else {
            return true;
        };
        if self.subs.get(soul).is_some_and(|set| set.contains(&peer)) {
            return true;
        }
        if p.subs.len() >= limit || self.total_subs >= self.max_subs {
            return false;
        }
        p.subs.push(soul.to_owned());
        self.total_subs += 1;
        self.subs.entry(soul.to_owned()).or_default().insert(peer);
        true
    }

    /// The souls any peer subscribed to, sorted.
    pub(super) fn subscribed_souls(&self) -> Vec<String> {
        let mut souls: Vec<String> = self.subs.keys().cloned().collect();
        souls.sort();
        souls
    }

    /// The peers a message about `souls` goes to: those subscribed to any of
    /// them, and our upstream peers when `upstream`; never `except`, nor a
    /// peer named in `seen` (the message's `><`).
    pub(super) fn targets<'s>(
        &self,
        souls: impl IntoIterator<Item = &'s str>,
        except: Option<PeerId>,
        seen: &[&str],
        upstream: bool,
    ) -> Vec<PeerId> {
        let mut out: BTreeSet<PeerId> = BTreeSet::new();
        for soul in souls {
            if let Some(set) = self.subs.get(soul) {
                out.extend(set.iter().copied());
            }
        }
        if upstream {
            out.extend(
                self.peers
                    .iter()
                    .filter(|(_, p)| p.role.upstream())
                    .map(|(id, _)| *id),
            );
        }
        out.into_iter()
            .filter(|id| Some(*id) != except)
            .filter(|id| {
                self.peers
                    .get(id)
                    .is_some_and(|p| !seen.contains(&p.label.as_str()))
            })
            .collect()
    }

    /// The labels a message's `><` names, as far as Gun.js reads them (its
    /// first 7, of up to 99 characters each), when it came from `origin`:
    /// only a peer we dialed (a relay we chose) may keep a message from
    /// other peers that way. A peer we serve could otherwise stop delivery
    /// to anyone whose pid it names.
    pub(super) fn seen_by<'m>(&self, origin: PeerId, seen: Option<&'m str>) -> Vec<&'m str> {
        if self.role(origin) != Some(Role::Dialed) {
            return Vec::new();
        }
        seen.map(|s| {
            s.split(',')
                .take(MAX_SEEN)
                .filter(|l| !l.is_empty() && l.len() <= MAX_LABEL)
                .collect()
        })
        .unwrap_or_default()
    }

    // ----- sending ----------------------------------------------------------

    /// Queues `text` for each of `targets`, remembering `id` as ours so an
    /// echo of it is dropped.
    pub(super) fn broadcast(
        &mut self,
        targets: &[PeerId],
        text: String,
        id: Option<&str>,
        now: Duration,
    ) {
        self.note_sent(id, now);
        // Written once: every target's queue holds the same text.
        let text = Frame::from(text);
        for &t in targets {
            if let Some(p) = self.peers.get_mut(&t) {
                p.queue.push_shared(text.clone());
                self.dirty.insert(t);
            }
        }
    }

    /// Queues for `peer` the message `write` writes, straight into the
    /// frame it goes out in.
    pub(super) fn send_with(
        &mut self,
        peer: PeerId,
        id: Option<&str>,
        now: Duration,
        write: impl FnOnce(&mut String),
    ) {
        self.note_sent(id, now);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.queue.push_own(self.batch_bytes, write);
            self.dirty.insert(peer);
        }
    }

    fn note_sent(&mut self, id: Option<&str>, now: Duration) {
        if let Some(id) = id
            && !self.dup.contains(id, now)
        {
            self.dup.track(id, None, now);
        }
    }

    /// The next frame to transmit: a peer's queued messages, batched up to
    /// the frame budget.
    pub(super) fn next_frame(&mut self) -> Option<(PeerId, Frame)> {
        let peer = *self.dirty.iter().next()?;
        let Some(p) = self.peers.get_mut(&peer) else {
            self.dirty.remove(&peer);
            return Some((peer, "[]".into()));
        };
        let frame = p.queue.next_frame(self.batch_bytes);
        if p.queue.is_empty() {
            self.dirty.remove(&peer);
        }
        Some((peer, frame.unwrap_or_else(|| "[]".into())))
    }

    // ----- dedup and routes ---------------------------------------------------

    /// Whether `id` was seen lately (then the message is a duplicate).
    pub(super) fn seen(&self, id: &str, now: Duration) -> bool {
        self.dup.contains(id, now)
    }

    /// Remembers `id` as arrived from `from` (replies to it route back
    /// there), unless it was seen lately: `false` for a duplicate.
    pub(super) fn arrive(&mut self, id: &str, from: PeerId, now: Duration) -> bool {
        self.dup.arrive(id, from, now)
    }

    /// Where a reply to `id` goes.
    pub(super) fn route(&self, id: &str, now: Duration) -> Option<PeerId> {
        self.dup.via(id, now)
    }

    /// Message `id` went to `peers`, whose replies to it we take.
    pub(super) fn sent_to(&mut self, id: &str, peers: &[PeerId]) {
        self.dup.sent_to(id, peers);
    }

    /// Whether `peer` may answer message `id`: we passed it that message.
    pub(super) fn may_answer(&self, id: &str, peer: PeerId, now: Duration) -> bool {
        self.dup.asked(id, peer, now)
    }

    // ----- held not-founds ----------------------------------------------------

    /// Holds the not-found for get `id`, owed to `to`, until `waiting` answer.
    pub(super) fn hold(&mut self, id: CompactString, to: PeerId, waiting: BTreeSet<PeerId>) {
        self.held.insert(id, Held { to, waiting });
    }

    /// Stops holding get `id`; to whom its not-found is owed.
    pub(super) fn release(&mut self, id: &str) -> Option<PeerId> {
        self.held.remove(id).map(|h| h.to)
    }

    /// Whether a not-found for get `id` is held.
    pub(super) fn is_held(&self, id: &str) -> bool {
        self.held.contains_key(id)
    }

    /// Upstream peer `from` did not find what get `id` asked: whether every
    /// upstream peer has now said so.
    pub(super) fn not_found_from(&mut self, id: &str, from: PeerId) -> bool {
        self.held.get_mut(id).is_some_and(|h| {
            h.waiting.remove(&from);
            h.waiting.is_empty()
        })
    }

    // ----- the upstream outbox ----------------------------------------------

    /// Keeps a put sent upstream (as message `id`) until an upstream peer acks it.
    pub(super) fn keep_for_upstream(&mut self, id: CompactString, put: Graph) {
        if self.relay_outbox.len() >= self.max_outbox
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
        self.relay_ids.insert(id, entry);
    }

    /// What is kept for upstream, to send again (each entry under a new id).
    pub(super) fn kept_for_upstream(&self) -> Vec<(u64, Graph)> {
        self.relay_outbox
            .iter()
            .map(|(e, g)| (*e, g.clone()))
            .collect()
    }

    /// Entry `entry` went out again as message `id`.
    pub(super) fn resent(&mut self, id: CompactString, entry: u64) {
        self.relay_ids.insert(id, entry);
    }

    /// An upstream peer acked message `id`: if it was a forward, it is done.
    pub(super) fn upstream_acked(&mut self, id: &str) {
        if let Some(entry) = self.relay_ids.remove(id) {
            self.relay_outbox.remove(&entry);
        }
    }

    /// Message `id` no longer routes acks.
    pub(super) fn expire_route(&mut self, id: &str) {
        self.relay_ids.remove(id);
    }
}
