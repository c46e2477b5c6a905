//! The application's reads: `once`s waiting for an answer, listeners (`on`,
//! `map`) with what they last saw, the souls each depends on, and our gets
//! to peers with whom they wait for.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use compact_str::CompactString;

use super::Path;
use crate::ids::{PeerId, ReqId, SubId};
use crate::lex::Lex;

/// A read waiting for the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Waiting {
    Once(ReqId),
    Listener(SubId),
}

/// A `once` in progress.
#[derive(Debug)]
pub(super) struct Once {
    pub(super) path: Path,
    /// The keys a lex once selects (`None`: the whole value).
    pub(super) keys: Option<Lex>,
    /// What it asked peers for (soul, key), so it asks each once.
    pub(super) asked: HashSet<(String, Option<String>)>,
    /// Our gets that some peer has yet to answer.
    pub(super) outstanding: BTreeSet<CompactString>,
}

/// One of our gets to peers.
#[derive(Debug)]
pub(super) struct OutGet {
    /// The peers it went to: only their replies count.
    pub(super) asked: BTreeSet<PeerId>,
    /// Those that have not answered yet.
    pub(super) waiting: BTreeSet<PeerId>,
    pub(super) onces: Vec<ReqId>,
    /// The soul, when the get asked for all of it.
    pub(super) whole: Option<String>,
}

/// `on` or `map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    On,
    Map,
}

/// A listener and what it last delivered.
#[derive(Debug)]
pub(super) struct Listener {
    pub(super) kind: Kind,
    pub(super) path: Path,
    /// The souls its path passes through now.
    pub(super) deps: Vec<String>,
    pub(super) asked: HashSet<(String, Option<String>)>,
    pub(super) last: Option<serde_json::Value>,
    pub(super) last_map: BTreeMap<String, serde_json::Value>,
    /// A map listener's node as last evaluated in full, for updating it
    /// key by key (`None`: the next change evaluates it in full).
    pub(super) view: Option<MapView>,
}

impl Listener {
    /// The map items that differ from what it last delivered, recorded as
    /// delivered: the updates to send.
    pub(super) fn changed_items(
        &mut self,
        items: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Vec<(String, serde_json::Value)> {
        let mut updates = Vec::new();
        for (k, v) in items {
            if self.last_map.get(&k) != Some(&v) {
                updates.push((k.clone(), v.clone()));
                self.last_map.insert(k, v);
            }
        }
        updates
    }

    /// The asks it has not made yet, recorded as made.
    pub(super) fn first_asks(
        &mut self,
        asks: Vec<(String, Option<String>)>,
    ) -> Vec<(String, Option<String>)> {
        asks.into_iter()
            .filter(|a| self.asked.insert(a.clone()))
            .collect()
    }
}

/// What a map listener maps over: enough to tell which of its items a
/// change touches, so that a put into a node of N items costs what it
/// changed, not N.
#[derive(Debug, Default)]
pub(super) struct MapView {
    /// The node mapped over.
    pub(super) target: String,
    /// The souls its path passes through before the node: a change to one
    /// may lead the path elsewhere, so it is evaluated in full again.
    pub(super) hops: Vec<String>,
    /// The child each item links to, by key.
    pub(super) links: HashMap<String, String>,
    /// Each linked child with the keys that link to it.
    pub(super) children: HashMap<String, BTreeSet<String>>,
}

impl MapView {
    /// Key `key` now links to `child` (or to nothing). Returns the child
    /// no key linked to before, and the one no key links to any more.
    pub(super) fn link(
        &mut self,
        key: &str,
        child: Option<&str>,
    ) -> (Option<String>, Option<String>) {
        if self.links.get(key).map(String::as_str) == child {
            return (None, None);
        }
        let mut gone = None;
        if let Some(old) = self.links.remove(key)
            && let Some(keys) = self.children.get_mut(&old)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.children.remove(&old);
                gone = Some(old);
            }
        }
        let mut new = None;
        if let Some(child) = child {
            self.links.insert(key.to_owned(), child.to_owned());
            let keys = self.children.entry(child.to_owned()).or_default();
            if keys.is_empty() {
                new = Some(child.to_owned());
            }
            keys.insert(key.to_owned());
        }
        if new.is_some() && new == gone {
            return (None, None);
        }
        (new, gone)
    }
}

/// The application's reads.
#[derive(Debug, Default)]
pub(super) struct Queries {
    pub(super) onces: HashMap<ReqId, Once>,
    /// Our gets to peers, by message id.
    pub(super) gets: HashMap<CompactString, OutGet>,
    pub(super) listeners: BTreeMap<SubId, Listener>,
    /// Listeners by the souls their path passes through.
    by_soul: HashMap<String, BTreeSet<SubId>>,
    /// Onces and listeners waiting for store reads.
    pub(super) waiting: BTreeSet<Waiting>,
    /// Souls an upstream peer has sent whole since we last connected: a
    /// `once` of such a node answers from memory; of any other node (held
    /// only in part, from key gets or our own writes) it asks first.
    pub(super) whole: HashSet<String>,
}

impl Queries {
    /// Whether any listener watches one of `souls` (no set is made; a
    /// relay often has no listener, and then no soul is looked up).
    pub(super) fn watches_any<'s>(&self, souls: impl IntoIterator<Item = &'s str>) -> bool {
        !self.by_soul.is_empty() && souls.into_iter().any(|s| self.by_soul.contains_key(s))
    }

    /// The listeners watching any of `souls`.
    pub(super) fn watching<'s>(&self, souls: impl IntoIterator<Item = &'s str>) -> BTreeSet<SubId> {
        let mut subs = BTreeSet::new();
        if self.by_soul.is_empty() {
            return subs;
        }
        for soul in souls {
            if let Some(set) = self.by_soul.get(soul) {
                subs.extend(set.iter().copied());
            }
        }
        subs
    }

    /// Listener `sub` now depends on `souls` (instead of `old`).
    pub(super) fn index(&mut self, sub: SubId, old: &[String], souls: &[String]) {
        self.unindex(sub, old);
        for s in souls {
            self.by_soul.entry(s.clone()).or_default().insert(sub);
        }
    }

    /// Listener `sub` depends on `soul` as well.
    pub(super) fn index_one(&mut self, sub: SubId, soul: &str) {
        match self.by_soul.get_mut(soul) {
            Some(set) => {
                set.insert(sub);
            }
            None => {
                self.by_soul.insert(soul.to_owned(), BTreeSet::from([sub]));
            }
        }
    }

    /// Listener `sub` no longer depends on `deps`.
    pub(super) fn unindex(&mut self, sub: SubId, deps: &[String]) {
        for s in deps {
            if let Some(set) = self.by_soul.get_mut(s) {
                set.remove(&sub);
                if set.is_empty() {
                    self.by_soul.remove(s);
                }
            }
        }
    }

    /// A peer left: the gets only it still had to answer, with their onces.
    pub(super) fn peer_gone(&mut self, peer: PeerId) -> Vec<(CompactString, Vec<ReqId>)> {
        let mut ready = Vec::new();
        for (id, get) in &mut self.gets {
            if get.waiting.remove(&peer) && get.waiting.is_empty() {
                ready.push((id.clone(), get.onces.clone()));
            }
        }
        ready.sort();
        ready
    }

    /// Get `id` is answered (or expired) for `req`'s once.
    pub(super) fn once_got(&mut self, req: ReqId, id: &str) {
        if let Some(o) = self.onces.get_mut(&req) {
            o.outstanding.remove(id);
        }
    }
}
