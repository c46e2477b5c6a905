//! The async WebSocket connection loop, shared by the async drivers (tokio,
//! async-std/smol): written once, generic over the socket and a [`Runtime`].
//!
//! A driver supplies only what differs per runtime: accepting and connecting
//! sockets (and reading a request head off them), spawning, sleeping.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::{Either, select};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tracing::{debug, info};
use tungstenite::Message;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};

use super::url::PeerUrl;
use super::{Admitted, Conn, Dropped, Frame, Out, Role, Transport, net};
use crate::Quotas;

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

/// A frame as a WebSocket text message, its text shared, not copied.
pub fn text_message(frame: Frame) -> Message {
    let text = frame.clone();
    match tungstenite::Utf8Bytes::try_from(bytes::Bytes::from_owner(frame)) {
        Ok(text) => Message::Text(text),
        // A frame is a `str`: this does not happen.
        Err(_) => Message::text(text.as_str()),
    }
}

/// How often idle loops look whether the instance is stopping.
pub const STOP_CHECK: Duration = Duration::from_millis(100);

/// Small buffers and explicit limits ([`super::net`]): frames and messages
/// past `max_frame_bytes` are refused by their header, before their payload
/// is read.
pub fn config(quotas: &Quotas) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(net::READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(quotas.max_frame_bytes))
        .max_frame_size(Some(quotas.max_frame_bytes))
}

/// A socket accepted, whose handshake (TLS, the HTTP request head, the
/// WebSocket upgrade) is still to run: it gives the WebSocket, or `None`
/// when the request was plain HTTP (`/health`, `/metrics`) and answered.
pub type Handshake<W> = Pin<Box<dyn Future<Output = Result<Option<W>, String>> + Send>>;

/// Runs one open connection until it closes, the driver drops it, or the
/// instance stops: frames in go to the driver as it has room for them,
/// frames out are written in batches under one flush, and a quiet peer is
/// pinged, then closed after `idle_timeout` of silence.
pub async fn run_connection<W, R>(
    ws: W,
    role: Role,
    admitted: Option<Admitted>,
    transport: &Transport,
    rt: &R,
) where
    W: WebSocket,
    R: Runtime,
{
    let Some(conn) = transport.open(role, admitted) else {
        return;
    };
    let conn = Arc::new(conn);
    let peer = conn.peer();
    let (sink, mut stream) = ws.split();
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    rt.spawn(Box::pin(write_loop(
        sink,
        conn.clone(),
        rt.clone(),
        done_tx,
    )));
    let idle = conn.quotas().idle_timeout;
    loop {
        if !conn.may_read() {
            // Woken by room for its frames; its byte rate refills with time.
            let wait = conn
                .throttled_for()
                .map_or(STOP_CHECK, |t| t.min(STOP_CHECK));
            let _ = select(Box::pin(conn.readable()), rt.sleep(wait)).await;
            if conn.killed() || conn.stopping() {
                break;
            }
            continue;
        }
        let tick = rt.sleep(STOP_CHECK);
        match select(stream.next(), tick).await {
            Either::Left((msg, _)) => {
                // The frames already read from the socket go to the driver
                // together: one wake-up and one turn (one store commit)
                // for a burst, not one per frame.
                // Each frame read only while the peer's share and byte
                // rate allow it, counting the ones gathered.
                let mut batch = Batch::default();
                let mut read = take(msg, &conn, &mut batch);
                while read == Read::More && batch.may_take_more(&conn) {
                    let Some(msg) = stream.next().now_or_never() else {
                        break;
                    };
                    read = take(msg, &conn, &mut batch);
                }
                if !batch.hand(&conn) {
                    break;
                }
                if read == Read::End {
                    break;
                }
            }
            Either::Right(_) => {
                if conn.killed() || conn.stopping() {
                    break;
                }
                if conn.quiet_for() > idle {
                    debug!(?peer, "idle: closing");
                    conn.close_for(Dropped::Idle);
                    break;
                }
            }
        }
    }
    // At shutdown the writer sends what is queued, then closes; otherwise
    // it stops now.
    if conn.stopping() && !conn.killed() {
        let _ = select(Box::pin(done_rx.recv()), rt.sleep(Duration::from_secs(1))).await;
    }
    conn.finish();
    let _ = select(Box::pin(done_rx.recv()), rt.sleep(Duration::from_secs(1))).await;
}

/// Text frames read from a socket in one go, for the driver: they go as one
/// event (one wake-up and one turn for a burst), each taken only while the
/// peer's share and byte rate allow it with the others counted. The async
/// readers here and the blocking driver's share it.
#[derive(Debug, Default)]
pub struct Batch {
    frames: Vec<Vec<u8>>,
    bytes: usize,
}

impl Batch {
    /// Frames past these bounds go in the next batch, so that the first
    /// does not wait long for the others.
    const FRAMES: usize = 64;
    const BYTES: usize = 64 << 10;

    /// Adds a frame.
    pub fn push(&mut self, frame: Vec<u8>) {
        self.bytes += frame.len();
        self.frames.push(frame);
    }

    /// Whether another frame may join: the batch has room, and `conn` may
    /// read with the batch's bytes counted as handed over.
    pub fn may_take_more(&self, conn: &Conn) -> bool {
        self.frames.len() < Self::FRAMES
            && self.bytes < Self::BYTES
            && conn.may_read_after(self.bytes)
    }

    /// Hands the frames to the driver (nothing when empty); `false` once
    /// the driver has let go of the connection.
    pub fn hand(self, conn: &Conn) -> bool {
        self.frames.is_empty() || conn.frames_in(self.frames)
    }
}

/// Whether the connection reads on after a message.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    More,
    End,
}

/// What one message from the peer means: a text frame joins `batch`.
fn take(msg: Option<Result<Message, tungstenite::Error>>, conn: &Conn, batch: &mut Batch) -> Read {
    let peer = conn.peer();
    match msg {
        Some(Ok(Message::Text(t))) => {
            conn.heard();
            batch.push(t.as_bytes().to_vec());
            Read::More
        }
        // Gun.js ignores binary frames; so do we.
        Some(Ok(Message::Binary(_))) => {
            conn.heard();
            debug!(?peer, "binary frame ignored");
            Read::More
        }
        Some(Ok(Message::Close(_))) | None => Read::End,
        Some(Ok(_)) => {
            conn.heard();
            Read::More
        }
        Some(Err(tungstenite::Error::Capacity(e))) => {
            debug!(?peer, error = %e, "frame over the limit: closing");
            conn.close_for(Dropped::FrameTooBig);
            Read::End
        }
        Some(Err(e)) => {
            debug!(?peer, error = %e, "connection ended");
            Read::End
        }
    }
}

/// Writes what the driver queues, batched under one flush, until the
/// connection ends; pings a quiet peer.
async fn write_loop<S, R>(mut sink: S, conn: Arc<Conn>, rt: R, done: async_channel::Sender<()>)
where
    S: Sink<Message, Error = tungstenite::Error> + Unpin,
    R: Runtime,
{
    let ping_every = conn.quotas().idle_timeout / 4;
    // One wait for the driver dropping the peer and one ping timer for the
    // connection's life, not a new one for every frame.
    let mut dropped = Box::pin(conn.dropped());
    let mut ping = rt.sleep(ping_every);
    'conn: loop {
        let out = std::pin::pin!(conn.next_out());
        let next = select(out, select(&mut dropped, &mut ping)).await;
        let first = match next {
            Either::Left((Some(out), _)) => out,
            Either::Left((None, _)) | Either::Right((Either::Left(_), _)) => break,
            Either::Right((Either::Right(_), _)) => {
                ping = rt.sleep(ping_every);
                if conn.quiet_for() < ping_every {
                    continue;
                }
                Out::Ping
            }
        };
        let mut close = false;
        let mut next = Some(first);
        while let Some(out) = next {
            let (msg, len) = match out {
                Out::Frame(f) => {
                    let len = f.len();
                    (text_message(f), len)
                }
                Out::Ping => (Message::Ping(Vec::new().into()), 0),
                Out::Close => {
                    close = true;
                    break;
                }
            };
            // A peer that stopped reading blocks this; the driver dropping
            // it ends the wait.
            match select(sink.feed(msg), &mut dropped).await {
                Either::Left((Ok(()), _)) => {}
                _ => break 'conn,
            }
            if len > 0 {
                conn.wrote(len);
            }
            next = conn.try_next_out();
        }
        match select(sink.flush(), &mut dropped).await {
            Either::Left((Ok(()), _)) if !close => {}
            Either::Left((Ok(()), _)) => {
                let _ = select(sink.close(), rt.sleep(Duration::from_secs(1))).await;
                break;
            }
            _ => break,
        }
    }
    // Dropped for a reason: say so, if the socket takes it at once.
    if let Some(why) = conn.dropped_for() {
        let (code, reason) = why.close_frame();
        let frame = CloseFrame {
            code: code.into(),
            reason: reason.into(),
        };
        let _ = select(
            sink.send(Message::Close(Some(frame))),
            rt.sleep(Duration::from_millis(100)),
        )
        .await;
    }
    drop(done);
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
            rt.sleep(transport.quotas().handshake_timeout),
        )
        .await
        {
            Either::Left((Ok(ws), _)) => {
                info!(url = %target, "connected to peer");
                backoff = net::FIRST_BACKOFF;
                failing = net::Failing::default();
                run_connection(ws, Role::Dialed, None, &transport, &rt).await;
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
/// socket's address and handshake (or an error to log); the relay's
/// connection limits are checked before its handshake runs, and each
/// connection is served on its own task.
pub async fn serve<W, R, F, Fut>(transport: Transport, rt: R, mut accept: F)
where
    W: WebSocket,
    R: Runtime,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(IpAddr, Handshake<W>), String>>,
{
    let mut stop = Box::pin(stop_signal(&transport));
    loop {
        match select(Box::pin(accept()), stop.as_mut()).await {
            Either::Left((Ok((ip, handshake)), _)) => {
                let admitted = match transport.admit(ip) {
                    Ok(a) => a,
                    Err(why) => {
                        // Dropping the handshake closes the socket.
                        debug!(%ip, reason = %why, "connection refused");
                        continue;
                    }
                };
                let (t, r) = (transport.clone(), rt.clone());
                let timeout = rt.sleep(transport.quotas().handshake_timeout);
                rt.spawn(Box::pin(async move {
                    match select(handshake, timeout).await {
                        Either::Left((Ok(Some(ws)), _)) => {
                            run_connection(ws, Role::Accepted, Some(admitted), &t, &r).await;
                        }
                        Either::Left((Ok(None), _)) => {}
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
