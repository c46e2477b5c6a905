//! The engine's inputs, outputs, events and errors (its settings:
//! [`super::config`]).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{AuthError, Signed};
use crate::convert::InvalidData;
use crate::graph::Graph;
use crate::ids::{PeerId, ReadId, ReqId, SubId, VerifyId, WriteId};
use crate::lex::Lex;
use crate::store::{StoreError, StoreQuery, WriteFailure};

/// The time, as the driver reads it: a monotonic part for timers and the wall
/// clock for states. A simulation may skew each engine's wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Now {
    /// Monotonic time since any fixed origin the driver chose.
    pub mono: Duration,
    /// Wall-clock milliseconds since the Unix epoch.
    pub unix_ms: f64,
}

impl Now {
    /// A time from its two parts.
    pub fn new(mono: Duration, unix_ms: f64) -> Self {
        Self { mono, unix_ms }
    }

    /// This time moved forward by `d` on both clocks.
    pub fn after(self, d: Duration) -> Self {
        Self {
            mono: self.mono + d,
            unix_ms: self.unix_ms + d.as_secs_f64() * 1000.0,
        }
    }
}

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We dialed the peer (it is our relay, upstream). Our puts and gets go to
    /// it; our listeners resubscribe when it reconnects.
    Dialed,
    /// The peer dialed us (we serve it). We greet it with `dam:"?"`, answer its
    /// gets, push it the puts on souls it asked for, and ack its puts once stored.
    Accepted,
    /// A peer met directly, as equals (a WebRTC data channel: both sides
    /// dial). We serve it as an accepted peer (its gets answered, its puts
    /// acked once stored, its rates held), and our puts and gets go to it
    /// as to a dialed one, our listeners resubscribing when it connects.
    /// It is not greeted with `dam:"?"` (Gun.js names such a peer itself).
    Direct,
}

impl Role {
    /// Whether we serve the peer: answer its gets, ack its puts, hold it
    /// to the rates of a peer we serve.
    pub fn served(self) -> bool {
        matches!(self, Self::Accepted | Self::Direct)
    }

    /// Whether our puts and gets go to the peer and its acks settle them.
    pub fn upstream(self) -> bool {
        matches!(self, Self::Dialed | Self::Direct)
    }
}

/// A place in the graph: a soul and a chain of keys (`gun.get(soul).get(k)…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The root soul.
    pub soul: String,
    /// Keys followed from it, through links.
    pub keys: Vec<String>,
}

impl Path {
    /// The node at `soul`.
    pub fn soul(soul: impl Into<String>) -> Self {
        Self {
            soul: soul.into(),
            keys: Vec::new(),
        }
    }

    /// This path extended by `key`.
    #[must_use]
    pub fn get(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }
}

/// An application call.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// Write `data` at `path`: an object merges into the node there (nested
    /// objects become linked nodes); a primitive sets the path's last key.
    /// Answered by [`Event::PutAck`].
    Put {
        /// Caller's id for the answer.
        req: ReqId,
        /// Where.
        path: Path,
        /// What.
        data: serde_json::Value,
    },
    /// Add `data` to the set at `path` under a generated soul (objects) or key
    /// (primitives). Answered by [`Event::SetSoul`] at once, then [`Event::PutAck`].
    Set {
        /// Caller's id for the answer.
        req: ReqId,
        /// The set's node.
        path: Path,
        /// The item.
        data: serde_json::Value,
    },
    /// Read `path` once: locally, else from peers within `wait`.
    /// Answered by [`Event::Once`].
    Once {
        /// Caller's id for the answer.
        req: ReqId,
        /// What.
        path: Path,
        /// How long to wait for peers.
        wait: Duration,
    },
    /// Like [`Call::Put`], with the given HAM state on every property instead
    /// of the clock's: for imports, replication tools and tests that need
    /// two writers to collide on one state. The state must be finite and
    /// positive; a state ahead of the clock is deferred like any other.
    PutAt {
        /// Caller's id for the answer.
        req: ReqId,
        /// Where.
        path: Path,
        /// What.
        data: serde_json::Value,
        /// The state, in Gun's milliseconds.
        state: f64,
    },
    /// Read the properties of the node at `path` whose keys `keys` selects
    /// (a lex get, as Gun.js's `get({'.': {'*': prefix}})` sends): locally if
    /// the node is here, else from peers within `wait`. Answered by
    /// [`Event::Once`] with the selected part of the node (or `None`).
    OnceKeys {
        /// Caller's id for the answer.
        req: ReqId,
        /// The node.
        path: Path,
        /// Which keys.
        keys: Lex,
        /// How long to wait for peers.
        wait: Duration,
    },
    /// Subscribe to the value at `path`, following links as they change.
    /// Emits [`Event::Update`] with the current value and each change.
    On {
        /// Caller's id for the listener.
        sub: SubId,
        /// What.
        path: Path,
    },
    /// Subscribe to every property of the node at `path` (linked nodes
    /// resolved). Emits [`Event::Update`] per property.
    Map {
        /// Caller's id for the listener.
        sub: SubId,
        /// The node.
        path: Path,
    },
    /// Remove a listener.
    Off {
        /// The listener.
        sub: SubId,
    },
    /// Like [`Call::Put`], into another user's space with a certificate
    /// its owner made ([`crate::sea::certify`]): each value is signed by
    /// our user and carries the certificate, as Gun.js's
    /// `put(data, cb, {opt: {cert}})` writes it.
    #[cfg(feature = "sea")]
    PutCertified {
        /// Caller's id for the answer.
        req: ReqId,
        /// Where (in the certificate owner's space).
        path: Path,
        /// What.
        data: serde_json::Value,
        /// The certificate (`SEA{"m":…,"s":…}`).
        cert: String,
    },
    /// Join a WebRTC room as Gun.js's `lib/webrtc.js` does: subscribe to
    /// `/RTC/<room><?99` and announce our pid there (again to each
    /// upstream peer that connects). Peers already there dial us
    /// ([`Event::RtcSignal`] brings their offers); newer ones are ours to
    /// dial ([`Event::RtcAnnounced`]).
    RtcJoin {
        /// The room's name.
        room: String,
        /// How many answers our announcement takes (Gun.js: 55).
        max: usize,
    },
    /// Send WebRTC signalling (an offer, answer or candidate, as
    /// `{"offer": {…}, "id": <our pid>}`) through `via`, as a reply to
    /// `reply_to`; replies to it come back as [`Event::RtcSignal`].
    RtcSignal {
        /// The relay the signalling goes through.
        via: PeerId,
        /// The message it answers: an announcement or a signal.
        reply_to: String,
        /// What Gun.js reads as `ok.rtc`.
        rtc: serde_json::Value,
    },
    /// Our user: from now on, what we write into its space (`~<pub>…`) is
    /// signed with its pair, as Gun.js's SEA signs its logged-in user's
    /// writes. `None`: no user (a write into a user's space then fails).
    #[cfg(feature = "sea")]
    User(Option<Box<crate::sea::Pair>>),
}

/// Something that happened, for the driver to carry out or deliver.
#[derive(Debug)]
pub enum Input<'a> {
    /// A connection to a peer is open.
    Connected {
        /// The driver's number for it, unique among connected peers.
        peer: PeerId,
        /// Who dialed.
        role: Role,
    },
    /// A connection closed.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A text frame arrived from a peer.
    Frame {
        /// From whom.
        peer: PeerId,
        /// The frame's bytes.
        data: &'a [u8],
    },
    /// The store answered [`Output::StoreRead`].
    StoreRead {
        /// The read's id.
        id: ReadId,
        /// The nodes found, or the failure.
        result: Result<Graph, StoreError>,
    },
    /// The store carried out [`Output::StoreWrite`] (through
    /// [`crate::store::commit`], which fails only the parts it cannot take).
    StoreWritten {
        /// The write's id.
        id: WriteId,
        /// Whether it is stored, or which parts are not.
        result: Result<(), WriteFailure>,
        /// Whether the driver sent the write's `acks` (it may only when
        /// `result` is `Ok`): then the engine counts those puts acked and
        /// sends nothing more for them. `false` (always a safe answer):
        /// the engine acks them itself.
        acks_sent: bool,
    },
    /// The souls the store holds, listed by [`crate::Store::soul_lister`]
    /// and brought up to date with the souls of every [`Output::StoreWrite`]
    /// since the listing began. From then on the engine keeps it up to date
    /// itself, and merges a put to a soul it rules out without a read.
    StoreSouls {
        /// Which souls the store may hold.
        index: crate::store::SoulIndex,
    },
    /// The driver verified the signatures [`Output::Verify`] asked about.
    Verified {
        /// The verification's id.
        id: VerifyId,
        /// Every signature valid, or why not.
        result: Result<(), AuthError>,
    },
    /// The application called the API.
    Call(Call),
}

/// What the engine asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a text frame to a peer.
    Transmit {
        /// To whom.
        peer: PeerId,
        /// The frame (one message, or a batch `[…]`), its text shared with
        /// every other peer it goes to.
        frame: crate::wire::Frame,
    },
    /// Read from the store; answer with [`Input::StoreRead`].
    StoreRead {
        /// Echo this back.
        id: ReadId,
        /// What to read.
        query: StoreQuery,
    },
    /// Write to the store; answer with [`Input::StoreWritten`] once durable.
    /// Write it with [`crate::store::commit`]: a part the store cannot
    /// take then fails alone, and the other parts' puts are acked.
    StoreWrite {
        /// Echo this back.
        id: WriteId,
        /// The properties to write (already resolved by HAM): a part per
        /// put, in order; later parts win where they overlap.
        batch: Arc<[Graph]>,
        /// The acks of the peers' puts in `batch`, ready to send (a frame
        /// or more per peer). A driver that makes writes durable off its
        /// thread may send them from there the moment the whole write is
        /// durable, and answer with `acks_sent: true`; only then. A driver
        /// that ignores them answers `acks_sent: false` and the engine
        /// sends the acks itself. Empty when the mesh is signed (its acks
        /// are signed when sent).
        acks: Vec<(PeerId, crate::wire::Frame)>,
    },
    /// Verify a message's signatures (its id and signers are already
    /// checked); answer with [`Input::Verified`]. The message waits, and
    /// its peer's later messages behind it. Drivers may verify all that a
    /// drain asked for in one batch ([`crate::auth::verify_batch`], with
    /// weights from a CSPRNG), falling back to [`crate::auth::verify`] one by
    /// one when a batch fails.
    Verify {
        /// Echo this back.
        id: VerifyId,
        /// Whose message it is: a driver shares its checking between
        /// peers, so that one peer's signatures cannot take it all.
        peer: PeerId,
        /// The signatures: the message's own, and those its data stands on.
        check: Check,
    },
    /// Deliver to the application.
    Event(Event),
}

/// What one verification covers: the signed mesh's signatures of a
/// message, and the SEA signatures its user-space data stands on
/// ([`crate::sea::space`]). It passes when all of them verify.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Check {
    /// The message's `sigs` (BLS), when it is signed.
    pub mesh: Option<Signed>,
    /// ECDSA signatures of its values and certificates (SEA).
    pub sea: Vec<SeaProof>,
}

/// A SEA signature to verify ([`crate::sea::Proof`]).
#[cfg(feature = "sea")]
pub type SeaProof = crate::sea::Proof;

/// A SEA signature to verify: none exist without the `sea` feature.
#[cfg(not(feature = "sea"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeaProof {}

impl Check {
    /// Whether there is anything to verify.
    pub fn is_empty(&self) -> bool {
        self.mesh.is_none() && self.sea.is_empty()
    }

    /// How many signatures it holds (what verifying it costs).
    pub fn weight(&self) -> usize {
        self.mesh.as_ref().map_or(0, |s| s.entries.len()) + self.sea.len()
    }

    /// Verifies every signature, one at a time (a driver may batch the
    /// mesh parts of many checks with [`crate::auth::verify_batch`], then
    /// call [`Check::verify_sea`]).
    pub fn verify(&self) -> Result<(), AuthError> {
        if let Some(s) = &self.mesh {
            crate::auth::verify(s)?;
        }
        self.verify_sea()
    }

    /// Verifies the SEA signatures alone.
    pub fn verify_sea(&self) -> Result<(), AuthError> {
        #[cfg(feature = "sea")]
        if let Some(bad) = self.sea.iter().find(|p| !p.verify()) {
            return Err(AuthError::Unverified(bad.why()));
        }
        Ok(())
    }
}

/// Why a put was not acked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutFailure {
    /// The store failed to write it (or to read what it needed).
    #[error("{0}")]
    Store(StoreError),
    /// A peer refused it (its `err`).
    #[error("peer refused the put: {0}")]
    Peer(String),
    /// No peer acked it in time (Gun.js: "No ACK yet.").
    #[error("no ack within the put timeout")]
    Timeout,
    /// It breaks a rule of a protected space (SEA): written into a user's
    /// space without being that user or holding a certificate, a wrong
    /// content address, an alias claimed already.
    #[error("{0}")]
    Refused(String),
}

/// Results of calls and listener updates.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A put (or set) is stored: by the local store if the engine has one,
    /// else by the first peer that acked it. (For a peer's answer whatever
    /// the store, see [`Event::PutPeerAck`].)
    PutAck {
        /// The call.
        req: ReqId,
        /// Stored, or why not.
        result: Result<(), PutFailure>,
    },
    /// The first peer's answer to a put (or set): acked (`Ok`), refused
    /// (`Err(Peer)`), or no answer within the put timeout (`Err(Timeout)`).
    /// Once per put, independent of [`Event::PutAck`]: a put is settled
    /// locally by its store, and synced when a peer has it. A put that timed
    /// out stays queued and is sent again whenever an upstream peer connects.
    PutPeerAck {
        /// The call.
        req: ReqId,
        /// Acked by a peer, or why not.
        result: Result<(), PutFailure>,
    },
    /// The soul (or key, for a primitive) a [`Call::Set`] gave its item.
    SetSoul {
        /// The call.
        req: ReqId,
        /// The generated soul or key.
        soul: String,
    },
    /// The answer to [`Call::Once`]: the value, or `None` when not found.
    Once {
        /// The call.
        req: ReqId,
        /// A node (with `_` metadata) or a primitive; `None` if missing.
        value: Option<serde_json::Value>,
        /// The last key of the path (the soul for a bare soul).
        key: String,
    },
    /// A listener's value changed (or is delivered for the first time).
    Update {
        /// The listener.
        sub: SubId,
        /// The node or primitive now at the path (for `map`, at `key`).
        value: serde_json::Value,
        /// The path's last key, or the property's key for `map`.
        key: String,
    },
    /// A newer peer announced itself in a room we joined: ours to dial,
    /// with an offer sent as a reply to `reply_to` ([`Call::RtcSignal`]).
    RtcAnnounced {
        /// The relay it came through.
        via: PeerId,
        /// The room.
        room: String,
        /// Its pid.
        pid: String,
        /// The announcement's id.
        reply_to: String,
    },
    /// WebRTC signalling for us: a reply to our announcement (an offer
    /// or a candidate) or to our signal (an answer or a candidate).
    RtcSignal {
        /// The relay it came through.
        via: PeerId,
        /// Its id, for a reply to it (an answer to an offer).
        reply_to: String,
        /// Its `ok.rtc`: `{"offer"|"answer"|"candidate": …, "id": <pid>}`.
        rtc: serde_json::Value,
    },
    /// A peer told us its peer id in the `dam:"?"` greeting.
    PeerGreeted {
        /// The peer.
        peer: PeerId,
        /// Its `pid`.
        pid: String,
    },
}

/// Misuse of the API (a peer's fault never is one: it becomes a reply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer is not connected.
    #[error("unknown peer {0:?}")]
    UnknownPeer(PeerId),
    /// A peer with this id is already connected.
    #[error("peer {0:?} is already connected")]
    PeerExists(PeerId),
    /// A request with this id is still in flight.
    #[error("request {0:?} is already in flight")]
    DuplicateRequest(ReqId),
    /// A listener with this id exists.
    #[error("listener {0:?} already exists")]
    DuplicateListener(SubId),
    /// No such read is outstanding.
    #[error("unknown store read {0:?}")]
    UnknownRead(ReadId),
    /// No such write is outstanding.
    #[error("unknown store write {0:?}")]
    UnknownWrite(WriteId),
    /// The data cannot be put (array, NaN, Infinity, empty key, …).
    #[error(transparent)]
    InvalidData(#[from] InvalidData),
    /// An empty soul or key in a path.
    #[error("a path's soul and keys must be non-empty")]
    EmptyPath,
    /// Too many requests are waiting on the store.
    #[error("too many requests are waiting")]
    Busy,
    /// A put's explicit state is not a finite, positive number.
    #[error("a put's state must be finite and positive, not {0}")]
    BadState(String),
}
