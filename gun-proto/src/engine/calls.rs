//! API calls, and our own writes: validated, turned into a graph diff along
//! the chain's path, merged, sent to the peers that want it, settled when the
//! store has it and synced when a peer acks it; kept in the outbox until then.

use compact_str::CompactString;

use super::jobs::{Job, OwnWrite};
use super::own::Answer;
use super::queries::Kind;
use super::spaces;
use super::storage::{Loaded, Waiter};
use super::timers::Timer;
use super::{Call, Engine, Error, Event, Message, Path, PutFailure, Refusal};
use crate::convert;
use crate::graph::{Graph, Resident};
use crate::ids::{PeerId, ReqId, set_soul};
use crate::lex::Lex;
use crate::store::{StoreError, StoreQuery};
use crate::value::Value;

impl Engine {
    pub(super) fn call(&mut self, call: Call) -> Result<(), Error> {
        match call {
            Call::Put { req, path, data } => {
                self.check_put(req, &path, &data)?;
                let state = self.state();
                self.start_write(req, path, data, state, None);
            }
            #[cfg(feature = "sea")]
            Call::PutCertified {
                req,
                path,
                data,
                cert,
            } => {
                self.check_put(req, &path, &data)?;
                let state = self.state();
                self.start_write(req, path, data, state, Some(cert));
            }
            #[cfg(feature = "sea")]
            Call::User(pair) => self.set_user(pair.map(|p| *p)),
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
                self.start_write(req, path, data, state, None);
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
                                _ => {
                                    let id = set_soul(&mut self.rng, state);
                                    self.item_soul(&path.soul, id)
                                }
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
                self.emit(Event::SetSoul { req, soul: key });
                self.start_write(req, path, data, state, None);
            }
            Call::Once { req, path, wait } => self.start_once(req, path, None, wait)?,
            Call::OnceKeys {
                req,
                path,
                keys,
                wait,
            } => self.start_once(req, path, Some(keys), wait)?,
            Call::On { sub, .. } | Call::Map { sub, .. }
                if self.queries.listeners.contains_key(&sub) =>
            {
                return Err(Error::DuplicateListener(sub));
            }
            Call::On { sub, path } => self.listen(sub, path, Kind::On)?,
            Call::RtcJoin { room, max } => self.rtc_join(room, max),
            Call::RtcSignal { via, reply_to, rtc } => self.rtc_signal(via, &reply_to, rtc),
            Call::Map { sub, path } => self.listen(sub, path, Kind::Map)?,
            Call::Off { sub } => {
                if let Some(l) = self.queries.listeners.remove(&sub) {
                    self.queries.unindex(sub, &l.deps);
                }
            }
        }
        Ok(())
    }

    fn check_put(&self, req: ReqId, path: &Path, data: &serde_json::Value) -> Result<(), Error> {
        check_path(path)?;
        self.own.check_new(req)?;
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

    fn start_write(
        &mut self,
        req: ReqId,
        path: Path,
        data: serde_json::Value,
        state: f64,
        cert: Option<String>,
    ) {
        self.own.start(req);
        let timeout = self.cfg.put_timeout;
        self.set_timer(timeout, Timer::PutTimeout(req));
        self.run(Job::Write(OwnWrite {
            req,
            path,
            data,
            state,
            cert,
        }));
    }

    /// Does one of our writes if the souls on its path are in memory.
    pub(super) fn try_write(&mut self, write: OwnWrite) -> Option<(Job, Option<String>)> {
        let mut diff = match self.write_diff(&write) {
            Ok(d) => d,
            Err(Needs::Soul(soul)) => return Some((Job::Write(write), Some(soul))),
            Err(Needs::Nothing(e)) => {
                self.write_refused(write.req, e);
                return None;
            }
        };
        match self.ensure_diff_loaded(&diff) {
            Loaded::No(soul) => return Some((Job::Write(write), Some(soul))),
            Loaded::Failed(e) => {
                self.write_refused(write.req, e);
                return None;
            }
            Loaded::Yes => {}
        }
        // A user's space: signed by our user, and held to the rules as
        // anyone's write is.
        let sealed = self
            .seal_own(&mut diff, write.cert.as_deref())
            .and_then(|()| {
                self.alias_taken(&diff)
                    .map_or(Ok(()), |why| Err(why.to_owned()))
            });
        if let Err(why) = sealed {
            self.synced(write.req, Err(PutFailure::Refused(why.clone())));
            self.settled(write.req, Err(PutFailure::Refused(why)));
            return None;
        }
        let waiter = self.storage.enabled().then_some(Waiter::Own(write.req));
        let _ = self.merge(&diff, waiter);
        self.own.keep(write.req, diff.clone());
        let targets = self.mesh.targets(diff.souls(), None, &[], true);
        if !targets.is_empty() {
            let msg = Message {
                id: Some(self.new_id()),
                put: Some(diff),
                ..Message::default()
            };
            let id = self.broadcast(&targets, msg);
            // Its acks count from the relays it went to, not from the
            // peers it was pushed to.
            let above = targets
                .into_iter()
                .filter(|t| self.mesh.role(*t).is_some_and(super::Role::upstream))
                .collect();
            self.track_write_id(id, write.req, above);
        }
        None
    }

    /// The diff a write makes, resolving its path through links; path souls
    /// (`parent/key`) where no link exists yet.
    fn write_diff(&mut self, write: &OwnWrite) -> Result<Graph, Needs> {
        let mut diff = Graph::new();
        let mut cur = write.path.soul.clone();
        let keys = &write.path.keys;
        let Some((last, hops)) = keys.split_last() else {
            self.need(&cur)?;
            return convert::diff_from_json(&cur, &write.data, write.state, &links(&self.graph))
                .map_err(|e| Needs::Nothing(StoreError::new(e.to_string())));
        };
        for k in hops {
            self.need(&cur)?;
            match self
                .graph
                .prop(&cur, k)
                .and_then(|p| spaces::link(&cur, p.value))
            {
                Some(l) => cur = l,
                None => {
                    let child = format!("{cur}/{k}");
                    diff.insert(&cur, k, Value::Link(child.clone()), write.state);
                    cur = child;
                }
            }
        }
        self.need(&cur)?;
        let mut at = path_text(&write.path, keys.len() - 1);
        let value = convert::prop_from_json(
            &mut diff,
            &cur,
            last,
            &write.data,
            write.state,
            &links(&self.graph),
            &mut at,
        )
        .map_err(|e| Needs::Nothing(StoreError::new(e.to_string())))?;
        diff.insert(&cur, last, value, write.state);
        Ok(diff)
    }

    fn need(&mut self, soul: &str) -> Result<(), Needs> {
        match self.ensure_loaded([soul]) {
            Loaded::Yes => Ok(()),
            Loaded::No(soul) => Err(Needs::Soul(soul)),
            Loaded::Failed(e) => Err(Needs::Nothing(e)),
        }
    }

    /// A write that cannot be made: both its answers fail.
    pub(super) fn write_refused(&mut self, req: ReqId, why: StoreError) {
        // Never sent, so no peer will ack it either.
        self.synced(req, Err(PutFailure::Store(why.clone())));
        self.settled(req, Err(PutFailure::Store(why)));
    }

    /// Write `req` is settled locally (or failed to be).
    pub(super) fn settled(&mut self, req: ReqId, result: Result<(), PutFailure>) {
        if self.own.settle(req) {
            self.emit(Event::PutAck { req, result });
        }
    }

    /// A peer answered write `req` (the first answer counts).
    fn synced(&mut self, req: ReqId, result: Result<(), PutFailure>) {
        if self.own.sync(req) {
            self.emit(Event::PutPeerAck { req, result });
        }
    }

    /// No peer answered a put in time. With a store the put still settles
    /// when its write is confirmed, however long the disk takes; without
    /// one, the peer's ack was the only settlement there was.
    pub(super) fn put_timed_out(&mut self, req: ReqId) {
        self.synced(req, Err(PutFailure::Timeout));
        if !self.storage.enabled() {
            self.settled(req, Err(PutFailure::Timeout));
        }
    }

    /// Handles a reply to one of our own requests; `false` if it is not ours.
    pub(super) fn own_reply(&mut self, peer: PeerId, msg: &Message) -> bool {
        let Some(ack) = msg.ack.as_deref() else {
            return false;
        };
        let result = match self.own.answered(ack, peer, msg.err.is_none()) {
            Answer::NotOurs => return self.got_reply(peer, ack, msg),
            Answer::NotAsked => {
                self.refused(peer, Refusal::UnsolicitedReply, ack);
                return true;
            }
            Answer::Pending => return true,
            Answer::Settles(req, true) => {
                self.own.acked(req);
                (req, Ok(()))
            }
            Answer::Settles(req, false) => {
                let why = msg.err.clone().unwrap_or_default();
                (req, Err(PutFailure::Peer(why)))
            }
        };
        let (req, result) = result;
        if !self.storage.enabled() {
            self.settled(req, result.clone());
        }
        self.synced(req, result);
        true
    }

    /// Remembers one of our put messages so peer acks find their write,
    /// for as long as replies are routed.
    fn track_write_id(&mut self, id: CompactString, req: ReqId, peers: Vec<PeerId>) {
        self.own.sent_as(id.clone(), req, peers);
        let age = self.route_age();
        self.set_timer(age, Timer::RouteExpire(id));
    }

    /// An upstream peer connected: send it the writes no peer has acked,
    /// and subscribe it to what our listeners and peers watch.
    pub(super) fn resync(&mut self, peer: PeerId) {
        // What changed while we were away is unknown: read nodes whole again.
        self.queries.whole.clear();
        for (req, diff) in self.own.queued() {
            let msg = Message {
                id: Some(self.new_id()),
                put: Some(diff),
                ..Message::default()
            };
            let id = self.broadcast(&[peer], msg);
            self.track_write_id(id, req, vec![peer]);
        }
        self.resend_to_upstream(peer);
        // The first upstream connection after start: send up everything
        // stored, so writes acked before a restart, whose forwards were lost
        // with the memory, still reach the peers above (read repair of all).
        if self.cfg.has_upstream && self.storage.enabled() && !self.repaired {
            self.repaired = true;
            let all = Lex {
                prefix: Some(String::new()),
                ..Lex::default()
            };
            let everything = StoreQuery::scan(all, None);
            let _ = self.storage.read(everything, &mut self.outputs);
        }
        self.reask_listeners();
        // A relay re-asks upstream for what its own peers subscribed to: the
        // new connection has none of its subscriptions, and it missed updates.
        for soul in self.mesh.subscribed_souls() {
            let _ = self.ask(&soul, None, None);
        }
    }
}

/// The link already at `(soul, key)` in `graph`, for nested objects to
/// reuse the soul they link to.
fn links(graph: &Resident) -> impl Fn(&str, &str) -> Option<String> + '_ {
    |s, k| graph.prop(s, k).and_then(|p| spaces::link(s, p.value))
}

/// What a write waits for, or why it cannot be made.
enum Needs {
    Soul(String),
    Nothing(StoreError),
}

pub(super) fn check_path(path: &Path) -> Result<(), Error> {
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
