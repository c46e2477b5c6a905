//! Tokio's part of the transports: accepting and connecting sockets (TCP,
//! or TLS with tokio-rustls), spawning and sleeping. The connection loop
//! itself is shared ([`gun_core::transport::ws`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use gun_core::transport::Transport;
use gun_core::transport::http::{Head, Replay, Request, Response};
use gun_core::transport::url::PeerUrl;
use gun_core::transport::ws::{self, Handshake, Runtime, Task};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;

/// Spawns on the tokio runtime the instance was started on.
#[derive(Clone)]
pub(crate) struct Rt(pub(crate) tokio::runtime::Handle);

impl Runtime for Rt {
    fn spawn(&self, task: Task) {
        drop(self.0.spawn(task));
    }

    fn sleep(&self, d: Duration) -> Task {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A connection's bytes: TCP, or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}
type Conn = Box<dyn Io>;

/// TLS settings for the transports (built once per instance).
pub(crate) use gun_core::transport::tls::Configs as Tls;

/// Serves WebSocket peers on `listener` (any path, `/gun` included, as Gun.js
/// accepts) and `/health` and `/metrics` over HTTP, over TLS when `tls` has
/// a server configuration, until the instance stops.
pub(crate) async fn serve(listener: TcpListener, transport: Transport, rt: Rt, tls: Tls) {
    let listener = Arc::new(listener);
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
            return tokio_tungstenite::accept_async_with_config(conn, Some(config))
                .await
                .map(Some)
                .map_err(|e| e.to_string());
        }
        Request::Get(path) => transport.http(&path),
        Request::Bad => Response::bad_request(),
    };
    let _ = conn.write_all(&answer.bytes).await;
    let _ = conn.shutdown().await;
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
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.replay.is_empty() {
            let n = self.replay.read(buf.initialize_unfilled());
            buf.advance(n);
            return Poll::Ready(Ok(()));
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

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
            tokio_tungstenite::client_async_with_config(target, conn, Some(config))
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
        Some(config) => tokio_rustls::TlsAcceptor::from(config.clone())
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
    tokio_rustls::TlsConnector::from(config)
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
