//! The application side: put, set, once, on, map, off, and listener updates.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use tracing::{debug, warn};

use super::peer::Job;
use super::{Call, Engine, Error, Event, Loaded, Output, Path, PutFailure, Role, Timer, Waiter};
use crate::convert;
use crate::graph::Graph;
use crate::ids::{PeerId, ReqId, SubId, set_soul};
use crate::lex::Lex;
use crate::store::StoreError;
use crate::value::Value;
use crate::wire::{Get, Message};

/// The application's requests and listeners.
#[derive(Debug, Default)]
pub(super) struct AppState {
    /// Puts not yet acked to the caller.
    puts: HashMap<ReqId, ()>,
    /// Puts no peer has answered yet ([`Event::PutPeerAck`] owed).
    unsynced: HashSet<ReqId>,
    /// Our put messages' ids, to match peer acks.
    put_ids: HashMap<String, ReqId>,
    /// Puts no peer has acked yet: sent again when an upstream peer connects.
    outbox: BTreeMap<ReqId, Graph>,
    onces: HashMap<ReqId, Once>,
    /// Our gets to peers, by message id.
    gets: HashMap<String, OutGet>,
    listeners: BTreeMap<SubId, Listener>,
    /// Listeners by the souls their path passes through.
    by_soul: HashMap<String, BTreeSet<SubId>>,
    /// Onces and listeners waiting for store reads.
    waiting: BTreeSet<Waiting>,
    /// Souls an upstream peer has sent whole since we last connected: a
    /// `once` of such a node answers from memory; of any other node (held
    /// only in part, from key gets or our own writes) it asks first.
    whole: HashSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Waiting {
    Once(ReqId),
    Listener(SubId),
}

#[derive(Debug)]
struct Once {
    path: Path,
    /// The keys a lex once selects (`None`: the whole value).
    keys: Option<Lex>,
    asked: HashSet<(String, Option<String>)>,
    /// Our gets that some peer has yet to answer.
    outstanding: BTreeSet<String>,
}

#[derive(Debug)]
struct OutGet {
    waiting: BTreeSet<PeerId>,
    onces: Vec<ReqId>,
    /// The soul, when the get asked for all of it.
    whole: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    On,
    Map,
}

#[derive(Debug)]
struct Listener {
    kind: Kind,
    path: Path,
    deps: Vec<String>,
    asked: HashSet<(String, Option<String>)>,
    last: Option<serde_json::Value>,
    last_map: BTreeMap<String, serde_json::Value>,
}

/// A parked application write.
#[derive(Debug)]
pub(super) struct AppJob {
    req: ReqId,
    path: Path,
    data: serde_json::Value,
    state: f64,
}

/// The `%` byte budget of our lex gets: the most a Gun.js relay grants.
const LEX_BUDGET: f64 = 100_000.0;

/// Where a path leads in the local graph.
enum Target {
    Node(String),
    Value(Value),
    Missing { soul: String, key: Option<String> },
}

impl Engine {
    pub(super) fn call(&mut self, call: Call) -> Result<(), Error> {
        match call {
            Call::Put { req, path, data } => {
                self.check_put(req, &path, &data)?;
                let state = self.state();
                self.start_put(req, path, data, state);
            }
            Call::PutAt {
                req,
                path,
                data,
                state,
            } => {
                if !(state.is_finite() && state > 0.0) {
                    return Err(Error::BadState(state.to_string()));
                }
                self.check_put(req, &path, &data)?;
                self.start_put(req, path, data, state);
            }
            Call::Set { req, path, data } => {
                check_path(&path)?;
                let state = self.state();
                let key = match &data {
                    serde_json::Value::Object(o) => match crate::value::link_soul(o) {
                        Some(s) => s.to_owned(),
                        None => {
                            match o.get("_").and_then(|m| m.get("#")).and_then(|s| s.as_str()) {
                                Some(s) if !s.is_empty() => s.to_owned(),
                                _ => set_soul(&mut self.rng, state),
                            }
                        }
                    },
                    _ => set_soul(&mut self.rng, state),
                };
                let mut data = data;
                if let serde_json::Value::Object(o) = &mut data
                    && crate::value::link_soul(o).is_none()
                {
                    let mut meta = serde_json::Map::new();
                    meta.insert("#".into(), serde_json::Value::String(key.clone()));
                    o.insert("_".into(), serde_json::Value::Object(meta));
                }
                let path = path.get(key.clone());
                self.check_put(req, &path, &data)?;
                self.outputs
                    .push_back(Output::Event(Event::SetSoul { req, soul: key }));
                self.start_put(req, path, data, state);
            }
            Call::Once { req, path, wait } => self.start_once(req, path, None, wait)?,
            Call::OnceKeys {
                req,
                path,
                keys,
                wait,
            } => self.start_once(req, path, Some(keys), wait)?,
            Call::On { sub, path } | Call::Map { sub, path }
                if self.app.listeners.contains_key(&sub) =>
            {
                let _ = path;
                return Err(Error::DuplicateListener(sub));
            }
            Call::On { sub, path } => self.listen(sub, path, Kind::On)?,
            Call::Map { sub, path } => self.listen(sub, path, Kind::Map)?,
            Call::Off { sub } => {
                if let Some(l) = self.app.listeners.remove(&sub) {
                    self.unindex(sub, &l.deps);
                }
            }
        }
        Ok(())
    }

    fn start_once(
        &mut self,
        req: ReqId,
        path: Path,
        keys: Option<Lex>,
        wait: Duration,
    ) -> Result<(), Error> {
        check_path(&path)?;
        if self.app.onces.contains_key(&req) {
            return Err(Error::DuplicateRequest(req));
        }
        self.app.onces.insert(
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

    fn check_put(&self, req: ReqId, path: &Path, data: &serde_json::Value) -> Result<(), Error> {
        check_path(path)?;
        if self.app.puts.contains_key(&req) || self.app.unsynced.contains(&req) {
            return Err(Error::DuplicateRequest(req));
        }
        // Validate the whole put before anything is written.
        let no_links = |_: &str, _: &str| None;
        match path.keys.last() {
            None => {
                convert::diff_from_json(&path.soul, data, 0.0, &no_links)?;
            }
            Some(last) => {
                let mut scratch = Graph::new();
                let mut at = path_text(path, path.keys.len() - 1);
                convert::prop_from_json(&mut scratch, "x", last, data, 0.0, &no_links, &mut at)?;
            }
        }
        Ok(())
    }

    fn start_put(&mut self, req: ReqId, path: Path, data: serde_json::Value, state: f64) {
        self.app.puts.insert(req, ());
        self.app.unsynced.insert(req);
        let timeout = self.cfg.put_timeout;
        self.set_timer(timeout, Timer::PutTimeout(req));
        self.run(Job::App(AppJob {
            req,
            path,
            data,
            state,
        }));
    }

    pub(super) fn try_app(&mut self, job: AppJob) -> Option<AppJob> {
        let diff = match self.write_diff(&job) {
            Ok(d) => d,
            Err(None) => return Some(job),
            Err(Some(e)) => {
                self.app_refuse(job, e);
                return None;
            }
        };
        match self.ensure_diff_loaded(&diff) {
            Loaded::No => return Some(job),
            Loaded::Failed(e) => {
                self.app_refuse(job, e);
                return None;
            }
            Loaded::Yes => {}
        }
        let waiter = self.cfg.store.then_some(Waiter::Api(job.req));
        let _ = self.merge(&diff, waiter);
        if self.app.outbox.len() >= self.cfg.max_outbox {
            // Oldest first: it is still in the local store, only not resent.
            if let Some((old, _)) = self.app.outbox.pop_first() {
                warn!(?old, "outbox full: an unsynced put will not be resent");
            }
        }
        self.app.outbox.insert(job.req, diff.clone());
        let targets: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(id, p)| {
                p.role == Role::Dialed
                    || diff
                        .souls()
                        .any(|s| self.subs.get(s).is_some_and(|set| set.contains(id)))
            })
            .map(|(id, _)| *id)
            .collect();
        if !targets.is_empty() {
            let mut msg = Message {
                id: Some(self.new_id()),
                put: Some(diff),
                ..Message::default()
            };
            let id = self.seal(&mut msg).unwrap_or_default();
            self.track_put_id(id.clone(), job.req);
            let text = msg.encode();
            for t in targets {
                self.send_text(t, text.clone(), Some(&id));
            }
        }
        None
    }

    /// The diff a put writes, resolving its path through links; path souls
    /// (`parent/key`) where no link exists yet. `Err(None)` while a soul on
    /// the way is still being read.
    fn write_diff(&mut self, job: &AppJob) -> Result<Graph, Option<StoreError>> {
        let mut diff = Graph::new();
        let mut cur = job.path.soul.clone();
        let keys = &job.path.keys;
        let Some((last, hops)) = keys.split_last() else {
            self.need(&cur)?;
            let graph = &self.graph;
            let link = |s: &str, k: &str| {
                graph
                    .prop(s, k)
                    .and_then(|p| p.value.as_link().map(str::to_owned))
            };
            return convert::diff_from_json(&cur, &job.data, job.state, &link)
                .map_err(|e| Some(StoreError::new(e.to_string())));
        };
        for k in hops {
            self.need(&cur)?;
            match self.graph.prop(&cur, k).and_then(|p| p.value.as_link()) {
                Some(l) => cur = l.to_owned(),
                None => {
                    let child = format!("{cur}/{k}");
                    diff.insert(&cur, k, Value::Link(child.clone()), job.state);
                    cur = child;
                }
            }
        }
        self.need(&cur)?;
        let graph = &self.graph;
        let link = |s: &str, k: &str| {
            graph
                .prop(s, k)
                .and_then(|p| p.value.as_link().map(str::to_owned))
        };
        let mut at = path_text(&job.path, keys.len() - 1);
        let value =
            convert::prop_from_json(&mut diff, &cur, last, &job.data, job.state, &link, &mut at)
                .map_err(|e| Some(StoreError::new(e.to_string())))?;
        diff.insert(&cur, last, value, job.state);
        Ok(diff)
    }

    fn need(&mut self, soul: &str) -> Result<(), Option<StoreError>> {
        match self.ensure_loaded([soul]) {
            Loaded::Yes => Ok(()),
            Loaded::No => Err(None),
            Loaded::Failed(e) => Err(Some(e)),
        }
    }

    pub(super) fn app_refuse(&mut self, job: AppJob, why: StoreError) {
        // Never sent, so no peer will ack it either.
        self.app_peer_acked(job.req, Err(PutFailure::Store(why.clone())));
        self.app_acked(job.req, Err(PutFailure::Store(why)));
    }

    pub(super) fn app_acked(&mut self, req: ReqId, result: Result<(), PutFailure>) {
        if self.app.puts.remove(&req).is_some() {
            self.outputs
                .push_back(Output::Event(Event::PutAck { req, result }));
        }
    }

    /// A peer answered one of our puts (the first answer counts).
    fn app_peer_acked(&mut self, req: ReqId, result: Result<(), PutFailure>) {
        if self.app.unsynced.remove(&req) {
            self.outputs
                .push_back(Output::Event(Event::PutPeerAck { req, result }));
        }
    }

    /// No peer answered a put in time. With a store the put still settles
    /// when its write is confirmed, however long the disk takes; without
    /// one, the peer's ack was the only settlement there was.
    pub(super) fn app_put_timeout(&mut self, req: ReqId) {
        self.app_peer_acked(req, Err(PutFailure::Timeout));
        if !self.cfg.store {
            self.app_acked(req, Err(PutFailure::Timeout));
        }
    }

    /// Handles a reply to one of our own requests; `false` if it is not ours.
    pub(super) fn app_reply(&mut self, peer: PeerId, msg: &Message) -> bool {
        let Some(ack) = msg.ack.as_deref() else {
            return false;
        };
        if let Some(&req) = self.app.put_ids.get(ack) {
            let result = match &msg.err {
                Some(e) => Err(PutFailure::Peer(e.clone())),
                None => {
                    self.app.outbox.remove(&req);
                    Ok(())
                }
            };
            if !self.cfg.store {
                self.app_acked(req, result.clone());
            }
            self.app_peer_acked(req, result);
            return true;
        }
        let Some(get) = self.app.gets.get_mut(ack) else {
            return false;
        };
        get.waiting.remove(&peer);
        let done = get.waiting.is_empty();
        let onces = get.onces.clone();
        if let Some(soul) = get.whole.clone() {
            self.app.whole.insert(soul);
        }
        if let Some(put) = &msg.put {
            self.run(Job::Data {
                except: Some(peer),
                diff: put.clone(),
            });
        }
        if done {
            for req in onces {
                if let Some(o) = self.app.onces.get_mut(&req) {
                    o.outstanding.remove(ack);
                }
                self.eval_once(req);
            }
        }
        true
    }

    /// Remembers one of our put messages so peer acks find their request,
    /// for as long as replies are routed.
    fn track_put_id(&mut self, id: String, req: ReqId) {
        self.app.put_ids.insert(id.clone(), req);
        let age = self.cfg.get_route_age.max(self.cfg.put_timeout);
        self.set_timer(age, Timer::GetExpire(id));
    }

    pub(super) fn app_get_expire(&mut self, id: &str) {
        self.app.put_ids.remove(id);
        if let Some(get) = self.app.gets.remove(id) {
            for req in get.onces {
                if let Some(o) = self.app.onces.get_mut(&req) {
                    o.outstanding.remove(id);
                }
                self.eval_once(req);
            }
        }
    }

    pub(super) fn app_peer_gone(&mut self, peer: PeerId) {
        let mut ready = Vec::new();
        for (id, get) in &mut self.app.gets {
            if get.waiting.remove(&peer) && get.waiting.is_empty() {
                ready.push((id.clone(), get.onces.clone()));
            }
        }
        ready.sort();
        for (id, onces) in ready {
            for req in onces {
                if let Some(o) = self.app.onces.get_mut(&req) {
                    o.outstanding.remove(&id);
                }
                self.eval_once(req);
            }
        }
    }

    /// An upstream peer connected: send it the puts no peer has acked, and
    /// subscribe it to what our listeners watch.
    pub(super) fn resync(&mut self, peer: PeerId) {
        // What changed while we were away is unknown: read nodes whole again.
        self.app.whole.clear();
        let outbox: Vec<(ReqId, Graph)> = self
            .app
            .outbox
            .iter()
            .map(|(r, g)| (*r, g.clone()))
            .collect();
        for (req, diff) in outbox {
            let mut msg = Message {
                id: Some(self.new_id()),
                put: Some(diff),
                ..Message::default()
            };
            let id = self.seal(&mut msg).unwrap_or_default();
            self.track_put_id(id.clone(), req);
            self.send_text(peer, msg.encode(), Some(&id));
        }
        self.resend_to_upstream(peer);
        // The first upstream connection after start: send up everything
        // stored, so writes acked before a restart, whose forwards were lost
        // with the memory, still reach the peers above (read repair of all).
        if self.cfg.has_upstream && self.cfg.store && !self.repaired {
            self.repaired = true;
            let _ = self.read(crate::store::StoreQuery {
                soul: Lex {
                    prefix: Some(String::new()),
                    ..Lex::default()
                },
            });
        }
        let subs: Vec<SubId> = self.app.listeners.keys().copied().collect();
        for sub in subs {
            if let Some(l) = self.app.listeners.get_mut(&sub) {
                l.asked.clear();
            }
            self.eval_listener(sub);
        }
        // A relay re-asks upstream for what its own peers subscribed to: the
        // new connection has none of its subscriptions, and it missed updates.
        let mut souls: Vec<String> = self.subs.keys().cloned().collect();
        souls.sort();
        for soul in souls {
            let _ = self.ask(&soul, None, None);
        }
    }

    /// Store reads completed: re-evaluate what was waiting for them.
    pub(super) fn app_reload(&mut self) {
        for w in std::mem::take(&mut self.app.waiting) {
            match w {
                Waiting::Once(req) => self.eval_once(req),
                Waiting::Listener(sub) => self.eval_listener(sub),
            }
        }
    }

    /// Properties changed: update the listeners that watch their souls.
    pub(super) fn changed(&mut self, accepted: &Graph) {
        let mut subs = BTreeSet::new();
        for soul in accepted.souls() {
            if let Some(set) = self.app.by_soul.get(soul) {
                subs.extend(set.iter().copied());
            }
        }
        for sub in subs {
            self.eval_listener(sub);
        }
    }

    /// Sends a get to every upstream peer; returns its id if any was asked.
    fn ask(&mut self, soul: &str, key: Option<Lex>, once: Option<ReqId>) -> Option<String> {
        let upstream: BTreeSet<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.role == Role::Dialed)
            .map(|(id, _)| *id)
            .collect();
        if upstream.is_empty() {
            return None;
        }
        let fresh = self.new_id();
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
        let mut msg = Message {
            id: Some(fresh),
            get: Some(get),
            ..Message::default()
        };
        let id = self.seal(&mut msg).unwrap_or_default();
        let text = msg.encode();
        for &p in &upstream {
            self.send_text(p, text.clone(), Some(&id));
        }
        self.app.gets.insert(
            id.clone(),
            OutGet {
                waiting: upstream,
                onces: once.into_iter().collect(),
                whole,
            },
        );
        let age = self.cfg.get_route_age;
        self.set_timer(age, Timer::GetExpire(id.clone()));
        Some(id)
    }

    /// Follows a path through the local graph, listing the souls it passes.
    fn resolve(
        &mut self,
        path: &Path,
        souls: &mut Vec<String>,
    ) -> Result<Target, Option<StoreError>> {
        let mut cur = path.soul.clone();
        for (i, k) in path.keys.iter().enumerate() {
            souls.push(cur.clone());
            self.need(&cur)?;
            match self.graph.prop(&cur, k) {
                Some(p) => match &p.value {
                    Value::Link(l) => cur = l.clone(),
                    v if i + 1 == path.keys.len() => return Ok(Target::Value(v.clone())),
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
        self.need(&cur)?;
        match self.graph.node(&cur) {
            Some(n) if !n.is_empty() => Ok(Target::Node(cur)),
            _ => Ok(Target::Missing {
                soul: cur,
                key: None,
            }),
        }
    }

    fn eval_once(&mut self, req: ReqId) {
        let Some((path, keys)) = self
            .app
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
                self.app.waiting.insert(Waiting::Once(req));
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
                if !self.app.whole.contains(&soul)
                    && let Some(o) = self.app.onces.get_mut(&req)
                {
                    if !o.outstanding.is_empty() {
                        return;
                    }
                    if o.asked.insert((soul.clone(), None))
                        && let Some(id) = self.ask(&soul, None, Some(req))
                    {
                        if let Some(o) = self.app.onces.get_mut(&req) {
                            o.outstanding.insert(id);
                        }
                        return;
                    }
                }
                let v = self.graph.node(&soul).map(|n| n.to_json(&soul));
                self.finish_once(req, v);
            }
            Target::Value(v) => self.finish_once(req, Some(v.to_json())),
            Target::Missing { soul, key } => {
                let Some(o) = self.app.onces.get_mut(&req) else {
                    return;
                };
                if !o.outstanding.is_empty() {
                    return;
                }
                if o.asked.insert((soul.clone(), key.clone()))
                    && let Some(id) = self.ask(&soul, key.map(Lex::exact), Some(req))
                {
                    if let Some(o) = self.app.onces.get_mut(&req) {
                        o.outstanding.insert(id);
                    }
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
                self.app.waiting.insert(Waiting::Once(req));
                return;
            }
            Ok(Target::Missing { soul, key: None }) => soul,
            // A primitive, or a key of a missing node: no node to select from.
            Ok(_) | Err(_) => return self.finish_once(req, None),
        };
        let Some(o) = self.app.onces.get_mut(&req) else {
            return;
        };
        if !o.outstanding.is_empty() {
            return;
        }
        if o.asked.insert((soul.clone(), None))
            && let Some(id) = self.ask(&soul, Some(keys), Some(req))
        {
            if let Some(o) = self.app.onces.get_mut(&req) {
                o.outstanding.insert(id);
            }
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
            part.insert(k, p.value.clone(), p.state);
        }
        (!part.is_empty()).then(|| part.to_json(soul))
    }

    fn finish_once(&mut self, req: ReqId, value: Option<serde_json::Value>) {
        if let Some(o) = self.app.onces.remove(&req) {
            let key = o.path.keys.last().cloned().unwrap_or(o.path.soul);
            self.outputs
                .push_back(Output::Event(Event::Once { req, value, key }));
        }
    }

    pub(super) fn once_timeout(&mut self, req: ReqId) {
        let Some(o) = self.app.onces.get_mut(&req) else {
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
                None => self.graph.node(&soul).map(|n| n.to_json(&soul)),
            },
            Ok(Target::Value(v)) => Some(v.to_json()),
            _ => None,
        };
        self.finish_once(req, value);
    }

    fn listen(&mut self, sub: SubId, path: Path, kind: Kind) -> Result<(), Error> {
        check_path(&path)?;
        self.app.listeners.insert(
            sub,
            Listener {
                kind,
                path,
                deps: Vec::new(),
                asked: HashSet::new(),
                last: None,
                last_map: BTreeMap::new(),
            },
        );
        self.eval_listener(sub);
        Ok(())
    }

    fn unindex(&mut self, sub: SubId, deps: &[String]) {
        for s in deps {
            if let Some(set) = self.app.by_soul.get_mut(s) {
                set.remove(&sub);
                if set.is_empty() {
                    self.app.by_soul.remove(s);
                }
            }
        }
    }

    fn eval_listener(&mut self, sub: SubId) {
        let Some(l) = self.app.listeners.get(&sub) else {
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
        let mut updates: Vec<(String, serde_json::Value)> = Vec::new();
        let mut last = None;
        let mut items = BTreeMap::new();
        match &target {
            Err(None) => {
                self.app.waiting.insert(Waiting::Listener(sub));
            }
            Err(_) => {}
            Ok(Target::Node(soul)) if kind == Kind::Map => {
                let children: Vec<(String, Value)> = self
                    .graph
                    .node(soul)
                    .map(|n| {
                        n.iter()
                            .map(|(k, p)| (k.to_owned(), p.value.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                for (k, v) in children {
                    let item = match &v {
                        Value::Link(child) => {
                            souls.push(child.clone());
                            asks.push((child.clone(), None));
                            match self.ensure_loaded([child.as_str()]) {
                                Loaded::No => {
                                    self.app.waiting.insert(Waiting::Listener(sub));
                                    continue;
                                }
                                _ => match self.graph.node(child) {
                                    Some(n) if !n.is_empty() => n.to_json(child),
                                    _ => continue,
                                },
                            }
                        }
                        other => other.to_json(),
                    };
                    items.insert(k, item);
                }
            }
            Ok(Target::Node(soul)) => last = self.graph.node(soul).map(|n| n.to_json(soul)),
            Ok(Target::Value(v)) => last = Some(v.to_json()),
            Ok(Target::Missing { .. }) => {}
        }
        let Some(l) = self.app.listeners.get_mut(&sub) else {
            return;
        };
        let old = std::mem::replace(&mut l.deps, souls.clone());
        let key = path
            .keys
            .last()
            .cloned()
            .unwrap_or_else(|| path.soul.clone());
        match kind {
            Kind::On => {
                if last.is_some() && last != l.last {
                    updates.push((key, last.clone().unwrap_or_default()));
                    l.last = last;
                }
            }
            Kind::Map => {
                for (k, v) in items {
                    if l.last_map.get(&k) != Some(&v) {
                        updates.push((k.clone(), v.clone()));
                        l.last_map.insert(k, v);
                    }
                }
            }
        }
        let new_asks: Vec<(String, Option<String>)> = asks
            .into_iter()
            .filter(|a| l.asked.insert(a.clone()))
            .collect();
        self.unindex(sub, &old);
        for s in souls {
            self.app.by_soul.entry(s).or_default().insert(sub);
        }
        for (soul, key) in new_asks {
            let _ = self.ask(&soul, key.map(Lex::exact), None);
        }
        for (key, value) in updates {
            debug!(?sub, key, "listener update");
            self.outputs
                .push_back(Output::Event(Event::Update { sub, value, key }));
        }
    }
}

fn check_path(path: &Path) -> Result<(), Error> {
    if path.soul.is_empty() || path.keys.iter().any(String::is_empty) {
        return Err(Error::EmptyPath);
    }
    Ok(())
}

/// `soul.k1.k2…` up to `n` keys, for error messages.
fn path_text(path: &Path, n: usize) -> String {
    let mut s = path.soul.clone();
    for k in &path.keys[..n] {
        s.push('.');
        s.push_str(k);
    }
    s
}
