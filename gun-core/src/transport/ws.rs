//! The async WebSocket connection loop, shared by the async drivers (tokio,
//! async-std/smol): written once, generic over the socket and a [`Runtime`].
//!
//! A driver supplies only what differs per runtime: accepting and connecting
//! sockets, spawning, sleeping.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tracing::{debug, info};
use tungstenite::Message;
use tungstenite::protocol::WebSocketConfig;

use super::url::PeerUrl;
use super::{DriverEvent, Link, Role, Transport, net};

/// A WebSocket connection as the async drivers' socket crates give it.
pub trait WebSocket:
    Stream<Item = Result<Message, tungstenite::Error>>
    + Sink<Message, Error = tungstenite::Error>
    + Send
    + Unpin
    + 'static
{
}

impl<T> WebSocket for T where
    T: Stream<Item = Result<Message, tungstenite::Error>>
        + Sink<Message, Error = tungstenite::Error>
        + Send
        + Unpin
        + 'static
{
}

/// A boxed future the runtime runs.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the shared loop needs from an async runtime.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// Runs `task` in the background.
    fn spawn(&self, task: Task);
    /// Resolves after `d`.
    fn sleep(&self, d: Duration) -> Task;
}

/// How often idle loops look whether the instance is stopping.
pub const STOP_CHECK: Duration = Duration::from_millis(100);

/// Small buffers and explicit limits ([`super::net`]).
pub fn config() -> WebSocketConfig {
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

struct ChannelLink(async_channel::Sender<Out>);

impl Link for ChannelLink {
    fn send(&self, frame: String) -> bool {
        self.0.try_send(Out::Frame(frame)).is_ok()
    }

    fn close(&self) {
        let _ = self.0.try_send(Out::Close);
    }
}

/// Runs one open connection until it closes or the instance stops: frames in
/// go to the driver, frames out are written in batches under one flush.
pub async fn run_connection<W, R>(ws: W, role: Role, transport: &Transport, rt: &R)
where
    W: WebSocket,
    R: Runtime,
{
    let peer = transport.next_peer_id();
    let (mut sink, mut stream) = ws.split();
    let (tx, rx) = async_channel::unbounded();
    if !transport.send(DriverEvent::Connected {
        peer,
        role,
        link: Box::new(ChannelLink(tx)),
    }) {
        return;
    }
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    rt.spawn(Box::pin(async move {
        while let Ok(out) = rx.recv().await {
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
                break;
            }
        }
        drop(done_tx);
    }));
    loop {
        let tick = rt.sleep(STOP_CHECK);
        match select(stream.next(), tick).await {
            Either::Left((msg, _)) => match msg {
                Some(Ok(Message::Text(t))) => {
                    if !transport.send(DriverEvent::Frame {
                        peer,
                        data: t.as_bytes().to_vec(),
                    }) {
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
            Either::Right(_) => {
                if transport.stopping() {
                    break;
                }
            }
        }
    }
    transport.send(DriverEvent::Disconnected { peer });
    // The driver drops the link, which ends the writer (or it was told to close).
    let _ = select(Box::pin(done_rx.recv()), rt.sleep(Duration::from_secs(1))).await;
}

/// Keeps a connection to `url` open, reconnecting with exponential backoff.
/// `connect` opens one WebSocket to a `ws://` or `wss://` URL.
pub async fn dial<W, R, F, Fut>(
    url: PeerUrl,
    max_backoff: Duration,
    transport: Transport,
    rt: R,
    connect: F,
) where
    W: WebSocket,
    R: Runtime,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<W, String>>,
{
    let mut backoff = net::FIRST_BACKOFF;
    let target = url.ws_url();
    let mut failing = net::Failing::default();
    while !transport.stopping() {
        match select(
            Box::pin(connect(target.clone())),
            rt.sleep(net::HANDSHAKE_TIMEOUT),
        )
        .await
        {
            Either::Left((Ok(ws), _)) => {
                info!(url = %target, "connected to peer");
                backoff = net::FIRST_BACKOFF;
                failing = net::Failing::default();
                run_connection(ws, Role::Dialed, &transport, &rt).await;
            }
            Either::Left((Err(e), _)) => failing.report(&target, &e),
            Either::Right(_) => failing.report(&target, "connect timed out"),
        }
        let mut slept = Duration::ZERO;
        while slept < backoff && !transport.stopping() {
            rt.sleep(Duration::from_millis(10)).await;
            slept += Duration::from_millis(10);
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

/// Resolves when the instance stops; the driver's shutdown waits until the
/// returned acknowledgement is dropped or sent, so a listener dropped before
/// that has released its port when shutdown resolves.
pub fn stop_signal(
    transport: &Transport,
) -> impl Future<Output = Option<std::sync::mpsc::Sender<()>>> + Send + 'static {
    let (tx, rx) = async_channel::bounded::<std::sync::mpsc::Sender<()>>(1);
    transport.on_stop(Box::new(move || {
        let (ack_tx, ack_rx) = std::sync::mpsc::channel();
        if tx.try_send(ack_tx).is_ok() {
            let _ = ack_rx.recv_timeout(Duration::from_secs(2));
        }
    }));
    async move { rx.recv().await.ok() }
}

/// Accepts connections until the instance stops. `accept` yields the next
/// upgraded WebSocket (or an error to log); each is served on its own task.
pub async fn serve<W, R, F, Fut>(transport: Transport, rt: R, mut accept: F)
where
    W: WebSocket,
    R: Runtime,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Pin<Box<dyn Future<Output = Result<W, String>> + Send>>, String>>,
{
    let mut stop = Box::pin(stop_signal(&transport));
    loop {
        match select(Box::pin(accept()), stop.as_mut()).await {
            Either::Left((Ok(handshake), _)) => {
                let (t, r) = (transport.clone(), rt.clone());
                let timeout = rt.sleep(net::HANDSHAKE_TIMEOUT);
                rt.spawn(Box::pin(async move {
                    match select(handshake, timeout).await {
                        Either::Left((Ok(ws), _)) => {
                            run_connection(ws, Role::Accepted, &t, &r).await
                        }
                        Either::Left((Err(e), _)) => debug!(error = %e, "handshake failed"),
                        Either::Right(_) => debug!("handshake timed out"),
                    }
                }));
            }
            Either::Left((Err(e), _)) => {
                debug!(error = %e, "accept failed");
                rt.sleep(Duration::from_millis(20)).await;
            }
            Either::Right((ack, pending)) => {
                // Drop the listener (held by `accept` and the pending accept)
                // before acknowledging, so the port is free when shutdown resolves.
                drop(pending);
                drop(accept);
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                return;
            }
        }
    }
}
