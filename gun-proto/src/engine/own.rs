//! Our own writes: which are not yet settled locally, which no peer has
//! answered yet, the message ids they went out under, and the outbox of
//! writes no peer has acked (sent again when an upstream peer connects).

use std::collections::{BTreeMap, HashMap, HashSet};

use compact_str::CompactString;
use tracing::warn;

use super::Error;
use crate::graph::Graph;
use crate::ids::{PeerId, ReqId};

/// One of our put messages: its write, and the peers it went to that have
/// not answered yet (only they may).
#[derive(Debug)]
struct Sent {
    req: ReqId,
    waiting: Vec<PeerId>,
}

/// What a peer's reply to one of our put messages means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// Not one of our put messages.
    NotOurs,
    /// Ours, but that peer was not sent it: a forged or stray reply.
    NotAsked,
    /// That peer refused it; others it went to have yet to answer.
    Pending,
    /// The write's peer answer: acked (`true`), or refused by every peer
    /// it went to (`false`).
    Settles(ReqId, bool),
}

#[derive(Debug)]
pub(super) struct OwnWrites {
    /// Writes whose local settlement ([`super::Event::PutAck`]) is owed.
    unsettled: HashSet<ReqId>,
    /// Writes whose first peer answer ([`super::Event::PutPeerAck`]) is owed.
    unsynced: HashSet<ReqId>,
    /// Our put messages' ids, to match peer acks to writes, with the peers
    /// each went to that have not answered it yet.
    ids: HashMap<CompactString, Sent>,
    /// Writes no peer has acked yet: sent again when an upstream peer connects.
    outbox: BTreeMap<ReqId, Graph>,
    max_outbox: usize,
}

impl OwnWrites {
    pub(super) fn new(max_outbox: usize) -> Self {
        Self {
            unsettled: HashSet::new(),
            unsynced: HashSet::new(),
            ids: HashMap::new(),
            outbox: BTreeMap::new(),
            max_outbox,
        }
    }

    /// Refuses a request id still in use.
    pub(super) fn check_new(&self, req: ReqId) -> Result<(), Error> {
        if self.unsettled.contains(&req) || self.unsynced.contains(&req) {
            return Err(Error::DuplicateRequest(req));
        }
        Ok(())
    }

    /// A write starts: both its answers are owed.
    pub(super) fn start(&mut self, req: ReqId) {
        self.unsettled.insert(req);
        self.unsynced.insert(req);
    }

    /// Whether the local answer was still owed (it is not any more).
    pub(super) fn settle(&mut self, req: ReqId) -> bool {
        self.unsettled.remove(&req)
    }

    /// Whether the peer answer was still owed (it is not any more).
    pub(super) fn sync(&mut self, req: ReqId) -> bool {
        self.unsynced.remove(&req)
    }

    /// Write `req` went out as message `id` to `peers`.
    pub(super) fn sent_as(&mut self, id: CompactString, req: ReqId, peers: Vec<PeerId>) {
        self.ids.insert(
            id,
            Sent {
                req,
                waiting: peers,
            },
        );
    }

    /// `peer` answered our message `ack`: acked it (`ok`) or refused it.
    /// Only a peer it went to counts; it is settled by the first ack, or
    /// when every peer it went to has refused it.
    pub(super) fn answered(&mut self, ack: &str, peer: PeerId, ok: bool) -> Answer {
        let Some(sent) = self.ids.get_mut(ack) else {
            return Answer::NotOurs;
        };
        let Some(at) = sent.waiting.iter().position(|p| *p == peer) else {
            return Answer::NotAsked;
        };
        if ok {
            return Answer::Settles(sent.req, true);
        }
        sent.waiting.swap_remove(at);
        if sent.waiting.is_empty() {
            Answer::Settles(sent.req, false)
        } else {
            Answer::Pending
        }
    }

    /// Message `id` no longer routes acks.
    pub(super) fn expire_id(&mut self, id: &str) {
        self.ids.remove(id);
    }

    /// Keeps `diff` to send again until a peer acks write `req`.
    pub(super) fn keep(&mut self, req: ReqId, diff: Graph) {
        if self.outbox.len() >= self.max_outbox {
            // Oldest first: it is still in the local store, only not resent.
            if let Some((old, _)) = self.outbox.pop_first() {
                warn!(?old, "outbox full: an unsynced put will not be resent");
            }
        }
        self.outbox.insert(req, diff);
    }

    /// A peer acked write `req`: it need not be sent again.
    pub(super) fn acked(&mut self, req: ReqId) {
        self.outbox.remove(&req);
    }

    /// The writes to send again.
    pub(super) fn queued(&self) -> Vec<(ReqId, Graph)> {
        self.outbox.iter().map(|(r, g)| (*r, g.clone())).collect()
    }
}
