//! Tokio's part of the transports: accepting and connecting sockets (TCP,
//! or TLS with tokio-rustls), spawning and sleeping. The connection loop
//! itself is shared ([`gun_core::transport::ws`]).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use gun_core::transport::Transport;
use gun_core::transport::url::PeerUrl;
use gun_core::transport::ws::{self, Runtime, Task};
use tokio::io::{AsyncRead, AsyncWrite};
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

type Handshake = Pin<Box<dyn Future<Output = Result<WebSocketStream<Conn>, String>> + Send>>;

/// TLS settings for the transports (built once per instance).
pub(crate) use gun_core::transport::tls::Configs as Tls;

/// Serves WebSocket peers on `listener` (any path, `/gun` included, as Gun.js
/// accepts), over TLS when `tls` has a server configuration, until the
/// instance stops.
pub(crate) async fn serve(listener: TcpListener, transport: Transport, rt: Rt, tls: Tls) {
    let listener = Arc::new(listener);
    ws::serve(transport, rt, move || {
        let l = listener.clone();
        let tls = tls.clone();
        async move {
            let (stream, _) = l.accept().await.map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let handshake: Handshake = Box::pin(async move {
                let conn = accept_tls(stream, &tls).await?;
                tokio_tungstenite::accept_async_with_config(conn, Some(ws::config()))
                    .await
                    .map_err(|e| e.to_string())
            });
            Ok(handshake)
        }
    })
    .await;
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
    ws::dial(url, max_backoff, transport, rt, move |target| {
        let (peer, tls) = (peer.clone(), tls.clone());
        async move {
            let stream = TcpStream::connect((peer.host.as_str(), peer.port))
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let conn = connect_tls(&peer, stream, &tls).await?;
            tokio_tungstenite::client_async_with_config(target, conn, Some(ws::config()))
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
