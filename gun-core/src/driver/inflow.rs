//! Peers' frames waiting for the engine, served fairly: one frame of each
//! peer in turn, so that a peer with much waiting delays another peer's
//! frame by at most one of its own per round. A paused peer's frames wait
//! (their bytes still count against its inbound share, so its socket stays
//! unread); the others go on.

use std::collections::{HashMap, VecDeque};

use gun_proto::PeerId;

#[derive(Debug, Default)]
pub(crate) struct Inflow {
    queues: HashMap<PeerId, VecDeque<Vec<u8>>>,
    /// Peers with frames waiting, in the order they are served.
    turn: VecDeque<PeerId>,
}

impl Inflow {
    /// A frame of `peer` arrived.
    pub(crate) fn push(&mut self, peer: PeerId, frame: Vec<u8>) {
        let q = self.queues.entry(peer).or_default();
        if q.is_empty() {
            self.turn.push_back(peer);
        }
        q.push_back(frame);
    }

    /// The next frame to feed: the first in turn of a peer not `paused`.
    pub(crate) fn next(&mut self, paused: impl Fn(PeerId) -> bool) -> Option<(PeerId, Vec<u8>)> {
        for _ in 0..self.turn.len() {
            let peer = self.turn.pop_front()?;
            let Some(q) = self.queues.get_mut(&peer) else {
                continue;
            };
            if paused(peer) {
                self.turn.push_back(peer);
                continue;
            }
            let Some(frame) = q.pop_front() else {
                self.queues.remove(&peer);
                continue;
            };
            if q.is_empty() {
                self.queues.remove(&peer);
            } else {
                self.turn.push_back(peer);
            }
            return Some((peer, frame));
        }
        None
    }

    /// Whether a frame of `peer` waits.
    pub(crate) fn has(&self, peer: PeerId) -> bool {
        self.queues.contains_key(&peer)
    }

    /// Whether a frame of a peer not `paused` waits.
    pub(crate) fn ready(&self, paused: impl Fn(PeerId) -> bool) -> bool {
        self.queues.keys().any(|p| !paused(*p))
    }

    /// Every frame of `peer` still waiting, taken.
    pub(crate) fn take(&mut self, peer: PeerId) -> VecDeque<Vec<u8>> {
        self.turn.retain(|p| *p != peer);
        self.queues.remove(&peer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_take_turns_and_paused_ones_wait() {
        let mut f = Inflow::default();
        for i in 0..3 {
            f.push(PeerId(1), vec![i]);
        }
        f.push(PeerId(2), vec![10]);
        f.push(PeerId(3), vec![20]);
        let order: Vec<(u64, u8)> = std::iter::from_fn(|| f.next(|_| false))
            .map(|(p, d)| (p.0, d[0]))
            .collect();
        assert_eq!(order, [(1, 0), (2, 10), (3, 20), (1, 1), (1, 2)]);
        f.push(PeerId(1), vec![5]);
        f.push(PeerId(2), vec![6]);
        assert_eq!(f.next(|p| p == PeerId(1)).map(|(p, _)| p), Some(PeerId(2)));
        assert!(!f.ready(|p| p == PeerId(1)) && f.ready(|_| false));
        assert_eq!(f.take(PeerId(1)).len(), 1);
        assert!(f.next(|_| false).is_none());
    }
}
