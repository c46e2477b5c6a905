//! For driver crates: how a runtime's transports plug into the driver
//! thread. A transport admits a socket ([`Transport::admit`]: the
//! connection limits), opens a [`Conn`] for it ([`Transport::open`]), hands
//! its frames to the driver through it and takes the frames to send from it;
//! the driver holds the other end, a [`Link`]. The WebSocket loop the async
//! drivers share is [`ws`]; [`http`] answers `/health` and `/metrics` on
//! the relay's port; [`net`] has the limits every driver applies, [`url`]
//! reads peer URLs and [`tls`] builds the TLS configurations; [`rtc`] is
//! the part of the WebRTC peers every runtime shares, [`multicast`] the
//! LAN transport (threads of its own).

mod conn;
pub mod http;
pub mod multicast;
pub mod net;
pub mod rtc;
pub mod tls;
pub mod url;
pub mod ws;

pub use conn::{Admitted, Conn, Dropped, Frame, Link, Out, Refused};
pub(crate) use conn::{Queued, Totals};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crossbeam_channel::Sender;
pub use gun_proto::{PeerId, Role};

use crate::driver::command::Inbox;
use crate::metrics::Metrics;
use crate::{Gun, GunOptions, GunResult, Quotas};

/// A driver's transports: start the relay listener (when the options serve)
/// and the dialers for the options' peers on the driver's runtime.
pub trait Transports: Send + Sync + 'static {
    /// Starts them for `core`; returns the address the relay listens on.
    fn start(
        core: &Gun,
        opts: &GunOptions,
    ) -> impl Future<Output = GunResult<Option<SocketAddr>>> + Send;
}

/// What transports and the API tell the driver thread.
pub enum DriverEvent {
    /// A connection opened.
    Connected {
        /// Its id (the transport numbers its connections).
        peer: PeerId,
        /// Who dialed.
        role: Role,
        /// How to send to it.
        link: Link,
    },
    /// A text frame arrived.
    Frame {
        /// From whom.
        peer: PeerId,
        /// The frame.
        data: Vec<u8>,
    },
    /// Text frames read in one go, in order.
    Frames {
        /// From whom.
        peer: PeerId,
        /// The frames.
        frames: Vec<Vec<u8>>,
    },
    /// A connection closed.
    Disconnected {
        /// Which.
        peer: PeerId,
    },
}

/// State the driver shares with API handles and transports.
pub(crate) struct Shared {
    pub(crate) connected: AtomicUsize,
    stopping: AtomicBool,
    next_peer: AtomicU64,
    pub(crate) stop_hooks: Mutex<Vec<StopHook>>,
    pub(crate) quotas: Quotas,
    pub(crate) totals: Totals,
    pub(crate) metrics: Metrics,
    start: Instant,
    /// The engine's pid, once the driver made it.
    pub(crate) pid: std::sync::OnceLock<String>,
    /// WebRTC connections open now.
    pub(crate) rtc_peers: AtomicUsize,
}

/// Run by the driver thread at shutdown, before the shutdown resolves.
pub type StopHook = Box<dyn FnOnce() + Send>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("connected", &self.connected())
            .field("stopping", &self.stopping())
            .finish()
    }
}

impl Shared {
    pub(crate) fn new(quotas: Quotas) -> Self {
        Self {
            connected: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            next_peer: AtomicU64::new(0),
            stop_hooks: Mutex::new(Vec::new()),
            quotas,
            totals: Totals::default(),
            metrics: Metrics::default(),
            start: Instant::now(),
            pid: std::sync::OnceLock::new(),
            rtc_peers: AtomicUsize::new(0),
        }
    }

    /// Milliseconds since the instance started (monotonic).
    pub(crate) fn ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Connected peers now.
    pub(crate) fn connected(&self) -> usize {
        self.connected.load(Ordering::Acquire)
    }

    /// Whether shutdown has begun: transports stop reconnecting and accepting.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }
}

/// What a transport needs: the driver's inbox and the shared state.
#[derive(Clone)]
pub struct Transport {
    tx: Sender<Inbox>,
    shared: Arc<Shared>,
}

impl Transport {
    pub(crate) fn new(tx: Sender<Inbox>, shared: Arc<Shared>) -> Self {
        Self { tx, shared }
    }

    /// A fresh peer id for a new connection.
    pub(crate) fn next_peer_id(&self) -> PeerId {
        PeerId(self.shared.next_peer.fetch_add(1, Ordering::Relaxed))
    }

    /// Tells the driver something happened; `false` once it has stopped.
    pub(crate) fn send(&self, event: DriverEvent) -> bool {
        self.tx.send(Inbox::Transport(event)).is_ok()
    }

    /// Whether shutdown has begun.
    pub fn stopping(&self) -> bool {
        self.shared.stopping()
    }

    /// The answer to an HTTP request for `path` on the relay's port
    /// (`/health`, `/metrics`; anything else is not found).
    pub fn http(&self, path: &str) -> http::Response {
        http::answer(path, &self.shared)
    }

    /// Runs `hook` on the driver thread at shutdown, before the shutdown
    /// resolves: a listener can release its port there. A hook may block
    /// briefly (it runs on a plain thread).
    pub fn on_stop(&self, hook: StopHook) {
        self.shared
            .stop_hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hook);
    }
}
