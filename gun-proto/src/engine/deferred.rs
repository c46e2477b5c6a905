//! Future-state properties held until the clock reaches them (bounded in
//! count), and the acks owed for puts that carried them: a ticket per put,
//! done when its last deferred property has been applied.

use super::storage::Waiter;
use crate::ids::{IdMap, PeerId};

/// An ack waiting for a put's deferred properties.
#[derive(Debug)]
struct Ticket {
    waiter: Waiter,
    left: usize,
}

#[derive(Debug)]
pub(super) struct Deferred {
    held: usize,
    max: usize,
    /// Places taken by each peer's puts.
    by_peer: IdMap<PeerId, usize>,
    max_per_peer: usize,
    tickets: IdMap<u64, Ticket>,
    next_ticket: u64,
}

impl Deferred {
    pub(super) fn new(max: usize, max_per_peer: usize) -> Self {
        Self {
            held: 0,
            max,
            by_peer: IdMap::default(),
            max_per_peer,
            tickets: IdMap::default(),
            next_ticket: 0,
        }
    }

    /// Takes a place for one more held property of `owner`'s put (ours
    /// when `None`); `false` when all are taken, or all of its share.
    pub(super) fn hold(&mut self, owner: Option<PeerId>) -> bool {
        if self.held >= self.max {
            return false;
        }
        if let Some(peer) = owner {
            let n = self.by_peer.entry(peer).or_insert(0);
            if *n >= self.max_per_peer {
                return false;
            }
            *n += 1;
        }
        self.held += 1;
        true
    }

    /// A held property's time came: its place is free.
    pub(super) fn applied(&mut self, owner: Option<PeerId>) {
        self.held = self.held.saturating_sub(1);
        if let Some(peer) = owner
            && let Some(n) = self.by_peer.get_mut(&peer)
        {
            *n -= 1;
            if *n == 0 {
                self.by_peer.remove(&peer);
            }
        }
    }

    /// Owes `waiter` an ack once `count` deferred properties are applied.
    pub(super) fn ticket(&mut self, waiter: Waiter, count: usize) -> u64 {
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
    pub(super) fn ticket_done(&mut self, ticket: u64) -> Option<Waiter> {
        let t = self.tickets.get_mut(&ticket)?;
        t.left = t.left.saturating_sub(1);
        if t.left > 0 {
            return None;
        }
        self.tickets.remove(&ticket).map(|t| t.waiter)
    }

    /// A property of this ticket was dropped: its ack will never be owed.
    pub(super) fn cancel(&mut self, ticket: u64) {
        self.tickets.remove(&ticket);
    }
}
