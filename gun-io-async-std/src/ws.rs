//! async-io's part of the transports: accepting and connecting sockets with
//! async-net, spawning on the driver's executor thread, sleeping with
//! async-io timers. The connection loop itself is shared ([`gun_core::ws`]).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_executor::Executor;
use async_net::{TcpListener, TcpStream};
use async_tungstenite::WebSocketStream;
use gun_core::Transport;
use gun_core::url::PeerUrl;
use gun_core::ws::{self, Runtime, Task};

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

type Handshake = Pin<Box<dyn Future<Output = Result<WebSocketStream<TcpStream>, String>> + Send>>;

/// Serves WebSocket peers on `listener` (any path) until the instance stops.
pub(crate) async fn serve(listener: TcpListener, transport: Transport, rt: Rt) {
    ws::serve(transport, rt, move || {
        let l = listener.clone();
        async move {
            let (stream, _) = l.accept().await.map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let handshake: Handshake = Box::pin(async move {
                async_tungstenite::accept_async_with_config(stream, Some(ws::config()))
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
    let (host, port) = (url.host.clone(), url.port);
    ws::dial(url, max_backoff, transport, rt, move |target| {
        let host = host.clone();
        async move {
            let stream = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            async_tungstenite::client_async_with_config(target, stream, Some(ws::config()))
                .await
                .map(|(ws, _)| ws)
                .map_err(|e| e.to_string())
        }
    })
    .await;
}
