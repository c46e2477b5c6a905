//! WebSocket transports on tokio: a relay server (a task per connection) and
//! a client that reconnects with backoff.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gun_core::url::PeerUrl;
use gun_core::{DriverEvent, Link, Role, Transport, net};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{debug, info, warn};

/// How often idle loops look whether the instance is stopping.
const STOP_CHECK: Duration = Duration::from_millis(100);

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(net::READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(net::MAX_MESSAGE))
        .max_frame_size(Some(net::MAX_MESSAGE))
}

enum Out {
    Frame(String),
    Close,
}

struct ChannelLink(UnboundedSender<Out>);

impl Link for ChannelLink {
    fn send(&self, frame: String) -> bool {
        self.0.send(Out::Frame(frame)).is_ok()
    }

    fn close(&self) {
        let _ = self.0.send(Out::Close);
    }
}

/// Runs one open connection until it closes or the instance stops.
async fn run_connection<S>(ws: WebSocketStream<S>, role: Role, transport: &Transport)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = transport.next_peer_id();
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = unbounded_channel();
    if !transport.send(DriverEvent::Connected {
        peer,
        role,
        link: Box::new(ChannelLink(tx)),
    }) {
        return;
    }
    // The writer: everything queued goes out under one flush.
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let mut close = false;
            let mut next = Some(out);
            while let Some(out) = next {
                match out {
                    Out::Frame(f) => {
                        if sink.feed(Message::text(f)).await.is_err() {
                            return;
                        }
                    }
                    Out::Close => close = true,
                }
                next = if close { None } else { rx.try_recv().ok() };
            }
            if sink.flush().await.is_err() || close {
                let _ = sink.close().await;
                return;
            }
        }
    });
    let mut tick = tokio::time::interval(STOP_CHECK);
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if !transport.send(DriverEvent::Frame { peer, data: t.as_bytes().to_vec() }) {
                        break;
                    }
                }
                // Gun.js ignores binary frames; so do we.
                Some(Ok(Message::Binary(_))) => debug!(?peer, "binary frame ignored"),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    debug!(?peer, error = %e, "connection ended");
                    break;
                }
            },
            _ = tick.tick() => if transport.stopping() { break },
        }
    }
    transport.send(DriverEvent::Disconnected { peer });
    // The driver drops the link; the writer then ends (or was told to close).
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}

/// Serves WebSocket peers on `listener` until the instance stops. The port is
/// released before the instance's shutdown resolves.
pub(crate) async fn serve(listener: TcpListener, transport: Transport) {
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<std::sync::mpsc::Sender<()>>();
    transport.on_stop(Box::new(move || {
        let (ack_tx, ack_rx) = std::sync::mpsc::channel();
        if stop_tx.send(ack_tx).is_ok() {
            let _ = ack_rx.recv_timeout(Duration::from_secs(2));
        }
    }));
    let mut tick = tokio::time::interval(STOP_CHECK);
    loop {
        tokio::select! {
            stop = &mut stop_rx => {
                drop(listener);
                if let Ok(ack) = stop {
                    let _ = ack.send(());
                }
                return;
            }
            r = listener.accept() => match r {
                Ok((stream, from)) => {
                    let t = transport.clone();
                    tokio::spawn(async move { accept_one(stream, from, t).await });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = tick.tick() => if transport.stopping() { break },
        }
    }
}

async fn accept_one(stream: TcpStream, from: SocketAddr, transport: Transport) {
    let _ = stream.set_nodelay(true);
    // Any path is accepted (`/gun` included), as Gun.js accepts.
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config()));
    match tokio::time::timeout(net::HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => {
            debug!(%from, "peer connected");
            run_connection(ws, Role::Accepted, &transport).await;
        }
        Ok(Err(e)) => debug!(%from, error = %e, "handshake failed"),
        Err(_) => debug!(%from, "handshake timed out"),
    }
}

/// Keeps a connection to `url` open, reconnecting with exponential backoff.
pub(crate) async fn dial(url: PeerUrl, max_backoff: Duration, transport: Transport) {
    let mut backoff = net::FIRST_BACKOFF;
    let target = url.ws_url();
    while !transport.stopping() {
        let connect =
            tokio_tungstenite::connect_async_with_config(target.as_str(), Some(ws_config()), true);
        match tokio::time::timeout(net::HANDSHAKE_TIMEOUT, connect).await {
            Ok(Ok((ws, _))) => {
                info!(url = %target, "connected to peer");
                backoff = net::FIRST_BACKOFF;
                run_connection(ws, Role::Dialed, &transport).await;
            }
            Ok(Err(e)) => debug!(url = %target, error = %e, "cannot reach peer"),
            Err(_) => debug!(url = %target, "connect timed out"),
        }
        let until = tokio::time::Instant::now() + backoff;
        while tokio::time::Instant::now() < until && !transport.stopping() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}
