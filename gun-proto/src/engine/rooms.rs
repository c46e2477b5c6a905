//! WebRTC rooms, as Gun.js's `lib/webrtc.js` (0.2020.1241) meets peers:
//! the engine's half of signalling, the WebRTC stack being the driver's.
//!
//! A room is the soul `/RTC/<room><?99` with one key, `+`. Joining it
//! subscribes to that key (through every upstream peer, again whenever one
//! connects) and announces our pid there with `ok: {"@": max}` (how many
//! answers the announcer takes). Each peer already in the room sees the
//! put and dials the newcomer: its offer is a reply to the announcement
//! (`{"@": <put id>, "#": <offer id>, "ok": {"rtc": {"offer": …, "id": …}}}`),
//! and the answer a reply to the offer. The engine hands the driver
//! [`Event::RtcAnnounced`] (a newer peer to dial) and [`Event::RtcSignal`]
//! (a reply to one of our announcements or signals), and sends what
//! [`Call::RtcSignal`](super::Call::RtcSignal) gives it. Only the ids we sent route replies to us;
//! they are kept a minute, and at most [`MAX_OURS`] of them.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use compact_str::CompactString;

use super::{Engine, Event, Message, Path, queries::Kind};
use crate::graph::Graph;
use crate::ids::{PeerId, SubId};
use crate::value::{Value, ValueRef};

/// The key a room's announcements are put under.
const KEY: &str = "+";
/// How long an id of ours routes signalling back to us.
const SIGNAL_AGE: Duration = Duration::from_secs(60);
/// Most ids of ours remembered at once (the oldest go first).
const MAX_OURS: usize = 4096;
/// Most rooms joined at once.
const MAX_ROOMS: usize = 16;
/// Listener ids kept for rooms, counted down from the top of the range
/// (the application's count up from the bottom).
const FIRST_ROOM_SUB: u64 = u64::MAX - MAX_ROOMS as u64;

/// The rooms joined, and the ids whose replies are signalling for us.
#[derive(Debug, Default)]
pub(super) struct Rooms {
    joined: Vec<Room>,
    ours: HashSet<CompactString>,
    order: VecDeque<(Duration, CompactString)>,
}

#[derive(Debug)]
struct Room {
    name: String,
    soul: String,
    /// How many answers an announcement takes (Gun.js's `rtc.max`).
    max: usize,
    /// When we joined (Gun's ms): announcements older than this are
    /// peers already there, who dial us.
    since: f64,
}

/// The soul of room `name`.
pub(super) fn room_soul(name: &str) -> String {
    format!("/RTC/{name}<?99")
}

/// Whether `sub` is the listener of a room (its updates are not the
/// application's).
pub(super) fn is_room_sub(sub: SubId) -> bool {
    sub.0 >= FIRST_ROOM_SUB
}

impl Rooms {
    /// Remembers `id` as ours for a while.
    fn remember(&mut self, id: CompactString, now: Duration) {
        self.expire(now);
        while self.order.len() >= MAX_OURS {
            if let Some((_, old)) = self.order.pop_front() {
                self.ours.remove(&old);
            }
        }
        if self.ours.insert(id.clone()) {
            self.order.push_back((now + SIGNAL_AGE, id));
        }
    }

    fn expire(&mut self, now: Duration) {
        while let Some((at, _)) = self.order.front()
            && *at <= now
        {
            if let Some((_, id)) = self.order.pop_front() {
                self.ours.remove(&id);
            }
        }
    }

    /// Whether a reply to `id` is for us.
    fn is_ours(&mut self, id: &str, now: Duration) -> bool {
        self.expire(now);
        self.ours.contains(id)
    }

    /// The rooms whose announcement `put` carries, with the pid announced
    /// and its state.
    fn announced<'g>(&self, put: &'g Graph) -> Vec<(&str, &'g str, f64)> {
        self.joined
            .iter()
            .filter_map(|r| {
                let prop = put.prop(&r.soul, KEY)?;
                match prop.value {
                    ValueRef::String(pid) if prop.state >= r.since => {
                        Some((r.name.as_str(), pid, prop.state))
                    }
                    _ => None,
                }
            })
            .collect()
    }
}

impl Engine {
    /// Joins room `name` (again: nothing new), announcing us to every
    /// upstream peer connected now and to each that connects later.
    pub(super) fn rtc_join(&mut self, name: String, max: usize) {
        if self.rooms.joined.iter().any(|r| r.name == name) {
            return;
        }
        if self.rooms.joined.len() >= MAX_ROOMS {
            tracing::warn!(room = name, "too many WebRTC rooms: not joined");
            return;
        }
        let sub = SubId(FIRST_ROOM_SUB + self.rooms.joined.len() as u64);
        let soul = room_soul(&name);
        let since = self.now.unix_ms;
        self.rooms.joined.push(Room {
            name,
            soul: soul.clone(),
            max,
            since,
        });
        // The listener subscribes us to the room through every upstream
        // peer, and again whenever one connects.
        if let Err(e) = self.listen(sub, Path::soul(soul).get(KEY), Kind::On) {
            tracing::warn!(error = %e, "cannot listen to a WebRTC room");
        }
        let upstream: Vec<PeerId> = self
            .mesh
            .upstream()
            .into_iter()
            .filter(|p| self.mesh.role(*p) == Some(super::Role::Dialed))
            .collect();
        self.announce(&upstream);
    }

    /// Announces us in every room joined, to `peers` (relays).
    pub(super) fn announce(&mut self, peers: &[PeerId]) {
        if peers.is_empty() {
            return;
        }
        for i in 0..self.rooms.joined.len() {
            let (soul, max) = {
                let r = &self.rooms.joined[i];
                (r.soul.clone(), r.max)
            };
            let mut put = Graph::new();
            let state = self.state();
            put.insert(&soul, KEY, Value::String(self.pid.clone()), state);
            let msg = Message {
                id: Some(self.new_id()),
                put: Some(put),
                ok: Some(serde_json::json!({"@": max, "/": 0})),
                ..Message::default()
            };
            let id = self.broadcast(peers, msg);
            self.rooms.remember(id, self.now.mono);
        }
    }

    /// A put from `peer`: a newer peer's announcement in a room we joined
    /// is one for us to dial.
    pub(super) fn rtc_put(&mut self, peer: PeerId, msg: &Message) {
        let (Some(put), Some(id)) = (&msg.put, &msg.id) else {
            return;
        };
        if self.rooms.joined.is_empty() || self.mesh.role(peer) != Some(super::Role::Dialed) {
            return;
        }
        let found: Vec<(String, String)> = self
            .rooms
            .announced(put)
            .into_iter()
            .filter(|(_, pid, _)| *pid != self.pid)
            .map(|(room, pid, _)| (room.to_owned(), pid.to_owned()))
            .collect();
        for (room, pid) in found {
            self.emit(Event::RtcAnnounced {
                via: peer,
                room,
                pid,
                reply_to: id.to_string(),
            });
        }
    }

    /// A reply from `peer` to an id of ours in a room: signalling handed to
    /// the driver (or, when it carries none, a relay's ack of our
    /// announcement, dropped). `false`: not ours.
    pub(super) fn rtc_reply(&mut self, peer: PeerId, msg: &Message) -> bool {
        let Some(ack) = msg.ack.as_deref() else {
            return false;
        };
        if !self.rooms.is_ours(ack, self.now.mono) {
            return false;
        }
        if let (Some(rtc), Some(id)) = (msg.ok.as_ref().and_then(|ok| ok.get("rtc")), &msg.id)
            && msg.put.is_none()
        {
            self.emit(Event::RtcSignal {
                via: peer,
                reply_to: id.to_string(),
                rtc: rtc.clone(),
            });
        }
        true
    }

    /// Sends signalling to `via`: a reply to `reply_to` carrying `rtc`,
    /// under an id whose replies come back to us.
    pub(super) fn rtc_signal(&mut self, via: PeerId, reply_to: &str, rtc: serde_json::Value) {
        if !self.mesh.contains(via) {
            tracing::debug!(?via, "signalling for a peer that is gone: dropped");
            return;
        }
        let mut msg = Message {
            id: Some(self.new_id()),
            ack: Some(reply_to.into()),
            ok: Some(serde_json::json!({ "rtc": rtc })),
            ..Message::default()
        };
        let id = self.seal(&mut msg).unwrap_or_default();
        self.mesh
            .send_with(via, None, self.now.mono, |out| msg.push_json(out));
        self.rooms.remember(id, self.now.mono);
    }
}
