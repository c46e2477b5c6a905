//! WebSocket transports on OS threads: a relay server (one thread per
//! connection) and a client that reconnects with backoff, each over TCP or
//! TLS ([`Stream`]).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, TryRecvError};
use gun_core::transport::url::PeerUrl;
use gun_core::transport::{DriverEvent, Link, Role, Transport, net};
use tracing::{debug, info, warn};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

#[cfg(feature = "tls")]
use std::sync::Arc;

/// TLS settings for the transports (built once per instance).
pub(crate) use gun_core::transport::tls::Configs as Tls;

/// A connection's byte stream: plain TCP, or TLS over it.
pub(crate) enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Client(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    #[cfg(feature = "tls")]
    Server(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "tls")]
            Self::Client(s) => &s.sock,
            #[cfg(feature = "tls")]
            Self::Server(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Self::Client(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Self::Server(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Self::Client(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Self::Server(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Self::Client(s) => s.flush(),
            #[cfg(feature = "tls")]
            Self::Server(s) => s.flush(),
        }
    }
}

/// How long a read waits before the connection thread looks at its outbox.
const POLL: Duration = Duration::from_millis(5);
const HANDSHAKE: Duration = net::HANDSHAKE_TIMEOUT;

/// Small buffers and explicit limits, as every driver sets them.
pub(crate) fn ws_config() -> WebSocketConfig {
    gun_core::transport::ws::config()
}

enum Out {
    Frame(String),
    Close,
}

struct ChannelLink(Sender<Out>);

impl Link for ChannelLink {
    fn send(&self, frame: String) -> bool {
        self.0.send(Out::Frame(frame)).is_ok()
    }

    fn close(&self) {
        let _ = self.0.send(Out::Close);
    }
}

/// Runs one open connection until it closes or the instance stops.
fn run_connection(mut ws: WebSocket<Stream>, role: Role, transport: &Transport) {
    let peer = transport.next_peer_id();
    let (tx, rx) = crossbeam_channel::unbounded();
    if ws.get_ref().tcp().set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = ws.get_ref().tcp().set_nodelay(true);
    if !transport.send(DriverEvent::Connected {
        peer,
        role,
        link: Box::new(ChannelLink(tx)),
    }) {
        return;
    }
    'conn: loop {
        let mut wrote = false;
        loop {
            match rx.try_recv() {
                Ok(Out::Frame(f)) => {
                    if ws.write(Message::text(f)).is_err() {
                        break 'conn;
                    }
                    wrote = true;
                }
                Ok(Out::Close) | Err(TryRecvError::Disconnected) => {
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    break 'conn;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if wrote {
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if transport.stopping() {
            let _ = ws.close(None);
            let _ = ws.flush();
            break;
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                if !transport.send(DriverEvent::Frame {
                    peer,
                    data: t.as_bytes().to_vec(),
                }) {
                    break;
                }
            }
            // Gun.js ignores binary frames; so do we.
            Ok(Message::Binary(_)) => debug!(?peer, "binary frame ignored"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => break,
            Err(e) => {
                debug!(?peer, error = %e, "connection ended");
                break;
            }
        }
    }
    transport.send(DriverEvent::Disconnected { peer });
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
                        let t = transport.clone();
                        #[cfg(feature = "tls")]
                        let tls = tls.clone();
                        let spawned =
                            std::thread::Builder::new()
                                .name("gun-conn".into())
                                .spawn(move || {
                                    #[cfg(feature = "tls")]
                                    accept_one(stream, from, &t, tls);
                                    #[cfg(not(feature = "tls"))]
                                    accept_one(stream, from, &t);
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
    transport: &Transport,
    #[cfg(feature = "tls")] tls: Option<Arc<rustls::ServerConfig>>,
) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(HANDSHAKE)).is_err() {
        return;
    }
    #[cfg(feature = "tls")]
    let stream = match tls {
        None => Stream::Plain(stream),
        Some(config) => match rustls::ServerConnection::new(config) {
            Ok(conn) => Stream::Server(Box::new(rustls::StreamOwned::new(conn, stream))),
            Err(e) => {
                warn!(error = %e, "cannot start TLS");
                return;
            }
        },
    };
    #[cfg(not(feature = "tls"))]
    let stream = Stream::Plain(stream);
    // Any path is accepted (`/gun` included), as Gun.js accepts.
    match tungstenite::accept_with_config(stream, Some(ws_config())) {
        Ok(ws) => {
            debug!(%from, "peer connected");
            run_connection(ws, Role::Accepted, transport);
        }
        Err(e) => debug!(%from, error = %e, "handshake failed"),
    }
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
                match connect(&url, &tls) {
                    Ok(ws) => {
                        info!(url = %url.ws_url(), "connected to peer");
                        backoff = net::FIRST_BACKOFF;
                        failing = net::Failing::default();
                        run_connection(ws, Role::Dialed, &transport);
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

fn connect(url: &PeerUrl, tls: &Tls) -> Result<WebSocket<Stream>, String> {
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
        .set_read_timeout(Some(HANDSHAKE))
        .map_err(|e| e.to_string())?;
    let stream = secure(url, stream, tls)?;
    let (ws, _) = tungstenite::client::client_with_config(url.ws_url(), stream, Some(ws_config()))
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// The stream to speak WebSocket over: TLS for `wss://` peers.
#[cfg(feature = "tls")]
fn secure(url: &PeerUrl, stream: TcpStream, tls: &Tls) -> Result<Stream, String> {
    if !url.tls {
        return Ok(Stream::Plain(stream));
    }
    let config = tls.client.clone().ok_or("no TLS configuration")?;
    let name = gun_core::transport::tls::server_name(&url.host).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    Ok(Stream::Client(Box::new(rustls::StreamOwned::new(
        conn, stream,
    ))))
}

#[cfg(not(feature = "tls"))]
fn secure(url: &PeerUrl, stream: TcpStream, _: &Tls) -> Result<Stream, String> {
    if url.tls {
        return Err("built without the `tls` feature".into());
    }
    Ok(Stream::Plain(stream))
}
