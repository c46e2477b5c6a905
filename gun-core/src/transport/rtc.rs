//! For driver crates: WebRTC peers as connections of the driver, the part
//! every runtime shares. [`RtcHost`] holds the sans-IO peers
//! ([`gun_rtc::RtcPeers`]) and a [`Conn`] per open data channel (a peer of
//! the engine, [`Role::Direct`]); a runtime's loop owns one UDP socket and
//! feeds the host what arrives ([`RtcHost::datagram`]), what the engine and
//! the connections send it ([`RtcWake`], through the [`RtcSink`] it
//! attached with [`Transport::rtc_attach`]) and the time, and carries out
//! what [`RtcHost::poll`] gives: datagrams to send, and connections whose
//! frames it should pump to the host (one task or thread each, calling
//! [`Conn::next_out`] until `None`).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gun_proto::PeerId;
use gun_rtc::{Config, Output, RtcPeers};

use super::{Conn, Out, Role, Transport};
use crate::driver::command::{Command, Inbox};
use crate::webrtc::WebRTCOptions;

/// How long a runtime's loop waits at most before it looks whether the
/// instance is stopping ([`RtcHost::wait_until`]).
pub const STOP_CHECK: Duration = Duration::from_millis(100);
/// Most wakes (and, on threads, datagrams) waiting for a loop: past them
/// the driver's signalling drops (the pumps wait), datagrams drop as UDP's
/// do.
pub const BACKLOG: usize = 1024;
/// The biggest UDP payload: a loop's receive buffer.
pub const MAX_UDP: usize = 65_507;

/// What reaches a WebRTC loop besides datagrams.
#[derive(Debug)]
pub enum RtcWake {
    /// A newer peer announced itself in our room: dial it.
    Announced {
        /// The relay it came through.
        via: PeerId,
        /// Its pid.
        pid: String,
        /// The announcement's id.
        reply_to: String,
    },
    /// Signalling for us (an offer, an answer, a candidate).
    Signalled {
        /// The relay it came through.
        via: PeerId,
        /// Its id.
        reply_to: String,
        /// Its `ok.rtc`.
        rtc: serde_json::Value,
    },
    /// A connection's next frame (or close), from its pump.
    Out {
        /// The peer's pid.
        pid: String,
        /// What to send.
        out: Out,
    },
}

/// How the driver thread hands the loop an [`RtcWake`] (a runtime's
/// channel sender): `false` once the loop is gone.
pub type RtcSink = Arc<dyn Fn(RtcWake) -> bool + Send + Sync>;

/// What a WebRTC loop does next.
#[derive(Debug)]
pub enum RtcTask {
    /// Send a datagram on the socket.
    Send {
        /// To whom.
        to: SocketAddr,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Pump this connection's frames into the loop as [`RtcWake::Out`],
    /// until [`Conn::next_out`] gives `None`.
    Pump {
        /// The peer's pid.
        pid: String,
        /// Its connection.
        conn: Arc<Conn>,
    },
}

/// The UDP socket of the WebRTC peers: bound where the options say, else
/// on the address this host reaches other hosts from (a system's choice,
/// learnt without sending anything), else on the loopback.
pub fn bind(opts: &WebRTCOptions) -> std::io::Result<UdpSocket> {
    let addr = match opts.bind {
        Some(a) => a,
        None => SocketAddr::new(default_ip(), 0),
    };
    UdpSocket::bind(addr)
}

/// The address outgoing traffic would leave from: a UDP socket connected
/// to a documentation address (connecting sends nothing) tells it.
fn default_ip() -> IpAddr {
    let probe = || -> std::io::Result<IpAddr> {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        Ok(s.local_addr()?.ip())
    };
    match probe() {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// Most bytes of a peer's frames held while the driver has no room for
/// them; past it the peer is dropped (a slow reader, as a socket's is).
const MAX_HELD: usize = 8 << 20;
/// How soon held frames are offered to the driver again.
const HELD_RETRY: Duration = Duration::from_millis(2);

/// The WebRTC peers of one instance, as connections of its driver.
pub struct RtcHost {
    peers: RtcPeers,
    transport: Transport,
    conns: HashMap<String, Arc<Conn>>,
    tasks: VecDeque<RtcTask>,
    /// Frames that arrived while the driver had no room for them: a data
    /// channel cannot be told to wait, so they wait here, in order.
    held: HashMap<String, Held>,
}

/// One peer's frames waiting for the driver.
#[derive(Default)]
struct Held {
    frames: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl std::fmt::Debug for RtcHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtcHost")
            .field("peers", &self.peers)
            .field("conns", &self.conns.len())
            .finish()
    }
}

impl RtcHost {
    /// The peers of the instance `transport` belongs to, on the socket at
    /// `local`. Joins the options' room once the loop attached its sink.
    pub fn new(transport: Transport, opts: &WebRTCOptions, local: SocketAddr) -> Self {
        let mut cfg = Config::new(transport.pid(), local);
        cfg.max_connections = opts.max_connections;
        cfg.channel = opts.data_channel.to_config();
        if opts.ice_servers.iter().any(|s| !s.urls.is_empty()) {
            tracing::info!(
                "WebRTC ICE servers are not contacted: peers connect on host addresses only"
            );
        }
        tracing::info!(%local, room = opts.room_name(), "WebRTC on");
        Self {
            peers: RtcPeers::new(cfg),
            transport,
            conns: HashMap::new(),
            tasks: VecDeque::new(),
            held: HashMap::new(),
        }
    }

    /// Whether the instance is stopping: the loop ends.
    pub fn stopping(&self) -> bool {
        self.transport.stopping()
    }

    /// A datagram arrived.
    pub fn datagram(&mut self, from: SocketAddr, data: &[u8]) {
        self.peers.datagram(Instant::now(), from, data);
        self.carry_out();
    }

    /// Signalling or a connection's frame arrived.
    pub fn wake(&mut self, wake: RtcWake) {
        let now = Instant::now();
        match wake {
            RtcWake::Announced { via, pid, reply_to } => {
                self.peers.announced(now, via, &pid, reply_to);
            }
            RtcWake::Signalled { via, reply_to, rtc } => {
                self.peers.signalled(now, via, reply_to, &rtc);
            }
            RtcWake::Out { pid, out } => match out {
                Out::Frame(frame) => {
                    let len = frame.len();
                    match self.peers.send(now, &pid, &frame) {
                        Ok(()) => {
                            if let Some(c) = self.conns.get(&pid) {
                                c.wrote(len);
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "frame for a WebRTC peer not sent");
                            self.gone(&pid);
                        }
                    }
                }
                Out::Ping => {}
                Out::Close => {
                    self.peers.close(&pid);
                    self.gone(&pid);
                }
            },
        }
        self.carry_out();
    }

    /// Time passed.
    pub fn timeout(&mut self) {
        self.peers.handle_timeout(Instant::now());
        self.carry_out();
    }

    /// When [`RtcHost::timeout`] is next due.
    pub fn next_timeout(&self) -> Option<Instant> {
        let retry = (!self.held.is_empty()).then(|| Instant::now() + HELD_RETRY);
        self.peers.poll_timeout().into_iter().chain(retry).min()
    }

    /// How long a loop may wait from `now`: until the next timeout, and
    /// [`STOP_CHECK`] at most.
    pub fn wait_until(&self, now: Instant) -> Instant {
        self.next_timeout()
            .map_or(now + STOP_CHECK, |t| t.min(now + STOP_CHECK))
    }

    /// Runs [`RtcHost::timeout`] if it is due (call after every wake).
    pub fn timeout_if_due(&mut self) {
        if self.next_timeout().is_some_and(|t| t <= Instant::now()) {
            self.timeout();
        }
    }

    /// The next thing for the loop to do.
    pub fn poll(&mut self) -> Option<RtcTask> {
        self.tasks.pop_front()
    }

    /// Ends every connection (the loop is stopping).
    pub fn close_all(&mut self) {
        for (pid, conn) in self.conns.drain() {
            self.peers.close(&pid);
            conn.finish();
        }
        self.count();
    }

    fn gone(&mut self, pid: &str) {
        self.held.remove(pid);
        if let Some(conn) = self.conns.remove(pid) {
            tracing::info!(pid, peer = ?conn.peer(), "WebRTC peer left");
            conn.finish();
            self.count();
        }
    }

    fn count(&self) {
        self.transport
            .shared
            .rtc_peers
            .store(self.conns.len(), std::sync::atomic::Ordering::Release);
    }

    /// Hands the driver the frames it has room for now, in order.
    fn deliver_held(&mut self) {
        let mut broken = Vec::new();
        for (pid, held) in &mut self.held {
            let Some(conn) = self.conns.get(pid) else {
                continue;
            };
            while conn.may_read()
                && let Some(frame) = held.frames.pop_front()
            {
                held.bytes -= frame.len();
                if !conn.frame_in(frame) {
                    broken.push(pid.clone());
                    break;
                }
            }
        }
        self.held.retain(|_, h| !h.frames.is_empty());
        for pid in broken {
            self.gone(&pid);
        }
    }

    /// A frame from `pid`: to the driver when it has room and nothing of
    /// the peer's waits before it, else held.
    fn frame_in(&mut self, pid: String, frame: Vec<u8>) {
        let Some(conn) = self.conns.get(&pid) else {
            return;
        };
        conn.heard();
        if !self.held.contains_key(&pid) && conn.may_read() {
            if !conn.frame_in(frame) {
                self.gone(&pid);
            }
            return;
        }
        let held = self.held.entry(pid.clone()).or_default();
        held.bytes += frame.len();
        held.frames.push_back(frame);
        if held.bytes > MAX_HELD {
            tracing::warn!(pid, "WebRTC peer sends faster than it is served: dropped");
            conn.close_for(crate::metrics::Dropped::SlowReader);
            self.peers.close(&pid);
            self.gone(&pid);
        }
    }

    fn carry_out(&mut self) {
        self.deliver_held();
        while let Some(out) = self.peers.poll_output() {
            match out {
                Output::Transmit { to, data } => self.tasks.push_back(RtcTask::Send { to, data }),
                Output::Signal { via, reply_to, rtc } => {
                    self.transport.rtc_signal(via, reply_to, rtc);
                }
                Output::Open { pid } => {
                    let Some(conn) = self.transport.open(Role::Direct, None) else {
                        self.peers.close(&pid);
                        continue;
                    };
                    tracing::info!(pid, peer = ?conn.peer(), "WebRTC peer connected");
                    let conn = Arc::new(conn);
                    self.conns.insert(pid.clone(), conn.clone());
                    self.count();
                    self.tasks.push_back(RtcTask::Pump { pid, conn });
                }
                Output::Frame { pid, text } => self.frame_in(pid, text.into_bytes()),
                Output::Closed { pid } => self.gone(&pid),
            }
        }
    }
}

impl Transport {
    /// The engine's pid (WebRTC names connections by it).
    pub fn pid(&self) -> String {
        self.shared.pid.get().cloned().unwrap_or_default()
    }

    /// Attaches a WebRTC loop: the driver hands it signalling through
    /// `sink`, and joins the room `opts` name.
    pub fn rtc_attach(&self, sink: RtcSink, opts: &WebRTCOptions) -> bool {
        self.tx
            .send(Inbox::Command(Command::RtcAttach {
                sink,
                room: opts.room_name().to_owned(),
                max: opts.max_connections,
            }))
            .is_ok()
    }

    /// Sends signalling through the relay `via`.
    fn rtc_signal(&self, via: PeerId, reply_to: String, rtc: serde_json::Value) {
        let _ = self
            .tx
            .send(Inbox::Command(Command::RtcSignal { via, reply_to, rtc }));
    }
}
