//! Serving peers: answering their gets (asking our upstream peers too, and
//! holding a not-found until they answered), and routing the replies that
//! come back to whoever asked.

use std::collections::BTreeSet;

use tracing::debug;

use super::jobs::{GetJob, Job};
use super::storage::Loaded;
use super::timers::Timer;
use super::{Engine, Message, Refusal, Role};
use crate::graph::Graph;
use crate::ids::PeerId;
use crate::store::{Page, StoreQuery};
use crate::value::ValueRef;
use crate::wire::Get;

impl Engine {
    /// A peer's get: passed on upstream (when we serve the asker), then
    /// answered from here once the souls it asks for are in memory.
    pub(super) fn on_get(&mut self, peer: PeerId, msg: Message) {
        let upstream = self.forward_get(peer, &msg);
        self.run(Job::PeerGet(GetJob {
            peer,
            msg,
            read: None,
            upstream,
        }));
    }

    /// Answers a get, or gives it back with the soul it waits for.
    pub(super) fn peer_get(&mut self, mut job: GetJob) -> Option<(Job, Option<String>)> {
        let get = job.msg.get.clone()?;
        if let Some(soul) = get.soul.as_exact() {
            match self.ensure_loaded([soul]) {
                Loaded::No(missing) => return Some((Job::PeerGet(job), Some(missing))),
                Loaded::Failed(e) => {
                    self.refuse(Job::PeerGet(job), "storage read failed", e);
                    return None;
                }
                Loaded::Yes => {}
            }
            // Once, when it is answered (not each time it waited).
            if !self.mesh.subscribe(job.peer, soul) {
                let why = "a subscription past its limit";
                self.refused(job.peer, Refusal::Subscriptions, why);
            }
        }
        let mut scanned = None;
        if get.soul.as_exact().is_none() && self.storage.enabled() {
            match job.read {
                None => {
                    // One bounded page: a scan never reads the whole store.
                    let page = Page {
                        props: self.cfg.max_reply_props,
                        bytes: self.cfg.max_reply_bytes,
                    };
                    let query = StoreQuery::scan(get.soul.clone(), Some(page));
                    job.read = Some(self.storage.read(query, &mut self.outputs));
                    return Some((Job::PeerGet(job), None));
                }
                Some(id) if self.storage.is_reading(id) => return Some((Job::PeerGet(job), None)),
                Some(id) => match self.storage.take_scan(id) {
                    Some(Err(e)) => {
                        self.refuse(Job::PeerGet(job), "storage read failed", e);
                        return None;
                    }
                    found => scanned = found.and_then(Result::ok),
                },
            }
        }
        let GetJob {
            peer,
            msg,
            upstream,
            ..
        } = job;
        let answer = match scanned {
            Some(found) => self.answer_scan(&get, found),
            None => self.answer(&get),
        };
        let get_id = msg.id.clone().unwrap_or_default();
        if answer.is_empty() && !upstream.is_empty() {
            // Not found here, but asked upstream: say so only once they all
            // have (or the wait is over), so the asker does not stop early.
            let still: BTreeSet<PeerId> = upstream
                .into_iter()
                .filter(|p| self.mesh.contains(*p))
                .collect();
            if !still.is_empty() {
                self.mesh.hold(get_id.clone(), peer, still);
                let wait = self.cfg.upstream_wait;
                self.set_timer(wait, Timer::HeldExpire(get_id));
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

    /// A scan's page for a get, each property as memory holds it when
    /// memory has a newer state, within the reply's budget.
    fn answer_scan(&self, get: &Get, found: Graph) -> Graph {
        let mut out = Graph::new();
        let mut budget = self.budget(get);
        for (soul, key, p) in found.props() {
            let p = match self.graph.prop(soul, key) {
                Some(mine) if mine.state > p.state => mine,
                _ => p,
            };
            if !budget.take(key, p.value) {
                break;
            }
            out.node_mut(soul).set(key, p);
        }
        out
    }

    fn budget(&self, get: &Get) -> Budget {
        Budget::new(
            get.budget,
            self.cfg.max_reply_props,
            self.cfg.max_reply_bytes,
        )
    }

    /// What the local graph holds for a get.
    fn answer(&mut self, get: &Get) -> Graph {
        let mut out = Graph::new();
        let mut budget = self.budget(get);
        if let Some(soul) = get.soul.as_exact() {
            let Some(node) = self.graph.node(soul) else {
                return out;
            };
            match &get.key {
                None => {
                    if !node.is_empty() {
                        out.insert_node(soul, node.clone());
                    }
                }
                Some(lex) => {
                    if let Some(key) = lex.as_exact() {
                        if let Some(p) = node.get(key) {
                            out.node_mut(soul).set(key, p);
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
                        if !budget.take(k, p.value) {
                            break;
                        }
                        out.node_mut(soul).set(k, p);
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
                if !budget.take(k, p.value) {
                    break 'souls;
                }
                out.node_mut(soul).set(k, p);
            }
        }
        out
    }

    /// A get from a peer we serve goes on to our upstream peers, same id;
    /// their replies come back by `@` through dedup's routes.
    fn forward_get(&mut self, origin: PeerId, msg: &Message) -> BTreeSet<PeerId> {
        if !self.mesh.role(origin).is_some_and(Role::served) {
            return BTreeSet::new();
        }
        let targets = self.mesh.targets([], Some(origin), &[], true);
        if targets.is_empty() {
            return BTreeSet::new();
        }
        let text = self.passed_on(msg).encode();
        self.mesh
            .broadcast(&targets, text, msg.id.as_deref(), self.now.mono);
        if let Some(id) = &msg.id {
            self.mesh.sent_to(id, &targets);
        }
        targets.into_iter().collect()
    }

    /// A reply (`@`): an ack of our forward, an answer to our own request,
    /// or one to route back to the peer that asked.
    pub(super) fn on_reply(&mut self, peer: PeerId, msg: Message) {
        if self.rtc_reply(peer, &msg) || self.own_reply(peer, &msg) {
            return;
        }
        let Some(ack) = msg.ack.as_deref() else {
            return;
        };
        // Only a peer we passed the message to may answer it: from anyone
        // else a "reply" is a forged ack, or data slipped in as the answer
        // to another peer's get.
        if !self.mesh.may_answer(ack, peer, self.now.mono) {
            let ack: String = ack.chars().take(super::mesh::MAX_LABEL).collect();
            return self.refused(
                peer,
                Refusal::UnsolicitedReply,
                format_args!("a reply to {ack}"),
            );
        }
        let signal = super::merging::is_signal(&msg);
        // An upstream ack of a put we forwarded: it is stored there now.
        if msg.err.is_none() && msg.ok.is_some() && !signal {
            self.mesh.upstream_acked(ack);
        }
        let Some(to) = self.mesh.route(ack, self.now.mono) else {
            debug!(?peer, ack, "reply with no route dropped");
            return;
        };
        if to == peer || !self.mesh.contains(to) {
            return;
        }
        if let Some(put) = &msg.put {
            self.mesh.release(ack);
            self.run(Job::Data {
                except: Some(to),
                diff: put.clone(),
            });
        } else if msg.ok.is_none() && msg.err.is_none() && self.mesh.is_held(ack) {
            // An upstream not-found: pass one on only when every upstream said so.
            if self.mesh.not_found_from(ack, peer) {
                self.release_held(ack);
            }
            return;
        }
        self.relay(to, &self.reply_passed_on(&msg));
        // The peer it goes to may answer it (an offer, by its answer).
        if signal && let Some(id) = &msg.id {
            self.mesh.sent_to(id, &[to]);
        }
    }

    /// Sends a held not-found to the peer that asked.
    pub(super) fn release_held(&mut self, get_id: &str) {
        if let Some(to) = self.mesh.release(get_id) {
            self.send_not_found(to, get_id.into());
        }
    }
}

/// Gun.js's reply budget (`%`): strings count their length, other values
/// 9; and ours: at most so many properties and bytes.
struct Budget {
    left: Option<f64>,
    props: usize,
    bytes: usize,
}

impl Budget {
    fn new(budget: Option<f64>, max_props: usize, max_bytes: usize) -> Self {
        Self {
            left: budget,
            props: max_props,
            bytes: max_bytes,
        }
    }

    fn take(&mut self, key: &str, v: ValueRef<'_>) -> bool {
        let bytes = key.len() + v.text_len();
        if self.props == 0 || self.bytes < bytes {
            return false;
        }
        if let Some(left) = &mut self.left {
            if *left <= 0.0 {
                return false;
            }
            *left -= match v {
                ValueRef::String(s) => s.chars().count() as f64,
                _ => 9.0,
            };
        }
        self.props -= 1;
        self.bytes -= bytes;
        true
    }
}
