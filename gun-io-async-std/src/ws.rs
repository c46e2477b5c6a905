//! async-io's part of the transports: accepting and connecting sockets with
//! async-net (TCP, or TLS with futures-rustls), spawning on the driver's
//! executor thread, sleeping with async-io timers. The connection loop itself is shared ([`gun_core::transport::ws`]).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_executor::Executor;
use async_net::{TcpListener, TcpStream};
use async_tungstenite::WebSocketStream;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use gun_core::transport::Transport;
use gun_core::transport::http::{Head, Replay, Request, Response};
use gun_core::transport::url::PeerUrl;
use gun_core::transport::ws::{self, Handshake, Runtime, Task};

/// Runs transport tasks on one background thread driving an async-executor;
/// I/O is async-io's, the reactor smol and async-std both use.
#[derive(Clone)]
pub(crate) struct Rt(Arc<Executor<'static>>);

impl Rt {
    /// The process-wide transport executor, started on first use.
    pub(crate) fn get() -> std::io::Result<Self> {
        static EXECUTOR: OnceLock<Arc<Executor<'static>>> = OnceLock::new();
        if let Some(ex) = EXECUTOR.get() {
            return Ok(Self(ex.clone()));
        }
        let ex = Arc::new(Executor::new());
        let run = ex.clone();
        std::thread::Builder::new()
            .name("gun-async-io".into())
            .spawn(move || async_io::block_on(run.run(futures_lite::future::pending::<()>())))?;
        // A racing first call may have set it; use whichever won.
        Ok(Self(EXECUTOR.get_or_init(|| ex).clone()))
    }
}

impl Runtime for Rt {
    fn spawn(&self, task: Task) {
        self.0.spawn(task).detach();
    }

    fn sleep(&self, d: Duration) -> Task {
        Box::pin(async move {
            async_io::Timer::after(d).await;
        })
    }
}

/// A connection's bytes: TCP, or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}
type Conn = Box<dyn Io>;

/// TLS settings for the transports (built once per instance).
pub(crate) use gun_core::transport::tls::Configs as Tls;

/// Serves WebSocket peers on `listener` (any path) and `/health` and
/// `/metrics` over HTTP, over TLS when `tls` has a server configuration,
/// until the instance stops.
pub(crate) async fn serve(listener: TcpListener, transport: Transport, rt: Rt, tls: Tls) {
    let t = transport.clone();
    ws::serve(transport, rt, move || {
        let l = listener.clone();
        let tls = tls.clone();
        let t = t.clone();
        async move {
            let (stream, from) = l.accept().await.map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let handshake: Handshake<WebSocketStream<Conn>> = Box::pin(async move {
                let conn = accept_tls(stream, &tls).await?;
                upgrade_or_answer(conn, &t).await
            });
            Ok((from.ip(), handshake))
        }
    })
    .await;
}

/// Reads the request head: a WebSocket upgrade goes on to the handshake
/// (the head replayed to it); a plain request is answered and closed.
async fn upgrade_or_answer(
    mut conn: Conn,
    transport: &Transport,
) -> Result<Option<WebSocketStream<Conn>>, String> {
    let mut head = Head::new();
    let mut buf = [0u8; 1024];
    let request = loop {
        let n = conn.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before its request".into());
        }
        if let Some(r) = head.feed(&buf[..n]) {
            break r;
        }
    };
    let answer = match request {
        Request::Upgrade => {
            let conn: Conn = Box::new(Rewind {
                replay: Replay::new(head.into_bytes()),
                inner: conn,
            });
            let config = ws::config(transport.quotas());
            return async_tungstenite::accept_async_with_config(conn, Some(config))
                .await
                .map(Some)
                .map_err(|e| e.to_string());
        }
        Request::Get(path) => transport.http(&path),
        Request::Bad => Response::bad_request(),
    };
    let _ = conn.write_all(&answer.bytes).await;
    let _ = conn.close().await;
    Ok(None)
}

/// A stream that hands out bytes read ahead (the request head) first.
struct Rewind {
    replay: Replay,
    inner: Conn,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if !self.replay.is_empty() {
            return Poll::Ready(Ok(self.replay.read(buf)));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// Keeps a connection to `url` open, reconnecting with backoff.
pub(crate) async fn dial(
    url: PeerUrl,
    max_backoff: Duration,
    transport: Transport,
    rt: Rt,
    tls: Tls,
) {
    let peer = url.clone();
    let config = ws::config(transport.quotas());
    ws::dial(url, max_backoff, transport, rt, move |target| {
        let (peer, tls) = (peer.clone(), tls.clone());
        async move {
            let stream = TcpStream::connect((peer.host.as_str(), peer.port))
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let conn = connect_tls(&peer, stream, &tls).await?;
            async_tungstenite::client_async_with_config(target, conn, Some(config))
                .await
                .map(|(ws, _)| ws)
                .map_err(|e| e.to_string())
        }
    })
    .await;
}

#[cfg(feature = "tls")]
async fn accept_tls(stream: TcpStream, tls: &Tls) -> Result<Conn, String> {
    match &tls.server {
        None => Ok(Box::new(stream)),
        Some(config) => futures_rustls::TlsAcceptor::from(config.clone())
            .accept(stream)
            .await
            .map(|s| Box::new(s) as Conn)
            .map_err(|e| format!("TLS: {e}")),
    }
}

#[cfg(feature = "tls")]
async fn connect_tls(url: &PeerUrl, stream: TcpStream, tls: &Tls) -> Result<Conn, String> {
    if !url.tls {
        return Ok(Box::new(stream));
    }
    let config = tls.client.clone().ok_or("no TLS configuration")?;
    let name = gun_core::transport::tls::server_name(&url.host).map_err(|e| e.to_string())?;
    futures_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map(|s| Box::new(s) as Conn)
        .map_err(|e| format!("TLS: {e}"))
}

#[cfg(not(feature = "tls"))]
async fn accept_tls(stream: TcpStream, _: &Tls) -> Result<Conn, String> {
    Ok(Box::new(stream))
}

#[cfg(not(feature = "tls"))]
async fn connect_tls(url: &PeerUrl, stream: TcpStream, _: &Tls) -> Result<Conn, String> {
    if url.tls {
        return Err("built without the `tls` feature".into());
    }
    Ok(Box::new(stream))
}
