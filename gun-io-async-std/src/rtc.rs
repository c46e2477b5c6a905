//! The WebRTC peers on async-io (smol, async-std): one task on the
//! driver's executor owns the UDP socket and the peers ([`RtcHost`]),
//! racing the socket, what the driver and the connections send it, and
//! the peers' next timeout; a task per open connection pumps its frames in.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use async_io::{Async, Timer};
use futures_lite::FutureExt;
use gun_core::transport::Transport;
use gun_core::transport::rtc::{self, BACKLOG, MAX_UDP, RtcHost, RtcTask, RtcWake};
use gun_core::transport::ws::Runtime;
use gun_core::webrtc::WebRTCOptions;

use crate::ws::Rt;

/// Binds the socket and starts the loop on `rt`.
pub(crate) fn start(transport: Transport, opts: &WebRTCOptions, rt: &Rt) -> std::io::Result<()> {
    let socket = rtc::bind(opts)?;
    let local = socket.local_addr()?;
    let socket = Async::new(socket)?;
    let (tx, rx) = async_channel::bounded(BACKLOG);
    let sink_tx = tx.clone();
    let sink: rtc::RtcSink = Arc::new(move |w| {
        !matches!(
            sink_tx.try_send(w),
            Err(async_channel::TrySendError::Closed(_))
        )
    });
    let host = RtcHost::new(transport.clone(), opts, local);
    transport.rtc_attach(sink, opts);
    rt.spawn(Box::pin(run(host, socket, rx, tx, rt.clone())));
    Ok(())
}

/// What woke the loop.
enum Woke {
    Datagram(SocketAddr, usize),
    Wake(RtcWake),
    Gone,
    Time,
}

async fn run(
    mut host: RtcHost,
    socket: Async<UdpSocket>,
    wakes: async_channel::Receiver<RtcWake>,
    tx: async_channel::Sender<RtcWake>,
    rt: Rt,
) {
    let mut buf = vec![0u8; MAX_UDP];
    while !host.stopping() {
        let now = Instant::now();
        let deadline = host.wait_until(now);
        let datagram = async {
            match socket.recv_from(&mut buf).await {
                Ok((n, from)) => Woke::Datagram(from, n),
                Err(e) => {
                    tracing::debug!(error = %e, "WebRTC socket receive failed");
                    Woke::Time
                }
            }
        };
        let wake = async {
            match wakes.recv().await {
                Ok(w) => Woke::Wake(w),
                Err(_) => Woke::Gone,
            }
        };
        let time = async {
            Timer::at(deadline).await;
            Woke::Time
        };
        match datagram.or(wake).or(time).await {
            Woke::Datagram(from, n) => host.datagram(from, &buf[..n]),
            Woke::Wake(w) => host.wake(w),
            Woke::Gone => break,
            Woke::Time => {}
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
                    rt.spawn(Box::pin(async move {
                        while let Some(out) = conn.next_out().await {
                            let wake = RtcWake::Out {
                                pid: pid.clone(),
                                out,
                            };
                            if tx.send(wake).await.is_err() {
                                break;
                            }
                        }
                    }));
                }
            }
        }
    }
    host.close_all();
}
