//! One WebRTC connection to one Gun peer: a str0m session, its channels,
//! and the frames waiting for room in its send buffer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use crate::signal::max_message_size;
use gun_proto::PeerId;

/// Why a session could not be made or take an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error(transparent)]
    Rtc(#[from] str0m::RtcError),
    #[error("the SDP cannot be read: {0}")]
    Sdp(String),
    #[error("our address is no ICE candidate: {0}")]
    Candidate(String),
    #[error("no offer was made")]
    NoOffer,
}

/// What a session tells the set of sessions after it ran.
#[derive(Debug)]
pub(crate) enum Happened {
    /// Send a datagram.
    Transmit { to: SocketAddr, data: Vec<u8> },
    /// The first channel opened: the peer joins the mesh.
    Open,
    /// A text frame arrived.
    Frame(String),
    /// The connection is over.
    Closed,
}

pub(crate) struct Session {
    rtc: Rtc,
    /// The relay its signalling goes through.
    pub(crate) via: PeerId,
    /// Our offer, waiting for its answer (when we dialed).
    pending: Option<SdpPendingOffer>,
    /// The channels open, ours (`dc`) first once open.
    open: Vec<ChannelId>,
    /// Our own channel, once it has an id.
    own: Option<ChannelId>,
    /// Whether [`Happened::Open`] was said.
    pub(crate) joined: bool,
    /// Frames waiting for room in the send buffer.
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    /// The largest message the remote takes.
    pub(crate) max_message: usize,
    pub(crate) started: Instant,
    next: Option<Instant>,
    closed: bool,
}

impl Session {
    fn new(via: PeerId, local: SocketAddr, now: Instant) -> Result<Self, SessionError> {
        let mut rtc = Rtc::builder().build(now);
        let candidate = Candidate::host(local, Protocol::Udp)
            .map_err(|e| SessionError::Candidate(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        Ok(Self {
            rtc,
            via,
            pending: None,
            open: Vec::new(),
            own: None,
            joined: false,
            queue: VecDeque::new(),
            queued: 0,
            max_message: 64 * 1024,
            started: now,
            next: None,
            closed: false,
        })
    }

    /// A session that dials: its offer (with our candidate in it).
    pub(crate) fn dial(
        via: PeerId,
        local: SocketAddr,
        channel: ChannelConfig,
        now: Instant,
    ) -> Result<(Self, String), SessionError> {
        let mut s = Self::new(via, local, now)?;
        let mut api = s.rtc.sdp_api();
        s.own = Some(api.add_channel_with_config(channel));
        let (offer, pending) = api.apply().ok_or(SessionError::NoOffer)?;
        s.pending = Some(pending);
        Ok((s, offer.to_sdp_string()))
    }

    /// A session that answers `offer`: its answer (our candidate in it, as
    /// Gun.js 1241 drops an answerer's trickled candidates).
    pub(crate) fn answer(
        via: PeerId,
        local: SocketAddr,
        channel: ChannelConfig,
        offer: &str,
        now: Instant,
    ) -> Result<(Self, String), SessionError> {
        let mut s = Self::new(via, local, now)?;
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| SessionError::Sdp(e.to_string()))?;
        s.max_message = max_message_size(&offer.to_sdp_string());
        let answer = s.rtc.sdp_api().accept_offer(offer)?;
        // Both sides open a `dc` channel of their own, as Gun.js does.
        let mut api = s.rtc.sdp_api();
        s.own = Some(api.add_channel_with_config(channel));
        let _ = api.apply();
        Ok((s, answer.to_sdp_string()))
    }

    /// The answer to our offer.
    pub(crate) fn answered(&mut self, answer: &str) -> Result<(), SessionError> {
        let Some(pending) = self.pending.take() else {
            return Ok(()); // a second answer: ignored
        };
        self.max_message = max_message_size(answer);
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| SessionError::Sdp(e.to_string()))?;
        Ok(self.rtc.sdp_api().accept_answer(pending, answer)?)
    }

    /// A candidate of the remote's.
    pub(crate) fn candidate(&mut self, line: &str) {
        match Candidate::from_sdp_string(line) {
            Ok(c) => self.rtc.add_remote_candidate(c),
            Err(e) => tracing::debug!(error = %e, line, "remote candidate not read"),
        }
    }

    /// Whether the datagram is this session's.
    pub(crate) fn accepts(
        &self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: &[u8],
    ) -> bool {
        datagram(now, from, to, data).is_some_and(|input| self.rtc.accepts(&input))
    }

    pub(crate) fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let Some(input) = datagram(now, from, to, data) else {
            return;
        };
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, "WebRTC input refused");
        }
    }

    pub(crate) fn timeout(&mut self, now: Instant) {
        if self.next.is_some_and(|t| t <= now)
            && let Err(e) = self.rtc.handle_input(Input::Timeout(now))
        {
            tracing::debug!(error = %e, "WebRTC timeout failed");
        }
    }

    /// When the session next needs [`Session::timeout`].
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.next
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Queues a text frame (at most [`Session::max_message`] bytes); `false`
    /// when more than `max_queued` bytes would wait.
    pub(crate) fn send(&mut self, frame: Vec<u8>, max_queued: usize) -> bool {
        if self.queued + frame.len() > max_queued {
            return false;
        }
        self.queued += frame.len();
        self.queue.push_back(frame);
        true
    }

    /// Moves queued frames into the channel while its buffer has room.
    fn flush(&mut self) {
        let Some(&id) = self
            .own
            .filter(|o| self.open.contains(o))
            .as_ref()
            .or(self.open.first())
        else {
            return;
        };
        let Some(mut channel) = self.rtc.channel(id) else {
            return;
        };
        while let Some(frame) = self.queue.front() {
            match channel.write(false, frame) {
                Ok(true) => {
                    self.queued -= frame.len();
                    self.queue.pop_front();
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::debug!(error = %e, len = frame.len(), "frame not sent on the data channel");
                    self.queued -= frame.len();
                    self.queue.pop_front();
                }
            }
        }
    }

    /// Runs the session until it waits: what it did, in order.
    pub(crate) fn drive(&mut self, out: &mut Vec<Happened>) {
        self.flush();
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next = Some(t);
                    break;
                }
                Ok(Output::Transmit(t)) => out.push(Happened::Transmit {
                    to: t.destination,
                    data: t.contents.to_vec(),
                }),
                Ok(Output::Event(e)) => self.event(e, out),
                Err(e) => {
                    tracing::debug!(error = %e, "WebRTC session failed");
                    self.close(out);
                    break;
                }
            }
            if self.closed {
                break;
            }
        }
        if !self.closed && !self.queue.is_empty() && !self.open.is_empty() {
            self.flush();
        }
    }

    fn event(&mut self, e: Event, out: &mut Vec<Happened>) {
        match e {
            Event::ChannelOpen(id, label) => {
                tracing::debug!(?id, label, "data channel open");
                if Some(id) == self.own {
                    self.open.insert(0, id);
                } else {
                    self.open.push(id);
                }
                if !self.joined {
                    self.joined = true;
                    out.push(Happened::Open);
                }
                self.flush();
            }
            Event::ChannelData(d) if !d.binary => match String::from_utf8(d.data) {
                Ok(text) => out.push(Happened::Frame(text)),
                Err(_) => tracing::debug!("a data-channel frame that is not UTF-8: dropped"),
            },
            // Gun.js ignores binary frames too.
            Event::ChannelData(_) => {}
            Event::ChannelBufferedAmountLow(_) => self.flush(),
            Event::ChannelClose(id) => {
                self.open.retain(|c| *c != id);
                if self.open.is_empty() && self.joined {
                    self.close(out);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                self.close(out);
            }
            _ => {}
        }
    }

    fn close(&mut self, out: &mut Vec<Happened>) {
        if !self.closed {
            self.closed = true;
            self.rtc.disconnect();
            out.push(Happened::Closed);
        }
    }

    /// Closes the connection (the peer is dropped).
    pub(crate) fn shut(&mut self) {
        self.closed = true;
        self.rtc.disconnect();
    }
}

/// A UDP datagram as str0m's input (`None`: not one str0m can parse).
fn datagram<'a>(
    now: Instant,
    from: SocketAddr,
    to: SocketAddr,
    data: &'a [u8],
) -> Option<Input<'a>> {
    let contents = data.try_into().ok()?;
    Some(Input::Receive(
        now,
        Receive {
            proto: Protocol::Udp,
            source: from,
            destination: to,
            contents,
        },
    ))
}
