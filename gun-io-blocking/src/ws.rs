//! WebSocket transports on OS threads: a relay server (one thread per
//! connection, and a writer thread beside it) and a client that reconnects
//! with backoff, each over TCP or TLS ([`Stream`]).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gun_core::transport::http::{Head, Replay, Request, Response};
use gun_core::transport::url::PeerUrl;
use gun_core::transport::ws::Batch;
use gun_core::transport::{Admitted, Conn, Dropped, Out, Role, Transport, net};
use tracing::{debug, info, warn};
use tungstenite::{Message, WebSocket};

use crate::stream::{Outbound, Stream};

#[cfg(feature = "tls")]
use std::sync::Arc;

/// TLS settings for the transports (built once per instance).
pub(crate) use gun_core::transport::tls::Configs as Tls;

/// A connection's bytes as the WebSocket reads them: what was read ahead
/// (the request head) first, then the stream's own.
pub(crate) struct Io {
    replay: Replay,
    stream: Stream,
    /// Serve only what is read already: the stream is not read (it would
    /// block), so the WebSocket hands over the frames it has buffered.
    buffered_only: bool,
}

impl Io {
    fn new(stream: Stream) -> Self {
        Self {
            replay: Replay::default(),
            stream,
            buffered_only: false,
        }
    }
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.replay.is_empty() {
            return Ok(self.replay.read(buf));
        }
        if self.buffered_only {
            return Err(ErrorKind::WouldBlock.into());
        }
        self.stream.read(buf)
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

/// How long a read waits before the connection thread looks at its quotas
/// and timers.
const POLL: Duration = Duration::from_millis(5);

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

/// Runs one open connection until it closes, the driver drops it, or the
/// instance stops. This thread reads: frames in go to the driver as it has
/// room for them, and a quiet peer is pinged, then closed. A writer thread
/// of the connection's own sends what the driver queues as soon as it is
/// queued ([`crate::stream`]).
fn run_connection(
    mut ws: WebSocket<Io>,
    role: Role,
    admitted: Option<Admitted>,
    transport: &Transport,
) {
    let tcp = ws.get_ref().stream.tcp();
    if tcp.set_read_timeout(Some(POLL)).is_err() || tcp.set_write_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = tcp.set_nodelay(true);
    let Some(conn) = transport.open(role, admitted) else {
        return;
    };
    let half = ws.get_ref().stream.write_half().clone();
    // A peer that reads nothing for its idle timeout holds neither thread.
    half.stall(conn.quotas().idle_timeout);
    let ws_role = match role {
        Role::Dialed => tungstenite::protocol::Role::Client,
        _ => tungstenite::protocol::Role::Server,
    };
    let config = gun_core::transport::ws::config(conn.quotas());
    let out = WebSocket::from_raw_socket(ws.get_ref().stream.outbound(), ws_role, Some(config));
    std::thread::scope(|s| {
        let writer = std::thread::Builder::new()
            .name("gun-conn-out".into())
            .spawn_scoped(s, || run_writer(out, &conn));
        let Ok(writer) = writer else {
            warn!("cannot start a connection's writer thread");
            return;
        };
        run_reader(&mut ws, &conn);
        // At shutdown the writer sends what is queued (the driver lets go
        // of the connection), then closes; a second at most.
        let until = Instant::now() + Duration::from_secs(1);
        while conn.stopping() && !conn.killed() && !writer.is_finished() && Instant::now() < until {
            std::thread::sleep(POLL);
        }
        // Wake the writer (its close frame, if the peer was dropped, goes
        // now if the socket takes it), and stop waiting on a socket that
        // takes nothing.
        conn.finish();
        half.abandon();
    });
    half.shutdown();
}

/// Writes what the driver queues, batched under one flush, until the
/// driver lets go of the connection or the reader ends it.
fn run_writer(mut ws: WebSocket<Outbound>, conn: &Conn) {
    'conn: while let Some(mut out) = conn.next_out_blocking() {
        loop {
            match out {
                Out::Frame(f) => {
                    let len = f.len();
                    if ws.write(gun_core::transport::ws::text_message(f)).is_err() {
                        break 'conn;
                    }
                    conn.wrote(len);
                }
                Out::Ping => {
                    if ws.write(Message::Ping(Vec::new().into())).is_err() {
                        break 'conn;
                    }
                }
                Out::Close => {
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    ws.get_ref().write_half().shutdown();
                    return;
                }
            }
            match conn.try_next_out() {
                Some(next) => out = next,
                None => break,
            }
        }
        if ws.flush().is_err() {
            break;
        }
    }
    match conn.dropped_for() {
        Some(why) => {
            let (code, reason) = why.close_frame();
            let _ = ws.close(Some(tungstenite::protocol::CloseFrame {
                code: code.into(),
                reason: reason.into(),
            }));
            let _ = ws.flush();
        }
        None if conn.stopping() => {
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        None => {}
    }
    ws.get_ref().write_half().shutdown();
}

/// Reads the connection until it ends (the writer thread writes).
fn run_reader(ws: &mut WebSocket<Io>, conn: &Conn) {
    let idle = conn.quotas().idle_timeout;
    let mut pinged = Instant::now();
    loop {
        if conn.killed() || conn.stopping() {
            break;
        }
        if conn.quiet_for() >= idle / 4 && pinged.elapsed() >= idle / 4 {
            pinged = Instant::now();
            let ping = ws
                .write(Message::Ping(Vec::new().into()))
                .and_then(|()| ws.flush());
            match ping {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(_) => break,
            }
        }
        if conn.quiet_for() > idle {
            debug!(peer = ?conn.peer(), "idle: closing");
            conn.close_for(Dropped::Idle);
            continue;
        }
        if !conn.may_read() {
            conn.wait_readable(conn.throttled_for().map_or(POLL, |t| t.min(POLL)));
            continue;
        }
        // The frames a socket read brought go to the driver together: one
        // wake-up and one turn for a burst. After the first, only what the
        // WebSocket has buffered is taken, each while the peer's share and
        // rate allow it.
        let mut batch = Batch::default();
        let mut step = take(ws.read(), conn, &mut batch);
        if step == Step::More {
            ws.get_mut().buffered_only = true;
            while step == Step::More && batch.may_take_more(conn) {
                step = take(ws.read(), conn, &mut batch);
            }
            ws.get_mut().buffered_only = false;
        }
        if !batch.hand(conn) || step == Step::End {
            break;
        }
    }
}

/// Whether the reader goes on after a read.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// A message was read: there may be more.
    More,
    /// Nothing to read now.
    Wait,
    /// The connection ended.
    End,
}

/// What one read from the peer means: a text frame joins `batch`.
fn take(read: tungstenite::Result<Message>, conn: &Conn, batch: &mut Batch) -> Step {
    match read {
        Ok(Message::Text(t)) => {
            conn.heard();
            batch.push(t.as_bytes().to_vec());
            Step::More
        }
        // Gun.js ignores binary frames; so do we.
        Ok(Message::Binary(_)) => {
            conn.heard();
            debug!(peer = ?conn.peer(), "binary frame ignored");
            Step::More
        }
        Ok(_) => {
            conn.heard();
            Step::More
        }
        Err(e) if would_block(&e) => Step::Wait,
        Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => Step::End,
        Err(tungstenite::Error::Capacity(e)) => {
            debug!(peer = ?conn.peer(), error = %e, "frame over the limit: closing");
            conn.close_for(Dropped::FrameTooBig);
            // The loop sees the connection killed.
            Step::Wait
        }
        Err(e) => {
            debug!(peer = ?conn.peer(), error = %e, "connection ended");
            Step::End
        }
    }
}

/// Binds the relay and starts its accept thread; returns the bound address.
pub(crate) fn serve(
    host: &str,
    port: u16,
    transport: Transport,
    tls: &Tls,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    #[cfg(feature = "tls")]
    let tls = tls.server.clone();
    #[cfg(feature = "tls")]
    info!(%addr, tls = tls.is_some(), "relay listening");
    #[cfg(not(feature = "tls"))]
    info!(%addr, ?tls, "relay listening");
    let handle = std::thread::Builder::new()
        .name("gun-accept".into())
        .spawn(move || {
            let mut conns: Vec<JoinHandle<()>> = Vec::new();
            while !transport.stopping() {
                match listener.accept() {
                    Ok((stream, from)) => {
                        // The limits first: a refused socket costs no thread.
                        let admitted = match transport.admit(from.ip()) {
                            Ok(a) => a,
                            Err(why) => {
                                debug!(%from, reason = %why, "connection refused");
                                continue;
                            }
                        };
                        let t = transport.clone();
                        #[cfg(feature = "tls")]
                        let tls = tls.clone();
                        let spawned =
                            std::thread::Builder::new()
                                .name("gun-conn".into())
                                .spawn(move || {
                                    #[cfg(feature = "tls")]
                                    accept_one(stream, from, admitted, &t, tls);
                                    #[cfg(not(feature = "tls"))]
                                    accept_one(stream, from, admitted, &t);
                                });
                        match spawned {
                            Ok(h) => conns.push(h),
                            Err(e) => warn!(error = %e, "cannot start a connection thread"),
                        }
                        conns.retain(|h| !h.is_finished());
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            for h in conns {
                let _ = h.join();
            }
        })?;
    Ok((addr, handle))
}

fn accept_one(
    stream: TcpStream,
    from: SocketAddr,
    admitted: Admitted,
    transport: &Transport,
    #[cfg(feature = "tls")] tls: Option<Arc<rustls::ServerConfig>>,
) {
    let deadline = Instant::now() + transport.quotas().handshake_timeout;
    if stream.set_nonblocking(false).is_err()
        || stream
            .set_read_timeout(Some(transport.quotas().handshake_timeout))
            .is_err()
    {
        return;
    }
    #[cfg(feature = "tls")]
    let stream = match tls {
        None => match Stream::plain(stream) {
            Ok(s) => s,
            Err(_) => return,
        },
        Some(config) => match rustls::ServerConnection::new(config) {
            Ok(conn) => match Stream::tls(stream, conn.into()) {
                Ok(s) => s,
                Err(_) => return,
            },
            Err(e) => {
                warn!(error = %e, "cannot start TLS");
                return;
            }
        },
    };
    #[cfg(not(feature = "tls"))]
    let Ok(stream) = Stream::plain(stream) else {
        return;
    };
    let mut io = Io::new(stream);
    // The request head, within the handshake's time: `/health`, `/metrics`
    // are answered here; an upgrade goes on with the head replayed.
    let mut head = Head::new();
    let mut buf = [0u8; 1024];
    let request = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || io.stream.tcp().set_read_timeout(Some(left)).is_err() {
            return;
        }
        match io.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Some(r) = head.feed(&buf[..n]) {
                    break r;
                }
            }
        }
    };
    let answer = match request {
        Request::Upgrade => {
            io.replay = Replay::new(head.into_bytes());
            let config = gun_core::transport::ws::config(transport.quotas());
            // Any path is accepted (`/gun` included), as Gun.js accepts.
            match tungstenite::accept_with_config(io, Some(config)) {
                Ok(ws) => {
                    debug!(%from, "peer connected");
                    run_connection(ws, Role::Accepted, Some(admitted), transport);
                }
                Err(e) => debug!(%from, error = %e, "handshake failed"),
            }
            return;
        }
        Request::Get(path) => transport.http(&path),
        Request::Bad => Response::bad_request(),
    };
    let _ = io.write_all(&answer.bytes);
    let _ = io.flush();
}

/// Starts a thread that keeps a connection to `url` open, reconnecting with
/// exponential backoff up to `max_backoff`.
pub(crate) fn dial(
    url: PeerUrl,
    max_backoff: Duration,
    transport: Transport,
    tls: &Tls,
) -> std::io::Result<JoinHandle<()>> {
    let tls = tls.clone();
    std::thread::Builder::new()
        .name("gun-dial".into())
        .spawn(move || {
            let mut backoff = net::FIRST_BACKOFF;
            let mut failing = net::Failing::default();
            while !transport.stopping() {
                match connect(&url, &tls, &transport) {
                    Ok(ws) => {
                        info!(url = %url.ws_url(), "connected to peer");
                        backoff = net::FIRST_BACKOFF;
                        failing = net::Failing::default();
                        run_connection(ws, Role::Dialed, None, &transport);
                    }
                    Err(e) => failing.report(&url.ws_url(), e),
                }
                // Sleep in small steps so shutdown is prompt.
                let mut slept = Duration::ZERO;
                while slept < backoff && !transport.stopping() {
                    std::thread::sleep(Duration::from_millis(10));
                    slept += Duration::from_millis(10);
                }
                backoff = (backoff * 2).min(max_backoff);
            }
        })
}

fn connect(url: &PeerUrl, tls: &Tls, transport: &Transport) -> Result<WebSocket<Io>, String> {
    // Each address the name resolves to, in turn (localhost: ::1, then 127.0.0.1).
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
    {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    let stream = stream.ok_or(last)?;
    stream
        .set_read_timeout(Some(transport.quotas().handshake_timeout))
        .map_err(|e| e.to_string())?;
    let stream = Io::new(secure(url, stream, tls)?);
    let config = gun_core::transport::ws::config(transport.quotas());
    let (ws, _) = tungstenite::client::client_with_config(url.ws_url(), stream, Some(config))
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// The stream to speak WebSocket over: TLS for `wss://` peers.
#[cfg(feature = "tls")]
fn secure(url: &PeerUrl, stream: TcpStream, tls: &Tls) -> Result<Stream, String> {
    if !url.tls {
        return Stream::plain(stream).map_err(|e| e.to_string());
    }
    let config = tls.client.clone().ok_or("no TLS configuration")?;
    let name = gun_core::transport::tls::server_name(&url.host).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    Stream::tls(stream, conn.into()).map_err(|e| e.to_string())
}

#[cfg(not(feature = "tls"))]
fn secure(url: &PeerUrl, stream: TcpStream, _: &Tls) -> Result<Stream, String> {
    if url.tls {
        return Err("built without the `tls` feature".into());
    }
    Stream::plain(stream).map_err(|e| e.to_string())
}
