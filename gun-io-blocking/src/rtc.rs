//! The WebRTC peers on OS threads: one UDP socket, a reader thread that
//! hands its datagrams over, a loop thread that owns the peers
//! ([`RtcHost`]) and waits on them with a deadline, and a pump thread per
//! open connection.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use gun_core::transport::Transport;
use gun_core::transport::rtc::{self, BACKLOG, MAX_UDP, RtcHost, RtcTask, RtcWake, STOP_CHECK};
use gun_core::webrtc::WebRTCOptions;

/// Starts the peers on their socket; returns the threads to join at
/// shutdown.
pub(crate) fn start(
    transport: Transport,
    opts: &WebRTCOptions,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let socket = Arc::new(rtc::bind(opts)?);
    socket.set_read_timeout(Some(STOP_CHECK))?;
    let local = socket.local_addr()?;
    let (dgram_tx, dgram_rx) = crossbeam_channel::bounded(BACKLOG);
    let (wake_tx, wake_rx) = crossbeam_channel::bounded(BACKLOG);
    let reader = {
        let (socket, transport) = (socket.clone(), transport.clone());
        std::thread::Builder::new()
            .name("gun-rtc-in".into())
            .spawn(move || read(&socket, &transport, &dgram_tx))?
    };
    let sink_tx = wake_tx.clone();
    let sink: rtc::RtcSink =
        Arc::new(move |w| !matches!(sink_tx.try_send(w), Err(TrySendError::Disconnected(_))));
    let host = RtcHost::new(transport.clone(), opts, local);
    transport.rtc_attach(sink, opts);
    let looping = std::thread::Builder::new()
        .name("gun-rtc".into())
        .spawn(move || run(host, &socket, &dgram_rx, &wake_rx, &wake_tx))?;
    Ok(vec![reader, looping])
}

fn read(socket: &UdpSocket, transport: &Transport, tx: &Sender<(SocketAddr, Vec<u8>)>) {
    let mut buf = vec![0u8; MAX_UDP];
    while !transport.stopping() {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => match tx.try_send((from, buf[..n].to_vec())) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return,
            },
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                tracing::debug!(error = %e, "WebRTC socket receive failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn run(
    mut host: RtcHost,
    socket: &UdpSocket,
    dgrams: &Receiver<(SocketAddr, Vec<u8>)>,
    wakes: &Receiver<RtcWake>,
    wake_tx: &Sender<RtcWake>,
) {
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    while !host.stopping() {
        let now = Instant::now();
        let deadline = host.wait_until(now);
        crossbeam_channel::select! {
            recv(dgrams) -> d => match d {
                Ok((from, data)) => host.datagram(from, &data),
                Err(_) => break,
            },
            recv(wakes) -> w => match w {
                Ok(w) => host.wake(w),
                Err(_) => break,
            },
            default(deadline.saturating_duration_since(now)) => {}
        }
        host.timeout_if_due();
        while let Some(task) = host.poll() {
            match task {
                RtcTask::Send { to, data } => {
                    if let Err(e) = socket.send_to(&data, to) {
                        tracing::debug!(error = %e, %to, "WebRTC datagram not sent");
                    }
                }
                RtcTask::Pump { pid, conn } => {
                    let tx = wake_tx.clone();
                    let pump = std::thread::Builder::new()
                        .name("gun-rtc-out".into())
                        .spawn(move || {
                            while let Some(out) = conn.next_out_blocking() {
                                let wake = RtcWake::Out {
                                    pid: pid.clone(),
                                    out,
                                };
                                if tx.send(wake).is_err() {
                                    break;
                                }
                            }
                        });
                    match pump {
                        Ok(p) => pumps.push(p),
                        Err(e) => tracing::warn!(error = %e, "cannot start a WebRTC pump"),
                    }
                }
            }
        }
        pumps.retain(|p| !p.is_finished());
    }
    host.close_all();
    for p in pumps {
        let _ = p.join();
    }
}
