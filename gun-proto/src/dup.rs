//! Dedup: message ids seen recently, which peer each came from, and which
//! peers we passed it to (the only ones whose replies to it count).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use crate::ids::{IdMap, PeerId};
use crate::text_map::TextMap;

/// Who brought an id in: a peer (its message arrived), or us (`None`: we
/// made and sent it).
type Owner = Option<PeerId>;

/// Remembers message ids for a time window, bounded in count, and in count
/// per peer.
///
/// Gun.js keeps ids about 9 s; a repeat within the window is dropped. The
/// peer a message came from (its owner) routes replies (`@`) back to it. Each
/// peer's ids are its own share: a peer past `max_per_peer` forgets its own
/// oldest ids, and when the whole window is full the peer holding the most
/// gives one up, so that a flood of fresh ids from one peer cannot push out
/// the routes of another peer's messages.
#[derive(Debug)]
pub(crate) struct Dup {
    /// Ids up to 24 bytes (every id Gun.js makes) are held inline. The
    /// lists below keep an id's hash in this map in its place (8 bytes, not
    /// 24), and find its entry by that hash and the entry's own fields.
    seen: TextMap<Seen>,
    /// Every id's hash by the time it lapses (an id seen again is here
    /// twice; the earlier entry is skipped when it comes up).
    order: VecDeque<(Nanos, u64)>,
    /// Each owner's share of the window.
    shares: IdMap<Owner, Share>,
    /// Owners by how many ids they hold, to find the largest: made the
    /// first time the window is full, kept up to date from then on (until
    /// then no arrival pays for it).
    ranked: Option<BTreeSet<(usize, Owner)>>,
    age: Duration,
    max: usize,
    max_per_peer: usize,
}

/// One owner's ids.
#[derive(Debug, Default)]
struct Share {
    /// How many of them are live.
    live: usize,
    /// Its ids' hashes, oldest first (ids forgotten meanwhile are
    /// skipped).
    ids: VecDeque<u64>,
}

/// A time on the engine's clock in nanoseconds (584 years of them).
type Nanos = u64;

fn nanos(t: Duration) -> Nanos {
    Nanos::try_from(t.as_nanos()).unwrap_or(Nanos::MAX)
}

/// What is kept of an id: 40 bytes (72 with its key and hash).
#[derive(Debug, Clone)]
struct Seen {
    expires: Nanos,
    /// The peer it came from, which replies to it route back to; `None`:
    /// we made it. The first to bring it in keeps it.
    owner: Owner,
    /// Peers we passed this message to whose replies we take: most
    /// messages have none, and a slice is two words where a `Vec` is three.
    asked: Box<[PeerId]>,
}

impl Seen {
    fn new(expires: Nanos, owner: Owner) -> Self {
        Self {
            expires,
            owner,
            asked: Box::default(),
        }
    }
}

impl Dup {
    /// A window of `age`, holding at most `max` ids, and at most
    /// `max_per_peer` brought in by any one peer (the oldest go first).
    pub(crate) fn new(age: Duration, max: usize, max_per_peer: usize) -> Self {
        Self {
            seen: TextMap::default(),
            order: VecDeque::new(),
            shares: IdMap::default(),
            ranked: None,
            age,
            max: max.max(1),
            max_per_peer: max_per_peer.max(1),
        }
    }

    /// Whether `id` was seen and has not expired.
    pub(crate) fn contains(&self, id: &str, now: Duration) -> bool {
        let now = nanos(now);
        self.seen.get(id).is_some_and(|s| s.expires > now)
    }

    /// The peer `id` came from, while it is remembered.
    pub(crate) fn via(&self, id: &str, now: Duration) -> Option<PeerId> {
        let now = nanos(now);
        self.seen
            .get(id)
            .filter(|s| s.expires > now)
            .and_then(|s| s.owner)
    }

    /// Whether `peer` was sent message `id` by us, so may answer it.
    pub(crate) fn asked(&self, id: &str, peer: PeerId, now: Duration) -> bool {
        let now = nanos(now);
        self.seen
            .get(id)
            .is_some_and(|s| s.expires > now && s.asked.contains(&peer))
    }

    /// Records `id` (from `via`, or sent by us when `None`); an id held
    /// already has its window renewed and keeps its owner.
    pub(crate) fn track(&mut self, id: &str, via: Option<PeerId>, now: Duration) {
        let now = nanos(now);
        self.expire(now);
        let expires = now.saturating_add(nanos(self.age));
        let hash = self.seen.hash(id);
        if let Some(s) = self.seen.get_hashed_mut(hash, id) {
            s.expires = expires;
            self.order.push_back((expires, hash));
            return;
        }
        self.make_room(via);
        self.seen.insert_hashed(hash, id, Seen::new(expires, via));
        self.listed(hash, via, expires);
    }

    /// Records `id` as brought in by `from`, unless it was seen and has not
    /// expired: then it is a duplicate (`false`) and nothing changes. With
    /// room in the window, one lookup does both.
    pub(crate) fn arrive(&mut self, id: &str, from: PeerId, now: Duration) -> bool {
        // What is left after this has not expired.
        let at = nanos(now);
        self.expire(at);
        let via = Some(from);
        let crowded = self.seen.len() >= self.max
            || self.shares.get(&via).map_or(0, |s| s.live) >= self.max_per_peer;
        if crowded {
            if self.seen.contains_key(id) {
                return false;
            }
            self.track(id, via, now);
            return true;
        }
        let expires = at.saturating_add(nanos(self.age));
        let Some(hash) = self.seen.insert_new(id, Seen::new(expires, via)) else {
            return false;
        };
        self.listed(hash, via, expires);
        true
    }

    /// A new id (its hash) is on its owner's list and in the window's
    /// order.
    fn listed(&mut self, hash: u64, via: Owner, expires: Nanos) {
        let share = self.shares.entry(via).or_default();
        share.ids.push_back(hash);
        share.live += 1;
        let live = share.live;
        // The new rank in before the old one out: a set that never empties
        // keeps its node (a lone owner's would be freed and made again).
        if let Some(ranked) = &mut self.ranked {
            ranked.insert((live, via));
            ranked.remove(&(live - 1, via));
        }
        self.order.push_back((expires, hash));
    }

    /// Message `id` (tracked) went to `peers`, whose replies to it count.
    pub(crate) fn sent_to(&mut self, id: &str, peers: &[PeerId]) {
        if peers.is_empty() {
            return;
        }
        if let Some(s) = self.seen.get_mut(id) {
            let mut asked = Vec::with_capacity(s.asked.len() + peers.len());
            asked.extend_from_slice(&s.asked);
            for p in peers {
                if !asked.contains(p) {
                    asked.push(*p);
                }
            }
            s.asked = asked.into_boxed_slice();
        }
    }

    /// Forgets the oldest ids of whoever is past its share, so one more
    /// id of `owner` fits.
    fn make_room(&mut self, owner: Owner) {
        if owner.is_some() && self.shares.get(&owner).map_or(0, |s| s.live) >= self.max_per_peer {
            self.evict_oldest(owner);
        }
        while self.seen.len() >= self.max {
            let shares = &self.shares;
            #[expect(
                clippy::disallowed_methods,
                reason = "collected into a sorted set: the map's order is not seen"
            )]
            let ranked = self
                .ranked
                .get_or_insert_with(|| shares.iter().map(|(o, s)| (s.live, *o)).collect());
            let Some(&(_, largest)) = ranked.last() else {
                break;
            };
            if !self.evict_oldest(largest) {
                break;
            }
        }
    }

    /// Forgets `owner`'s oldest live id; `false` if it has none.
    fn evict_oldest(&mut self, owner: Owner) -> bool {
        while let Some(hash) = self.shares.get_mut(&owner).and_then(|s| s.ids.pop_front()) {
            if self.seen.remove_where(hash, |s| s.owner == owner).is_some() {
                self.forgot(owner);
                return true;
            }
        }
        self.shares.remove(&owner);
        false
    }

    /// One of `owner`'s live ids was forgotten.
    fn forgot(&mut self, owner: Owner) {
        let Some(share) = self.shares.get_mut(&owner) else {
            return;
        };
        let was = share.live;
        share.live = was.saturating_sub(1);
        let live = share.live;
        if live == 0 {
            self.shares.remove(&owner);
        }
        if let Some(ranked) = &mut self.ranked {
            if live > 0 {
                ranked.insert((live, owner));
            }
            ranked.remove(&(was, owner));
        }
    }

    fn expire(&mut self, now: Nanos) {
        while let Some(&(t, hash)) = self.order.front() {
            if t > now {
                break;
            }
            self.order.pop_front();
            if let Some(s) = self.seen.remove_where(hash, |s| s.expires <= now) {
                self.forgot(s.owner);
                self.trim_owner(s.owner);
            }
        }
    }

    /// Drops the ids at the front of `owner`'s list that it no longer
    /// holds, so that an owner with a steady flow of ids (a long-lived
    /// peer, or us) keeps a list as long as its live ids, not as long as
    /// its whole history.
    fn trim_owner(&mut self, owner: Owner) {
        let Some(share) = self.shares.get_mut(&owner) else {
            return;
        };
        while let Some(&hash) = share.ids.front() {
            if self.seen.get_where(hash, |s| s.owner == owner).is_some() {
                break;
            }
            share.ids.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_in_time_and_count() {
        let s = Duration::from_secs;
        let mut d = Dup::new(s(9), 3, 3);
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

    #[test]
    fn a_flooding_peer_forgets_its_own_ids_not_others() {
        let s = Duration::from_secs;
        let mut d = Dup::new(s(9), 100, 10);
        d.track("honest", Some(PeerId(1)), s(0));
        for i in 0..1000 {
            d.track(&format!("flood{i}"), Some(PeerId(2)), s(1));
        }
        assert!(d.contains("honest", s(1)), "another peer's id survives");
        assert_eq!(d.via("honest", s(1)), Some(PeerId(1)));
        assert!(d.contains("flood999", s(1)) && !d.contains("flood0", s(1)));
        // Many peers filling the window: the one holding most gives way.
        for p in 3..200 {
            d.track(&format!("p{p}"), Some(PeerId(p)), s(2));
        }
        assert!(d.seen.len() <= 100);
        assert!(d.contains("honest", s(2)) || d.shares.values().all(|s| s.live <= 1));
    }

    #[test]
    fn a_full_window_takes_from_the_largest_owner() {
        let s = Duration::from_secs;
        let mut d = Dup::new(s(9), 10, 10);
        for (peer, n) in [(1, 6), (2, 3), (3, 1)] {
            for i in 0..n {
                assert!(d.arrive(&format!("{peer}-{i}"), PeerId(peer), s(0)));
            }
        }
        assert!(d.ranked.is_none(), "no ranking while there is room");
        // Full: each newcomer costs the largest owner its oldest id, the
        // ranking kept as the counts change.
        for (i, newcomer) in [4, 5, 6].into_iter().enumerate() {
            assert!(d.arrive(&format!("{newcomer}-0"), PeerId(newcomer), s(1)));
            assert!(!d.contains(&format!("1-{i}"), s(1)));
        }
        assert!(d.contains("1-3", s(1)) && d.contains("2-0", s(1)));
        assert_eq!(d.seen.len(), 10);
        // Peers 1 and 2 now hold 3 each: the next goes to the later of them
        // in the ranking's order, and never to a peer holding one.
        assert!(d.arrive("7-0", PeerId(7), s(1)));
        assert!(d.contains("3-0", s(1)) && d.contains("4-0", s(1)));
        let ranked = d.ranked.as_ref().expect("made once full");
        let live: usize = ranked.iter().map(|(n, _)| n).sum();
        assert_eq!(live, d.seen.len(), "the ranking matches the shares");
    }

    #[test]
    fn a_long_lived_owner_keeps_no_history() {
        let ms = Duration::from_millis;
        let mut d = Dup::new(Duration::from_secs(9), 100_000, 100_000);
        // A steady flow from one peer and from us over 100 s: the lists
        // hold about a window's worth, not all 200,000 ids.
        for i in 0..100_000u64 {
            d.track(&format!("p{i}"), Some(PeerId(1)), ms(i));
            d.track(&format!("u{i}"), None, ms(i));
        }
        let kept: usize = d.shares.values().map(|s| s.ids.len()).sum();
        assert!(
            kept <= 2 * 9_001 + 2,
            "{kept} ids listed for {} live",
            d.seen.len()
        );
    }

    /// Arriving is checking and tracking in one: a repeat within the window
    /// is a duplicate and changes nothing; after it, or once forgotten to
    /// make room, the id is new again. The same with room and when crowded.
    #[test]
    fn arriving_is_a_check_and_a_track() {
        let s = Duration::from_secs;
        for (max, per_peer) in [(100, 100), (2, 1)] {
            let mut d = Dup::new(s(9), max, per_peer);
            assert!(d.arrive("a", PeerId(1), s(0)));
            assert!(!d.arrive("a", PeerId(2), s(1)), "a repeat");
            assert_eq!(
                d.via("a", s(1)),
                Some(PeerId(1)),
                "the first peer keeps the route"
            );
            assert!(d.arrive("a", PeerId(2), s(9)), "new after the window");
            assert_eq!(d.via("a", s(9)), Some(PeerId(2)));
            assert!(d.arrive("b", PeerId(2), s(9)));
            assert_eq!(
                d.contains("a", s(9)),
                max > 2,
                "crowded out of a full window"
            );
            assert!(d.seen.len() <= max);
        }
    }

    /// Tracking an id again renews its window and keeps its first route.
    #[test]
    fn a_renewed_id_keeps_its_owner() {
        assert_eq!(size_of::<Seen>(), 40);
        let s = Duration::from_secs;
        let mut d = Dup::new(s(9), 10, 10);
        d.track("m", Some(PeerId(1)), s(0));
        d.track("m", Some(PeerId(2)), s(5));
        assert_eq!(d.via("m", s(10)), Some(PeerId(1)));
        assert!(d.contains("m", s(13)) && !d.contains("m", s(14)));
        assert_eq!(d.shares.len(), 1, "listed once, under its owner");
        assert!(d.arrive("n", PeerId(2), s(14)));
        assert_eq!(d.seen.len(), 1, "m lapsed as n arrived");
    }

    #[test]
    fn replies_count_only_from_peers_asked() {
        let s = Duration::from_secs;
        let mut d = Dup::new(s(9), 10, 10);
        d.track("m", Some(PeerId(1)), s(0));
        d.sent_to("m", &[PeerId(2)]);
        d.sent_to("m", &[PeerId(4), PeerId(2)]);
        assert_eq!(d.seen.get("m").map(|s| s.asked.len()), Some(2));
        assert!(d.asked("m", PeerId(2), s(1)) && d.asked("m", PeerId(4), s(1)));
        assert!(!d.asked("m", PeerId(3), s(1)));
        assert!(!d.asked("m", PeerId(2), s(10)), "not after the window");
    }
}
