//! One connection's place between its socket and the driver: frames in,
//! flow controlled; frames out, bounded in bytes; and its slot in the
//! relay's connection limits. Written once for every driver's transports.
//!
//! A connection's reader hands each text frame to the driver with
//! [`Conn::frame_in`] (or the frames of one read together with
//! [`Conn::frames_in`], each gathered only while [`Conn::may_read_after`]
//! allows it), then waits for [`Conn::may_read`] before reading
//! the socket again: it may not while the driver holds more than
//! `max_inbound_per_peer` bytes of its frames, while all peers' frames
//! waiting for the driver pass their share of the ceiling, or while the
//! engine says the peer is backlogged. The socket then fills and TCP pushes
//! back on the sender; nothing is dropped.
//!
//! Its writer takes frames with [`Conn::next_out`]. The driver queues them
//! through the [`Link`]; a peer that lets more than
//! `max_outbound_per_peer` bytes pile up is dropped: the link is killed,
//! and the writer stops at once, sending nothing more.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use event_listener::{Event, Listener as _};

use super::{DriverEvent, PeerId, Role, Shared, Transport};
pub use crate::metrics::Dropped;
use crate::options::Quotas;
pub use gun_proto::wire::Frame;

/// Takes `n` off a count, never below zero (a miscount must not wrap
/// around and look like a flood).
fn take(count: &AtomicUsize, n: usize) -> usize {
    let before = count
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
            Some(c.saturating_sub(n))
        })
        .unwrap_or(0);
    debug_assert!(before >= n, "a byte or slot count went below zero");
    before
}

/// What the writer of a connection sends next.
#[derive(Debug)]
pub enum Out {
    /// A text frame (its text shared with the other peers it goes to).
    Frame(Frame),
    /// A WebSocket ping (the connection is quiet).
    Ping,
    /// A close frame, then the end.
    Close,
}

/// The outcome of queueing a frame for a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    /// On its way.
    Yes,
    /// Not queued: the peer already has its share waiting (it is not reading).
    Full,
    /// The connection is gone.
    Gone,
}

/// What the reader, the writer and the driver share about one connection.
#[derive(Debug)]
struct Flow {
    /// Bytes of its frames the driver has not finished with.
    inbound: AtomicUsize,
    /// The engine asked to stop reading it for now.
    paused: AtomicBool,
    /// Bytes queued to send.
    outbound: AtomicUsize,
    /// Dropped by the driver: stop now.
    killed: AtomicBool,
    /// Why it was dropped (a [`Dropped`] code, 0: it was not).
    why: AtomicU8,
    /// When it last sent anything (ms since the transport's start).
    heard: AtomicU64,
    /// Wakes the reader (room for frames, resumed, killed) and the writer
    /// (killed). Always notified in full: the writer waits on it for the
    /// whole connection, and must not take the reader's wake-up.
    wake: Event,
    /// Its byte rate: bytes it may still send now (below zero: it waits).
    bytes: Mutex<ByteRate>,
}

/// A token bucket of bytes, a second's worth banked.
#[derive(Debug)]
struct ByteRate {
    left: f64,
    at: Instant,
}

/// Totals over all connections, and the connection slots.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) inbound: AtomicUsize,
    pub(crate) outbound: AtomicUsize,
    /// Wakes readers waiting for the inbound total to drop.
    room: Event,
    served: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection slot of a relay: freed when the connection ends.
#[derive(Debug)]
struct Slot {
    shared: Arc<Shared>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let totals = &self.shared.totals;
        take(&totals.served, 1);
        if let Some(ip) = self.ip {
            let mut per_ip = totals.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}

/// Why a connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The relay serves `max_connections` already.
    TooMany,
    /// Its address has `max_connections_per_ip` already.
    TooManyFromIp,
    /// The instance is stopping.
    Stopping,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TooMany => "the relay serves as many connections as it may",
            Self::TooManyFromIp => "that address has as many connections as it may",
            Self::Stopping => "the instance is stopping",
        })
    }
}

/// A relay's hold on an accepted socket before its handshake: the
/// connection limits are checked on arrival, so a flood costs no TLS or
/// WebSocket handshake.
#[derive(Debug)]
pub struct Admitted {
    slot: Slot,
}

impl Transport {
    /// Takes an accepted socket from `ip` if the relay's limits allow it.
    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refused> {
        if self.stopping() {
            return Err(Refused::Stopping);
        }
        let q = &self.shared.quotas;
        let totals = &self.shared.totals;
        if totals.served.fetch_add(1, Ordering::AcqRel) >= q.max_connections {
            take(&totals.served, 1);
            self.shared.metrics.refuse_connection("max_connections");
            return Err(Refused::TooMany);
        }
        {
            let mut per_ip = totals.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let n = per_ip.entry(ip).or_insert(0);
            if *n >= q.max_connections_per_ip {
                drop(per_ip);
                take(&totals.served, 1);
                self.shared
                    .metrics
                    .refuse_connection("max_connections_per_ip");
                return Err(Refused::TooManyFromIp);
            }
            *n += 1;
        }
        Ok(Admitted {
            slot: Slot {
                shared: self.shared.clone(),
                ip: Some(ip),
            },
        })
    }

    /// Opens a connection to the driver: one we accepted (`admitted`), or
    /// one we dialed (`None`). `None` once the instance has stopped.
    pub fn open(&self, role: Role, admitted: Option<Admitted>) -> Option<Conn> {
        let peer = self.next_peer_id();
        let flow = Arc::new(Flow {
            inbound: AtomicUsize::new(0),
            paused: AtomicBool::new(false),
            outbound: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            why: AtomicU8::new(0),
            heard: AtomicU64::new(self.shared.ms()),
            wake: Event::new(),
            bytes: Mutex::new(ByteRate {
                left: self.shared.quotas.max_bytes_per_sec,
                at: Instant::now(),
            }),
        });
        let (tx, rx) = async_channel::unbounded();
        let link = Link {
            tx,
            flow: flow.clone(),
            shared: self.shared.clone(),
        };
        if !self.send(DriverEvent::Connected { peer, role, link }) {
            return None;
        }
        self.shared.metrics.connections.inc();
        Some(Conn {
            peer,
            transport: self.clone(),
            flow,
            out: rx,
            _slot: admitted.map(|a| a.slot),
        })
    }

    /// The quotas connections are held to.
    pub fn quotas(&self) -> &Quotas {
        &self.shared.quotas
    }
}

/// A connection between its socket loop and the driver. Dropping it tells
/// the driver the connection closed.
pub struct Conn {
    peer: PeerId,
    transport: Transport,
    flow: Arc<Flow>,
    out: async_channel::Receiver<Out>,
    _slot: Option<Slot>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer)
            .field("flow", &self.flow)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// The driver's id for this peer.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// Hands a text frame to the driver; `false` once the driver stopped
    /// or dropped this peer (then end the connection).
    pub fn frame_in(&self, data: Vec<u8>) -> bool {
        if self.killed() {
            return false;
        }
        self.count_in(data.len());
        self.transport.send(DriverEvent::Frame {
            peer: self.peer,
            data,
        })
    }

    /// Hands text frames read in one go to the driver, in order, as one
    /// event; `false` as [`Conn::frame_in`].
    pub fn frames_in(&self, frames: Vec<Vec<u8>>) -> bool {
        if self.killed() {
            return false;
        }
        for data in &frames {
            self.count_in(data.len());
        }
        self.transport.send(DriverEvent::Frames {
            peer: self.peer,
            frames,
        })
    }

    /// Counts an arriving frame of `len` bytes against the peer's byte
    /// rate and inbound share, and in the metrics.
    fn count_in(&self, len: usize) {
        if self.quotas().max_bytes_per_sec > 0.0 {
            self.flow
                .bytes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .left -= len as f64;
        }
        self.flow.inbound.fetch_add(len, Ordering::AcqRel);
        self.transport
            .shared
            .totals
            .inbound
            .fetch_add(len, Ordering::AcqRel);
        let m = &self.transport.shared.metrics;
        m.frames_in.inc();
        m.bytes_in.inc_by(len as u64);
        m.queued_in.inc_by(len as i64);
    }

    /// The peer sent something (a frame, a ping, a pong): it is not idle.
    pub fn heard(&self) {
        self.flow
            .heard
            .store(self.transport.shared.ms(), Ordering::Relaxed);
    }

    /// How long the peer has sent nothing.
    pub fn quiet_for(&self) -> Duration {
        let heard = self.flow.heard.load(Ordering::Relaxed);
        Duration::from_millis(self.transport.shared.ms().saturating_sub(heard))
    }

    /// Whether the connection may hand the driver another frame now.
    pub fn may_read(&self) -> bool {
        self.may_read_after(0)
    }

    /// Whether the connection may read another frame with `pending` bytes
    /// already read and not yet handed to the driver (frames gathered to
    /// go together): they count as handed.
    pub fn may_read_after(&self, pending: usize) -> bool {
        let q = &self.transport.shared.quotas;
        let totals = &self.transport.shared.totals;
        let mine = self.flow.inbound.load(Ordering::Acquire) + pending;
        !self.flow.paused.load(Ordering::Acquire)
            && (mine == 0 || mine < q.max_inbound_per_peer)
            && totals.inbound.load(Ordering::Acquire) + pending < q.max_queued_bytes / 8
            && self.throttled_after(pending).is_none()
    }

    /// How long the peer must wait before it is within its byte rate again
    /// (`None`: it is).
    pub fn throttled_for(&self) -> Option<Duration> {
        self.throttled_after(0)
    }

    /// [`Conn::throttled_for`] with `pending` bytes read and not yet counted.
    fn throttled_after(&self, pending: usize) -> Option<Duration> {
        let per_sec = self.quotas().max_bytes_per_sec;
        if per_sec <= 0.0 {
            return None;
        }
        let mut rate = self
            .flow
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        rate.left = (rate.left + now.duration_since(rate.at).as_secs_f64() * per_sec).min(per_sec);
        rate.at = now;
        let left = rate.left - pending as f64;
        (left < 0.0).then(|| Duration::from_secs_f64(-left / per_sec))
    }

    /// Resolves once the driver dropped this peer.
    pub async fn dropped(&self) {
        loop {
            if self.killed() {
                return;
            }
            let listener = self.flow.wake.listen();
            if self.killed() {
                return;
            }
            listener.await;
        }
    }

    /// Resolves when [`Conn::may_read`] holds, or the connection was dropped.
    pub async fn readable(&self) {
        loop {
            if self.may_read() || self.killed() {
                return;
            }
            let mine = self.flow.wake.listen();
            let all = self.transport.shared.totals.room.listen();
            if self.may_read() || self.killed() {
                return;
            }
            futures_util::future::select(mine, all).await;
        }
    }

    /// Waits up to `timeout` for [`Conn::may_read`] (blocking transports).
    pub fn wait_readable(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.may_read() && !self.killed() {
            let listener = self.flow.wake.listen();
            if self.may_read() || self.killed() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Woken by this connection's events; the total's room is
            // looked at again after a short sleep at most.
            let _ = listener.wait_timeout(left.min(Duration::from_millis(5)));
        }
        !self.killed()
    }

    /// The next thing to send (`None`: the driver let go of the link).
    pub async fn next_out(&self) -> Option<Out> {
        if self.killed() {
            return None;
        }
        self.out.recv().await.ok().map(|o| self.dequeued(o))
    }

    /// The next thing to send, waiting on this thread for it (`None`: the
    /// driver let go of the link). For transports on threads of their own.
    pub fn next_out_blocking(&self) -> Option<Out> {
        if self.killed() {
            return None;
        }
        self.out.recv_blocking().ok().map(|o| self.dequeued(o))
    }

    /// The next thing to send, if one is waiting.
    pub fn try_next_out(&self) -> Option<Out> {
        if self.killed() {
            return None;
        }
        self.out.try_recv().ok().map(|o| self.dequeued(o))
    }

    /// A frame left the queue: its bytes no longer count as waiting.
    fn dequeued(&self, out: Out) -> Out {
        if let Out::Frame(f) = &out {
            let len = f.len();
            take(&self.flow.outbound, len);
            let shared = &self.transport.shared;
            take(&shared.totals.outbound, len);
            shared.metrics.queued_out.dec_by(len as i64);
        }
        out
    }

    /// A frame of `len` bytes was written to the socket.
    pub fn wrote(&self, len: usize) {
        let metrics = &self.transport.shared.metrics;
        metrics.frames_out.inc();
        metrics.bytes_out.inc_by(len as u64);
    }

    /// Ends the connection from the socket's side: its writer stops now
    /// (one waiting in [`Conn::next_out`] or [`Conn::next_out_blocking`]
    /// is woken with `None`).
    pub fn finish(&self) {
        self.flow.killed.store(true, Ordering::Release);
        self.flow.wake.notify(usize::MAX);
        self.out.close();
    }

    /// Ends the connection for `why` (counted): its writer sends a close
    /// frame saying so, if the socket takes it, and stops.
    pub fn close_for(&self, why: Dropped) {
        self.transport.shared.metrics.drop_peer(why);
        let _ = self
            .flow
            .why
            .compare_exchange(0, why.code(), Ordering::AcqRel, Ordering::Acquire);
        self.finish();
    }

    /// Why the connection was dropped, when it was (for its close frame).
    pub fn dropped_for(&self) -> Option<Dropped> {
        Dropped::from_code(self.flow.why.load(Ordering::Acquire))
    }

    /// Whether the driver dropped this peer: stop reading and writing now.
    pub fn killed(&self) -> bool {
        self.flow.killed.load(Ordering::Acquire)
    }

    /// Whether the instance is stopping.
    pub fn stopping(&self) -> bool {
        self.transport.stopping()
    }

    /// The quotas this connection is held to.
    pub fn quotas(&self) -> &Quotas {
        &self.transport.shared.quotas
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // What it still had queued is gone with it (closed first: a frame
        // the driver queues from now on is refused, and it takes its bytes
        // back itself).
        self.out.close();
        while let Ok(out) = self.out.try_recv() {
            self.dequeued(out);
        }
        let shared = &self.transport.shared;
        shared.metrics.connections.dec();
        self.transport
            .send(DriverEvent::Disconnected { peer: self.peer });
    }
}

/// The driver's side of a connection: it queues frames, frees the room a
/// handled frame took, pauses and resumes reading, and drops the peer. (The
/// commit thread holds a clone while it has acks for the peer to send.)
#[derive(Clone)]
pub struct Link {
    tx: async_channel::Sender<Out>,
    flow: Arc<Flow>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("outbound", &self.queued())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Queues a frame, unless the peer already has its share waiting.
    pub(crate) fn send(&self, frame: Frame) -> Queued {
        let len = frame.len();
        let waiting = self.flow.outbound.load(Ordering::Acquire);
        if waiting > 0 && waiting + len > self.shared.quotas.max_outbound_per_peer {
            return Queued::Full;
        }
        self.flow.outbound.fetch_add(len, Ordering::AcqRel);
        self.shared.totals.outbound.fetch_add(len, Ordering::AcqRel);
        self.shared.metrics.queued_out.inc_by(len as i64);
        if self.tx.try_send(Out::Frame(frame)).is_err() {
            take(&self.flow.outbound, len);
            take(&self.shared.totals.outbound, len);
            self.shared.metrics.queued_out.dec_by(len as i64);
            return Queued::Gone;
        }
        Queued::Yes
    }

    /// Bytes waiting to be sent.
    pub(crate) fn queued(&self) -> usize {
        self.flow.outbound.load(Ordering::Acquire)
    }

    /// A frame of `len` bytes of a peer the driver has let go of was
    /// discarded: it no longer counts against the total.
    pub(crate) fn discarded(shared: &Shared, len: usize) {
        let totals = &shared.totals;
        let all = take(&totals.inbound, len);
        shared.metrics.queued_in.dec_by(len as i64);
        let cap = shared.quotas.max_queued_bytes / 8;
        if all >= cap && all - len < cap {
            totals.room.notify(usize::MAX);
        }
    }

    /// The driver is done with a frame of `len` bytes from this peer.
    pub(crate) fn handled(&self, len: usize) {
        let before = take(&self.flow.inbound, len);
        let totals = &self.shared.totals;
        let all = take(&totals.inbound, len);
        self.shared.metrics.queued_in.dec_by(len as i64);
        let q = &self.shared.quotas;
        if before >= q.max_inbound_per_peer && before - len < q.max_inbound_per_peer {
            self.flow.wake.notify(usize::MAX);
        }
        let cap = q.max_queued_bytes / 8;
        if all >= cap && all - len < cap {
            totals.room.notify(usize::MAX);
        }
    }

    /// Stops (`true`) or resumes reading this peer's socket.
    pub(crate) fn pause(&self, paused: bool) {
        self.flow.paused.store(paused, Ordering::Release);
        if !paused {
            self.flow.wake.notify(usize::MAX);
        }
    }

    /// Closes the connection once what is queued is sent.
    pub(crate) fn close(&self) {
        let _ = self.tx.try_send(Out::Close);
    }

    /// Drops the peer now for `why`: nothing more is read or sent (but a
    /// close frame saying why, if the socket takes it).
    pub(crate) fn kill(&self, why: Dropped) {
        let _ = self
            .flow
            .why
            .compare_exchange(0, why.code(), Ordering::AcqRel, Ordering::Acquire);
        self.flow.killed.store(true, Ordering::Release);
        self.flow.wake.notify(usize::MAX);
        self.tx.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::command::Inbox;

    fn transport() -> (Transport, crossbeam_channel::Receiver<Inbox>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::new(Quotas {
            max_outbound_per_peer: 100,
            max_connections_per_ip: 1,
            ..Quotas::default()
        }));
        (Transport::new(tx, shared), rx)
    }

    fn link(rx: &crossbeam_channel::Receiver<Inbox>) -> Link {
        match rx.try_recv() {
            Ok(Inbox::Transport(DriverEvent::Connected { link, .. })) => link,
            _ => panic!("a connection"),
        }
    }

    #[test]
    fn queued_bytes_count_until_taken_and_never_leak() {
        let (t, rx) = transport();
        let conn = t.open(Role::Accepted, None).expect("open");
        let link = link(&rx);
        assert_eq!(link.send("a".repeat(60).into()), Queued::Yes);
        assert_eq!(
            link.send("b".repeat(60).into()),
            Queued::Full,
            "past its share"
        );
        assert_eq!(t.shared.totals.outbound.load(Ordering::Acquire), 60);
        assert!(matches!(conn.try_next_out(), Some(Out::Frame(_))));
        assert_eq!(link.queued(), 0, "taken from the queue");
        assert_eq!(link.send("c".repeat(60).into()), Queued::Yes);
        drop(conn);
        assert_eq!(link.send("d".repeat(10).into()), Queued::Gone);
        assert_eq!(
            t.shared.totals.outbound.load(Ordering::Acquire),
            0,
            "nothing leaks"
        );
    }

    #[test]
    fn frames_gathered_count_against_the_share_before_they_are_handed() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::new(Quotas {
            max_inbound_per_peer: 100,
            max_bytes_per_sec: 1_000.0,
            ..Quotas::default()
        }));
        let t = Transport::new(tx, shared);
        let conn = t.open(Role::Accepted, None).expect("open");
        let _link = link(&rx);
        assert!(conn.may_read() && conn.may_read_after(99));
        assert!(!conn.may_read_after(100), "past its inbound share");
        assert!(conn.frames_in(vec![vec![b'x'; 60], vec![b'y'; 30]]));
        assert!(conn.may_read_after(9) && !conn.may_read_after(10));
        match rx.try_recv() {
            Ok(Inbox::Transport(DriverEvent::Frames { frames, .. })) => {
                assert_eq!(frames.len(), 2, "one event, in order");
                assert_eq!(frames[0][0], b'x');
            }
            _ => panic!("the frames"),
        }
        // Its byte rate counts what is gathered too.
        assert!(conn.throttled_after(910).is_none());
        assert!(conn.throttled_after(2_000).is_some());
    }

    #[test]
    fn connection_slots_are_freed_and_limited_per_address() {
        let (t, _rx) = transport();
        let ip: IpAddr = [127, 0, 0, 9].into();
        let first = t.admit(ip).expect("first");
        assert_eq!(t.admit(ip).unwrap_err(), Refused::TooManyFromIp);
        assert!(t.admit([127, 0, 0, 10].into()).is_ok());
        drop(first);
        assert!(t.admit(ip).is_ok(), "the slot is free again");
    }
}
