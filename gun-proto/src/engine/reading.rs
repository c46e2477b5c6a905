//! Reading for the application: a chain's path resolved through links,
//! `once` answered from memory or after asking upstream peers, listeners
//! re-evaluated when a soul they depend on changes.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use compact_str::CompactString;
use tracing::debug;

use super::calls::check_path;
use super::jobs::Job;
use super::queries::{Kind, Listener, MapView, Once, OutGet, Waiting};
use super::spaces;
use super::storage::Loaded;
use super::timers::Timer;
use super::{Engine, Error, Event, Message, Path, Refusal, Role};
use crate::graph::Graph;
use crate::ids::{PeerId, ReqId, SubId};
use crate::lex::Lex;
use crate::store::StoreError;
use crate::value::Value;
use crate::wire::Get;

/// The `%` byte budget of our lex gets: the most a Gun.js relay grants.
const LEX_BUDGET: f64 = 100_000.0;

/// Where a path leads in the local graph.
enum Target {
    Node(String),
    Value(Value),
    Missing { soul: String, key: Option<String> },
}

impl Engine {
    pub(super) fn start_once(
        &mut self,
        req: ReqId,
        path: Path,
        keys: Option<Lex>,
        wait: Duration,
    ) -> Result<(), Error> {
        check_path(&path)?;
        if self.queries.onces.contains_key(&req) {
            return Err(Error::DuplicateRequest(req));
        }
        self.queries.onces.insert(
            req,
            Once {
                path,
                keys,
                asked: HashSet::new(),
                outstanding: BTreeSet::new(),
            },
        );
        self.set_timer(wait, Timer::OnceWait(req));
        self.eval_once(req);
        Ok(())
    }

    pub(super) fn listen(&mut self, sub: SubId, path: Path, kind: Kind) -> Result<(), Error> {
        check_path(&path)?;
        self.queries.listeners.insert(
            sub,
            Listener {
                kind,
                path,
                deps: Vec::new(),
                asked: HashSet::new(),
                last: None,
                last_map: BTreeMap::new(),
                view: None,
            },
        );
        self.eval_listener(sub);
        Ok(())
    }

    /// Sends a get to every upstream peer; returns its id if any was asked.
    pub(super) fn ask(
        &mut self,
        soul: &str,
        key: Option<Lex>,
        once: Option<ReqId>,
    ) -> Option<CompactString> {
        let mut upstream = self.mesh.upstream();
        // WebRTC rooms are met on relays: a peer met directly is not asked
        // (it would pass announcements on, and one that came that way
        // first would hide the relay's copy, the one to answer through).
        if super::merging::is_rtc_room(soul) {
            upstream.retain(|p| self.mesh.role(*p) == Some(Role::Dialed));
        }
        if upstream.is_empty() {
            return None;
        }
        let whole = key.is_none().then(|| soul.to_owned());
        // A lex get says how much it wants: a Gun.js relay (radisk) answers
        // one without `%` with its first matching property only.
        let budget = key
            .as_ref()
            .filter(|k| k.as_exact().is_none())
            .map(|_| LEX_BUDGET);
        let get = Get {
            soul: Lex::exact(soul),
            key,
            budget,
            reverse: false,
        };
        let msg = Message {
            id: Some(self.new_id()),
            get: Some(Box::new(get)),
            ..Message::default()
        };
        let id = self.broadcast(&upstream, msg);
        self.queries.gets.insert(
            id.clone(),
            OutGet {
                asked: upstream.iter().copied().collect(),
                waiting: upstream.into_iter().collect(),
                onces: once.into_iter().collect(),
                whole,
            },
        );
        let age = self.cfg.get_route_age;
        self.set_timer(age, Timer::RouteExpire(id.clone()));
        Some(id)
    }

    /// A reply to one of our gets; `false` if it answers none.
    pub(super) fn got_reply(&mut self, peer: PeerId, ack: &str, msg: &Message) -> bool {
        let Some(get) = self.queries.gets.get_mut(ack) else {
            return false;
        };
        if !get.asked.contains(&peer) {
            let ack = ack.to_owned();
            self.refused(
                peer,
                Refusal::UnsolicitedReply,
                format_args!("a reply to our get {ack}"),
            );
            return true;
        }
        get.waiting.remove(&peer);
        let done = get.waiting.is_empty();
        let onces = get.onces.clone();
        if let Some(soul) = get.whole.clone() {
            self.queries.whole.insert(soul);
        }
        if let Some(put) = &msg.put {
            self.run(Job::Data {
                except: Some(peer),
                diff: put.clone(),
            });
        }
        if done {
            for req in onces {
                self.queries.once_got(req, ack);
                self.eval_once(req);
            }
        }
        true
    }

    /// Our get `id` stops waiting for answers.
    pub(super) fn get_expired(&mut self, id: &str) {
        if let Some(get) = self.queries.gets.remove(id) {
            for req in get.onces {
                self.queries.once_got(req, id);
                self.eval_once(req);
            }
        }
    }

    /// A peer left: the onces whose gets only it still had to answer go on.
    pub(super) fn peer_gone(&mut self, peer: PeerId) {
        for (id, onces) in self.queries.peer_gone(peer) {
            for req in onces {
                self.queries.once_got(req, &id);
                self.eval_once(req);
            }
        }
    }

    /// Follows a path through the local graph, listing the souls it passes.
    /// `Err(None)` while a soul on the way is being read.
    fn resolve(
        &mut self,
        path: &Path,
        souls: &mut Vec<String>,
    ) -> Result<Target, Option<StoreError>> {
        let mut cur = path.soul.clone();
        for (i, k) in path.keys.iter().enumerate() {
            souls.push(cur.clone());
            self.loaded(&cur)?;
            match self
                .graph
                .prop(&cur, k)
                .map(|p| spaces::view(&cur, p.value))
            {
                Some(v) => match &v {
                    Value::Link(l) => cur = l.clone(),
                    _ if i + 1 == path.keys.len() => return Ok(Target::Value(v)),
                    _ => {
                        return Ok(Target::Missing {
                            soul: cur,
                            key: Some(k.clone()),
                        });
                    }
                },
                None => {
                    return Ok(Target::Missing {
                        soul: cur,
                        key: Some(k.clone()),
                    });
                }
            }
        }
        souls.push(cur.clone());
        self.loaded(&cur)?;
        match self.graph.node(&cur) {
            Some(n) if !n.is_empty() => Ok(Target::Node(cur)),
            _ => Ok(Target::Missing {
                soul: cur,
                key: None,
            }),
        }
    }

    fn loaded(&mut self, soul: &str) -> Result<(), Option<StoreError>> {
        match self.ensure_loaded([soul]) {
            Loaded::Yes => Ok(()),
            Loaded::No(_) => Err(None),
            Loaded::Failed(e) => Err(Some(e)),
        }
    }

    /// Asks upstream for `(soul, key)` on behalf of once `req`, unless it
    /// did already; `true` when a get went out (the once waits for it).
    fn once_asks(
        &mut self,
        req: ReqId,
        soul: &str,
        key: Option<Lex>,
        asked: Option<String>,
    ) -> bool {
        let Some(o) = self.queries.onces.get_mut(&req) else {
            return true;
        };
        if !o.outstanding.is_empty() {
            return true;
        }
        if o.asked.insert((soul.to_owned(), asked))
            && let Some(id) = self.ask(soul, key, Some(req))
        {
            if let Some(o) = self.queries.onces.get_mut(&req) {
                o.outstanding.insert(id);
            }
            return true;
        }
        false
    }

    pub(super) fn eval_once(&mut self, req: ReqId) {
        let Some((path, keys)) = self
            .queries
            .onces
            .get(&req)
            .map(|o| (o.path.clone(), o.keys.clone()))
        else {
            return;
        };
        if let Some(keys) = keys {
            return self.eval_once_keys(req, &path, keys);
        }
        let mut souls = Vec::new();
        let target = match self.resolve(&path, &mut souls) {
            Ok(t) => t,
            Err(None) => {
                self.queries.waiting.insert(Waiting::Once(req));
                return;
            }
            Err(_) => Target::Missing {
                soul: path.soul.clone(),
                key: None,
            },
        };
        match target {
            Target::Node(soul) => {
                // Held in part only: ask upstream for the rest first.
                if !self.queries.whole.contains(&soul) && self.once_asks(req, &soul, None, None) {
                    return;
                }
                let v = self.graph.node(&soul).map(|n| spaces::node_json(&soul, n));
                self.finish_once(req, v);
            }
            Target::Value(v) => self.finish_once(req, Some(v.to_json())),
            Target::Missing { soul, key } => {
                let lex = key.clone().map(Lex::exact);
                if self.once_asks(req, &soul, lex, key) {
                    return;
                }
                self.finish_once(req, None);
            }
        }
    }

    /// A lex once: the selected keys of the node `path` leads to, asking
    /// peers (with the lex) while the node is not here.
    fn eval_once_keys(&mut self, req: ReqId, path: &Path, keys: Lex) {
        let mut souls = Vec::new();
        let soul = match self.resolve(path, &mut souls) {
            Ok(Target::Node(soul)) => {
                let v = self.selected(&soul, &keys);
                return self.finish_once(req, v);
            }
            Err(None) => {
                self.queries.waiting.insert(Waiting::Once(req));
                return;
            }
            Ok(Target::Missing { soul, key: None }) => soul,
            // A primitive, or a key of a missing node: no node to select from.
            Ok(_) | Err(_) => return self.finish_once(req, None),
        };
        if self.once_asks(req, &soul, Some(keys), None) {
            return;
        }
        self.finish_once(req, None);
    }

    /// The properties of `soul` whose keys `keys` selects, with Gun's `_`
    /// metadata, or `None` when none is here.
    fn selected(&self, soul: &str, keys: &Lex) -> Option<serde_json::Value> {
        let node = self.graph.node(soul)?;
        let mut part = crate::graph::Node::new();
        for (k, p) in node.iter().filter(|(k, _)| keys.matches(k)) {
            part.set(k, p);
        }
        (!part.is_empty()).then(|| spaces::node_json(soul, &part))
    }

    fn finish_once(&mut self, req: ReqId, value: Option<serde_json::Value>) {
        if let Some(o) = self.queries.onces.remove(&req) {
            let key = o.path.keys.last().cloned().unwrap_or(o.path.soul);
            self.emit(Event::Once { req, value, key });
        }
    }

    pub(super) fn once_timeout(&mut self, req: ReqId) {
        let Some(o) = self.queries.onces.get_mut(&req) else {
            return;
        };
        o.outstanding.clear();
        o.asked.clear();
        // Answer from whatever arrived; ask no one again.
        let path = o.path.clone();
        let keys = o.keys.clone();
        let mut souls = Vec::new();
        let value = match self.resolve(&path, &mut souls) {
            Ok(Target::Node(soul)) => match keys {
                Some(keys) => self.selected(&soul, &keys),
                None => self.graph.node(&soul).map(|n| spaces::node_json(&soul, n)),
            },
            Ok(Target::Value(v)) => Some(v.to_json()),
            _ => None,
        };
        self.finish_once(req, value);
    }

    /// Store reads completed: re-evaluate what was waiting for them.
    pub(super) fn reload(&mut self) {
        for w in std::mem::take(&mut self.queries.waiting) {
            match w {
                Waiting::Once(req) => self.eval_once(req),
                Waiting::Listener(sub) => self.eval_listener(sub),
            }
        }
    }

    /// Properties changed: update the listeners that watch their souls (a
    /// map listener only in the items the change touches, where it can).
    pub(super) fn changed(&mut self, accepted: &Graph) {
        if !self.queries.watches_any(accepted.souls()) {
            return;
        }
        for sub in self.queries.watching(accepted.souls()) {
            if !self.update_map(sub, accepted) {
                self.eval_listener(sub);
            }
        }
    }

    /// After a reconnect: every listener asks again.
    pub(super) fn reask_listeners(&mut self) {
        let subs: Vec<SubId> = self.queries.listeners.keys().copied().collect();
        for sub in subs {
            if let Some(l) = self.queries.listeners.get_mut(&sub) {
                l.asked.clear();
            }
            self.eval_listener(sub);
        }
    }

    pub(super) fn eval_listener(&mut self, sub: SubId) {
        let Some(l) = self.queries.listeners.get(&sub) else {
            return;
        };
        let (path, kind) = (l.path.clone(), l.kind);
        let mut souls = Vec::new();
        let target = self.resolve(&path, &mut souls);
        // Ask upstream for each hop and the target, once per listener.
        let mut asks: Vec<(String, Option<String>)> = Vec::new();
        for (i, s) in souls.iter().enumerate() {
            asks.push((s.clone(), path.keys.get(i).cloned()));
        }
        let mut last = None;
        let mut items = BTreeMap::new();
        let mut view = None;
        match &target {
            Err(None) => {
                self.queries.waiting.insert(Waiting::Listener(sub));
            }
            Err(_) => {}
            Ok(Target::Node(soul)) if kind == Kind::Map => {
                let mut v = MapView {
                    target: soul.clone(),
                    hops: souls[..souls.len().saturating_sub(1)].to_vec(),
                    ..MapView::default()
                };
                items = self.map_items(sub, soul, &mut souls, &mut asks, &mut v);
                view = Some(v);
            }
            Ok(Target::Node(soul)) => {
                last = self.graph.node(soul).map(|n| spaces::node_json(soul, n));
            }
            Ok(Target::Value(v)) => last = Some(v.to_json()),
            Ok(Target::Missing { .. }) => {}
        }
        let Some(l) = self.queries.listeners.get_mut(&sub) else {
            return;
        };
        l.view = view;
        let old = std::mem::replace(&mut l.deps, souls.clone());
        let key = path
            .keys
            .last()
            .cloned()
            .unwrap_or_else(|| path.soul.clone());
        let mut updates: Vec<(String, serde_json::Value)> = Vec::new();
        match kind {
            Kind::On => {
                if last.is_some() && last != l.last {
                    updates.push((key, last.clone().unwrap_or_default()));
                    l.last = last;
                }
            }
            Kind::Map => updates = l.changed_items(items),
        }
        let new_asks = l.first_asks(asks);
        self.queries.index(sub, &old, &souls);
        self.deliver(sub, new_asks, updates);
    }

    /// What a listener's evaluation found: its first asks for `asks`, and
    /// its `updates` to the application (a room's listener has none: its
    /// news are the engine's own).
    pub(super) fn deliver(
        &mut self,
        sub: SubId,
        asks: Vec<(String, Option<String>)>,
        updates: Vec<(String, serde_json::Value)>,
    ) {
        for (soul, key) in asks {
            let _ = self.ask(&soul, key.map(Lex::exact), None);
        }
        if super::rooms::is_room_sub(sub) {
            return;
        }
        for (key, value) in updates {
            debug!(?sub, key, "listener update");
            self.emit(Event::Update { sub, value, key });
        }
    }

    /// A map listener's items: each property of the node, linked nodes
    /// resolved (and depended on, and asked for).
    fn map_items(
        &mut self,
        sub: SubId,
        soul: &str,
        souls: &mut Vec<String>,
        asks: &mut Vec<(String, Option<String>)>,
        view: &mut MapView,
    ) -> BTreeMap<String, serde_json::Value> {
        let mut items = BTreeMap::new();
        let children: Vec<(String, Value)> = self
            .graph
            .node(soul)
            .map(|n| {
                n.iter()
                    .map(|(k, p)| (k.to_owned(), spaces::view(soul, p.value)))
                    .collect()
            })
            .unwrap_or_default();
        for (k, v) in children {
            if let Value::Link(child) = &v {
                view.link(&k, Some(child));
            }
            if let Some(item) = self.map_item(sub, v, souls, asks) {
                items.insert(k, item);
            }
        }
        items
    }

    /// One item of a map listener: the value, or the node it links to
    /// (depended on and asked for; `None` while it is not in memory yet or
    /// is empty).
    pub(super) fn map_item(
        &mut self,
        sub: SubId,
        value: Value,
        souls: &mut Vec<String>,
        asks: &mut Vec<(String, Option<String>)>,
    ) -> Option<serde_json::Value> {
        let Value::Link(child) = &value else {
            return Some(value.to_json());
        };
        souls.push(child.clone());
        asks.push((child.clone(), None));
        if let Loaded::No(_) = self.ensure_loaded([child.as_str()]) {
            self.queries.waiting.insert(Waiting::Listener(sub));
            return None;
        }
        match self.graph.node(child) {
            Some(n) if !n.is_empty() => Some(spaces::node_json(child, n)),
            _ => None,
        }
    }
}
