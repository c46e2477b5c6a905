//! Work that may have to wait for the store: a job runs when the souls it
//! touches are in memory, and is parked until then.

use std::collections::BTreeSet;

use super::Path;
use crate::graph::Graph;
use crate::ids::{PeerId, ReadId, ReqId};
use crate::wire::Message;

/// Work that may have to wait for souls to be read from the store.
#[derive(Debug)]
pub(super) enum Job {
    /// A peer's put, to merge, ack and forward.
    PeerPut { peer: PeerId, msg: Message },
    /// A peer's get, to answer.
    PeerGet(GetJob),
    /// Data from a reply, to merge and push on to subscribers but `except`.
    Data { except: Option<PeerId>, diff: Graph },
    /// A future-state property whose time has come (`ticket`: the ack it
    /// owes to; `owner`: whose put it came in).
    Deferred {
        diff: Graph,
        ticket: Option<u64>,
        owner: Option<PeerId>,
    },
    /// One of our own writes.
    Write(OwnWrite),
}

impl Job {
    /// The peer whose message this is (its share of what waits).
    pub(super) fn peer(&self) -> Option<PeerId> {
        match self {
            Self::PeerPut { peer, .. } => Some(*peer),
            Self::PeerGet(get) => Some(get.peer),
            Self::Data { .. } | Self::Deferred { .. } | Self::Write(_) => None,
        }
    }
}

/// A peer's get waiting to be answered.
#[derive(Debug)]
pub(super) struct GetJob {
    pub(super) peer: PeerId,
    pub(super) msg: Message,
    /// A pending store read of the souls a lex selects.
    pub(super) read: Option<ReadId>,
    /// The upstream peers the get was forwarded to.
    pub(super) upstream: BTreeSet<PeerId>,
}

/// An application write waiting for the souls on its path.
#[derive(Debug)]
pub(super) struct OwnWrite {
    pub(super) req: ReqId,
    pub(super) path: Path,
    pub(super) data: serde_json::Value,
    pub(super) state: f64,
    /// A certificate for a write into another user's space (SEA).
    pub(super) cert: Option<String>,
}
