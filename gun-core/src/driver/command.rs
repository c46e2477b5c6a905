//! What API handles and transports tell the driver thread, and how a call
//! wants to be answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gun_proto::{Path, SubId};

use crate::completion::Completer;
use crate::transport::DriverEvent;

/// A listener callback: `(value, key)`, as Gun.js's `on`.
pub(crate) type Callback = Arc<dyn Fn(serde_json::Value, Option<String>) + Send + Sync>;

/// A `once` answer: the value (`None` when not found) and the path's last key.
pub(crate) type OnceAnswer = (Option<serde_json::Value>, String);

/// When a write's call resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Once the local store (disk, or memory) has it.
    Local,
    /// Once the first peer acks it (or refuses it, or the put timeout passes).
    Peer,
}

/// Everything the driver thread receives.
pub(crate) enum Inbox {
    /// From a transport.
    Transport(DriverEvent),
    /// From the API.
    Command(Command),
    /// Answers of the verification thread.
    Verified(Vec<(gun_proto::VerifyId, Result<(), gun_proto::auth::AuthError>)>),
    /// Answers of the commit thread: batches now durable (or failed).
    Committed(super::commit::Answers),
    /// The store's souls, listed on their own thread.
    Souls(Result<gun_proto::store::SoulIndex, gun_proto::StoreError>),
}

/// An API call, carried to the driver thread.
pub(crate) enum Command {
    /// `put`.
    Put {
        path: Path,
        data: serde_json::Value,
        /// An explicit HAM state (`put_with_state`), else the clock's.
        state: Option<f64>,
        /// A certificate for another user's space (`put_certified`).
        cert: Option<String>,
        settle: Settle,
        done: Completer<()>,
    },
    /// The instance's SEA user (or none): its writes are signed.
    User(Option<Box<gun_proto::sea::Pair>>),
    /// `set`: answers with the item's soul.
    Set {
        path: Path,
        data: serde_json::Value,
        settle: Settle,
        done: Completer<String>,
    },
    /// `once`: answers with the value and the key.
    Once {
        path: Path,
        /// The keys a lex once selects (`once_keys`), else the whole value.
        keys: Option<gun_proto::lex::Lex>,
        wait: Duration,
        done: Completer<OnceAnswer>,
    },
    /// `on` (or `map` when `map`).
    Listen {
        sub: SubId,
        path: Path,
        map: bool,
        cb: Callback,
    },
    /// `off`: every listener at this place (soul, then keys).
    Off { at: Vec<String> },
    /// Answer `true` once a peer is connected, `false` at the deadline.
    WaitConnected {
        deadline: Instant,
        done: Completer<bool>,
    },
    /// A WebRTC loop attached: hand it signalling, and join `room`.
    RtcAttach {
        sink: crate::transport::rtc::RtcSink,
        room: String,
        max: usize,
    },
    /// WebRTC signalling to send through the relay `via`.
    RtcSignal {
        via: gun_proto::PeerId,
        reply_to: String,
        rtc: serde_json::Value,
    },
    /// Stop: flush, close every link, end the thread.
    Shutdown { done: Completer<()> },
}
