//! The WebRTC peers on tokio: one task owns the UDP socket and the peers
//! ([`RtcHost`]), waiting on the socket, on what the driver and the
//! connections send it, and on the peers' next timeout; a task per open
//! connection pumps its frames in.

use std::sync::Arc;
use std::time::Instant;

use gun_core::transport::Transport;
use gun_core::transport::rtc::{self, BACKLOG, MAX_UDP, RtcHost, RtcTask, RtcWake};
use gun_core::webrtc::WebRTCOptions;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Binds the socket and starts the loop on the current runtime.
pub(crate) fn start(transport: Transport, opts: &WebRTCOptions) -> std::io::Result<()> {
    let socket = rtc::bind(opts)?;
    socket.set_nonblocking(true)?;
    let local = socket.local_addr()?;
    let socket = UdpSocket::from_std(socket)?;
    let (tx, rx) = mpsc::channel(BACKLOG);
    let sink_tx = tx.clone();
    let sink: rtc::RtcSink = Arc::new(move |w| {
        !matches!(
            sink_tx.try_send(w),
            Err(mpsc::error::TrySendError::Closed(_))
        )
    });
    let host = RtcHost::new(transport.clone(), opts, local);
    transport.rtc_attach(sink, opts);
    tokio::spawn(run(host, socket, rx, tx));
    Ok(())
}

async fn run(
    mut host: RtcHost,
    socket: UdpSocket,
    mut wakes: mpsc::Receiver<RtcWake>,
    tx: mpsc::Sender<RtcWake>,
) {
    let mut buf = vec![0u8; MAX_UDP];
    while !host.stopping() {
        let now = Instant::now();
        let deadline = host.wait_until(now);
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => host.datagram(from, &buf[..n]),
                Err(e) => tracing::debug!(error = %e, "WebRTC socket receive failed"),
            },
            w = wakes.recv() => match w {
                Some(w) => host.wake(w),
                None => break,
            },
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
        host.timeout_if_due();
        while let Some(task) = host.poll() {
            match task {
                RtcTask::Send { to, data } => {
                    if let Err(e) = socket.send_to(&data, to).await {
                        tracing::debug!(error = %e, %to, "WebRTC datagram not sent");
                    }
                }
                RtcTask::Pump { pid, conn } => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some(out) = conn.next_out().await {
                            let wake = RtcWake::Out {
                                pid: pid.clone(),
                                out,
                            };
                            if tx.send(wake).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            }
        }
    }
    host.close_all();
}
