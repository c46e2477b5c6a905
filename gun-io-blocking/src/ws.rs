//! WebSocket transports on OS threads: a relay server (one thread per
//! connection) and a client that reconnects with backoff.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, TryRecvError};
use gun_core::url::PeerUrl;
use gun_core::{DriverEvent, Link, Role, Transport, net};
use tracing::{debug, info, warn};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// How long a read waits before the connection thread looks at its outbox.
const POLL: Duration = Duration::from_millis(5);
const HANDSHAKE: Duration = net::HANDSHAKE_TIMEOUT;

/// Small buffers and explicit limits, as every driver sets them.
pub(crate) fn ws_config() -> WebSocketConfig {
    gun_core::ws::config()
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
fn run_connection(mut ws: WebSocket<TcpStream>, role: Role, transport: &Transport) {
    let peer = transport.next_peer_id();
    let (tx, rx) = crossbeam_channel::unbounded();
    if ws.get_mut().set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = ws.get_mut().set_nodelay(true);
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
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    info!(%addr, "relay listening");
    let handle = std::thread::Builder::new()
        .name("gun-accept".into())
        .spawn(move || {
            let mut conns: Vec<JoinHandle<()>> = Vec::new();
            while !transport.stopping() {
                match listener.accept() {
                    Ok((stream, from)) => {
                        let t = transport.clone();
                        let spawned =
                            std::thread::Builder::new()
                                .name("gun-conn".into())
                                .spawn(move || {
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

fn accept_one(stream: TcpStream, from: SocketAddr, transport: &Transport) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(HANDSHAKE)).is_err() {
        return;
    }
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
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("gun-dial".into())
        .spawn(move || {
            let mut backoff = net::FIRST_BACKOFF;
            while !transport.stopping() {
                match connect(&url) {
                    Ok(ws) => {
                        info!(url = %url.ws_url(), "connected to peer");
                        backoff = net::FIRST_BACKOFF;
                        run_connection(ws, Role::Dialed, &transport);
                    }
                    Err(e) => debug!(url = %url.ws_url(), error = %e, "cannot reach peer"),
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

fn connect(url: &PeerUrl) -> Result<WebSocket<TcpStream>, String> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(HANDSHAKE))
        .map_err(|e| e.to_string())?;
    let (ws, _) = tungstenite::client::client_with_config(url.ws_url(), stream, Some(ws_config()))
        .map_err(|e| e.to_string())?;
    Ok(ws)
}
