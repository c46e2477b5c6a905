//! Dedup: message ids seen recently, and which peer each came from.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::ids::PeerId;

/// Remembers message ids for a time window, bounded in count.
///
/// Gun.js keeps ids about 9 s; a repeat within the window is dropped. The
/// peer a message came from (`via`) routes replies (`@`) back to it.
#[derive(Debug)]
pub(crate) struct Dup {
    seen: HashMap<String, Seen>,
    order: VecDeque<(Duration, String)>,
    age: Duration,
    max: usize,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    expires: Duration,
    via: Option<PeerId>,
}

impl Dup {
    /// A window of `age`, holding at most `max` ids (the oldest go first).
    pub(crate) fn new(age: Duration, max: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            age,
            max: max.max(1),
        }
    }

    /// Whether `id` was seen and has not expired.
    pub(crate) fn contains(&self, id: &str, now: Duration) -> bool {
        self.seen.get(id).is_some_and(|s| s.expires > now)
    }

    /// The peer `id` came from, while it is remembered.
    pub(crate) fn via(&self, id: &str, now: Duration) -> Option<PeerId> {
        self.seen
            .get(id)
            .filter(|s| s.expires > now)
            .and_then(|s| s.via)
    }

    /// Records `id` (from `via`, or sent by us when `None`).
    pub(crate) fn track(&mut self, id: &str, via: Option<PeerId>, now: Duration) {
        self.expire(now);
        let expires = now + self.age;
        match self.seen.get_mut(id) {
            Some(s) => {
                s.expires = expires;
                if via.is_some() {
                    s.via = via;
                }
            }
            None => {
                while self.seen.len() >= self.max {
                    let Some((_, old)) = self.order.pop_front() else {
                        break;
                    };
                    self.seen.remove(&old);
                }
                self.seen.insert(id.to_owned(), Seen { expires, via });
            }
        }
        self.order.push_back((expires, id.to_owned()));
    }

    /// Forgets a peer as a route (it disconnected).
    pub(crate) fn forget_peer(&mut self, peer: PeerId) {
        for s in self.seen.values_mut() {
            if s.via == Some(peer) {
                s.via = None;
            }
        }
    }

    fn expire(&mut self, now: Duration) {
        while let Some((t, _)) = self.order.front() {
            if *t > now {
                break;
            }
            let Some((_, id)) = self.order.pop_front() else {
                break;
            };
            if self.seen.get(&id).is_some_and(|s| s.expires <= now) {
                self.seen.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_in_time_and_count() {
        let s = Duration::from_secs;
        let mut d = Dup::new(s(9), 3);
        d.track("a", Some(PeerId(1)), s(0));
        assert!(d.contains("a", s(8)));
        assert_eq!(d.via("a", s(1)), Some(PeerId(1)));
        assert!(!d.contains("a", s(9)));
        for id in ["b", "c", "d", "e"] {
            d.track(id, None, s(10));
        }
        assert!(d.seen.len() <= 3);
        assert!(!d.contains("b", s(10)));
        assert!(d.contains("e", s(10)));
    }
}
