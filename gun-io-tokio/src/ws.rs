//! Tokio's part of the transports: accepting and connecting sockets, spawning
//! and sleeping. The connection loop itself is shared ([`gun_core::ws`]).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use gun_core::Transport;
use gun_core::url::PeerUrl;
use gun_core::ws::{self, Runtime, Task};
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

type Handshake = Pin<Box<dyn Future<Output = Result<WebSocketStream<TcpStream>, String>> + Send>>;

/// Serves WebSocket peers on `listener` (any path, `/gun` included, as Gun.js
/// accepts) until the instance stops.
pub(crate) async fn serve(listener: TcpListener, transport: Transport, rt: Rt) {
    let listener = Arc::new(listener);
    ws::serve(transport, rt, move || {
        let l = listener.clone();
        async move {
            let (stream, _) = l.accept().await.map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let handshake: Handshake = Box::pin(async move {
                tokio_tungstenite::accept_async_with_config(stream, Some(ws::config()))
                    .await
                    .map_err(|e| e.to_string())
            });
            Ok(handshake)
        }
    })
    .await;
}

/// Keeps a connection to `url` open, reconnecting with backoff.
pub(crate) async fn dial(url: PeerUrl, max_backoff: Duration, transport: Transport, rt: Rt) {
    ws::dial(url, max_backoff, transport, rt, |target| async move {
        tokio_tungstenite::connect_async_with_config(target, Some(ws::config()), true)
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| e.to_string())
    })
    .await;
}
