//! Gun.js-compatible WebRTC peers, sans-IO.
//!
//! Gun.js (`lib/webrtc.js`, 0.2020.1241) meets peers in a room on a relay
//! and then syncs with them over a data channel, the relay no longer
//! needed. The engine ([`gun_proto::Engine`]) does the room's part: it
//! announces us and hands over what is signalling
//! ([`gun_proto::Event::RtcAnnounced`], [`gun_proto::Event::RtcSignal`]).
//! [`RtcPeers`] does the rest: a [str0m] session per remote peer, offers,
//! answers and candidates in Gun.js's shapes, and the data channel's text
//! frames, as an input/poll state machine with no sockets, clock or
//! threads. A driver gives it one UDP socket's datagrams and the time,
//! carries out [`Output`]s, and makes each open connection a peer of the
//! engine ([`gun_proto::Role::Direct`]).
//!
//! What Gun.js does, and so we do:
//! - the peer already in the room dials (offers to) the newer one;
//! - both sides open an in-band channel `dc` (`{ordered: false,
//!   maxRetransmits: 2}` by default), send on their own and read every one;
//! - candidates: ours go in our SDP (1241 drops an answerer's trickled
//!   candidates); theirs are taken as they trickle in;
//! - frames are DAM text, at most the remote's `a=max-message-size`; a
//!   batch over it is split into its messages, a lone message over it is
//!   dropped (Gun.js parks it until the next `hi`, which never comes for
//!   a frame that does not fit);
//! - a duplicate offer from a connected peer is ignored; a connection not
//!   open within [`Config::open_timeout`] is given up.
//!
//! Ours to our host candidate only: no STUN or TURN is contacted, so peers
//! meet where they can reach each other's address (one host, a LAN).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod session;
mod signal;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gun_proto::PeerId;
pub use str0m::channel::{ChannelConfig, Reliability};

use session::{Happened, Session};
use signal::Signal;

/// Settings of the WebRTC peers.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our pid (the engine's: Gun.js names connections by it).
    pub pid: String,
    /// The UDP socket's address: our one host candidate.
    pub local: SocketAddr,
    /// How our data channel is opened (label `dc`, as Gun.js's).
    pub channel: ChannelConfig,
    /// Most connections at once (Gun.js: 55).
    pub max_connections: usize,
    /// How long a connection may take to open (Gun.js: 60 s).
    pub open_timeout: Duration,
    /// Most bytes of frames one connection may have waiting to be sent;
    /// past it the peer is dropped.
    pub max_queued: usize,
}

impl Config {
    /// Gun.js's defaults, for `pid` on the socket at `local`.
    pub fn new(pid: impl Into<String>, local: SocketAddr) -> Self {
        Self {
            pid: pid.into(),
            local,
            channel: gunjs_channel(),
            max_connections: 55,
            open_timeout: Duration::from_secs(60),
            max_queued: 4 << 20,
        }
    }
}

/// Gun.js's data channel: `dc`, unordered, at most 2 retransmits.
pub fn gunjs_channel() -> ChannelConfig {
    ChannelConfig {
        label: "dc".into(),
        ordered: false,
        reliability: Reliability::MaxRetransmits { retransmits: 2 },
        ..ChannelConfig::default()
    }
}

/// What the driver does for the peers.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Hand the engine signalling to send ([`gun_proto::Call::RtcSignal`]).
    Signal {
        /// The relay it goes through.
        via: PeerId,
        /// The message it answers.
        reply_to: String,
        /// Its `ok.rtc`.
        rtc: serde_json::Value,
    },
    /// Send a datagram on the socket.
    Transmit {
        /// To whom.
        to: SocketAddr,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A connection opened: make it a peer of the engine.
    Open {
        /// The remote's pid.
        pid: String,
    },
    /// A text frame from a connected peer.
    Frame {
        /// Its pid.
        pid: String,
        /// The frame.
        text: String,
    },
    /// A connection closed (after [`Output::Open`]): the peer leaves.
    Closed {
        /// Its pid.
        pid: String,
    },
}

/// Why a frame was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No open connection to that pid.
    #[error("no WebRTC connection to {0}")]
    NotConnected(String),
    /// Its send queue is full: the connection was dropped.
    #[error("the WebRTC connection to {0} fell behind and was dropped")]
    Overflow(String),
}

/// The WebRTC peers of one Gun instance: sessions by remote pid.
pub struct RtcPeers {
    cfg: Config,
    sessions: BTreeMap<String, Session>,
    out: VecDeque<Output>,
}

impl std::fmt::Debug for RtcPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtcPeers")
            .field("pid", &self.cfg.pid)
            .field("local", &self.cfg.local)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl RtcPeers {
    /// No connections yet.
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            sessions: BTreeMap::new(),
            out: VecDeque::new(),
        }
    }

    /// Connections open now.
    pub fn connected(&self) -> usize {
        self.sessions.values().filter(|s| s.joined).count()
    }

    fn has_room(&self, pid: &str) -> bool {
        if self.sessions.len() < self.cfg.max_connections {
            return true;
        }
        tracing::debug!(
            pid,
            max = self.cfg.max_connections,
            "WebRTC connections full"
        );
        false
    }

    /// A newer peer announced itself in the room (through `via`): dial it.
    pub fn announced(&mut self, now: Instant, via: PeerId, pid: &str, reply_to: String) {
        if pid.is_empty()
            || pid.len() > signal::MAX_PID
            || pid == self.cfg.pid
            || self.sessions.contains_key(pid)
            || !self.has_room(pid)
        {
            return;
        }
        match Session::dial(via, self.cfg.local, self.cfg.channel.clone(), now) {
            Ok((session, offer)) => {
                tracing::debug!(pid, "dialing a WebRTC peer");
                self.sessions.insert(pid.to_owned(), session);
                self.signal(via, reply_to, &Signal::Offer(offer));
                self.drive(now, pid);
            }
            Err(e) => tracing::warn!(error = %e, "cannot make a WebRTC offer"),
        }
    }

    /// Signalling from the room: `rtc` is its `ok.rtc`, `reply_to` its id.
    pub fn signalled(
        &mut self,
        now: Instant,
        via: PeerId,
        reply_to: String,
        rtc: &serde_json::Value,
    ) {
        let Some((pid, signal)) = signal::read(rtc) else {
            tracing::debug!("WebRTC signalling not understood: dropped");
            return;
        };
        if pid == self.cfg.pid {
            return;
        }
        match signal {
            Signal::Offer(sdp) => {
                if self.sessions.get(&pid).is_some_and(|s| s.joined) {
                    tracing::debug!(pid, "an offer from a connected peer: ignored");
                    return;
                }
                // A peer that offers again replaces its unopened attempt.
                if let Some(mut old) = self.sessions.remove(&pid) {
                    old.shut();
                }
                if !self.has_room(&pid) {
                    return;
                }
                match Session::answer(via, self.cfg.local, self.cfg.channel.clone(), &sdp, now) {
                    Ok((session, answer)) => {
                        tracing::debug!(pid, "answering a WebRTC peer");
                        self.sessions.insert(pid.clone(), session);
                        self.signal(via, reply_to, &Signal::Answer(answer));
                        self.drive(now, &pid);
                    }
                    Err(e) => tracing::debug!(error = %e, pid, "a WebRTC offer not taken"),
                }
            }
            Signal::Answer(sdp) => {
                let Some(s) = self.sessions.get_mut(&pid) else {
                    return;
                };
                if let Err(e) = s.answered(&sdp) {
                    tracing::debug!(error = %e, pid, "a WebRTC answer not taken");
                    if let Some(mut s) = self.sessions.remove(&pid) {
                        s.shut();
                    }
                    return;
                }
                self.drive(now, &pid);
            }
            Signal::Candidate(Some(line)) => {
                if let Some(s) = self.sessions.get_mut(&pid) {
                    s.candidate(&line);
                    self.drive(now, &pid);
                }
            }
            Signal::Candidate(None) => {}
        }
    }

    fn signal(&mut self, via: PeerId, reply_to: String, signal: &Signal) {
        self.out.push_back(Output::Signal {
            via,
            reply_to,
            rtc: signal::write(&self.cfg.pid, signal),
        });
    }

    /// A datagram arrived on the socket from `from`.
    pub fn datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let to = self.cfg.local;
        let Some(pid) = self
            .sessions
            .iter()
            .find(|(_, s)| s.accepts(now, from, to, data))
            .map(|(p, _)| p.clone())
        else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&pid) {
            s.receive(now, from, to, data);
        }
        self.drive(now, &pid);
    }

    /// Sends a DAM frame (one message or a batch) to `pid`.
    pub fn send(&mut self, now: Instant, pid: &str, frame: &str) -> Result<(), SendError> {
        let Some(s) = self.sessions.get_mut(pid).filter(|s| s.joined) else {
            return Err(SendError::NotConnected(pid.to_owned()));
        };
        let max = s.max_message;
        for part in fitting(frame, max) {
            if !s.send(part.as_bytes().to_vec(), self.cfg.max_queued) {
                tracing::warn!(pid, "WebRTC peer fell behind: dropped");
                self.drop_peer(pid);
                return Err(SendError::Overflow(pid.to_owned()));
            }
        }
        self.drive(now, pid);
        Ok(())
    }

    /// Closes the connection to `pid` (no [`Output::Closed`] follows).
    pub fn close(&mut self, pid: &str) {
        if let Some(mut s) = self.sessions.remove(pid) {
            s.shut();
        }
    }

    fn drop_peer(&mut self, pid: &str) {
        if let Some(mut s) = self.sessions.remove(pid) {
            s.shut();
            if s.joined {
                self.out.push_back(Output::Closed {
                    pid: pid.to_owned(),
                });
            }
        }
    }

    /// Time passed: runs the sessions whose time has come, and gives up
    /// those that did not open in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.next_timeout().is_some_and(|t| t <= now))
            .map(|(p, _)| p.clone())
            .collect();
        for pid in due {
            if let Some(s) = self.sessions.get_mut(&pid) {
                s.timeout(now);
            }
            self.drive(now, &pid);
        }
        let late: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.joined && now.duration_since(s.started) >= self.cfg.open_timeout)
            .map(|(p, _)| p.clone())
            .collect();
        for pid in late {
            tracing::debug!(pid, "a WebRTC connection did not open in time");
            self.close(&pid);
        }
    }

    /// When [`RtcPeers::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .flat_map(|s| {
                let give_up = (!s.joined).then(|| s.started + self.cfg.open_timeout);
                s.next_timeout().into_iter().chain(give_up)
            })
            .min()
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn drive(&mut self, _now: Instant, pid: &str) {
        let Some(s) = self.sessions.get_mut(pid) else {
            return;
        };
        let mut happened = Vec::new();
        s.drive(&mut happened);
        let closed = s.is_closed();
        for h in happened {
            self.out.push_back(match h {
                Happened::Transmit { to, data } => Output::Transmit { to, data },
                Happened::Open => Output::Open {
                    pid: pid.to_owned(),
                },
                Happened::Frame(text) => Output::Frame {
                    pid: pid.to_owned(),
                    text,
                },
                Happened::Closed => Output::Closed {
                    pid: pid.to_owned(),
                },
            });
        }
        if closed {
            self.sessions.remove(pid);
        }
    }

    /// The relay `pid`'s signalling went through, while it is connecting.
    pub fn via(&self, pid: &str) -> Option<PeerId> {
        self.sessions.get(pid).map(|s| s.via)
    }
}

/// A frame as parts of at most `max` bytes: whole, or a batch's messages
/// one by one; a message still too big is dropped.
fn fitting(frame: &str, max: usize) -> Vec<&str> {
    if frame.len() <= max {
        return vec![frame];
    }
    let parts: Vec<&str> = match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(frame) {
        Ok(batch) => batch
            .into_iter()
            .map(serde_json::value::RawValue::get)
            .collect(),
        Err(_) => vec![frame],
    };
    let (fit, over): (Vec<&str>, Vec<&str>) = parts.into_iter().partition(|p| p.len() <= max);
    if !over.is_empty() {
        tracing::warn!(
            dropped = over.len(),
            max,
            "messages bigger than the WebRTC peer takes: dropped"
        );
    }
    fit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_over_the_remote_limit_are_split() {
        let small = r##"{"#":"a"}"##;
        let big = format!(r##"{{"#":"b","put":"{}"}}"##, "x".repeat(200));
        assert_eq!(fitting(small, 100), [small]);
        let batch = format!("[{small},{big},{small}]");
        assert_eq!(fitting(&batch, 100), [small, small]);
    }
}
