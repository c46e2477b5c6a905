//! Gun.js's LAN transport: UDP multicast, compatible with `lib/multicast.js`.
//!
//! Every node binds the group's port (8765) with `SO_REUSEADDR`, joins the
//! group (233.255.255.255) and sends a beacon every second: ASCII `2` and 8
//! digits, its id. A datagram starting with `2` is a beacon; anything else
//! is a DAM frame from the one peer that stands for the whole group. On the
//! first beacon that is not our own, the group becomes a peer of the engine
//! (dialed, like a relay: it gets our writes and what we relay), so from
//! then on every message we send is mirrored to the LAN as one datagram;
//! datagrams of [`MulticastOptions::max_datagram`] bytes or more are not
//! sent (a batch is split into its messages first). Our own datagrams come
//! back to us on the loopback and are dropped by the engine's dedup. What
//! the group sends is held to one peer's quotas (message and byte rates,
//! queued bytes): past them, datagrams are dropped.
//!
//! It runs on two OS threads of its own (it needs no runtime), so every
//! driver has it. Off by default: it takes unauthenticated writes from
//! anyone on the LAN. Its TTL is 1 by default (Gun.js: 128), so datagrams
//! do not cross a router.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use super::{Conn, Out, Role, Transport};

/// How often a beacon is sent.
const BEACON_EVERY: Duration = Duration::from_secs(1);
/// How long a receive waits before the reader looks at the clock and at
/// whether the instance is stopping.
const POLL: Duration = Duration::from_millis(100);
/// The biggest UDP payload.
const MAX_UDP: usize = 65_507;

/// Gun.js's LAN multicast (`multicast` in Gun.js's options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MulticastOptions {
    /// Whether to join the group at all. Off by default.
    pub enabled: bool,
    /// The group (Gun.js: 233.255.255.255).
    pub address: Ipv4Addr,
    /// The port every node binds (Gun.js: 8765).
    pub port: u16,
    /// The interface to join on (unspecified: the system's choice).
    pub interface: Ipv4Addr,
    /// Hops a datagram may take: 1 keeps it on the local network
    /// (Gun.js sends with 128).
    pub ttl: u32,
    /// Datagrams of this many bytes or more are not sent (Gun.js's `pack`,
    /// 50,000).
    pub max_datagram: usize,
}

impl Default for MulticastOptions {
    fn default() -> Self {
        Self {
            enabled: false,
            address: Ipv4Addr::new(233, 255, 255, 255),
            port: 8765,
            interface: Ipv4Addr::UNSPECIFIED,
            ttl: 1,
            max_datagram: 50_000,
        }
    }
}

/// Joins the group and starts the transport's reader (which starts a
/// writer once the group is a peer). The threads end when the instance
/// stops.
pub(crate) fn start(
    transport: Transport,
    opts: &MulticastOptions,
) -> std::io::Result<JoinHandle<()>> {
    let socket = Arc::new(join(opts)?);
    let group = SocketAddr::V4(SocketAddrV4::new(opts.address, opts.port));
    let beacon = format!("2{:08}", beacon_digits());
    tracing::info!(%group, beacon, ttl = opts.ttl, "multicast on");
    let reader = Reader {
        socket,
        group,
        beacon: beacon.into_bytes(),
        max_datagram: opts.max_datagram.min(MAX_UDP),
        transport,
    };
    std::thread::Builder::new()
        .name("gun-multicast".into())
        .spawn(move || reader.run())
}

/// A socket bound to the group's port (shared with the other nodes on
/// this host) and joined to the group.
fn join(opts: &MulticastOptions) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, opts.port).into())?;
    socket.join_multicast_v4(&opts.address, &opts.interface)?;
    socket.set_multicast_ttl_v4(opts.ttl)?;
    // Nodes on this host hear each other through the loopback.
    socket.set_multicast_loop_v4(true)?;
    if !opts.interface.is_unspecified() {
        socket.set_multicast_if_v4(&opts.interface)?;
    }
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// Eight digits for the beacon, from the clock and the process.
fn beacon_digits() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (u64::from(nanos) ^ u64::from(std::process::id()).wrapping_mul(2_654_435_761)) % 100_000_000
}

struct Reader {
    socket: Arc<UdpSocket>,
    group: SocketAddr,
    beacon: Vec<u8>,
    max_datagram: usize,
    transport: Transport,
}

impl Reader {
    fn run(self) {
        let mut buf = vec![0u8; MAX_UDP + 1];
        let mut peer: Option<Arc<Conn>> = None;
        let mut writer: Option<JoinHandle<()>> = None;
        let mut next_beacon = Instant::now();
        let mut rate = Rate::default();
        while !self.transport.stopping() {
            if Instant::now() >= next_beacon {
                if let Err(e) = self.socket.send_to(&self.beacon, self.group) {
                    tracing::debug!(error = %e, "multicast beacon not sent");
                }
                next_beacon += BEACON_EVERY;
            }
            if peer.as_ref().is_some_and(|c| c.killed()) {
                peer = None;
            }
            let n = match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "multicast receive failed");
                    std::thread::sleep(POLL);
                    continue;
                }
            };
            let data = &buf[..n];
            if data == self.beacon.as_slice() {
                continue;
            }
            if peer.is_none() {
                let Some(conn) = self.transport.open(Role::Dialed, None) else {
                    break;
                };
                tracing::info!(peer = ?conn.peer(), "another node on the multicast group: mirroring to it");
                let conn = Arc::new(conn);
                if let Some(done) = writer.take() {
                    let _ = done.join();
                }
                writer = self.writer(conn.clone());
                peer = Some(conn);
            }
            if data.first() == Some(&b'2') {
                continue;
            }
            if let Some(conn) = &peer {
                conn.heard();
                // The group is the LAN: it is held to a peer's message rate
                // and share, and UDP is lossy anyway, so past them datagrams
                // drop.
                let per_sec = conn.quotas().max_msgs_per_sec;
                if !rate.take(per_sec) {
                    continue;
                }
                if conn.may_read() && !conn.frame_in(data.to_vec()) {
                    peer = None;
                }
            }
        }
        if let Some(conn) = peer.take() {
            conn.finish();
        }
        if let Some(w) = writer {
            let _ = w.join();
        }
    }

    /// Sends what the engine sends the group, until the link goes.
    fn writer(&self, conn: Arc<Conn>) -> Option<JoinHandle<()>> {
        let socket = self.socket.clone();
        let (group, max) = (self.group, self.max_datagram);
        std::thread::Builder::new()
            .name("gun-multicast-out".into())
            .spawn(move || {
                while let Some(out) = conn.next_out_blocking() {
                    match out {
                        Out::Frame(frame) => {
                            for datagram in datagrams(&frame, max) {
                                match socket.send_to(datagram.as_bytes(), group) {
                                    Ok(n) => conn.wrote(n),
                                    Err(e) => tracing::debug!(error = %e, "multicast send failed"),
                                }
                            }
                        }
                        Out::Ping => {}
                        Out::Close => break,
                    }
                }
                conn.finish();
            })
            .inspect_err(|e| tracing::warn!(error = %e, "cannot start the multicast writer"))
            .ok()
    }
}

/// Datagrams a second, a second's worth banked (a token bucket).
#[derive(Debug)]
struct Rate {
    tokens: f64,
    at: Instant,
}

impl Default for Rate {
    fn default() -> Self {
        Self {
            tokens: f64::MAX,
            at: Instant::now(),
        }
    }
}

impl Rate {
    /// Whether one more datagram fits in `per_sec` (0: no limit).
    fn take(&mut self, per_sec: f64) -> bool {
        if per_sec <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * per_sec;
        self.tokens = (self.tokens + refill).min(per_sec);
        self.at = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// A frame as datagrams under `max` bytes: whole, or a batch's messages
/// one by one; what is still too big is not sent (as in Gun.js).
fn datagrams(frame: &str, max: usize) -> Vec<&str> {
    if frame.len() < max {
        return vec![frame];
    }
    let parts: Vec<&str> = match serde_json::from_str::<Vec<&RawValue>>(frame) {
        Ok(batch) => batch.into_iter().map(RawValue::get).collect(),
        Err(_) => vec![frame],
    };
    let (fit, over): (Vec<&str>, Vec<&str>) = parts.into_iter().partition(|p| p.len() < max);
    if !over.is_empty() {
        tracing::debug!(
            dropped = over.len(),
            max,
            "messages too big for a multicast datagram"
        );
    }
    fit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_batches_are_split_and_what_is_still_too_big_is_dropped() {
        assert_eq!(datagrams(r##"{"#":"a"}"##, 100), [r##"{"#":"a"}"##]);
        let small = r##"{"#":"a"}"##;
        let big = format!(r##"{{"#":"b","put":"{}"}}"##, "x".repeat(200));
        let batch = format!("[{small},{big},{small}]");
        assert_eq!(datagrams(&batch, 100), [small, small]);
        assert!(datagrams(&big, 100).is_empty());
    }

    #[test]
    fn datagrams_past_the_rate_drop() {
        let mut rate = Rate::default();
        let taken = (0..250).filter(|_| rate.take(100.0)).count();
        assert_eq!(taken, 100, "a second's worth");
        assert!((0..1000).all(|_| Rate::default().take(0.0)), "no limit");
    }

    #[test]
    fn beacons_look_like_gunjs() {
        let beacon = format!("2{:08}", beacon_digits());
        assert_eq!(beacon.len(), 9);
        assert!(beacon.bytes().all(|b| b.is_ascii_digit()));
    }
}
